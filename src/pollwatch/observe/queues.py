"""How long the queue is, and whether the ballots will last: the two questions voters ask.

Both answers come from what observers count at the door (people who entered in a window, the
queue outside) and what the registry says (ballots the station received). They are public
alarms — a crowd decides whether to travel on them — so each is an interval or a
probability, never a bare number, and the ballot warning is calibrated on honest simulated
stations (``tests/observe/test_queues.py``; ``bench/queues.py`` prints the tables).

**Wait** (Little's law, L = λW): a person joining a queue of ``L`` people waits about
``L / λ``, where λ is the rate at which people are let in, counted at the door over a
recent window. The count is Poisson, so λ has an exact (Garwood) interval, and the wait's
interval is ``L`` divided by the ends of it. Why the recent window and not the day's
average: the door's pace changes over the day (staff, breaks, a second room opened).
Limits: Little's law holds for a queue in a steady state; after a sudden surge the first
minutes underestimate, which the interval does not cover. A window in which nobody entered
gives no upper bound ("more than …").

**Ballots** may run out when the ballots left (received minus issued so far) are fewer than
the people who will still ask for one: the queue now plus the arrivals expected before
closing. Expected arrivals come from the day curve (:class:`pollwatch.observe.estimates.DayCurve`):
if a share ``F`` of the day's arrivals has come, the rest is ``issued × (1 − F) / F``. The
alarm fires when that demand exceeds the ballots left with probability at least
:data:`SHORTAGE_PROBABILITY`, the uncertainty being Poisson arrivals *and* the spread of
stations' day shapes around the mean curve (a station's share so far is taken as
Beta-distributed around ``F`` with :data:`SHAPE_CONCENTRATION`, fitted to the spread of
shapes in the simulation). Early in the day (less than :data:`MIN_SHARE_SEEN` of the arrivals
seen) there is too little to go on: no alarm, only "not enough data yet".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from pollwatch.errors import InputError

__all__ = [
    "MIN_SHARE_SEEN",
    "SHAPE_CONCENTRATION",
    "SHORTAGE_PROBABILITY",
    "BallotOutlook",
    "WaitEstimate",
    "ballot_outlook",
    "estimate_wait",
]

SHORTAGE_PROBABILITY = 0.9
"""The ballots warning fires when demand exceeds the ballots left with at least this
probability: a warning sends people elsewhere, so it must not fire on a hunch."""

MIN_SHARE_SEEN = 0.2
"""No ballots warning before this share of the day's expected arrivals has been seen."""

SHAPE_CONCENTRATION = 40.0
"""Concentration κ of the Beta(κF, κ(1−F)) spread of a station's arrival share so far around
the mean curve's F: κ = 40 gives a standard deviation of about 0.08 at F = 0.5, the spread
of the simulated stations' shapes (morning- and evening-heavy days)."""

_DRAWS = 4000


@dataclass(frozen=True)
class WaitEstimate:
    """The estimated wait for someone joining the queue now, in minutes, with its interval.

    ``high`` is None when nobody entered in the window (no upper bound can be given).
    """

    queue: int
    entered: int
    window_minutes: float
    minutes: float | None
    low: float
    high: float | None
    level: float

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _check_count(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{name!r} must be a whole number ≥ 0; got {value!r}", column=name)


def estimate_wait(
    queue: int, entered: int, window_minutes: float, *, level: float = 0.8
) -> WaitEstimate:
    """Little's law: the queue over the rate counted at the door, with an exact interval.

    >>> w = estimate_wait(30, 60, 60)   # 30 waiting, 60 let in during the last hour
    >>> round(w.minutes), round(w.low), round(w.high)
    (30, 26, 36)
    """
    _check_count(queue, "queue")
    _check_count(entered, "entered")
    if not (math.isfinite(window_minutes) and window_minutes > 0):
        raise InputError("'window_minutes' must be a positive number", column="window_minutes")
    if not 0 < level < 1:
        raise InputError("'level' must be between 0 and 1", column="level")
    if queue == 0:
        return WaitEstimate(queue, entered, window_minutes, 0.0, 0.0, 0.0, level)
    alpha = 1 - level
    rate_high = stats.chi2.ppf(1 - alpha / 2, 2 * entered + 2) / 2 / window_minutes
    low = queue / rate_high
    if entered == 0:
        return WaitEstimate(queue, entered, window_minutes, None, float(low), None, level)
    rate_low = stats.chi2.ppf(alpha / 2, 2 * entered) / 2 / window_minutes
    rate = entered / window_minutes
    return WaitEstimate(
        queue, entered, window_minutes, queue / rate, float(low), float(queue / rate_low), level
    )


@dataclass(frozen=True)
class BallotOutlook:
    """Whether the ballots left will last until closing.

    ``status``: ``"enough"``, ``"may_run_out"`` (the warning), ``"out"`` (none left), or
    ``"too_early"`` (less than :data:`MIN_SHARE_SEEN` of the day seen) / ``"unknown"`` (no
    registry figure). ``probability`` is the chance that demand exceeds the ballots left.
    """

    status: str
    ballots_left: int | None
    expected_demand: float | None
    probability: float | None

    @property
    def warning(self) -> bool:
        return self.status in ("may_run_out", "out")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "warning": self.warning,
            "ballots_left": self.ballots_left,
            "expected_demand": self.expected_demand,
            "probability": self.probability,
        }


def ballot_outlook(
    received: int | None,
    issued: int,
    queue: int,
    share_seen: float,
    *,
    seed: int = 0,
) -> BallotOutlook:
    """Will the ballots last? ``share_seen``: the day curve's share of arrivals so far.

    ``issued`` are ballots issued so far (door count or the station's own figure), ``queue``
    the people waiting now. Randomness (the Monte Carlo of arrivals and day shapes) comes
    from ``seed`` only, so the same figures give the same answer.
    """
    _check_count(issued, "issued")
    _check_count(queue, "queue")
    if not (math.isfinite(share_seen) and 0 <= share_seen <= 1):
        raise InputError("'share_seen' must be between 0 and 1", column="share_seen")
    if received is None:
        return BallotOutlook("unknown", None, None, None)
    _check_count(received, "received")
    left = received - issued
    if left <= 0:
        return BallotOutlook("out", 0, None, 1.0)
    if share_seen >= 1:
        return BallotOutlook("enough" if queue <= left else "may_run_out", left, float(queue), None)
    if share_seen < MIN_SHARE_SEEN or issued == 0:
        return BallotOutlook("too_early", left, None, None)
    rng = np.random.default_rng(seed)
    f = rng.beta(SHAPE_CONCENTRATION * share_seen, SHAPE_CONCENTRATION * (1 - share_seen), _DRAWS)
    f = np.clip(f, 1e-3, 1 - 1e-6)
    # Arrivals still to come: the day's total implied by what came, less what came; Poisson.
    mean_rest = (issued + queue) * (1 - f) / f
    demand = queue + rng.poisson(mean_rest)
    probability = float(np.mean(demand > left))
    expected = float(queue + (issued + queue) * (1 - share_seen) / share_seen)
    status = "may_run_out" if probability >= SHORTAGE_PROBABILITY else "enough"
    return BallotOutlook(status, left, expected, probability)
