"""Is a question open? The rule shared by the schema (KB questions) and the feedback rubric.

An open question invites the other person to explain ("What worries you most?"); a closed
one asks for yes or no ("Don't you see...?") and in practice works as an argument in
disguise. Motivational interviewing relies on open questions (Miller & Rollnick, 2013,
*Motivational Interviewing*, 3rd ed., ch. 6); Street Epistemology likewise asks "how" and
"why" rather than "do you agree".

The rule: take the last sentence ending in "?"; skip leading fillers ("а", "ну", "and");
open when it starts with a question word (what/how/why, что/как/почему, ...); closed when
it starts with a yes/no opener (is/do/can..., разве/неужели/ты согласен...) or, in Russian,
has the particle "ли" among its first four words; otherwise open.

Before that, every question of the text is checked for rhetoric (:func:`rhetorical_reason`):
a question that carries a negation or a challenge — «разве», «неужели», «почему же»,
«почему ..., если всё так хорошо», «не видишь», "don't you see", "why ... if" — argues
instead of asking, and counts as not open wherever those words stand. The lists are data
(``question.rhetorical`` in the lexicons).
"""

from __future__ import annotations

import re

from pollwatch.coach.lexicon import load_lexicon
from pollwatch.coach.text import Lang, normalize, tokenize

__all__ = ["closed_question_reason", "last_question", "questions", "rhetorical_reason"]

_SENTENCE_RE = re.compile(r"[^.!?…]*[.!?…]+|[^.!?…]+$")


def last_question(text: str) -> str | None:
    """The last sentence if the text ends with "?", else ``None``."""
    stripped = text.rstrip(" \t\n\"'»)”")
    if not stripped.endswith("?"):
        return None
    sentences = [s.strip() for s in _SENTENCE_RE.findall(stripped) if s.strip()]
    return sentences[-1] if sentences else stripped


def questions(text: str) -> tuple[str, ...]:
    """Every sentence of a text that ends with "?"."""
    return tuple(s.strip() for s in _SENTENCE_RE.findall(text) if s.strip().endswith("?"))


def _contains(
    words: list[str], pattern: tuple[tuple[str, ...], ...], hypothetical: frozenset[str]
) -> bool:
    start = 0
    for i, segment in enumerate(pattern):
        k = len(segment)
        at = next(
            (j for j in range(start, len(words) - k + 1) if tuple(words[j : j + k]) == segment),
            None,
        )
        if at is None:
            return False
        gap_end = len(pattern) > 1 and i == len(pattern) - 1
        if gap_end and at + k < len(words) and words[at + k] in hypothetical:
            return False  # "что бы ты увидел, если бы ..." imagines; it does not challenge
        start = at + k
    return True


def rhetorical_reason(text: str, lang: Lang) -> str | None:
    """``None`` unless a question in ``text`` is rhetorical, leading or sarcastic; then the
    words that make it so."""
    rules = load_lexicon(lang).question
    for question in questions(text):
        words = list(tokenize(normalize(question, translit=lang == "ru")))
        if len(words) > 1 and words[-1] in rules.rhetorical_tags:
            return f"is rhetorical or leading (ends with {words[-1]!r})"
        for pattern in rules.rhetorical:
            if _contains(words, pattern, rules.hypothetical):
                said = " ... ".join(" ".join(seg) for seg in pattern)
                return f"is rhetorical or leading ({said!r})"
    return None


def closed_question_reason(text: str, lang: Lang) -> str | None:
    """``None`` for an open question ending in "?", else the reason it is not one."""
    question = last_question(text)
    if question is None:
        return "does not end with '?'"
    rhetoric = rhetorical_reason(text, lang)
    if rhetoric:
        return rhetoric
    rules = load_lexicon(lang).question
    words = list(tokenize(normalize(question, translit=lang == "ru")))
    while words and words[0] in rules.skip:
        words.pop(0)
    if not words:
        return "is empty"
    if words[0] in rules.open_words:
        return None
    for opener in rules.closed_openers:
        if tuple(words[: len(opener)]) == opener:
            return f"is a yes/no question (starts with {' '.join(opener)!r})"
    particles = [w for w in words[:4] if w in rules.closed_particles]
    if particles:
        return f"is a yes/no question (particle {particles[0]!r})"
    return None
