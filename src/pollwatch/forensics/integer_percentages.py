"""Integer percentages: too many stations reporting round turnout or leader's share.

Why
---
People who write a protocol to order aim at round numbers. Kobak, Shpilkin &
Pshenichnikov (2016) found far more Russian polling stations reporting a turnout or a
leader's share that is a whole percentage than chance allows, concentrated in a few
regions. The test counts such stations and compares the count with its exact
distribution under a no-rewriting null.

Definitions
-----------
* turnout = issued / registered; leader's share = leader / (valid + invalid).
* A value is an **integer percentage** when it lies within 0.05 of a whole percent, the
  window closed at both ends as in Kobak et al.'s code (``|100 k / n − j| ≤ 0.05``; 4.95 %
  and 5.05 % both count as 5 %), computed in exact integer arithmetic. About one value in
  ten does so by chance, so the test is about the *excess*, not the count. "Multiples of
  5 %" use the same window round multiples of 5.
* A station is counted for **turnout**, **leader** (the leader's share), and **either**
  (turnout or share or both).
* Small stations: stations with fewer than ``min_registered`` registered voters (100 by
  default) are left out, following the paper, where small stations were excluded because
  their few possible fractions land on whole percentages too often. (The null below
  accounts for the lattice of possible fractions exactly, so this only trims noise.)
* Stations with a turnout or a leader's share **above 99 %** are left out, as Kobak et
  al.'s code does: at 100 % a whole percentage is certain whether or not the protocol was
  written, and at 99.x % the binomial null around the station's own rate expects hits at
  99 % and 100 % that a rate capped at 100 % cannot produce, so both would blur the
  excess. Stations at exactly 100 % are a signal of their own and are counted apart
  (``at_100``). With this rule the national excess reproduces the paper's published Monte
  Carlo figures (docs/validation.md).

Null model and p-values
-----------------------
As in the paper's Monte Carlo, each station's counts are redrawn binomially around its
own observed rates: issued ~ Bin(registered, observed turnout) and leader ~ Bin(cast,
observed share), independently across stations. Under this null the event "station *i*
is integer" is Bernoulli with a probability that has a closed form — the binomial pmf
summed over the counts that land on integer percentages — so the number of integer
stations is a Poisson-binomial variable whose mean and variance are exact sums. Turnout
and share are redrawn independently, so P(either) = 1 − (1 − p_t)(1 − p_s) is exact too;
the closed form is therefore used for every count, nationally and per region. The
one-sided p-value P(X ≥ observed) is computed by the exact recursion when at most 5,000
stations are involved, and otherwise by the refined normal approximation (normal with a
skewness correction; Volkova 1996), which is accurate to far below the 1e-3 level at
those sizes. A Monte Carlo with ``resamples`` draws of the same null is also run (each
count drawn as a sum of blocks of stations, each block's sum from its exact law; about
0.1 s on 90,000 stations with 10,000 draws): it checks the expectations and the normal
approximation, and gives a Monte Carlo p-value ``(1 + #{X_r ≥ x}) / (R + 1)``.

When it does not apply
----------------------
Fewer than 50 usable stations (after excluding small, empty and inconsistent ones —
issued > registered or leader > cast), or no ballots-issued line (issued all zero).

Assumptions and limits
----------------------
Binomial noise around each station's own rate is a *lower* bound on honest variation, so
the null is, if anything, generous to the official result; but a station's own rate is
already the rounded value when it was rewritten, which slightly inflates the expected
counts (again conservative). An excess says that round numbers were reported more often
than chance allows, not by whom.

References
----------
Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2016). Integer percentages as electoral
falsification fingerprints. *The Annals of Applied Statistics* 10(1), 54–73.
doi:10.1214/16-AOAS904

Volkova, A. Yu. (1996). A refinement of the central limit theorem for sums of independent
random indicators. *Theory of Probability and its Applications* 40(4), 791–794.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import numpy as np
from scipy import special

from pollwatch.forensics._kernels import (
    integer_counts_monte_carlo,
    integer_probabilities,
    per_mille_bin,
    poisson_binomial_sf,
    whole_percent,
)
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.multiple_testing import FDR_LEVEL, bh_q_values
from pollwatch.forensics.params import check_int, check_seed
from pollwatch.forensics.result import MethodResult
from pollwatch.forensics.workers import run_chunks

__all__ = [
    "IntegerCount",
    "IntegerPercentagesResult",
    "RegionIntegerCount",
    "integer_percentage",
    "integer_percentage_chance",
    "integer_percentages",
]

KINDS: tuple[str, ...] = ("turnout", "leader", "either", "turnout_5", "leader_5", "either_5")
"""Keys of :attr:`IntegerPercentagesResult.counts`, in Monte Carlo column order."""

MIN_STATIONS = 50
EXACT_LIMIT = 5_000
CEILING = 99
"""Stations with turnout or the leader's share above this percentage are left out."""
MC_CHUNK = 5_000
"""Monte Carlo resamples per task (two at 10,000: the second can run on an idle core).
Each chunk builds every block's law again (a few milliseconds), so chunks are not small."""


