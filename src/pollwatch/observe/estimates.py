"""Independent turnout per station from door counts, and its comparison with the official result.

Observers count the people who enter a polling station window by window. Where the windows
cover the station's opening hours the count is the independent turnout; otherwise the
uncounted hours are extrapolated. Two rules keep this from accusing honest stations:

* **Opening hours come from the station's schedule** (:mod:`pollwatch.observe.schedule`:
  time zone and hours per voting day, or the election's default flagged as assumed), never
  from when observers counted.
* **The interval is calibrated on stations counted all day** (:class:`DayShapes`). Time is
  measured as the fraction of the station's open hours (multi-day voting is one axis over
  all its open hours). For the hours a station was counted, each fully covered station of
  the same election gives the share ``p_j`` of its day's arrivals that fell in those hours.
  Their mean ``m`` is the day curve's share of the counted hours; their spread, less the
  binomial noise of their own sizes, is the station-to-station spread of the day's shape
  (which also carries group arrivals and what observers miss). A station's count ``N``
  of a day total ``T`` is then beta-binomial, ``N ~ BetaBinomial(T, κm, κ(1−m))``, with ``κ``
  from that spread (a 90 % upper bound on it, so a handful of reference stations widens the
  interval) and a counting error of :data:`COUNTING_ERROR` added. The interval for ``T``
  is the set of totals this distribution does not reject at the chosen level; an official
  figure is tested directly, each direction at half the level: "more ballots than the door
  count explains" and "fewer".
* **No flag below** :data:`MIN_COVERED_SHARE` of the day's expected arrivals; with fewer
  than :data:`MIN_REFERENCE_STATIONS` fully covered stations a documented prior is used
  (a flat day and a concentration of :data:`PRIOR_CONCENTRATION`, wide on purpose).

Simulated honest elections (``bench/observe_stats.py``, tables in ``docs/observe.md``)
check that an honest station is flagged at most 5 % of the time whatever hours were counted.

:func:`compare_with_official` holds the estimate against the official ballots issued in the
premises (more ballots issued than people who came in is the signature of ballot stuffing;
carousel voters walk in and are counted, so a door count does not see them), and the
observer's protocol copy against the published result line by line (a published figure
different from the protocol signed at the station is falsification at a higher commission).
Ballots issued outside the premises and early are not compared with the door count (they
are held against their own registers: :mod:`pollwatch.observe.registers`).

References
----------
Cox & Lewis, *The Statistical Analysis of Series of Events* (1966), Poisson-process rate
estimation; Skellam, "A probability distribution derived from the binomial distribution by
regarding the probability of success as variable", JRSS B 10 (1948) (beta-binomial);
Kobak, Shpilkin & Pshenichnikov, "Integer percentages as electoral falsification
fingerprints", Ann. Appl. Stat. 10(1), 2016 (why issued ballots are the turnout numerator);
Golos, "Observers' turnout counts vs official turnout" methodology notes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pollwatch.errors import InputError
from pollwatch.observe.master import VOTES_PREFIX, CountWindow, MasterRecord
from pollwatch.observe.reports import FIGURE_FIELDS, CountReport
from pollwatch.observe.schedule import StationSchedule, open_hours_at

__all__ = [
    "COUNTING_ERROR",
    "MIN_COVERED_SHARE",
    "MIN_REFERENCE_STATIONS",
    "PRIOR_CONCENTRATION",
    "Comparison",
    "DayCurve",
    "DayShapes",
    "LineComparison",
    "OpeningHours",
    "Tolerance",
    "TurnoutComparison",
    "TurnoutEstimate",
    "benjamini_hochberg",
    "compare_with_official",
    "day_curve_from_windows",
    "day_shapes_from_stations",
    "discrepancy_baseline",
    "door_count_comparison",
    "door_count_p_values",
    "turnout_estimate",
]


@dataclass(frozen=True)
class OpeningHours:
    """When a station was open (timezone-aware)."""

    opens: datetime
    closes: datetime

    def __post_init__(self) -> None:
        if self.opens.tzinfo is None or self.closes.tzinfo is None:
            raise InputError("opening hours must be timezone-aware", column="opening_hours")
        if self.closes <= self.opens:
            raise InputError("a station must close after it opens", column="opening_hours")

    @property
    def hours(self) -> float:
        """Length of the polling day in hours."""
        return (self.closes - self.opens).total_seconds() / 3600.0


@dataclass(frozen=True)
class DayCurve:
    """The average shape of a polling day: share of a station's arrivals per time bin.

    ``edges`` are hours since opening (``edges[0] == 0``), ``shares`` the mean share of the
    day's arrivals in each bin (summing to 1); arrivals are spread evenly within a bin.
    ``n_stations`` is how many fully covered stations it was built from.
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]
    n_stations: int

    def __post_init__(self) -> None:
        if len(self.edges) != len(self.shares) + 1 or not self.shares:
            raise InputError("a day curve needs one more edge than shares", column="day_curve")
        if any(b <= a for a, b in itertools.pairwise(self.edges)):
            raise InputError("day-curve edges must increase", column="day_curve")
        if any(s < 0 or not math.isfinite(s) for s in self.shares):
            raise InputError("day-curve shares must be finite and ≥ 0", column="day_curve")
        if not math.isclose(sum(self.shares), 1.0, rel_tol=1e-6):
            raise InputError("day-curve shares must add up to 1", column="day_curve")

    def share(self, start_hours: float, end_hours: float) -> float:
        """Expected share of the day's arrivals between two times (hours since opening)."""
        total = 0.0
        for a, b, s in zip(self.edges, self.edges[1:], self.shares, strict=False):
            overlap = min(b, end_hours) - max(a, start_hours)
            if overlap > 0:
                total += s * overlap / (b - a)
        return total


