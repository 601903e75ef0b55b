"""Calibration tables of the observation statistics on honest simulated elections.

Door counts (pollwatch.observe.estimates): for each pattern of counted hours (all day,
08-14, 16-20, two random two-hour windows), the share of honest stations flagged, the
share flagged when the official figure adds 10, 20 or 40 % stuffed ballots, and the
coverage of the 95 % interval. Quick count (pollwatch.observe.pvt): coverage of the 95 %
intervals of every candidate above 3 % and of turnout, and the false-alarm rate of the
joint test of the official figures, over a grid of election sizes, sample sizes and
response (full, 10 % of protocols missing at random). Home and early voting against their
registers (pollwatch.observe.registers): flag rates, honest and stuffed.

Usage: ``python bench/observe_stats.py [--only doors|registers|pvt] [--stations 2000]
[--elections 20] [--replications 600] [--seed 0]`` (the tables in docs/observe.md:
``--only doors --stations 1000``, ``--only registers``, ``--only pvt --replications 1200``;
about 2, 0.1 and 20 minutes on a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import time

from pollwatch.observe.calibration import (
    COVERAGE_PATTERNS,
    door_count_calibration,
    pvt_calibration,
    register_calibration,
)

GRID = ((300, 30), (300, 100), (5000, 30), (5000, 100), (5000, 400))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=2000, help="door-count stations/row")
    parser.add_argument("--replications", type=int, default=600, help="quick-count samples/cell")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--elections", type=int, default=20, help="door-count elections/row")
    parser.add_argument(
        "--only", choices=("doors", "registers", "pvt"), default=None, help="print one table"
    )
    args = parser.parse_args()
    if args.only in (None, "doors"):
        door_table(args)
    if args.only in (None, "registers"):
        print()
        register_table(args)
    if args.only in (None, "pvt"):
        print()
        pvt_table(args)
    return 0


def door_table(args: argparse.Namespace) -> None:
    """Door counts: flag rates, power and coverage per pattern of counted hours."""
    print(
        f"Door counts: {args.stations} stations per row over {args.elections} simulated "
        "elections, each with 40 fully covered reference stations"
    )
    print(
        "| counted hours | honest stations flagged | +10 % stuffed | +20 % | +40 % "
        "| 95 % interval covers the truth | worst election, honest |"
    )
    print("|---|---|---|---|---|---|---|")
    for pattern in COVERAGE_PATTERNS:
        started = time.perf_counter()
        d = door_count_calibration(
            pattern, stations=args.stations, seed=args.seed, elections=args.elections
        )
        rate = d.flag_rate
        print(
            f"| {pattern} | {rate[0.0]:.1%} | {rate[0.1]:.1%} | {rate[0.2]:.1%} | "
            f"{rate[0.4]:.1%} | {d.coverage:.1%} | {d.worst_honest:.1%} |"
            f"  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


def register_table(args: argparse.Namespace) -> None:
    """Home and early voting against their registers: flag rates when honest and stuffed."""
    print(f"Registers: {args.stations} stations per row")
    print("| register | honest stations flagged | +10 % | +20 % | +40 % |")
    print("|---|---|---|---|---|")
    for kind in ("home", "early"):
        r = register_calibration(kind, stations=args.stations, seed=args.seed).flag_rate
        print(f"| {kind} | {r[0.0]:.1%} | {r[0.1]:.1%} | {r[0.2]:.1%} | {r[0.4]:.1%} |")


def pvt_table(args: argparse.Namespace) -> None:
    """Quick count: coverage of every row and false alarms of the joint test per cell."""
    print(f"Quick count: {args.replications} samples per cell, candidates above 3 % and turnout")
    print(
        "| stations | sample | protocols missing | mean coverage | lowest row | highest row "
        "| joint test: honest elections rejected | replications without an estimate |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n, sample in GRID:
        for missing in (0.0, 0.1):
            started = time.perf_counter()
            c = pvt_calibration(
                n, sample, missing=missing, replications=args.replications, seed=args.seed
            )
            low = min(c.coverage, key=c.coverage.__getitem__)
            mean = sum(c.coverage.values()) / len(c.coverage)
            print(
                f"| {n:,} | {sample} | {missing:.0%} | {mean:.3f} | "
                f"{c.coverage[low]:.3f} ({low[0] if len(low) == 1 else 'turnout'}) | "
                f"{max(c.coverage.values()):.3f} | {c.false_alarms:.1%} | {c.pending} |"
                f"  ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    raise SystemExit(main())
