"""The text pipeline: normalisation, transliteration, lemmas, n-grams, input checks."""

from __future__ import annotations

import pytest

from pollwatch.coach.questions import closed_question_reason, rhetorical_reason
from pollwatch.coach.text import (
    Lang,
    analyse,
    char_ngrams,
    clean_text,
    detect_language,
    lemmas,
    normalize,
    transliterate_word,
)
from pollwatch.errors import InputError


def test_yo_and_case_are_folded() -> None:
    assert normalize("ЁЛКИ Всё") == "елки все"
    assert lemmas("Ёлки") == lemmas("елки")


def test_stress_marks_and_homoglyphs() -> None:
    assert normalize("зa\u0301мок") == "замок"
    # Latin "p" and "o" inside a Cyrillic word
    assert normalize("пpопаганда") == "пропаганда"


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [("esli", "если"), ("kto", "кто"), ("kakoy", "какой"), ("zhizn", "жизнь"),
     ("shchuka", "щука"), ("4to", "что"), ("pochemu", "почему"), ("eto", "это")],
)  # fmt: skip
def test_transliterate_word(latin: str, cyrillic: str) -> None:
    assert transliterate_word(latin) == cyrillic


def test_transliterated_russian_becomes_cyrillic() -> None:
    assert normalize("esli ne putin to kto") == "если не путин то кто"
    assert lemmas("esli ne putin to kto") == lemmas("Если не Путин, то кто?")


def test_english_stays_english() -> None:
    assert normalize("If not Putin, then who?") == "if not putin, then who?"
    assert lemmas("elections voting") == ("elect", "vote")


def test_mixed_language_token_by_token() -> None:
    lem = lemmas("Ну это всё fake news про выборы")
    assert "выборы" in lem and "fake" in lem and "news" in lem


def test_russian_lemmas() -> None:
    assert lemmas("Путина выбрали на выборах") == ("путин", "выбрать", "на", "выборы")


def test_language_detection() -> None:
    assert detect_language(normalize("Если не Путин, то кто?")) == "ru"
    assert detect_language(normalize("esli ne putin to kto")) == "ru"
    assert detect_language(normalize("If not Putin, then who?")) == "en"


def test_char_ngrams_word_boundaries() -> None:
    grams = char_ngrams(("кто",))
    assert " кт" in grams and "то " in grams and " кто " in grams
    assert all(3 <= len(g) <= 5 for g in grams)
    assert "о к" not in char_ngrams(("то", "кто"))  # never across words


def test_clean_text_strips_control_characters() -> None:
    assert clean_text("a\x00b\u200bc\n d") == "a b c d"


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01", 5, None, b"bytes"])
def test_clean_text_rejects_empty_and_non_strings(bad: object) -> None:
    with pytest.raises(InputError):
        clean_text(bad)


def test_clean_text_rejects_oversized() -> None:
    with pytest.raises(InputError, match="too long"):
        clean_text("а" * 1_000_000)


def test_emoji_only_has_no_lemmas() -> None:
    assert analyse("😀🔥👍").lemmas == ()


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Почему же ты тогда не видишь очевидного?", "ru"),
        ("Понимаю, мне тоже страшно. Открой глаза. Разве ты не видишь, что происходит?", "ru"),
        ("Как ты думаешь, почему Центробанк поднял ставку до 21%, если всё так хорошо?", "ru"),
        ("Неужели тебе не стыдно это повторять?", "ru"),
        ("Санкции нам только помогают, да?", "ru"),
        ("Ну конечно, все вокруг врут, один телевизор говорит правду?", "ru"),
        ("Don't you see what is happening?", "en"),
        ("Why did the bank raise the rate if everything is so good?", "en"),
        ("How can you believe this?", "en"),
        ("Everything is fine, right?", "en"),
    ],
)
def test_rhetorical_questions_are_not_open(text: str, lang: Lang) -> None:
    assert rhetorical_reason(text, lang) is not None
    assert closed_question_reason(text, lang) is not None


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Что бы ты увидел вокруг, если бы Запад хотел разделить Россию?", "ru"),
        ("Как ты решаешь, что тебя касается, а что нет?", "ru"),
        ("Что тебя тревожит больше всего?", "ru"),
        ("What would it mean to you if it turned out to be true?", "en"),
        ("What do you think most people want right now?", "en"),
    ],
)
def test_open_questions_stay_open(text: str, lang: Lang) -> None:
    assert rhetorical_reason(text, lang) is None
    assert closed_question_reason(text, lang) is None
