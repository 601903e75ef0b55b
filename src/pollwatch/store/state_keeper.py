"""The background step that keeps ``station_state`` current while reports come in.

:func:`update_station_state` brings every reporting station's stored master record up to
date (:meth:`pollwatch.store.master_cache.MasterCache.refresh`: rows already current are
left alone, stale stations are merged from their kept inputs and new reports and written
back), and, once the comparison table has been asked for, its rows
(:func:`pollwatch.store.comparison.refresh_comparison`: the stations with something new,
or all of them when the day shapes in use are due to be rebuilt). The
:class:`StateKeeper` thread runs it after the ingest writer has committed reports, never
inside a report's transaction: an observer's answer never waits for a merge, and a
restarted process finds the records of every station but those of the last few seconds.

Its cost is bounded: after a pass it sleeps at least :data:`MIN_INTERVAL` seconds and at
least :data:`IDLE_FACTOR` times as long as the pass took, so it takes at most a tenth of
one core from the process whatever the load (at 1,000 reports per second its passes merge
every station that got a report since the last one; measured with ``bench/ingest.py`` at
that rate with the earlier bound of a fifth, it cost about 0.08 ms of CPU per report, a
quarter of the server's own).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine, select

from pollwatch.store.comparison import refresh_comparison
from pollwatch.store.read_models import read_models
from pollwatch.store.tables import station_activity
from pollwatch.store.views import load_resolutions

__all__ = ["IDLE_FACTOR", "MIN_INTERVAL", "StateKeeper", "update_station_state"]

MIN_INTERVAL = 5.0
"""Seconds between two passes at least: a restarted process merges at most the stations
that got reports in the last few seconds before it stopped."""

IDLE_FACTOR = 9.0
"""A pass that took t seconds is followed by at least ``IDLE_FACTOR * t`` seconds of rest."""

_log = logging.getLogger(__name__)


def update_station_state(engine: Engine, election: str | None = None) -> int:
    """Bring the stored master records of ``election`` (every election when None) up to
    date; returns the stations merged from their reports in this call."""
    with engine.connect() as conn:
        if election is None:
            query = select(station_activity.c.election).distinct()
            names = [str(r[0]) for r in conn.execute(query)]
        else:
            names = [election]
    masters = read_models(engine).masters
    before = masters.merged
    for name in sorted(names):
        with engine.connect() as conn:
            counters = read_models(engine).masters.counters(conn, name)
            chosen = load_resolutions(conn, name)
        masters.refresh(engine, name, counters, chosen, sorted(counters))
        refresh_comparison(engine, name)  # only once someone has asked for the table
    return masters.merged - before


class StateKeeper:
    """A thread that runs :func:`update_station_state` after reports were stored.

    :meth:`poke` (the ingest writer calls it after each batch) asks for a pass; passes are
    spaced as the module says. :meth:`stop` ends the thread after its current pass.
    """

    def __init__(self, engine: Engine, *, min_interval: float = MIN_INTERVAL) -> None:
        self.engine = engine
        self.min_interval = min_interval
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.passes = 0

    def start(self) -> None:
        """Start the thread (idempotent). It waits for the first :meth:`poke`: a process
        just started serves its first dashboard requests without a pass competing for the
        CPU (they read back what they need)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(
                    target=self._run, name="pollwatch-station-state", daemon=True
                )
                self._thread.start()

    def poke(self) -> None:
        """Ask for a pass (reports were committed)."""
        self._wanted.set()

    def stop(self, timeout: float = 30.0) -> None:
        """End the thread after its current pass."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._wanted.set()
            thread.join(timeout)

    def running(self) -> bool:
        """Whether the thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._stopping.is_set():
                return
            self._wanted.clear()
            started = time.perf_counter()
            try:
                update_station_state(self.engine)
            except Exception as error:  # the next pass tries again; reports are unaffected
                _log.warning("updating the stored station state failed: %s", type(error).__name__)
            took = time.perf_counter() - started
            self.passes += 1
            if self._stopping.wait(max(self.min_interval, IDLE_FACTOR * took)):
                return
