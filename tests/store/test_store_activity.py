"""Per-station activity counters: kept with each report, and rebuilt from the reports alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from pollwatch.store import import_stations, rebuild_activity, store_report
from pollwatch.store.tables import station_activity

NOW = datetime(2024, 3, 17, 21, 0, tzinfo=UTC)


def _body(station: str, kind: str, observed_at: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": "e",
        "station": station,
        "kind": kind,
        "observed_at": observed_at,
        **fields,
    }


def _activity(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(station_activity)).mappings().all()
    return {
        r["station"]: {
            k: v
            for k, v in r.items()
            if k not in ("election", "last_report_at", "status_at", "queue_at")
        }
        for r in rows
    }


def test_counters_follow_reports_and_a_rebuild_gives_the_same_rows(engine: Engine) -> None:
    import_stations(engine, "e", [{"station": "1"}, {"station": "2"}])
    bodies = [
        _body("1", "status", "2024-03-17T08:00:00Z", status="opened"),
        _body(
            "1",
            "count",
            "2024-03-17T09:00:00Z",
            window_start="2024-03-17T08:00:00Z",
            window_end="2024-03-17T09:00:00Z",
            entered=40,
            queue=12,
        ),
        # A late status observed earlier than the one stored must not replace it.
        _body("1", "status", "2024-03-17T20:00:00Z", status="closed", queue=3),
        _body("1", "status", "2024-03-17T07:59:00Z", status="opened"),
        _body("2", "incident", "2024-03-17T10:00:00Z", category="pressure", text="x"),
    ]
    for body in bodies:
        store_report(engine, body, observer=None, now=NOW)
    store_report(engine, bodies[0], observer=None, now=NOW)  # a retry changes nothing
    live = _activity(engine)
    assert live["1"]["reports"] == 4
    assert live["1"]["counts"] == 1
    assert live["1"]["status"] == "closed"
    assert live["1"]["queue"] == 3
    assert live["2"] == {**live["2"], "reports": 1, "incidents": 1, "status": None, "last_seq": 5}
    assert rebuild_activity(engine, "e") == 2
    assert _activity(engine) == live