@dataclass(frozen=True)
class IntegerCount:
    """Observed vs expected number of stations with one kind of round percentage.

    ``p_value`` is one-sided, P(X ≥ observed) under the binomial null (closed form);
    ``mc_mean``/``mc_p_value`` come from the Monte Carlo of the same null.
    """

    observed: int
    expected: float
    sd: float
    excess: float
    z: float
    p_value: float
    mc_mean: float
    mc_p_value: float


@dataclass(frozen=True)
class RegionIntegerCount:
    """One region's stations with an integer turnout or leader's share ("either").

    ``q_value`` is the Benjamini–Hochberg adjusted ``p_value`` over the regions, and
    ``flagged`` says it is below :data:`~pollwatch.forensics.multiple_testing.FDR_LEVEL`.
    """

    region: str
    stations: int
    observed: int
    expected: float
    excess: float
    z: float
    p_value: float
    q_value: float
    flagged: bool


@dataclass(frozen=True)
class IntegerPercentagesResult(MethodResult):
    """Counts of stations at integer percentages against the binomial null.

    Attributes
    ----------
    counts:
        One :class:`IntegerCount` per kind: ``turnout``, ``leader``, ``either`` and the
        same for multiples of 5 % (``turnout_5``, ``leader_5``, ``either_5``).
    excess:
        Observed − expected for ``either``, ``leader`` and ``turnout``.
    z, p_value:
        For ``either``: (observed − expected) / sd, and the one-sided p-value.
    regions:
        Per region, the ``either`` count against its own exact null, sorted by p-value.
    turnout_at_integer, turnout_expected_at_integer, leader_at_integer,
    leader_expected_at_integer:
        Stations at each integer percentage 0..100 (index = percent), observed and
        expected, for the plot.
    resamples, min_registered:
        The options used.
    n_used, n_small, n_empty, n_inconsistent, n_above_99:
        Stations tested; left out for fewer than ``min_registered`` voters, for no
        registered voters or ballots cast, for issued > registered or leader > cast, and
        for a turnout or leader's share above 99 %.
    at_100:
        Stations (with at least ``min_registered`` voters) reporting exactly 100 %:
        ``turnout``, ``leader`` (share) and ``either``. Not part of the test, since a whole
        percentage is certain there; reported as a signal of its own.
    """

    method: ClassVar[str] = "integer_percentages"
    reference: ClassVar[str] = (
        "Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2016). Integer percentages as "
        "electoral falsification fingerprints. The Annals of Applied Statistics 10(1), "
        "54-73. doi:10.1214/16-AOAS904"
    )

    resamples: int
    min_registered: int
    n_used: int
    n_small: int
    n_empty: int
    n_inconsistent: int
    n_above_99: int
    at_100: dict[str, int]
    counts: dict[str, IntegerCount]
    excess: dict[str, float]
    z: float
    p_value: float
    regions: tuple[RegionIntegerCount, ...]
    turnout_at_integer: np.ndarray
    turnout_expected_at_integer: np.ndarray
    leader_at_integer: np.ndarray
    leader_expected_at_integer: np.ndarray


