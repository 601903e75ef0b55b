"""Shared fixtures: the public data folder and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from pollwatch.config import default_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The public data folder (POLLWATCH_DATA, which `make test` sets); skips when absent."""
    d = default_data_dir()
    if not (d / "ru").is_dir():
        pytest.skip(f"public election data not found in {d} (set POLLWATCH_DATA)")
    return d
