"""Station schedules in the store: imported, defaulted, and used by every door-count estimate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from pollwatch.errors import InputError
from pollwatch.results import ElectionResults
from pollwatch.store import attach_results, create_election, import_stations, store_report
from pollwatch.store.comparison import comparison_rows
from pollwatch.store.elections import list_stations
from pollwatch.store.station_record import station_record

NOW = datetime(2024, 3, 17, 21, 0, tzinfo=UTC)


def count(station: str, start: int, end: int, entered: int, election: str = "e") -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": election,
        "station": station,
        "kind": "count",
        "observed_at": f"2024-03-17T{end:02d}:00:00Z",
        "window_start": f"2024-03-17T{start:02d}:00:00Z",
        "window_end": f"2024-03-17T{end:02d}:00:00Z",
        "entered": entered,
    }


def official(issued: dict[str, int]) -> ElectionResults:
    frame = pd.DataFrame(
        {
            "region": "abroad",
            "station": list(issued),
            "registered": 3000,
            "issued_early": 0,
            "issued_premises": list(issued.values()),
            "issued_outside": 0,
            "valid": list(issued.values()),
            "invalid": 0,
            "abroad": True,
            "A": list(issued.values()),
        }
    )
    return ElectionResults(name="x", stations=frame, candidates=("A",), source="synthetic")


def test_import_reads_timezone_and_schedule_and_looks_zones_up(engine: Engine) -> None:
    import_stations(
        engine,
        "e",
        [
            {"station": "1", "timezone": "Europe/Belgrade", "schedule": "2024-03-17 8:00-20:00"},
            {"station": "2", "lat": "52.52", "lon": "13.405", "hours": "08:00-20:00"},
            {"station": "3"},
        ],
    )
    rows = {r["station"]: r for r in list_stations(engine, "e")}
    assert rows["1"]["schedule"] == "2024-03-17 08:00-20:00"  # normalised
    assert rows["2"]["timezone"] == "Europe/Berlin" and rows["2"]["schedule"] is None
    assert rows["3"]["timezone"] is None


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ({"station": "1", "timezone": "UTC", "schedule": "2024-03-17 20:00-08:00"}, "schedule"),
        ({"station": "1", "timezone": "Moon/Base", "schedule": "2024-03-17 8-20"}, "timezone"),
        ({"station": "1", "schedule": "2024-03-17 08:00-20:00"}, "timezone"),
    ],
)
def test_a_bad_schedule_names_its_row_and_column(
    engine: Engine, row: dict[str, str], column: str
) -> None:
    with pytest.raises(InputError) as info:
        import_stations(engine, "e", [row])
    assert info.value.row == 2 and info.value.column == column


def test_a_morning_count_without_a_closed_report_does_not_accuse_the_station(
    engine: Engine,
) -> None:
    import_stations(
        engine, "e", [{"station": "1", "timezone": "UTC", "schedule": "2024-03-17 08:00-20:00"}]
    )
    attach_results(engine, "e", official({"1": 1000}))
    for start, entered in ((8, 150), (10, 170), (12, 169)):  # 08-14, then the observer left
        store_report(engine, count("1", start, start + 2, entered), observer=None, now=NOW)
    record = station_record(engine, "e", "1")
    estimate = record["estimate"]
    assert estimate["method"] == "prior" and estimate["counted"] == 489
    assert estimate["covered_share"] == pytest.approx(0.5)
    assert estimate["low"] < 1000 < estimate["high"]
    assert record["comparison"]["flagged"] is False
    (row,) = comparison_rows(engine, "e")["rows"]
    assert row["flag"] is False


def test_the_election_default_schedule_is_used_and_flagged_as_assumed(engine: Engine) -> None:
    create_election(engine, "d", schedule="2024-03-17 08:00-20:00", timezone="UTC")
    import_stations(engine, "d", [{"station": "1"}])
    store_report(engine, count("1", 8, 20, 500, election="d"), observer=None, now=NOW)
    estimate = station_record(engine, "d", "1")["estimate"]
    assert estimate["method"] == "complete" and estimate["schedule_assumed"] is True
    with pytest.raises(InputError):
        create_election(engine, "x", schedule="2024-03-17 08:00-20:00")


def test_without_any_schedule_there_is_no_estimate_and_the_note_says_why(
    engine: Engine,
) -> None:
    import_stations(engine, "e", [{"station": "1"}])
    store_report(engine, count("1", 8, 14, 300), observer=None, now=NOW)
    record = station_record(engine, "e", "1")
    assert record["estimate"] is None
    assert any("no schedule" in note for note in record["notes"])


def test_fully_covered_stations_calibrate_the_others(engine: Engine) -> None:
    schedule = {"timezone": "UTC", "schedule": "2024-03-17 08:00-20:00"}
    ids = [f"{i}" for i in range(1, 12)]
    import_stations(engine, "e", [{"station": s, **schedule} for s in ids])
    attach_results(engine, "e", official(dict.fromkeys(ids, 600)))
    for s in ids[:10]:  # counted all day: the reference
        for start in range(8, 20, 2):
            store_report(engine, count(s, start, start + 2, 100), observer=None, now=NOW)
    store_report(engine, count("11", 8, 12, 200), observer=None, now=NOW)
    rows = {r["station"]: r for r in comparison_rows(engine, "e")["rows"]}
    assert not any(r["flag"] for r in rows.values())
    estimate = station_record(engine, "e", "11")["estimate"]
    assert estimate["method"] == "reference" and estimate["reference_stations"] == 10
    assert estimate["total"] == pytest.approx(600)
