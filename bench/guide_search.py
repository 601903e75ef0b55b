"""Time the guide's station finder on a country-sized registry (goal: p99 < 50 ms per search).

The registry: every polling station of Russia's 2024 presidential election (region,
territorial commission, number; ~94,000) with generated street addresses
(``pollwatch.guide.simulate``). Queries as voters type them: regions and towns in Cyrillic and
Latin, with typos, station numbers, streets, "ulitsa lenina 5". Prints the index build time
and the latency of each query (cold: first time the word is seen; warm: repeated), p50/p99.

Usage: ``python bench/guide_search.py [--queries 2000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from pollwatch.config import load_settings
from pollwatch.guide.places import fold, warm
from pollwatch.guide.search import StationIndex
from pollwatch.guide.simulate import STREETS, synthetic_registry
from pollwatch.results import load_results
from pollwatch.results.datasets import find_dataset


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 6:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]


def _queries(rows: list[dict[str, object]], n: int, rng: random.Random) -> list[str]:
    regions = sorted({str(r["region"]) for r in rows})
    towns = sorted({str(r["city"]) for r in rows})
    out = []
    for _ in range(n):
        kind = rng.randrange(7)
        row = rows[rng.randrange(len(rows))]
        if kind == 0:
            out.append(rng.choice(regions))
        elif kind == 1:
            out.append(fold(rng.choice(regions)))  # Latin
        elif kind == 2:
            out.append(_typo(fold(rng.choice(towns)), rng))
        elif kind == 3:
            out.append(str(row["name"]).split("№")[1])  # a station number
        elif kind == 4:
            out.append(f"{row['city']} {rng.choice(STREETS)}")
        elif kind == 5:
            out.append(f"ulitsa {fold(rng.choice(STREETS))} {rng.randrange(1, 120)}")
        else:
            out.append(f"{fold(str(row['city']))[:5]} {str(row['name']).split('№')[1]}")
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = find_dataset("ru-2024", load_settings().data_dir)
    if path is None:
        print("ru-2024 not found: set POLLWATCH_DATA (the shared data folder)")
        return 1
    stations = load_results(path).stations
    triples = zip(stations["region"], stations["district"], stations["station"], strict=True)
    rows = synthetic_registry(triples, seed=args.seed)
    started = time.perf_counter()
    warm()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    index = StationIndex.build(rows)
    built = time.perf_counter() - started
    print(f"registry: {len(rows):,} stations, {len(index.vocabulary):,} distinct words")
    print(f"place names loaded in {loaded:.2f} s; index built in {built:.2f} s")
    queries = _queries(rows, args.queries, random.Random(args.seed))
    for label in ("cold", "warm"):
        times = []
        matched = []
        for q in queries:
            t = time.perf_counter()
            result = index.search(q)
            times.append((time.perf_counter() - t) * 1000)
            matched.append(result.matched)
        print(
            f"{label}: {len(queries)} searches, p50 {_pct(times, 0.5):.2f} ms, "
            f"p99 {_pct(times, 0.99):.2f} ms, max {max(times):.2f} ms; "
            f"{sum(1 for m in matched if m) / len(matched):.0%} found something, "
            f"median {statistics.median(matched):.0f} stations matched"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
