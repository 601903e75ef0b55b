"""Monte Carlo calibration of the observation statistics on honest synthetic elections.

A margin of error is a promise: "95 %" must cover the truth 95 % of the time, and a test at
5 % must accuse an honest election 5 % of the time, no more. These functions check those
promises by simulation, with the truth known: :func:`pvt_calibration` for the quick count
(coverage of each 95 % interval, false-alarm rate of the joint test of the official
figures) and :func:`door_count_calibration` for door counts (how often an honest station is
flagged, and how often a stuffed one is, for each pattern of counted hours).
``bench/observe_stats.py`` prints the full tables (``docs/observe.md`` keeps them); the test
suite runs a few cells at a smaller size and asserts the same properties.

The synthetic quick-count election is deliberately unkind: strata of unequal size whose turnout and
candidate support differ, station sizes spread over a factor of ten, station-to-station
variation of the vote (a Dirichlet around the stratum's mean) and candidates from 45 %
down to 3 %. The synthetic polling day has two peaks, stations whose days lean to the
morning or the evening and are rough quarter-hour by quarter-hour, voters who arrive in
groups, and observers who miss one person in a hundred and count a few staff. Randomness
comes only from the seeds passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from pollwatch.errors import InputError
from pollwatch.observe.estimates import (
    Tolerance,
    day_shapes_from_stations,
    door_count_comparison,
    turnout_estimate,
)
from pollwatch.observe.master import CountWindow
from pollwatch.observe.pvt import PVTResult, draw_stratified_sample, stratified_ratio_estimate
from pollwatch.observe.registers import check_register

__all__ = [
    "COVERAGE_PATTERNS",
    "PVT_CANDIDATES",
    "DoorCountCalibration",
    "PVTCalibration",
    "RegisterCalibration",
    "door_count_calibration",
    "pvt_calibration",
    "register_calibration",
    "synthetic_pvt_election",
]

PVT_CANDIDATES: tuple[str, ...] = ("A", "B", "C", "D", "E")
"""Candidates of the synthetic quick-count election, largest first."""

_STRATA = {"r1-north": 0.3, "r2-centre": 0.25, "r3-south": 0.2, "r4-east": 0.15, "r5-abroad": 0.1}
_SUPPORT = {
    "r1-north": (0.40, 0.32, 0.15, 0.08, 0.05),
    "r2-centre": (0.45, 0.28, 0.14, 0.09, 0.04),
    "r3-south": (0.55, 0.22, 0.12, 0.08, 0.03),
    "r4-east": (0.60, 0.20, 0.10, 0.07, 0.03),
    "r5-abroad": (0.25, 0.45, 0.20, 0.07, 0.03),
}
_TURNOUT = {"r1-north": 0.45, "r2-centre": 0.55, "r3-south": 0.65, "r4-east": 0.7, "r5-abroad": 0.3}


def synthetic_pvt_election(n_stations: int, *, seed: int) -> pd.DataFrame:
    """An honest election of ``n_stations`` stations in five strata (official = truth).

    Columns: ``station``, ``region``, ``registered``, the issued lines, ``valid``,
    ``invalid`` and one column per :data:`PVT_CANDIDATES`.
    """
    if n_stations < 50:
        raise InputError("a synthetic election needs at least 50 stations", column="n_stations")
    rng = np.random.default_rng(seed)
    regions = list(_STRATA)
    sizes = np.floor(np.array(list(_STRATA.values())) * n_stations).astype(int)
    sizes[0] += n_stations - sizes.sum()
    frames = []
    for region, size in zip(regions, sizes, strict=True):
        registered = rng.integers(300, 3000, size=size)
        turnout = np.clip(rng.normal(_TURNOUT[region], 0.1, size=size), 0.05, 0.98)
        issued = rng.binomial(registered, turnout)
        invalid = rng.binomial(issued, 0.02)
        valid = issued - invalid
        shares = rng.dirichlet(np.array(_SUPPORT[region]) * 40, size=size)
        votes = np.array([rng.multinomial(v, p) for v, p in zip(valid, shares, strict=True)])
        frame = pd.DataFrame(
            {
                "region": region,
                "registered": registered,
                "issued_early": 0,
                "issued_premises": issued,
                "issued_outside": 0,
                "valid": valid,
                "invalid": invalid,
            }
        )
        for j, name in enumerate(PVT_CANDIDATES):
            frame[name] = votes[:, j]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "station", [f"{i + 1:05d}" for i in range(len(out))])
    return out


@dataclass(frozen=True)
class PVTCalibration:
    """Coverage and false alarms of the quick count in one cell of the simulation grid.

    ``coverage`` maps each ratio (candidates above ``min_share``, and turnout) to the share
    of replications whose 95 % interval held the truth; ``false_alarms`` is the share of
    replications where the joint test rejected the (honest) official figures at 5 %;
    ``pending`` counts replications with "not enough protocols yet" (left out of both).
    """

    n_stations: int
    sample: int
    missing: float
    replications: int
    estimated: int
    pending: int
    coverage: dict[str, float]
    false_alarms: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def pvt_calibration(
    n_stations: int,
    sample: int,
    *,
    missing: float = 0.0,
    replications: int = 200,
    min_share: float = 0.03,
    seed: int = 0,
) -> PVTCalibration:
    """Draw ``replications`` samples from one honest election and score the quick count.

    ``missing`` is the chance that a sampled protocol never arrives (independently of
    everything: missing completely at random).
    """
    if not 0 <= missing < 1:
        raise InputError("'missing' must be in [0, 1)", column="missing")
    election = synthetic_pvt_election(n_stations, seed=seed)
    truth = {
        name: election[name].sum() / election["valid"].sum()
        for name in PVT_CANDIDATES
        if election[name].sum() / election["valid"].sum() > min_share
    }
    truth["turnout (issued)"] = election["issued_premises"].sum() / election["registered"].sum()
    hits = dict.fromkeys(truth, 0)
    alarms = estimated = pending = 0
    rng = np.random.default_rng(seed + 1)
    for replication in range(replications):
        drawn = draw_stratified_sample(
            election, size=sample, strata="region", seed=seed * 100_003 + replication
        )
        arrived = drawn[rng.random(len(drawn)) >= missing]
        result = stratified_ratio_estimate(
            arrived,
            election,
            strata="region",
            candidates=PVT_CANDIDATES,
            sampled=drawn["station"].tolist(),
        )
        if not isinstance(result, PVTResult):
            pending += 1
            continue
        estimated += 1
        rows = {e.name: e for e in (*result.shares, result.turnout) if e is not None}
        for name, value in truth.items():
            hits[name] += bool(rows[name].low95 <= value <= rows[name].high95)
        alarms += bool(result.joint is not None and result.joint.rejected)
    return PVTCalibration(
        n_stations=n_stations,
        sample=sample,
        missing=missing,
        replications=replications,
        estimated=estimated,
        pending=pending,
        coverage={k: v / estimated if estimated else float("nan") for k, v in hits.items()},
        false_alarms=alarms / estimated if estimated else float("nan"),
        seed=seed,
    )


# --- door counts -------------------------------------------------------------------------------

COVERAGE_PATTERNS: tuple[str, ...] = ("full", "morning", "evening", "random")
"""Which hours observers counted at a station: all of 08–20, 08–14, 16–20, or two random
two-hour windows."""

_OPENS = datetime(2024, 3, 17, 8, 0, tzinfo=UTC)
_BINS = 48  # quarter hours of a 12-hour day
_HOURS = 8.125 + np.arange(_BINS) / 4  # quarter-hour centres in clock hours
_MEAN_DAY = (
    0.6
    + np.exp(-0.5 * ((_HOURS - 11.0) / 1.5) ** 2)
    + 0.9 * np.exp(-0.5 * ((_HOURS - 18.0) / 1.3) ** 2)
)
_MEAN_DAY = _MEAN_DAY / _MEAN_DAY.sum()


def _station_day(rng: np.random.Generator) -> np.ndarray:
    """One station's day: the mean two-peak day, tilted towards morning or evening and
    roughened quarter-hour by quarter-hour, as stations' days differ."""
    tilt = np.exp(rng.normal(0.0, 0.25) * np.linspace(-1, 1, _BINS))
    rough = rng.gamma(60.0, 1 / 60.0, size=_BINS)
    day = _MEAN_DAY * tilt * rough
    return np.asarray(day / day.sum())


