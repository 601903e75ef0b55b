"""The ``pollwatch`` command line: thin commands over library functions.

Each part registers its commands in its own module (``cli/forensics.py``, ``cli/coach.py``,
...). :func:`main` imports only the part that owns the command asked for (:data:`PARTS`):
``pollwatch forensics`` does not pay for the coach's, the web app's or the observers'
imports (about a second and a half), so a short analysis starts at once. ``pollwatch
--help`` and an unknown command load every part. ``app`` (every command, for tests and
the docs script) is built on first use.

Errors derived from :class:`pollwatch.errors.PollwatchError` are printed as one line
``Error: ...`` on stderr with exit code 1; no traceback for bad input.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from pollwatch.errors import PollwatchError

__all__ = ["PARTS", "app", "build_app", "main", "run"]

PARTS: dict[str, tuple[str, ...]] = {
    "forensics": ("forensics", "demo"),
    "data": ("data",),
    "coach": ("coach",),
    "serve": ("serve",),
    "observe": (
        "elections",
        "stations",
        "results",
        "observers",
        "coordinators",
        "export",
        "ledger",
        "pvt",
    ),
    "observe_demo": ("demo-observe",),
    "backup": ("backup", "restore"),
    "bot": ("bot",),
}
"""Module of ``pollwatch.cli`` → the top-level commands it registers, in help order
(a test checks it against what each module registers)."""


def build_app(parts: tuple[str, ...] | None = None) -> typer.Typer:
    """A Typer app with the commands of ``parts`` (default: every part).

    A partial app gets an empty callback so that it stays a group even with one command
    (Typer would otherwise run a lone command without its name).
    """
    new = typer.Typer(
        callback=None if parts is None else _group,
        name="pollwatch",
        help="Election forensics, independent observation and a dialogue coach.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for part in parts if parts is not None else tuple(PARTS):
        importlib.import_module(f"pollwatch.cli.{part}").register(new)
    return new


def _group() -> None:
    """Election forensics, independent observation and a dialogue coach."""


def _part_of(argv: list[str]) -> str | None:
    """The part owning the command in ``argv`` (its first word), or ``None``."""
    if not argv:
        return None
    for part, commands in PARTS.items():
        if argv[0] in commands:
            return part
    return None


_full_app: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """``app``: every command, built on first use (PEP 562)."""
    global _full_app
    if name == "app":
        if _full_app is None:
            _full_app = build_app()
        return _full_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; library errors become ``Error: ...`` and exit status 1."""
    args = list(sys.argv[1:] if argv is None else argv)
    part = _part_of(args)
    cli = build_app((part,)) if part is not None else __getattr__("app")
    try:
        status = cli(args=args, prog_name="pollwatch", standalone_mode=False)
    except PollwatchError as exc:
        typer.echo(f"Error: {exc}", err=True)
        return 1
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    # With standalone_mode=False click returns a command's `typer.Exit(code)` as its value.
    return status if isinstance(status, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
