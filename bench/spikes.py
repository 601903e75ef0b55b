"""Time the spikes test (Rozenas 2017) on the 2024 Russian presidential election.

Run: ``.venv/bin/python bench/spikes.py`` (needs the public data, see pollwatch.config).
Outside a battery the resamples run in this thread, so wall and CPU time agree on an idle
machine (2026-12-05, 91,939 stations, 1,000 resamples: about 1.1 s CPU for the share or the
turnout, 2.2-2.3 s before the kernel was blocked and vectorised).

For comparison: the R package ``spikes`` (CRAN) draws each resample with R-level loops
over a beta-binomial mixture; the issue that asked for this port reports that it takes
*minutes* for 100 resamples on ~95,000 stations (no published timing found). The goal is
at least 100x faster.
"""

from __future__ import annotations

import time

from pollwatch.config import default_data_dir
from pollwatch.forensics import station_arrays
from pollwatch.forensics.spikes import spikes
from pollwatch.results import load_results


def main() -> None:
    path = default_data_dir() / "ru" / "2024.csv.zip"
    data = station_arrays(load_results(path))
    spikes(data.subset(data.cast > 0), resamples=2)  # compile / load the numba cache
    print(f"{path.name}: {data.n} stations")
    for variable in ("share", "turnout"):
        for resamples in (100, 1000):
            start, cpu = time.perf_counter(), time.process_time()
            result = spikes(data, variable=variable, resamples=resamples)
            took, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(
                f"{variable:8} resamples={resamples:5}: {took:6.2f} s ({cpu:5.2f} s CPU)  "
                f"excess_share={result.excess_share:.4f} "
                f"[{result.excess_low:.4f}, {result.excess_high:.4f}]"
            )
    print("R package 'spikes': minutes for 100 resamples on ~95,000 stations (issue's figure).")


if __name__ == "__main__":
    main()
