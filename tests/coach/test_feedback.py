"""The feedback rubric: example replies with the expected verdict on every dimension."""

from __future__ import annotations

import pytest

from pollwatch.coach import KnowledgeBase, score_reply
from pollwatch.coach.lexicon import DIMENSION_KEYS, load_lexicon
from pollwatch.errors import InputError

# text, lang, expected scores per dimension (ack, common, no_contempt, i, hedges, question, short)
EXAMPLES = [
    (
        "Понимаю, тебе страшно. Мне тоже важно, чтобы было спокойно. Мне кажется, выбор нужен. "
        "Что тебя больше всего тревожит?",
        "ru", (1, 1, 1, 2, 1, 2, 1), "empathic",
    ),
    ("Ты всегда веришь телевизору, зомби!", "ru", (0, 0, 0, 0, 0, 0, 1), "hostile"),
    ("Разве ты не видишь, что это пропаганда?", "ru", (0, 0, 1, 1, 0, 0, 1), "lecturing"),
    ("Это бред. Почитай нормальные новости.", "ru", (0, 0, 0, 1, 0, 0, 1), "hostile"),
    ("Я тебя слышу. Может быть, я чего-то не знаю. Как ты к этому пришёл?", "ru",
     (1, 0, 1, 2, 1, 2, 1), "empathic"),
    ("esli chestno, mne strashno. kak ty dumaesh, chto budet dalshe?", "ru",
     (1, 0, 1, 2, 0, 2, 1), "empathic"),
    ("I hear you, it sounds scary. We both want peace. Maybe I'm wrong, but what makes you sure?",
     "en", (1, 1, 1, 2, 1, 2, 1), "empathic"),
    ("You are brainwashed, wake up.", "en", (0, 0, 0, 1, 0, 0, 1), "hostile"),
    ("You never listen to anyone.", "en", (0, 0, 1, 0, 0, 0, 1), "hostile"),
    ("Don't you see it's propaganda?", "en", (0, 0, 1, 1, 0, 0, 1), "lecturing"),
    ("I think we both love this family. What worries you the most?", "en",
     (1, 1, 1, 2, 1, 2, 1), "empathic"),
    (("I understand. " + "This is a very long explanation of many facts. " * 12 + "Why?"),
     "en", (1, 0, 1, 2, 0, 2, 0), "empathic"),
]  # fmt: skip
DIMS = ("acknowledge", "common_ground", "no_contempt", "i_statements", "hedges",
        "open_question", "short")  # fmt: skip


@pytest.mark.parametrize(("text", "lang", "expected", "verdict"), EXAMPLES)
def test_rubric_examples(text: str, lang: str, expected: tuple[int, ...], verdict: str) -> None:
    fb = score_reply(text, lang)  # type: ignore[arg-type]
    got = tuple(fb.dimension(d).score for d in DIMS)
    assert got == expected, [(d.name, d.score, d.reason) for d in fb.dimensions]
    assert fb.verdict == verdict
    assert fb.total == sum(expected) and fb.max_total == 9


def test_reasons_name_the_triggering_words() -> None:
    fb = score_reply("Ты всегда веришь телевизору, зомби!", "ru")
    assert fb.dimension("no_contempt").triggers == ("зомби",)
    assert "зомби" in fb.dimension("no_contempt").reason
    assert fb.dimension("i_statements").triggers == ("ты всегда",)


def test_lemmatised_lexicon_matches_inflections() -> None:
    # "зомбированные", "идиотами" are inflected forms of lexicon entries
    assert score_reply("Вы все зомбированные", "ru").dimension("no_contempt").score == 0
    assert score_reply("они были идиотами", "ru").dimension("no_contempt").score == 0
    assert score_reply("that was stupidity", "en").dimension("no_contempt").score == 0


def test_language_detected_when_omitted() -> None:
    assert score_reply("I understand you. What worries you?").lang == "en"
    assert score_reply("Понимаю. Что тебя тревожит?").lang == "ru"


def test_suggestion_from_the_argument(fixture_kb: KnowledgeBase) -> None:
    arg = fixture_kb.get("roads-bad")
    fb = score_reply("Ты всегда ноешь", "ru", arg)
    assert fb.suggestion == arg.examples.good.ru[0]
    assert score_reply("Ты всегда ноешь", "ru").suggestion is None
    assert fb.to_dict()["suggestion"] == fb.suggestion


def test_every_lexicon_entry_matches_itself() -> None:
    for lang in ("ru", "en"):
        lex = load_lexicon(lang)  # type: ignore[arg-type]
        for key in DIMENSION_KEYS:
            phrases = lex.phrases(key)
            assert phrases, (lang, key)
            for ph in phrases:
                fb = score_reply(ph.text, lang)  # type: ignore[arg-type]
                assert fb.dimensions  # scored without error


@pytest.mark.parametrize("bad", ["", "   ", "x" * 1_000_000])
def test_bad_reply(bad: str) -> None:
    with pytest.raises(InputError):
        score_reply(bad, "ru")


def test_emoji_and_html_replies_are_scored() -> None:
    fb = score_reply("😀😀", "ru")
    assert fb.verdict == "mixed" and fb.dimension("short").score == 1
    fb = score_reply("<script>alert('idiot')</script>", "en")
    assert fb.verdict == "hostile"
