"""Statistical fingerprints of falsification in official polling-station results.

One module per method (listed once in :mod:`pollwatch.forensics.registry`); the battery
(:func:`run_battery`) runs them all on one election, :mod:`pollwatch.forensics.report`
renders the result, :mod:`pollwatch.forensics.compare` compares many elections.
"""

from __future__ import annotations

from pollwatch.forensics.battery import ForensicsReport, run_battery
from pollwatch.forensics.data import StationArrays, station_arrays
from pollwatch.forensics.registry import METHODS, Method, get_method, method_names

__all__ = [
    "METHODS",
    "ForensicsReport",
    "Method",
    "StationArrays",
    "get_method",
    "method_names",
    "run_battery",
    "station_arrays",
]
