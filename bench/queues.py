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

3. (with ``--store N``) the cost of the public status's ballots warning in the store: N
   stations on SQLite, half closed in Tokyo (counted all day, hour by hour), half open in
   Belgrade; the first status at a release time computes the election's day shapes, later
   ones reuse them.

Usage: ``python bench/queues.py [--stations 1000] [--seed 0] [--quick] [--store 2000]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pollwatch.observe.queues import PRIOR_SHAPE_CONCENTRATION, SHAPE_CONCENTRATION
from pollwatch.observe.simulate_queues import DAY_SHAPES, AlarmRates, simulate_ballot_alarms


def _row(label: str, r: AlarmRates, started: float) -> str:
    return (
        f"{label} | {r.false_alarm_rate:>12.1%} | {r.false_alarm_rate_tight:>26.1%} | "
        f"{r.detection_rate:>8.1%} | {r.median_lead_hours} ({time.perf_counter() - started:.0f} s)"
    )


def _store_cost(n: int) -> None:
    from pollwatch.store import create_election, import_stations, open_store
    from pollwatch.store.public import public_station_share_seen, public_station_status
    from pollwatch.store.reports import store_reports

    day = "2024-03-17 08:00-20:00"
    zones = {"tokyo": ("Asia/Tokyo", datetime(2024, 3, 16, 23, tzinfo=UTC)),
             "belgrade": ("Europe/Belgrade", datetime(2024, 3, 17, 7, tzinfo=UTC))}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        engine = open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
        create_election(engine, "b", name="ballots bench")
        names = [(f"{place}-{i}", place) for i in range(n // 2) for place in zones]
        import_stations(engine, "b", [
            {"station": s, "ballots_received": 1500, "timezone": zones[p][0], "schedule": day}
            for s, p in names
        ])  # fmt: skip
        started = time.perf_counter()
        stored = 0
        for place, (_, opens) in zones.items():
            hours = 12 if place == "tokyo" else 6
            for hour in range(hours):
                start, end = opens + timedelta(hours=hour), opens + timedelta(hours=hour + 1)
                batch = [
                    ({"id": str(uuid.uuid4()), "election": "b", "station": s, "kind": "count",
                      "observed_at": end.isoformat(), "window_start": start.isoformat(),
                      "window_end": end.isoformat(), "entered": 90, "ballots_issued": 90,
                      "queue": 20}, None)
                    for s, p in names if p == place
                ]  # fmt: skip
                for i in range(0, len(batch), 500):
                    store_reports(engine, batch[i : i + 500], now=end + timedelta(minutes=1))
                stored += len(batch)
        print(f"3. store: {n} stations, {stored} reports stored in "
              f"{time.perf_counter() - started:.0f} s (SQLite)")  # fmt: skip
        now = datetime(2024, 3, 17, 13, 20, tzinfo=UTC)
        own = {"timezone": zones["belgrade"][0], "schedule": day, "hours": None}
        started = time.perf_counter()
        seen = public_station_share_seen(engine, "b", own, [], now - timedelta(minutes=10))
        first = time.perf_counter() - started
        assert seen is not None
        print(f"   day shapes at one release time (first status): {first * 1000:.0f} ms, "
              f"{seen.reference_stations} reference stations, "
              f"share seen {seen.share:.3f} ({seen.curve})")  # fmt: skip
        times = []
        for s, _ in [x for x in names if x[1] == "belgrade"][:200]:
            started = time.perf_counter()
            public_station_status(engine, "b", s, now)
            times.append(time.perf_counter() - started)
        print(f"   public status, shapes reused: median {statistics.median(times) * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms over {len(times)} stations")  # fmt: skip
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="only the spread 40, k = 20")
    parser.add_argument("--store", type=int, default=0, help="also time the store (stations)")
    parser.add_argument("--store-only", action="store_true", help="only the store timing")
    args = parser.parse_args()
    n, seed = args.stations, args.seed
    if args.store_only:
        _store_cost(args.store or 2000)
        return 0
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
    if args.store:
        print()
        _store_cost(args.store)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
