"""Write the settings table of docs/deploy.md from ``pollwatch.config.SETTINGS``.

Run ``python scripts/write_settings_docs.py`` after adding or changing a setting;
``tests/test_config.py`` fails while the table differs from what this script writes. Only
the lines between the two markers are replaced; the rest of docs/deploy.md is prose.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pollwatch.config import SETTINGS, Setting

DEPLOY_MD = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"
COMMAND = "python scripts/write_settings_docs.py"
"""How to regenerate the table; said in the marker and in the test's failure message."""

BEGIN = f"<!-- settings table: written by `{COMMAND}` from pollwatch.config.SETTINGS -->"
END = "<!-- end of settings table -->"


def _default(setting: Setting) -> str:
    return setting.default if setting.default_text else f"`{setting.default}`"


def settings_table() -> str:
    """The table (with its markers): variable, default and help of every setting."""
    rows = [
        BEGIN,
        "| variable | default | what it does |",
        "| --- | --- | --- |",
        *(f"| `{s.env}` | {_default(s)} | {s.help} |" for s in SETTINGS),
        END,
    ]
    return "\n".join(rows)


def with_table(text: str) -> str:
    """``text`` (docs/deploy.md) with the part between the markers written anew."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{DEPLOY_MD} has no settings-table markers ({BEGIN} ... {END})")
    return text[:start] + settings_table() + text[end + len(END) :]


def main() -> int:
    """Rewrite the table in docs/deploy.md; say whether it changed."""
    old = DEPLOY_MD.read_text(encoding="utf-8")
    new = with_table(old)
    if new == old:
        sys.stdout.write(f"{DEPLOY_MD} is up to date\n")
        return 0
    DEPLOY_MD.write_text(new, encoding="utf-8")
    sys.stdout.write(f"wrote {DEPLOY_MD}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
