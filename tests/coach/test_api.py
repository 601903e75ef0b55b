"""The coach's public API and interface strings (gettext domain ``coach``)."""

from __future__ import annotations

import ast
import re
import string
from importlib import resources
from pathlib import Path

import pollwatch.coach as coach
from pollwatch.coach.feedback import DIMENSION_LABELS, VERDICTS
from pollwatch.coach.i18n import TOPIC_LABELS, catalogue, t, topic_label
from pollwatch.coach.schema import TOPICS

SRC = Path(str(resources.files("pollwatch")))
CALLERS = [
    *sorted((SRC / "coach").glob("*.py")),
    SRC / "cli" / "coach.py",
    SRC / "web" / "coach.py",
]


def _msgids() -> set[str]:
    """Every literal passed to ``t(...)`` in the coach, its CLI and its web module."""
    found: set[str] = set(DIMENSION_LABELS.values()) | set(TOPIC_LABELS.values()) | set(VERDICTS)
    for path in CALLERS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_all_is_sorted_and_importable() -> None:
    assert list(coach.__all__) == sorted(coach.__all__, key=lambda n: (not n.isupper(), n))
    for name in coach.__all__:
        assert getattr(coach, name) is not None


def test_every_interface_string_is_translated_into_russian() -> None:
    ru = catalogue("ru")
    msgids = _msgids()
    assert len(msgids) > 40
    missing = sorted(m for m in msgids if m not in ru)
    assert not missing, missing
    for msgid in msgids:
        assert _fields(msgid) == _fields(ru[msgid]), msgid
        # a Russian translation has no English word left in it (commands and ids aside)
        text = re.sub(r"\{[^}]*\}", "", ru[msgid])
        words = re.findall(r"(?<![\w/.-])[A-Za-z]{3,}(?![\w/-])", text)
        assert set(words) <= {"pollwatch", "coach", "show", "safety", "ID", "quit"}, ru[msgid]


def test_topics_have_labels() -> None:
    for topic in TOPICS:
        assert topic_label(topic, "ru") != topic and topic_label(topic, "en") != topic


def test_sample_note_mentions_review() -> None:
    note = (
        "Starter content: a sample written for this project, for organisations to review and "
        "extend."
    )
    assert "review" in t(note, "en") and "провер" in t(note, "ru")
