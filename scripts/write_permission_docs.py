"""Write the "Who can do what" tables of docs/observe.md from the application's routes.

Run ``python scripts/write_permission_docs.py`` after adding a route or an action;
``tests/web/test_permissions_routes.py`` fails while the tables differ from what this script
writes (:func:`pollwatch.web.route_table.permission_docs`). Only the lines between the two
markers are replaced; the rest of docs/observe.md is prose.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

OBSERVE_MD = Path(__file__).resolve().parents[1] / "docs" / "observe.md"
COMMAND = "python scripts/write_permission_docs.py"
"""How to regenerate the tables; said in the marker and in the test's failure message."""

BEGIN = f"<!-- permission tables: written by `{COMMAND}` from the app's routes -->"
END = "<!-- end of permission tables -->"


def with_table(text: str, table: str) -> str:
    """``text`` (docs/observe.md) with the part between the markers written anew."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{OBSERVE_MD} has no permission-table markers ({BEGIN} ... {END})")
    return text[: start + len(BEGIN)] + "\n" + table + text[end:]


def main() -> int:
    """Build the app on a scratch home, rewrite the tables, say whether they changed."""
    from pollwatch.config import Settings
    from pollwatch.web.app import create_app
    from pollwatch.web.route_table import permission_docs

    with tempfile.TemporaryDirectory() as home:
        app = create_app(Settings(data_dir=Path(home), home=Path(home), rate_limit=0))
        table = permission_docs(app)
    old = OBSERVE_MD.read_text(encoding="utf-8")
    new = with_table(old, table)
    if new == old:
        sys.stdout.write(f"{OBSERVE_MD} is up to date\n")
        return 0
    OBSERVE_MD.write_text(new, encoding="utf-8")
    sys.stdout.write(f"wrote {OBSERVE_MD}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
