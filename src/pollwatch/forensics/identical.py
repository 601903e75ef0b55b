"""Identical protocols: stations of one district reporting the same (or nearly the same) figures.

Why
    Two counts of a few hundred or thousand ballots almost never agree on every number. When
    the protocols of neighbouring stations do — same votes for every candidate, same invalid
    ballots, same ballots issued — or agree on every percentage while their sizes differ, the
    likeliest explanation is that the protocols were written from one template rather than
    counted (Kobak, Shpilkin & Pshenichnikov 2018 document such "twin" protocols).

What is compared
    Only stations with at least ``min_cast`` ballots (valid + invalid; default 50) take
    part: at tiny stations the vote vectors are short and coincidences are common, so they
    would raise false alarms.

    *Identical*: same vote vector — every candidate's votes, invalid ballots and ballots
    issued (the turnout numerator) — within one district.

    *Near-identical*: within one district, not identical, leader share and turnout within
    ``near`` (default 0.001, i.e. 0.1 percentage point) **and** either every count (each
    candidate, invalid, issued) within ``near_votes`` (default 2), or every percentage (each
    candidate's and the invalid ballots' share of cast) within ``near`` — identical
    percentages at different sizes, the mark of a template. Near-identical groups are the
    connected components of these links (identical links included).

The null: how many coincidences chance gives
    Any pair of stations of one *region* that matches is a candidate. Under the null,
    being in the same district has nothing to do with matching: district labels are
    shuffled among the region's eligible stations. The expected number of within-district
    pairs is then exactly ``sum over candidate pairs of q_r``, with ``q_r = sum_d
    n_d (n_d - 1) / (N_r (N_r - 1))`` the chance that two random stations of region ``r``
    share a district; the p-value is from ``resamples`` such shuffles (only the candidates'
    labels need drawing). Stations of a district resemble each other more than stations of
    the region do (size, urban or rural), so the null is somewhat optimistic: a small excess
    over it is weak evidence, a large one is not.

Assumptions and when it does not apply
    Districts are nested in regions (codes in :class:`StationArrays`). With fewer than two
    eligible stations, or when every region has a single district (no shuffle possible,
    e.g. no district information), the method returns ``applicable=False``.

References
----------
Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2018). Putin's peaks: Russian election data
revisited. Significance 15(4), 8–9.
Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2016). Integer percentages as electoral
falsification fingerprints. Annals of Applied Statistics 10(1), 54–73.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from pollwatch.forensics._kernels import uniform_below
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.params import check_int, check_number, check_seed
from pollwatch.forensics.result import MethodResult

__all__ = ["IdenticalResult", "ProtocolGroup", "identical_protocols"]

_REFERENCE = (
    "Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2018). Putin's peaks: Russian election "
    "data revisited. Significance 15(4), 8-9; Kobak, Shpilkin & Pshenichnikov (2016), "
    "Integer percentages as electoral falsification fingerprints, Annals of Applied "
    "Statistics 10(1), 54-73."
)
_MAX_GROUPS = 500
"""At most this many groups are listed (largest first); the counts cover all."""


@dataclass(frozen=True)
class ProtocolGroup:
    """Stations of one district whose protocols coincide.

    Attributes
    ----------
    kind:
        ``"identical"`` or ``"near"``.
    district:
        District name (``region / district``).
    stations:
        Station ids.
    cast, issued:
        Each station's ballots cast (valid + invalid) and issued.
    leader_share, turnout:
        Each station's leader share and turnout.
    votes:
        For identical groups, the shared vote vector by candidate (plus ``"invalid"``);
        empty for near-identical groups.
    """

    kind: str
    district: str
    stations: tuple[str, ...]
    cast: tuple[int, ...]
    issued: tuple[int, ...]
    leader_share: tuple[float, ...]
    turnout: tuple[float, ...]
    votes: dict[str, int]


@dataclass(frozen=True)
class IdenticalResult(MethodResult):
    """Result of :func:`identical_protocols`.

    Attributes
    ----------
    n_eligible, n_small:
        Stations compared (``cast >= min_cast``) and left out as too small.
    identical_groups, identical_stations, identical_pairs:
        Groups of identical protocols within a district, the stations in them and the
        matching pairs.
    expected_identical_pairs, p_identical:
        Pairs expected under the shuffle null and the Monte Carlo p-value of the observed
        count.
    near_groups, near_stations, near_pairs, expected_near_pairs, p_near:
        The same for near-identical protocols (groups with at least one near link).
    groups:
        The groups (largest first, at most 500).
    min_cast, near, near_votes, resamples:
        The options used.
    """

    method = "identical_protocols"
    reference = _REFERENCE

    n_eligible: int
    n_small: int
    identical_groups: int
    identical_stations: int
    identical_pairs: int
    expected_identical_pairs: float
    p_identical: float
    near_groups: int
    near_stations: int
    near_pairs: int
    expected_near_pairs: float
    p_near: float
    groups: tuple[ProtocolGroup, ...]
    min_cast: int
    near: float
    near_votes: int
    resamples: int


# --------------------------------------------------------------------------- candidate pairs


def _identical_pairs(region: np.ndarray, key: np.ndarray) -> np.ndarray:
    """All pairs (i < j) of one region with equal key rows, via one lexicographic sort of
    the rows whose hash another row of the region shares (equal rows have equal hashes, so
    no pair is lost, and the sort of many columns runs on a few rows, not all)."""
    shared = _hash_shared(region, key)
    pairs = _sorted_pairs(region[shared], key[shared])
    return np.asarray(np.flatnonzero(shared)[pairs])


def _hash_shared(region: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Whether another row of the same region has the same 64-bit hash of (region, key)."""
    with np.errstate(over="ignore"):
        h = region.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        for column in key.T:
            h = (h ^ column.astype(np.uint64)) * np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(31)
    _, inverse, sizes = np.unique(h, return_inverse=True, return_counts=True)
    return np.asarray(sizes[inverse.ravel()] > 1)


