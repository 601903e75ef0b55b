"""The guide's reads on SQLite and PostgreSQL: which guides are public, the current election,
the version that keeps cached pages honest, and totals under the publication policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update

from pollwatch.store import (
    create_election,
    create_invites,
    import_stations,
    observer_for_token,
    redeem_invite,
    set_embargo,
    set_incident_public,
    store_report,
)
from pollwatch.store.guide import (
    current_guide_election,
    guide_elections,
    guide_station,
    guide_totals,
    guide_version,
)
from pollwatch.store.tables import elections

NOW = datetime(2024, 3, 17, 12, 0, tzinfo=UTC)


def _count(station: str, end: datetime, entered: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": "e1",
        "station": station,
        "kind": "count",
        "observed_at": end.isoformat(),
        "window_start": (end - timedelta(minutes=60)).isoformat(),
        "window_end": end.isoformat(),
        "entered": entered,
        **fields,
    }


def _setup(engine: Engine) -> Any:
    create_election(engine, "e1", name="One")
    create_election(engine, "e2", name="Two")
    create_election(engine, "empty", name="No registry")
    import_stations(engine, "e1", [{"station": s, "ballots_received": 500, "city": "Beograd",
                                    "country": "RS"} for s in ("1", "2", "3")])  # fmt: skip
    import_stations(engine, "e2", [{"station": "9"}])
    token = redeem_invite(engine, create_invites(engine, "e1", 1)[0].code).token
    return observer_for_token(engine, token)


def test_public_guides_and_the_current_election(engine: Engine) -> None:
    _setup(engine)
    listed = guide_elections(engine)
    assert {e["id"]: e["stations"] for e in listed} == {"e1": 3, "e2": 1}
    assert current_guide_election(listed, NOW) == listed[0]["id"]  # no schedules: the newest
    days = "2024-03-15 08:00-20:00; 2024-03-17 08:00-20:00"
    with engine.begin() as conn:
        conn.execute(
            update(elections)
            .where(elections.c.id == "e1")
            .values(timezone="Europe/Belgrade", schedule=days)
        )
    assert current_guide_election(guide_elections(engine), NOW) == "e1"
    assert current_guide_election(guide_elections(engine), NOW + timedelta(days=3)) != "e1"
    assert current_guide_election([], NOW) is None
    station = guide_station(engine, "e1", "2")
    assert station["schedule"].assumed and station["schedule"].timezone == "Europe/Belgrade"


def test_version_moves_for_published_changes_not_for_reports_after_the_release(
    engine: Engine,
) -> None:
    observer = _setup(engine)
    cutoff = NOW - timedelta(minutes=10)
    start = guide_version(engine, "e1", cutoff)
    store_report(engine, _count("1", NOW - timedelta(minutes=2), 30), observer=observer, now=NOW)
    assert guide_version(engine, "e1", cutoff) == start  # later than the release time
    store_report(
        engine, _count("2", cutoff - timedelta(minutes=30), 30), observer=observer, now=cutoff
    )
    moved = guide_version(engine, "e1", cutoff)
    assert moved[0] == start[0] + 1  # an import with an earlier time counts at once
    set_embargo(engine, "e1", NOW, by="coord")
    assert guide_version(engine, "e1", cutoff)[1] > moved[1]  # audited: moves too


def test_totals_are_coarse_aggregates_as_of_the_release_time(engine: Engine) -> None:
    observer = _setup(engine)
    early = NOW - timedelta(hours=2)
    store_report(engine, _count("1", early, 120, queue=23, ballots_issued=120),
                 observer=observer, now=early)  # fmt: skip
    store_report(engine, _count("2", early, 60, queue=41), observer=observer, now=early)
    late = _count("3", NOW - timedelta(minutes=1), 999, queue=300)
    store_report(engine, late, observer=observer, now=NOW)  # after the release time
    secret = {"id": str(uuid.uuid4()), "election": "e1", "station": "1", "kind": "incident",
              "observed_at": early.isoformat(), "category": "pressure",
              "text": "secret"}  # fmt: skip
    store_report(engine, secret, observer=observer, now=early)
    totals = guide_totals(engine, "e1", NOW, delay_minutes=10)
    assert totals["live"] is False and totals["turnout"] is None
    assert totals["stations"] == 3 and totals["reporting"] == 2
    assert sum(n for _, n in totals["entered_per_hour"]) == 180
    assert [n for _, n in totals["queue_per_hour"]] == [25 + 40]  # each coarsened
    assert {s.station for s in totals["statuses"]} == {"1", "2"}
    assert all(not s.incidents for s in totals["statuses"])  # the private incident stays so
    set_incident_public(engine, "e1", secret["id"], True, by="coord")
    shown = guide_totals(engine, "e1", NOW, delay_minutes=10)["statuses"]
    assert [i.text for s in shown for i in s.incidents] == ["secret"]
    set_embargo(engine, "e1", NOW - timedelta(minutes=1), by="coord")
    after = guide_totals(engine, "e1", NOW, delay_minutes=10)
    assert after["live"] is True and after["reporting"] == 3 and after["turnout"] is not None
