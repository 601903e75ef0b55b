"""Time the integer-percentage test on the 2024 Russian presidential election.

Compares pollwatch's method (exact closed-form null plus a compiled Monte Carlo with
10,000 resamples) with the reference approach of the public notebooks accompanying Kobak,
Shpilkin & Pshenichnikov (2016) (github.com/dkobak/elections): a Python loop over
resamples, each redrawing every station's counts binomially with numpy and counting the
stations whose turnout or leader's share lands on an integer percentage — here with
1,000 resamples, and the time scaled ×10 for a like-for-like figure.

Run: ``.venv/bin/python bench/integer_percentages.py`` (data from ``POLLWATCH_DATA``,
e.g. ``POLLWATCH_DATA=../shared/data``). Prints figures; it is not a test.
"""

from __future__ import annotations

import time

import numpy as np

from pollwatch.config import default_data_dir
from pollwatch.forensics import station_arrays
from pollwatch.forensics.integer_percentages import integer_percentages
from pollwatch.results import load_results

RESAMPLES = 10_000
REFERENCE_RESAMPLES = 1_000


def reference_monte_carlo(
    registered: np.ndarray, issued: np.ndarray, cast: np.ndarray, leader: np.ndarray, n: int
) -> np.ndarray:
    """The notebook idea: per resample, binomial draws for every station, then count."""
    rng = np.random.default_rng(0)
    turnout = issued / registered
    share = leader / cast
    counts = np.zeros(n, dtype=np.int64)
    for r in range(n):
        t = rng.binomial(registered, turnout) / registered * 100
        s = rng.binomial(cast, share) / cast * 100
        t_int = np.round(t, 1) % 1 == 0
        s_int = np.round(s, 1) % 1 == 0
        counts[r] = np.sum(t_int | s_int)
    return counts


def main() -> None:
    path = default_data_dir() / "ru" / "2024.csv.zip"
    data = station_arrays(load_results(path))
    print(f"{path}: {data.n:,} stations")

    integer_percentages(data, resamples=10)  # compile the kernels (cached on disk after)
    start = time.perf_counter()
    result = integer_percentages(data, resamples=RESAMPLES, seed=0)
    ours = time.perf_counter() - start
    either = result.counts["either"]
    print(
        f"pollwatch, {RESAMPLES:,} resamples: {ours:.2f} s; either: observed "
        f"{either.observed:,}, expected {either.expected:,.1f} (MC mean {either.mc_mean:,.1f}), "
        f"z = {either.z:.1f}"
    )

    usable = (
        (data.registered >= result.min_registered)
        & (data.cast > 0)
        & (data.issued <= data.registered)
        & (data.leader <= data.cast)
    )
    args = (data.registered[usable], data.issued[usable], data.cast[usable], data.leader[usable])
    start = time.perf_counter()
    counts = reference_monte_carlo(*args, REFERENCE_RESAMPLES)
    theirs = time.perf_counter() - start
    scaled = theirs * RESAMPLES / REFERENCE_RESAMPLES
    print(
        f"reference loop, {REFERENCE_RESAMPLES:,} resamples: {theirs:.2f} s "
        f"(≈ {scaled:.1f} s for {RESAMPLES:,}); MC mean {counts.mean():,.1f}"
    )
    print(f"ratio (reference at {RESAMPLES:,} / pollwatch): {scaled / ours:.0f}×")


if __name__ == "__main__":
    main()