MIN_COVERED_SHARE = 0.2
"""Least share of a day's expected arrivals a count must cover before it can flag a station.

Below a fifth, the uncounted day is so much larger than the counted part that only absurd
official figures would fall outside the interval, and a flag would mostly reflect how the
day's shape varies between stations."""

MIN_REFERENCE_STATIONS = 8
"""Fully covered stations needed to estimate the day curve and its spread from the election
itself; with fewer, the prior (:data:`PRIOR_CONCENTRATION`, a flat day) is used."""

PRIOR_CONCENTRATION = 12.0
"""Beta concentration ``κ`` of the prior: a window holding a third of the day's hours holds
between about 10 % and 60 % of its voters (95 %). Wide on purpose: without stations counted
all day the service knows little about the day's shape, and says so by flagging little."""

COUNTING_ERROR = 0.02
"""Relative standard deviation of a careful observer's count (people missed or counted twice,
staff and observers walking in); added to the interval of every count, complete ones too."""

SHAPE_BINS = 96
"""Bins of the fraction of open time over which day shapes are kept (a quarter of an hour
over a 24-hour multi-day axis, ten minutes over a 14-hour day)."""


@dataclass(frozen=True)
class TurnoutEstimate:
    """Independent turnout of one station.

    Attributes
    ----------
    method:
        ``"complete"`` (windows cover the opening hours), ``"reference"`` (extrapolated with
        the day shapes of this election's fully covered stations), ``"prior"`` (too few of
        those: the wide prior), or ``"none"`` (nothing to estimate).
    counted:
        People counted in the windows (``N``): what the observers saw.
    covered_hours, uncovered_hours:
        Opening hours with and without a count window.
    covered_share:
        Expected share of the day's arrivals in the counted hours (``m``).
    extrapolated:
        Estimated arrivals in the uncovered hours (``N/m − N``).
    total, low, high:
        Estimated arrivals over the day and its ``level`` interval (None for ``"none"``).
    concentration:
        ``κ`` of the beta-binomial model (counting error included).
    reference_stations:
        Fully covered stations the day shape came from (0 for the prior).
    schedule_assumed:
        True when the opening hours are the election's default, not the station's own.
    """

    method: str
    counted: int
    covered_hours: float
    uncovered_hours: float
    covered_share: float
    extrapolated: float
    total: float | None
    low: float | None
    high: float | None
    level: float
    registered: int | None
    turnout: float | None
    turnout_low: float | None
    turnout_high: float | None
    issued_counted: int | None
    concentration: float | None = None
    reference_stations: int = 0
    schedule_assumed: bool = False
    note: str = ""

    @property
    def testable(self) -> bool:
        """Whether the count covers enough of the day to flag an official figure."""
        return self.total is not None and self.covered_share >= MIN_COVERED_SHARE

    def p_values(self, official: int) -> tuple[float, float]:
        """``(p_above, p_below)``: how surprising an official total this high, or this low,
        is given the count (one-sided; :func:`door_count_p_values`)."""
        return door_count_p_values(self, official)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


