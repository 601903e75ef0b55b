"""A transparent rubric for a reply to a relative: :func:`score_reply`.

Seven dimensions, each scored from word lists (``coach/lexicons/<lang>.yaml``) matched on
lemmas, each with the reason and the words that triggered it, so a user can see *why*:

==================  =====  ==============================================================
dimension           score  rule
==================  =====  ==============================================================
acknowledge         0–1    names or accepts the other's feeling ("понимаю", "it's scary")
common_ground       0–1    names something shared ("мы оба", "I also want")
no_contempt         0–1    no label, insult or contempt ("зомби", "ватный", "brainwashed")
i_statements        0–2    2: speaks for oneself ("я", "I"); 1: neither; 0: "you always"
hedges              0–1    leaves room ("мне кажется", "maybe")
open_question       0–2    2: ends with an open question; 1: a yes/no one; 0: none, or a
                           rhetorical one anywhere («разве», «почему же», "don't you see")
short               0–1    at most 60 words and 400 characters: can be said aloud
==================  =====  ==============================================================

Words are read in context, not counted:

* **negation** — a phrase right after a negator («не», "not", "don't") does not count:
  «я не согласен» is no common ground, «не понимаю» no acknowledgement;
* **"but"** — an acknowledgement followed by «но» / "but" and then a correction
  («ты не прав», "you're wrong"), a label or a rhetorical question is cancelled: the other
  person hears only what follows the "but";
* **sarcasm** — mock agreement («ну конечно», «ага», "yeah right", "genius");
* **agreeing with the claim** — «ты прав», "I agree", "exactly" without an open question
  confirms what the relative said; it is not empathy;
* **lecturing** — corrections and instructions («ты ошибаешься», «открой глаза»,
  "do your research") without an acknowledgement that survives.

The verdict, first that applies: ``"hostile"`` (a label or a "you always"), ``"sarcastic"``,
``"agreeing"``, ``"lecturing"``, ``"empathic"`` (at least 6 of 9), else ``"mixed"``.

The dimensions follow conversational receptiveness (Yeomans, Minson, Collins, Chen & Gino,
2020, *Organizational Behavior and Human Decision Processes* 160, 131–148: acknowledgement,
agreement, hedges, no negations/contradiction), motivational interviewing's open questions
and reflections (Miller & Rollnick, 2013) and the "I statement" of non-violent
communication (Rosenberg, 2003). They are rules of thumb, not a psychological measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pollwatch.coach.i18n import t
from pollwatch.coach.lexicon import Lexicon, Phrase, load_lexicon, phrase_spans
from pollwatch.coach.questions import closed_question_reason, last_question, rhetorical_reason
from pollwatch.coach.schema import Argument
from pollwatch.coach.text import Lang, analyse, clean_text
from pollwatch.errors import InputError

__all__ = [
    "DIMENSION_LABELS",
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
#: How many lemmas before a phrase a negator may stand («я совсем не согласен»).
NEGATION_WINDOW = 2

Verdict = Literal["empathic", "mixed", "lecturing", "agreeing", "sarcastic", "hostile"]
#: Every verdict (each is also an English message id in ``coach.po``).
VERDICTS: tuple[Verdict, ...] = (
    "empathic",
    "mixed",
    "lecturing",
    "agreeing",
    "sarcastic",
    "hostile",
)

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
    """The rubric applied to one reply.

    ``signals`` name what the context rules found ("negated", "cancelled", "sarcasm",
    "agreement", "lecturing", "rhetorical"): the simulated relative reacts to them.
    """

    lang: Lang
    dimensions: tuple[DimensionScore, ...]
    total: int
    max_total: int
    verdict: Verdict
    suggestion: str | None
    signals: tuple[str, ...] = ()

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
            "verdict_label": t(self.verdict, self.lang),
            "suggestion": self.suggestion,
            "signals": list(self.signals),
        }


def _words(found: Sequence[str]) -> str:
    return ", ".join(f"«{w}»" if w else w for w in found)


def _dim(
    name: str, lang: Lang, score: int, max_score: int, reason: str, triggers: tuple[str, ...] = ()
) -> DimensionScore:
    return DimensionScore(name, t(DIMENSION_LABELS[name], lang), score, max_score, reason, triggers)


def find_toxic(text: str, lang: Lang) -> tuple[str, ...]:
    """Labels, insults and contempt (lexicon phrases) found in a text."""
    lem = analyse(text, translit=lang == "ru").lemmas
    return tuple(dict.fromkeys(s[0] for s in phrase_spans(lem, load_lexicon(lang).toxic)))


@dataclass(frozen=True)
class _Reading:
    """Where each kind of phrase occurs in a reply, negated occurrences set apart."""

    lemmas: tuple[str, ...]
    lex: Lexicon

    def spans(self, phrases: Sequence[Phrase]) -> list[tuple[str, int, int]]:
        return phrase_spans(self.lemmas, phrases)

    def negated(self, start: int) -> bool:
        window = self.lemmas[max(0, start - NEGATION_WINDOW) : start]
        return any(w in self.lex.negators for w in window)

    def affirmed(self, phrases: Sequence[Phrase]) -> list[tuple[str, int, int]]:
        """Occurrences not preceded by a negator."""
        return [s for s in self.spans(phrases) if not self.negated(s[1])]

    def contrast_after(self, position: int) -> int | None:
        """Position of the first "but" after ``position``."""
        for i in range(position, len(self.lemmas)):
            if self.lemmas[i] in self.lex.contrast:
                return i
        return None


def _texts(spans: Sequence[tuple[str, int, int]]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s[0] for s in spans))


def suggested_reply(argument: Argument, lang: Lang, variant: int = 0) -> str:
    """A better reply from the knowledge base: a good example, else bridge + question."""
    good = getattr(argument.examples.good, lang)
    if good:
        return str(good[variant % len(good)])
    r = argument.responses
    bridge = getattr(r.bridge, lang)
    question = getattr(r.question, lang)
    return f"{bridge[variant % len(bridge)]} {question[variant % len(question)]}"


def _question_dim(cleaned: str, lang: Lang) -> tuple[DimensionScore, bool, bool]:
    """The open-question dimension, whether a question is rhetorical, whether it is open."""
    rhetoric = rhetorical_reason(cleaned, lang)
    question = last_question(cleaned)
    if rhetoric:
        why = rhetoric.split("(", 1)[-1].rstrip(")")
        reason = t(
            "a rhetorical or leading question ({why}); ask what/how/why and mean it", lang, why=why
        )
        return _dim("open_question", lang, 0, 2, reason, (question or "",)), True, False
    if question is None:
        reason = t("no question at the end; ask what/how/why", lang)
        return _dim("open_question", lang, 0, 2, reason), False, False
    if closed_question_reason(cleaned, lang) is None:
        reason = t("ends with an open question", lang)
        return _dim("open_question", lang, 2, 2, reason, (question,)), False, True
    reason = t("a yes/no question; ask what/how/why", lang)
    return _dim("open_question", lang, 1, 2, reason, (question,)), False, False


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
    read = _Reading(analysis.lemmas, lex)
    signals: list[str] = []

    toxic = read.spans(lex.toxic)
    you = read.spans(lex.you_statements)
    lecture = read.spans(lex.lecturing)
    sarcasm = read.spans(lex.sarcasm)
    agree = read.affirmed(lex.agreement)
    question_dim, rhetorical, open_question = _question_dim(cleaned, use)
    if rhetorical:
        signals.append("rhetorical")

    dims: list[DimensionScore] = []
    for name, none_reason in (
        ("acknowledge", 'no word for the other\'s feeling (e.g. "I understand", "it\'s scary")'),
        ("common_ground", 'nothing shared named (e.g. "we both", "I also want")'),
    ):
        all_spans = read.spans(lex.phrases(name))
        kept = read.affirmed(lex.phrases(name))
        if len(kept) < len(all_spans):
            signals.append("negated")
        if kept:
            last = max(s[2] for s in kept)
            but = read.contrast_after(last)
            after = [s for s in (*lecture, *toxic, *you) if but is not None and s[1] > but]
            if but is not None and (after or rhetorical):
                signals.append("cancelled")
                word = read.lemmas[but]
                reason = t(
                    "cancelled by «{but}»: what follows corrects or blames ({words})",
                    use,
                    but=word,
                    words=_words(_texts(after)) or "?",
                )
                dims.append(_dim(name, use, 0, 1, reason, _texts(kept)))
                continue
            found = _texts(kept)
            dims.append(_dim(name, use, 1, 1, t("found: {words}", use, words=_words(found)), found))
        else:
            dims.append(_dim(name, use, 0, 1, t(none_reason, use)))

    if toxic:
        words = _texts(toxic)
        reason = t("label or contempt: {words}", use, words=_words(words))
        dims.append(_dim("no_contempt", use, 0, 1, reason, words))
    else:
        dims.append(_dim("no_contempt", use, 1, 1, t("no labels", use)))
    mine = _texts(read.spans(lex.i_words))
    if you:
        words = _texts(you)
        reason = t('blaming "you": {words}', use, words=_words(words))
        dims.append(_dim("i_statements", use, 0, 2, reason, words))
    elif mine:
        reason = t("found: {words}", use, words=_words(mine))
        dims.append(_dim("i_statements", use, 2, 2, reason, mine))
    else:
        dims.append(_dim("i_statements", use, 1, 2, t('no "I" statement; say how you see it', use)))
    hedges = _texts(read.affirmed(lex.hedges))
    if hedges:
        reason = t("found: {words}", use, words=_words(hedges))
        dims.append(_dim("hedges", use, 1, 1, reason, hedges))
    else:
        reason = t('sounds categorical; try "maybe", "I think"', use)
        dims.append(_dim("hedges", use, 0, 1, reason))
    dims.append(question_dim)
    n_words = len(analysis.tokens)
    n_chars = len(cleaned)
    if n_words <= MAX_SPOKEN_WORDS and n_chars <= MAX_SPOKEN_CHARS:
        reason = t("{words} words, {chars} characters", use, words=n_words, chars=n_chars)
        dims.append(_dim("short", use, 1, 1, reason))
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

    if sarcasm:
        signals.append("sarcasm")
    if agree:
        signals.append("agreement")
    if lecture:
        signals.append("lecturing")
    total = sum(d.score for d in dims)
    max_total = sum(d.max_score for d in dims)
    verdict: Verdict
    if toxic or you:
        verdict = "hostile"
    elif sarcasm:
        verdict = "sarcastic"
    elif agree and not open_question and "cancelled" not in signals:
        verdict = "agreeing"
    elif lecture or "cancelled" in signals or (rhetorical and total < EMPATHIC_MIN_TOTAL):
        verdict = "lecturing"
    elif total >= EMPATHIC_MIN_TOTAL:
        verdict = "empathic"
    else:
        verdict = "mixed"
    suggestion = suggested_reply(argument, use, variant) if argument is not None else None
    return Feedback(
        use, tuple(dims), total, max_total, verdict, suggestion, tuple(dict.fromkeys(signals))
    )
