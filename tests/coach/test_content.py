"""The shipped knowledge base: valid, complete, open questions, no contempt, fits Telegram.

Iterates over whatever argument files exist, so a new file is checked as soon as it lands.
"""

from __future__ import annotations

from importlib import resources

import pytest

from pollwatch.coach import (
    TELEGRAM_LIMIT,
    KnowledgeBase,
    check_knowledge_base,
    find_toxic,
    render_answer,
    score_reply,
)
from pollwatch.coach.answer import build_answer
from pollwatch.coach.questions import closed_question_reason

REQUIRED_IDS = [
    "no-alternative",
    "no-change-in-war",
    "vote-changes-nothing",
    "majority-supports",
    "stability",
    "not-into-politics",
    "protest-dangerous",
    "nato-threat",
    "west-wants-destroy",
    "ukraine-nazis",
    "donbas-eight-years",
    "not-so-simple",
    "fakes",
    "sanctions-help",
    "those-who-left",
    "america-too",
]

ARGUMENT_FILES = sorted(
    f.name.removesuffix(".yaml")
    for f in resources.files("pollwatch.coach").joinpath("kb", "arguments").iterdir()
    if f.name.endswith(".yaml")
)
LANGS = ("ru", "en")


def test_knowledge_base_is_valid() -> None:
    problems = check_knowledge_base()
    assert problems == (), "\n".join(map(str, problems))


def test_required_arguments_exist() -> None:
    missing = sorted(set(REQUIRED_IDS) - set(ARGUMENT_FILES))
    assert not missing, f"missing argument files: {missing}"


@pytest.mark.parametrize("arg_id", ARGUMENT_FILES)
def test_three_steps_in_both_languages(kb: KnowledgeBase, arg_id: str) -> None:
    arg = kb.get(arg_id)
    for step in ("bridge", "counterargument", "question"):
        for lang in LANGS:
            variants = getattr(getattr(arg.responses, step), lang)
            assert len(variants) >= 2 and all(v.strip() for v in variants), (step, lang)


@pytest.mark.parametrize("arg_id", ARGUMENT_FILES)
def test_questions_are_open(kb: KnowledgeBase, arg_id: str) -> None:
    arg = kb.get(arg_id)
    for lang in LANGS:
        for q in getattr(arg.responses.question, lang):
            assert q.rstrip().endswith("?"), q
            assert closed_question_reason(q, lang) is None, q


@pytest.mark.parametrize("arg_id", ARGUMENT_FILES)
def test_no_toxic_lemma_in_responses(kb: KnowledgeBase, arg_id: str) -> None:
    arg = kb.get(arg_id)
    for lang in LANGS:
        texts = [
            *getattr(arg.responses.bridge, lang),
            *getattr(arg.responses.counterargument, lang),
            *getattr(arg.responses.question, lang),
            *getattr(arg.examples.good, lang),
        ]
        for text in texts:
            assert find_toxic(text, lang) == (), text


@pytest.mark.parametrize("arg_id", ARGUMENT_FILES)
def test_every_rendered_message_fits_telegram(kb: KnowledgeBase, arg_id: str) -> None:
    arg = kb.get(arg_id)
    r = arg.responses
    n = max(len(getattr(getattr(r, s), lang)) for s in ("bridge", "counterargument", "question")
            for lang in LANGS)  # fmt: skip
    for lang in LANGS:
        for variant in range(n):
            text = render_answer(build_answer(kb, arg, lang, variant))
            assert len(text) <= TELEGRAM_LIMIT, (lang, variant, len(text))


@pytest.mark.parametrize("arg_id", ARGUMENT_FILES)
def test_examples_agree_with_the_rubric(kb: KnowledgeBase, arg_id: str) -> None:
    """Good examples are never hostile and score above the bad ones."""
    arg = kb.get(arg_id)
    for lang in LANGS:
        good = [score_reply(t, lang) for t in getattr(arg.examples.good, lang)]
        bad = [score_reply(t, lang) for t in getattr(arg.examples.bad, lang)]
        assert all(f.verdict != "hostile" for f in good), [f.to_dict() for f in good]
        assert min(f.total for f in good) > max(f.total for f in bad), lang


@pytest.mark.parametrize("arg_id", ARGUMENT_FILES)
def test_starter_content_is_not_marked_final(kb: KnowledgeBase, arg_id: str) -> None:
    assert kb.get(arg_id).status in {"draft", "reviewed"}
    assert kb.get(arg_id).practice.ru.empathic and kb.get(arg_id).practice.en.hostile
