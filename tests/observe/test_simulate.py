"""The simulated observed election: known answers, and the service finds them.

``pollwatch demo-observe`` stores the simulation; the dashboard's comparison must flag
exactly the stations whose official figures were inflated, list the one planted conflict,
and the quick count must cover the true vote shares (not the inflated official ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from tests.store.databases import database_url

from pollwatch.cli import main
from pollwatch.errors import InputError
from pollwatch.observe import parse_report
from pollwatch.observe.simulate import CANDIDATES, simulate_observation
from pollwatch.store import comparison_rows, conflicts, open_store
from pollwatch.store.pvt import pvt_estimate

DAY = date(2024, 3, 17)


def test_simulation_is_reproducible_and_its_reports_are_valid() -> None:
    one = simulate_observation(seed=7, day=DAY)
    two = simulate_observation(seed=7, day=DAY)
    assert one.reports == two.reports
    assert one.falsified == two.falsified
    assert simulate_observation(seed=8, day=DAY).reports != one.reports
    now = datetime(2024, 3, 18, tzinfo=UTC)
    for body in one.reports:
        parse_report(body, now=now)  # raises on any invalid report
    assert len({b["id"] for b in one.reports}) == len(one.reports)
    official = one.official.stations.set_index("station")
    for station, truth in one.true_issued.items():
        published = int(official.loc[station, "issued_premises"])
        assert (published > truth) == (station in one.falsified)
    assert set(one.sample) <= {b["station"] for b in one.reports if b["kind"] == "protocol"}
    # Every country stratum has at least one sampled station (a proper stratified sample).
    countries = {r["station"]: r["country"] for r in one.registry}
    assert {countries[s] for s in one.sample} == set(countries.values())


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("stations", {"stations": 0}), ("observed", {"observed": 61}), ("sample", {"sample": 0})],
)
def test_impossible_sizes_are_refused(field: str, kwargs: dict[str, int]) -> None:
    with pytest.raises(InputError) as caught:
        simulate_observation(day=DAY, **kwargs)
    assert caught.value.column == field


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        monkeypatch.setenv("POLLWATCH_DATABASE_URL", url)
        monkeypatch.setenv("POLLWATCH_HOME", str(tmp_path / "home"))
        yield url


def test_demo_observe_stores_it_and_the_service_finds_the_inflated_stations(
    demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-observe", "--seed", "11"]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED" in out and "/coordinate/demo" in out and "/press/demo" in out
    password_file = tmp_path / "home" / "demo-coordinator.txt"
    assert password_file.stat().st_mode & 0o077 == 0  # readable only by its owner
    # A second run stores nothing twice and prints the same password.
    assert main(["demo-observe", "--seed", "11"]) == 0
    assert password_file.read_text().strip() in capsys.readouterr().out

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    truth = simulate_observation(seed=11, day=yesterday)
    engine = open_store(demo_db)
    try:
        rows = comparison_rows(engine, "demo")["rows"]
        flagged = {r["station"] for r in rows if r["flag"]}
        assert flagged == set(truth.falsified)
        listed = conflicts(engine, "demo")
        assert {c["station"] for c in listed} == {truth.conflict_station}
        quick = pvt_estimate(engine, "demo")
    finally:
        engine.dispose()
    assert quick["reported"] == len(truth.sample)
    valid = truth.official.stations["valid"].sum()
    true_votes = {c: 0 for c in CANDIDATES}
    # The true shares: the official table minus the stuffing (the simulation adds every
    # stuffed ballot to the first candidate and to the ballots issued).
    official = truth.official.stations.set_index("station")
    stuffed = sum(
        int(official.loc[s, "issued_premises"]) - truth.true_issued[s] for s in truth.falsified
    )
    for c in CANDIDATES:
        true_votes[c] = int(official[c].sum())
    true_votes[CANDIDATES[0]] -= stuffed
    true_valid = valid - stuffed
    first = next(s for s in quick["shares"] if s["name"] == CANDIDATES[0])
    true_share = true_votes[CANDIDATES[0]] / true_valid
    assert first["low99"] <= true_share <= first["high99"]
    assert first["official"] > true_share
