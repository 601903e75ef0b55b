"""A whole country's partial registry through ``pollwatch stations import``'s library call.

94,000 stations (the 2024 file's size) with generated addresses
(:func:`pollwatch.guide.simulate.synthetic_registry`), coordinates on a tenth of them (so the
offline time-zone lookup runs), schedules, and one row in a hundred spoiled in one of four
ways (an empty id, a latitude of 91, an unknown time zone, an unreadable schedule). Prints
how long reading, checking and writing take on SQLite, and how many problems were named.

Run: ``.venv/bin/python bench/registry_import.py [--stations 94000] [--seed 1]``
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from pollwatch.guide.simulate import synthetic_registry
from pollwatch.store import open_store
from pollwatch.store.registry import check_station_rows, import_stations, read_station_file

COLUMNS = ["station", "name", "country", "city", "region", "address", "lat", "lon", "timezone",
           "schedule"]  # fmt: skip


def write_registry(path: Path, stations: int, seed: int) -> int:
    """Write the registry CSV; returns the number of spoiled rows."""
    rng = np.random.default_rng(seed)
    triples = [
        (f"Region {i // 1000}", f"TIK {i // 100}", str(i % 1000 + 1)) for i in range(stations)
    ]
    rows = synthetic_registry(triples, seed=seed)
    spoiled = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for i, row in enumerate(rows):
            row["station"] = f"{row['station']}-{i}"
            row["schedule"] = "2024-03-15 08:00-20:00; 2024-03-16 08:00-20:00"
            row["timezone"] = "Europe/Moscow"
            if i % 10 == 0:
                row["lat"], row["lon"], row["timezone"] = 55.75, 37.62, ""
            if rng.random() < 0.01:
                spoiled += 1
                kind = int(rng.integers(4))
                if kind == 0:
                    row["station"] = ""
                elif kind == 1:
                    row["lat"], row["lon"] = 91, 37.6
                elif kind == 2:
                    row["timezone"] = "Mars/Olympus"
                else:
                    row["schedule"] = "all day long"
            writer.writerow(row)
    return spoiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=94_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.csv"
        spoiled = write_registry(path, args.stations, args.seed)
        size = path.stat().st_size
        start = time.perf_counter()
        rows = read_station_file(path)
        read = time.perf_counter() - start
        start = time.perf_counter()
        checked = check_station_rows(rows, file=str(path))
        check = time.perf_counter() - start
        engine = open_store(f"sqlite:///{folder}/bench.db")
        start = time.perf_counter()
        summary = import_stations(engine, "bench", path, strict=False)
        total = time.perf_counter() - start
        engine.dispose()
    print(f"registry: {args.stations:,} stations, {size / 1e6:.1f} MB, {spoiled} spoiled rows")
    print(f"read {read:.2f} s, check {check:.2f} s, read+check+write (SQLite) {total:.2f} s")
    print(
        f"imported {summary.stations:,} stations; {len(summary.problems)} problems "
        f"({summary.skipped_rows} rows left out); checked rows {len(checked.rows):,}"
    )


if __name__ == "__main__":
    main()
