"""The coordinators' pages' labels live in ``web/labels.py``: no module reaches into a page
router for them, and no other web module keeps a copy (a copy drifts from the original, and
its translation with it).

Static checks on the source (``ast``), as in ``tests/test_structure.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pollwatch
from pollwatch.web import labels

SRC = Path(pollwatch.__file__).resolve().parent


def _label_tables() -> dict[str, dict[str, str]]:
    return {
        name: table for name in labels.__all__ if isinstance(table := getattr(labels, name), dict)
    }


def _module(path: Path) -> str:
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts)


def _imports_the_dashboard(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module == "pollwatch.web.dashboard" or (
            node.module == "pollwatch.web" and any(a.name == "dashboard" for a in node.names)
        )
    return isinstance(node, ast.Import) and any(
        a.name == "pollwatch.web.dashboard" for a in node.names
    )


def test_only_the_app_imports_the_dashboard_page_router() -> None:
    """(The package imports absolutely: no relative import to follow.)"""
    importers = {
        _module(path)
        for path in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path)))
        if _imports_the_dashboard(node)
    }
    assert "pollwatch.web.app" in importers  # the scan sees the one import that is wanted
    assert importers == {"pollwatch.web.app"}


def _string_table(node: ast.stmt) -> dict[str, str] | None:
    """The module-level ``NAME = {"key": "text", ...}`` the statement assigns, else None."""
    value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
    if not isinstance(value, ast.Dict):
        return None
    table = {}
    for key, text in zip(value.keys, value.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(text, ast.Constant)):
            return None
        if not (isinstance(key.value, str) and isinstance(text.value, str)):
            return None
        table[key.value] = text.value
    return table


def test_no_other_web_or_bot_module_keeps_a_copy_of_a_label() -> None:
    """A module-level table of strings elsewhere in ``web/`` or in the Telegram bot shares
    no (key, label) pair with a table of ``labels``, nor (keys aside) a whole set of its
    labels: the bot's reporting flow and its alerts show the pages' labels."""
    pairs = {(k, v) for table in _label_tables().values() for k, v in table.items()}
    label_sets = [set(table.values()) for table in _label_tables().values()]
    copies = []
    for path in sorted([*(SRC / "web").glob("*.py"), *(SRC / "bot").glob("*.py")]):
        if path.name == "labels.py":
            continue
        for node in ast.parse(path.read_text("utf-8"), str(path)).body:
            table = _string_table(node)
            if table is None:
                continue
            shared = set(table.items()) & pairs
            whole = [s for s in label_sets if s <= set(table.values())]
            if shared or whole:
                copies.append(f"{path.name}:{node.lineno}")
    assert copies == []


def test_the_tables_are_the_pages_keys() -> None:
    """Every incident category, station status, alert kind, severity and follow-up status
    has its label (the pages show the key itself for a missing one)."""
    from pollwatch.observe.alerts import ALERT_KINDS, SEVERITIES
    from pollwatch.observe.followup import INCIDENT_STATUSES
    from pollwatch.observe.reports import INCIDENT_CATEGORIES, STATUSES

    assert tuple(labels.CATEGORY_LABELS) == INCIDENT_CATEGORIES
    assert tuple(labels.STATUS_LABELS) == STATUSES
    assert tuple(labels.SEVERITY_LABELS) == SEVERITIES
    assert tuple(labels.FOLLOWUP_LABELS) == INCIDENT_STATUSES
    for kind in ALERT_KINDS:
        assert f"alert_{kind}" in labels.NETWORK_LABELS
    # the dashboard script's keys carry the same labels as the follow-up pages' tables
    for key, label in labels.SEVERITY_LABELS.items():
        assert labels.NETWORK_LABELS[f"severity_{key}"] == label
    for key, label in labels.FOLLOWUP_LABELS.items():
        assert labels.NETWORK_LABELS[f"followup_{key}"] == label
