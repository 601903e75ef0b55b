"""The three-step answer to one argument, and its plain-text rendering.

An answer follows MOST's three steps: a bridge that shows understanding, a counterargument
that stresses what people share (sourced), an open question. Safety comes first: the legal
risk of *saying or sharing* the chosen variants (the argument's ``legal_risks``, whatever
the sources) and of forwarding a source's link (its ``risk``) open the answer, in the
answer's language, and every rendering points to the general safety note
(:mod:`pollwatch.coach.safety`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pollwatch.coach.i18n import t, topic_label
from pollwatch.coach.loader import KnowledgeBase
from pollwatch.coach.risk import STEPS
from pollwatch.coach.schema import Argument
from pollwatch.coach.text import Lang
from pollwatch.errors import InputError

__all__ = [
    "TELEGRAM_LIMIT",
    "Answer",
    "RiskView",
    "SourceView",
    "TopicGroup",
    "build_answer",
    "render_answer",
    "role_labels",
    "topic_groups",
]

#: Longest message Telegram delivers (characters); every rendered answer must fit.
TELEGRAM_LIMIT = 4096

#: Role ids and their English labels (message ids in ``coach.po``).
ROLE_LABELS = {
    "economist": "economist",
    "editor": "editor",
    "fact-checker": "fact-checker",
    "historian": "historian",
    "international lawyer": "international lawyer",
    "journalist": "journalist",
    "lawyer": "lawyer",
    "political scientist": "political scientist",
    "psychologist": "psychologist",
    "sociologist": "sociologist",
    "statistician": "statistician",
}


@dataclass(frozen=True)
class SourceView:
    """A source as shown with an answer; ``risk`` is in the answer's language."""

    id: str
    type: str
    title: str
    publisher: str
    url: str
    archived_url: str | None
    date: str
    quote: str
    risk: str | None
    supports: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class RiskView:
    """The legal risk of saying or sharing part of an answer, in the answer's language."""

    law: str
    title: str
    penalty: str
    note: str
    steps: tuple[str, ...]
    source_url: str | None

    @property
    def text(self) -> str:
        """One line: the statute, what it punishes with, what has been prosecuted."""
        return f"{self.title} — {self.penalty}. {self.note}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        data = dict(self.__dict__)
        data["steps"] = list(self.steps)
        data["text"] = self.text
        return data


