"""Backups of the observation database, taken while reports stream in, and proven by restoring.

A backup is only as good as its last restore, so :func:`restore_database` ends by checking
what it restored: every election's ledger verifies from genesis to its head, and the figures
(reports, entries, head hash) are returned for the operator to compare with what was
published during the day.

How each database is copied, and why:

* **SQLite**: the online backup API (https://www.sqlite.org/backup.html), through Python's
  ``sqlite3.Connection.backup``. It copies a consistent snapshot while other connections
  keep writing (WAL mode: a reader never blocks the writer), so the server need not stop.
  The backup is itself a SQLite file, usable as it is.
* **PostgreSQL**: ``pg_dump --format=custom`` (one consistent snapshot, the documented way),
  restored with ``pg_restore`` into an empty database. Only the schema the URL's
  ``search_path`` names is dumped when it names one (else the whole database). The client
  programs come with Debian's ``postgresql-client``; the password travels in ``PGPASSWORD``,
  never on the command line where ``ps`` would show it.

What is acknowledged is in a backup: a report is acknowledged only after its transaction
committed (group commit, ``store/ingest.py``), and both methods copy a snapshot that includes
every transaction committed before the backup began.

Limits: a backup is restored into the same kind of database it came from (the formats
differ); a restore refuses a target that already holds pollwatch tables, so that it cannot
mix two databases' ledgers.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import URL, make_url

from pollwatch.errors import InputError, PollwatchError

__all__ = [
    "BackupResult",
    "ElectionCheck",
    "RestoreResult",
    "backup_database",
    "restore_database",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class BackupResult:
    """Where the backup went, what kind it is and how large."""

    path: Path
    kind: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "kind": self.kind, "bytes": self.bytes}


@dataclass(frozen=True)
class ElectionCheck:
    """One election of a restored database: its reports and whether its ledger verifies."""

    election: str
    reports: int
    entries: int
    head_hash: str
    ok: bool
    reason: str | None
    broken_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "broken_seq": self.broken_seq,
            "election": self.election,
            "reports": self.reports,
            "entries": self.entries,
            "head_hash": self.head_hash,
            "ok": self.ok,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RestoreResult:
    """What a restore put where, and the check of every election's ledger."""

    url: str
    kind: str
    elections: tuple[ElectionCheck, ...]

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.elections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "ok": self.ok,
            "elections": [e.to_dict() for e in self.elections],
        }


def backup_database(url: str, dest: str | Path) -> BackupResult:
    """Copy the database at ``url`` to the new file ``dest`` while it keeps serving."""
    target = Path(dest)
    if target.exists():
        raise InputError(f"{target} exists already; a backup never overwrites", column="DEST")
    if not target.parent.is_dir():
        raise InputError(f"folder {target.parent} does not exist", column="DEST")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_backup(_sqlite_file(parsed), target)
        kind = "sqlite"
    elif parsed.get_backend_name() == "postgresql":
        _pg_run("pg_dump", parsed, ["--format=custom", "--file", str(target), *_pg_schema(parsed)])
        kind = "postgresql"
    else:
        raise InputError(f"cannot back up a {parsed.get_backend_name()} database")
    target.chmod(0o600)  # the backup holds what the database holds
    return BackupResult(path=target, kind=kind, bytes=target.stat().st_size)