Periods = Sequence[tuple[datetime, datetime]]


def _periods(opening: StationSchedule | OpeningHours | tuple[datetime, datetime]) -> Periods:
    if isinstance(opening, StationSchedule):
        return opening.periods()
    hours = opening if isinstance(opening, OpeningHours) else OpeningHours(*opening)
    return ((hours.opens, hours.closes),)


def _window_bounds(window: CountWindow | CountReport) -> tuple[datetime, datetime]:
    if isinstance(window, CountReport):
        return window.window_start, window.window_end
    return window.start, window.end


def _fraction_spans(
    windows: Sequence[CountWindow | CountReport], periods: Periods
) -> tuple[list[tuple[float, float, int, int | None]], float]:
    """Windows as fractions of open time ``[a, b]`` (closed hours dropped), and the total
    open hours. Counts outside opening hours stay counted (people queueing at closing)."""
    total = sum((b - a).total_seconds() for a, b in periods) / 3600.0
    spans = []
    for w in windows:
        start, end = _window_bounds(w)
        spans.append(
            (
                open_hours_at(periods, start) / total,
                open_hours_at(periods, end) / total,
                w.entered,
                w.ballots_issued,
            )
        )
    spans.sort()
    raw = sorted(_window_bounds(w) for w in windows)
    for (_, end), (start, _) in itertools.pairwise(raw):
        if start < end:
            raise InputError(
                "count windows overlap; merge the station's reports first "
                "(merge_station_reports) so that each person is counted once",
                column="windows",
            )
    return spans, total


@dataclass(frozen=True)
class DayShapes:
    """The day shapes of stations counted all day: shares of arrivals per fraction of open time.

    Built by :func:`day_shapes_from_stations`; ``profiles[j][k]`` is station ``j``'s share of
    its day's arrivals in bin ``k`` of :data:`SHAPE_BINS` equal bins of its open time, and
    ``totals[j]`` its count.
    """

    profiles: tuple[tuple[float, ...], ...]
    totals: tuple[int, ...]

    def share_model(self, spans: Sequence[tuple[float, float]]) -> tuple[float, float, int]:
        """``(m, κ, n)`` for a count over ``spans`` (fractions of open time).

        ``m``: mean share of the references' arrivals in those spans; ``κ``: beta
        concentration from their spread less their own binomial noise, from a 90 % upper
        bound on that spread; ``n``: reference stations used (0: the prior).
        """
        if len(self.profiles) < MIN_REFERENCE_STATIONS:
            covered = sum(max(0.0, min(b, 1.0) - max(a, 0.0)) for a, b in spans)
            return min(covered, 1.0), PRIOR_CONCENTRATION, 0
        weights = _span_weights(spans)
        shares = np.asarray(self.profiles) @ weights
        totals = np.asarray(self.totals, dtype=float)
        m = float(np.clip(shares.mean(), 1e-6, 1 - 1e-6))
        k = len(shares)
        noise = float(np.mean(shares * (1 - shares) / totals))
        between = max(float(np.var(shares, ddof=1)) - noise, 0.0)
        upper = between * (k - 1) / float(stats.chi2.ppf(0.10, k - 1))
        floor = m * (1 - m) / 2000.0  # κ at most ~2000: no day is exactly average
        kappa = m * (1 - m) / max(upper, floor) - 1.0
        return m, max(kappa, 1.0), k