def _arrivals(rng: np.random.Generator, voters: int, day: np.ndarray) -> np.ndarray:
    """People entering per quarter hour: voters arrive in groups (families, friends)."""
    sizes = 1 + rng.poisson(0.3, size=max(1, int(voters / 1.3)))
    bins = rng.choice(_BINS, size=len(sizes), p=day)
    return np.bincount(bins, weights=sizes, minlength=_BINS).astype(int)


def _counted(rng: np.random.Generator, people: int) -> int:
    """What a careful observer counts: a few missed, a few staff and observers added."""
    return int(rng.binomial(people, 0.99) + rng.poisson(0.005 * people + 0.2))


def _windows(rng: np.random.Generator, arrivals: np.ndarray, pattern: str) -> list[CountWindow]:
    blocks = {
        "full": list(range(6)),
        "morning": [0, 1, 2],
        "evening": [4, 5],
        "random": sorted(rng.choice(6, size=2, replace=False).tolist()),
    }[pattern]
    out = []
    for block in blocks:
        start = _OPENS + timedelta(hours=2 * block)
        people = int(arrivals[block * 8 : block * 8 + 8].sum())
        out.append(CountWindow(start, start + timedelta(hours=2), _counted(rng, people), None, ()))
    return out


@dataclass(frozen=True)
class DoorCountCalibration:
    """Flag rates of door counts for one pattern of counted hours.

    ``flag_rate[s]`` is the share of stations flagged when the official figure is the true
    number of voters times ``1 + s`` (``s = 0``: honest, the false-alarm rate; ``0.1``,
    ``0.2``, ``0.4``: ballots stuffed, the power); ``coverage`` is the share of honest
    stations whose interval holds the true total; ``testable`` the share counted enough of
    the day to be flagged at all.
    """

    pattern: str
    stations: int
    references: int
    flag_rate: dict[float, float]
    coverage: float
    testable: float
    seed: int
    elections: int = 1
    worst_honest: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def door_count_calibration(
    pattern: str,
    *,
    stations: int = 500,
    references: int = 40,
    stuffing: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4),
    seed: int = 0,
    elections: int = 10,
) -> DoorCountCalibration:
    """Simulate ``stations`` observed stations counted by ``pattern`` and score the flags.

    The stations are split evenly over ``elections`` elections; in each, ``references``
    other stations are counted all day: their day shapes are what the estimate calibrates
    on, as the service does with an election's fully covered stations. The default
    :class:`Tolerance` is applied.
    """
    if pattern not in COVERAGE_PATTERNS:
        raise InputError(
            f"'pattern' must be one of {', '.join(COVERAGE_PATTERNS)}; got {pattern!r}",
            column="pattern",
        )
    if elections < 1 or stations < elections:
        raise InputError("need at least one station per election", column="elections")
    rng = np.random.default_rng(seed)
    day_hours = (_OPENS, _OPENS + timedelta(hours=12))

    def voters() -> int:
        return int(rng.integers(300, 3000) * rng.uniform(0.3, 0.7))

    tolerance = Tolerance()
    flags = dict.fromkeys(stuffing, 0)
    covered = testable = 0
    honest_rates: list[float] = []
    shapes = day_shapes_from_stations([])
    honest = size = 0
    for i in range(stations):
        first = i * elections // stations
        if i == 0 or first != (i - 1) * elections // stations:  # a new election
            if size:
                honest_rates.append(honest / size)
            reference = []
            for _ in range(references):
                arrivals = _arrivals(rng, voters(), _station_day(rng))
                reference.append((day_hours, _windows(rng, arrivals, "full")))
            shapes = day_shapes_from_stations(reference)
            honest = size = 0
        arrivals = _arrivals(rng, voters(), _station_day(rng))
        truth = int(arrivals.sum())
        estimate = turnout_estimate(
            _windows(rng, arrivals, pattern),
            registered=None,
            opening_hours=day_hours,
            shapes=shapes,
        )
        assert estimate.low is not None and estimate.high is not None
        covered += estimate.low <= truth <= estimate.high
        testable += estimate.testable
        size += 1
        for s in stuffing:
            official = round(truth * (1 + s))
            flagged = door_count_comparison(estimate, official, tolerance).flagged
            flags[s] += flagged
            honest += flagged and s == 0.0
    honest_rates.append(honest / size)
    return DoorCountCalibration(
        pattern=pattern,
        stations=stations,
        references=references,
        flag_rate={s: n / stations for s, n in flags.items()},
        coverage=covered / stations,
        testable=testable / stations,
        seed=seed,
        elections=elections,
        worst_honest=max(honest_rates),
    )


