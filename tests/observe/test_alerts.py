"""The silence alerts, coverage and filled-in hours on worked examples (pure: no database).

Every expected time below was worked out by hand from the zone's offset on that date.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pollwatch.errors import InputError
from pollwatch.observe.alerts import (
    RevokedSender,
    StationWatch,
    compute_alerts,
    filled_spans,
    local_text,
    revoked_alerts,
    station_alerts,
    station_coverage,
)
from pollwatch.observe.schedule import parse_schedule


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def kinds(alerts: tuple[object, ...]) -> list[str]:
    return [a.kind for a in alerts]  # type: ignore[attr-defined]


# --- should have opened, no status yet ----------------------------------------------------


def test_no_opening_in_delhi_fires_at_local_time_plus_grace() -> None:
    # Asia/Kolkata is +05:30: 08:00 local is 02:30 UTC; the grace is 15 minutes.
    delhi = StationWatch("in-1", parse_schedule("2024-03-17 08:00-18:00", "Asia/Kolkata"))
    assert station_alerts("e", delhi, now=utc(2024, 3, 17, 2, 44)) == ()
    (alert,) = station_alerts("e", delhi, now=utc(2024, 3, 17, 2, 45))
    assert alert.kind == "no_opening" and alert.severity == "high"
    assert alert.since == utc(2024, 3, 17, 2, 30)
    assert alert.local_since == "2024-03-17 08:00 +05:30"
    assert alert.id == "no_opening:e:in-1:2024-03-17T02:30:00Z"
    # after closing (18:00 IST = 12:30 UTC) nothing is judged any more
    assert station_alerts("e", delhi, now=utc(2024, 3, 17, 12, 30)) == ()


def test_a_status_report_clears_no_opening_and_an_old_one_does_not() -> None:
    schedule = parse_schedule("2024-03-16 08:00-20:00; 2024-03-17 08:00-20:00", "Europe/Berlin")
    yesterday = StationWatch("de-1", schedule, statuses=(utc(2024, 3, 16, 7, 1),))
    assert kinds(station_alerts("e", yesterday, now=utc(2024, 3, 17, 8))) == ["no_opening"]
    today = StationWatch(
        "de-1", schedule, statuses=(utc(2024, 3, 17, 6, 55),), received=(utc(2024, 3, 17, 7, 30),)
    )
    assert station_alerts("e", today, now=utc(2024, 3, 17, 8)) == ()


def test_dst_spring_forward_opens_an_hour_earlier_in_utc() -> None:
    # Europe/Berlin moves to CEST (+02:00) at 02:00 on 2024-03-31: 08:00 local = 06:00 UTC.
    berlin = StationWatch("de-2", parse_schedule("2024-03-31 08:00-20:00", "Europe/Berlin"))
    (alert,) = station_alerts("e", berlin, now=utc(2024, 3, 31, 6, 15))
    assert alert.since == utc(2024, 3, 31, 6) and alert.local_since == "2024-03-31 08:00 +02:00"
    # the day before, still CET (+01:00): 08:00 local = 07:00 UTC
    before = StationWatch("de-2", parse_schedule("2024-03-30 08:00-20:00", "Europe/Berlin"))
    assert station_alerts("e", before, now=utc(2024, 3, 30, 6, 15)) == ()
    assert kinds(station_alerts("e", before, now=utc(2024, 3, 30, 7, 15))) == ["no_opening"]


def test_no_schedule_no_time_based_alert() -> None:
    assert station_alerts("e", StationWatch("x", None), now=utc(2024, 3, 17, 12)) == ()


# --- no report for 60 minutes ---------------------------------------------------------------


def test_silence_after_sixty_minutes_with_a_stable_id() -> None:
    schedule = parse_schedule("2024-03-17 08:00-20:00", "America/New_York")  # EDT, -04:00
    last = utc(2024, 3, 17, 13, 5)  # 09:05 local
    watch = StationWatch("us-1", schedule, statuses=(utc(2024, 3, 17, 12, 0),), received=(last,))
    assert station_alerts("e", watch, now=last + timedelta(minutes=59)) == ()
    first = station_alerts("e", watch, now=last + timedelta(minutes=60))
    later = station_alerts("e", watch, now=last + timedelta(minutes=200))
    assert kinds(first) == ["silence"] and first[0].local_since == "2024-03-17 09:05 -04:00"
    assert first[0].id == later[0].id  # the same silence: sent once
    assert later[0].details["minutes"] == 200
    # a new report ends it; the next silence is another alert
    again = StationWatch(
        "us-1", schedule, statuses=watch.statuses, received=(last, utc(2024, 3, 17, 16))
    )
    (new,) = station_alerts("e", again, now=utc(2024, 3, 17, 17, 30))
    assert new.id != first[0].id


def test_no_silence_before_opening_or_after_closing() -> None:
    schedule = parse_schedule("2024-03-17 08:00-20:00", "UTC")
    watch = StationWatch(
        "u", schedule, statuses=(utc(2024, 3, 17, 6, 30),), received=(utc(2024, 3, 17, 6, 30),)
    )
    assert station_alerts("e", watch, now=utc(2024, 3, 17, 7, 59)) == ()
    assert kinds(station_alerts("e", watch, now=utc(2024, 3, 17, 8))) == ["silence"]
    assert station_alerts("e", watch, now=utc(2024, 3, 17, 20, 1)) == ()


# --- count window missing -------------------------------------------------------------------


def test_count_gap_in_local_time_and_grace() -> None:
    # Kathmandu is +05:45: 08:00 local = 02:15 UTC.
    schedule = parse_schedule("2024-03-17 08:00-20:00", "Asia/Kathmandu")
    windows = (
        (utc(2024, 3, 17, 2, 15), utc(2024, 3, 17, 3, 15)),  # 08:00-09:00
        (utc(2024, 3, 17, 4, 15), utc(2024, 3, 17, 5, 15)),  # 10:00-11:00
    )
    watch = StationWatch(
        "np-1", schedule, statuses=(utc(2024, 3, 17, 2, 15),), received=(utc(2024, 3, 17, 5, 20),)
    )
    watch = StationWatch(watch.station, schedule, watch.statuses, watch.received, windows)
    # at 11:30 local (05:45 UTC) the judged part ends at 10:00 local: one gap, 09:00-10:00
    gaps = [
        a for a in station_alerts("e", watch, now=utc(2024, 3, 17, 5, 45)) if a.kind == "count_gap"
    ]
    assert [a.details["local"] for a in gaps] == ["2024-03-17 09:00 +05:45 – 10:00 +05:45"]
    assert gaps[0].details["minutes"] == 60
    # at 13:00 local (07:15 UTC) the stretch after the second window (11:00-11:30) counts too
    later = station_alerts("e", watch, now=utc(2024, 3, 17, 7, 15))
    assert [a.details["minutes"] for a in later if a.kind == "count_gap"] == [60, 30]
    assert gaps[0].id in {a.id for a in later}  # the first gap keeps its id


def test_a_station_that_never_counts_has_no_count_gap() -> None:
    schedule = parse_schedule("2024-03-17 08:00-20:00", "UTC")
    watch = StationWatch(
        "u", schedule, statuses=(utc(2024, 3, 17, 8),), received=(utc(2024, 3, 17, 14),)
    )
    assert station_alerts("e", watch, now=utc(2024, 3, 17, 14, 30)) == ()


# --- revoked observers ----------------------------------------------------------------------


def test_revoked_sender_alert_is_recent_and_stable() -> None:
    sender = RevokedSender("blue-fox-1234", utc(2024, 3, 17, 9), utc(2024, 3, 17, 10), 7, "8001")
    (alert,) = revoked_alerts("e", [sender], now=utc(2024, 3, 17, 11))
    assert alert.kind == "revoked_sending" and alert.station == "8001"
    assert alert.details == {
        "code_name": "blue-fox-1234",
        "attempts": 7,
        "last_attempt": "2024-03-17T10:00:00Z",
    }
    assert alert.id == "revoked_sending:e:blue-fox-1234:2024-03-17T09:00:00Z"
    assert revoked_alerts("e", [sender], now=utc(2024, 3, 18, 10, 1)) == ()


def test_compute_alerts_orders_by_severity_then_kind_then_age() -> None:
    schedule = parse_schedule("2024-03-17 08:00-20:00", "UTC")
    quiet = StationWatch(
        "b", schedule, statuses=(utc(2024, 3, 17, 8),), received=(utc(2024, 3, 17, 9),)
    )
    closed_eyes = StationWatch("a", schedule)
    sender = RevokedSender("x", utc(2024, 3, 17, 11), utc(2024, 3, 17, 11), 1)
    found = compute_alerts("e", [quiet, closed_eyes], [sender], now=utc(2024, 3, 17, 12))
    assert kinds(found) == ["no_opening", "revoked_sending", "silence"]


def test_naive_times_are_refused() -> None:
    with pytest.raises(InputError):
        station_alerts("e", StationWatch("x", None), now=datetime(2024, 3, 17, 12))


# --- coverage and filled-in hours ------------------------------------------------------------


def test_coverage_slots_follow_local_half_hour_offsets() -> None:
    delhi = parse_schedule("2024-03-17 08:00-11:00", "Asia/Kolkata")
    windows = [(utc(2024, 3, 17, 2, 30), utc(2024, 3, 17, 3, 0))]  # 08:00-08:30 local
    received = [utc(2024, 3, 17, 2, 40), utc(2024, 3, 17, 3, 10)]
    rows = station_coverage(delhi, windows, received, now=utc(2024, 3, 17, 4))
    assert [(r.local, r.state, r.reports) for r in rows] == [
        ("08:00", "partial", 2),
        ("09:00", "missing", 0),
        ("10:00", "future", 0),
    ]
    assert rows[0].counted_share == pytest.approx(0.5)
    assert rows[0].start == utc(2024, 3, 17, 2, 30)


def test_coverage_on_the_night_clocks_go_back_has_the_repeated_hour() -> None:
    # America/New_York falls back at 02:00 EDT on 2024-11-03: 01:00-02:00 happens twice.
    night = parse_schedule("2024-11-03 00:00-03:00", "America/New_York")
    rows = station_coverage(night, [], [], now=utc(2024, 11, 3, 12))
    assert [r.local for r in rows] == ["00:00", "01:00", "01:00", "02:00"]
    assert sum((r.end - r.start).total_seconds() for r in rows) == 4 * 3600  # a 4-hour night


def test_filled_spans_are_the_uncovered_opening_hours() -> None:
    two_days = parse_schedule("2024-03-16 08:00-10:00; 2024-03-17 08:00-10:00", "Europe/Belgrade")
    windows = [
        (utc(2024, 3, 16, 7), utc(2024, 3, 16, 9)),  # all of day one
        (utc(2024, 3, 17, 7, 30), utc(2024, 3, 17, 8)),  # 08:30-09:00 local
    ]
    spans = filled_spans(two_days, windows)
    assert [
        (local_text(a, "Europe/Belgrade"), local_text(b, "Europe/Belgrade")) for a, b in spans
    ] == [
        ("2024-03-17 08:00 +01:00", "2024-03-17 08:30 +01:00"),
        ("2024-03-17 09:00 +01:00", "2024-03-17 10:00 +01:00"),
    ]
    assert filled_spans(two_days, windows, until=utc(2024, 3, 17, 7, 15)) == (
        (utc(2024, 3, 17, 7), utc(2024, 3, 17, 7, 15)),
    )


def test_docstring_examples_run() -> None:
    import doctest

    from pollwatch.observe import alerts, followup, hotline

    for module in (alerts, followup, hotline):
        outcome = doctest.testmod(module)
        assert outcome.attempted > 0 and outcome.failed == 0, module.__name__
