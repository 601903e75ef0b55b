"""How often Klimek's reported 95 % intervals cover the injected fraud (issue 10, item 5).

For each scenario, ``--elections`` synthetic elections (:mod:`pollwatch.forensics.synthetic`,
the generator's default regional heterogeneity) are fitted as the battery fits them
(``resamples`` = the registry's cap, 30) and the share of elections whose interval contains
the injected fraction is printed, for ``f_i`` and ``f_e`` and for both recipes (``regional``,
the headline, and ``pnas``, the paper's national blob), with a 95 % Clopper–Pearson interval
of that share, the mean estimate and the mean truth.

The truth is the realised fraction of stations the generator falsified that way
(``SyntheticTruth.f_i``, ``f_e``). Regional machines are not one of Klimek's two kinds of
fraud: their written-up stations (turnout and share pushed to 85–100 %) are counted as
extreme fraud (``f_e`` truth = machine stations / stations), which is what the model would
have to call them.

Usage: ``python bench/klimek_coverage.py [--elections 20] [--stations 20000] [--jobs 2]``
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from scipy import stats

from pollwatch.forensics.synthetic import synthetic_election

RESAMPLES = 30  # the registry's cap for klimek: what the battery reports
SEED0 = 70_000
HOMOGENEOUS = 1e6  # region_concentration: regional means all but equal

SCENARIOS: dict[str, dict[str, Any]] = {
    "clean": {},
    "f_i 0.05, f_e 0.005": {"incremental": 0.05, "extreme": 0.005},
    "f_i 0.10, f_e 0.005": {"incremental": 0.10, "extreme": 0.005},
    "f_i 0.20, f_e 0.005": {"incremental": 0.20, "extreme": 0.005},
    "extreme f_e 0.03": {"extreme": 0.03},
    "regional machines": {"machine_regions": (3, 8, 14)},
    "homogeneous clean": {"region_concentration": HOMOGENEOUS},
    "homogeneous f_i 0.10, f_e 0.005": {
        "region_concentration": HOMOGENEOUS,
        "incremental": 0.10,
        "extreme": 0.005,
    },
    "homogeneous f_i 0.20, f_e 0.005": {
        "region_concentration": HOMOGENEOUS,
        "incremental": 0.20,
        "extreme": 0.005,
    },
}
"""Scenarios: 20 regions each; the machines run 3 of them (15 %). The homogeneous ones
have (almost) no regional differences, the `pnas` recipe's assumption of one national
blob."""


def one(scenario: str, seed: int, n_stations: int) -> dict[str, Any]:
    """Truth, estimates and intervals of both recipes on one election, and the CPU seconds."""
    from pollwatch.forensics.klimek import klimek

    e = synthetic_election(n_stations, seed=seed, **SCENARIOS[scenario])
    truth = {"f_i": e.truth.f_i, "f_e": e.truth.f_e + e.truth.machine_stations / n_stations}
    start = time.process_time()
    result = klimek(e.arrays(), resamples=RESAMPLES, seed=seed)
    cpu = time.process_time() - start
    fits = {
        r.name: {k: (getattr(r, k), r.interval[k]) for k in ("f_i", "f_e")} for r in result.recipes
    }
    return {"truth": truth, "fits": fits, "cpu": cpu}


def covered(value: float, interval: tuple[float, float]) -> bool:
    """The interval contains ``value`` (to a rounding of the fractions, 1e-9)."""
    return interval[0] - 1e-9 <= value <= interval[1] + 1e-9


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    lo = 0.0 if k == 0 else float(stats.beta.ppf(0.025, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(0.975, k + 1, n - k))
    return lo, hi


def table(runs: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "| scenario | recipe | fraction | truth (mean) | estimate (mean) | interval width (mean) "
        "| coverage [95 % CI] |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for scenario, results in runs.items():
        for recipe in ("regional", "pnas"):
            for frac in ("f_i", "f_e"):
                truth = [r["truth"][frac] for r in results]
                est = [r["fits"][recipe][frac][0] for r in results]
                ivs = [r["fits"][recipe][frac][1] for r in results]
                k = sum(covered(t, iv) for t, iv in zip(truth, ivs, strict=True))
                lo, hi = clopper_pearson(k, len(results))
                width = float(np.mean([iv[1] - iv[0] for iv in ivs]))
                lines.append(
                    f"| {scenario} | {recipe} | {frac} | {np.mean(truth):.4f} | {np.mean(est):.4f} "
                    f"| {width:.4f} | {k}/{len(results)} = {k / len(results):.2f} "
                    f"[{lo:.2f}, {hi:.2f}] |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elections", type=int, default=20)
    parser.add_argument("--stations", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    args = parser.parse_args()
    tasks = [(sc, SEED0 + i) for sc in args.scenarios for i in range(args.elections)]
    wall = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        out = list(
            pool.map(
                one,
                [sc for sc, _ in tasks],
                [seed for _, seed in tasks],
                [args.stations] * len(tasks),
            )
        )
    runs: dict[str, list[dict[str, Any]]] = {sc: [] for sc in args.scenarios}
    for (sc, _), r in zip(tasks, out, strict=True):
        runs[sc].append(r)
    print(
        f"{args.elections} elections of {args.stations:,} stations per scenario, "
        f"{RESAMPLES} bootstrap replicates; 95 % intervals"
    )
    print(table(runs))
    cpu = [r["cpu"] for r in out]
    print(
        f"\nklimek CPU per election (both recipes): median {np.median(cpu):.2f} s; "
        f"bench wall {time.perf_counter() - wall:.0f} s, load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
