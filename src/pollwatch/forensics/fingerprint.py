"""The election fingerprint: a voter-weighted 2-D histogram of turnout × leader's share.

Why
---
Clean elections give a compact blob; ballot stuffing drags stations towards 100 %
turnout *and* 100 % leader's share (a "comet" tail), and rewritten protocols pile up on
integer percentages (a grid of dots). The fingerprint is the picture the other methods
quantify, so it is computed exactly as Kobak, Shpilkin & Pshenichnikov draw it.

Conventions
-----------
* turnout = ballots issued / registered voters; leader's share = leader's votes /
  (valid + invalid ballots).
* Weights: each station counts with its number of **registered voters**, as in Kobak et
  al. (their "number of voters"), so the histogram shows where the electorate lives, not
  where the polling stations are.
* Bins are ``resolution`` wide and **centred** on multiples of ``resolution`` (bin ``m``
  holds ``[m − ½, m + ½) × resolution``), so that integer percentages sit at bin centres.
  A count ``k`` out of ``n`` goes to bin ``round_half_up(k / (n · resolution))``,
  computed in integer arithmetic, so that 7/20 lands exactly on 35 %.
* The 1-D marginals are the same voter-weighted histograms for turnout and share alone.

When it does not apply
----------------------
Stations with nobody registered or no ballots cast have no ratios and are left out (and
counted); so are stations with more ballots issued than voters registered, or more
leader's votes than ballots cast (inconsistent protocols). With no usable station the
result has ``applicable=False``.

References
----------
Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2016). Statistical fingerprints of
electoral fraud? *Significance* 13(4), 20–23. doi:10.1111/j.1740-9713.2016.00936.x
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from pollwatch.forensics._kernels import per_mille_bin
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.params import check_number, invalid
from pollwatch.forensics.result import MethodResult

__all__ = ["FingerprintResult", "fingerprint"]


@dataclass(frozen=True)
class FingerprintResult(MethodResult):
    """Voter-weighted histograms of turnout and leader's share.

    Attributes
    ----------
    resolution:
        Bin width as a fraction (0.001 = 0.1 %).
    turnout, share:
        National turnout (Σ issued / Σ registered) and leader's share (Σ leader / Σ cast)
        over the stations used.
    registered_voters:
        Total weight: registered voters at the stations used.
    n_used, n_excluded:
        Stations in the histograms, and stations left out (no ratio or inconsistent).
    weight:
        What each station is weighted by (``"registered voters"``).
    turnout_hist_1pct, share_hist_1pct:
        Coarse 1-D marginals in 1 % bins centred on 0, 1, ..., 100 % (in JSON).
    centres:
        Bin centres (fractions) of the fine histograms. Not in JSON.
    hist2d:
        Fine 2-D histogram, ``hist2d[i, j]`` = voters at turnout bin ``i`` and share bin
        ``j``. Not in JSON.
    turnout_hist, share_hist:
        Fine 1-D marginals. Not in JSON.
    hist2d_1pct:
        The 2-D histogram at 1 % resolution. Not in JSON.
    """

    method: ClassVar[str] = "fingerprint"
    reference: ClassVar[str] = (
        "Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2016). Statistical fingerprints "
        "of electoral fraud? Significance 13(4), 20-23. doi:10.1111/j.1740-9713.2016.00936.x"
    )

    resolution: float
    turnout: float
    share: float
    registered_voters: int
    n_used: int
    n_excluded: int
    weight: str
    turnout_hist_1pct: np.ndarray
    share_hist_1pct: np.ndarray
    centres: np.ndarray = field(metadata={"json": False}, repr=False)
    hist2d: np.ndarray = field(metadata={"json": False}, repr=False)
    turnout_hist: np.ndarray = field(metadata={"json": False}, repr=False)
    share_hist: np.ndarray = field(metadata={"json": False}, repr=False)
    hist2d_1pct: np.ndarray = field(metadata={"json": False}, repr=False)


def _bins_per_unit(resolution: float) -> int:
    width = check_number("fingerprint", "resolution", resolution, above=0, at_most=0.1)
    per_unit = round(1.0 / width)
    if abs(per_unit * width - 1.0) > 1e-9:
        raise invalid(
            "fingerprint",
            "resolution",
            "a number that divides 1 exactly (0.001, 0.002, 0.005, 0.01, ...)",
            resolution,
        )
    return per_unit


def _hist2d(t_bin: np.ndarray, s_bin: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    flat = np.bincount(t_bin * size + s_bin, weights=weights, minlength=size * size)
    return flat.reshape(size, size)


def fingerprint(data: StationArrays, *, resolution: float = 0.001) -> FingerprintResult:
    """Voter-weighted 2-D histogram of turnout × leader's share, and its marginals.

    Parameters
    ----------
    data:
        Per-station counts.
    resolution:
        Bin width as a fraction; must divide 1 (0.001 = 0.1 %, Kobak et al.'s choice).

    Returns
    -------
    FingerprintResult
        The histograms (fine ones kept out of JSON), national turnout and share.

    Examples
    --------
    >>> from pollwatch.forensics.data import StationArrays
    >>> data = StationArrays.from_counts([1000, 500], [700, 300], [700, 300], [350, 150])
    >>> result = fingerprint(data, resolution=0.01)
    >>> float(result.hist2d_1pct[70, 50]), float(result.hist2d_1pct[60, 50])
    (1000.0, 500.0)
    """
    per_unit = _bins_per_unit(resolution)
    size = per_unit + 1
    usable = (
        (data.registered > 0)
        & (data.cast > 0)
        & (data.issued <= data.registered)
        & (data.leader <= data.cast)
    )
    n_used = int(usable.sum())
    empty_fine = np.zeros(size)
    empty_coarse = np.zeros(101)
    centres = np.arange(size) / per_unit
    if n_used == 0:
        return FingerprintResult.not_applicable(
            data.n,
            "No station has registered voters and ballots cast with consistent counts.",
            seed=None,
            resolution=float(resolution),
            turnout=float("nan"),
            share=float("nan"),
            registered_voters=0,
            n_used=0,
            n_excluded=data.n,
            weight="registered voters",
            turnout_hist_1pct=empty_coarse,
            share_hist_1pct=empty_coarse,
            centres=centres,
            hist2d=np.zeros((size, size)),
            turnout_hist=empty_fine,
            share_hist=empty_fine,
            hist2d_1pct=np.zeros((101, 101)),
        )
    reg = data.registered[usable]
    iss = data.issued[usable]
    cast = data.cast[usable]
    lead = data.leader[usable]
    weights = reg.astype(np.float64)
    t_bin = per_mille_bin(iss, reg, per_unit)
    s_bin = per_mille_bin(lead, cast, per_unit)
    hist2d = _hist2d(t_bin, s_bin, weights, size)
    t_coarse = per_mille_bin(iss, reg, 100)
    s_coarse = per_mille_bin(lead, cast, 100)
    hist2d_1pct = _hist2d(t_coarse, s_coarse, weights, 101)
    n_excluded = data.n - n_used
    note = "" if n_excluded == 0 else f"{n_excluded} stations without usable ratios left out."
    return FingerprintResult(
        n_stations=data.n,
        applicable=True,
        note=note,
        seed=None,
        resolution=float(resolution),
        turnout=float(iss.sum() / reg.sum()),
        share=float(lead.sum() / cast.sum()),
        registered_voters=int(reg.sum()),
        n_used=n_used,
        n_excluded=n_excluded,
        weight="registered voters",
        turnout_hist_1pct=hist2d_1pct.sum(axis=1),
        share_hist_1pct=hist2d_1pct.sum(axis=0),
        centres=centres,
        hist2d=hist2d,
        turnout_hist=hist2d.sum(axis=1),
        share_hist=hist2d.sum(axis=0),
        hist2d_1pct=hist2d_1pct,
    )
