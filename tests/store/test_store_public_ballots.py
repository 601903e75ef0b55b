"""The ballots warning of the public station status, on SQLite and PostgreSQL.

The warning needs the share of the station's day seen so far: its schedule (own, or the
election's default, in its own time zone) and a day curve — the election's own, from the
stations counted all day by the release time, or the flat prior. A station whose queue plus
expected arrivals exceed its ballots left is warned; an honest one is not; the election's
curve is used as soon as enough stations have closed, and only reports received by the
release time shape it. Over HTTP the public status endpoint says the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update
from tests.store.databases import database_url
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.observe.estimates import MIN_REFERENCE_STATIONS
from pollwatch.store import (
    create_election,
    create_invites,
    import_stations,
    observer_for_token,
    open_store,
    public_station_status,
    redeem_invite,
    store_report,
)
from pollwatch.store.guide import guide_totals
from pollwatch.store.public import public_station_share_seen
from pollwatch.store.tables import elections, reports, stations
from pollwatch.store.views import load_stored_report
from pollwatch.web.app import create_app

DAY = "2024-03-17 08:00-20:00"
OPENS = datetime(2024, 3, 17, 7, 0, tzinfo=UTC)  # 08:00 in Belgrade
MIDDAY = OPENS + timedelta(hours=6)  # 14:00 in Belgrade
TOKYO_CLOSES = datetime(2024, 3, 17, 11, 0, tzinfo=UTC)  # 20:00 in Tokyo


def _count(
    station: str, start: datetime, end: datetime, entered: int, election: str = "e1", **fields: Any
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "election": election, "station": station, "kind": "count",
        "observed_at": end.isoformat(), "window_start": start.isoformat(),
        "window_end": end.isoformat(), "entered": entered, **fields,
    }  # fmt: skip


def _observer(engine: Engine, election: str = "e1") -> Any:
    invite = create_invites(engine, election, 1)[0]
    return observer_for_token(engine, redeem_invite(engine, invite.code).token)


def _morning(engine: Engine, station: str, opens: datetime, obs: Any) -> None:
    """Six hours counted hour by hour: 100 people an hour, all given a ballot, 80 waiting at
    the end: 600 issued, so with a flat day 680 more are expected (300 ballots are left at
    "short", 1,900 at "plenty")."""
    for hour in range(6):
        start, end = opens + timedelta(hours=hour), opens + timedelta(hours=hour + 1)
        extra = {"queue": 80} if hour == 5 else {}
        body = _count(station, start, end, 100, ballots_issued=100, **extra)
        store_report(engine, body, observer=obs, now=end + timedelta(minutes=1))


@pytest.fixture()
def election(engine: Engine) -> Engine:
    create_election(engine, "e1", name="Ballots")
    rows = [
        {"station": "short", "ballots_received": 900, "timezone": "Europe/Belgrade",
         "schedule": DAY},
        {"station": "plenty", "ballots_received": 2500, "timezone": "Europe/Belgrade",
         "schedule": DAY},
        {"station": "no-schedule", "ballots_received": 1000},
    ] + [
        {"station": f"tokyo-{i}", "ballots_received": 2000, "timezone": "Asia/Tokyo",
         "schedule": DAY}
        for i in range(MIN_REFERENCE_STATIONS)
    ]  # fmt: skip
    import_stations(engine, "e1", rows)
    obs = _observer(engine)
    for station in ("short", "plenty", "no-schedule"):
        _morning(engine, station, OPENS, obs)
    return engine


def _warned(engine: Engine, station: str, now: datetime) -> bool:
    return bool(public_station_status(engine, "e1", station, now).to_dict()["ballots_warning"])


def test_short_station_is_warned_and_an_honest_one_is_not(election: Engine) -> None:
    now = MIDDAY + timedelta(minutes=20)  # release time 13:10 UTC: every count is in
    status = public_station_status(election, "e1", "short", now).to_dict()
    assert status["ballots_warning"] is True
    assert status["ballots_received"] == 900 and status["ballots_issued"] == 600
    assert not _warned(election, "plenty", now)
    # no schedule (its own or the election's): no share seen, so only "out" would warn
    assert not _warned(election, "no-schedule", now)
    # two hours in, less than a fifth of the day is behind: too early to warn
    assert not _warned(election, "short", OPENS + timedelta(hours=2, minutes=20))


def test_the_totals_page_warns_the_same_stations(election: Engine) -> None:
    now = MIDDAY + timedelta(minutes=20)
    totals = guide_totals(election, "e1", now)
    warned = {s.station: s.ballots_warning for s in totals["statuses"]}
    assert warned == {s: _warned(election, s, now) for s in warned}
    assert warned["short"] and not warned["plenty"]


def test_the_share_seen_is_taken_where_the_counts_end(election: Engine) -> None:
    query = select(reports.c.canonical).where(reports.c.station == "short")
    with election.connect() as conn:
        parsed = [load_stored_report(c) for (c,) in conn.execute(query)]
    own = {"timezone": "Europe/Belgrade", "schedule": DAY, "hours": None}
    later = MIDDAY + timedelta(hours=3)  # the counts stop at 14:00 local time
    seen = public_station_share_seen(election, "e1", own, parsed, later)
    assert seen is not None and seen.share == pytest.approx(0.5) and seen.curve == "prior"
    early = public_station_share_seen(election, "e1", own, parsed, OPENS + timedelta(hours=3))
    assert early is not None and early.share == pytest.approx(0.25)
    assert public_station_share_seen(election, "e1", {}, parsed, later) is None


def test_schedules_the_registry_should_not_hold_give_no_share_and_no_error(
    election: Engine,
) -> None:
    # Rows written around the import's checks (an old version, a hand edit): an unknown time
    # zone, a schedule that does not parse, and an election default that does not either.
    with election.begin() as conn:
        conn.execute(
            update(stations)
            .where(stations.c.station == "short")
            .values(timezone="Mars/Olympus_Mons", schedule="whenever; 2024-13-45 25:00-08:00")
        )
        conn.execute(update(elections).values(timezone="Europe/Belgrade", schedule="x" * 5000))
    now = MIDDAY + timedelta(minutes=20)
    status = public_station_status(election, "e1", "short", now).to_dict()
    assert status["ballots_warning"] is False and status["ballots_issued"] == 600
    assert _warned(election, "short", now + timedelta(minutes=10)) is False
    # the other stations' schedules still hold
    assert _warned(election, "plenty", now) is False


def _close_tokyo(engine: Engine, first_half: int, second_half: int) -> None:
    """The Tokyo stations counted 08-14 and 14-20 their time; received as each ends."""
    obs = _observer(engine)
    tokyo_opens = TOKYO_CLOSES - timedelta(hours=12)
    for i in range(MIN_REFERENCE_STATIONS):
        for start, n in (
            (tokyo_opens, first_half),
            (tokyo_opens + timedelta(hours=6), second_half),
        ):
            end = start + timedelta(hours=6)
            body = _count(f"tokyo-{i}", start, end, n)
            store_report(engine, body, observer=obs, now=end + timedelta(minutes=1))


def test_the_elections_own_curve_is_used_once_enough_stations_closed(election: Engine) -> None:
    # Stations in Tokyo closed at 11:00 UTC, having seen 80 % of their people by 14:00
    # their time: with that curve the Belgrade station's 600 by 14:00 mean some 170 more,
    # fewer than its 300 ballots left, so no warning (the flat prior warned).
    _close_tokyo(election, 800, 200)
    now = MIDDAY + timedelta(minutes=20)
    assert not _warned(election, "short", now)
    own = {"timezone": "Europe/Belgrade", "schedule": DAY, "hours": None}
    after = public_station_share_seen(election, "e1", own, [], MIDDAY)
    assert after is not None and after.curve == "election"
    assert after.reference_stations == MIN_REFERENCE_STATIONS
    assert after.share == pytest.approx(0.8, abs=0.01)
    # at a release time before Tokyo's closing reports were received: the prior
    before = public_station_share_seen(election, "e1", own, [], TOKYO_CLOSES)
    assert before is not None and before.curve == "prior"
    assert before.share == pytest.approx(4 / 12)


def test_an_evening_heavy_election_warns_sooner(election: Engine) -> None:
    # Tokyo saw only 20 % of its people by 14:00: 600 by then in Belgrade mean some 2,700
    # in the day; the 2,500 ballots of "plenty" no longer look plenty
    _close_tokyo(election, 200, 800)
    now = MIDDAY + timedelta(minutes=20)
    assert _warned(election, "plenty", now) and _warned(election, "short", now)


# --- over HTTP: the public status endpoint, on the real clock ------------------------------


def _zone_where_it_is_about(hour: int, now: datetime) -> tuple[str, datetime]:
    """An ``Etc/GMT±N`` zone in which ``now`` is around ``hour`` o'clock, and that day."""
    offset = hour - now.hour
    if offset > 14:
        offset -= 24
    if offset < -12:
        offset += 24
    zone = "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    return zone, now + timedelta(hours=offset)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, datetime]]:
    now = datetime.now(UTC).replace(microsecond=0)
    zone, local = _zone_where_it_is_about(14, now)
    day = f"{local.date().isoformat()} 08:00-20:00"
    opens = now - timedelta(hours=local.hour - 8, minutes=local.minute, seconds=local.second)
    opens -= timedelta(hours=1)  # counts end an hour ago: well before the release time
    with database_url(request.param, tmp_path) as url:
        engine = open_store(url)
        create_election(engine, "e2", name="Ballots over HTTP")
        import_stations(engine, "e2", [
            {"station": s, "ballots_received": n, "timezone": zone, "schedule": day}
            for s, n in (("short", 1000), ("plenty", 2500))
        ])  # fmt: skip
        obs = _observer(engine, "e2")
        for station in ("short", "plenty"):
            for hour in range(5):
                start, end = opens + timedelta(hours=hour), opens + timedelta(hours=hour + 1)
                extra = {"queue": 80} if hour == 4 else {}
                body = _count(station, start, end, 120, "e2", ballots_issued=120, **extra)
                store_report(engine, body, observer=obs, now=min(end + timedelta(minutes=1), now))
        engine.dispose()
        settings = Settings(
            data_dir=tmp_path / "data", home=tmp_path, database_url=url, rate_limit=0
        )
        app = create_app(settings)
        with serve_in_thread(app) as base:
            yield base, now
        app.state.engine.dispose()


def test_the_public_status_endpoint_warns_the_short_station_only(
    served: tuple[str, datetime],
) -> None:
    base, _ = served
    answers = {}
    for station in ("short", "plenty"):
        r = httpx.get(f"{base}/api/v1/public/elections/e2/stations/{station}/status", timeout=30)
        assert r.status_code == 200, r.text
        answers[station] = r.json()
    # 600 issued and 80 waiting five hours into a twelve-hour day (5/12 seen): some 950 more
    # expected, against 400 ballots left at "short" and 1,900 at "plenty"
    assert answers["short"]["ballots_warning"] is True, answers["short"]
    assert answers["plenty"]["ballots_warning"] is False, answers["plenty"]
    assert answers["short"]["ballots_issued"] == 600
