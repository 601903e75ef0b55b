"""Statistical fingerprints of falsification in official polling-station results."""

from __future__ import annotations

from pollwatch.forensics.data import StationArrays, station_arrays

__all__ = ["StationArrays", "station_arrays"]
