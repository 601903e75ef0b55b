"""The shipped knowledge base: valid, complete, open questions, no contempt, fits Telegram.

Iterates over whatever argument files exist, so a new file is checked as soon as it lands.
"""

from __future__ import annotations

import re
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
from pollwatch.coach.answer import Answer, build_answer
from pollwatch.coach.questions import closed_question_reason, rhetorical_reason
from pollwatch.coach.risk import STEPS, war_words
from pollwatch.coach.safety import safety_note
from pollwatch.coach.schema import Argument

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


# Words allowed in another script inside an answer: the command that opens the safety note
# and "VPN", which Russian writes in Latin letters.
_LATIN_OK = {"pollwatch", "coach", "safety", "VPN"}
_LATIN_WORD = re.compile(r"(?<![\w/.-])[A-Za-z][A-Za-z'’-]*[A-Za-z](?![\w/-])")
_CYRILLIC_WORD = re.compile(r"[А-Яа-яЁё]{2,}")


def _without_source_names(text: str, answer: Answer) -> str:
    """The rendered answer minus what may legitimately be in any script: URLs, source
    titles and publishers."""
    parts = [p for s in answer.sources for p in (s.url, s.archived_url, s.title, s.publisher)]
    for part in sorted((p for p in parts if p), key=len, reverse=True):
        text = text.replace(part, " ")
    return re.sub(r"https?://\S+", " ", text)


def _variants(arg: Argument) -> range:
    r = arg.responses
    return range(max(len(getattr(getattr(r, s), lang)) for s in STEPS for lang in LANGS))


@pytest.mark.parametrize("arg_id", ARGUMENT_FILES)
def test_rendered_answers_are_in_one_language(kb: KnowledgeBase, arg_id: str) -> None:
    arg = kb.get(arg_id)
    for variant in _variants(arg):
        ru = build_answer(kb, arg, "ru", variant)
        text = _without_source_names(render_answer(ru), ru)
        assert set(_LATIN_WORD.findall(text)) <= _LATIN_OK, (variant, text)
        en = build_answer(kb, arg, "en", variant)
        text = _without_source_names(render_answer(en), en)
        assert _CYRILLIC_WORD.findall(text) == [], (variant, text)


@pytest.mark.parametrize("arg_id", ARGUMENT_FILES)
def test_statements_about_the_war_carry_a_risk_note_first(kb: KnowledgeBase, arg_id: str) -> None:
    arg = kb.get(arg_id)
    for lang in LANGS:
        for variant in _variants(arg):
            answer = build_answer(kb, arg, lang, variant)
            army = [r for r in answer.risks if kb.laws[r.law].concerns == "army"]
            for step in STEPS:
                if war_words(getattr(answer, step), lang):
                    assert any(step in r.steps for r in army), (lang, variant, step)
            text = render_answer(answer)
            if answer.risks:
                assert text.startswith("⚠"), text[:80]
                assert text.index(answer.risks[0].note) < text.index(answer.bridge)


def test_the_safety_note_covers_phones_reports_and_noon_against_putin(kb: KnowledgeBase) -> None:
    ru = " ".join(safety_note(kb, "ru").points)
    en = " ".join(safety_note(kb, "en").points)
    for words in (
        ("телефон", "донос", "141", "14 марта 2024"),
        ("phone", "reported", "141", "14 March 2024"),
    ):
        text = ru if words[0] == "телефон" else en
        assert all(w in text for w in words), words
    assert _CYRILLIC_WORD.findall(en) == []
    assert set(_LATIN_WORD.findall(ru)) <= _LATIN_OK


def test_every_argument_says_who_reviewed_it_and_when(kb: KnowledgeBase) -> None:
    for arg in kb.active:
        for lang in LANGS:
            text = render_answer(build_answer(kb, arg, lang))
            assert arg.review_date.isoformat() in text.splitlines()[-1]


@pytest.mark.parametrize("arg_id", ARGUMENT_FILES)
def test_no_rhetorical_question_in_answers_or_good_examples(kb: KnowledgeBase, arg_id: str) -> None:
    """Every question the coach suggests, wherever it stands, asks rather than argues."""
    arg = kb.get(arg_id)
    for lang in LANGS:
        texts = [
            *getattr(arg.responses.bridge, lang),
            *getattr(arg.responses.counterargument, lang),
            *getattr(arg.responses.question, lang),
            *getattr(arg.examples.good, lang),
        ]
        for text in texts:
            assert rhetorical_reason(text, lang) is None, text
