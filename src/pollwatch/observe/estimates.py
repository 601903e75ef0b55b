"""Independent turnout per station from door counts, and its comparison with the official result.

Observers count the people who enter a polling station window by window. Where the windows
cover the whole opening hours the count is the independent turnout; where hours are missing
they are estimated, either

* from the station's **own rate**: arrivals are taken as a Poisson process with constant
  rate λ over the day, estimated from the counted windows; or
* from a **day curve** of fully covered stations (:func:`day_curve_from_windows`): arrivals
  are an inhomogeneous Poisson process whose intensity has the curve's shape (morning and
  evening peaks), scaled to this station by its counted windows.

Both are the same model once time is measured in "expected share of the day's arrivals"
(``w``): counted windows carry a share ``w_c``, uncovered hours ``w_u`` (own rate: shares of
time; day curve: shares of the curve). With Jeffreys' prior on the rate, the uncounted
arrivals ``M`` have a negative-binomial predictive distribution

    M ~ NegBin(r = N + 1/2, p = w_c / (w_c + w_u)),    E[M] = (N + 1/2) · w_u / w_c,

where ``N`` is the number counted; the interval for the total ``N + M`` takes its quantiles.
It reflects both the unknown rate and the Poisson noise of the uncounted hours; it does not
reflect counting errors or a day curve that does not fit the station (between-station
variation of the curve), so treat it as a lower bound on the uncertainty. The point estimate
is ``N + N · w_u / w_c`` (the rate's maximum-likelihood estimate).

:func:`compare_with_official` holds the estimate against the official ballots issued in the
premises (far more ballots issued than people who came in is the signature of ballot
stuffing; the "carousel" and added voters show the same way), and the observer's protocol
copy against the published result line by line (a published figure different from the
protocol signed at the station is falsification at a higher commission).

References
----------
Cox & Lewis, *The Statistical Analysis of Series of Events* (1966), Poisson-process rate
estimation; Gelman et al., *Bayesian Data Analysis* (3rd ed.), §2.6 (Poisson model,
negative-binomial predictive); Kobak, Shpilkin & Pshenichnikov, "Integer percentages as
electoral falsification fingerprints", Ann. Appl. Stat. 10(1), 2016 (why issued ballots are
the turnout numerator); Golos, "Observers' turnout counts vs official turnout" methodology
notes (independent door counts).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from pollwatch.errors import InputError
from pollwatch.observe.master import VOTES_PREFIX, CountWindow, MasterRecord
from pollwatch.observe.reports import FIGURE_FIELDS, CountReport

__all__ = [
    "Comparison",
    "DayCurve",
    "LineComparison",
    "OpeningHours",
    "Tolerance",
    "TurnoutComparison",
    "TurnoutEstimate",
    "compare_with_official",
    "day_curve_from_windows",
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


@dataclass(frozen=True)
class TurnoutEstimate:
    """Independent turnout of one station.

    Attributes
    ----------
    method:
        ``"complete"`` (windows cover the opening hours), ``"own_rate"``, ``"day_curve"``, or
        ``"none"`` (no count window: nothing to estimate).
    counted:
        People counted in the windows (``N``).
    covered_hours, uncovered_hours:
        Opening hours with and without a count window.
    extrapolated:
        Estimated arrivals in the uncovered hours.
    total, low, high:
        Estimated arrivals over the day and its ``level`` interval (None for ``"none"``).
    turnout, turnout_low, turnout_high:
        The same divided by ``registered`` (None without it).
    """

    method: str
    counted: int
    covered_hours: float
    uncovered_hours: float
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
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _window_bounds(window: CountWindow | CountReport) -> tuple[datetime, datetime]:
    if isinstance(window, CountReport):
        return window.window_start, window.window_end
    return window.start, window.end


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


def turnout_estimate(
    count_reports: Sequence[CountWindow | CountReport],
    *,
    registered: int | None,
    opening_hours: OpeningHours | tuple[datetime, datetime],
    day_curve: DayCurve | None = None,
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
        When the station was open; the hours not covered by a window are extrapolated.
    day_curve:
        The day's shape from fully covered stations (:func:`day_curve_from_windows`); without
        it the station's own rate is used.
    level:
        Coverage of the interval (0.95 by default).

    Returns
    -------
    TurnoutEstimate
        See the module docstring for the model and what the interval does not include.
    """
    opening = (
        opening_hours if isinstance(opening_hours, OpeningHours) else OpeningHours(*opening_hours)
    )
    if not 0 < level < 1:
        raise InputError(f"'level' must be between 0 and 1; got {level}", column="level")
    if registered is not None and registered < 0:
        raise InputError("'registered' must be ≥ 0", column="registered")
    spans = _normalise_windows(count_reports, opening)
    day = opening.hours
    counted = sum(s[2] for s in spans)
    issued = [s[3] for s in spans]
    issued_counted = (
        sum(i for i in issued if i is not None) if issued and None not in issued else None
    )
    covered = sum(_clip(a, b, day) for a, b, _, _ in spans)
    uncovered = max(0.0, day - covered)

    def result(
        method: str,
        total: float | None,
        low: float | None,
        high: float | None,
        extrapolated: float = 0.0,
        note: str = "",
    ) -> TurnoutEstimate:
        def share(x: float | None) -> float | None:
            return None if x is None or not registered else x / registered

        return TurnoutEstimate(
            method=method,
            counted=counted,
            covered_hours=covered,
            uncovered_hours=uncovered,
            extrapolated=extrapolated,
            total=total,
            low=low,
            high=high,
            level=level,
            registered=registered,
            turnout=share(total),
            turnout_low=share(low),
            turnout_high=share(high),
            issued_counted=issued_counted,
            note=note,
        )

    if not spans:
        return result("none", None, None, None, note="no count window")
    if uncovered <= 1e-9:
        return result("complete", float(counted), float(counted), float(counted))

    if day_curve is None:
        method = "own_rate"
        w_counted = sum(b - a for a, b, _, _ in spans)  # the rate uses each window in full
        w_uncovered = uncovered
    else:
        method = "day_curve"
        w_counted = sum(day_curve.share(a, b) for a, b, _, _ in spans)
        w_uncovered = max(
            0.0, 1.0 - sum(day_curve.share(max(a, 0), min(b, day)) for a, b, _, _ in spans)
        )
    if w_counted <= 0:
        return result(
            "none",
            None,
            None,
            None,
            note="the counted windows have zero length or zero weight on the day curve",
        )
    extrapolated = counted * w_uncovered / w_counted
    p = w_counted / (w_counted + w_uncovered)
    alpha = 1.0 - level
    from scipy import stats  # imported here: scipy costs seconds at server start-up

    low_m, high_m = stats.nbinom.ppf([alpha / 2, 1 - alpha / 2], counted + 0.5, p)
    return result(
        method,
        counted + extrapolated,
        float(counted + low_m),
        float(counted + high_m),
        extrapolated=extrapolated,
    )


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

    ``turnout_relative`` and ``turnout_absolute`` widen the turnout interval: official ballots
    issued in the premises are flagged when outside ``[low − slack, high + slack]`` with
    ``slack = max(turnout_absolute, turnout_relative × official)`` (door counts miss a few
    people; staff and observers enter without voting). ``protocol_absolute`` is the allowed
    difference per protocol line between the observer's copy and the published result (0:
    a copied protocol should match exactly).
    """

    turnout_relative: float = 0.05
    turnout_absolute: int = 10
    protocol_absolute: int = 0

    def __post_init__(self) -> None:
        if self.turnout_relative < 0 or self.turnout_absolute < 0 or self.protocol_absolute < 0:
            raise InputError("tolerances must be ≥ 0", column="tolerance")


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
    """Independent count against official ballots issued in the premises."""

    official: int
    total: float
    low: float
    high: float
    excess: float
    relative_excess: float | None
    flagged: bool


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
            assert estimate.low is not None and estimate.high is not None
            slack = max(tol.turnout_absolute, tol.turnout_relative * issued_premises)
            excess = issued_premises - estimate.total
            relative = excess / estimate.total if estimate.total > 0 else None
            flagged = not (estimate.low - slack <= issued_premises <= estimate.high + slack)
            turnout = TurnoutComparison(
                official=issued_premises,
                total=estimate.total,
                low=estimate.low,
                high=estimate.high,
                excess=excess,
                relative_excess=relative,
                flagged=flagged,
            )
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
