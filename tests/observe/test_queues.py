"""The wait and the ballots warning: worked examples, coverage, and calibration on honest days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pollwatch.errors import InputError
from pollwatch.observe.estimates import MIN_REFERENCE_STATIONS, DayShapes, day_shapes_from_stations
from pollwatch.observe.master import CountWindow
from pollwatch.observe.queues import (
    MIN_SHARE_SEEN,
    PRIOR_SHAPE_CONCENTRATION,
    SHAPE_CONCENTRATION,
    ShareSeen,
    ballot_outlook,
    day_progress,
    estimate_wait,
    expected_share_seen,
    share_seen_at,
)
from pollwatch.observe.schedule import parse_schedule
from pollwatch.observe.simulate_queues import DAY_SHAPES, simulate_ballot_alarms


def test_littles_law_on_a_worked_example() -> None:
    # 30 people waiting; 60 let in over the last hour: one a minute, so half an hour.
    wait = estimate_wait(30, 60, 60)
    assert wait.minutes == pytest.approx(30)
    assert wait.low < 30 < wait.high  # type: ignore[operator]
    # Garwood's 80 % interval for a count of 60: [50.4, 70.6] per hour
    assert wait.low == pytest.approx(30 * 60 / 70.6, rel=0.01)
    assert wait.high == pytest.approx(30 * 60 / 50.4, rel=0.01)


def test_no_queue_no_wait_and_nobody_let_in_no_upper_bound() -> None:
    assert estimate_wait(0, 0, 30).minutes == 0
    stuck = estimate_wait(40, 0, 30)
    assert stuck.minutes is None and stuck.high is None and stuck.low > 0


def test_the_wait_interval_covers_the_truth_at_its_level() -> None:
    rng = np.random.default_rng(5)
    rate, queue, window = 1.5, 45, 20.0  # people per minute
    truth = queue / rate
    covered = 0
    for entered in rng.poisson(rate * window, 2000):
        wait = estimate_wait(queue, int(entered), window, level=0.8)
        covered += wait.low <= truth <= (wait.high if wait.high is not None else np.inf)
    assert 0.77 <= covered / 2000 <= 0.86


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-1, 5, 10), "queue"),
        ((5, -1, 10), "entered"),
        ((5, 5, 0), "window_minutes"),
        ((5, 5, float("nan")), "window_minutes"),
        ((True, 5, 10), "queue"),
        ((5.5, 5, 10), "queue"),
    ],
)
def test_bad_figures_name_the_field(args: tuple[object, ...], field: str) -> None:
    with pytest.raises(InputError) as caught:
        estimate_wait(*args)  # type: ignore[arg-type]
    assert caught.value.column == field


def test_ballot_outlook_on_worked_examples() -> None:
    assert ballot_outlook(None, 100, 5, 0.5).status == "unknown"
    assert ballot_outlook(500, 500, 20, 0.6).status == "out"
    assert ballot_outlook(1000, 40, 3, MIN_SHARE_SEEN / 2).status == "too_early"
    # 60 % of the day's people came (600 issued, 100 waiting): about 467 more to come, so
    # with the queue some 567 ask for the 200 ballots left
    short = ballot_outlook(800, 600, 100, 0.6)
    assert short.status == "may_run_out" and short.warning
    assert short.expected_demand == pytest.approx(100 + 700 * 0.4 / 0.6)
    assert short.probability is not None and short.probability >= 0.9
    plenty = ballot_outlook(2000, 400, 100, 0.5)
    assert plenty.status == "enough" and not plenty.warning
    assert plenty.probability is not None and plenty.probability < 0.01
    closing = ballot_outlook(1000, 950, 30, 1.0)
    assert closing.status == "enough" and ballot_outlook(1000, 950, 80, 1.0).warning


def test_ballot_outlook_is_reproducible() -> None:
    first = ballot_outlook(1000, 420, 80, 0.5, seed=3)
    assert first == ballot_outlook(1000, 420, 80, 0.5, seed=3)


def test_the_warning_is_calibrated_on_honest_days() -> None:
    """Honest-enough stations (5-100 % spare ballots) are warned at most 5 % of the time;
    short stations are warned before the last ballot goes at least 90 % of the time."""
    rates = simulate_ballot_alarms(120, concentration=40.0, seed=11)
    assert rates.false_alarm_rate <= 0.05, rates
    assert rates.detection_rate >= 0.9, rates
    assert rates.median_lead_hours is not None and rates.median_lead_hours >= 1, rates


# --- the share of the day seen, from the station's schedule and the day curve ---------------

BELGRADE = parse_schedule("2024-03-17 08:00-20:00", "Europe/Belgrade")  # UTC+1 in March
OPENS = datetime(2024, 3, 17, 7, 0, tzinfo=UTC)  # 08:00 in Belgrade


def test_share_seen_before_opening_midday_and_after_closing() -> None:
    before = share_seen_at(BELGRADE, OPENS - timedelta(hours=2))
    assert before.share == 0.0 and before.curve == "prior"
    # before opening (or a few minutes after) there is too little to go on: no warning,
    # even for a station whose door count already matches its ballots
    assert ballot_outlook(1000, 40, 30, before.share).status == "too_early"
    early = share_seen_at(BELGRADE, OPENS + timedelta(hours=1))
    assert early.share == pytest.approx(1 / 12) and early.share < MIN_SHARE_SEEN
    assert ballot_outlook(1000, 90, 30, early.share).status == "too_early"
    midday = share_seen_at(BELGRADE, OPENS + timedelta(hours=6))  # 14:00 there
    assert midday == ShareSeen(0.5, PRIOR_SHAPE_CONCENTRATION, "prior", 0)
    closed = share_seen_at(BELGRADE, OPENS + timedelta(hours=14))
    assert closed.share == 1.0
    # after closing only the queue still asks for ballots
    assert not ballot_outlook(1000, 950, 40, closed.share).warning
    assert ballot_outlook(1000, 950, 60, closed.share).warning


def test_share_seen_is_read_in_the_stations_own_time_zone() -> None:
    moment = datetime(2024, 3, 17, 5, 0, tzinfo=UTC)  # 14:00 in Tokyo, 06:00 in Berlin
    tokyo = parse_schedule("2024-03-17 08:00-20:00", "Asia/Tokyo")
    berlin = parse_schedule("2024-03-17 08:00-20:00", "Europe/Berlin")
    assert share_seen_at(tokyo, moment).share == pytest.approx(0.5)
    assert share_seen_at(berlin, moment).share == 0.0
    # New York's 08:00 on 17 March is 12:00 UTC (daylight saving time began on 10 March)
    new_york = parse_schedule("2024-03-17 08:00-20:00", "America/New_York")
    assert share_seen_at(new_york, datetime(2024, 3, 17, 15, 0, tzinfo=UTC)).share == 0.25


def test_share_seen_over_a_multi_day_schedule_skips_the_nights() -> None:
    three = parse_schedule(
        "2024-03-15 08:00-20:00; 2024-03-16 08:00-20:00; 2024-03-17 08:00-20:00", "Europe/Moscow"
    )
    night = datetime(2024, 3, 15, 23, 0, tzinfo=UTC)  # 02:00 on the 16th in Moscow
    assert share_seen_at(three, night).share == pytest.approx(1 / 3)
    noon_day_two = datetime(2024, 3, 16, 11, 0, tzinfo=UTC)  # 14:00 in Moscow
    assert share_seen_at(three, noon_day_two).share == pytest.approx(0.5)
    assert share_seen_at(three, datetime(2024, 3, 18, tzinfo=UTC)).share == 1.0


def _counted_all_day(n: int, first_half: int, second_half: int) -> DayShapes:
    """``n`` stations counted 08-14 and 14-20 in Belgrade."""
    windows = [
        CountWindow(OPENS, OPENS + timedelta(hours=6), first_half, None, ()),
        CountWindow(OPENS + timedelta(hours=6), OPENS + timedelta(hours=12), second_half, None, ()),
    ]
    return day_shapes_from_stations([(BELGRADE, windows)] * n)


def test_the_elections_own_curve_replaces_the_prior_with_enough_stations() -> None:
    midday = OPENS + timedelta(hours=6)
    morning_heavy = _counted_all_day(MIN_REFERENCE_STATIONS, 800, 200)
    seen = share_seen_at(BELGRADE, midday, morning_heavy)
    assert seen.curve == "election" and seen.reference_stations == MIN_REFERENCE_STATIONS
    assert seen.share == pytest.approx(0.8)
    assert seen.concentration > PRIOR_SHAPE_CONCENTRATION  # all alike: a narrow spread
    # a quarter of the way through the morning half: a quarter of its 80 %
    assert share_seen_at(BELGRADE, OPENS + timedelta(hours=1.5), morning_heavy).share == (
        pytest.approx(0.2)
    )
    too_few = _counted_all_day(MIN_REFERENCE_STATIONS - 1, 800, 200)
    assert share_seen_at(BELGRADE, midday, too_few).curve == "prior"
    # 600 issued and 80 waiting by 14:00 with 300 ballots left: a flat day expects 680 more
    # (warning); a day with 80 % of its people by then expects 170 more (enough)
    flat, own = share_seen_at(BELGRADE, midday), seen
    assert ballot_outlook(900, 600, 80, flat.share, concentration=flat.concentration).warning
    assert not ballot_outlook(900, 600, 80, own.share, concentration=own.concentration).warning


def test_expected_share_seen_clamps_and_rejects_nonsense() -> None:
    assert expected_share_seen(-0.5).share == 0.0
    assert expected_share_seen(1.5).share == 1.0
    with pytest.raises(InputError) as caught:
        expected_share_seen(float("nan"))
    assert caught.value.column == "fraction"
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(InputError) as caught:
            ballot_outlook(1000, 400, 20, 0.5, concentration=bad)
        assert caught.value.column == "concentration"


def test_a_lower_concentration_makes_the_warning_more_conservative() -> None:
    # half the day seen, 600 issued, 80 waiting, 400 left: some 760 expected to ask. Told the
    # election's spread the rule warns; on the prior's wider spread it wants more evidence.
    sure = ballot_outlook(1000, 600, 80, 0.5, concentration=SHAPE_CONCENTRATION)
    wary = ballot_outlook(1000, 600, 80, 0.5, concentration=PRIOR_SHAPE_CONCENTRATION)
    assert sure.probability is not None and wary.probability is not None
    assert wary.probability < sure.probability
    assert sure.warning and not wary.warning


@pytest.mark.parametrize("day", ["two peaks", "morning"])
def test_the_prior_keeps_false_alarms_within_the_documented_rate(day: str) -> None:
    """A flat prior at honest stations whose true day is two-peaked or morning-heavy (the
    prior's hard case): at most 5 % false alarms, and short stations still warned."""
    rates = simulate_ballot_alarms(
        100, concentration=40.0, seed=7, mean_day=DAY_SHAPES[day], curve="prior"
    )
    assert rates.false_alarm_rate <= 0.05, rates
    assert rates.detection_rate >= 0.9, rates


def test_the_elections_own_curve_is_calibrated_too() -> None:
    rates = simulate_ballot_alarms(
        100, concentration=40.0, seed=7, mean_day=DAY_SHAPES["morning"], curve="election",
        reference_stations=20,
    )  # fmt: skip
    assert rates.reference_stations == 20
    assert rates.false_alarm_rate <= 0.05, rates
    assert rates.detection_rate >= 0.9, rates


def test_the_tabulated_day_progress_matches_the_shapes() -> None:
    rng = np.random.default_rng(3)
    stations = []
    hours = [OPENS + timedelta(hours=h) for h in range(12)]
    for _ in range(30):
        per_hour = rng.multinomial(900, rng.dirichlet(40 * np.full(12, 1 / 12)))
        windows = [
            CountWindow(start, start + timedelta(hours=1), int(n), None, ())
            for start, n in zip(hours, per_hour, strict=True)
        ]
        stations.append((BELGRADE, windows))
    shapes = day_shapes_from_stations(stations)
    table = day_progress(shapes)
    assert table is not None and table.reference_stations == 30
    for fraction in (0.25, 0.5, 0.75):  # on the table's points: the same figures
        direct = expected_share_seen(fraction, shapes)
        looked_up = expected_share_seen(fraction, table)
        assert looked_up.share == pytest.approx(direct.share, abs=1e-9)
        assert looked_up.concentration == pytest.approx(direct.concentration, rel=1e-9)
    between = expected_share_seen(0.51, table)  # between two points: interpolated
    assert between.share == pytest.approx(expected_share_seen(0.51, shapes).share, abs=0.005)
    assert day_progress(_counted_all_day(MIN_REFERENCE_STATIONS - 1, 500, 500)) is None
