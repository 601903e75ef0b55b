"""One pool of threads for the battery's methods and for the resamples inside them.

:func:`pollwatch.forensics.battery.run_battery` runs each method in a thread of one pool
and makes that pool the *current* one (a context variable, so two batteries running at
once in one process never share it). A method whose resamples are independent splits
them into fixed chunks and hands them to :func:`run_chunks`: chunks go to idle threads
of the same pool, and any chunk no thread has picked up by the time the method needs it
runs in the method's own thread. So a long method near the end of the battery spreads
over both cores instead of leaving one idle, no task ever waits for a thread that
waits in turn (no deadlock), and there is one parallel mechanism, not a pool per method.

The chunks are fixed by the method (never by the number of threads) and each draws from
its own seeded generator, so the answer for a seed does not depend on ``jobs``. The
kernels release the GIL (numba ``nogil=True``), which is what lets threads share cores.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["current_pool", "run_chunks", "using_pool"]

T = TypeVar("T")

_POOL: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "pollwatch_forensics_pool", default=None
)


def current_pool() -> Executor | None:
    """The pool of the battery this code runs in, or ``None`` (run everything here)."""
    return _POOL.get()


@contextmanager
def using_pool(pool: Executor | None) -> Iterator[None]:
    """Make ``pool`` the current pool inside the ``with`` block (in this context)."""
    token = _POOL.set(pool)
    try:
        yield
    finally:
        _POOL.reset(token)


def submit_in_context(pool: Executor, fn: Callable[[], T]) -> Future[T]:
    """``pool.submit(fn)`` with this context (and so the current pool) carried over."""
    return pool.submit(contextvars.copy_context().run, fn)


def run_chunks(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Results of ``tasks`` in order: idle threads of the current pool take what they can,
    this thread runs the first task and then every task no thread has started, before it
    waits for any that one has (waiting first would leave this core idle while chunks
    queue). If a task fails, the tasks not yet started are cancelled and the error raised.
    """
    pool = current_pool()
    if pool is None or len(tasks) <= 1:
        return [task() for task in tasks]
    futures = [submit_in_context(pool, task) for task in tasks[1:]]
    try:
        done: dict[int, T] = {0: tasks[0]()}
        for index, (future, task) in enumerate(zip(futures, tasks[1:], strict=True), 1):
            if future.cancel():
                done[index] = task()
        for index, future in enumerate(futures, 1):
            if index not in done:
                done[index] = future.result()
    finally:
        for future in futures:
            future.cancel()
    return [done[index] for index in range(len(tasks))]
