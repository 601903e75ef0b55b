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

**Share seen** (:func:`share_seen_at`): time runs over the station's open hours (its schedule:
time zone, hours per voting day, closed nights skipped), as a fraction of them. The share of
the day's arrivals by then comes from the day shapes of this election's stations counted all
day (:class:`pollwatch.observe.estimates.DayShapes`: stations in earlier time zones, or
earlier voting days) when there are :data:`~pollwatch.observe.estimates.MIN_REFERENCE_STATIONS`
of them — their mean share, and their spread as the concentration — and otherwise from a
documented prior: a flat day over the opening hours with the lower concentration
:data:`PRIOR_SHAPE_CONCENTRATION`, because a flat day is wrong at busy mornings or a noon
rush and the warning must stay calibrated even then (``bench/queues.py`` prints the table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from scipy import stats

from pollwatch.errors import InputError
from pollwatch.observe.estimates import MIN_REFERENCE_STATIONS, DayShapes
from pollwatch.observe.schedule import StationSchedule

__all__ = [
    "MIN_SHARE_SEEN",
    "PRIOR_SHAPE_CONCENTRATION",
    "SHAPE_CONCENTRATION",
    "SHORTAGE_PROBABILITY",
    "BallotOutlook",
    "DayProgress",
    "ShareSeen",
    "WaitEstimate",
    "ballot_outlook",
    "day_progress",
    "estimate_wait",
    "expected_share_seen",
    "share_seen_at",
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

PRIOR_SHAPE_CONCENTRATION = 8.0
"""Concentration κ of the ballots warning when the share seen is the prior's (a flat day over
the opening hours): lower than :data:`SHAPE_CONCENTRATION`, so that the warning, which fires
only when demand exceeds the ballots left with probability :data:`SHORTAGE_PROBABILITY`,
needs more evidence. Chosen so that false alarms stay at or below 5 % at honest stations
whose true day is two-peaked, morning-heavy, has a noon rush or a busy evening, at the
assumed spread of day shapes (``bench/queues.py``, 1,000 stations a row: 3.3 % on a
morning-heavy day, the flat prior's hard case; with κ = 10 it was 4.9 %, with 40 about 18 %).
The price is later warnings: 1 to 3 hours ahead of the last ballot instead of 3 to 4."""

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
    (30, 25, 36)
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
    concentration: float = SHAPE_CONCENTRATION,
) -> BallotOutlook:
    """Will the ballots last? ``share_seen``: the day curve's share of arrivals so far.

    ``issued`` are ballots issued so far (door count or the station's own figure), ``queue``
    the people waiting now, ``concentration`` the κ of the station's share around
    ``share_seen`` (:class:`ShareSeen` gives both). Randomness (the Monte Carlo of arrivals
    and day shapes) comes from ``seed`` only, so the same figures give the same answer.
    """
    _check_count(issued, "issued")
    _check_count(queue, "queue")
    if not (math.isfinite(share_seen) and 0 <= share_seen <= 1):
        raise InputError("'share_seen' must be between 0 and 1", column="share_seen")
    if not (math.isfinite(concentration) and concentration > 0):
        raise InputError("'concentration' must be a positive number", column="concentration")
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
    f = rng.beta(concentration * share_seen, concentration * (1 - share_seen), _DRAWS)
    f = np.clip(f, 1e-3, 1 - 1e-6)
    # Arrivals still to come: the day's total implied by what came, less what came; Poisson.
    mean_rest = (issued + queue) * (1 - f) / f
    demand = queue + rng.poisson(mean_rest)
    probability = float(np.mean(demand > left))
    expected = float(queue + (issued + queue) * (1 - share_seen) / share_seen)
    status = "may_run_out" if probability >= SHORTAGE_PROBABILITY else "enough"
    return BallotOutlook(status, left, expected, probability)


@dataclass(frozen=True)
class ShareSeen:
    """The share of a station's day's arrivals expected by a moment, with how sure it is.

    ``share``: the day curve's share so far (0 before opening, 1 after closing);
    ``concentration``: κ of the Beta spread of one station's share around it, for
    :func:`ballot_outlook`; ``curve``: ``"election"`` (the day shapes of this election's
    fully counted stations, ``reference_stations`` of them) or ``"prior"`` (a flat day).
    """

    share: float
    concentration: float
    curve: str
    reference_stations: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class DayProgress:
    """An election's day curve as the ballots warning reads it, tabulated once.

    ``shares[i]`` and ``concentrations[i]`` are
    :meth:`~pollwatch.observe.estimates.DayShapes.share_model` over ``[0, fractions[i]]``;
    between two points both are interpolated linearly. Built by :func:`day_progress` once
    per release time, so that each station's status costs a lookup, not a pass over every
    reference station's shape.
    """

    fractions: tuple[float, ...]
    shares: tuple[float, ...]
    concentrations: tuple[float, ...]
    reference_stations: int

    def at(self, fraction: float) -> ShareSeen:
        """The share seen by ``fraction`` (in (0, 1)) of the open hours."""
        share = float(np.interp(fraction, self.fractions, self.shares))
        kappa = float(np.interp(fraction, self.fractions, self.concentrations))
        return ShareSeen(share, kappa, "election", self.reference_stations)


def day_progress(shapes: DayShapes, *, points: int = 49) -> DayProgress | None:
    """:class:`DayProgress` of ``shapes`` at ``points`` evenly spaced fractions of the open
    hours (49: every quarter of an hour of a 12-hour day), or None with fewer than
    :data:`MIN_REFERENCE_STATIONS` fully counted stations (the prior applies)."""
    if len(shapes.profiles) < MIN_REFERENCE_STATIONS:
        return None
    fractions = np.linspace(0.0, 1.0, points)[1:-1]
    models = [shapes.share_model([(0.0, float(x))]) for x in fractions]
    return DayProgress(
        (0.0, *(float(x) for x in fractions), 1.0),
        (0.0, *(float(m) for m, _, _ in models), 1.0),
        (models[0][1], *(float(k) for _, k, _ in models), models[-1][1]),
        len(shapes.profiles),
    )


def expected_share_seen(
    fraction: float, shapes: DayShapes | DayProgress | None = None
) -> ShareSeen:
    """The share of the day's arrivals by ``fraction`` of the open hours.

    From ``shapes`` when they hold at least :data:`MIN_REFERENCE_STATIONS` fully counted
    stations (their mean share over ``[0, fraction]`` and the concentration of their spread,
    :meth:`~pollwatch.observe.estimates.DayShapes.share_model`; or its tabulation,
    :class:`DayProgress`), else the prior: a flat day, ``share = fraction``, with
    :data:`PRIOR_SHAPE_CONCENTRATION`.

    >>> expected_share_seen(0.25)
    ShareSeen(share=0.25, concentration=8.0, curve='prior', reference_stations=0)
    """
    if not math.isfinite(fraction):
        raise InputError("'fraction' must be a number between 0 and 1", column="fraction")
    fraction = min(max(fraction, 0.0), 1.0)
    if isinstance(shapes, DayShapes) and len(shapes.profiles) < MIN_REFERENCE_STATIONS:
        shapes = None
    if shapes is None:
        return ShareSeen(fraction, PRIOR_SHAPE_CONCENTRATION, "prior", 0)
    n = shapes.reference_stations if isinstance(shapes, DayProgress) else len(shapes.profiles)
    if fraction <= 0.0 or fraction >= 1.0:
        return ShareSeen(fraction, SHAPE_CONCENTRATION, "election", n)
    if isinstance(shapes, DayProgress):
        return shapes.at(fraction)
    share, kappa, used = shapes.share_model([(0.0, fraction)])
    return ShareSeen(float(share), float(kappa), "election", used)


def share_seen_at(
    schedule: StationSchedule, moment: datetime, shapes: DayShapes | DayProgress | None = None
) -> ShareSeen:
    """The share of the station's arrivals expected by ``moment`` (timezone-aware).

    Time is the station's open hours elapsed (:meth:`StationSchedule.open_hours_at`: its own
    time zone, closed nights between voting days skipped) over all its open hours; the
    curve is :func:`expected_share_seen`'s.

    >>> from datetime import UTC
    >>> from pollwatch.observe.schedule import parse_schedule
    >>> belgrade = parse_schedule("2024-03-17 08:00-20:00", "Europe/Belgrade")
    >>> share_seen_at(belgrade, datetime(2024, 3, 17, 13, 0, tzinfo=UTC)).share  # 14:00 there
    0.5
    """
    fraction = schedule.open_hours_at(moment) / schedule.hours
    return expected_share_seen(fraction, shapes)