def _monte_carlo(
    p_t: np.ndarray,
    p_t5: np.ndarray,
    p_s: np.ndarray,
    p_s5: np.ndarray,
    resamples: int,
    seed: int | None,
) -> np.ndarray:
    """The Monte Carlo's ``(resamples, 6)`` counts, in chunks of :data:`MC_CHUNK` resamples
    that idle cores take (:func:`~pollwatch.forensics.workers.run_chunks`); each chunk has
    its own seed from ``seed``, so the answer does not depend on how many cores ran it."""
    starts = range(0, resamples, MC_CHUNK)
    seeds = np.random.SeedSequence(seed).generate_state(len(starts))
    parts = run_chunks(
        [
            partial(
                integer_counts_monte_carlo,
                p_t,
                p_t5,
                p_s,
                p_s5,
                min(MC_CHUNK, resamples - first),
                int(chunk_seed),
            )
            for first, chunk_seed in zip(starts, seeds, strict=True)
        ]
    )
    return np.concatenate(parts)


def upper_tail(observed: int, probs: np.ndarray) -> float:
    """P(X ≥ observed) for X a sum of independent Bernoulli(``probs``).

    Exact recursion up to :data:`EXACT_LIMIT` indicators, refined normal approximation
    (Volkova 1996) beyond.
    """
    probs = probs[(probs > 0.0)]
    certain = int((probs >= 1.0).sum())
    probs = probs[probs < 1.0]
    x = observed - certain
    if x <= 0:
        return 1.0
    if len(probs) <= EXACT_LIMIT:
        return float(poisson_binomial_sf(probs, x))
    var = float((probs * (1.0 - probs)).sum())
    mean = float(probs.sum())
    sd = math.sqrt(var)
    gamma = float((probs * (1.0 - probs) * (1.0 - 2.0 * probs)).sum()) / sd**3
    z = (x - 0.5 - mean) / sd
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    tail = float(special.ndtr(-z)) - gamma * (1.0 - z * z) * density / 6.0
    return min(max(tail, 0.0), 1.0)


def _count(observed: np.ndarray, probs: np.ndarray, sims: np.ndarray) -> IntegerCount:
    obs = int(observed.sum())
    mean = float(probs.sum())
    sd = math.sqrt(float((probs * (1.0 - probs)).sum()))
    return IntegerCount(
        observed=obs,
        expected=mean,
        sd=sd,
        excess=obs - mean,
        z=(obs - mean) / sd if sd > 0 else float("nan"),
        p_value=upper_tail(obs, probs),
        mc_mean=float(sims.mean()),
        mc_p_value=float((1 + (sims >= obs).sum()) / (len(sims) + 1)),
    )


def _regions(
    region: np.ndarray, names: tuple[str, ...], observed: np.ndarray, probs: np.ndarray
) -> tuple[RegionIntegerCount, ...]:
    rows = []
    codes = np.unique(region)
    for code in codes:
        mask = region == code
        p = probs[mask]
        obs = int(observed[mask].sum())
        mean = float(p.sum())
        sd = math.sqrt(float((p * (1.0 - p)).sum()))
        rows.append(
            RegionIntegerCount(
                region=names[int(code)],
                stations=int(mask.sum()),
                observed=obs,
                expected=mean,
                excess=obs - mean,
                z=(obs - mean) / sd if sd > 0 else float("nan"),
                p_value=upper_tail(obs, p),
                q_value=float("nan"),
                flagged=False,
            )
        )
    q = bh_q_values(np.array([row.p_value for row in rows]))
    rows = [
        dataclasses.replace(row, q_value=float(qv), flagged=bool(qv < FDR_LEVEL))
        for row, qv in zip(rows, q, strict=True)
    ]
    return tuple(sorted(rows, key=lambda row: (row.p_value, -row.excess)))


