"""A transparent rubric for a reply to a relative: :func:`score_reply`.

Seven dimensions, each scored from word lists (``coach/lexicons/<lang>.yaml``) matched on
lemmas, each with the reason and the words that triggered it, so a user can see *why*:

==================  =====  ==============================================================
dimension           score  rule
==================  =====  ==============================================================
acknowledge         0–1    names or accepts the other's feeling ("понимаю", "it's scary")
common_ground       0–1    names something shared ("мы оба", "I also want")
no_contempt         0–1    no label, insult or contempt ("зомби", "brainwashed")
i_statements        0–2    2: speaks for oneself ("я", "I"); 1: neither; 0: "you always"
hedges              0–1    leaves room ("мне кажется", "maybe")
open_question       0–2    2: ends with an open question; 1: a yes/no one; 0: none
short               0–1    at most 60 words and 400 characters: can be said aloud
==================  =====  ==============================================================

The verdict is ``"hostile"`` when there is contempt or a "you always" accusation,
``"empathic"`` when the total is at least 6 of 9, else ``"mixed"``.

The dimensions follow conversational receptiveness (Yeomans, Minson, Collins, Chen & Gino,
2020, *Organizational Behavior and Human Decision Processes* 160, 131–148: acknowledgement,
agreement, hedges, no negations/contradiction), motivational interviewing's open questions
and reflections (Miller & Rollnick, 2013) and the "I statement" of non-violent
communication (Rosenberg, 2003). They are rules of thumb, not a psychological measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pollwatch.coach.i18n import t
from pollwatch.coach.lexicon import Lexicon, find_phrases, load_lexicon
from pollwatch.coach.questions import closed_question_reason, last_question
from pollwatch.coach.schema import Argument
from pollwatch.coach.text import Lang, analyse, clean_text
from pollwatch.errors import InputError

__all__ = [
    "MAX_SPOKEN_CHARS",
    "MAX_SPOKEN_WORDS",
    "VERDICTS",
    "DimensionScore",
    "Feedback",
    "Verdict",
    "find_toxic",
    "score_reply",
]

MAX_SPOKEN_WORDS = 60
MAX_SPOKEN_CHARS = 400
EMPATHIC_MIN_TOTAL = 6

Verdict = Literal["empathic", "mixed", "hostile"]
#: Every verdict (each is also an English message id in ``coach.po``).
VERDICTS: tuple[Verdict, ...] = ("empathic", "mixed", "hostile")

#: Each dimension's label (English message id in ``coach.po``).
DIMENSION_LABELS = {
    "acknowledge": "Acknowledges the feeling",
    "common_ground": "Finds common ground",
    "no_contempt": "No labels or contempt",
    "i_statements": '"I" rather than "you always"',
    "hedges": "Leaves room (hedges)",
    "open_question": "Ends with an open question",
    "short": "Short enough to say aloud",
}


@dataclass(frozen=True)
class DimensionScore:
    """One rubric dimension: its score, maximum, reason and triggering words."""

    name: str
    label: str
    score: int
    max_score: int
    reason: str
    triggers: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data = dict(self.__dict__)
        data["triggers"] = list(self.triggers)
        return data


@dataclass(frozen=True)
class Feedback:
    """The rubric applied to one reply."""

    lang: Lang
    dimensions: tuple[DimensionScore, ...]
    total: int
    max_total: int
    verdict: Verdict
    suggestion: str | None

    def dimension(self, name: str) -> DimensionScore:
        """One dimension by name."""
        for d in self.dimensions:
            if d.name == name:
                return d
        raise InputError(f"Unknown rubric dimension {name!r}")

    @property
    def is_empathic(self) -> bool:
        """True when the verdict is ``"empathic"`` (the simulated relative softens)."""
        return self.verdict == "empathic"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "lang": self.lang,
            "dimensions": [d.to_dict() for d in self.dimensions],
            "total": self.total,
            "max_total": self.max_total,
            "verdict": self.verdict,
            "suggestion": self.suggestion,
        }


def _words(found: tuple[str, ...]) -> str:
    return ", ".join(f"«{w}»" if w else w for w in found)


def _dim(
    name: str, lang: Lang, score: int, max_score: int, reason: str, triggers: tuple[str, ...] = ()
) -> DimensionScore:
    return DimensionScore(name, t(DIMENSION_LABELS[name], lang), score, max_score, reason, triggers)


def find_toxic(text: str, lang: Lang) -> tuple[str, ...]:
    """Labels, insults and contempt (lexicon phrases) found in a text."""
    return find_phrases(analyse(text, translit=lang == "ru").lemmas, load_lexicon(lang).toxic)


def _presence(
    name: str, lang: Lang, lemmas: tuple[str, ...], lex: Lexicon, none_key: str
) -> DimensionScore:
    found = find_phrases(lemmas, lex.phrases(name))
    if found:
        return _dim(name, lang, 1, 1, t("found: {words}", lang, words=_words(found)), found)
    return _dim(name, lang, 0, 1, t(none_key, lang))


def suggested_reply(argument: Argument, lang: Lang, variant: int = 0) -> str:
    """A better reply from the knowledge base: a good example, else bridge + question."""
    good = getattr(argument.examples.good, lang)
    if good:
        return str(good[variant % len(good)])
    r = argument.responses
    bridge = getattr(r.bridge, lang)
    question = getattr(r.question, lang)
    return f"{bridge[variant % len(bridge)]} {question[variant % len(question)]}"


def score_reply(
    text: str,
    lang: Lang | None = None,
    argument: Argument | None = None,
    *,
    variant: int = 0,
) -> Feedback:
    """Score a reply with the rubric.

    Parameters
    ----------
    text : str
        The user's reply (at most 5,000 characters).
    lang : {"ru", "en"}, optional
        Language of the reply and of the reasons; detected when omitted.
    argument : Argument, optional
        The argument being discussed; gives the suggested better reply.
    variant : int
        Which good example to suggest.

    Raises
    ------
    InputError
        Empty, non-string or too long text, or an unknown ``lang``.
    """
    cleaned = clean_text(text, field="reply")
    if lang is not None and lang not in ("ru", "en"):
        raise InputError(f"The 'lang' parameter must be 'ru' or 'en'; got {lang!r} instead.")
    analysis = analyse(cleaned, translit=lang != "en")
    use: Lang = lang or analysis.lang
    lex = load_lexicon(use)
    lem = analysis.lemmas

    dims = [
        _presence("acknowledge", use, lem, lex, "r_ack_none"),
        _presence("common_ground", use, lem, lex, "r_common_none"),
    ]
    toxic = find_phrases(lem, lex.toxic)
    if toxic:
        dims.append(
            _dim(
                "no_contempt",
                use,
                0,
                1,
                t("label or contempt: {words}", use, words=_words(toxic)),
                toxic,
            )
        )
    else:
        dims.append(_dim("no_contempt", use, 1, 1, t("no labels", use)))
    you = find_phrases(lem, lex.you_statements)
    mine = find_phrases(lem, lex.i_words)
    if you:
        dims.append(
            _dim(
                "i_statements", use, 0, 2, t('blaming "you": {words}', use, words=_words(you)), you
            )
        )
    elif mine:
        dims.append(
            _dim("i_statements", use, 2, 2, t("found: {words}", use, words=_words(mine)), mine)
        )
    else:
        dims.append(_dim("i_statements", use, 1, 2, t('no "I" statement; say how you see it', use)))
    dims.append(_presence("hedges", use, lem, lex, "r_hedge_none"))
    question = last_question(cleaned)
    if question is None:
        dims.append(
            _dim("open_question", use, 0, 2, t("no question at the end; ask what/how/why", use))
        )
    else:
        reason = closed_question_reason(cleaned, use)
        if reason is None:
            dims.append(
                _dim("open_question", use, 2, 2, t("ends with an open question", use), (question,))
            )
        else:
            dims.append(
                _dim(
                    "open_question",
                    use,
                    1,
                    2,
                    t("a yes/no question; ask what/how/why", use),
                    (question,),
                )
            )
    n_words = len(analysis.tokens)
    n_chars = len(cleaned)
    if n_words <= MAX_SPOKEN_WORDS and n_chars <= MAX_SPOKEN_CHARS:
        dims.append(
            _dim(
                "short",
                use,
                1,
                1,
                t("{words} words, {chars} characters", use, words=n_words, chars=n_chars),
            )
        )
    else:
        reason = t(
            "{words} words, {chars} characters: "
            "too long to say aloud (max {max_words}/{max_chars})",
            use,
            words=n_words,
            chars=n_chars,
            max_words=MAX_SPOKEN_WORDS,
            max_chars=MAX_SPOKEN_CHARS,
        )
        dims.append(_dim("short", use, 0, 1, reason))

    total = sum(d.score for d in dims)
    max_total = sum(d.max_score for d in dims)
    verdict: Verdict
    if toxic or you:
        verdict = "hostile"
    elif total >= EMPATHIC_MIN_TOTAL:
        verdict = "empathic"
    else:
        verdict = "mixed"
    suggestion = suggested_reply(argument, use, variant) if argument is not None else None
    return Feedback(use, tuple(dims), total, max_total, verdict, suggestion)
