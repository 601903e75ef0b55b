"""Voter guidance in Telegram: ``/guide`` shows the election's date-aware cards and the
sections of its guidance page; a section (or the whole page) is sent as Telegram HTML.

Nothing is decided here. The cards are the guide's
(:func:`pollwatch.web.guide_content.cards_for` over
:func:`pollwatch.store.elections.election_key_dates`: "register by …", "registration is
closed", election day first), worded with the guidance pages' own msgids (``guidance.po``),
so the web and the bot say the same thing in the same words. The page is the one the web
shows the reader (:func:`pollwatch.store.guidance.guidance_page`: theirs, else a fallback
language, said so), rendered by the guide's sanitiser
(:func:`pollwatch.guide.markdown.render_markdown`) and then reduced to the few tags
Telegram's HTML accepts (:func:`telegram_html`). A long page is cut between blocks into
messages of at most 4,096 characters (:func:`telegram_messages`); each message's tags are
balanced. The election is ``POLLWATCH_TELEGRAM_ELECTION``; the web page's address
(``POLLWATCH_PUBLIC_URL``) ends the answer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from aiogram import Bot
from aiogram.filters import Command
from aiogram.types import CallbackQuery, LinkPreviewOptions, Message
from sqlalchemy import Engine

from pollwatch.bot.context import Who
from pollwatch.bot.i18n import Translate, translator
from pollwatch.bot.services import BotServices
from pollwatch.bot.ui import MESSAGE_LIMIT, Guide, Handlers, keyboard, split_message
from pollwatch.errors import InputError
from pollwatch.guide.markdown import render_markdown
from pollwatch.store.elections import election_key_dates
from pollwatch.store.guidance import guidance_page

__all__ = [
    "MAX_SECTION_BUTTONS",
    "Section",
    "card_lines",
    "guidance_for",
    "handlers",
    "sections",
    "telegram_html",
    "telegram_messages",
]

handlers = Handlers("guidance")

MAX_SECTION_BUTTONS = 12
"""Section buttons shown; a page with more sections is offered whole."""

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

_PLAIN_PIECE = 800
"""Characters of plain text per piece when one block alone is too long for a message
(escaped, a piece stays under 4,096 characters even if it were all ``&``)."""


def _card_translator(lang: str) -> Translate:
    return translator(lang, "guidance", "guide", "pollwatch")


def card_lines(cards: Mapping[str, Any], t: Translate) -> list[str]:
    """The date-aware cards as Telegram HTML lines, in the guide's order and words (``t``
    translates with the guidance pages' catalogue, where these msgids live)."""
    lines: list[str] = []
    for card in cards.get("cards") or ():
        kind = card["kind"]
        at, zone = html.escape(str(card.get("at"))), html.escape(str(card.get("zone")))
        mark = "‼️ " if card.get("urgent") else ""
        if kind == "register-by":
            head = t("Register by {at} ({zone}).", at=at, zone=zone)
            days = card.get("days_left")
            tail = t("Today is the last day.") if days == 0 else t("Days left: {n}.", n=days)
        elif kind == "registration-closed":
            head = t("Registration closed on {at} ({zone}).", at=at, zone=zone)
            tail = t("If you registered, vote at the station you registered for.")
        elif kind == "voting-days":
            head = t("Voting days (local time, {zone}):", zone=zone)
            tail = ", ".join(html.escape(str(d)) for d in card.get("days") or ())
        elif kind == "voting-over":
            head, tail = t("Voting ended on {at} ({zone}).", at=at, zone=zone), ""
        elif kind == "open-now":
            head = t("Election day: the station is open until {at} ({zone}).", at=at, zone=zone)
            tail = t("Check the live queue and ballots before you go.")
        elif kind == "opens-today":
            head = t("Election day: the station opens at {at} ({zone}).", at=at, zone=zone)
            tail = t("Check the live queue and ballots before you go.")
        elif kind == "closed-today":
            head = t("Voting closed today at {at} ({zone}).", at=at, zone=zone)
            reopens = card.get("reopens")
            tail = t("It opens again at {at}.", at=html.escape(str(reopens))) if reopens else ""
        else:  # a newer card kind: its name, not nothing
            head, tail = html.escape(kind), ""
        lines.append(f"{mark}<b>{head}</b>" + (f" {tail}" if tail else ""))
    return lines


