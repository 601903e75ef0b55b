"""The three-step answer to one argument, and its plain-text rendering.

An answer follows MOST's three steps: a bridge that shows understanding, a counterargument
that stresses what people share (sourced), an open question. Sources carry their risk note
so that an interface can warn before someone forwards a link that is prosecuted where
they live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pollwatch.coach.i18n import t, topic_label
from pollwatch.coach.loader import KnowledgeBase
from pollwatch.coach.schema import Argument
from pollwatch.coach.text import Lang
from pollwatch.errors import InputError

__all__ = [
    "TELEGRAM_LIMIT",
    "Answer",
    "SourceView",
    "TopicGroup",
    "build_answer",
    "render_answer",
    "topic_groups",
]

#: Longest message Telegram delivers (characters); every rendered answer must fit.
TELEGRAM_LIMIT = 4096


@dataclass(frozen=True)
class SourceView:
    """A source as shown with an answer."""

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
class Answer:
    """Bridge, counterargument and question for one argument in one language."""

    argument_id: str
    lang: Lang
    claim: str
    status: str
    variant: int
    bridge: str
    counterargument: str
    question: str
    sources: tuple[SourceView, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (sources as dicts)."""
        data = dict(self.__dict__)
        data["sources"] = [s.to_dict() for s in self.sources]
        data["warnings"] = list(self.warnings)
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


def _pick(items: list[str], variant: int) -> str:
    return items[variant % len(items)]


def build_answer(kb: KnowledgeBase, argument: Argument, lang: Lang, variant: int = 0) -> Answer:
    """The answer to ``argument`` in ``lang``; ``variant`` picks among the variants
    (modulo their number, so any integer is valid and the same integer gives the same text).
    """
    if lang not in ("ru", "en"):
        raise InputError(f"The 'lang' parameter must be 'ru' or 'en'; got {lang!r} instead.")
    if not isinstance(variant, int) or variant < 0:
        raise InputError(f"The 'variant' parameter must be a non-negative integer; got {variant!r}")
    r = argument.responses
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
                risk=src.risk,
                supports=ref.supports,
            )
        )
    warnings = tuple(dict.fromkeys(s.risk for s in sources if s.risk))
    return Answer(
        argument_id=argument.id,
        lang=lang,
        claim=getattr(argument.claim, lang),
        status=argument.status,
        variant=variant,
        bridge=_pick(getattr(r.bridge, lang), variant),
        counterargument=_pick(getattr(r.counterargument, lang), variant),
        question=_pick(getattr(r.question, lang), variant),
        sources=tuple(sources),
        warnings=warnings,
    )


def render_answer(answer: Answer) -> str:
    """The answer as one plain-text message (used by the CLI; fits :data:`TELEGRAM_LIMIT`)."""
    lang = answer.lang
    lines = [
        f"{t('step_bridge', lang)}\n{answer.bridge}",
        f"{t('step_counterargument', lang)}\n{answer.counterargument}",
        f"{t('step_question', lang)}\n{answer.question}",
    ]
    if answer.sources:
        refs = []
        for s in answer.sources:
            ref = f"- {s.title} ({s.publisher}, {s.date[:4]}) {s.url}"
            if s.archived_url:
                ref += f" [{t('archived', lang)}: {s.archived_url}]"
            refs.append(ref)
        lines.append(f"{t('sources', lang)}:\n" + "\n".join(refs))
    for w in answer.warnings:
        lines.append(f"{t('risk', lang)}: {w}")
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
