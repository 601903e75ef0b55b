"""The station-state step in its own process (pollwatch.store.state_process), as
`pollwatch serve` runs it beside the workers: it stores the state of reports that a server
process committed, and it ends when told to or when its parent is gone."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.store.databases import database_url

from pollwatch.store import create_election, import_stations, open_store
from pollwatch.store.master_cache import load_counters
from pollwatch.store.reports import store_reports
from pollwatch.store.state_process import start_state_process
from pollwatch.store.station_state import load_state

DAY = datetime(2024, 3, 17, 8, 0, tzinfo=UTC)


def _count(station: str, k: int) -> dict[str, object]:
    end = DAY + timedelta(minutes=30 * k)
    return {
        "id": f"00000000-0000-4000-8000-{k:012d}",
        "election": "e",
        "station": station,
        "kind": "count",
        "observed_at": end.isoformat(),
        "window_start": (end - timedelta(minutes=30)).isoformat(),
        "window_end": end.isoformat(),
        "entered": 10 + k,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as found:
        yield found


def _wait(condition: object, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_the_state_process_stores_what_another_process_committed(url: str) -> None:
    engine = open_store(url)
    try:
        create_election(engine, "e", name="E")
        import_stations(engine, "e", [{"station": s} for s in ("1", "2", "3")])
        bodies = [_count(s, k) for k, s in enumerate(("1", "2", "2", "3"), start=1)]
        assert not [
            o
            for o in store_reports(engine, [(b, None) for b in bodies])
            if isinstance(o, Exception)
        ]
        with engine.connect() as conn:
            reporting = {s for s, c in load_counters(conn, "e").items() if c.mergeable}
        assert reporting == {"1", "2", "3"}
        process = start_state_process(url)
        try:
            _wait(
                lambda: set(load_state(engine, "e")) == reporting,
                "the state process did not store the stations' state",
            )
        finally:
            process.terminate()
            process.join(timeout=30)
        assert process.exitcode == 0  # SIGTERM ends it cleanly, after its pass
    finally:
        engine.dispose()


PARENT = """
import sys, time
from pollwatch.store.state_process import start_state_process
process = start_state_process(sys.argv[1])
print(process.pid, flush=True)
time.sleep(600)
"""


def test_the_state_process_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A server killed with SIGKILL cannot stop its helper: the helper notices alone."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    open_store(url).dispose()
    parent = subprocess.Popen([sys.executable, "-c", PARENT, url], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.kill()
        parent.wait(timeout=10)

        def gone() -> bool:
            try:
                with open(f"/proc/{child}/stat") as stat:
                    return stat.read().split(") ")[1].split()[0] == "Z"  # a zombie: it ended
            except FileNotFoundError:
                return True

        _wait(gone, "the state process outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
