"""`pollwatch backup DEST` and `pollwatch restore SRC`: thin commands over store/backup.py."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from pollwatch.config import load_settings
from pollwatch.errors import PollwatchError

__all__ = ["register"]


def backup(
    dest: Path = typer.Argument(..., help="New file to write the backup to (never overwritten)."),
) -> None:
    """Back up the observation database while the service keeps running.

    SQLite: the online backup API; PostgreSQL: pg_dump's custom format. Restore it with
    `pollwatch restore`, which also verifies every ledger.
    """
    from pollwatch.store.backup import backup_database

    result = backup_database(load_settings().resolved_database_url(), dest)
    typer.echo(f"{result.kind} backup written to {result.path} ({result.bytes:,} bytes)")


def restore(
    src: Path = typer.Argument(..., help="A file written by `pollwatch backup`."),
    as_json: bool = typer.Option(False, "--json", help="Print the check as JSON."),
) -> None:
    """Restore a backup into the EMPTY database of POLLWATCH_DATABASE_URL and verify it.

    Every election's ledger is verified from its first entry; compare the head hashes
    printed here with the ones published during the day. Exit status 1 if one is broken.
    """
    from pollwatch.store.backup import restore_database

    result = restore_database(src, load_settings().resolved_database_url())
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        typer.echo(f"restored into {result.url}")
        for check in result.elections:
            state = "verifies" if check.ok else f"BROKEN at seq {check.broken_seq}: {check.reason}"
            typer.echo(
                f"  {check.election}: {check.reports} reports, ledger {check.entries} "
                f"entries, head {check.head_hash}: {state}"
            )
    if not result.ok:
        raise PollwatchError("a restored ledger does not verify (see above)")


def register(app: typer.Typer) -> None:
    """Add `pollwatch backup` and `pollwatch restore` to the main app."""
    app.command("backup")(backup)
    app.command("restore")(restore)
