"""How a server process runs (pollwatch.web.runtime): the collector's objects frozen and the
GIL handed over promptly while serving, everything restored after."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import httpx
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.web.app import create_app
from pollwatch.web.runtime import SWITCH_INTERVAL, THRESHOLD, prompt_switches, settled_heap


def test_settled_heap_freezes_then_restores() -> None:
    before = gc.get_threshold()
    with settled_heap((5_000, 7, 9)) as frozen:
        assert frozen > 1_000  # at least the test process's modules
        assert gc.get_threshold() == (5_000, 7, 9)
        cycle: list[object] = []
        cycle.append(cycle)  # made while frozen: still the collector's to free
        del cycle
        assert gc.collect() >= 1
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_started_app_serves_with_its_heap_settled(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", home=tmp_path)
    before = sys.getswitchinterval()
    with serve_in_thread(create_app(settings)) as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert gc.get_threshold() == THRESHOLD
        assert gc.get_freeze_count() > 10_000
        assert sys.getswitchinterval() == SWITCH_INTERVAL
    assert gc.get_freeze_count() == 0
    assert sys.getswitchinterval() == before


def test_prompt_switches_restores_the_interval() -> None:
    before = sys.getswitchinterval()
    with prompt_switches(0.001):
        assert sys.getswitchinterval() == 0.001
    assert sys.getswitchinterval() == before
