"""The feedback rubric on 60+ hand-labelled replies: good, lecturing, hostile, sarcastic,
agreeing. The accuracy is printed (``-s``) and must stay above the floor."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from pollwatch.coach import score_reply

REPLIES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "replies.yaml").read_text(encoding="utf-8")
)["replies"]
EXPECTED = {"good": "empathic"}


def test_labelled_replies_are_scored_right() -> None:
    assert len(REPLIES) >= 60
    assert set(Counter(r["label"] for r in REPLIES)) == {
        "good", "lecturing", "hostile", "sarcastic", "agreeing"
    }  # fmt: skip
    wrong = []
    for r in REPLIES:
        verdict = score_reply(r["text"], r["lang"]).verdict
        if verdict != EXPECTED.get(r["label"], r["label"]):
            wrong.append((r["label"], verdict, r["text"]))
    accuracy = 1 - len(wrong) / len(REPLIES)
    print(f"labelled replies: n={len(REPLIES)} accuracy={accuracy:.3f}")
    assert accuracy >= 0.95, "\n".join(map(str, wrong))


def test_disagreement_is_not_common_ground() -> None:
    fb = score_reply("Я не согласен с тобой.", "ru")
    assert fb.dimension("common_ground").score == 0 and "negated" not in fb.verdict
    assert fb.verdict != "agreeing"
    fb = score_reply("Не понимаю, как можно в это верить.", "ru")
    assert fb.dimension("acknowledge").score == 0


def test_but_cancels_the_bridge() -> None:
    fb = score_reply("Понимаю, мне тоже страшно. Но ты не прав, открой глаза.", "ru")
    assert fb.dimension("acknowledge").score == 0
    assert "но" in fb.dimension("acknowledge").reason
    assert fb.verdict == "lecturing" and "cancelled" in fb.signals