@dataclass(frozen=True)
class Answer:
    """Bridge, counterargument and question for one argument in one language.

    ``warnings`` are every risk text in display order (statements first, then the sources'
    links); interfaces show them before the three steps.
    """

    argument_id: str
    lang: Lang
    claim: str
    status: str
    variant: int
    bridge: str
    counterargument: str
    question: str
    sources: tuple[SourceView, ...]
    risks: tuple[RiskView, ...]
    warnings: tuple[str, ...]
    reviewed_by: tuple[str, ...]
    review_date: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (sources and risks as dicts)."""
        data = dict(self.__dict__)
        data["sources"] = [s.to_dict() for s in self.sources]
        data["risks"] = [r.to_dict() for r in self.risks]
        data["warnings"] = list(self.warnings)
        data["reviewed_by"] = list(self.reviewed_by)
        return data


@dataclass(frozen=True)
class TopicGroup:
    """One topic with the claims of its arguments (offered when nothing matched)."""

    topic: str
    label: str
    arguments: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "topic": self.topic,
            "label": self.label,
            "arguments": [{"id": i, "claim": c} for i, c in self.arguments],
        }


def _index(items: list[str], variant: int) -> int:
    return variant % len(items)


def role_labels(roles: list[str], lang: Lang) -> tuple[str, ...]:
    """Roles (``authors``, ``reviewed_by``) translated into ``lang``."""
    return tuple(t(ROLE_LABELS.get(r, r), lang) for r in roles)


def _risks(
    kb: KnowledgeBase, argument: Argument, lang: Lang, chosen: dict[str, int]
) -> list[RiskView]:
    out: list[RiskView] = []
    for risk in argument.legal_risks:
        steps = tuple(s for s in STEPS if risk.covers(s, chosen[s]))
        if not steps:
            continue
        law = kb.laws.get(risk.law)
        src = kb.sources.get(risk.source)
        out.append(
            RiskView(
                law=risk.law,
                title=getattr(law.title, lang) if law else risk.law,
                penalty=getattr(law.penalty, lang) if law else "",
                note=getattr(risk.note, lang),
                steps=steps,
                source_url=src.url if src else None,
            )
        )
    return out


def build_answer(kb: KnowledgeBase, argument: Argument, lang: Lang, variant: int = 0) -> Answer:
    """The answer to ``argument`` in ``lang``; ``variant`` picks among the variants
    (modulo their number, so any integer is valid and the same integer gives the same text).
    """
    if lang not in ("ru", "en"):
        raise InputError(f"The 'lang' parameter must be 'ru' or 'en'; got {lang!r} instead.")
    if not isinstance(variant, int) or variant < 0:
        raise InputError(f"The 'variant' parameter must be a non-negative integer; got {variant!r}")
    r = argument.responses
    texts = {s: getattr(getattr(r, s), lang) for s in STEPS}
    chosen = {s: _index(texts[s], variant) for s in STEPS}
    sources: list[SourceView] = []
    for ref in argument.sources:
        src = kb.sources.get(ref.id)
        if src is None:
            continue
        sources.append(
            SourceView(
                id=src.id,
                type=src.type,
                title=src.title,
                publisher=src.publisher,
                url=src.url,
                archived_url=src.archived_url,
                date=src.date.isoformat(),
                quote=src.quote,
                risk=getattr(src.risk, lang) if src.risk else None,
                supports=ref.supports,
            )
        )
    risks = _risks(kb, argument, lang, chosen)
    warnings = tuple(
        dict.fromkeys([*(r.text for r in risks), *(s.risk for s in sources if s.risk)])
    )
    return Answer(
        argument_id=argument.id,
        lang=lang,
        claim=getattr(argument.claim, lang),
        status=argument.status,
        variant=variant,
        bridge=texts["bridge"][chosen["bridge"]],
        counterargument=texts["counterargument"][chosen["counterargument"]],
        question=texts["question"][chosen["question"]],
        sources=tuple(sources),
        risks=tuple(risks),
        warnings=warnings,
        reviewed_by=role_labels(list(argument.reviewed_by), lang),
        review_date=argument.review_date.isoformat(),
    )


def render_answer(answer: Answer) -> str:
    """The answer as one plain-text message (CLI, bot; fits :data:`TELEGRAM_LIMIT`).

    Risks come first, then the pointer to the safety note, then the three steps, the
    sources and who reviewed the content when.
    """
    lang = answer.lang
    lines: list[str] = []
    if answer.risks:
        items = "\n".join(f"- {r.text}" for r in answer.risks)
        lines.append(f"⚠ {t('Legal risk of saying or sharing this', lang)}:\n{items}")
    shared = [s for s in answer.sources if s.risk]
    if shared:
        items = "\n".join(f"- {risk}" for risk in dict.fromkeys(s.risk for s in shared if s.risk))
        lines.append(f"⚠ {t('Sharing this source', lang)}:\n{items}")
    lines.append(
        t("Before you talk or share anything, read the safety note: pollwatch coach safety", lang)
    )
    lines += [
        f"{t('1. Show you understand', lang)}\n{answer.bridge}",
        f"{t('2. What we share, and the facts', lang)}\n{answer.counterargument}",
        f"{t('3. Ask an open question', lang)}\n{answer.question}",
    ]
    if answer.sources:
        refs = []
        for s in answer.sources:
            ref = f"- {s.title} ({s.publisher}, {s.date[:4]}) {s.url}"
            if s.archived_url:
                ref += f" [{t('archived copy', lang)}: {s.archived_url}]"
            refs.append(ref)
        lines.append(f"{t('Sources', lang)}:\n" + "\n".join(refs))
    roles = ", ".join(answer.reviewed_by)
    lines.append(t("Reviewed by {roles}, {date}", lang, roles=roles, date=answer.review_date))
    return "\n\n".join(lines)


def topic_groups(kb: KnowledgeBase, lang: Lang) -> tuple[TopicGroup, ...]:
    """Every topic that has active arguments, with their claims, in the fixed topic order."""
    from pollwatch.coach.schema import TOPICS

    groups = []
    for topic in TOPICS:
        args = tuple((a.id, str(getattr(a.claim, lang))) for a in kb.active if topic in a.topics)
        if args:
            groups.append(TopicGroup(topic=topic, label=topic_label(topic, lang), arguments=args))
    return tuple(groups)
