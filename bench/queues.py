"""Calibration tables of the ballots warning (pollwatch.observe.queues) on simulated days.

For several spreads of stations' day shapes (Dirichlet concentration: 20 = very uneven days,
200 = all alike), prints the false-alarm rate at stations that had enough ballots (all, and
those with less than 15 % to spare), the detection rate at stations that ran short (warned
before the last ballot went) and the median hours of warning.

Usage: ``python bench/queues.py [--stations 1000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import time

from pollwatch.observe.simulate_queues import simulate_ballot_alarms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{args.stations} enough- and {args.stations} short-stations per row, hourly checks")
    print("concentration | false alarms | false alarms (<15 % spare) | detected | lead (h)")
    for concentration in (20.0, 40.0, 60.0, 200.0):
        started = time.perf_counter()
        r = simulate_ballot_alarms(args.stations, concentration=concentration, seed=args.seed)
        print(
            f"{concentration:>13.0f} | {r.false_alarm_rate:>12.1%} | "
            f"{r.false_alarm_rate_tight:>26.1%} | {r.detection_rate:>8.1%} | "
            f"{r.median_lead_hours} ({time.perf_counter() - started:.0f} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
