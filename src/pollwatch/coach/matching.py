"""Find the argument a relative made, and answer it: :class:`Coach` and :class:`AskResult`.

A person types what their relative said, in their own words, in Russian or English (mixed,
with typos, slang or in Latin letters). :meth:`Coach.ask` scores every active argument of
the knowledge base with :class:`~pollwatch.coach.index.MatchIndex` and decides:

* ``"confident"`` — the best score is at least ``Thresholds.confident`` *and* ahead of the
  second by ``Thresholds.margin``: the three-step answer is given;
* ``"choose"`` — the best score is at least ``Thresholds.unsure``: the top 3 are offered;
* ``"none"`` — nothing is close: a general answer (acknowledge, ask where the belief comes
  from) and the list of topics and their arguments are offered.

Two guards keep the coach from answering confidently what it does not know:

* **an unknown subject** — the text names a person, place or organisation
  (:func:`~pollwatch.coach.text.proper_names`) that the best argument never mentions
  ("Крым наш" is not an argument about emigrants because both say "наш"): the answer is the
  general one, with the topics;
* **two claims at once** — the text is split into sentences and clauses; when two parts
  each match a different argument on their own, both are offered (``mixed``) instead of
  answering one.

The thresholds were calibrated by leave-one-out on the shipped knowledge base (each
paraphrase removed from the index and asked as a query): no paraphrase whose top-1 was
wrong and no near-miss of an argument reaches ``confident`` for that argument; see
``docs/coach.md`` for the figures and ``pollwatch.coach.evaluate`` to recompute them.

The coach holds no state about users and does no I/O besides reading the knowledge base
when it is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pollwatch.coach.answer import Answer, TopicGroup, build_answer, topic_groups
from pollwatch.coach.i18n import t
from pollwatch.coach.index import DocFeatures, IndexEntry, MatchIndex, MatchParams
from pollwatch.coach.loader import KnowledgeBase, load_knowledge_base
from pollwatch.coach.schema import Argument
from pollwatch.coach.text import Lang, analyse, clean_text, lemma, lemmas, proper_names
from pollwatch.errors import InputError

__all__ = [
    "AskResult",
    "Coach",
    "GeneralAnswer",
    "Match",
    "Status",
    "Thresholds",
    "argument_entry",
    "default_coach",
]

Status = Literal["confident", "choose", "none"]


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the combined score (see the module docstring)."""

    confident: float = 0.25
    margin: float = 0.05
    unsure: float = 0.15

    def decide(self, best: float, second: float) -> Status:
        """The status for a best and a second-best score."""
        if best >= self.confident and best - second >= self.margin:
            return "confident"
        if best >= self.unsure:
            return "choose"
        return "none"


@dataclass(frozen=True)
class Match:
    """One candidate argument: id, score in [0, 1] and its claim in the answer language."""

    id: str
    score: float
    claim: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"id": self.id, "score": round(self.score, 4), "claim": self.claim}


@dataclass(frozen=True)
class GeneralAnswer:
    """What to say when the coach has no argument for it: acknowledge, then ask an open
    question about where the belief comes from (then the user picks a topic)."""

    acknowledge: str
    question: str

    @classmethod
    def in_lang(cls, lang: Lang) -> GeneralAnswer:
        """The general answer in ``lang``."""
        return cls(
            acknowledge=t(
                "It sounds like this matters to you, and I would like to understand why.", lang
            ),
            question=t("Where did you first hear about it, and what convinced you most?", lang),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"acknowledge": self.acknowledge, "question": self.question}


_LOWER_WORD_RE = re.compile(r"(?<![\w'])[a-z]{2,}(?![\w'])")

