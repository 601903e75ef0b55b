"""Home and early voting against their own registers: the pure check, its calibration on
simulated stations, and the comparison table that shows it beside the door counts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine
from tests.store.databases import database_url

from pollwatch.errors import InputError
from pollwatch.observe.calibration import register_calibration
from pollwatch.observe.comparison_table import comparison_row, turnout_totals
from pollwatch.observe.registers import check_register, register_checks
from pollwatch.results import ElectionResults


def test_home_ballots_above_the_requests_are_flagged_below_them_never() -> None:
    above = check_register("home", 60, 50)
    assert (above.flagged, above.direction, above.difference, above.slack) == (True, "above", 10, 2)
    assert check_register("home", 52, 50).flagged is False  # within the slack
    below = check_register("home", 10, 50)
    assert below.direction == "below" and below.flagged is False  # unused requests are normal
    assert check_register("home", 1020, 1000).flagged is False  # 2 % of a large register
    assert check_register("home", 1021, 1000).flagged is True


def test_early_ballots_differing_from_the_list_either_way_are_flagged() -> None:
    assert check_register("early", 90, 100).to_dict() == {
        "kind": "early",
        "label": "ballots issued early against the early voters",
        "official": 90,
        "register": 100,
        "difference": -10,
        "slack": 2,
        "direction": "below",
        "flagged": True,
    }
    assert (
        check_register("early", 110, 100).flagged and not check_register("early", 101, 100).flagged
    )


@pytest.mark.parametrize(
    "hostile", [None, "", "50", True, -1, 2.5, float("nan"), float("inf"), [50], {"n": 50}]
)
def test_a_register_count_that_is_not_a_whole_number_gives_no_check(hostile: Any) -> None:
    assert register_checks({"home_requests": hostile}, {"issued_outside": 70}) == []
    assert register_checks({"home_requests": 50}, {"issued_outside": hostile}) == []
    assert register_checks(None, None) == [] and register_checks({}, {"issued_early": 3}) == []
    (check,) = register_checks({"home_requests": 50.0}, {"issued_outside": 70})
    assert check.flagged


@pytest.mark.parametrize("kind", ["home", "early"])
def test_honest_stations_are_flagged_at_most_5_percent_of_the_time(kind: str) -> None:
    rates = register_calibration(kind, stations=1500, seed=3).flag_rate
    assert rates[0.0] <= 0.05, rates
    assert rates[0.4] > 0.5 and rates[0.4] >= rates[0.2] >= rates[0.1] >= rates[0.0], rates
    with pytest.raises(InputError, match="kind"):
        register_calibration("postal", stations=1)


def test_the_comparison_row_shows_the_checks_apart_from_the_door_count_flag() -> None:
    row = comparison_row(
        "S1",
        None,
        None,
        None,
        {"issued_outside": 80, "issued_early": 12, "issued_premises": 500},
        {"home_requests": 50, "early_voters": 12},
    )
    assert row["flag"] is False and row["register_flag"] is True
    assert [(r["kind"], r["flagged"]) for r in row["registers"]] == [
        ("home", True),
        ("early", False),
    ]
    plain = comparison_row("S2", None, None, None, {"issued_outside": 80})  # no registry row
    assert plain["registers"] == [] and plain["register_flag"] is False
    totals = turnout_totals(iter([row, plain]))
    assert (totals["registers_compared"], totals["register_flagged"]) == (1, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    from pollwatch.store import open_store

    with database_url(request.param, tmp_path) as url:
        eng = open_store(url)
        yield eng
        eng.dispose()


def test_registry_counts_reach_the_dashboard_comparison(engine: Engine) -> None:
    from pollwatch.store import attach_results, comparison_rows, import_stations, store_report

    import_stations(
        engine,
        "e",
        [
            {"station": "S1", "home_requests": "40", "early_voters": "7"},
            {"station": "S2", "home_requests": "40"},
        ],
    )
    frame = pd.DataFrame(
        {
            "region": ["abroad"] * 2,
            "station": ["S1", "S2"],
            "registered": [1000, 1000],
            "issued_early": [7, 0],
            "issued_premises": [300, 300],
            "issued_outside": [65, 30],
            "valid": [372, 330],
            "invalid": [0, 0],
            "abroad": [True, True],
            "A": [372, 330],
        }
    )
    attach_results(engine, "e", ElectionResults(name="e", stations=frame, candidates=("A",)))
    for station in ("S1", "S2"):
        body = {
            "id": str(uuid.uuid4()),
            "election": "e",
            "station": station,
            "kind": "count",
            "observed_at": "2024-03-17T14:00:00Z",
            "window_start": "2024-03-17T08:00:00Z",
            "window_end": "2024-03-17T14:00:00Z",
            "entered": 150,
        }
        store_report(engine, body, observer=None, now=datetime(2024, 3, 17, 21, tzinfo=UTC))
    table = comparison_rows(engine, "e")
    rows = {r["station"]: r for r in table["rows"]}
    assert [c["kind"] for c in rows["S1"]["registers"]] == ["home", "early"]
    assert rows["S1"]["register_flag"] is True and rows["S2"]["register_flag"] is False
    assert table["totals"]["register_flagged"] == 1
    with pytest.raises(InputError):
        import_stations(engine, "e", [{"station": "S3", "home_requests": "-4"}])