def _span_weights(spans: Sequence[tuple[float, float]]) -> np.ndarray:
    """How much of each shape bin the spans cover (0…1 per bin)."""
    edges = np.linspace(0.0, 1.0, SHAPE_BINS + 1)
    weights = np.zeros(SHAPE_BINS)
    for a, b in spans:
        lo, hi = max(a, 0.0), min(b, 1.0)
        if hi <= lo:
            continue
        weights += np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, None) * (
            SHAPE_BINS
        )
    return np.clip(weights, 0.0, 1.0)


def day_shapes_from_stations(
    stations: Sequence[
        tuple[StationSchedule | OpeningHours | tuple[datetime, datetime], Sequence[Any]]
    ],
) -> DayShapes:
    """Day shapes of the stations whose windows cover all their opening hours.

    Each station's arrivals are spread evenly within each window over the fraction of its
    open time; stations not fully covered, or with no arrivals, are skipped (a station
    counted in the morning only tells nothing about the evening).
    """
    profiles: list[tuple[float, ...]] = []
    totals: list[int] = []
    for opening, windows in stations:
        if not windows:
            continue
        spans, _ = _fraction_spans(windows, _periods(opening))
        covered = _span_weights([(a, b) for a, b, _, _ in spans])
        total = sum(n for _, _, n, _ in spans)
        if covered.min() < 1 - 1e-6 or total <= 0:
            continue
        profile = np.zeros(SHAPE_BINS)
        for a, b, entered, _ in spans:
            if b > a:
                profile += _span_weights([(a, b)]) * entered / ((b - a) * SHAPE_BINS)
        mass = profile.sum()
        if mass > 0:
            profiles.append(tuple(float(x) for x in profile / mass))
            totals.append(total)
    return DayShapes(tuple(profiles), tuple(totals))


def _with_counting_error(m: float, kappa: float) -> float:
    """``κ`` once the counting error's variance is added to the share's."""
    variance = m * (1 - m) / (kappa + 1) + (COUNTING_ERROR * m) ** 2
    return max(m * (1 - m) / variance - 1.0, 1.0)


def door_count_p_values(estimate: TurnoutEstimate, official: int) -> tuple[float, float]:
    """One-sided p-values of an official day total against the door count.

    ``p_above``: the chance of counting this few people if ``official`` had come (small when
    the official figure is too high — stuffing); ``p_below``: of counting this many (small
    when it is too low). Complete counts use the counting error alone (normal).
    """
    n = estimate.counted
    if estimate.method == "complete":
        sd = COUNTING_ERROR * max(official, 1) + 1.0
        z = (n - official) / sd
        return float(stats.norm.cdf(z)), float(stats.norm.sf(z))
    if estimate.concentration is None or official <= 0:
        return 1.0, 1.0
    m, kappa = estimate.covered_share, estimate.concentration
    a, b = kappa * m, kappa * (1 - m)
    return (
        float(stats.betabinom.cdf(n, int(official), a, b)),
        float(stats.betabinom.sf(n - 1, int(official), a, b)),
    )


