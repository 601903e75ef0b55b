"""Shpilkin's estimate of anomalous votes from the turnout distribution of the votes.

Why
---
Ballot stuffing and protocol rewriting add votes for the leader *and* raise turnout, so
stuffed stations pile up at high turnout with an inflated leader's share. Shpilkin's
method (the "Kiesling–Shpilkin" method of Russian election analysis) sums votes in 1 %
turnout bins and assumes the other candidates' votes are clean: their distribution over
turnout shows what honest voting looks like. The leader's clean curve is the others'
curve scaled by the leader/others ratio of a clean reference region; the leader's votes
above that curve, at turnouts above the reference, are counted as anomalous.

Estimate
--------
* Per 1 % turnout bin ``b`` (``[b, b+1) %``, turnout = issued / registered, >100 % put in
  the last bin): leader's votes ``L_b`` and others' ballots ``O_b`` (valid + invalid −
  leader's, i.e. everything that is not a leader's vote).
* Clean ratio ρ = ΣL / ΣO over the reference region; anomalous votes
  ``A = Σ_{b above the reference} max(L_b − ρ O_b, 0)`` (clipped at zero per bin).
* Reference regions (``reference=``), since published estimates differ mainly by this
  choice (all three are reported in ``sensitivity``):

  - ``"peak"`` (Shpilkin's choice): every bin up to and including the mode of the others'
    turnout distribution; anomalies are counted above the mode.
  - ``"band"``: a fixed 5 % band centred on that mode; anomalies above the band.
  - ``"core"``: stations whose turnout lies within the others'-vote-weighted median ±
    MAD (×1.4826) of turnout, at 0.1 % resolution; anomalies in the 1 % bins above it.

* ``corrected_turnout``/``corrected_share``: turnout and leader's share with the anomalous
  votes taken out of ballots issued, ballots cast and the leader's votes (the reading
  "the anomalous votes were stuffed").
* Interval: a bootstrap over stations, 2.5 and 97.5 percentiles, every reference
  re-estimated per resample. It is the Poisson bootstrap (each station counted
  ``w ~ Poisson(1)`` times, independently; Hanley & MacGibbon 2006), run on the 0.1 %
  turnout bins the estimate depends on: stations of sparse bins (fewer than 20 stations)
  get their own weights, while the two vote sums of a denser bin are drawn from the
  normal law with their exact bootstrap mean and covariance. The cost is
  ``resamples × (bins + sparse stations)`` instead of ``resamples × stations``: on the
  2024 election (92,000 stations) 1,000 resamples took 0.2 s against 2.7 s for
  compiled per-station resampling and 4.5 s for a numpy loop of full recomputations
  (same loaded 2-core machine), with the same interval to within 1 %. The interval
  reflects the sampling variability of stations only, not the choice of reference or
  model error.

Assumptions and limits
----------------------
The others' votes must be clean and the leader's clean share must not depend on turnout.
Where honest high-turnout areas (villages, closed institutions) genuinely favour the
leader, the estimate counts their surplus as anomalous; where fraud also removed the
others' votes or took place below the reference turnout, it is missed. Treat the figure
as an order of magnitude and read it with the sensitivity list.

When it does not apply
----------------------
Fewer than 50 usable stations (registered > 0, ballots cast > 0, leader ≤ cast), or no
votes for anyone but the leader.

References
----------
Hanley, J. A. & MacGibbon, B. (2006). Creating non-parametric bootstrap samples using
Poisson frequencies. *Computer Methods and Programs in Biomedicine* 83(1), 57–62.

Shpilkin, S. (2009). Статистическое исследование результатов российских выборов
2007–2009 гг. [A statistical study of the results of Russian elections 2007–2009].
*Troitsky Variant* 21(40), 2–4.

Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2012). Statistical anomalies in 2011–2012
Russian elections revealed by 2D correlation analysis. arXiv:1205.0741.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from pollwatch.errors import InputError
from pollwatch.forensics._kernels import (
    BAND,
    CORE,
    PEAK,
    shpilkin_bootstrap,
    shpilkin_estimate,
)
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.result import MethodResult

__all__ = ["REFERENCES", "ShpilkinEstimate", "ShpilkinResult", "shpilkin"]

REFERENCES: dict[str, int] = {"peak": PEAK, "band": BAND, "core": CORE}
"""Reference-region choices and their kernel codes."""

FINE_BINS = 1000
PER_BIN = 10
MIN_STATIONS = 50
DENSE_BIN = 20
"""Fine turnout bins with at least this many stations are resampled as a whole (normal)."""


@dataclass(frozen=True)
class ShpilkinEstimate:
    """Anomalous votes under one choice of clean reference region."""

    reference: str
    anomalous_votes: float
    interval: tuple[float, float]
    reference_turnout: float
    reference_share: float


@dataclass(frozen=True)
class ShpilkinResult(MethodResult):
    """Shpilkin's estimate of the leader's anomalous votes.

    Attributes
    ----------
    reference_choice:
        The reference region used for the headline figure (``peak``, ``band``, ``core``).
    anomalous_votes, interval:
        Leader's votes above the clean curve, and its 95 % bootstrap percentile interval.
    reference_turnout:
        Turnout above which anomalies are counted (lower edge of the first counted bin).
    reference_share:
        The leader's share of ballots cast in the reference region (ρ / (1 + ρ)).
    leader_votes, anomalous_fraction:
        The leader's official votes at the stations used, and anomalous / official.
    corrected_turnout, corrected_share:
        Turnout and share with the anomalous votes removed.
    sensitivity:
        The same estimate under every reference choice.
    resamples, n_used, n_excluded:
        Bootstrap resamples; stations used and left out.
    turnout_bins, leader_curve, others_curve, clean_leader_curve:
        For the plot (not in JSON): 1 % bin lower edges, votes per bin, and ρ × others.
    """

    method: ClassVar[str] = "shpilkin"
    reference: ClassVar[str] = (
        "Shpilkin, S. (2009). Statistical study of the results of Russian elections "
        "2007-2009. Troitsky Variant 21(40), 2-4; see also Kobak, D., Shpilkin, S. & "
        "Pshenichnikov, M. S. (2012). Statistical anomalies in 2011-2012 Russian "
        "elections revealed by 2D correlation analysis. arXiv:1205.0741"
    )

    reference_choice: str
    anomalous_votes: float
    interval: tuple[float, float]
    reference_turnout: float
    reference_share: float
    leader_votes: int
    anomalous_fraction: float
    corrected_turnout: float
    corrected_share: float
    sensitivity: tuple[ShpilkinEstimate, ...]
    resamples: int
    n_used: int
    n_excluded: int
    turnout_bins: np.ndarray = field(metadata={"json": False}, repr=False)
    leader_curve: np.ndarray = field(metadata={"json": False}, repr=False)
    others_curve: np.ndarray = field(metadata={"json": False}, repr=False)
    clean_leader_curve: np.ndarray = field(metadata={"json": False}, repr=False)


def _check_options(reference: str, resamples: int) -> None:
    if reference not in REFERENCES:
        raise InputError(
            "The 'reference' parameter of shpilkin must be one of "
            f"{', '.join(repr(r) for r in REFERENCES)}; got {reference!r} instead"
        )
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise InputError(
            "The 'resamples' parameter of shpilkin must be a positive integer; "
            f"got {resamples!r} instead"
        )


def _not_applicable(
    data: StationArrays, note: str, reference: str, resamples: int, seed: int | None, n_used: int
) -> ShpilkinResult:
    nan = float("nan")
    empty = np.zeros(FINE_BINS // PER_BIN)
    return ShpilkinResult(
        n_stations=data.n,
        applicable=False,
        note=note,
        seed=seed,
        reference_choice=reference,
        anomalous_votes=nan,
        interval=(nan, nan),
        reference_turnout=nan,
        reference_share=nan,
        leader_votes=0,
        anomalous_fraction=nan,
        corrected_turnout=nan,
        corrected_share=nan,
        sensitivity=(),
        resamples=resamples,
        n_used=n_used,
        n_excluded=data.n - n_used,
        turnout_bins=np.arange(FINE_BINS // PER_BIN) / 100.0,
        leader_curve=empty,
        others_curve=empty,
        clean_leader_curve=empty,
    )


def shpilkin(
    data: StationArrays,
    *,
    reference: str = "peak",
    resamples: int = 1000,
    seed: int | None = 0,
) -> ShpilkinResult:
    """Estimate the leader's anomalous votes by Shpilkin's method.

    Parameters
    ----------
    data:
        Per-station counts.
    reference:
        Clean reference region for the headline figure: ``"peak"`` (bins up to the mode
        of the others' turnout distribution; Shpilkin's choice), ``"band"`` (5 % band
        around the mode) or ``"core"`` (median ± MAD of turnout).
    resamples:
        Bootstrap resamples for the interval.
    seed:
        Seed of the bootstrap (``None``: fresh entropy).

    Returns
    -------
    ShpilkinResult
        Anomalous votes, interval, reference turnout and share, sensitivity to the
        reference choice, and the curves for the plot.

    Examples
    --------
    >>> from pollwatch.forensics.data import StationArrays
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reg = rng.integers(800, 2500, 3000)
    >>> iss = rng.binomial(reg, rng.beta(30, 20, 3000))
    >>> data = StationArrays.from_counts(reg, iss, iss, rng.binomial(iss, 0.6))
    >>> result = shpilkin(data, resamples=100)
    >>> result.anomalous_fraction < 0.01
    True
    """
    _check_options(reference, resamples)
    usable = (data.registered > 0) & (data.cast > 0) & (data.leader <= data.cast)
    n_used = int(usable.sum())
    if n_used < MIN_STATIONS:
        return _not_applicable(
            data,
            f"Only {n_used} usable stations (at least {MIN_STATIONS} needed).",
            reference,
            int(resamples),
            seed,
            n_used,
        )
    reg = data.registered[usable]
    iss = data.issued[usable]
    cast = data.cast[usable]
    lead = data.leader[usable].astype(np.float64)
    others = (cast - data.leader[usable]).astype(np.float64)
    if others.sum() <= 0:
        return _not_applicable(
            data, "Nobody but the leader received a vote.", reference, int(resamples), seed, n_used
        )
    fine_bin = np.minimum(FINE_BINS * iss // reg, FINE_BINS - 1)
    lead_fine = np.bincount(fine_bin, weights=lead, minlength=FINE_BINS)
    others_fine = np.bincount(fine_bin, weights=others, minlength=FINE_BINS)
    boot_seed = int(np.random.default_rng(seed).integers(1, 2**63 - 1))
    boot = shpilkin_bootstrap(
        fine_bin, lead, others, FINE_BINS, PER_BIN, int(resamples), boot_seed, DENSE_BIN
    )
    sensitivity = []
    for name, code in REFERENCES.items():
        anomalous, ref_turnout, ref_share = shpilkin_estimate(lead_fine, others_fine, code, PER_BIN)
        low, high = np.nanpercentile(boot[:, code], [2.5, 97.5])
        sensitivity.append(
            ShpilkinEstimate(
                reference=name,
                anomalous_votes=float(anomalous),
                interval=(float(low), float(high)),
                reference_turnout=float(ref_turnout),
                reference_share=float(ref_share),
            )
        )
    chosen = next(s for s in sensitivity if s.reference == reference)
    lead_curve = lead_fine.reshape(-1, PER_BIN).sum(axis=1)
    others_curve = others_fine.reshape(-1, PER_BIN).sum(axis=1)
    rho = chosen.reference_share / (1.0 - chosen.reference_share)
    leader_votes = int(lead.sum())
    anomalous = chosen.anomalous_votes
    return ShpilkinResult(
        n_stations=data.n,
        applicable=True,
        note="" if n_used == data.n else f"{data.n - n_used} stations without usable counts.",
        seed=seed,
        reference_choice=reference,
        anomalous_votes=anomalous,
        interval=chosen.interval,
        reference_turnout=chosen.reference_turnout,
        reference_share=chosen.reference_share,
        leader_votes=leader_votes,
        anomalous_fraction=anomalous / leader_votes if leader_votes else float("nan"),
        corrected_turnout=float((iss.sum() - anomalous) / reg.sum()),
        corrected_share=float((lead.sum() - anomalous) / (cast.sum() - anomalous)),
        sensitivity=tuple(sensitivity),
        resamples=int(resamples),
        n_used=n_used,
        n_excluded=data.n - n_used,
        turnout_bins=np.arange(FINE_BINS // PER_BIN) / 100.0,
        leader_curve=lead_curve,
        others_curve=others_curve,
        clean_leader_curve=rho * others_curve,
    )
