"""Calibration of the ballots warning on simulated polling days with known answers.

A warning that ballots may run out sends voters elsewhere; raised at an honest station that
had enough, it costs votes there. So before anyone sees it, the rule in
:func:`pollwatch.observe.queues.ballot_outlook` is run over simulated days:

* each station's arrivals follow its own day shape, drawn around a mean curve with a
  realistic spread (``Dirichlet(concentration × mean shares)``: some stations busy in the
  morning, others in the evening), and its total is Poisson;
* **honest-enough** stations received more ballots than people came (by 5 % to 100 %);
  **short** stations received fewer (people came 10 % to 100 % more than ballots);
* an observer checks every hour: ballots issued so far (the door count) and the queue.

What the rule is told of the day's progress (``curve``) is what is being calibrated:

* ``"mean"``: the true mean curve's share so far, with
  :data:`~pollwatch.observe.queues.SHAPE_CONCENTRATION` (the best the service could know);
* ``"prior"``: the service's prior, a flat day over the opening hours with
  :data:`~pollwatch.observe.queues.PRIOR_SHAPE_CONCENTRATION`
  (:func:`~pollwatch.observe.queues.expected_share_seen` without shapes);
* ``"election"``: the day shapes of ``reference_stations`` other stations of the same
  simulated election counted all day (built by
  :func:`~pollwatch.observe.estimates.day_shapes_from_stations` from hourly windows, as the
  service builds them), their mean share and spread; fewer than
  :data:`~pollwatch.observe.estimates.MIN_REFERENCE_STATIONS` fall back to the prior.

The true mean curve itself varies (:data:`DAY_SHAPES`: two peaks, a busy morning, a noon
rush, a busy evening), because a prior is only honest if it holds on days it did not expect.
:func:`simulate_ballot_alarms` returns how often the warning fired at enough-stations (the
false-alarm rate the press may see), how often it fired at short stations before the last
ballot was issued, and how many hours ahead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from pollwatch.errors import InputError
from pollwatch.observe.estimates import OpeningHours, day_shapes_from_stations
from pollwatch.observe.master import CountWindow
from pollwatch.observe.queues import (
    SHAPE_CONCENTRATION,
    ShareSeen,
    ballot_outlook,
    expected_share_seen,
)

__all__ = [
    "CURVES",
    "DAY_SHAPES",
    "EVENING_DAY",
    "MEAN_DAY",
    "MORNING_DAY",
    "NOON_DAY",
    "AlarmRates",
    "simulate_ballot_alarms",
]

MEAN_DAY: tuple[float, ...] = (
    0.05, 0.08, 0.10, 0.10, 0.09, 0.08, 0.07, 0.07, 0.08, 0.10, 0.10, 0.08,
)  # fmt: skip
"""Mean share of a 12-hour day's arrivals per hour (08-20): a morning and an evening peak."""

MORNING_DAY: tuple[float, ...] = (
    0.14, 0.14, 0.12, 0.10, 0.08, 0.07, 0.06, 0.06, 0.06, 0.06, 0.06, 0.05,
)  # fmt: skip
"""A busy morning: half the day's people by noon (a flat prior then underestimates the share
seen, so overestimates the people still to come: the hard case for false alarms)."""

NOON_DAY: tuple[float, ...] = (
    0.05, 0.06, 0.07, 0.08, 0.20, 0.12, 0.08, 0.07, 0.07, 0.07, 0.07, 0.06,
)  # fmt: skip
"""A noon rush (a fifth of the day between 12 and 13, as at the Russian consulates on
17 March 2024)."""

EVENING_DAY: tuple[float, ...] = (
    0.04, 0.05, 0.06, 0.07, 0.07, 0.08, 0.08, 0.09, 0.10, 0.11, 0.13, 0.12,
)  # fmt: skip
"""A busy evening (a flat prior overestimates the share seen: the hard case for detection)."""

DAY_SHAPES: Mapping[str, tuple[float, ...]] = {
    "two peaks": MEAN_DAY,
    "morning": MORNING_DAY,
    "noon rush": NOON_DAY,
    "evening": EVENING_DAY,
}
"""The true mean curves the calibration runs over."""

CURVES = ("mean", "prior", "election")
"""What the rule is told of the day's progress (see the module's docstring)."""