# --- the page as Telegram HTML ---------------------------------------------------------------

_INLINE = {"strong": "b", "em": "i", "code": "code"}
_BLOCKS = {"p", "h2", "h3", "h4", "li", "pre", "blockquote", "tr", "hr"}


class _Reducer(HTMLParser):
    """Sanitised guide HTML → blocks of Telegram HTML (b, i, code, pre, a, blockquote)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []  # (kind, Telegram HTML)
        self._out: list[str] = []
        self._open: list[str] = []
        self._kind = "p"
        self._lists: list[list[int]] = []  # per open list: [is_ordered, next number]
        self._cells = 0

    def _flush(self) -> None:
        for tag in reversed(self._open):  # balanced whatever the input
            self._out.append(f"</{tag}>")
        self._open = []
        text = "".join(self._out).strip()
        if text and text not in ("<b></b>", "<i></i>"):
            self.blocks.append((self._kind, text))
        self._out = []

    def _push(self, tag: str, attrs: str = "") -> None:
        self._out.append(f"<{tag}{attrs}>")
        self._open.append(tag)

    def _pop(self, tag: str) -> None:
        if tag in self._open:
            while self._open:
                last = self._open.pop()
                self._out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("ul", "ol"):
            self._flush()
            self._lists.append([tag == "ol", 1])
        elif tag in _BLOCKS:
            self._flush()
            self._kind = "h" if tag in ("h2", "h3", "h4") else tag
            self._cells = 0
            if tag in ("h2", "h3", "h4"):
                self._push("b")
            elif tag == "li":
                numbered = self._lists and self._lists[-1][0]
                if numbered:
                    self._out.append(f"{self._lists[-1][1]}. ")
                    self._lists[-1][1] += 1
                else:
                    self._out.append("• ")
            elif tag in ("pre", "blockquote"):
                self._push(tag)
            elif tag == "hr":
                self._out.append("———")
                self._flush()
        elif tag in ("td", "th"):
            if self._cells:
                self._out.append(" | ")
            self._cells += 1
        elif tag == "br":
            self._out.append("\n")
        elif tag in _INLINE and "pre" not in self._open:
            self._push(_INLINE[tag])
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            if href.startswith(("http://", "https://", "mailto:")):
                self._push("a", f' href="{html.escape(href, quote=True)}"')

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol"):
            self._flush()
            if self._lists:
                self._lists.pop()
        elif tag in _BLOCKS:
            self._flush()
            self._kind = "p"
        elif tag in _INLINE:
            self._pop(_INLINE[tag])
        elif tag == "a":
            self._pop("a")

    def handle_data(self, data: str) -> None:
        if self._kind == "tr" and not data.strip():
            return  # the layout between a row's cells
        if "pre" not in self._open:
            data = re.sub(r"\s+", " ", data)
        self._out.append(html.escape(data, quote=False))

    def close(self) -> None:
        super().close()
        self._flush()


def telegram_html(safe_html: str) -> list[tuple[str, str]]:
    """The guide's sanitised HTML as (kind, Telegram HTML) blocks; ``kind`` is ``h`` for a
    heading, else the block's tag. Only b, i, code, pre, blockquote and a (http, https,
    mailto) remain, each block balanced; text is escaped."""
    reducer = _Reducer()
    reducer.feed(safe_html)
    reducer.close()
    return reducer.blocks


@dataclass(frozen=True)
class Section:
    """A heading and the blocks under it (the part before the first heading has none)."""

    title: str
    blocks: list[str]


def sections(blocks: list[tuple[str, str]]) -> list[Section]:
    """The page cut at its headings; a heading's title is its plain text."""
    out: list[Section] = []
    for kind, block in blocks:
        if kind == "h":
            out.append(Section(_plain(block), [block]))
        elif out:
            out[-1].blocks.append(block)
        else:
            out.append(Section("", [block]))
    return out


def _plain(block: str) -> str:
    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    parser = Text()
    parser.feed(block)
    parser.close()
    return "".join(parser.parts).strip()


