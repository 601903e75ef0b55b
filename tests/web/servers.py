"""Serving an app on loopback for tests: a real uvicorn server in a background thread.

:func:`serve_store` is what most server fixtures do: the web app over a database the fixture
seeded, with the rate limit off, its engine disposed when the block ends.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from pollwatch.config import Settings
from pollwatch.web.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )  # as `pollwatch serve` runs it: forwarded headers only through the app's own rule
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sqlite_url(folder: Path) -> str:
    """A fresh SQLite database in ``folder`` (the fixture's temporary one)."""
    return f"sqlite:///{folder / 'db.sqlite'}"


@contextmanager
def serve_store(url: str, home: Path, **settings: Any) -> Iterator[str]:
    """Serve the web app over the database at ``url`` (``home`` its home and data folder,
    no rate limit unless ``settings`` say otherwise) until the block ends; yields its URL."""
    config = Settings(
        **{"data_dir": home, "home": home, "database_url": url, "rate_limit": 0, **settings}
    )
    app = create_app(config)
    try:
        with serve_in_thread(app) as base:
            yield base
    finally:
        app.state.engine.dispose()
