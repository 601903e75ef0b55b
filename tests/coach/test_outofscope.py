"""An honest "I have no answer for that yet": claims the knowledge base does not cover get
the general answer, never a confident wrong one; a rant mixing two claims offers both.

Measured on ``tests/coach/outofscope.yaml`` (never indexed) and on the held-out set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pollwatch.coach import Coach

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "outofscope.yaml").read_text(encoding="utf-8")
)


def test_out_of_scope_claims_are_never_answered_confidently_wrong(coach: Coach) -> None:
    wrong = []
    for item in CASES["out_of_scope"]:
        r = coach.ask(item["text"])
        if r.status == "confident" and r.matches[0].id not in set(item.get("ok", [])):
            wrong.append((item["text"], r.matches[0].id, round(r.matches[0].score, 2)))
    n = len(CASES["out_of_scope"])
    print(f"out of scope: n={n} confidently wrong={len(wrong)}")
    assert len(CASES["out_of_scope"]) >= 30
    assert wrong == []


def test_mixed_rants_offer_both_claims(coach: Coach) -> None:
    missed = []
    for item in CASES["mixed"]:
        r = coach.ask(item["text"])
        offered = {m.id for m in r.matches}
        if not (r.status == "choose" and r.mixed and set(item["both"]) <= offered):
            missed.append((item["text"], r.status, sorted(offered)))
    print(f"mixed: n={len(CASES['mixed'])} both offered={len(CASES['mixed']) - len(missed)}")
    assert missed == []


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_no_answer_gives_the_general_answer_and_the_topics(coach: Coach, lang: str) -> None:
    text = "Миром правят рептилоиды" if lang == "ru" else "Covid vaccines have microchips in them"
    r = coach.ask(text)
    assert r.status == "none" and r.answer is None
    assert r.general is not None and r.general.question.endswith("?")
    assert r.topics and r.topics[0].arguments
    data = r.to_dict()
    assert data["general"]["acknowledge"] and data["mixed"] is False


def test_an_unknown_subject_is_not_answered_as_a_known_one(coach: Coach) -> None:
    # order in Belarus is not the argument about order in Russia
    assert coach.unknown_subjects("Лукашенко молодец", "stability") == ("лукашенко",)
    assert coach.unknown_subjects("Sanctions only make us stronger", "sanctions-help") == ()
