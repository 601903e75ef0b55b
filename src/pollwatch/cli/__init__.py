"""The ``pollwatch`` command line: thin commands over library functions.

Each part registers its commands in its own module (``cli/forensics.py``, ``cli/coach.py``,
...). Errors derived from :class:`pollwatch.errors.PollwatchError` are printed as one line
``Error: ...`` on stderr with exit code 1; no traceback for bad input.
"""

from __future__ import annotations

import sys

import typer

from pollwatch.cli import backup, bot, coach, data, forensics, observe, observe_demo, serve
from pollwatch.errors import PollwatchError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="pollwatch",
    help="Election forensics, independent observation and a dialogue coach.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
forensics.register(app)
data.register(app)
coach.register(app)
serve.register(app)
observe.register(app)
observe_demo.register(app)
backup.register(app)
bot.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; library errors become ``Error: ...`` and exit status 1."""
    try:
        status = app(args=argv, prog_name="pollwatch", standalone_mode=False)
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
