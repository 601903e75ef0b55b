"""Every string the bot shows has its Russian and Serbian translation in bot.po, with the
same placeholders; callback data and the pure flow helpers within Telegram's limits."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

import pollwatch.bot
from pollwatch.bot.coach import REF_LIMIT
from pollwatch.bot.i18n import language_of, translator
from pollwatch.bot.ui import Coach, Flow, Menu, Setting, split_message
from pollwatch.web.i18n import read_catalogues

BOT = Path(pollwatch.bot.__file__).parent


def bot_msgids() -> set[str]:
    """``_("…")`` calls, the ``*_LABELS`` tables and PRIVACY_TEXT of pollwatch/bot."""
    found: set[str] = set()
    for path in BOT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                name = getattr(f, "id", None) or getattr(f, "attr", None)
                first = node.args[0] if node.args else None
                if name == "_" and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                if node.target.id.endswith(("_LABELS", "REASONS")) and isinstance(
                    node.value, ast.Dict
                ):
                    found.update(v.value for v in node.value.values if isinstance(v, ast.Constant))
            elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == (
                "PRIVACY_TEXT"
            ):
                found.add(ast.literal_eval(node.value))
    found.add("send a whole number, e.g. 112")  # reporting.parse_whole_number's reason
    return found


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@pytest.mark.parametrize("lang", ["ru", "sr"])
def test_every_bot_string_is_translated_with_its_placeholders(lang: str) -> None:
    table = read_catalogues("bot")[lang]
    used = bot_msgids()
    assert len(used) > 90
    assert sorted(used - set(table)) == []
    for msgid in used:
        assert _fields(table[msgid]) == _fields(msgid), msgid
    if lang == "sr":  # Serbian in Latin script
        assert not any(re.search("[А-Яа-я]", table[m]) for m in used)


def test_languages_from_telegram_and_the_english_source() -> None:
    assert [language_of(c) for c in ("ru", "uk", "sr-Latn", "hr", "en-GB", None, "de")] == [
        "ru",
        "ru",
        "sr",
        "sr",
        "en",
        "en",
        "en",
    ]
    assert translator("en")("Votes for {name}", name="X") == "Votes for X"
    assert translator("xx")("Skip") == "Skip"


def test_callback_data_fit_in_64_bytes() -> None:
    longest_ref = "a" * REF_LIMIT  # longer argument ids go by position
    for data in (
        Coach(act="practice", value=longest_ref),
        Flow(act="station", value="199"),
        Flow(act="ok", value="0" * 8),
        Menu(item="protocol"),
        Setting(lang="sr"),
    ):
        assert len(data.pack().encode()) <= 64
    with pytest.raises(ValueError):
        Coach(act="arg", value="я" * 40).pack()  # aiogram refuses what Telegram would


def test_long_text_is_split_within_the_message_limit() -> None:
    text = "\n\n".join("слово " * 150 for _ in range(12))
    parts = split_message(text)
    assert len(parts) > 1 and all(0 < len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(
        " ", ""
    )
    assert split_message("x" * 9000) == ["x" * 4096, "x" * 4096, "x" * 808]
