"""Run a coroutine to completion from a synchronous test, whatever else runs in the worker.

The browser tests' Playwright (sync API) keeps an event loop running in the main thread of the
pytest worker for the whole session (the browser fixture is session-scoped), and there
``asyncio.run`` refuses to start another loop. Which tests share a worker depends on how xdist
hands them out, so every synchronous test that runs a coroutine goes through ``run_async``: a
fresh loop in a fresh thread, its result or exception handed back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)`` on its own thread; re-raises what the coroutine raised."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    thread = threading.Thread(target=target, name="run_async")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]
