"""Master record: agreement is kept, disagreement becomes a conflict, resolutions apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pollwatch.errors import InputError
from pollwatch.observe.master import Resolution, merge_station_reports
from pollwatch.observe.reports import Report, parse_report

NOW = datetime(2024, 3, 17, 20, 0, tzinfo=UTC)
DAY = datetime(2024, 3, 17, tzinfo=UTC)
_counter = iter(range(1, 10_000))


def make(kind: str, *, station: str = "8001", at: float = 12.0, **fields: Any) -> Report:
    payload: dict[str, Any] = {
        "id": f"00000000-0000-4000-8000-{next(_counter):012d}",
        "election": "e1",
        "station": station,
        "kind": kind,
        "observed_at": (DAY + timedelta(hours=at)).isoformat(),
        **fields,
    }
    return parse_report(payload, now=NOW)


def count(start: float, end: float, entered: int, **extra: Any) -> Report:
    return make(
        "count",
        at=end,
        window_start=(DAY + timedelta(hours=start)).isoformat(),
        window_end=(DAY + timedelta(hours=end)).isoformat(),
        entered=entered,
        **extra,
    )


FIGURES = {
    "registered": 1000,
    "ballots_received": 1000,
    "issued_early": 0,
    "issued_premises": 600,
    "issued_outside": 20,
    "valid": 610,
    "invalid": 8,
    "votes": {"A": 400, "B": 210},
}


def protocol(**changes: Any) -> Report:
    figures = {**FIGURES, **changes}
    return make("protocol", at=19.0, figures=figures)


def test_agreeing_protocols_give_every_figure() -> None:
    record = merge_station_reports([protocol(), protocol()])
    assert record.conflicts == ()
    assert record.figures["valid"] == 610 and record.figures["votes.A"] == 400
    figures = record.protocol_figures()
    assert figures is not None and dict(figures.votes) == {"A": 400, "B": 210}
    assert record.warnings == ()


def test_partial_protocols_complement_each_other() -> None:
    a = make("protocol", figures={"registered": 1000})
    b = make("protocol", figures={"valid": 610, "votes": {"A": 400}})
    record = merge_station_reports([a, b])
    assert dict(record.figures) == {"registered": 1000, "valid": 610, "votes.A": 400}


def test_disagreement_is_a_conflict_left_out_of_the_figures() -> None:
    a, b, c = protocol(), protocol(valid=700), protocol(votes={"A": 490, "B": 210})
    record = merge_station_reports([a, b, c])
    fields = {conflict.field: conflict for conflict in record.conflicts}
    assert set(fields) == {"valid", "votes.A"}
    assert "valid" not in record.figures and "votes.A" not in record.figures
    assert {(v.report_id, v.value) for v in fields["valid"].values} == {
        (a.id, 610),
        (b.id, 700),
        (c.id, 610),
    }
    figures = record.protocol_figures()
    assert figures is not None and figures.valid is None
    assert dict(figures.votes) == {}  # a partial vote table would bias shares
    assert record.figures["registered"] == 1000


def test_resolution_applies_and_is_recorded() -> None:
    a, b = protocol(), protocol(valid=700)
    resolution = Resolution("valid", 610, by="coordinator-1", note="photo")
    record = merge_station_reports([a, b], [resolution])
    assert record.conflicts == ()
    assert record.figures["valid"] == 610
    (conflict, applied), *_ = record.resolved
    assert conflict.field == "valid" and applied.by == "coordinator-1"
    assert record.to_dict()["resolved"][0]["by"] == "coordinator-1"


def test_resolution_may_enter_a_value_nobody_reported_and_last_one_wins() -> None:
    record = merge_station_reports(
        [protocol(), protocol(valid=700)],
        [Resolution("valid", 610, by="x"), Resolution("valid", 612, by="y")],
    )
    assert record.figures["valid"] == 612


def test_resolution_without_conflict_is_stale_not_applied() -> None:
    record = merge_station_reports([protocol()], [Resolution("valid", 1, by="x")])
    assert record.figures["valid"] == 610
    assert [r.field for r in record.stale_resolutions] == ["valid"]


@pytest.mark.parametrize("value", [-1, "610", True, 2_000_000])
def test_bad_figure_resolution_is_input_error(value: Any) -> None:
    with pytest.raises(InputError):
        merge_station_reports([protocol(), protocol(valid=700)], [Resolution("valid", value, "x")])


def test_latest_status_wins_and_opening_hours_are_kept() -> None:
    reports = [
        make("status", at=5.0, status="opened"),
        make("status", at=11.0, status="suspended", queue=40),
        make("status", at=11.5, status="resumed"),
        make("status", at=17.0, status="closed", queue=3),
    ]
    record = merge_station_reports(list(reversed(reports)))
    assert record.status == "closed" and record.status_at == DAY + timedelta(hours=17)
    assert record.opened_at == DAY + timedelta(hours=5)
    assert record.closed_at == DAY + timedelta(hours=17)
    assert record.queue == 3


def test_simultaneous_different_statuses_conflict_until_resolved() -> None:
    a = make("status", at=17.0, status="closed")
    b = make("status", at=17.0, status="suspended")
    record = merge_station_reports([a, b])
    assert record.status is None and [c.field for c in record.conflicts] == ["status"]
    fixed = merge_station_reports([a, b], [Resolution("status", "closed", by="x")])
    assert fixed.status == "closed" and fixed.conflicts == ()
    with pytest.raises(InputError):
        merge_station_reports([a, b], [Resolution("status", "gone", by="x")])


def test_count_windows_union_duplicates_merged() -> None:
    a, b, c = count(8, 9, 50), count(9, 10, 70), count(8, 9, 50)
    record = merge_station_reports([a, b, c])
    assert record.conflicts == ()
    assert [(w.entered, w.hours) for w in record.windows] == [(50, 1.0), (70, 1.0)]
    assert set(record.windows[0].report_ids) == {a.id, c.id}


def test_overlapping_windows_conflict_and_resolve_by_report() -> None:
    a, b, c = count(8, 10, 120), count(9, 10, 66), count(12, 13, 30)
    record = merge_station_reports([a, b, c])
    assert [w.entered for w in record.windows] == [30]
    (conflict,) = record.conflicts
    assert conflict.field == "window:2024-03-17T08:00:00Z/2024-03-17T10:00:00Z"
    assert {v.report_id for v in conflict.values} == {a.id, b.id}
    fixed = merge_station_reports([a, b, c], [Resolution(conflict.field, a.id, by="x")])
    assert [w.entered for w in fixed.windows] == [120, 30] and fixed.conflicts == ()
    with pytest.raises(InputError, match="overlap"):
        merge_station_reports([a, b, c], [Resolution(conflict.field, [a.id, b.id], by="x")])
    with pytest.raises(InputError):
        merge_station_reports([a, b, c], [Resolution(conflict.field, c.id, by="x")])


def test_same_window_different_counts_conflict() -> None:
    a, b = count(8, 9, 50), count(8, 9, 52)
    record = merge_station_reports([a, b])
    assert record.windows == () and len(record.conflicts) == 1


def test_incidents_are_kept_in_time_order() -> None:
    late = make("incident", at=15.0, category="violence", text="b")
    early = make("incident", at=9.0, category="pressure", text="a")
    record = merge_station_reports([late, early])
    assert [i.text for i in record.incidents] == ["a", "b"]


def test_reports_of_other_stations_are_refused() -> None:
    with pytest.raises(InputError, match="8002"):
        merge_station_reports([protocol(), make("status", station="8002", status="opened")])
    with pytest.raises(InputError):
        merge_station_reports([])


def test_merge_is_pure_and_order_independent() -> None:
    reports = [protocol(), protocol(valid=700), count(8, 9, 5), make("status", status="opened")]
    one = merge_station_reports(reports)
    two = merge_station_reports(list(reversed(reports)))
    assert one.to_dict() == two.to_dict()