def turnout_estimate(
    count_reports: Sequence[CountWindow | CountReport],
    *,
    registered: int | None,
    opening_hours: StationSchedule | OpeningHours | tuple[datetime, datetime],
    shapes: DayShapes | None = None,
    level: float = 0.95,
) -> TurnoutEstimate:
    """Estimate a station's turnout from its count windows.

    Parameters
    ----------
    count_reports:
        Non-overlapping count windows (``MasterRecord.windows``, which leaves conflicts out)
        or count reports.
    registered:
        Registered voters (official or from the station registry), for turnout as a share.
    opening_hours:
        The station's schedule (:class:`~pollwatch.observe.schedule.StationSchedule`) or
        one day's opening hours. Never the span of the windows.
    shapes:
        Day shapes of the election's fully covered stations (:func:`day_shapes_from_stations`);
        without them (or with too few) the prior is used.
    level:
        Coverage of the interval (0.95 by default).

    Returns
    -------
    TurnoutEstimate
        See the module docstring for the model.
    """
    if not 0 < level < 1:
        raise InputError(f"'level' must be between 0 and 1; got {level}", column="level")
    if registered is not None and registered < 0:
        raise InputError("'registered' must be ≥ 0", column="registered")
    assumed = isinstance(opening_hours, StationSchedule) and opening_hours.assumed
    periods = _periods(opening_hours)
    spans, day = _fraction_spans(count_reports, periods)
    counted = sum(s[2] for s in spans)
    issued = [s[3] for s in spans]
    issued_counted = (
        sum(i for i in issued if i is not None) if issued and None not in issued else None
    )
    fraction = sum(max(0.0, min(b, 1.0) - max(a, 0.0)) for a, b, _, _ in spans)
    covered = min(fraction, 1.0) * day
    uncovered = max(0.0, day - covered)

    def result(
        method: str,
        m: float,
        total: float | None,
        low: float | None,
        high: float | None,
        kappa: float | None = None,
        references: int = 0,
        note: str = "",
    ) -> TurnoutEstimate:
        def share(x: float | None) -> float | None:
            return None if x is None or not registered else x / registered

        return TurnoutEstimate(
            method=method,
            counted=counted,
            covered_hours=covered,
            uncovered_hours=uncovered,
            covered_share=m,
            extrapolated=0.0 if total is None else total - counted,
            total=total,
            low=low,
            high=high,
            level=level,
            registered=registered,
            turnout=share(total),
            turnout_low=share(low),
            turnout_high=share(high),
            issued_counted=issued_counted,
            concentration=kappa,
            reference_stations=references,
            schedule_assumed=assumed,
            note=note,
        )

    if not spans:
        return result("none", 0.0, None, None, None, note="no count window")
    if uncovered <= 1e-6:
        sd = COUNTING_ERROR * counted + 1.0
        z = float(stats.norm.ppf(0.5 + level / 2))
        return result("complete", 1.0, float(counted), max(0.0, counted - z * sd), counted + z * sd)
    m, kappa, references = (shapes or DayShapes((), ())).share_model(
        [(a, b) for a, b, _, _ in spans]
    )
    if m <= 0:
        return result(
            "none", 0.0, None, None, None, note="the counted windows lie outside opening hours"
        )
    kappa = _with_counting_error(m, kappa)
    method = "reference" if references else "prior"
    low, high = _total_interval(counted, m, kappa, level)
    note = (
        ""
        if m >= MIN_COVERED_SHARE
        else (f"the count covers {m:.0%} of the day's expected arrivals: too little to flag")
    )
    return result(method, m, counted / m, low, high, kappa, references, note)


def _total_interval(n: int, m: float, kappa: float, level: float) -> tuple[float, float]:
    """Day totals ``T`` not rejected by ``BetaBinomial(T, κm, κ(1−m))`` given ``n`` counted.

    Both p-values are monotone in ``T`` (a larger total makes a count of ``n`` or fewer
    less likely), so each end is found by bisection.
    """
    half = (1.0 - level) / 2
    a, b = kappa * m, kappa * (1 - m)

    def p_above(total: int) -> float:
        return float(stats.betabinom.cdf(n, total, a, b))

    def p_below(total: int) -> float:
        return float(stats.betabinom.sf(n - 1, total, a, b))

    def last_true(test: Any, lo: int, hi: int) -> int:
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if test(mid):
                lo = mid
            else:
                hi = mid - 1
        return lo

    top = n + 20
    while p_above(top) >= half and top < n * 10_000 + 10_000:
        top *= 2
    high = last_true(lambda t: p_above(t) >= half, n, top)
    # p_below rises with T: the low end is the first total where it reaches half.
    low = n + last_true(lambda t: p_below(n + t) < half, -1, high - n) + 1
    return float(min(low, high)), float(high)


