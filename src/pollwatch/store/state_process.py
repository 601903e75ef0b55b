"""The station-state step in a process of its own, beside the server's workers.

Why a process. :class:`pollwatch.store.state_keeper.StateKeeper` merges the stations that
got reports into the stored state; in a server process it is a thread, and a pass (up to
half a second of CPU at 1,000 reports per second) then holds Python's GIL in turns with the
event loop: while it runs the loop answers reports at about half its speed, which showed as
the second-largest part of the reports' p99 after the collector (``bench/ingest.py``, keeper
thread on against off: p99 214 against 141 ms at the same load). In its own process it runs
on the other core and only shares the database; with ``--workers N`` there is one pass for
the whole service instead of one per worker.

The process pokes its keeper every :data:`POKE_INTERVAL` seconds (a pass on a database with
nothing new leaves every stored row alone); the keeper's own spacing still bounds it to a
tenth of a core. It runs at a lower scheduling priority (:data:`NICENESS`), so on a busy
machine the answers to observers come first, and it ends when the server that started it
ends, even if that one was killed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from multiprocessing.process import BaseProcess

__all__ = ["NICENESS", "POKE_INTERVAL", "keep_state", "start_state_process"]

POKE_INTERVAL = 1.0
"""Seconds between two requests for a pass (the keeper spaces passes further itself)."""

NICENESS = 5
"""Added to the process's niceness: its passes yield the CPU to the server's answers."""

_log = logging.getLogger(__name__)


def keep_state(database_url: str, parent: int, *, poke_interval: float = POKE_INTERVAL) -> None:
    """Run a :class:`StateKeeper` over ``database_url`` until process ``parent`` is gone
    or this process gets SIGTERM/SIGINT."""
    from pollwatch.store import open_store
    from pollwatch.store.state_keeper import StateKeeper

    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    engine = open_store(database_url)
    keeper = StateKeeper(engine)
    keeper.start()
    try:
        while not stopping and os.getppid() == parent:
            keeper.poke()
            time.sleep(poke_interval)
    finally:
        keeper.stop()
        engine.dispose()


def start_state_process(database_url: str) -> BaseProcess:
    """Start :func:`keep_state` in a fresh (spawned) process; the caller stops it."""
    context = multiprocessing.get_context("spawn")  # no copy of the caller's threads or sockets
    process = context.Process(
        target=keep_state,
        args=(database_url, os.getpid()),
        name="pollwatch-station-state",
        daemon=True,
    )
    process.start()
    return process