def restore_database(src: str | Path, url: str) -> RestoreResult:
    """Restore the backup ``src`` into the EMPTY database at ``url``, then verify it.

    The restored database is migrated to this version's schema (a backup from an older
    version works), and every election's ledger is verified from its first entry.
    """
    source = Path(src)
    if not source.is_file():
        raise InputError(f"no backup file {source}", column="SRC")
    with source.open("rb") as fh:
        magic = fh.read(16)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if magic.startswith(SQLITE_MAGIC):
        if backend != "sqlite":
            raise InputError("a SQLite backup restores into a SQLite database (sqlite:///PATH)")
        target = _sqlite_file(parsed)
        if target.exists() and target.stat().st_size > 0:
            _refuse_non_empty(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_backup(source, target)
        target.chmod(0o600)
        kind = "sqlite"
    elif magic.startswith(PG_DUMP_MAGIC):
        if backend != "postgresql":
            raise InputError("a pg_dump backup restores into PostgreSQL (postgresql+psycopg://)")
        _refuse_non_empty(url)
        _pg_run(
            "pg_restore",
            parsed,
            ["--no-owner", "--no-privileges", "--exit-on-error", str(source)],
            database_flag=True,
        )
        kind = "postgresql"
    else:
        raise InputError(f"{source} is neither a SQLite file nor a pg_dump custom archive")
    return RestoreResult(url=_safe(parsed), kind=kind, elections=tuple(verify_store(url)))


def verify_store(url: str) -> list[ElectionCheck]:
    """Migrate the database at ``url`` and verify every election's ledger from genesis."""
    from pollwatch.observe.ledger import verify_ledger
    from pollwatch.store import export_ledger_lines, list_elections, open_store
    from pollwatch.store.tables import reports

    engine = open_store(url)
    try:
        checks = []
        for election in list_elections(engine):
            eid = str(election["id"])
            result = verify_ledger(export_ledger_lines(engine, eid))
            with engine.connect() as conn:
                count = conn.execute(
                    select(func.count()).select_from(reports).where(reports.c.election == eid)
                ).scalar_one()
            checks.append(
                ElectionCheck(
                    election=eid,
                    reports=int(count),
                    entries=result.entries,
                    head_hash=result.head_hash,
                    ok=result.ok,
                    reason=result.reason,
                    broken_seq=result.broken_seq,
                )
            )
        return checks
    finally:
        engine.dispose()


# --- SQLite ------------------------------------------------------------------------------------


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise InputError("give the SQLite database as a file: sqlite:///PATH")
    return Path(url.database)


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise InputError(f"no SQLite database at {source}")
    # Read-only for the source: a backup must never create or change what it copies.
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            # All pages in one step, inside one read transaction: a consistent snapshot,
            # while the server keeps writing to the WAL. (Copying in several steps would
            # restart from scratch whenever another connection wrote in between: under a
            # steady stream of reports it might never finish.)
            src.backup(dst, pages=-1)
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise PollwatchError(f"SQLite backup of {source} failed: {exc}") from exc
    finally:
        src.close()


# --- PostgreSQL --------------------------------------------------------------------------------


def _pg_schema(url: URL) -> list[str]:
    """``--schema=NAME`` when the URL's options set a search_path, as the test databases do."""
    options = url.query.get("options")
    text = unquote(options if isinstance(options, str) else " ".join(options or ()))
    for part in text.split():
        if part.startswith("-csearch_path="):
            schema = part.split("=", 1)[1].split(",")[0].strip()
            if schema:
                return [f"--schema={schema}"]
    return []


def _pg_run(program: str, url: URL, args: list[str], *, database_flag: bool = False) -> None:
    binary = shutil.which(program)
    if binary is None:
        raise PollwatchError(
            f"{program} not found: install PostgreSQL's client programs "
            "(Debian: apt-get install postgresql-client)"
        )
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    command = [binary, *args, f"--dbname={libpq}"] if database_flag else [binary, *args, libpq]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PollwatchError(f"{program} failed: {done.stderr.strip()[-500:]}")


# --- both --------------------------------------------------------------------------------------


def _refuse_non_empty(url: str) -> None:
    from pollwatch.store.engine import make_engine

    engine: Engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if tables & {"elections", "reports", "ledger", "alembic_version"}:
        raise InputError(
            "the target database already holds pollwatch tables; restore into an empty one "
            "(a new SQLite path, or a new PostgreSQL database)",
            column="POLLWATCH_DATABASE_URL",
        )


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)