def integer_percentage(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Whether ``k / n`` is an integer percentage (the module's definition); false for n ≤ 0.

    The value lies in the closed window ``[j − 0.05, j + 0.05]`` percent round an integer
    ``j``, so 4.95 % and 5.05 % both count as 5 % and 5.06 % does not.

    >>> integer_percentage(np.array([99, 101, 0, 3]), np.array([2000, 2000, 10, 0])).tolist()
    [True, True, True, False]
    """
    positive = np.asarray(n) > 0
    return np.asarray(positive & whole_percent(k, np.where(positive, n, 1)))


def integer_percentage_chance(n: np.ndarray) -> np.ndarray:
    """The chance that ``k / n`` is an integer percentage when ``k`` is smooth (no preference
    for any residue), by :func:`integer_percentage`'s definition.

    With ``g = gcd(n, 100)`` the fractional part of ``100 k / n`` is ``r / n`` with ``r`` one
    of the ``n / g`` multiples of ``g``, equally likely; the chance is the share of those in
    ``[0, 0.05) ∪ [0.95, 1)``: about 0.1 for large stations, 1 for ``n = 100`` (every count
    is a whole percent). ``n ≤ 0`` is read as 1.
    """
    d = np.maximum(np.asarray(n, dtype=np.int64), 1)
    g = np.gcd(d, 100)
    m = d // g
    low = d // (20 * g) + 1  # multiples t·g with 20·t·g ≤ d
    high = m - (19 * d + 20 * g - 1) // (20 * g)  # and with 20·t·g ≥ 19·d
    return np.asarray(np.minimum((low + high) / m, 1.0))


def _at_integer(k: np.ndarray, n: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """Stations at each whole percent 0..100 (the nearest one, unambiguous inside the window)."""
    return np.bincount(per_mille_bin(k[whole], n[whole], 100), minlength=101)[:101]


def _not_applicable(
    data: StationArrays,
    note: str,
    resamples: int,
    min_registered: int,
    seed: int | None,
    n_used: int = 0,
    n_small: int = 0,
    n_empty: int = 0,
    n_inconsistent: int = 0,
    n_above_99: int = 0,
    at_100: dict[str, int] | None = None,
) -> IntegerPercentagesResult:
    nan = float("nan")
    zeros = np.zeros(101)
    return IntegerPercentagesResult.not_applicable(
        data.n,
        note,
        seed=seed,
        resamples=resamples,
        min_registered=min_registered,
        n_used=n_used,
        n_small=n_small,
        n_empty=n_empty,
        n_inconsistent=n_inconsistent,
        n_above_99=n_above_99,
        at_100=at_100 or {"turnout": 0, "leader": 0, "either": 0},
        counts={},
        excess={"either": nan, "leader": nan, "turnout": nan},
        z=nan,
        p_value=nan,
        regions=(),
        turnout_at_integer=zeros,
        turnout_expected_at_integer=zeros,
        leader_at_integer=zeros,
        leader_expected_at_integer=zeros,
    )


def integer_percentages(
    data: StationArrays,
    *,
    resamples: int = 10_000,
    seed: int | None = 0,
    min_registered: int = 100,
) -> IntegerPercentagesResult:
    """Test for an excess of stations reporting integer-percentage turnout or share.

    Parameters
    ----------
    data:
        Per-station counts.
    resamples:
        Monte Carlo draws of the binomial null (a check on the exact closed form).
    seed:
        Seed of the Monte Carlo (``None``: fresh entropy).
    min_registered:
        Stations with fewer registered voters are left out (the paper's 100).

    Returns
    -------
    IntegerPercentagesResult
        Observed and expected counts, excess, z, one-sided p-values, a per-region table
        and per-integer histograms.

    Examples
    --------
    >>> from pollwatch.forensics.data import StationArrays
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> reg = rng.integers(500, 2500, 2000)
    >>> iss = rng.binomial(reg, 0.6)
    >>> data = StationArrays.from_counts(reg, iss, iss, rng.binomial(iss, 0.55))
    >>> result = integer_percentages(data, resamples=200)
    >>> result.p_value > 0.001
    True
    """
    resamples = check_int("integer_percentages", "resamples", resamples)
    seed = check_seed("integer_percentages", seed)
    min_registered = check_int("integer_percentages", "min_registered", min_registered, low=0)
    if data.n > 0 and not data.issued.any():
        return _not_applicable(
            data,
            "No ballots-issued counts (turnout numerator missing).",
            int(resamples),
            int(min_registered),
            seed,
        )
    empty = (data.registered <= 0) | (data.cast <= 0)
    inconsistent = ~empty & ((data.issued > data.registered) | (data.leader > data.cast))
    small = ~empty & ~inconsistent & (data.registered < min_registered)
    sized = ~(empty | inconsistent | small)
    full_t = sized & (data.issued == data.registered)
    full_s = sized & (data.leader == data.cast)
    high = sized & (
        (100 * data.issued > CEILING * data.registered) | (100 * data.leader > CEILING * data.cast)
    )
    usable = sized & ~high
    tallies: dict[str, Any] = {
        "n_used": int(usable.sum()),
        "n_small": int(small.sum()),
        "n_empty": int(empty.sum()),
        "n_inconsistent": int(inconsistent.sum()),
        "n_above_99": int(high.sum()),
        "at_100": {
            "turnout": int(full_t.sum()),
            "leader": int(full_s.sum()),
            "either": int((full_t | full_s).sum()),
        },
    }
    if tallies["n_used"] < MIN_STATIONS:
        return _not_applicable(
            data,
            f"Only {tallies['n_used']} usable stations (at least {MIN_STATIONS} needed, "
            f"each with at least {min_registered} registered voters).",
            int(resamples),
            int(min_registered),
            seed,
            **tallies,
        )
    reg = data.registered[usable]
    iss = data.issued[usable]
    cast = data.cast[usable]
    lead = data.leader[usable]
    observed = {
        "turnout": whole_percent(iss, reg),
        "leader": whole_percent(lead, cast),
        "turnout_5": whole_percent(iss, reg, 5),
        "leader_5": whole_percent(lead, cast, 5),
    }
    observed["either"] = observed["turnout"] | observed["leader"]
    observed["either_5"] = observed["turnout_5"] | observed["leader_5"]
    p_t, p_t5, exp_t = integer_probabilities(reg, iss / reg)
    p_s, p_s5, exp_s = integer_probabilities(cast, lead / cast)
    probs = {
        "turnout": p_t,
        "leader": p_s,
        "either": 1.0 - (1.0 - p_t) * (1.0 - p_s),
        "turnout_5": p_t5,
        "leader_5": p_s5,
        "either_5": 1.0 - (1.0 - p_t5) * (1.0 - p_s5),
    }
    sims = _monte_carlo(p_t, p_t5, p_s, p_s5, int(resamples), seed)
    counts = {
        kind: _count(observed[kind], probs[kind], sims[:, col]) for col, kind in enumerate(KINDS)
    }
    either = counts["either"]
    excluded = data.n - tallies["n_used"]
    return IntegerPercentagesResult(
        n_stations=data.n,
        applicable=True,
        note=""
        if excluded == 0
        else f"{excluded} stations left out (small, empty, inconsistent or above 99 %).",
        seed=seed,
        resamples=int(resamples),
        min_registered=int(min_registered),
        **tallies,
        counts=counts,
        excess={k: counts[k].excess for k in ("either", "leader", "turnout")},
        z=either.z,
        p_value=either.p_value,
        regions=_regions(
            data.region[usable], data.region_names, observed["either"], probs["either"]
        ),
        turnout_at_integer=_at_integer(iss, reg, observed["turnout"]),
        turnout_expected_at_integer=exp_t,
        leader_at_integer=_at_integer(lead, cast, observed["leader"]),
        leader_expected_at_integer=exp_s,
    )