#: Splits a message into sentences and clauses that may each carry a claim.
_CLAUSE_RE = re.compile(
    r"[.!?;…]+|\s[-–—]\s|,?\s+(?:а\s+ещё|и\s+вообще|да\s+и|а\s+также|"
    r"and\s+also|besides|and\s+anyway|plus)\s+|,\s+(?:а|и|and|but)\s+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AskResult:
    """What :meth:`Coach.ask` found.

    ``matches`` are the top 3, best first (empty when the text had nothing to match);
    ``answer`` is set only when ``status == "confident"``; ``topics`` only when
    ``status == "none"``, with the ``general`` answer; ``mixed`` is true when the text made
    several claims and ``matches`` holds one per claim.
    """

    status: Status
    lang: Lang
    matches: tuple[Match, ...]
    answer: Answer | None = None
    topics: tuple[TopicGroup, ...] = field(default=())
    general: GeneralAnswer | None = None
    mixed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """``{"matches": [{"id", "score", "claim"}, ...], "answer": {...} | None,
        "status": ..., "lang": ..., "topics": [...]}`` — the ``--json`` output."""
        return {
            "matches": [m.to_dict() for m in self.matches],
            "answer": self.answer.to_dict() if self.answer else None,
            "status": self.status,
            "lang": self.lang,
            "topics": [g.to_dict() for g in self.topics],
            "general": self.general.to_dict() if self.general else None,
            "mixed": self.mixed,
        }


def argument_entry(argument: Argument) -> IndexEntry:
    """The texts of an argument that the index matches against (both languages)."""
    texts: list[str] = []
    near: list[str] = []
    for lang in ("ru", "en"):
        texts.append(getattr(argument.claim, lang))
        texts.extend(getattr(argument.paraphrases, lang))
        texts.extend(getattr(argument.keywords, lang))
        near.extend(getattr(argument.near_misses, lang))
    return IndexEntry(argument.id, tuple(texts), tuple(near))


class Coach:
    """The coach over one knowledge base: matching, answers, topics.

    Parameters
    ----------
    kb : KnowledgeBase, optional
        Default: the knowledge base shipped with pollwatch.
    params : MatchParams, optional
        Index parameters (defaults calibrated on the shipped knowledge base).
    thresholds : Thresholds, optional
        Decision thresholds.
    """

    def __init__(
        self,
        kb: KnowledgeBase | None = None,
        *,
        params: MatchParams | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.kb = kb if kb is not None else load_knowledge_base()
        self.thresholds = thresholds or Thresholds()
        active = self.kb.active
        if not active:
            raise InputError("The knowledge base has no active (non-retired) argument.")
        entries = [argument_entry(a) for a in active]
        self.index = MatchIndex.build(entries, params)
        # every lemma each argument's texts use: a name outside them is an unknown subject
        self._vocab = {
            e.argument_id: frozenset(lem for x in e.texts for lem in lemmas(x)) for e in entries
        }
        # words only near-misses use: subjects curators marked as neighbouring, not covered
        near = frozenset(lem for e in entries for x in e.near_misses for lem in lemmas(x))
        self._off_topic = near - frozenset().union(*self._vocab.values())
        # Latin words the texts write in lower case: a capital on them only starts a sentence
        self._ordinary = frozenset(
            lemma(w) for e in entries for x in e.texts for w in _LOWER_WORD_RE.findall(x)
        )

    def unknown_subjects(self, text: str, argument_id: str) -> tuple[str, ...]:
        """Subjects in ``text`` that the argument never mentions: names (a capitalised Latin
        word that the knowledge base writes in lower case elsewhere, "Sanctions ...", is no
        name) and words that only near-misses use (subjects a curator marked as
        neighbouring: "moon" next to "staged footage")."""
        own = self._vocab.get(argument_id, frozenset())
        names = [n for n in proper_names(text) if not (n.isascii() and n in self._ordinary)]
        names += [lem for lem in lemmas(text) if lem in self._off_topic]
        return tuple(n for n in dict.fromkeys(names) if n not in own)

    def _claims(self, text: str, lang: Lang | None) -> list[str]:
        """Arguments matched confidently by separate parts of a text, best part first."""
        found: list[str] = []
        parts = [p for p in _CLAUSE_RE.split(text) if p and len(p.split()) >= 2]
        if len(parts) < 2:
            return found
        for part in parts:
            analysis = analyse(part)
            if not analysis.lemmas:
                continue
            ranked = self.index.rank(DocFeatures.of(analysis), 2)
            best, second = ranked[0][1], (ranked[1][1] if len(ranked) > 1 else 0.0)
            if (
                self.thresholds.decide(best, second) == "confident"
                and ranked[0][0] not in found
                and not self.unknown_subjects(part, ranked[0][0])
            ):
                found.append(ranked[0][0])
        return found

    def ask(self, text: str, lang: Lang | None = None, *, variant: int = 0) -> AskResult:
        """Match what a relative said and answer it.

        Parameters
        ----------
        text : str
            The relative's words as the user typed them (at most 5,000 characters).
        lang : {"ru", "en"}, optional
            Language of the answer; detected from the text when omitted.
        variant : int
            Which response variant to give (deterministic; modulo the number of variants).

        Raises
        ------
        InputError
            Empty, non-string or too long text, or an unknown ``lang``.
        """
        cleaned = clean_text(text)
        if lang is not None and lang not in ("ru", "en"):
            raise InputError(f"The 'lang' parameter must be 'ru' or 'en'; got {lang!r} instead.")
        analysis = analyse(cleaned)
        out_lang: Lang = lang or analysis.lang
        general = GeneralAnswer.in_lang(out_lang)
        if not analysis.lemmas:
            return AskResult("none", out_lang, (), None, topic_groups(self.kb, out_lang), general)
        scores = self.index.scores(DocFeatures.of(analysis)).combined
        ranked = self.index.rank(DocFeatures.of(analysis), 3)
        matches = tuple(self._match(i, s, out_lang) for i, s in ranked if s > 0)
        claims = self._claims(cleaned, lang)
        if len(claims) >= 2:
            by_id = dict(zip(self.index.argument_ids, scores, strict=True))
            both = tuple(self._match(i, float(by_id[i]), out_lang) for i in claims[:3])
            return AskResult("choose", out_lang, both, mixed=True)
        best = matches[0].score if matches else 0.0
        second = matches[1].score if len(matches) > 1 else 0.0
        status = self.thresholds.decide(best, second)
        if status == "confident" and self.unknown_subjects(cleaned, matches[0].id):
            status = "none"
        if status == "confident":
            answer = build_answer(self.kb, self.kb.get(matches[0].id), out_lang, variant)
            return AskResult("confident", out_lang, matches, answer)
        if status == "choose":
            return AskResult("choose", out_lang, matches)
        return AskResult("none", out_lang, matches, None, topic_groups(self.kb, out_lang), general)

    def _match(self, argument_id: str, score: float, lang: Lang) -> Match:
        return Match(argument_id, score, str(getattr(self.kb.get(argument_id).claim, lang)))

    def answer(self, argument_id: str, lang: Lang, *, variant: int = 0) -> Answer:
        """The answer to a named argument (when the user picked it from a list)."""
        return build_answer(self.kb, self.kb.get(argument_id), lang, variant)

    def topics(self, lang: Lang) -> tuple[TopicGroup, ...]:
        """Topics with their arguments' claims."""
        return topic_groups(self.kb, lang)


@lru_cache(maxsize=1)
def default_coach() -> Coach:
    """The coach over the shipped knowledge base, built once per process (for interfaces)."""
    return Coach()
