"""What the store leaves where others could read it: file permissions, spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import stat
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from pollwatch.store import (
    create_election,
    create_invites,
    export_reports,
    import_stations,
    observer_for_token,
    open_store,
    redeem_invite,
    reports_to_bytes,
    store_report,
)
from pollwatch.store.reports import defuse_formulas

HOSTILE = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tnext", "plain text"]


def test_a_new_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "pollwatch.db"
    engine = open_store(f"sqlite:///{path}")
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for sidecar in path.parent.glob("pollwatch.db-*"):  # WAL and shared memory
        assert stat.S_IMODE(sidecar.stat().st_mode) & 0o077 == 0, sidecar


def test_an_existing_world_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    open_store(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_csv_export_defuses_spreadsheet_formulas(engine: Engine) -> None:
    create_election(engine, "e1", name="Formulas")
    import_stations(engine, "e1", [{"station": "1"}])
    token = redeem_invite(engine, create_invites(engine, "e1", 1)[0].code).token
    observer = observer_for_token(engine, token)
    for text in HOSTILE:
        store_report(
            engine,
            {
                "id": str(uuid.uuid4()),
                "election": "e1",
                "station": "1",
                "kind": "incident",
                "category": "other",
                "text": text,
                "observed_at": "2024-03-17T11:00:00+03:00",
            },
            observer=observer,
        )
    frame = export_reports(engine, "e1")
    rows = list(csv.DictReader(io.StringIO(reports_to_bytes(frame, "csv").decode())))
    texts = sorted(r["text"] for r in rows)
    assert texts == sorted(("'" + t if t != "plain text" else t) for t in HOSTILE)
    assert all(not r[c].startswith(("=", "+", "-", "@")) for r in rows for c in r if r[c])
    # Parquet keeps the text as it was typed (no spreadsheet runs it)
    parquet = pd.read_parquet(io.BytesIO(reports_to_bytes(frame, "parquet")))
    assert sorted(parquet["text"].tolist()) == sorted(HOSTILE)


def test_defusing_leaves_numbers_and_missing_values_alone() -> None:
    frame = pd.DataFrame({"n": pd.array([-1, 2, None], dtype="Int64"), "t": ["=1", None, "x"]})
    frame["t"] = frame["t"].astype("string")
    out = defuse_formulas(frame)
    assert out["n"].tolist() == [-1, 2, pd.NA]
    assert out["t"].tolist() == ["'=1", pd.NA, "x"]