def telegram_messages(blocks: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Blocks packed into messages of at most ``limit`` characters, cut between blocks; a
    block longer than a message alone is sent as plain text in pieces (its tags dropped,
    so no cut falls inside a tag)."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        pieces = [block]
        if len(block) > limit:
            text = _plain(block)
            pieces = [html.escape(p, quote=False) for p in split_message(text, _PLAIN_PIECE)]
        for piece in pieces:
            joined = f"{current}\n\n{piece}" if current else piece
            if len(joined) <= limit:
                current = joined
                continue
            if current:
                messages.append(current)
            current = piece
    if current:
        messages.append(current)
    return messages


# --- the handlers ---------------------------------------------------------------------------


def guidance_for(engine: Engine, election: str, lang: str, now: datetime) -> dict[str, Any]:
    """What ``/guide`` shows: the cards at ``now`` and the page in the reader's language
    (or the fallback), as sections of Telegram HTML."""
    from pollwatch.web.guide_content import cards_for

    cards = cards_for(election_key_dates(engine, election), now)
    page = guidance_page(engine, election, lang)
    parts: list[Section] = []
    if page is not None:
        parts = sections(telegram_html(render_markdown(page["markdown"])))
    return {"cards": cards, "page": page, "sections": parts}


def _election(services: BotServices, _: Translate) -> str:
    election = services.settings.telegram_election
    if not election:
        raise InputError(_("voter guidance is not set up on this bot"), column="election")
    return election


def _link(services: BotServices, election: str) -> str | None:
    base = services.settings.public_url
    return f"{base}/guide/{election}/info" if base else None


async def _guidance(services: BotServices, election: str, lang: str) -> dict[str, Any]:
    return await services.run(guidance_for, services.engine, election, lang, datetime.now(UTC))


@handlers.message(Command("guide"))
async def guide(message: Message, bot: Bot, who: Who, services: BotServices) -> None:
    """The election's cards and the guidance page's sections."""
    _ = who._
    election = _election(services, _)
    found = await _guidance(services, election, who.lang)
    lines = card_lines(found["cards"], _card_translator(who.lang))
    parts: list[Section] = found["sections"]
    page = found["page"]
    if page is None:
        lines.append(_("No voter guidance has been written for this election yet."))
    elif page["fallback"]:
        lines.append(_("The guidance is not written in your language; here it is in another."))
    link = _link(services, election)
    if link:
        lines.append(_('On the web: <a href="{url}">{url}</a>', url=html.escape(link)))
    rows: list[list[tuple[str, Guide]]] = []
    titled = [(i, s) for i, s in enumerate(parts) if s.title]
    if parts and len(titled) <= MAX_SECTION_BUTTONS:
        rows = [[(s.title[:60], Guide(part=str(i)))] for i, s in titled]
    if parts:
        rows.append([(_("The whole guidance"), Guide(part="all"))])
        lines.append(_("Tap a section to read it here."))
    text = "\n\n".join(lines) or _("No voter guidance has been written for this election yet.")
    await bot.send_message(
        who.chat_id,
        text[:MESSAGE_LIMIT],
        parse_mode="HTML",
        reply_markup=keyboard(rows) if rows else None,
        link_preview_options=_NO_PREVIEW,
    )


@handlers.callback_query(Guide.filter())
async def guide_part(
    query: CallbackQuery, callback_data: Guide, bot: Bot, who: Who, services: BotServices
) -> None:
    """A section of the guidance page (or all of it), in messages of at most 4,096."""
    await query.answer()
    _ = who._
    election = _election(services, _)
    found = await _guidance(services, election, who.lang)
    parts: list[Section] = found["sections"]
    if callback_data.part == "all":
        blocks = [b for s in parts for b in s.blocks]
    elif callback_data.part.isdigit() and int(callback_data.part) < len(parts):
        blocks = parts[int(callback_data.part)].blocks
    else:  # the page changed since the buttons were sent
        await bot.send_message(who.chat_id, _("The guidance has changed; send /guide again."))
        return
    link = _link(services, election)
    if link:
        blocks = [*blocks, f'<a href="{html.escape(link)}">{html.escape(link)}</a>']
    for text in telegram_messages(blocks):
        await bot.send_message(
            who.chat_id, text, parse_mode="HTML", link_preview_options=_NO_PREVIEW
        )
