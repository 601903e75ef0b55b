"""Voter guidance pages: one Markdown page per election and language, written by coordinators.

The store keeps the text as written, with the time and the author of the last change; every
change is also an audit entry (:mod:`pollwatch.store.audit`) with the text's length and
SHA-256, so a page that changed can be traced to who changed it. Rendering (and with it the
check that the text is not too long for phones) is
:func:`pollwatch.guide.markdown.render_markdown`'s, called by the web layer before it stores
a page: the store does not import the guide.

Readers ask for a language; :func:`guidance_page` answers with that page or, when it was not
written yet, the first written one of :data:`FALLBACK_ORDER`, saying which language it is, so
a page can say honestly "not yet in Serbian; shown in Russian".
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from pollwatch.errors import InputError
from pollwatch.store._util import as_utc, format_stored, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.elections import get_election
from pollwatch.store.engine import write_transaction
from pollwatch.store.tables import guidance_pages

__all__ = [
    "FALLBACK_ORDER",
    "GUIDANCE_LANGUAGES",
    "MAX_STORED_MARKDOWN",
    "guidance_page",
    "list_guidance",
    "set_guidance",
]

GUIDANCE_LANGUAGES: tuple[str, ...] = ("en", "ru", "sr")
"""Languages a guidance page may be written in (the site's interface languages)."""

FALLBACK_ORDER: tuple[str, ...] = ("en", "ru", "sr")
"""Which written page a reader gets when theirs is missing: English first (the most widely
read second language of voters abroad), then Russian, then Serbian."""

MAX_STORED_MARKDOWN = 100_000
"""A storage bound only (a page longer than the renderer's limit is refused before it gets
here); it keeps a caller that skipped rendering from storing megabytes."""


def _check_lang(lang: str) -> str:
    if lang not in GUIDANCE_LANGUAGES:
        raise InputError(
            f"'lang' must be one of {', '.join(GUIDANCE_LANGUAGES)}; got {lang[:20]!r}",
            column="lang",
        )
    return lang


def _row(row: Any) -> dict[str, Any]:
    return {
        "lang": row["lang"],
        "markdown": row["markdown"],
        "updated_at": format_stored(as_utc(row["updated_at"])),
        "updated_by": row["updated_by"],
    }


def set_guidance(
    engine: Engine, election: str, lang: str, markdown: str, *, actor: str
) -> dict[str, Any]:
    """Store (or, with empty text, remove) the guidance page of ``election`` in ``lang``.

    Audited as ``guidance.write`` (``guidance.remove``) under ``actor``. Returns the page as
    :func:`list_guidance` lists it (``None`` values after a removal).
    """
    get_election(engine, election)  # 400 malformed, 404 unknown
    _check_lang(lang)
    if len(markdown) > MAX_STORED_MARKDOWN or "\x00" in markdown:
        raise InputError("the guidance text is too long or contains NUL", column="markdown")
    text = markdown.replace("\r\n", "\n").strip()
    now = utcnow()
    key = (guidance_pages.c.election == election) & (guidance_pages.c.lang == lang)
    with write_transaction(engine) as conn:
        exists = conn.execute(select(guidance_pages.c.lang).where(key)).first() is not None
        if not text:
            conn.execute(delete(guidance_pages).where(key))
            record_audit(conn, actor, "guidance.remove", f"{election}/{lang}", None)
            return {"lang": lang, "markdown": None, "updated_at": None, "updated_by": None}
        values = {"markdown": text, "updated_at": now, "updated_by": actor}
        if exists:
            conn.execute(update(guidance_pages).where(key).values(**values))
        else:
            conn.execute(insert(guidance_pages).values(election=election, lang=lang, **values))
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        record_audit(
            conn,
            actor,
            "guidance.write",
            f"{election}/{lang}",
            {"chars": len(text), "sha256": digest},
        )
    return {"lang": lang, "markdown": text, "updated_at": format_stored(now), "updated_by": actor}


def list_guidance(engine: Engine, election: str) -> dict[str, dict[str, Any]]:
    """The written pages of ``election`` by language (``{}`` when none is written yet)."""
    get_election(engine, election)
    with engine.connect() as conn:
        rows = conn.execute(
            select(guidance_pages).where(guidance_pages.c.election == election)
        ).mappings()
        return {r["lang"]: _row(r) for r in rows}


def guidance_page(engine: Engine, election: str, lang: str) -> dict[str, Any] | None:
    """The page a reader of ``lang`` gets: theirs, else the first of :data:`FALLBACK_ORDER`.

    The answer's ``lang`` is the page's own language and ``asked`` the reader's, so the
    caller can say that it shows a fallback. ``None`` when no page is written at all.
    """
    _check_lang(lang)
    pages = list_guidance(engine, election)
    for candidate in (lang, *FALLBACK_ORDER):
        if candidate in pages:
            return {**pages[candidate], "asked": lang, "fallback": candidate != lang}
    return None
