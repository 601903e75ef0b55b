"""`pollwatch data` commands: list and fetch the named public datasets."""

from __future__ import annotations

from pathlib import Path

import typer

from pollwatch.config import load_settings
from pollwatch.results.datasets import DATASETS, fetch_dataset, find_dataset

data_app = typer.Typer(
    help="Public election datasets: list them, download them.", no_args_is_help=True
)


@data_app.command("list")
def list_datasets() -> None:
    """List the named datasets and whether each is in the data folder."""
    data_dir = load_settings().data_dir
    for ds in DATASETS.values():
        here = find_dataset(ds.name, data_dir)
        typer.echo(f"{ds.name:12} {'present' if here else 'missing':8} {ds.title}")


@data_app.command("fetch")
def fetch(
    name: str = typer.Argument(..., help="Dataset name, e.g. ru-2024 (see `pollwatch data list`)."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Target folder (default: POLLWATCH_DATA)."
    ),
    url: str | None = typer.Option(None, "--url", help="Download from this mirror instead."),
) -> None:
    """Download a named dataset, verify its SHA-256 checksum and print its path."""
    target = fetch_dataset(name, data_dir or load_settings().data_dir, url=url)
    typer.echo(str(target))


def register(app: typer.Typer) -> None:
    """Add `pollwatch data` to the main app."""
    app.add_typer(data_app, name="data")
