"""The wait and the ballots warning: worked examples, coverage, and calibration on honest days."""

from __future__ import annotations

import numpy as np
import pytest

from pollwatch.errors import InputError
from pollwatch.observe.queues import MIN_SHARE_SEEN, ballot_outlook, estimate_wait
from pollwatch.observe.simulate_queues import simulate_ballot_alarms


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