def _hours_since(moment: datetime, origin: datetime) -> float:
    return (moment - origin).total_seconds() / 3600.0


def _normalise_windows(
    windows: Sequence[CountWindow | CountReport], opening: OpeningHours
) -> list[tuple[float, float, int, int | None]]:
    spans = sorted(
        (
            _hours_since(_window_bounds(w)[0], opening.opens),
            _hours_since(_window_bounds(w)[1], opening.opens),
            w.entered,
            w.ballots_issued,
        )
        for w in windows
    )
    for (_, end, _, _), (start, _, _, _) in itertools.pairwise(spans):
        if start < end:
            raise InputError(
                "count windows overlap; merge the station's reports first "
                "(merge_station_reports) so that each person is counted once",
                column="windows",
            )
    return spans


def _clip(start: float, end: float, day: float) -> float:
    return max(0.0, min(end, day) - max(start, 0.0))


def day_curve_from_windows(
    stations: Sequence[tuple[OpeningHours, Sequence[CountWindow | CountReport]]],
    *,
    bin_hours: float = 1.0,
) -> DayCurve:
    """Build the day curve from the stations whose windows cover all their opening hours.

    Each fully covered station's arrivals are spread evenly within each window, binned by
    hours since opening and divided by the station's total, so that every station weighs
    the same in the mean shape (a large station does not impose its own day). Stations not
    fully covered, or with no arrivals, are skipped.

    Raises
    ------
    InputError
        If no station is fully covered.
    """
    if bin_hours <= 0:
        raise InputError("'bin_hours' must be positive", column="bin_hours")
    profiles: list[list[float]] = []
    longest = max((o.hours for o, _ in stations), default=0.0)
    n_bins = max(1, math.ceil(longest / bin_hours - 1e-9))
    edges = tuple(min(i * bin_hours, longest) for i in range(n_bins + 1))
    for opening, windows in stations:
        spans = _normalise_windows(windows, opening)
        covered = sum(_clip(a, b, opening.hours) for a, b, _, _ in spans)
        total = sum(s[2] for s in spans)
        if covered < opening.hours - 1e-9 or total == 0:
            continue
        profile = [0.0] * n_bins
        for a, b, entered, _ in spans:
            if b <= a:
                continue
            for i in range(n_bins):
                overlap = min(b, edges[i + 1]) - max(a, edges[i])
                if overlap > 0:
                    profile[i] += entered * overlap / (b - a)
        mass = sum(profile)
        if mass > 0:
            profiles.append([x / mass for x in profile])
    if not profiles:
        raise InputError(
            "no station's count windows cover its opening hours; a day curve needs at least "
            "one fully covered station",
            column="stations",
        )
    shares = [sum(p[i] for p in profiles) / len(profiles) for i in range(n_bins)]
    norm = sum(shares)
    return DayCurve(edges=edges, shares=tuple(s / norm for s in shares), n_stations=len(profiles))


