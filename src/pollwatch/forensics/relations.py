"""Relations between turnout and votes: does extra turnout go to the leader only?

In a clean election higher-turnout stations bring more voters of every candidate: the
leader's votes as a share of the electorate, ``leader / registered``, grow with turnout at a
rate close to the leader's share, and the others' votes (``(cast − leader) / registered``)
at the rate of their share. Ballot stuffing for the leader breaks this: stations with added
ballots have higher turnout *and* more leader votes, while the others' votes do not rise —
their slope falls towards 0, and when votes are also moved from the others to the leader,
below 0, pushing the leader's slope above 1 (the two slopes add up to about 1, since
``leader + others = cast ≈ issued``). Myagkov, Ordeshook & Shakin (2009) use these
regressions within regions to find "inflated" turnout.

Reported: the correlation between turnout and the leader's share across stations,
weighted by registered voters (nationally and per region), and, per region, weighted least
squares of ``leader / registered`` and ``others / registered`` on turnout with
heteroskedasticity-robust (HC1) standard errors and 1 − ``alpha`` intervals. Regions are
analysed separately because regions differ in both turnout and support, which alone
creates correlations across the country (an ecological fallacy).

The comparison that adding ballots can fail: **the leader's slope against his share,
within districts**. Where turnout and preference are unrelated, the slope is the share
(a little below it: 0.2 % of ballots never reach the box). Ballots added for the leader
move a station along a slope of 1, so stuffing pulls the slope above the share even when
it stays below 1. But honest differences do it too: on Russia 2018 districts that vote
more favour the leader more (logit slope 0.43 within regions) and villages vote more and
favour him more than towns of their district; a synthetic election with that much honest
heterogeneity inside regions had the region's slope above its share in 20 of 20 regions
of every election. So the slope is compared with the share within *cells* — the stations
of one district and one size class (rural below 1,000 registered, urban) — pooled over a
region's cells, with a standard error clustered by district (``_within_excess_p``). Per
region, the one-sided p-value (``slope_excess_p``), Benjamini–Hochberg q-values over the
regions tested, and ``leader_above_share`` when q < ``alpha``. Measured (20,000 stations,
20 regions; docs/validation.md): honest — clean, heterogeneous between regions (k = 2),
heterogeneous within regions (0.45) — 0 to 0.4 % of regions flagged with q, 3–6 % with raw p;
station stuffing f_i = 0.1 flags 5–11 regions of 20, regional machines in 3 of 20 regions
the 3 machines. On Russia 2018 and 2024 it still flags 61 and 56 of 86 regions (73 and 80
with the region-wide slope): differences between the stations of one district of one kind
that the simulation does not draw, or fraud — the comparison cannot tell which, so the
report shows it as a description, not a finding. The older flags — leader's slope
significantly above 1 (``leader_excess``), others' below 0 (``others_deficit``) — need
votes moved from the others as well, and stay reported.

Assumptions and caveats: within a region, honest variation in turnout is unrelated to
candidate preference. Real mobilisation differences (e.g. pensioners both vote more and
prefer the incumbent) make the leader's slope exceed his share without fraud; a slope
above 1 or an others' slope below 0 is much harder to explain that way. Stations with
nobody registered or no ballots cast are left out (counted in ``excluded_stations``);
regions with fewer than ``min_stations`` stations or no variation in turnout get no
slopes. Not applicable when fewer than ``min_stations`` usable stations remain.

References
----------
Myagkov, M., Ordeshook, P. C. & Shakin, D. (2009). The Forensics of Election Fraud: Russia
and Ukraine. Cambridge University Press, ch. 3–4.
Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2016). Integer percentages as electoral
falsification fingerprints. Annals of Applied Statistics 10(1), 54–73 (turnout and share
conventions).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.multiple_testing import bh_q_values
from pollwatch.forensics.params import check_int, check_number
from pollwatch.forensics.result import MethodResult

__all__ = ["RegionRelation", "RelationsResult", "relations"]


@dataclass(frozen=True)
class RegionRelation:
    """Turnout–vote relations within one region (or the whole country).

    Attributes
    ----------
    region:
        Region name (``"national"`` for the whole country).
    stations:
        Usable stations.
    leader_share:
        The region's leader share (leader / cast, summed over stations).
    correlation:
        Correlation of turnout and the leader's share, weighted by registered voters.
    slope_leader, slope_leader_se, slope_leader_interval:
        Slope of ``leader / registered`` on turnout, its HC1 standard error and interval.
    slope_others, slope_others_se, slope_others_interval:
        The same for ``(cast − leader) / registered``.
    leader_excess, others_deficit:
        Whether the leader's slope is significantly above 1, the others' below 0.
    slope_excess_p, slope_excess_q, leader_above_share:
        One-sided p-value of the leader's slope above his share within the region's
        district × size-class cells (the national row: the whole country's slope against
        its share), its Benjamini–Hochberg q-value over the regions tested (the national
        row: the p-value), and whether q < ``alpha``.
    """

    region: str
    stations: int
    leader_share: float
    correlation: float
    slope_leader: float
    slope_leader_se: float
    slope_leader_interval: tuple[float, float]
    slope_others: float
    slope_others_se: float
    slope_others_interval: tuple[float, float]
    leader_excess: bool
    others_deficit: bool
    slope_excess_p: float
    slope_excess_q: float
    leader_above_share: bool


@dataclass(frozen=True)
class RelationsResult(MethodResult):
    """Turnout–share correlation and turnout–vote slopes, nationally and per region.

    Attributes
    ----------
    correlation:
        National correlation of turnout and the leader's share (weighted by registered).
    national:
        The national row (slopes across all stations, for reference; regional rows are
        the ones to read).
    regions:
        One row per region with at least ``min_stations`` usable stations.
    regions_above_share:
        Regions whose leader slope is above his share within districts (BH q < ``alpha``):
        what ballot stuffing does, and unmeasured honest differences between stations too
        (a description on real data; see the module's docstring).
    regions_leader_excess, regions_others_deficit, regions_flagged:
        Regions whose leader slope is significantly above 1; whose others' slope is
        significantly below 0; any of the three.
    regions_tested:
        Regions with slopes.
    excluded_stations:
        Stations left out (nobody registered or no ballots cast).
    alpha, min_stations:
        The options used.
    """

    method: ClassVar[str] = "relations"
    reference: ClassVar[str] = (
        "Myagkov, M., Ordeshook, P. C. & Shakin, D. (2009). The Forensics of Election Fraud: "
        "Russia and Ukraine. Cambridge University Press."
    )

    correlation: float
    national: RegionRelation
    regions: tuple[RegionRelation, ...] = field(repr=False)
    regions_above_share: int
    regions_leader_excess: int
    regions_others_deficit: int
    regions_flagged: int
    regions_tested: int
    excluded_stations: int
    alpha: float
    min_stations: int


def relations(
    data: StationArrays,
    *,
    alpha: float = 0.05,
    min_stations: int = 30,
) -> RelationsResult:
    """Weighted turnout–share correlation and turnout–vote regressions within regions.

    Parameters
    ----------
    data:
        Station arrays (turnout = issued / registered, share = leader / cast).
    alpha:
        Significance level of the intervals, of the one-sided tests (slope > 1, < 0) and
        the false-discovery rate of the slope-above-share flags.
    min_stations:
        Fewest usable stations for a region's slopes.

    Returns
    -------
    RelationsResult

    Examples
    --------
    >>> import numpy as np
    >>> from pollwatch.forensics.data import StationArrays
    >>> rng = np.random.default_rng(0)
    >>> reg = rng.integers(500, 3000, 4000)
    >>> issued = rng.binomial(reg, rng.uniform(0.4, 0.8, 4000))
    >>> data = StationArrays.from_counts(reg, issued, issued, rng.binomial(issued, 0.6))
    >>> r = relations(data)
    >>> abs(r.national.slope_leader - 0.6) < 0.05 and r.regions_flagged == 0
    True
    """
    alpha = check_number("relations", "alpha", alpha, above=0, below=1)
    min_stations = check_int("relations", "min_stations", min_stations, low=3)

    ok = (data.registered > 0) & (data.cast > 0)
    excluded = int((~ok).sum())
    n = int(ok.sum())
    reg = data.registered[ok].astype(np.float64)
    turnout = data.issued[ok] / reg
    share = data.leader[ok] / data.cast[ok]
    y_leader = data.leader[ok] / reg
    y_others = (data.cast[ok] - data.leader[ok]) / reg
    region = data.region[ok]
    n_groups = len(data.region_names)

    if n < min_stations:
        nat = _empty_row("national", n)
        return RelationsResult.not_applicable(
            data.n,
            f"only {n} stations with registered voters and ballots cast; at least "
            f"{min_stations} are needed",
            seed=None,
            correlation=float("nan"),
            national=nat,
            regions=(),
            regions_above_share=0,
            regions_leader_excess=0,
            regions_others_deficit=0,
            regions_flagged=0,
            regions_tested=0,
            excluded_stations=excluded,
            alpha=alpha,
            min_stations=min_stations,
        )

    z = float(stats.norm.ppf(1 - alpha / 2))
    z_one = float(stats.norm.ppf(1 - alpha))
    lead_votes = data.leader[ok].astype(np.float64)
    cast = data.cast[ok].astype(np.float64)

    nat_stats = _grouped(
        np.zeros(n, dtype=np.int64), 1, reg, turnout, share, y_leader, y_others, lead_votes, cast
    )
    reg_stats = _grouped(
        region, n_groups, reg, turnout, share, y_leader, y_others, lead_votes, cast
    )

    within_p = _within_excess_p(
        region,
        n_groups,
        data.district[ok],
        reg,
        turnout,
        y_leader,
        lead_votes,
        cast,
    )
    national = _rows(nat_stats, ("national",), min_stations, z, z_one)[0]
    national = replace(
        national,
        slope_excess_q=national.slope_excess_p,
        leader_above_share=bool(national.slope_excess_p < alpha),
    )
    regional = _rows(reg_stats, data.region_names, min_stations, z, z_one)
    regions = _with_q_values(
        [
            replace(r, slope_excess_p=float(within_p[k])) if np.isfinite(r.slope_leader) else r
            for k, r in enumerate(regional)
            if r.stations > 0
        ],
        alpha,
    )
    tested = [r for r in regions if np.isfinite(r.slope_leader)]
    above = sum(r.leader_above_share for r in tested)
    excess = sum(r.leader_excess for r in tested)
    deficit = sum(r.others_deficit for r in tested)
    flagged = sum(r.leader_above_share or r.leader_excess or r.others_deficit for r in tested)
    note = (
        ""
        if national.stations >= min_stations and np.isfinite(national.slope_leader)
        else ("turnout does not vary across stations; no slopes")
    )
    return RelationsResult(
        n_stations=data.n,
        applicable=not note,
        note=note,
        seed=None,
        correlation=national.correlation,
        national=national,
        regions=regions,
        regions_above_share=int(above),
        regions_leader_excess=int(excess),
        regions_others_deficit=int(deficit),
        regions_flagged=int(flagged),
        regions_tested=len(tested),
        excluded_stations=excluded,
        alpha=alpha,
        min_stations=min_stations,
    )


@dataclass(frozen=True)
class _Grouped:
    """Per-group weighted statistics (arrays of length ``groups``)."""

    count: np.ndarray
    leader_share: np.ndarray
    correlation: np.ndarray
    slope_leader: np.ndarray
    se_leader: np.ndarray
    slope_others: np.ndarray
    se_others: np.ndarray


def _grouped(
    group: np.ndarray,
    groups: int,
    w: np.ndarray,
    x: np.ndarray,
    s: np.ndarray,
    y1: np.ndarray,
    y2: np.ndarray,
    lead_votes: np.ndarray,
    cast: np.ndarray,
) -> _Grouped:
    """Weighted correlation and WLS slopes with HC1 errors for every group at once."""

    def gsum(v: Any) -> np.ndarray:
        return np.bincount(group, weights=v, minlength=groups)

    count = np.bincount(group, minlength=groups).astype(np.float64)
    sw = gsum(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = gsum(w * x) / sw
        ms = gsum(w * s) / sw
        dx = x - mx[group]
        ds = s - ms[group]
        sxx = gsum(w * dx * dx)
        sss = gsum(w * ds * ds)
        corr = gsum(w * dx * ds) / np.sqrt(sxx * sss)
        out = []
        for y in (y1, y2):
            my = gsum(w * y) / sw
            dy = y - my[group]
            slope = gsum(w * dx * dy) / sxx
            resid = dy - slope[group] * dx
            # HC1 sandwich for WLS: Σ w²·dx²·e² / (Σ w·dx²)², times n / (n − 2)
            meat = gsum((w * dx * resid) ** 2)
            se = np.sqrt(meat / sxx**2 * count / np.maximum(count - 2, 1))
            out.append((slope, se))
        share = gsum(lead_votes) / gsum(cast)
    return _Grouped(count, share, corr, out[0][0], out[0][1], out[1][0], out[1][1])


_RURAL = 1_000  # registered voters below which a station is counted as rural


def _within_excess_p(
    region: np.ndarray,
    n_regions: int,
    district: np.ndarray,
    w: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    lead_votes: np.ndarray,
    cast: np.ndarray,
) -> np.ndarray:
    """Per region, the one-sided p-value that the leader's votes per registered voter grow
    with turnout faster than his share *within* cells of one district and one size class
    (rural: fewer than ``_RURAL`` registered; urban).

    Why within cells: a region's slope is above its share whenever districts, or villages
    and towns, differ honestly in both turnout and preference (Russia 2018: districts'
    logit share follows their logit turnout with slope 0.43, villages vote 0.33 more and
    favour the leader 0.12 more on the logit scale, about their district). Comparing
    stations only with their own district's stations of the same kind removes those
    differences; ballots added at some stations of a cell still pull its slope above its
    share. Statistic: the WLS slope (weights: registered) of ``y − s_c·x`` on ``x``, both
    centred in each cell c with ``s_c`` the cell's leader share, pooled over the region's
    cells; its standard error is clustered by district. Without districts the cells are
    the size classes of the region.
    """
    rural = (w < _RURAL).astype(np.int64)
    # districts are unique across regions when loaded from a file, but arrays built
    # without them have one district 0: keyed with the region, a cell never spans two
    place = district.astype(np.int64) * n_regions + region
    _, cell = np.unique(place * 2 + rural, return_inverse=True)
    n_cells = int(cell.max(initial=-1)) + 1
    sw = np.bincount(cell, weights=w, minlength=n_cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.bincount(cell, weights=lead_votes, minlength=n_cells) / np.bincount(
            cell, weights=cast, minlength=n_cells
        )
        e = y - share[cell] * x
        dx = x - (np.bincount(cell, weights=w * x, minlength=n_cells) / sw)[cell]
        de = e - (np.bincount(cell, weights=w * e, minlength=n_cells) / sw)[cell]
        sxx = np.bincount(region, weights=w * dx * dx, minlength=n_regions)
        slope = np.bincount(region, weights=w * dx * de, minlength=n_regions) / sxx
        resid = de - slope[region] * dx
        _, cluster = np.unique(place, return_inverse=True)
        scores = np.bincount(cluster, weights=w * dx * resid)
        cluster_region = np.zeros(len(scores), dtype=np.int64)
        cluster_region[cluster] = region
        meat = np.bincount(cluster_region, weights=scores**2, minlength=n_regions)
        clusters = np.bincount(cluster_region, minlength=n_regions)
        # with one district the clusters are stations (HC1), as in the regional slopes
        station_meat = np.bincount(region, weights=(w * dx * resid) ** 2, minlength=n_regions)
        count = np.bincount(region, minlength=n_regions)
        meat = np.where(
            clusters >= 2,
            meat * clusters / np.maximum(clusters - 1, 1),
            station_meat * count / np.maximum(count - 2, 1),
        )
        se = np.sqrt(meat) / sxx
        # Student's t with one degree of freedom fewer than the districts: a sandwich
        # over 25 districts is itself uncertain, and BH's first threshold over 20 regions
        # (0.0025) sits in the tail where the normal is too thin (any region flagged in
        # 10-12 % of honest elections with the normal, 2026-12-05)
        df = np.where(clusters >= 2, clusters - 1, np.maximum(count - 2, 1))
        p = stats.t.sf(slope / se, df)
    return np.where((sxx > 0) & (se > 0), p, np.nan)


def _rows(
    g: _Grouped, names: tuple[str, ...], min_stations: int, z: float, z_one: float
) -> list[RegionRelation]:
    rows = []
    for k, name in enumerate(names):
        n = int(g.count[k])
        if n < min_stations or not np.isfinite(g.slope_leader[k]) or g.se_leader[k] <= 0:
            rows.append(_empty_row(name, n, float(g.leader_share[k]) if n else float("nan")))
            continue
        bl, sl = float(g.slope_leader[k]), float(g.se_leader[k])
        bo, so = float(g.slope_others[k]), float(g.se_others[k])
        rows.append(
            RegionRelation(
                region=name,
                stations=n,
                leader_share=float(g.leader_share[k]),
                correlation=float(g.correlation[k]),
                slope_leader=bl,
                slope_leader_se=sl,
                slope_leader_interval=(bl - z * sl, bl + z * sl),
                slope_others=bo,
                slope_others_se=so,
                slope_others_interval=(bo - z * so, bo + z * so),
                leader_excess=bool(bl - z_one * sl > 1.0),
                others_deficit=bool(bo + z_one * so < 0.0),
                slope_excess_p=float(stats.norm.sf((bl - float(g.leader_share[k])) / sl)),
                slope_excess_q=float("nan"),
                leader_above_share=False,
            )
        )
    return rows


def _with_q_values(rows: list[RegionRelation], alpha: float) -> tuple[RegionRelation, ...]:
    """Benjamini–Hochberg over the regions' slope-above-share p-values: with 85 regions,
    about four clean ones fall below 0.05 by chance."""
    q = bh_q_values(np.array([r.slope_excess_p for r in rows], dtype=np.float64))
    return tuple(
        replace(r, slope_excess_q=float(qk), leader_above_share=bool(qk < alpha))
        for r, qk in zip(rows, q, strict=True)
    )


def _empty_row(name: str, n: int, share: float = float("nan")) -> RegionRelation:
    nan = float("nan")
    return RegionRelation(
        region=name,
        stations=n,
        leader_share=share,
        correlation=nan,
        slope_leader=nan,
        slope_leader_se=nan,
        slope_leader_interval=(nan, nan),
        slope_others=nan,
        slope_others_se=nan,
        slope_others_interval=(nan, nan),
        leader_excess=False,
        others_deficit=False,
        slope_excess_p=nan,
        slope_excess_q=nan,
        leader_above_share=False,
    )
