"""How a server process runs Python: its collector and its thread switches tuned for latency.

:func:`serving_runtime` applies both while the app serves (``web/app.py``'s lifespan).

The collector. CPython's cyclic garbage collector stops the whole process (every thread holds off
while it runs) and a full ("generation 2") collection traverses every tracked object. A
started pollwatch app holds about 200,000 of them (FastAPI's routes and models, the
catalogues, SQLAlchemy's tables, the forensics modules), so each full collection took 90 ms on
a quiet machine and 150–250 ms under load; at 1,000 reports per second one came every
1.5–2 s, and the event loop's stalls lined up with them: they were most of the reports'
p99 (``bench/ingest.py`` with the collector's callbacks logged, December 2026).

Once the app has started, :func:`settled_heap` collects once and moves every object
that exists then into the collector's permanent generation (:func:`gc.freeze`, Python 3.7+;
the same thing Instagram does to its Django servers, "Dismissing Python Garbage Collection
at Instagram", 2017): those objects live as long as the process and are never traversed
again. It also raises the first generation's threshold (:data:`THRESHOLD`), so the
collector runs less often on the short-lived objects of each request, which reference
counting frees anyway. Reference counting is untouched: nothing is kept longer, only
cycles among frozen objects would be, and the objects frozen are the app's own. At shutdown
the objects are unfrozen and the thresholds restored, so a test process that starts many
apps does not keep their cycles.

Thread switches. The group-commit writer (:mod:`pollwatch.store.ingest`) is a thread that
waits on the database many times per batch, the event loop one that computes; each time
the writer's answer arrives it must wait for the loop to hand over the GIL, which CPython
forces only every switch interval (5 ms by default). At 1,000 reports per second a
PostgreSQL batch of ~100 reports took ~100 ms for 15 ms of the writer's CPU. With the
interval at :data:`SWITCH_INTERVAL` the writer gets the GIL back ten times sooner: batches
took 82 instead of 99 ms on PostgreSQL and 10–13 instead of 13–17 ms on SQLite, the
reports' p99 fell from 1.6 s to 0.55 s (PostgreSQL, falling behind at load 9) and from
92–96 to 78–81 ms (SQLite), for about 0.03 ms more CPU per report (``bench/ingest.py``
A/B runs, December 2026, see docs/deploy.md).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["SWITCH_INTERVAL", "THRESHOLD", "prompt_switches", "serving_runtime", "settled_heap"]

SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits for it (CPython's default: 0.005)."""

THRESHOLD = (10_000, 20, 20)
"""Generation thresholds while serving (CPython's default is ``(700, 10, 10)``): a young
collection every 10,000 net allocations instead of 700, each older generation after 20
collections of the one below. Chosen by ``bench/ingest.py`` A/B runs: see docs/deploy.md."""


@contextmanager
def settled_heap(threshold: tuple[int, int, int] = THRESHOLD) -> Iterator[int]:
    """Freeze what exists now and raise the thresholds; yields how many objects were frozen."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*threshold)
    try:
        yield gc.get_freeze_count()
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


@contextmanager
def prompt_switches(interval: float = SWITCH_INTERVAL) -> Iterator[None]:
    """Make CPython hand the GIL over every ``interval`` seconds; restored at the end."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@contextmanager
def serving_runtime() -> Iterator[int]:
    """Both tunings while a server serves; yields how many objects were frozen."""
    with prompt_switches(), settled_heap() as frozen:
        yield frozen