def _sorted_pairs(region: np.ndarray, key: np.ndarray) -> np.ndarray:
    """All pairs (i < j) of one region with equal key rows, via one lexicographic sort."""
    order = np.lexsort((*key.T[::-1], region))
    rows = np.column_stack([region, key])[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    group = np.cumsum(new) - 1
    sizes = np.bincount(group)
    keep = sizes[group] > 1
    return _pairs_in_groups(order[keep], group[keep])


@numba.njit(cache=True, nogil=True)
def _pairs_in_groups(members: np.ndarray, group: np.ndarray) -> np.ndarray:  # pragma: no cover
    count = 0
    start = 0
    for i in range(1, members.shape[0] + 1):
        if i == members.shape[0] or group[i] != group[start]:
            size = i - start
            count += size * (size - 1) // 2
            start = i
    out = np.empty((count, 2), dtype=np.int64)
    k = 0
    start = 0
    for i in range(1, members.shape[0] + 1):
        if i == members.shape[0] or group[i] != group[start]:
            for a in range(start, i):
                for b in range(a + 1, i):
                    out[k, 0] = min(members[a], members[b])
                    out[k, 1] = max(members[a], members[b])
                    k += 1
            start = i
    return out


@numba.njit(cache=True, nogil=True)
def _near_scan(
    order: np.ndarray,
    region: np.ndarray,
    share: np.ndarray,
    turnout: np.ndarray,
    counts: np.ndarray,
    pct: np.ndarray,
    near: float,
    near_votes: int,
    out: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """Near-identical pairs of one region; ``order`` sorts by (region, share). Writes pairs
    into ``out`` while there is room and returns how many there are."""
    n = order.shape[0]
    found = 0
    eps = 1e-12
    for x in range(n):
        i = order[x]
        for y in range(x + 1, n):
            j = order[y]
            if region[j] != region[i] or share[j] - share[i] > near + eps:
                break
            if abs(turnout[i] - turnout[j]) > near + eps:
                continue
            same = True
            close = True
            for c in range(counts.shape[1]):
                d = abs(counts[i, c] - counts[j, c])
                if d != 0:
                    same = False
                if d > near_votes:
                    close = False
            if same:
                continue
            if not close:
                close = True
                for c in range(pct.shape[1]):
                    if abs(pct[i, c] - pct[j, c]) > near + eps:
                        close = False
                        break
            if close:
                if found < out.shape[0]:
                    out[found, 0] = min(i, j)
                    out[found, 1] = max(i, j)
                found += 1
    return found


def _near_pairs(
    region: np.ndarray,
    share: np.ndarray,
    turnout: np.ndarray,
    counts: np.ndarray,
    pct: np.ndarray,
    near: float,
    near_votes: int,
) -> np.ndarray:
    order = np.lexsort((share, region))
    out = np.empty((4096, 2), dtype=np.int64)
    found = _near_scan(order, region, share, turnout, counts, pct, near, near_votes, out)
    if found > out.shape[0]:
        out = np.empty((found, 2), dtype=np.int64)
        _near_scan(order, region, share, turnout, counts, pct, near, near_votes, out)
    return out[:found]


# --------------------------------------------------------------------------- the null


def _same_district_chance(region: np.ndarray, district: np.ndarray) -> np.ndarray:
    """q_r: chance that two distinct random stations of region r share a district."""
    n_regions = int(region.max()) + 1
    per_region = np.bincount(region, minlength=n_regions).astype(np.float64)
    # one integer per (region, district), in the same order as the pairs (a 1-D sort)
    low = int(district.min())  # codes start at 0 from the loaders; shifted, any codes do
    key = region.astype(np.int64) * (int(district.max()) - low + 1) + (district - low)
    _, inverse, sizes = np.unique(key, return_inverse=True, return_counts=True)
    first = np.zeros(len(sizes), dtype=np.int64)
    first[inverse.ravel()] = region
    same = np.bincount(first, weights=sizes * (sizes - 1.0), minlength=n_regions)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(per_region > 1, same / (per_region * (per_region - 1)), 0.0)


@numba.njit(cache=True, nogil=True)
def _shuffle_counts(
    labels: np.ndarray,
    offsets: np.ndarray,
    involved_region: np.ndarray,
    pairs: np.ndarray,
    resamples: int,
    seed: int,
) -> np.ndarray:  # pragma: no cover - compiled
    """Within-district pair counts when the involved stations draw district labels without
    replacement from their region's labels (a partial Fisher–Yates per region)."""
    state = np.uint64(seed)
    m = involved_region.shape[0]
    drawn = np.empty(m, dtype=np.int64)
    used = np.zeros(offsets.shape[0], dtype=np.int64)
    out = np.zeros(resamples, dtype=np.int64)
    work = labels.copy()
    for r in range(resamples):
        used[:] = 0
        for i in range(m):
            g = involved_region[i]
            lo = offsets[g] + used[g]
            hi = offsets[g + 1]
            step, state = uniform_below(hi - lo, state)
            pick = lo + step
            tmp = work[lo]
            work[lo] = work[pick]
            work[pick] = tmp
            drawn[i] = work[lo]
            used[g] += 1
        total = 0
        for k in range(pairs.shape[0]):
            if drawn[pairs[k, 0]] == drawn[pairs[k, 1]]:
                total += 1
        out[r] = total
    return out


@dataclass(frozen=True)
class _NullTest:
    observed: int
    expected: float
    p_value: float


def _null_test(
    pairs: np.ndarray,
    region: np.ndarray,
    district: np.ndarray,
    q: np.ndarray,
    resamples: int,
    seed: int,
) -> _NullTest:
    if len(pairs) == 0:
        return _NullTest(0, 0.0, 1.0)
    observed = int((district[pairs[:, 0]] == district[pairs[:, 1]]).sum())
    expected = float(q[region[pairs[:, 0]]].sum())
    involved, local = np.unique(pairs, return_inverse=True)
    local = local.reshape(pairs.shape).astype(np.int64)
    order = np.argsort(region, kind="stable")
    offsets = np.searchsorted(region[order], np.arange(int(region.max()) + 2)).astype(np.int64)
    null = _shuffle_counts(
        district[order].astype(np.int64),
        offsets,
        region[involved].astype(np.int64),
        local,
        resamples,
        seed,
    )
    return _NullTest(observed, expected, float((1 + (null >= observed).sum()) / (resamples + 1)))


# --------------------------------------------------------------------------- groups


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label per station (-1 for stations in no pair)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    label = np.full(n, -1, dtype=np.int64)
    if len(pairs) == 0:
        return label
    nodes, local = np.unique(pairs, return_inverse=True)
    local = local.reshape(pairs.shape)
    graph = coo_matrix((np.ones(len(local)), (local[:, 0], local[:, 1])), shape=(len(nodes),) * 2)
    _, comp = connected_components(graph, directed=False)
    label[nodes] = comp
    return label


def _groups(
    kind: str,
    label: np.ndarray,
    keep: np.ndarray,
    data: StationArrays,
    idx: np.ndarray,
    share: np.ndarray,
    turnout: np.ndarray,
) -> list[ProtocolGroup]:
    out = []
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(len(keep) + 1))
    for comp in np.flatnonzero(keep):
        members = order[bounds[comp] : bounds[comp + 1]]
        rows = idx[members]
        votes = {}
        if kind == "identical":
            first = rows[0]
            votes = {c: int(data.votes[first, k]) for k, c in enumerate(data.candidates)}
            votes["invalid"] = int(data.cast[first] - data.votes[first].sum())
        out.append(
            ProtocolGroup(
                kind=kind,
                district=data.district_names[int(data.district[rows[0]])],
                stations=tuple(str(s) for s in data.station[rows]),
                cast=tuple(int(c) for c in data.cast[rows]),
                issued=tuple(int(c) for c in data.issued[rows]),
                leader_share=tuple(round(float(s), 6) for s in share[members]),
                turnout=tuple(round(float(t), 6) for t in turnout[members]),
                votes=votes,
            )
        )
    return out


# --------------------------------------------------------------------------- the method


def identical_protocols(
    data: StationArrays,
    *,
    near: float = 0.001,
    near_votes: int = 2,
    min_cast: int = 50,
    resamples: int = 1000,
    seed: int | None = 0,
) -> IdenticalResult:
    """Find stations of one district with identical or near-identical protocols.

    Parameters
    ----------
    data:
        Station arrays (district and region codes are used).
    near:
        Tolerance for shares, turnout and percentages of near-identical protocols, as a
        fraction (0.001 = 0.1 percentage point).
    near_votes:
        Tolerance for each count of near-identical protocols.
    min_cast:
        Smallest number of ballots cast for a station to take part (tiny stations coincide
        by chance).
    resamples:
        Shuffles of district labels for the p-values.
    seed:
        Seed of the shuffles.

    Returns
    -------
    IdenticalResult
        Counts, the groups and the comparison with the shuffle null.

    Examples
    --------
    >>> data = StationArrays.from_counts(
    ...     [900, 900, 1000, 800], [700, 700, 650, 500], [690, 690, 640, 495],
    ...     [600, 600, 500, 300], district=["a", "a", "b", "b"])
    >>> identical_protocols(data).identical_stations
    2
    """
    min_cast = check_int("identical_protocols", "min_cast", min_cast, low=0)
    near = check_number("identical_protocols", "near", near, at_least=0, below=0.5)
    near_votes = check_int("identical_protocols", "near_votes", near_votes, low=0)
    resamples = check_int("identical_protocols", "resamples", resamples)
    seed = check_seed("identical_protocols", seed)
    eligible = data.cast >= min_cast
    idx = np.flatnonzero(eligible)
    n = len(idx)
    region = data.region[idx].astype(np.int64)
    district = data.district[idx].astype(np.int64)
    cast = data.cast[idx].astype(np.float64)
    share = data.leader[idx] / cast
    with np.errstate(divide="ignore", invalid="ignore"):
        turnout = np.where(
            data.registered[idx] > 0, data.issued[idx] / np.maximum(data.registered[idx], 1), 0.0
        )
    invalid = data.cast[idx] - data.votes[idx].sum(axis=1)
    counts = np.column_stack([data.votes[idx], invalid, data.issued[idx]]).astype(np.int64)
    pct = np.column_stack([data.votes[idx], invalid]) / cast[:, None]

    echoed: dict[str, Any] = {
        "n_eligible": n,
        "n_small": data.n - n,
        "min_cast": min_cast,
        "near": float(near),
        "near_votes": near_votes,
        "resamples": resamples,
    }

    def not_applicable(note: str) -> IdenticalResult:
        nan = float("nan")
        return IdenticalResult.not_applicable(
            data.n,
            note,
            seed=seed,
            **echoed,
            identical_groups=0,
            identical_stations=0,
            identical_pairs=0,
            expected_identical_pairs=nan,
            p_identical=nan,
            near_groups=0,
            near_stations=0,
            near_pairs=0,
            expected_near_pairs=nan,
            p_near=nan,
            groups=(),
        )

    if n < 2:
        return not_applicable(f"Only {n} station(s) with at least {min_cast} ballots cast.")
    q = _same_district_chance(region, district)
    if not (q < 1).any():
        return not_applicable(
            "Every region has a single district, so within-district coincidences cannot be "
            "told from chance (no district information?).",
        )

    same_pairs = _identical_pairs(region, counts)
    near_pairs = _near_pairs(region, share, turnout, counts, pct, float(near), int(near_votes))
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31 - 1, size=2)
    test_same = _null_test(same_pairs, region, district, q, resamples, int(seeds[0]))
    test_near = _null_test(near_pairs, region, district, q, resamples, int(seeds[1]))

    def within(pairs: np.ndarray) -> np.ndarray:
        return pairs[district[pairs[:, 0]] == district[pairs[:, 1]]] if len(pairs) else pairs

    same_in, near_in = within(same_pairs), within(near_pairs)
    same_label = _components(n, same_in)
    all_label = _components(n, np.concatenate([same_in, near_in]) if len(near_in) else same_in)
    near_comps = (
        np.unique(all_label[near_in[:, 0]]) if len(near_in) else np.array([], dtype=np.int64)
    )
    same_keep = np.ones(int(same_label.max()) + 1, dtype=bool)
    near_keep = np.zeros(int(all_label.max()) + 1, dtype=bool)
    near_keep[near_comps] = True

    groups = _groups("identical", same_label, same_keep, data, idx, share, turnout)
    groups += _groups("near", all_label, near_keep, data, idx, share, turnout)
    groups.sort(key=lambda grp: (-len(grp.stations), grp.kind, grp.district))
    n_near_stations = int(np.isin(all_label, near_comps).sum()) if len(near_comps) else 0
    note = (
        f"{len(same_keep)} group(s) of identical and {len(near_comps)} of near-identical "
        f"protocols among {n} stations with at least {min_cast} ballots cast "
        f"({data.n - n} smaller stations left out)."
    )
    return IdenticalResult(
        n_stations=data.n,
        applicable=True,
        note=note,
        seed=seed,
        **echoed,
        identical_groups=len(same_keep),
        identical_stations=int((same_label >= 0).sum()),
        identical_pairs=test_same.observed,
        expected_identical_pairs=test_same.expected,
        p_identical=test_same.p_value,
        near_groups=len(near_comps),
        near_stations=n_near_stations,
        near_pairs=test_near.observed,
        expected_near_pairs=test_near.expected,
        p_near=test_near.p_value,
        groups=tuple(groups[:_MAX_GROUPS]),
    )