# --- comparison with the official result -----------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """How much disagreement a coordinator accepts before a discrepancy is flagged.

    An official count of ballots issued in the premises is flagged when the door count
    rejects it at ``level`` (each direction at half of it; :func:`door_count_p_values`)
    **and** it differs from the estimated total by more than
    ``slack = max(turnout_absolute, turnout_relative × official)``: the slack is the
    coordinators' "differences we do not chase", it never makes the test more eager.
    ``protocol_absolute`` is the allowed difference per protocol line between the
    observer's copy and the published result (0: a copied protocol should match exactly).
    """

    turnout_relative: float = 0.05
    turnout_absolute: int = 10
    protocol_absolute: int = 0
    level: float = 0.05

    def __post_init__(self) -> None:
        if self.turnout_relative < 0 or self.turnout_absolute < 0 or self.protocol_absolute < 0:
            raise InputError("tolerances must be ≥ 0", column="tolerance")
        if not 0 < self.level < 1:
            raise InputError("'level' must be between 0 and 1", column="level")


@dataclass(frozen=True)
class LineComparison:
    """One protocol line: the observer's copy against the published figure."""

    field: str
    observed: int
    official: int
    difference: int
    flagged: bool


@dataclass(frozen=True)
class TurnoutComparison:
    """Independent count against official ballots issued in the premises.

    ``counted`` is what the observers counted, ``total`` its extrapolation to the day.
    ``p_above`` is small when the official figure is higher than the count explains (more
    ballots than voters: stuffing), ``p_below`` when it is lower; ``direction`` is
    ``"above"`` or ``"below"`` for a flagged station (over- and under-counts are different
    stories). ``tested`` is false when the count covers too little of the day to flag.
    """

    official: int
    counted: int
    total: float
    low: float
    high: float
    excess: float
    relative_excess: float | None
    p_above: float
    p_below: float
    tested: bool
    direction: str | None
    flagged: bool

    @property
    def p_value(self) -> float:
        """Two-sided p-value (twice the smaller one-sided one), for false-discovery control."""
        return min(1.0, 2 * min(self.p_above, self.p_below))


@dataclass(frozen=True)
class Comparison:
    """A station's independent figures against its official result.

    ``discrepancy`` is the largest relative disagreement (turnout excess or protocol line),
    for sorting the coordinator's table; ``flagged`` is true when anything exceeds the
    tolerance.
    """

    election: str
    station: str
    turnout: TurnoutComparison | None
    lines: tuple[LineComparison, ...]
    flagged: bool
    discrepancy: float
    tolerance: Tolerance
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        from pollwatch.forensics.result import jsonable

        data = jsonable(self)
        assert isinstance(data, dict)
        return data


def door_count_comparison(
    estimate: TurnoutEstimate, official: int, tolerance: Tolerance = Tolerance()
) -> TurnoutComparison:
    """The door count against an official number of ballots issued in the premises.

    Flagged (``direction`` ``"above"`` or ``"below"``) when the count covers enough of the
    day (:attr:`TurnoutEstimate.testable`), the one-sided p-value in that direction is below
    half of ``tolerance.level`` and the difference exceeds the tolerance's slack.
    """
    if estimate.total is None or estimate.low is None or estimate.high is None:
        raise InputError("no turnout estimate to compare", column="estimate")
    slack = max(tolerance.turnout_absolute, tolerance.turnout_relative * official)
    excess = official - estimate.total
    relative = excess / estimate.total if estimate.total > 0 else None
    p_above, p_below = door_count_p_values(estimate, official)
    tested = estimate.testable
    direction = None
    if tested and abs(excess) > slack:
        if p_above < tolerance.level / 2 and excess > 0:
            direction = "above"
        elif p_below < tolerance.level / 2 and excess < 0:
            direction = "below"
    return TurnoutComparison(
        official=official,
        counted=estimate.counted,
        total=estimate.total,
        low=estimate.low,
        high=estimate.high,
        excess=excess,
        relative_excess=relative,
        p_above=p_above,
        p_below=p_below,
        tested=tested,
        direction=direction,
        flagged=direction is not None,
    )


def _official_int(row: Mapping[str, Any], name: str) -> int | None:
    if name not in row:
        return None
    value = row[name]
    try:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"official {name!r} is not a number: {value!r}", column=name) from None


