"""The server's garbage collector, tuned so that a full collection never stalls the reports.

Why. CPython's cyclic garbage collector stops the whole process (every thread holds off
while it runs) and a full ("generation 2") collection traverses every tracked object. A
started pollwatch app holds about 200,000 of them (FastAPI's routes and models, the
catalogues, SQLAlchemy's tables, the forensics modules), so each full collection took 90 ms on
a quiet machine and 150–250 ms under load; at 1,000 reports per second one came every
1.5–2 s, and the event loop's stalls lined up with them: they were most of the reports'
p99 (``bench/ingest.py`` with the collector's callbacks logged, December 2026).

What. Once the app has started, :func:`settled_heap` collects once and moves every object
that exists then into the collector's permanent generation (:func:`gc.freeze`, Python 3.7+;
the same thing Instagram does to its Django servers, "Dismissing Python Garbage Collection
at Instagram", 2017): those objects live as long as the process and are never traversed
again. It also raises the first generation's threshold (:data:`THRESHOLD`), so the
collector runs less often on the short-lived objects of each request, which reference
counting frees anyway. Reference counting is untouched: nothing is kept longer, only
cycles among frozen objects would be, and the objects frozen are the app's own. At shutdown
the objects are unfrozen and the thresholds restored, so a test process that starts many
apps does not keep their cycles.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["THRESHOLD", "settled_heap"]

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
