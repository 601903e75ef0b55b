"""Synthetic elections with known falsification, for testing and validating the methods.

A forensic method is only as good as its behaviour on data whose truth is known: how often
it cries fraud on a clean election (false-positive rate) and how much fraud it finds when
fraud was put in (power, estimation error). :func:`synthetic_election` draws such data.

The clean election
    Station sizes are a mixture of lognormals resembling Russian federal elections (most
    stations 1,000–3,000 registered voters, median about 1,500, a rural tail down to ~20
    and a few tiny stations). Each region has its own mean turnout and leader share
    (Beta-distributed around the national means); each station draws its own turnout and
    share around its region's (Beta again). Counts are binomial: ballots issued
    ~ Bin(registered, t), a few ballots never reach the box, ~1.5 % of ballots are invalid,
    the leader gets ~ Bin(valid, s) and the rest is split multinomially among the others.
    Turnout and share are independent at station level, which is the assumption every
    turnout–share method (Shpilkin, Klimek) makes about a clean election.

Incremental and extreme fraud (Klimek, Yegorov, Hanel & Thurner 2012)
    With probability ``incremental`` (f_i) a station is stuffed: a fraction x of its
    non-voters, x ~ |N(0, stuffing_scale)| (capped at 1), become ballots for the leader,
    and a fraction ``reassign``·x of each opponent's votes is moved to the leader. With
    probability ``extreme`` (f_e) almost all non-voters (x ~ U(``extreme_min``, 1)) become
    leader votes. The two are exclusive.

Rounding to integer percentages (Kobak, Shpilkin & Pshenichnikov 2016)
    With probability ``rounding`` a station's protocol is rewritten so that its turnout,
    its leader share, or both (one third each) land on the nearest integer percentage at or
    above the true one: turnout by adding ballots for the leader, then the share by moving
    votes from the opponents to the leader. The count is the one nearest to the target, so
    the ratio is exactly integer whenever the station's size allows.

Regional machines
    In the regions named by ``machine_regions`` a fraction ``machine_share`` of stations is
    written up as a whole, the pattern of Russia's "electoral sultanates": turnout is
    raised to U(``machine_min``, 1) of the registered voters with ballots for the leader,
    then the leader's share to U(``machine_min``, 1) with votes moved from the opponents;
    half of the written-up protocols aim at a whole percentage. The region's own turnout
    peak then sits at 90 % and above.

Honest heterogeneity that fools a national reference
    ``share_follows_turnout`` = k shifts each region's clean share on the logit scale by
    k × (its turnout's logit − the national one): regions that vote more also favour the
    leader more, with no fraud at all.

Every draw comes from ``seed``; the clean election and the falsification use separate
streams, so ``synthetic_election(seed=s)`` is the clean counterfactual of
``synthetic_election(seed=s, incremental=0.1)``, station by station.

References
----------
Klimek, P., Yegorov, Y., Hanel, R. & Thurner, S. (2012). Statistical detection of
systematic election irregularities. PNAS 109(41), 16469–16473.
Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2016). Integer percentages as electoral
falsification fingerprints. Annals of Applied Statistics 10(1), 54–73.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays, station_arrays
from pollwatch.forensics.params import check_int, check_number, invalid
from pollwatch.forensics.result import jsonable
from pollwatch.results.schema import ElectionResults, empty_excluded

__all__ = ["LEADER", "MINOR", "SyntheticElection", "SyntheticTruth", "synthetic_election"]

LEADER = "Leader"
"""The name of the injected winner's vote column."""

MINOR = "Minor candidate"
"""The name of the optional small candidate's column (``minor_share``)."""

_LOST_RATE = 0.002  # ballots issued but not found in the box
_INVALID_MEAN = 0.015
_OUTSIDE_RATE = 0.05  # ballots issued outside the premises (home voting)
_EARLY_RATE = 0.005