def compare_with_official(
    master: MasterRecord,
    official_row: Mapping[str, Any] | pd.Series,
    *,
    tolerance: Tolerance | float = Tolerance(),
    estimate: TurnoutEstimate | None = None,
) -> Comparison:
    """Hold a station's master record (and turnout estimate) against its official result.

    Parameters
    ----------
    master:
        The station's master record; conflicting fields are not compared.
    official_row:
        The station's row of the official results (``ElectionResults.stations``: protocol
        counts and one column per candidate); a ``pandas.Series`` works.
    tolerance:
        A :class:`Tolerance`, or a number used as ``turnout_relative``.
    estimate:
        The independent turnout estimate (:func:`turnout_estimate`); without it only the
        protocol lines are compared.

    Returns
    -------
    Comparison
        Per protocol line: copy, official figure, difference, flag; turnout: official issued
        in the premises, the estimate's interval, the excess and the flag.
    """
    tol = tolerance if isinstance(tolerance, Tolerance) else Tolerance(turnout_relative=tolerance)
    row = {str(k): v for k, v in dict(official_row).items()}
    notes: list[str] = []
    lines: list[LineComparison] = []
    discrepancy = 0.0
    for name, observed in master.figures.items():
        column = name[len(VOTES_PREFIX) :] if name.startswith(VOTES_PREFIX) else name
        if name not in FIGURE_FIELDS and not name.startswith(VOTES_PREFIX):
            continue
        official = _official_int(row, column)
        if official is None:
            notes.append(f"the official result has no line {column!r}")
            continue
        difference = official - observed
        lines.append(
            LineComparison(
                name, observed, official, difference, abs(difference) > tol.protocol_absolute
            )
        )
        discrepancy = max(discrepancy, abs(difference) / max(observed, 1))
    conflicted = [c.field for c in master.conflicts if not c.field.startswith("window:")]
    if conflicted:
        notes.append(f"not compared until resolved: {', '.join(conflicted)}")

    turnout: TurnoutComparison | None = None
    issued_premises = _official_int(row, "issued_premises")
    if estimate is not None and estimate.total is not None:
        if issued_premises is None:
            notes.append("the official result has no ballots issued in the premises")
        else:
            turnout = door_count_comparison(estimate, issued_premises, tol)
            if not turnout.tested:
                notes.append(estimate.note or "the count covers too little of the day to flag")
            excess, relative = turnout.excess, turnout.relative_excess
            discrepancy = max(
                discrepancy, abs(relative) if relative is not None else float(excess > 0)
            )
    flagged = any(line.flagged for line in lines) or (turnout is not None and turnout.flagged)
    return Comparison(
        election=master.election,
        station=master.station,
        turnout=turnout,
        lines=tuple(lines),
        flagged=flagged,
        discrepancy=discrepancy,
        tolerance=tol,
        notes=tuple(notes),
    )


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input order.

    Stations whose q-value is below ``q`` are discrepancies with an expected share of false
    ones at most ``q`` among them (independent or positively dependent tests).

    >>> [round(q, 3) for q in benjamini_hochberg([0.01, 0.04, 0.03, 0.5])]
    [0.04, 0.053, 0.053, 0.5]
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(adjusted)
    out[order] = np.minimum(adjusted, 1.0)
    return [float(q) for q in out]


def discrepancy_baseline(
    p_values: Sequence[float], *, level: float = Tolerance().level
) -> dict[str, Any]:
    """What an honest election would show among stations tested at ``level``.

    ``tested`` stations, ``expected_by_chance`` flags that honesty alone produces at that
    level (``level × tested``: the calibrated bound on the honest flag rate), and
    ``discoveries``: stations whose Benjamini–Hochberg q-value is below ``level``, i.e.
    discrepancies among which at most a ``level`` share are expected to be false.

    >>> discrepancy_baseline([0.0001, 0.2, 0.6, 0.03])["discoveries"]
    1
    """
    q = benjamini_hochberg(p_values)
    return {
        "tested": len(q),
        "expected_by_chance": round(level * len(q), 1),
        "discoveries": sum(1 for v in q if v < level),
        "level": level,
    }
