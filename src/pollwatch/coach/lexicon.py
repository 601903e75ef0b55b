"""The feedback lexicons (``coach/lexicons/<lang>.yaml``), lemmatised once at load.

Each dimension of the rubric is a list of phrases. At load time every phrase goes through
:func:`pollwatch.coach.text.lemmas`, the same pipeline as user text, so a lexicon entry
matches every inflected form and both spellings of "ё". :func:`find_phrases` then looks
for each phrase as a contiguous run of lemmas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from pollwatch.coach.text import Lang, lemmas, normalize, tokenize
from pollwatch.errors import InputError

__all__ = ["DIMENSION_KEYS", "Lexicon", "Phrase", "find_phrases", "load_lexicon", "phrase_spans"]

#: Lexicon keys holding phrase lists.
DIMENSION_KEYS = (
    "acknowledge",
    "common_ground",
    "toxic",
    "you_statements",
    "i_words",
    "hedges",
    "war_statements",
    "agreement",
    "lecturing",
    "sarcasm",
)


@dataclass(frozen=True)
class Phrase:
    """A lexicon entry: the text as written and its lemma sequence."""

    text: str
    lemmas: tuple[str, ...]


@dataclass(frozen=True)
class QuestionRules:
    """Word forms (not lemmas) that decide whether a question is open."""

    open_words: frozenset[str]
    closed_openers: tuple[tuple[str, ...], ...]
    closed_particles: frozenset[str]
    skip: frozenset[str]
    #: each pattern is a tuple of segments (word-form tuples) matched in order with gaps
    rhetorical: tuple[tuple[tuple[str, ...], ...], ...] = ()
    hypothetical: frozenset[str] = frozenset()
    rhetorical_tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Lexicon:
    """All phrase lists of one language."""

    lang: Lang
    acknowledge: tuple[Phrase, ...]
    common_ground: tuple[Phrase, ...]
    toxic: tuple[Phrase, ...]
    you_statements: tuple[Phrase, ...]
    i_words: tuple[Phrase, ...]
    hedges: tuple[Phrase, ...]
    war_statements: tuple[Phrase, ...]
    agreement: tuple[Phrase, ...]
    lecturing: tuple[Phrase, ...]
    sarcasm: tuple[Phrase, ...]
    question: QuestionRules
    negators: frozenset[str] = frozenset()
    contrast: frozenset[str] = frozenset()

    def phrases(self, key: str) -> tuple[Phrase, ...]:
        """The phrase list of one dimension by name."""
        if key not in DIMENSION_KEYS:
            raise InputError(f"Unknown lexicon dimension {key!r}; expected one of {DIMENSION_KEYS}")
        value: tuple[Phrase, ...] = getattr(self, key)
        return value


def _phrases(raw: Any, where: str, lang: Lang) -> tuple[Phrase, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        raise InputError(f"{where} must be a list of non-empty strings")
    out = []
    for text in raw:
        lem = lemmas(text, translit=lang == "ru")
        if lem:
            out.append(Phrase(text=text, lemmas=lem))
    return tuple(out)


def _forms(raw: Any, lang: Lang) -> tuple[tuple[str, ...], ...]:
    return tuple(tokenize(normalize(str(x), translit=lang == "ru")) for x in (raw or []))


@lru_cache(maxsize=4)
def load_lexicon(lang: Lang) -> Lexicon:
    """Read and lemmatise ``lexicons/<lang>.yaml`` (cached per process)."""
    if lang not in ("ru", "en"):
        raise InputError(f"The 'lang' parameter must be 'ru' or 'en'; got {lang!r} instead.")
    name = f"{lang}.yaml"
    path = resources.files("pollwatch.coach").joinpath("lexicons").joinpath(name)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise InputError("lexicon must be a mapping", file=f"lexicons/{name}")
    lists = {k: _phrases(data.get(k), f"lexicons/{name}: {k}", lang) for k in DIMENSION_KEYS}
    q = data.get("question") or {}
    rules = QuestionRules(
        open_words=frozenset(w for f in _forms(q.get("open_words"), lang) for w in f),
        closed_openers=tuple(f for f in _forms(q.get("closed_openers"), lang) if f),
        closed_particles=frozenset(w for f in _forms(q.get("closed_particles"), lang) for w in f),
        skip=frozenset(w for f in _forms(q.get("skip"), lang) for w in f),
        rhetorical=tuple(
            tuple(seg for seg in _forms(str(p).split("..."), lang) if seg)
            for p in (q.get("rhetorical") or [])
        ),
        hypothetical=frozenset(w for f in _forms(q.get("hypothetical"), lang) for w in f),
        rhetorical_tags=frozenset(w for f in _forms(q.get("rhetorical_tags"), lang) for w in f),
    )

    def words(key: str) -> frozenset[str]:
        return frozenset(lem for x in data.get(key) or [] for lem in lemmas(str(x), translit=False))

    return Lexicon(
        lang=lang,
        question=rules,
        negators=words("negators"),
        contrast=words("contrast"),
        **lists,
    )


def phrase_spans(
    text_lemmas: Sequence[str], phrases: Sequence[Phrase]
) -> list[tuple[str, int, int]]:
    """Every occurrence of every phrase: ``(text as written, start, end)`` in lemma positions."""
    spans: list[tuple[str, int, int]] = []
    n = len(text_lemmas)
    for ph in phrases:
        k = len(ph.lemmas)
        for i in range(n - k + 1):
            if tuple(text_lemmas[i : i + k]) == ph.lemmas:
                spans.append((ph.text, i, i + k))
    return sorted(spans, key=lambda s: s[1])


def find_phrases(text_lemmas: Sequence[str], phrases: Sequence[Phrase]) -> tuple[str, ...]:
    """The lexicon phrases (as written) found as contiguous lemma runs in ``text_lemmas``."""
    found: list[str] = []
    seen: set[tuple[str, ...]] = set()
    n = len(text_lemmas)
    for ph in phrases:
        k = len(ph.lemmas)
        if ph.lemmas in seen:
            continue
        if any(tuple(text_lemmas[i : i + k]) == ph.lemmas for i in range(n - k + 1)):
            found.append(ph.text)
            seen.add(ph.lemmas)
    return tuple(found)
