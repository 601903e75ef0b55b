"""The library's refusals reach the bot's readers in their language: each reason the report
parser, the observer check, the photo check and the Telegram store give is made to happen
here and must come out translated (a changed message there fails this test)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest

from pollwatch.bot.context import refusal
from pollwatch.bot.i18n import translator
from pollwatch.bot.reasons import translate_reason
from pollwatch.errors import PollwatchError
from pollwatch.observe.reports import parse_report
from pollwatch.store import clean_photo
from pollwatch.store.people import Observer
from pollwatch.store.reports import prepare_report

NOW = datetime(2026, 3, 17, 12, tzinfo=UTC)
BASE = {
    "id": "00000000-0000-4000-8000-000000000001",
    "election": "e-2026",
    "station": "8001",
    "observed_at": "2026-03-17T11:00:00Z",
}
COUNT = {
    **BASE,
    "kind": "count",
    "window_start": "2026-03-17T10:00:00Z",
    "window_end": "2026-03-17T11:00:00Z",
    "entered": 10,
}


def _reason(call: Any) -> str:
    with pytest.raises(PollwatchError) as caught:
        call()
    error = caught.value
    return str(getattr(error, "reason", None) or error)


REFUSALS: dict[str, Any] = {
    "range": lambda: parse_report({**COUNT, "queue": -5}, now=NOW),
    "integer": lambda: parse_report({**COUNT, "entered": "many"}, now=NOW),
    "text": lambda: parse_report(
        {**BASE, "kind": "incident", "category": "other", "text": "x" * 4001}, now=NOW
    ),
    "required": lambda: parse_report({**BASE, "kind": "status"}, now=NOW),
    "choice": lambda: parse_report({**BASE, "kind": "status", "status": "melted"}, now=NOW),
    "future": lambda: parse_report({**COUNT, "observed_at": "2026-03-19T11:00:00Z"}, now=NOW),
    "station": lambda: parse_report({**COUNT, "station": "8001; DROP"}, now=NOW),
    "figures": lambda: parse_report({**BASE, "kind": "protocol", "figures": {}}, now=NOW),
    "window order": lambda: parse_report(
        {**COUNT, "window_start": "2026-03-17T11:00:00Z", "window_end": "2026-03-17T10:00:00Z"},
        now=NOW,
    ),
    "window length": lambda: parse_report(
        {**COUNT, "window_start": "2026-03-16T09:00:00Z"}, now=NOW
    ),
    "not yours": lambda: prepare_report(
        COUNT, observer=Observer(1, "owl", "e-2026", ("8002",)), now=NOW
    ),
    "empty photo": lambda: clean_photo(b""),
    "not an image": lambda: clean_photo(b"GIF89a" + b"\x00" * 40),
    "unreadable": lambda: clean_photo(io.BytesIO(b"\xff\xd8\xff" + b"\x00" * 64).getvalue()),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
@pytest.mark.parametrize("lang", ["ru", "sr"])
def test_each_library_refusal_is_translated(case: str, lang: str) -> None:
    reason = _reason(REFUSALS[case])
    _ = translator(lang)
    shown = translate_reason(reason, _)
    assert shown != reason, (case, reason)
    assert translate_reason(reason, translator("en")) != "", reason
    if lang == "ru":
        assert any("а" <= c <= "я" for c in shown.lower()), shown


def test_a_field_is_named_as_the_flow_asked_for_it() -> None:
    reason = _reason(lambda: parse_report({**COUNT, "wait_minutes": 5000}, now=NOW))
    shown = translate_reason(reason, translator("ru"))
    assert "1440" in shown and "5000" in shown and "wait_minutes" not in shown
    english = translate_reason(reason, translator("en"))
    assert "between 0 and 1440" in english and "Estimated wait" in english


def test_an_unknown_reason_and_hostile_text_pass_through_unchanged() -> None:
    _ = translator("ru")
    for text in ("something new went wrong", "'{x}' must be between 0 and {y}", "{0}{}", ""):
        assert translate_reason(text, _) == text
    crafted = "'figures.{__class__}' must be an integer; got {0!r} instead"
    assert "{0!r}" in translate_reason(crafted, _)  # values are never formatted twice
    assert refusal(PollwatchError("plain"), _).endswith("plain")
