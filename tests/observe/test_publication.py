"""The publication policy's pure rules: release time, rounding, who reads what, station status."""

from __future__ import annotations

import doctest
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pollwatch.observe import publication
from pollwatch.observe.publication import (
    PRESS_FIELDS_DURING_VOTING,
    TIME_BUCKET,
    coarse_queue,
    coarse_time,
    coarse_wait,
    derive_station_status,
    embargo_over,
    export_access,
    next_release,
    press_view,
    release_cutoff,
    withheld_fields,
)
from pollwatch.observe.queues import ballot_outlook
from pollwatch.observe.reports import Report, parse_report

T0 = datetime(2024, 3, 17, 9, 0, tzinfo=UTC)


def test_docstring_examples_run() -> None:
    outcome = doctest.testmod(publication)
    assert outcome.attempted > 0 and outcome.failed == 0


def test_release_time_is_at_least_the_delay_old_and_stands_still_for_a_bucket() -> None:
    for delay in (0, 10, 25):
        seen = set()
        for second in range(0, 3 * 3600, 37):
            now = T0 + timedelta(seconds=second)
            cutoff = release_cutoff(now, delay)
            assert cutoff <= now - timedelta(minutes=delay)
            assert now - cutoff < timedelta(minutes=delay) + TIME_BUCKET
            assert cutoff.minute % 10 == 0 and cutoff.second == 0
            assert release_cutoff(next_release(now, delay), delay) == cutoff + TIME_BUCKET
            assert next_release(now, delay) > now
            seen.add(cutoff)
        assert len(seen) == 18 + (delay % 10 != 0)  # 3 hours: one release per 10 minutes


def test_rounding() -> None:
    assert [coarse_queue(n) for n in (0, 1, 2, 3, 7, 8, 49, 52, 53, 57, 140)] == [
        0, 0, 0, 5, 5, 10, 50, 50, 50, 60, 140,
    ]  # fmt: skip
    assert [coarse_wait(m) for m in (0, 2.4, 2.5, 61, 63, 80, 100)] == [0, 0, 5, 60, 60, 75, 105]
    assert coarse_time(datetime(2024, 3, 17, 12, 59, 59, 999, tzinfo=UTC)) == datetime(
        2024, 3, 17, 12, 50, tzinfo=UTC
    )


def test_who_reads_the_full_ledger_and_exports() -> None:
    end = T0 + timedelta(hours=12)
    assert export_access(None, end + timedelta(days=9), coordinator=False) == "closed"
    assert export_access(end, end - timedelta(seconds=1), coordinator=False) == "closed"
    assert export_access(end, end, coordinator=False) == "redacted"
    assert export_access(None, T0, coordinator=True) == "full"
    assert embargo_over(end, end) and not embargo_over(None, end)


def test_only_incident_texts_are_withheld_and_only_when_not_public() -> None:
    assert withheld_fields("incident", False) == ("text",)
    assert withheld_fields("incident", True) == ()
    for kind in ("count", "status", "protocol"):
        assert withheld_fields(kind, False) == ()


def test_press_view_keeps_only_the_listed_fields_during_voting() -> None:
    summary = {name: 1 for name in PRESS_FIELDS_DURING_VOTING}
    summary.update(turnout={"independent": 5}, pvt={"shares": []}, anything_new="secret")
    during = press_view(summary, after_embargo=False)
    assert set(during) == set(PRESS_FIELDS_DURING_VOTING)
    assert press_view(summary, after_embargo=True) == summary


def _report(kind: str, minutes: int, **fields: Any) -> Report:
    return parse_report(
        {
            "id": f"00000000-0000-4000-8000-{minutes:012d}",
            "election": "e",
            "station": "8001",
            "kind": kind,
            "observed_at": (T0 + timedelta(minutes=minutes)).isoformat(),
            **fields,
        },
        now=T0 + timedelta(days=1),
    )