@dataclass(frozen=True)
class SyntheticTruth:
    """What was put into a synthetic election.

    Attributes
    ----------
    anomalous_votes:
        Leader votes added by all falsification (stuffing, reassignment, rounding), total.
    f_i, f_e:
        Realised fractions of stations with incremental and extreme fraud.
    rounded_stations, incremental_stations, extreme_stations, machine_stations:
        Numbers of stations rewritten to integer percentages, stuffed, extreme-stuffed, and
        written up by a regional machine.
    clean_turnout, clean_leader_share:
        National turnout (issued / registered) and leader share (leader / cast) of the clean
        counterfactual.
    incremental, extreme, rounded, rounded_turnout, rounded_share, machine:
        Boolean masks over stations (kept out of ``to_dict``).
    added_votes:
        Leader votes added per station (kept out of ``to_dict``).
    """

    anomalous_votes: int
    f_i: float
    f_e: float
    rounded_stations: int
    incremental_stations: int
    extreme_stations: int
    machine_stations: int
    clean_turnout: float
    clean_leader_share: float
    incremental: np.ndarray = field(metadata={"json": False}, repr=False)
    extreme: np.ndarray = field(metadata={"json": False}, repr=False)
    rounded: np.ndarray = field(metadata={"json": False}, repr=False)
    rounded_turnout: np.ndarray = field(metadata={"json": False}, repr=False)
    rounded_share: np.ndarray = field(metadata={"json": False}, repr=False)
    added_votes: np.ndarray = field(metadata={"json": False}, repr=False)
    machine: np.ndarray = field(metadata={"json": False}, repr=False)

    @property
    def manipulated(self) -> np.ndarray:
        """Stations touched by any kind of falsification."""
        return np.asarray(self.incremental | self.extreme | self.rounded | self.machine, dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready scalars (the per-station masks are left out)."""
        from dataclasses import fields

        data = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("json", True)}
        return jsonable(data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class SyntheticElection:
    """A synthetic election: official-looking results plus the truth behind them."""

    results: ElectionResults
    truth: SyntheticTruth
    params: dict[str, Any]

    def arrays(self) -> StationArrays:
        """The forensic methods' input, with the injected winner as the leader."""
        return station_arrays(self.results, leader=LEADER)


@dataclass(frozen=True)
class _Clean:
    registered: np.ndarray
    region: np.ndarray
    district: np.ndarray
    issued: np.ndarray
    cast: np.ndarray
    invalid: np.ndarray
    votes: np.ndarray  # (n, k), leader first
    received_rate: np.ndarray


def _check_fraction(name: str, value: float) -> float:
    return check_number("synthetic_election", name, value, at_least=0, at_most=1)


def _check_regions(regions: Collection[int] | None, n_regions: int) -> list[int] | None:
    """Sorted region numbers in 1..n_regions, or ``None`` for every region."""
    if regions is None:
        return None
    what = f"a non-empty collection of region numbers from 1 to {n_regions}"
    if isinstance(regions, (str, bytes)) or not isinstance(regions, Collection) or not regions:
        raise invalid("synthetic_election", "fraud_regions", what, regions)
    try:
        return sorted(
            {check_int("synthetic_election", "fraud_regions", r, high=n_regions) for r in regions}
        )
    except InputError:
        raise invalid("synthetic_election", "fraud_regions", what, regions) from None


def _beta(rng: np.random.Generator, mean: np.ndarray, concentration: float) -> np.ndarray:
    """Beta draws with the given means and concentration a + b."""
    m = np.clip(mean, 1e-3, 1 - 1e-3)
    return np.asarray(rng.beta(m * concentration, (1 - m) * concentration), dtype=float)


def _station_sizes(rng: np.random.Generator, n: int, tiny: float) -> np.ndarray:
    """Registered voters: an urban lognormal, a rural tail and a few tiny stations."""
    kind = rng.random(n)
    urban = rng.lognormal(np.log(1900), 0.3, n)
    rural = rng.lognormal(np.log(550), 0.75, n)
    tiny_sizes = rng.integers(5, 60, n).astype(float)
    size = np.where(kind < 0.7, urban, rural)
    size = np.where(kind > 1 - tiny, tiny_sizes, size)
    return np.clip(np.rint(size), 5, 3200).astype(np.int64)


def _clean_election(
    rng: np.random.Generator,
    n: int,
    *,
    n_regions: int,
    n_candidates: int,
    turnout: float,
    share: float,
    region_concentration: float,
    station_concentration: float,
    tiny: float,
    share_follows_turnout: float = 0.0,
    within: tuple[np.random.Generator, float, float] | None = None,
) -> _Clean:
    registered = _station_sizes(rng, n, tiny)
    region = rng.integers(0, n_regions, n)
    districts_per_region = max(1, n // (n_regions * 40))
    district = region * districts_per_region + rng.integers(0, districts_per_region, n)

    region_t = _beta(rng, np.full(n_regions, turnout), region_concentration)
    region_s = _beta(rng, np.full(n_regions, share), region_concentration)
    if share_follows_turnout:
        lift = share_follows_turnout * (special.logit(region_t) - special.logit(turnout))
        region_s = special.expit(special.logit(region_s) + lift)
    mean_t, mean_s = region_t[region], region_s[region]
    if within is not None:
        mean_t, mean_s = _within_region(within, district, registered, mean_t, mean_s)
    t = _beta(rng, mean_t, station_concentration)
    s = _beta(rng, mean_s, station_concentration)

    issued = rng.binomial(registered, t)
    cast = issued - rng.binomial(issued, _LOST_RATE)
    invalid_rate = _beta(rng, np.full(n, _INVALID_MEAN), 200.0)
    invalid = rng.binomial(cast, invalid_rate)
    valid = cast - invalid
    # leader share is leader / cast (Kobak et al. 2016); draw it on cast, cap at valid
    leader = np.minimum(rng.binomial(cast, s), valid)

    votes = np.zeros((n, n_candidates), dtype=np.int64)
    votes[:, 0] = leader
    rest = valid - leader
    if n_candidates > 1:
        base = np.linspace(2.0, 1.0, n_candidates - 1)
        props = rng.dirichlet(10 * base / base.sum() * (n_candidates - 1), size=n_regions)
        p = props[region]  # (n, k-1) split of the opposition vote
        remaining_p = np.ones(n)
        for j in range(n_candidates - 2):
            q = np.clip(p[:, j] / np.maximum(remaining_p, 1e-12), 0.0, 1.0)
            votes[:, j + 1] = rng.binomial(rest, q)
            rest = rest - votes[:, j + 1]
            remaining_p = remaining_p - p[:, j]
        votes[:, n_candidates - 1] = rest
    return _Clean(
        registered=registered,
        region=region,
        district=district,
        issued=issued.astype(np.int64),
        cast=cast.astype(np.int64),
        invalid=invalid.astype(np.int64),
        votes=votes,
        received_rate=rng.uniform(0.85, 1.0, n),
    )


def _within_region(
    within: tuple[np.random.Generator, float, float],
    district: np.ndarray,
    registered: np.ndarray,
    mean_t: np.ndarray,
    mean_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Station means of turnout and share with honest heterogeneity *inside* regions:
    each district's turnout is shifted on the logit scale by u ~ N(0, σ) and its share
    by k·u + N(0, σ/2); rural stations (fewer than 1,000 registered) vote 0.75·σ more on
    the logit scale and favour the leader k·0.75·σ more. Villages that both vote more and
    prefer the incumbent, and districts that differ the same way, are what real regions
    have. Russia 2018 (districts of 5,000+ voters, about their region's mean): s.d. of
    logit turnout 0.45, of logit share 0.29, slope of share on turnout 0.43, correlation
    0.68; stations under 1,000 voters 0.33 above their district on logit turnout and 0.12
    on logit share. σ = 0.45, k = 0.45 give 0.45, 0.30, 0.45, 0.67, 0.34 and 0.15 (fraud
    may have made part of the real figures; as an honest scenario this is a hard one)."""
    rng, sigma, k = within
    n_districts = int(district.max(initial=0)) + 1
    u = rng.normal(0.0, sigma, n_districts)
    v = k * u + rng.normal(0.0, sigma / 2, n_districts)
    rural = 0.75 * (registered < 1_000)
    lift_t = u[district] + sigma * rural
    lift_s = v[district] + k * sigma * rural
    logit_t = special.logit(np.clip(mean_t, 1e-3, 1 - 1e-3))
    logit_s = special.logit(np.clip(mean_s, 1e-3, 1 - 1e-3))
    return special.expit(logit_t + lift_t), special.expit(logit_s + lift_s)


def _ceil_percent(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Smallest integer percentage ≥ num/den (integer arithmetic, den > 0)."""
    return np.asarray((100 * num + den - 1) // np.maximum(den, 1), dtype=np.int64)


def _nearest_count(percent: np.ndarray, den: np.ndarray) -> np.ndarray:
    """The count whose ratio to ``den`` is nearest to ``percent`` %."""
    return np.asarray((percent * den + 50) // 100, dtype=np.int64)


def _take_from_opponents(votes: np.ndarray, take: np.ndarray) -> np.ndarray:
    """Move ``take`` votes per station from the opponents (columns 1:) to the leader,
    proportionally, the rounding remainder from the largest opponent."""
    opp = votes[:, 1:]
    total = opp.sum(axis=1)
    share = np.divide(opp, np.maximum(total, 1)[:, None])
    moved = np.floor(share * take[:, None]).astype(np.int64)
    remainder = take - moved.sum(axis=1)
    big = np.argmax(opp - moved, axis=1)
    moved[np.arange(len(take)), big] += remainder
    out = votes.copy()
    out[:, 1:] -= moved
    out[:, 0] += take
    return out


def synthetic_election(
    n_stations: int = 20_000,
    *,
    seed: int,
    incremental: float = 0.0,
    extreme: float = 0.0,
    rounding: float = 0.0,
    n_regions: int = 20,
    n_candidates: int = 4,
    turnout: float = 0.6,
    share: float = 0.5,
    region_concentration: float = 40.0,
    station_concentration: float = 50.0,
    tiny: float = 0.01,
    stuffing_scale: float = 0.2,
    extreme_min: float = 0.95,
    reassign: float = 0.0,
    fraud_regions: Collection[int] | None = None,
    machine_regions: Collection[int] | None = None,
    machine_share: float = 0.9,
    machine_min: float = 0.85,
    share_follows_turnout: float = 0.0,
    minor_share: float = 0.0,
    within_region: float = 0.0,
    within_follows_turnout: float = 0.45,
) -> SyntheticElection:
    """Draw a synthetic election with known falsification.

    Parameters
    ----------
    n_stations:
        Number of polling stations.
    seed:
        Seed of every random draw; the same seed gives the same election.
    incremental:
        Probability f_i that a station is stuffed (Klimek et al. 2012 incremental fraud).
    extreme:
        Probability f_e that almost all of a station's non-voters become leader votes.
    rounding:
        Probability that a station's protocol is rewritten to integer percentages
        (Kobak et al. 2016).
    n_regions, n_candidates:
        Regions (each with its own mean turnout and share) and candidates (the leader,
        named :data:`LEADER`, plus opponents).
    turnout, share:
        National means of clean turnout and clean leader share.
    region_concentration, station_concentration:
        Beta concentrations (a + b) of region means around the national mean and of
        stations around their region's mean; smaller means more heterogeneous.
    tiny:
        Fraction of tiny stations (5–60 registered voters).
    stuffing_scale:
        Scale of the half-normal fraction x of non-voters stuffed at incremental stations.
    extreme_min:
        Extreme fraud turns a fraction U(extreme_min, 1) of non-voters into leader votes.
    reassign:
        Klimek's α: a fraction α·x of each opponent's votes is moved to the leader at
        stuffed stations.
    fraud_regions:
        Numbers of the regions whose stations may be falsified (1 to ``n_regions``, as in
        their labels: ``3`` is ``"Region 03"``); ``incremental``, ``extreme`` and
        ``rounding`` then apply to their stations only. ``None`` (default): every region.
        The random draws are the same either way: inside those regions the stations are
        those of the election without ``fraud_regions``, outside them those of the clean
        election (same seed, no fraud).

    machine_regions:
        Numbers of the regions run by a machine (same numbering as ``fraud_regions``);
        ``None``: none.
    machine_share, machine_min:
        Share of a machine region's stations written up, and the lower end of the turnout
        and share they are written up to.
    share_follows_turnout:
        Slope k of the regions' clean share on their turnout (logit scale); 0 keeps them
        independent.
    minor_share:
        If above 0, one more candidate, named :data:`MINOR`, with about this share of the
        valid vote, taken honestly (binomial thinning) from the last opponent's votes with a
        rate that varies by region and station: the small candidate whose counts sit near
        the second-digit test's cut-off of 10.
    within_region, within_follows_turnout:
        Honest heterogeneity inside regions (0: none). Districts' turnout moves by
        N(0, ``within_region``) on the logit scale and their share by
        ``within_follows_turnout`` times as much (plus noise of half that s.d.); rural
        stations (fewer than 1,000 registered) vote 0.75·``within_region`` more and favour
        the leader ``within_follows_turnout`` times that more. Russia 2018's districts and
        villages look like 0.45 and 0.45. Drawn from a stream of its own: with 0 the
        election is the one of earlier versions.

    Returns
    -------
    SyntheticElection
        ``results`` (validated schema), ``truth`` and ``arrays()``.

    Examples
    --------
    >>> e = synthetic_election(2_000, seed=1, incremental=0.1)
    >>> e.truth.incremental_stations > 0 and e.truth.anomalous_votes > 0
    True
    """
    n = check_int("synthetic_election", "n_stations", n_stations)
    seed = check_int("synthetic_election", "seed", seed, low=0)
    n_regions = check_int("synthetic_election", "n_regions", n_regions)
    n_candidates = check_int("synthetic_election", "n_candidates", n_candidates, low=2)
    f_i = _check_fraction("incremental", incremental)
    f_e = _check_fraction("extreme", extreme)
    f_r = _check_fraction("rounding", rounding)
    if f_i + f_e > 1:
        raise InputError(
            "The 'incremental' and 'extreme' parameters of synthetic_election must add up to "
            f"at most 1; got {f_i} + {f_e} instead"
        )
    for name, value in (
        ("turnout", turnout),
        ("share", share),
        ("tiny", tiny),
        ("extreme_min", extreme_min),
        ("reassign", reassign),
    ):
        _check_fraction(name, value)
    for name, value in (
        ("region_concentration", region_concentration),
        ("station_concentration", station_concentration),
        ("stuffing_scale", stuffing_scale),
    ):
        check_number("synthetic_election", name, value, above=0)

    _check_fraction("machine_share", machine_share)
    _check_fraction("machine_min", machine_min)
    check_number("synthetic_election", "share_follows_turnout", share_follows_turnout)
    chosen = _check_regions(fraud_regions, n_regions)
    machines = _check_regions(machine_regions, n_regions)

    _check_fraction("minor_share", minor_share)
    check_number("synthetic_election", "within_region", within_region, at_least=0)
    check_number("synthetic_election", "within_follows_turnout", within_follows_turnout)
    # a fourth stream for the minor candidate, a fifth for heterogeneity within regions:
    # the first three (and so every election without them) are those of earlier versions
    # (spawned children depend only on their index)
    clean_seq, fraud_seq, machine_seq, minor_seq, within_seq = np.random.SeedSequence(seed).spawn(5)
    clean = _clean_election(
        np.random.default_rng(clean_seq),
        n,
        n_regions=n_regions,
        n_candidates=n_candidates,
        turnout=float(turnout),
        share=float(share),
        region_concentration=float(region_concentration),
        station_concentration=float(station_concentration),
        tiny=float(tiny),
        share_follows_turnout=float(share_follows_turnout),
        within=(
            (
                np.random.default_rng(within_seq),
                float(within_region),
                float(within_follows_turnout),
            )
            if within_region > 0
            else None
        ),
    )
    if minor_share > 0:
        clean = _with_minor(
            np.random.default_rng(minor_seq),
            clean,
            float(minor_share),
            float(region_concentration),
            float(station_concentration),
        )
    names = _candidate_names(n_candidates, minor=minor_share > 0)
    rng = np.random.default_rng(fraud_seq)
    exposed = np.ones(n, dtype=bool) if chosen is None else np.isin(clean.region + 1, chosen)

    # Klimek et al. (2012): incremental and extreme fraud, exclusive per station. Every
    # station draws as if exposed (the random stream stays the same), then the stations
    # outside ``fraud_regions`` are left clean.
    u = rng.random(n)
    is_extreme = u < f_e
    is_incremental = (u >= f_e) & (u < f_e + f_i)
    x = np.minimum(np.abs(rng.normal(0.0, stuffing_scale, n)), 1.0)
    x = np.where(is_extreme, rng.uniform(extreme_min, 1.0, n), x)
    x = np.where(is_incremental | is_extreme, x, 0.0)
    nonvoters = clean.registered - clean.issued
    stuffed = np.where(exposed, rng.binomial(nonvoters, x), 0)
    is_extreme &= exposed
    is_incremental &= exposed
    votes = clean.votes.copy()
    if reassign > 0 and n_candidates > 1:
        moved = rng.binomial(votes[:, 1:], np.minimum(reassign * x, 1.0)[:, None])
        moved[~exposed] = 0
        votes[:, 1:] -= moved
        votes[:, 0] += moved.sum(axis=1)
    votes[:, 0] += stuffed
    issued = clean.issued + stuffed
    cast = clean.cast + stuffed

    # Kobak et al. (2016): protocols rewritten to integer percentages.
    rounded = (rng.random(n) < f_r) & exposed
    mode = rng.integers(0, 3, n)  # 0 turnout, 1 share, 2 both
    want_t = rounded & (mode != 1) & (clean.registered > 0)
    target = _nearest_count(_ceil_percent(issued, clean.registered), clean.registered)
    add = np.where(want_t, np.maximum(target - issued, 0), 0)
    issued = issued + add
    cast = cast + add
    votes[:, 0] += add
    rounded_turnout = want_t

    want_s = rounded & (mode != 0) & (cast > 0)
    target_s = _nearest_count(_ceil_percent(votes[:, 0], cast), cast)
    take = np.maximum(target_s - votes[:, 0], 0)
    feasible = take <= votes[:, 1:].sum(axis=1)
    rounded_share = want_s & feasible
    take = np.where(rounded_share, take, 0)
    if n_candidates > 1:
        votes = _take_from_opponents(votes, take)
    rounded = rounded_turnout | rounded_share

    machine = np.zeros(n, dtype=bool)
    if machines:
        issued, cast, votes, machine = _machine(
            np.random.default_rng(machine_seq),
            np.isin(clean.region + 1, machines),
            clean.registered,
            issued,
            cast,
            votes,
            float(machine_share),
            float(machine_min),
        )

    added = votes[:, 0] - clean.votes[:, 0]
    results = _results(clean, issued=issued, cast=cast, votes=votes, names=names)
    truth = SyntheticTruth(
        anomalous_votes=int(added.sum()),
        f_i=float(is_incremental.mean()),
        f_e=float(is_extreme.mean()),
        rounded_stations=int(rounded.sum()),
        incremental_stations=int(is_incremental.sum()),
        extreme_stations=int(is_extreme.sum()),
        machine_stations=int(machine.sum()),
        clean_turnout=float(clean.issued.sum() / max(int(clean.registered.sum()), 1)),
        clean_leader_share=float(clean.votes[:, 0].sum() / max(int(clean.cast.sum()), 1)),
        incremental=is_incremental,
        extreme=is_extreme,
        rounded=rounded,
        rounded_turnout=rounded_turnout,
        rounded_share=rounded_share,
        added_votes=added,
        machine=machine,
    )
    params = {
        "n_stations": n,
        "seed": seed,
        "incremental": f_i,
        "extreme": f_e,
        "rounding": f_r,
        "n_regions": n_regions,
        "n_candidates": n_candidates,
        "turnout": float(turnout),
        "share": float(share),
        "region_concentration": float(region_concentration),
        "station_concentration": float(station_concentration),
        "tiny": float(tiny),
        "stuffing_scale": float(stuffing_scale),
        "extreme_min": float(extreme_min),
        "reassign": float(reassign),
        "fraud_regions": chosen,
        "machine_regions": machines,
        "machine_share": float(machine_share),
        "machine_min": float(machine_min),
        "share_follows_turnout": float(share_follows_turnout),
        "minor_share": float(minor_share),
        "within_region": float(within_region),
        "within_follows_turnout": float(within_follows_turnout),
    }
    return SyntheticElection(results=results, truth=truth, params=params)


def _machine(
    rng: np.random.Generator,
    region: np.ndarray,
    registered: np.ndarray,
    issued: np.ndarray,
    cast: np.ndarray,
    votes: np.ndarray,
    share: float,
    low: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Write up a ``share`` of the stations of the machine regions (``region`` mask): turnout
    to U(low, 1) with ballots for the leader, then the leader's share to U(low, 1) with the
    opponents' votes; half of them aim at a whole percentage."""
    n = len(registered)
    chosen = region & (rng.random(n) < share) & (registered > 0)
    whole = rng.random(n) < 0.5
    turnout = rng.uniform(low, 1.0, n)
    target = np.round(registered * np.where(whole, np.round(100 * turnout) / 100, turnout))
    add = np.where(chosen, np.maximum(target.astype(np.int64) - issued, 0), 0)
    issued = issued + add
    cast = cast + add
    votes = votes.copy()
    votes[:, 0] += add
    share_t = rng.uniform(low, 1.0, n)
    target_s = np.round(cast * np.where(whole, np.round(100 * share_t) / 100, share_t))
    take = np.where(chosen, np.maximum(target_s.astype(np.int64) - votes[:, 0], 0), 0)
    take = np.minimum(take, votes[:, 1:].sum(axis=1))
    if votes.shape[1] > 1:
        votes = _take_from_opponents(votes, take)
    return issued, cast, votes, chosen


def _with_minor(
    rng: np.random.Generator,
    clean: _Clean,
    share: float,
    region_concentration: float,
    station_concentration: float,
) -> _Clean:
    """The clean election with a minor candidate's column appended: votes thinned from
    the last opponent at a rate drawn per region, then per station, around the rate that
    gives ``share`` of the valid vote nationally."""
    last = clean.votes[:, -1]
    mean = min(share * float(clean.votes.sum()) / max(float(last.sum()), 1.0), 0.9)
    n_regions = int(clean.region.max()) + 1
    region_rate = _beta(rng, np.full(n_regions, mean), region_concentration)
    rate = _beta(rng, region_rate[clean.region], station_concentration)
    minor = rng.binomial(last, rate)
    votes = np.column_stack([clean.votes[:, :-1], last - minor, minor]).astype(np.int64)
    return replace(clean, votes=votes)


def _candidate_names(k: int, *, minor: bool = False) -> tuple[str, ...]:
    return (LEADER, *(f"Opponent {j}" for j in range(1, k)), *((MINOR,) if minor else ()))


def _results(
    clean: _Clean,
    *,
    issued: np.ndarray,
    cast: np.ndarray,
    votes: np.ndarray,
    names: tuple[str, ...],
) -> ElectionResults:
    """The station table in the results schema (stuffed ballots are issued on the premises)."""
    n = len(issued)
    outside = np.floor(clean.issued * _OUTSIDE_RATE).astype(np.int64)
    early = np.floor(clean.issued * _EARLY_RATE).astype(np.int64)
    premises = issued - outside - early
    received = np.maximum(np.ceil(clean.registered * clean.received_rate).astype(np.int64), issued)
    region_labels = np.array(
        [f"Region {r + 1:02d}" for r in range(int(clean.region.max()) + 1)], dtype=object
    )
    district_labels = np.array(
        [f"District {d + 1:03d}" for d in range(int(clean.district.max()) + 1)], dtype=object
    )
    station_ids = pd.Series(np.arange(1, n + 1)).astype(str)
    stations = pd.DataFrame(
        {
            "region": region_labels[clean.region],
            "district": district_labels[clean.district],
            "station": station_ids.to_numpy(dtype=object),
            "station_name": ("Station " + station_ids).to_numpy(dtype=object),
            "registered": clean.registered,
            "ballots_received": received,
            "issued_early": early,
            "issued_premises": premises,
            "issued_outside": outside,
            "valid": cast - clean.invalid,
            "invalid": clean.invalid,
            "abroad": np.zeros(n, dtype=bool),
        }
    )
    for j, name in enumerate(names):
        stations[name] = votes[:, j]
    stations["source_row"] = np.arange(n, dtype=np.int64) + 2
    return ElectionResults(
        name="Synthetic election",
        stations=stations,
        candidates=names,
        excluded=empty_excluded(),
        source="synthetic",
    )