_OPENS = datetime(2024, 3, 17, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class AlarmRates:
    """What the simulation found (fractions of stations; hours as medians)."""

    stations: int
    false_alarm_rate: float
    false_alarm_rate_tight: float
    detection_rate: float
    median_lead_hours: float | None
    concentration: float
    curve: str = "mean"
    reference_stations: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _one_day(
    rng: np.random.Generator,
    total: int,
    received: int,
    shape: np.ndarray,
    queue_share: float,
    seen: Sequence[ShareSeen],
) -> tuple[bool, int | None, int | None]:
    """(warned before running out, hour of the first warning, hour ballots ran out)."""
    per_hour = rng.multinomial(total, shape)
    arrived = 0
    first_warning = None
    ran_out = None
    for hour, progress in enumerate(seen):
        arrived += int(per_hour[hour])
        queue = round(queue_share * int(per_hour[hour]))
        issued = min(arrived - queue, received)
        if ran_out is None and arrived > received:
            ran_out = hour
        outlook = ballot_outlook(
            received,
            max(issued, 0),
            queue,
            progress.share,
            seed=hour,
            concentration=progress.concentration,
        )
        if first_warning is None and outlook.warning:
            first_warning = hour
    warned_before = first_warning is not None and (ran_out is None or first_warning <= ran_out)
    return warned_before, first_warning, ran_out


def _reference_shapes(
    mean: np.ndarray, concentration: float, stations: int, seed: int
) -> list[tuple[OpeningHours, list[CountWindow]]]:
    """Other stations of the same election counted all day, hour by hour."""
    rng = np.random.default_rng([seed, 1])  # its own stream: the stations' draws stay alike
    hours = len(mean)
    opening = OpeningHours(_OPENS, _OPENS + timedelta(hours=hours))
    out = []
    for _ in range(stations):
        per_hour = rng.multinomial(
            int(rng.integers(300, 2500)), rng.dirichlet(concentration * mean)
        )
        windows = [
            CountWindow(
                _OPENS + timedelta(hours=h), _OPENS + timedelta(hours=h + 1), int(n), None, ()
            )
            for h, n in enumerate(per_hour)
        ]
        out.append((opening, windows))
    return out


def _progress(
    mean: np.ndarray, curve: str, concentration: float, reference_stations: int, seed: int
) -> list[ShareSeen]:
    """What the rule is told at the end of each hour."""
    hours = len(mean)
    if curve == "mean":
        cumulative = np.cumsum(mean)
        return [ShareSeen(min(float(c), 1.0), SHAPE_CONCENTRATION, "mean") for c in cumulative]
    shapes = None
    if curve == "election":
        shapes = day_shapes_from_stations(
            _reference_shapes(mean, concentration, reference_stations, seed)
        )
    return [expected_share_seen((h + 1) / hours, shapes) for h in range(hours)]


def simulate_ballot_alarms(
    stations: int = 400,
    *,
    concentration: float = 60.0,
    seed: int = 0,
    mean_day: Sequence[float] = MEAN_DAY,
    curve: str = "mean",
    reference_stations: int = 0,
) -> AlarmRates:
    """Run ``stations`` enough- and ``stations`` short-stations through a polling day.

    ``mean_day``: the true mean share per hour; ``curve``: what the rule is told
    (:data:`CURVES`); ``reference_stations``: fully counted stations behind the
    ``"election"`` curve. The same ``seed`` draws the same stations whatever the curve, so
    rows of a table differ by the rule only.
    """
    if curve not in CURVES:
        raise InputError(
            f"'curve' must be one of {', '.join(CURVES)}; got {curve!r}", column="curve"
        )
    rng = np.random.default_rng(seed)
    mean = np.asarray(mean_day, dtype=float)
    mean = mean / mean.sum()
    seen = _progress(mean, curve, concentration, reference_stations, seed)
    false_alarms = tight_alarms = tight = detected = 0
    leads: list[int] = []
    for _ in range(stations):
        total = int(rng.integers(300, 2500))
        shape = rng.dirichlet(concentration * mean)
        queue_share = float(rng.uniform(0.0, 0.5))
        # enough: 5 % to 100 % more ballots than people came
        margin = float(rng.uniform(1.05, 2.0))
        warned, first, _ = _one_day(rng, total, int(total * margin), shape, queue_share, seen)
        false_alarms += first is not None
        if margin < 1.15:
            tight += 1
            tight_alarms += first is not None
        # short: people come 10 % to 100 % more than ballots
        received = int(total / float(rng.uniform(1.1, 2.0)))
        warned, first, ran_out = _one_day(rng, total, received, shape, queue_share, seen)
        if warned:
            detected += 1
            if first is not None and ran_out is not None:
                leads.append(ran_out - first)
    return AlarmRates(
        stations=stations,
        false_alarm_rate=false_alarms / stations,
        false_alarm_rate_tight=tight_alarms / tight if tight else 0.0,
        detection_rate=detected / stations,
        median_lead_hours=float(np.median(leads)) if leads else None,
        concentration=concentration,
        curve=curve,
        reference_stations=reference_stations if curve == "election" else 0,
    )