def _count(minutes: int, entered: int, **fields: Any) -> Report:
    return _report(
        "count",
        minutes,
        window_start=(T0 + timedelta(minutes=minutes - 30)).isoformat(),
        window_end=(T0 + timedelta(minutes=minutes)).isoformat(),
        entered=entered,
        **fields,
    )


def test_station_status_is_derived_coarse_and_names_no_report() -> None:
    reports = [
        _count(30, 60, queue=23, ballots_issued=60),
        _report("status", 31, status="opened"),
        _report("incident", 33, category="pressure", text="a man photographs observers"),
        _report("incident", 34, category="ballot_shortage", text="only 20 ballots left"),
    ]
    as_of = T0 + timedelta(minutes=50)
    hidden = derive_station_status("e", "8001", reports, as_of=as_of, ballots_received=1000,
                                   public_ids=set())  # fmt: skip
    data = hidden.to_dict()
    assert data["queue"] == 25  # 23 rounded
    assert data["wait_minutes"] == 10  # 23 people at 2 per minute: 11.5 min, rounded
    assert data["ballots_warning"] is False and data["incidents"] == []
    assert data["updated_at"] == "2024-03-17T09:30:00Z" and data["as_of"] == "2024-03-17T09:50:00Z"
    text = json.dumps(data)
    for secret in ("00000000-", "count", "status", "opened", "photographs", "observer"):
        assert secret not in text, secret
    assert set(data) == {
        "election", "station", "as_of", "updated_at", "queue", "wait_minutes",
        "ballots_warning", "incidents", "wait_low", "wait_high", "ballots_received",
        "ballots_issued",
    }  # fmt: skip
    assert data["wait_low"] is not None and data["wait_low"] <= 10 <= data["wait_high"]
    shown = derive_station_status("e", "8001", reports, as_of=as_of, ballots_received=1000,
                                  public_ids={reports[3].id})  # fmt: skip
    assert shown.ballots_warning is True, "a published ballot shortage warns"
    assert [i.to_dict() for i in shown.incidents] == [
        {
            "category": "ballot_shortage",
            "text": "only 20 ballots left",
            "observed_at": "2024-03-17T09:30:00Z",
        }
    ]


def test_ballots_warning_follows_the_queues_rule() -> None:
    reports = [_count(30, 450, ballots_issued=450), _count(60, 460, ballots_issued=460)]
    as_of = T0 + timedelta(hours=2)

    def warns(received: int, share_seen: float | None) -> bool:
        status = derive_station_status("e", "8001", reports, as_of=as_of,
                                       ballots_received=received, public_ids=(),
                                       share_seen=share_seen)  # fmt: skip
        assert status.queue is None and status.wait_minutes is None
        expected = ballot_outlook(received, 910, 0, share_seen or 0.0).warning
        assert status.ballots_warning is expected
        return status.ballots_warning

    assert warns(900, None), "out of ballots: warned without a day curve"
    assert not warns(1000, None), "no day curve: no forecast"
    assert warns(1000, 0.5), "half the day's voters seen, 90 ballots left"
    assert not warns(5000, 0.5)


def test_an_empty_station() -> None:
    empty = derive_station_status("e", "8001", [], as_of=T0, ballots_received=None, public_ids=())
    assert empty.to_dict()["updated_at"] is None and not empty.ballots_warning


@pytest.mark.parametrize("observer_wait", [None, 40])
def test_wait_falls_back_to_the_observers_estimate(observer_wait: int | None) -> None:
    fields = {} if observer_wait is None else {"wait_minutes": observer_wait}
    reports = [_count(30, 0, **fields), _report("status", 40, status="opened", queue=12)]
    status = derive_station_status("e", "8001", reports, as_of=T0 + timedelta(hours=1),
                                   ballots_received=None, public_ids=())  # fmt: skip
    assert status.queue == 10
    assert status.wait_minutes == observer_wait
