"""The common ``pollwatch`` catalogue holds no dead strings: every message id is still used
somewhere in the sources (a string constant of a module, or text of a template or script),
so translators are not asked to keep up strings no page shows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import pollwatch

SRC = Path(pollwatch.__file__).parent
TEXT_SUFFIXES = (".html", ".js", ".txt", ".yaml", ".yml", ".json", ".svg")


def source_strings() -> tuple[set[str], str]:
    """String constants of the package's modules (implicit concatenation joined) and the
    raw text of its templates and scripts."""
    constants: set[str] = set()
    texts: list[str] = []
    for path in SRC.rglob("*"):
        if path.suffix == ".py":
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    constants.add(node.value)
        elif path.suffix in TEXT_SUFFIXES:
            texts.append(path.read_text("utf-8", errors="replace"))
    return constants, "\n".join(texts)


@pytest.mark.parametrize("lang", ["ru", "sr"])
def test_every_pollwatch_string_is_used_in_the_sources(lang: str) -> None:
    constants, text = source_strings()
    with (SRC / "web" / "locale" / lang / "LC_MESSAGES" / "pollwatch.po").open("rb") as fh:
        ids = [str(m.id) for m in read_po(fh, locale=lang) if m.id]
    assert len(ids) > 100
    unused = [
        i for i in ids if i not in constants and i not in text and i.replace("'", "\\'") not in text
    ]
    assert unused == []
