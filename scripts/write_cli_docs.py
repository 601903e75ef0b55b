"""Write docs/cli.md, the command-line reference, from every command's ``--help``.

Run ``python scripts/write_cli_docs.py`` after changing a command, its options or their
help; ``tests/forensics/test_cli_forensics.py`` fails while docs/cli.md differs from what
this script writes. The help is rendered at a fixed width and without colour, so the file
is the same on every machine.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from pollwatch.cli import app

CLI_MD = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
COMMAND = "python scripts/write_cli_docs.py"
"""How to regenerate the file; said in its header and in the test's failure message."""

_ENV = {
    "COLUMNS": "100",
    "TERMINAL_WIDTH": "100",
    "NO_COLOR": "1",
    "_TYPER_FORCE_DISABLE_TERMINAL": "1",
}


def commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every visible command and sub-command below ``group``, as name paths, sorted."""
    out: list[tuple[str, ...]] = []
    for name in sorted(group.commands):
        cmd = group.commands[name]
        if getattr(cmd, "hidden", False):
            continue
        out.append((*prefix, name))
        if hasattr(cmd, "commands"):
            out.extend(commands(cmd, (*prefix, name)))
    return out


def cli_reference() -> str:
    """The CLI reference, as docs/cli.md holds it: every command's --help, plain text."""
    runner = CliRunner()
    root = typer.main.get_command(app)
    parts = [
        "# Command-line reference",
        "",
        "Generated from `pollwatch --help`; regenerate with",
        f"`{COMMAND}`.",
    ]
    for path in [(), *commands(root)]:
        result = runner.invoke(app, [*path, "--help"], env=_ENV, prog_name="pollwatch")
        if result.exit_code != 0:
            raise RuntimeError(f"pollwatch {' '.join(path)} --help failed:\n{result.output}")
        title = " ".join(("pollwatch", *path))
        help_text = "\n".join(line.rstrip() for line in result.output.strip().splitlines())
        parts += ["", f"## `{title}`", "", "```text", help_text, "```"]
    return "\n".join(parts) + "\n"


def main() -> int:
    """Rewrite docs/cli.md; say whether it changed."""
    text = cli_reference()
    old = CLI_MD.read_text(encoding="utf-8") if CLI_MD.exists() else None
    if old == text:
        sys.stdout.write(f"{CLI_MD} is up to date\n")
        return 0
    CLI_MD.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {CLI_MD}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
