"""Backups proven by restoring them: taken while reports stream in, restored into a fresh
database, every acknowledged report there and every ledger verifying (SQLite and PostgreSQL).
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.store.databases import empty_database_like
from typer.testing import CliRunner

from pollwatch.cli import app as cli_app
from pollwatch.errors import InputError
from pollwatch.store import (
    create_election,
    create_invites,
    import_stations,
    ledger_head,
    list_reports,
    observer_for_token,
    open_store,
    redeem_invite,
    store_report,
)
from pollwatch.store.backup import backup_database, restore_database


def _count(station: str, entered: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": "e1",
        "station": station,
        "kind": "count",
        "observed_at": "2024-03-17T11:00:00+03:00",
        "window_start": "2024-03-17T10:00:00+03:00",
        "window_end": "2024-03-17T11:00:00+03:00",
        "entered": entered,
    }


@pytest.fixture()
def election(engine: Engine) -> Engine:
    create_election(engine, "e1", name="Backup test")
    import_stations(engine, "e1", [{"station": str(i)} for i in range(1, 9)])
    return engine


def test_a_backup_taken_while_reports_stream_in_restores_every_acknowledged_report(
    election: Engine, db_url: str, tmp_path: Path
) -> None:
    observer = observer_for_token(
        election, redeem_invite(election, create_invites(election, "e1", 1)[0].code).token
    )
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    streaming = threading.Event()

    def stream() -> None:
        i = 0
        while not stop.is_set():
            report = _count(str(i % 8 + 1), i)
            store_report(election, report, observer=observer)
            with lock:
                acknowledged.append(report["id"])
            i += 1
            if i == 50:
                streaming.set()

    writer = threading.Thread(target=stream)
    writer.start()
    try:
        assert streaming.wait(60), "the writer did not get going"
        with lock:
            before = list(acknowledged)
        result = backup_database(db_url, tmp_path / "backup.bin")
    finally:
        stop.set()
        writer.join(60)
    assert result.bytes > 0 and result.path.stat().st_mode & 0o077 == 0
    assert len(acknowledged) > len(before), "reports kept arriving around the backup"

    with empty_database_like(db_url, tmp_path) as target:
        restored = restore_database(result.path, target)
        assert restored.ok, restored.to_dict()
        [check] = restored.elections
        assert check.election == "e1" and check.reports == check.entries
        engine = open_store(target)
        try:
            ids = {r["id"] for r in list_reports(engine, "e1")}
            assert set(before) <= ids, "a report acknowledged before the backup is missing"
            assert check.head_hash == ledger_head(engine, "e1")["head_hash"]
        finally:
            engine.dispose()


def test_restore_refuses_a_database_that_holds_pollwatch_already(
    election: Engine, db_url: str, tmp_path: Path
) -> None:
    backup = backup_database(db_url, tmp_path / "b.bin")
    with pytest.raises(InputError, match="already holds pollwatch tables"):
        restore_database(backup.path, db_url)
    with pytest.raises(InputError, match="never overwrites"):
        backup_database(db_url, backup.path)


def test_restore_refuses_what_is_not_a_backup_and_the_wrong_kind(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"<html>not a backup</html>")
    with pytest.raises(InputError, match="neither a SQLite file nor a pg_dump"):
        restore_database(junk, f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(InputError, match="no backup file"):
        restore_database(tmp_path / "missing.bin", f"sqlite:///{tmp_path / 'x.db'}")
    sqlite_backup = tmp_path / "s.db"
    sqlite_backup.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(InputError, match="restores into a SQLite database"):
        restore_database(sqlite_backup, "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def test_cli_backup_and_restore_print_the_ledger_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = f"sqlite:///{tmp_path / 'live.db'}"
    engine = open_store(source)
    create_election(engine, "e1", name="CLI backup")
    import_stations(engine, "e1", [{"station": "1"}])
    store_report(engine, _count("1", 5), observer=None)
    head = ledger_head(engine, "e1")["head_hash"]
    engine.dispose()
    runner = CliRunner()
    monkeypatch.setenv("POLLWATCH_DATABASE_URL", source)
    made = runner.invoke(cli_app, ["backup", str(tmp_path / "b.db")])
    assert made.exit_code == 0, made.output
    assert "sqlite backup written" in made.output
    monkeypatch.setenv("POLLWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    restored = runner.invoke(cli_app, ["restore", str(tmp_path / "b.db")])
    assert restored.exit_code == 0, restored.output
    assert f"e1: 1 reports, ledger 1 entries, head {head}: verifies" in restored.output


def test_a_tampered_backup_restores_but_says_which_ledger_is_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    source = f"sqlite:///{tmp_path / 'live.db'}"
    engine = open_store(source)
    create_election(engine, "e1", name="Tampered")
    import_stations(engine, "e1", [{"station": "1"}])
    for i in range(3):
        store_report(engine, _count("1", i), observer=None)
    engine.dispose()
    backup = backup_database(source, tmp_path / "b.db")
    with sqlite3.connect(backup.path) as raw:
        raw.execute("UPDATE ledger SET hash = printf('%064d', 0) WHERE seq = 2")
    monkeypatch.setenv("POLLWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    answer = CliRunner().invoke(cli_app, ["restore", str(backup.path)])
    assert answer.exit_code == 1
    assert "BROKEN at seq 2: hash mismatch" in answer.output