# --- home and early voting against their registers ----------------------------------------------


@dataclass(frozen=True)
class RegisterCalibration:
    """Flag rates of one register check (``"home"`` or ``"early"``) on simulated stations.

    ``flag_rate[s]``: the share of stations flagged when the official home (or early) figure
    is the honest one times ``1 + s`` (``s = 0``: the false-alarm rate).
    """

    kind: str
    stations: int
    flag_rate: dict[float, float]
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def register_calibration(
    kind: str,
    *,
    stations: int = 2000,
    stuffing: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4),
    seed: int = 0,
) -> RegisterCalibration:
    """Simulate stations with a home-voting or early-voting register and score the check.

    Home voting: 0.5–5 % of the registered voters request it, and 75–95 % of them are found
    at home and vote there (the rest came to the station or were out), so an honest official
    figure is below its requests by 5–25 %. Early voting: 0–5 % vote early and each gets one
    ballot. In both, one imported register count in thirty is miscopied by up to 5 %.
    """
    if kind not in ("home", "early"):
        raise InputError(f"'kind' must be 'home' or 'early'; got {kind!r}", column="kind")
    rng = np.random.default_rng(seed)
    flags = dict.fromkeys(stuffing, 0)
    for _ in range(stations):
        registered = int(rng.integers(300, 3000))
        if kind == "home":
            register = int(rng.binomial(registered, rng.uniform(0.005, 0.05)))
            honest = int(rng.binomial(register, rng.uniform(0.75, 0.95)))
        else:
            register = int(rng.binomial(registered, rng.uniform(0.0, 0.05)))
            honest = register
        known = register
        if rng.random() < 1 / 30:
            slip = max(1, round(0.05 * register))
            known = max(0, register + int(rng.integers(-slip, slip + 1)))
        for s in stuffing:
            official = round(honest * (1 + s))
            flags[s] += check_register(kind, official, known).flagged  # type: ignore[arg-type]
    return RegisterCalibration(
        kind=kind,
        stations=stations,
        flag_rate={s: n / stations for s, n in flags.items()},
        seed=seed,
    )
