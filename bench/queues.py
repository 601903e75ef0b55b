"""Calibration tables of the ballots warning (pollwatch.observe.queues) on simulated days.

Two tables, each row ``--stations`` stations that had enough ballots and as many that ran
short, checked every hour:

1. the rule told the true mean curve, for several spreads of stations' day shapes
   (Dirichlet concentration: 20 = very uneven days, 200 = all alike);
2. what the service can know of the day's progress, for several true mean curves (two
   peaks, a busy morning, a noon rush, a busy evening) at the spreads 40 (the rule's
   assumption) and 20: (a) the true mean curve, (b) the prior (a flat day with
   PRIOR_SHAPE_CONCENTRATION), (c) the election's own curve from k stations counted all day.

Each row prints the false-alarm rate at stations that had enough ballots (all, and those
with less than 15 % to spare), the detection rate at stations that ran short (warned
before the last ballot went) and the median hours of warning.

Usage: ``python bench/queues.py [--stations 1000] [--seed 0] [--quick]``
"""

from __future__ import annotations

import argparse
import time

from pollwatch.observe.queues import PRIOR_SHAPE_CONCENTRATION, SHAPE_CONCENTRATION
from pollwatch.observe.simulate_queues import DAY_SHAPES, AlarmRates, simulate_ballot_alarms


def _row(label: str, r: AlarmRates, started: float) -> str:
    return (
        f"{label} | {r.false_alarm_rate:>12.1%} | {r.false_alarm_rate_tight:>26.1%} | "
        f"{r.detection_rate:>8.1%} | {r.median_lead_hours} ({time.perf_counter() - started:.0f} s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="only the spread 40, k = 20")
    args = parser.parse_args()
    n, seed = args.stations, args.seed
    print(f"{n} enough- and {n} short-stations per row, hourly checks")
    print()
    print("1. the true mean curve (two peaks), by spread of day shapes")
    print("concentration | false alarms | false alarms (<15 % spare) | detected | lead (h)")
    for concentration in (20.0, 40.0, 60.0, 200.0):
        started = time.perf_counter()
        r = simulate_ballot_alarms(n, concentration=concentration, seed=seed)
        print(_row(f"{concentration:>13.0f}", r, started))
    print()
    print(
        "2. what the rule is told: (a) the true mean curve (κ = "
        f"{SHAPE_CONCENTRATION:.0f}), (b) the flat prior (κ = {PRIOR_SHAPE_CONCENTRATION:.0f}), "
        "(c) the election's curve from k stations counted all day"
    )
    print(
        "true day  | spread | curve       | false alarms | false alarms (<15 % spare) | "
        "detected | lead (h)"
    )
    spreads = (40.0,) if args.quick else (40.0, 20.0)
    ks = (20,) if args.quick else (8, 20, 50)
    for concentration in spreads:
        for day_name, day in DAY_SHAPES.items():
            rules: list[tuple[str, str, int]] = [("(a) mean", "mean", 0), ("(b) prior", "prior", 0)]
            rules += [(f"(c) k = {k}", "election", k) for k in ks]
            for label, curve, k in rules:
                started = time.perf_counter()
                r = simulate_ballot_alarms(
                    n, concentration=concentration, seed=seed, mean_day=day, curve=curve,
                    reference_stations=k,
                )  # fmt: skip
                print(
                    _row(f"{day_name:<9} | {concentration:>6.0f} | {label:<11}", r, started),
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
