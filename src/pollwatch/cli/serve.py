"""`pollwatch serve`: build the web app and hand it to uvicorn (one or several processes)."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Server processes sharing the port (each with its own report writer; they "
        "share the database, so state stays in it).",
    ),
) -> None:
    """Start the pollwatch web app: the coach, the observer app and the observe API."""
    import uvicorn

    from pollwatch.logs import logging_config

    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1;
    # the app believes forwarded headers only from the trusted_proxies setting
    # (web/security.py TrustedProxies).
    options = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_level": "warning",
        "proxy_headers": False,
        "server_header": False,
        # JSON lines on stderr, nothing that identifies a person (pollwatch/logs.py)
        "log_config": logging_config(),
    }
    from pollwatch.config import load_settings
    from pollwatch.store import open_store
    from pollwatch.store.state_process import start_state_process

    url = load_settings().resolved_database_url()
    open_store(url).dispose()  # migrated once, before the workers and the keeper start
    # One station-state process for the whole service, beside the workers: its passes
    # never hold a worker's GIL (store/state_process.py).
    keeper = start_state_process(url)
    try:
        if workers == 1:
            from pollwatch.web.app import create_worker_app

            uvicorn.run(create_worker_app(), **options)  # type: ignore[arg-type]
        else:
            # Each worker process builds its own app (engine, writer, token cache) from the
            # environment; migrations are safe to run concurrently (store/migrate.py).
            uvicorn.run(
                "pollwatch.web.app:create_worker_app",
                factory=True,
                workers=workers,
                **options,  # type: ignore[arg-type]
            )
    finally:
        keeper.terminate()
        keeper.join(timeout=30)


def register(app: typer.Typer) -> None:
    """Add `pollwatch serve` to the main app."""
    app.command("serve")(serve)
