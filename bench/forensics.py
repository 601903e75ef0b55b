"""Time ``pollwatch forensics`` on the 2024 Russian presidential election, as a user runs it.

Goal (issue 10): the whole command, ``pollwatch forensics 2024.csv.zip --resamples 10000
--json out.json``, in at most 5 s of wall time on 2 cores with a warm numba cache.

Prints, in one run:

* the whole command as a separate process (imports, loading, every method, the JSON):
  wall and CPU seconds, **cold** (an empty numba cache, every kernel compiled) once and
  **warm** ``--repeat`` times, with the default threads (two where there are two cores)
  and with ``--jobs 1``;
* the stages inside one process, in wall and CPU seconds: imports, loading, the battery
  (per method: wall seconds in its thread), the HTML report in each language, peak
  resident memory;
* a plain per-station Python loop of the integer-percentage Monte Carlo at
  ``--baseline-resamples`` (1,000 by default) beside the compiled kernel on the same
  probabilities: what the kernel is worth.

CPU seconds are given beside wall seconds because the machine the figures come from is
shared: wall time there measures the neighbours as much as the code.

Usage: ``python bench/forensics.py [--repeat 3] [--resamples 10000] [--baseline-resamples 1000]``
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pollwatch.config import load_settings
from pollwatch.results.datasets import find_dataset

GOAL_SECONDS = 5.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def whole_command(
    path: Path, resamples: int, *, jobs: int | None, cache: str | None
) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of one ``python -m pollwatch forensics`` process."""
    env = dict(os.environ)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pollwatch",
            "forensics",
            str(path),
            "--resamples",
            str(resamples),
            "--json",
            str(Path(tmp) / "out.json"),
        ]
        if jobs is not None:
            cmd += ["--jobs", str(jobs)]
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        return time.perf_counter() - t0, _children_cpu() - cpu0


def python_monte_carlo(p_turnout: np.ndarray, p_leader: np.ndarray, resamples: int) -> np.ndarray:
    """The integer-percentage Monte Carlo as a plain loop: each resample, each station."""
    draw = random.Random(0).random
    out = np.zeros((resamples, 3), dtype=np.int64)
    pt, pl = p_turnout.tolist(), p_leader.tolist()
    for r in range(resamples):
        t_hits = s_hits = either = 0
        for a, b in zip(pt, pl, strict=True):
            hit_t = draw() < a
            hit_s = draw() < b
            t_hits += hit_t
            s_hits += hit_s
            either += hit_t or hit_s
        out[r] = (t_hits, s_hits, either)
    return out


def stages(path: Path, resamples: int) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    from pollwatch.forensics.battery import default_jobs, run_battery
    from pollwatch.results import load_results

    print(
        f"  imports            {time.perf_counter() - t0:6.2f} s wall "
        f"{time.process_time() - c0:5.2f} s CPU"
    )
    t0, c0 = time.perf_counter(), time.process_time()
    results = load_results(path)
    print(
        f"  load               {time.perf_counter() - t0:6.2f} s wall "
        f"{time.process_time() - c0:5.2f} s CPU"
        f" ({results.n_stations:,} stations)"
    )
    t0, c0 = time.perf_counter(), time.process_time()
    report = run_battery(results, resamples=resamples, seed=0, jobs=0)
    wall = time.perf_counter() - t0
    print(
        f"  battery            {wall:6.2f} s wall {time.process_time() - c0:5.2f} s CPU, "
        f"{default_jobs()} threads"
    )
    for name, secs in sorted(report.timings.items(), key=lambda kv: -kv[1]):
        print(f"    {name:22s} {secs:6.2f} s")
    from pollwatch.forensics.report import render_html

    for lang in ("en", "ru"):
        t0 = time.perf_counter()
        page = render_html(report, lang)
        took = time.perf_counter() - t0
        print(f"  report {lang}          {took:6.2f} s ({len(page) / 1e6:.1f} MB)")
    rss = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    print(f"  peak RSS           {rss / 1024:6.0f} MB")


def baseline(path: Path, resamples: int) -> None:
    from pollwatch.forensics._kernels import integer_counts_monte_carlo, integer_probabilities
    from pollwatch.forensics.data import station_arrays
    from pollwatch.results import load_results

    d = station_arrays(load_results(path))
    keep = (d.registered >= 100) & (d.cast > 0) & (d.issued <= d.registered)
    reg, iss = d.registered[keep], d.issued[keep]
    cast, lead = d.cast[keep], d.leader[keep]
    p_t, p_t5, _ = integer_probabilities(reg, iss / reg)
    p_s, p_s5, _ = integer_probabilities(cast, lead / cast)
    integer_counts_monte_carlo(p_t[:10], p_t5[:10], p_s[:10], p_s5[:10], 10, 0)  # compile
    t0 = time.perf_counter()
    integer_counts_monte_carlo(p_t, p_t5, p_s, p_s5, resamples, 0)
    kernel = time.perf_counter() - t0
    t0 = time.perf_counter()
    python_monte_carlo(p_t, p_s, resamples)
    loop = time.perf_counter() - t0
    print(
        f"  integer Monte Carlo, {len(reg):,} stations × {resamples:,} resamples: "
        f"plain Python loop {loop:.1f} s, compiled kernel {kernel:.2f} s "
        f"({loop / max(kernel, 1e-9):,.0f}×)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--baseline-resamples", type=int, default=1_000)
    args = parser.parse_args()

    path = find_dataset("ru-2024", load_settings().data_dir)
    if path is None:
        print("ru/2024.csv.zip not found in the data folder (POLLWATCH_DATA); nothing to time")
        return 1
    print(f"{path}, {args.resamples:,} resamples, {os.cpu_count()} cores")
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    print("whole command (python -m pollwatch forensics FILE --json out.json):")
    with tempfile.TemporaryDirectory() as cache:
        wall, cpu = whole_command(path, args.resamples, jobs=None, cache=cache)
    print(f"  cold numba cache   {wall:6.2f} s wall {cpu:6.2f} s CPU")
    whole_command(path, args.resamples, jobs=None, cache=None)  # warm the default cache
    best = float("inf")
    for jobs in (None, 1):
        runs = [
            whole_command(path, args.resamples, jobs=jobs, cache=None) for _ in range(args.repeat)
        ]
        walls = sorted(w for w, _ in runs)
        cpus = sorted(c for _, c in runs)
        label = "default threads" if jobs is None else "--jobs 1       "
        print(
            f"  warm, {label} median {walls[len(walls) // 2]:6.2f} s wall "
            f"(best {walls[0]:.2f}), {cpus[len(cpus) // 2]:6.2f} s CPU"
        )
        if jobs is None:
            best = walls[0]

    print("stages in one process:")
    stages(path, args.resamples)
    print("what the compiled kernel is worth:")
    baseline(path, args.baseline_resamples)
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"goal (≤ {GOAL_SECONDS:.0f} s warm, default threads):",
        "met" if best <= GOAL_SECONDS else "NOT met",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
