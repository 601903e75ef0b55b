"""`pollwatch serve`: build the web app and hand it to uvicorn."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
) -> None:
    """Start the pollwatch web app: the coach, the observer app and the observe API."""
    import uvicorn

    from pollwatch.web.app import create_app

    uvicorn.run(create_app(), host=host, port=port, access_log=False, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add `pollwatch serve` to the main app."""
    app.command("serve")(serve)
