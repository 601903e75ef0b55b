"""Measuring the matcher: leave-one-out over the knowledge base, near-misses, held-out sets.

Used by the test suite, by ``bench/coach.py`` and to calibrate
:class:`~pollwatch.coach.matching.Thresholds`. Leave-one-out is exact: each paraphrase is
removed from the index (document frequencies recomputed, see
:meth:`~pollwatch.coach.index.MatchIndex.without`) and then asked as a query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pollwatch.coach.index import DocFeatures
from pollwatch.coach.matching import Coach, Status
from pollwatch.coach.text import analyse

__all__ = [
    "Evaluation",
    "QueryOutcome",
    "evaluate_queries",
    "leave_one_out",
    "near_misses",
]


@dataclass(frozen=True)
class QueryOutcome:
    """One evaluated query: the expected argument and what the matcher returned."""

    expected: str
    lang: str
    text: str
    top: tuple[tuple[str, float], ...]
    status: Status

    @property
    def hit1(self) -> bool:
        """Expected argument ranked first."""
        return bool(self.top) and self.top[0][0] == self.expected

    @property
    def hit3(self) -> bool:
        """Expected argument among the top three."""
        return any(i == self.expected for i, _ in self.top[:3])

    @property
    def confident_wrong(self) -> bool:
        """Confident about another argument (the worst outcome)."""
        return self.status == "confident" and not self.hit1


@dataclass(frozen=True)
class Evaluation:
    """Outcomes of a set of queries with summary rates."""

    outcomes: tuple[QueryOutcome, ...]

    @property
    def n(self) -> int:
        """Number of queries."""
        return len(self.outcomes)

    def _rate(self, flags: Iterable[bool]) -> float:
        return sum(flags) / self.n if self.n else float("nan")

    @property
    def top1(self) -> float:
        """Share of queries whose expected argument ranked first."""
        return self._rate(o.hit1 for o in self.outcomes)

    @property
    def top3(self) -> float:
        """Share of queries whose expected argument is in the top three."""
        return self._rate(o.hit3 for o in self.outcomes)

    @property
    def confident(self) -> float:
        """Share of queries answered confidently (right or wrong)."""
        return self._rate(o.status == "confident" for o in self.outcomes)

    @property
    def confident_wrong(self) -> float:
        """Share of queries answered confidently with the wrong argument."""
        return self._rate(o.confident_wrong for o in self.outcomes)

    def failures(self) -> tuple[QueryOutcome, ...]:
        """Queries whose expected argument was not first."""
        return tuple(o for o in self.outcomes if not o.hit1)


def _outcome(
    coach: Coach, index_top: list[tuple[str, float]], expected: str, lang: str, text: str
) -> QueryOutcome:
    best = index_top[0][1] if index_top else 0.0
    second = index_top[1][1] if len(index_top) > 1 else 0.0
    status = coach.thresholds.decide(best, second)
    return QueryOutcome(expected, lang, text, tuple(index_top), status)


def _documents(coach: Coach, kind: str) -> list[tuple[int, str, str, str]]:
    """(position in the index, argument id, lang, text) of paraphrases or near-misses."""
    out: list[tuple[int, str, str, str]] = []
    pos = 0
    for arg in coach.kb.active:
        for lang in ("ru", "en"):
            claim = [getattr(arg.claim, lang)]
            paras = list(getattr(arg.paraphrases, lang))
            keywords = list(getattr(arg.keywords, lang))
            if kind == "paraphrase":
                out.extend((pos + 1 + j, arg.id, lang, t) for j, t in enumerate(paras))
            pos += len(claim) + len(paras) + len(keywords)
        for lang in ("ru", "en"):
            nears = list(getattr(arg.near_misses, lang))
            if kind == "near_miss":
                out.extend((pos + j, arg.id, lang, t) for j, t in enumerate(nears))
            pos += len(nears)
    return out


def leave_one_out(coach: Coach) -> Evaluation:
    """Each paraphrase removed from the index, then asked; expected: its own argument."""
    outcomes = []
    for pos, arg_id, lang, text in _documents(coach, "paraphrase"):
        top = coach.index.without([pos]).rank(DocFeatures.of(analyse(text)), 3)
        outcomes.append(_outcome(coach, top, arg_id, lang, text))
    return Evaluation(tuple(outcomes))


def near_misses(coach: Coach, *, held_out: bool = False) -> Evaluation:
    """Each near-miss asked as a query; ``expected`` is the argument it must *not* match.

    With ``held_out=True`` the near-miss is first removed from the index (how well the
    other near-misses and the paraphrases alone keep it away).
    """
    outcomes = []
    for pos, arg_id, lang, text in _documents(coach, "near_miss"):
        index = coach.index.without([pos]) if held_out else coach.index
        top = index.rank(DocFeatures.of(analyse(text)), 3)
        outcomes.append(_outcome(coach, top, arg_id, lang, text))
    return Evaluation(tuple(outcomes))


def evaluate_queries(coach: Coach, cases: Iterable[tuple[str, str, str]]) -> Evaluation:
    """Ask each ``(expected id, lang, text)``; the index is used as built."""
    outcomes = []
    for expected, lang, text in cases:
        top = coach.index.rank(DocFeatures.of(analyse(text)), 3)
        outcomes.append(_outcome(coach, top, expected, lang, text))
    return Evaluation(tuple(outcomes))
