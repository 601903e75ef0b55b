"""The general safety note: what someone in Russia risks by talking, writing or sharing.

Content lives in ``kb/safety.yaml`` (both languages); every answer points to it and every
interface shows it one step away (``pollwatch coach safety``, ``/coach/safety``,
``GET /api/v1/coach/safety``). It says what the answers' risk notes cannot say one by one:
phones are checked, private remarks have been reported, links to "undesirable" outlets are
a case of their own, and what Noon against Putin actually risked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pollwatch.coach.answer import role_labels
from pollwatch.coach.i18n import t
from pollwatch.coach.loader import KnowledgeBase
from pollwatch.coach.text import Lang
from pollwatch.errors import InputError, NotFoundError

__all__ = ["SafetyView", "render_safety_note", "safety_note"]


@dataclass(frozen=True)
class SafetyView:
    """The safety note in one language, with its sources' titles and links."""

    lang: Lang
    title: str
    points: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    reviewed_by: tuple[str, ...]
    review_date: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "lang": self.lang,
            "title": self.title,
            "points": list(self.points),
            "sources": [{"title": title, "url": url} for title, url in self.sources],
            "reviewed_by": list(self.reviewed_by),
            "review_date": self.review_date,
        }


def safety_note(kb: KnowledgeBase, lang: Lang) -> SafetyView:
    """The knowledge base's safety note in ``lang``."""
    if lang not in ("ru", "en"):
        raise InputError(f"The 'lang' parameter must be 'ru' or 'en'; got {lang!r} instead.")
    note = kb.safety
    if note is None:
        raise NotFoundError("This knowledge base has no safety note (safety.yaml).")
    sources = tuple(
        (kb.sources[s].title, kb.sources[s].url) for s in note.sources if s in kb.sources
    )
    return SafetyView(
        lang=lang,
        title=getattr(note.title, lang),
        points=tuple(getattr(p, lang) for p in note.points),
        sources=sources,
        reviewed_by=role_labels(list(note.reviewed_by), lang),
        review_date=note.review_date.isoformat(),
    )


def render_safety_note(view: SafetyView) -> str:
    """The safety note as plain text (CLI, bot)."""
    lines = [view.title, *(f"- {p}" for p in view.points)]
    lines.append(f"{t('Sources', view.lang)}:\n" + "\n".join(f"- {a} {u}" for a, u in view.sources))
    lines.append(
        t(
            "Reviewed by {roles}, {date}",
            view.lang,
            roles=", ".join(view.reviewed_by),
            date=view.review_date,
        )
    )
    return "\n\n".join(lines)
