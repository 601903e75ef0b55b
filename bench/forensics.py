"""Time the whole forensic battery on the 2024 Russian presidential election.

Goal: < 15 s wall and < 2 GB peak memory on 2 cores with 10,000 resamples.
Prints load time, battery wall time (parallel, ``--jobs``), time per method, report
rendering time, peak resident memory (this process and its worker processes, from
``resource.getrusage``) and, with ``--trace``, the peak of Python-traced allocations in a
serial run (``tracemalloc``).

Usage: ``python bench/forensics.py [--jobs 2] [--resamples 10000] [--trace]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

from pollwatch.config import load_settings
from pollwatch.forensics.battery import run_battery
from pollwatch.forensics.report import render_html
from pollwatch.results import load_results
from pollwatch.results.datasets import find_dataset


def _rss_mb(who: int) -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--trace", action="store_true", help="also a serial run under tracemalloc")
    args = parser.parse_args()

    path = find_dataset("ru-2024", load_settings().data_dir)
    if path is None:
        print("ru/2024.csv.zip not found in the data folder (POLLWATCH_DATA); nothing to time")
        return 1

    t0 = time.perf_counter()
    results = load_results(path)
    load_s = time.perf_counter() - t0
    print(f"load           {load_s:7.2f} s  ({results.n_stations:,} stations)")

    # warm-up on a small subset so numba compilation (cached on disk) is not timed
    run_battery(
        results.__class__(
            name="warm-up", stations=results.stations.head(3_000), candidates=results.candidates
        ),
        resamples=100,
        jobs=1,
    )

    t0 = time.perf_counter()
    report = run_battery(results, resamples=args.resamples, seed=0, jobs=args.jobs)
    wall = time.perf_counter() - t0
    print(f"battery        {wall:7.2f} s  wall, jobs={args.jobs}, resamples={args.resamples:,}")
    for name, secs in sorted(report.timings.items(), key=lambda kv: -kv[1]):
        status = "" if report.results[name].applicable else "  (not applicable)"
        print(f"  {name:22s} {secs:7.2f} s{status}")
    slowest = max(report.timings, key=lambda k: report.timings[k])
    print(f"  bottleneck: {slowest} ({report.timings[slowest] / max(wall, 1e-9):.0%} of wall)")

    t0 = time.perf_counter()
    html_en = render_html(report, "en")
    render_html(report, "ru")
    print(f"report en+ru   {time.perf_counter() - t0:7.2f} s  ({len(html_en) / 1e6:.1f} MB each)")

    print(f"peak RSS       {_rss_mb(resource.RUSAGE_SELF):7.0f} MB (main process)")
    print(f"peak RSS       {_rss_mb(resource.RUSAGE_CHILDREN):7.0f} MB (largest worker)")

    if args.trace:
        tracemalloc.start()
        run_battery(results, resamples=args.resamples, seed=0, jobs=1)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"traced peak    {peak / 2**20:7.0f} MB (serial run, Python + numpy allocations)")

    ok = wall < 15 and max(_rss_mb(resource.RUSAGE_SELF), _rss_mb(resource.RUSAGE_CHILDREN)) < 2048
    print("goal (< 15 s, < 2 GB):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
