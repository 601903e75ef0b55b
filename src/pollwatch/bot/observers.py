"""Observers in Telegram: linking, the report flows, ``/mine``.

Linking: ``/start CODE`` (or the ``t.me/<bot>?start=CODE`` deep link, which sends the same)
with a one-time link code from the observer app (:func:`pollwatch.store.telegram.redeem_link_code`),
or with an unused invite, which creates the observer as the web app's redeem does
(:func:`pollwatch.store.redeem_invite`). Then a menu with a button per report kind; each
flow asks step by step (:mod:`pollwatch.bot.reporting`), checks every value as it comes,
echoes everything in a summary, and stores the report only when the observer confirms —
through the same :func:`~pollwatch.store.reports.prepare_report` and group-commit writer as
``POST /api/v1/reports``, idempotent on the UUID fixed when the flow started.
"""

from __future__ import annotations

import contextlib
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from pollwatch.bot import reporting
from pollwatch.bot.context import Who
from pollwatch.bot.services import BotServices
from pollwatch.bot.ui import Flow, Handlers, Menu, keyboard
from pollwatch.errors import AuthError, InputError
from pollwatch.observe.ids import check_station_id
from pollwatch.observe.reports import INCIDENT_CATEGORIES, STATUSES
from pollwatch.store import Observer, clean_photo, redeem_invite, store_photo
from pollwatch.store.photos import MAX_PHOTO_BYTES
from pollwatch.store.telegram import (
    election_candidates,
    link_observer,
    linked_observer,
    observer_for_invite,
    observer_reports,
    redeem_link_code,
)
from pollwatch.web.labels import CATEGORY_LABELS, STATUS_LABELS

__all__ = ["CODE_PATTERN", "ReportFlow", "handlers"]

handlers = Handlers("observers")

CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")
"""What a link code or invite looks like (Telegram's deep-link alphabet and length)."""

MAX_STATION_BUTTONS = 8
"""An observer bound to more stations types the station id instead."""


class ReportFlow(StatesGroup):
    """A report being entered (the draft is in the state's data)."""

    active = State()


def _now() -> datetime:
    return datetime.now(UTC)


async def _observer(services: BotServices, who: Who) -> Observer:
    found = await services.run(linked_observer, services.engine, who.user_hash)
    if found is None:
        raise AuthError(
            who._(
                "this Telegram account is not linked to an observer: open the Telegram link in "
                "the observer app, or send /start with your code"
            )
        )
    return found


def _menu(_: Any) -> Any:
    return keyboard(
        [
            [(_("Count window"), Menu(item="count")), (_("Incident"), Menu(item="incident"))],
            [
                (_("Protocol copy"), Menu(item="protocol")),
                (_("Station status"), Menu(item="status")),
            ],
            [(_("My reports"), Menu(item="mine"))],
        ]
    )


async def _show_menu(bot: Bot, who: Who, observer: Observer) -> None:
    _ = who._
    text = _(
        "You report as {name} (election {election}). What do you want to send?",
        name=observer.code_name,
        election=observer.election,
    )
    await bot.send_message(who.chat_id, text, reply_markup=_menu(_))


@handlers.message(CommandStart())
async def start(
    message: Message,
    command: CommandObject,
    bot: Bot,
    who: Who,
    services: BotServices,
    state: FSMContext,
) -> None:
    """``/start`` (welcome) or ``/start CODE`` (link this account to an observer)."""
    _ = who._
    code = (command.args or "").strip()
    if not code:
        await bot.send_message(
            who.chat_id,
            _(
                "Hello! I am pollwatch.\n\n"
                "• Write what a relative said about the war or the elections, and I suggest "
                "how to answer (/topics, /practice).\n"
                "• /where STATION finds a polling station; /follow STATION sends you its "
                "queue and wait.\n"
                "• /guide says how to register and what to bring for the current election.\n"
                "• Observers: open the Telegram link from the observer app to report here.\n\n"
                "/privacy says what I keep; /language changes the language."
            ),
        )
        return
    if not CODE_PATTERN.fullmatch(code):
        raise InputError(
            _("this is not a link code: a code is 20 to 64 letters, digits, _ and -"),
            column="code",
        )
    chat = services.keys.seal_chat(who.chat_id)
    try:
        observer = await services.run(
            redeem_link_code, services.engine, code, user_hash=who.user_hash, chat=chat
        )
    except AuthError as not_a_link_code:
        # Not a link code: perhaps an unused invite (a new observer starting in Telegram).
        ttl = timedelta(hours=services.settings.invite_ttl_hours)
        try:
            redeemed = await services.run(redeem_invite, services.engine, code, ttl=ttl)
        except AuthError:
            raise not_a_link_code from None
        observer_id = await services.run(observer_for_invite, services.engine, code)
        observer = await services.run(
            link_observer, services.engine, observer_id, user_hash=who.user_hash, chat=chat
        )
        del redeemed  # the web token is not needed: this account is the observer's key now
    await state.clear()
    await bot.send_message(
        who.chat_id,
        _("Linked. This Telegram account now reports as {name}.", name=observer.code_name),
    )
    await _show_menu(bot, who, observer)


@handlers.message(Command("menu", "report"))
async def menu(message: Message, bot: Bot, who: Who, services: BotServices) -> None:
    """The report menu."""
    await _show_menu(bot, who, await _observer(services, who))


@handlers.message(Command("mine"))
async def mine_command(message: Message, bot: Bot, who: Who, services: BotServices) -> None:
    """The observer's latest reports."""
    await _mine(bot, who, services)


async def _mine(bot: Bot, who: Who, services: BotServices) -> None:
    _ = who._
    observer = await _observer(services, who)
    rows = await services.run(observer_reports, services.engine, observer.id)
    if not rows:
        await bot.send_message(who.chat_id, _("You have not sent any report yet."))
        return
    lines = [_("Your latest reports (all accepted and in the ledger):")]
    for row in rows:
        lines.append(
            _(
                "✓ {kind}, station {station}, {time} UTC, ledger entry {seq}",
                kind=_(reporting.KIND_LABELS.get(row["kind"], row["kind"])),
                station=row["station"],
                time=row["received_at"].strftime("%d.%m %H:%M"),
                seq=row["seq"],
            )
        )
    await bot.send_message(who.chat_id, "\n".join(lines))


@handlers.callback_query(Menu.filter())
async def menu_pick(
    query: CallbackQuery,
    callback_data: Menu,
    bot: Bot,
    who: Who,
    services: BotServices,
    state: FSMContext,
) -> None:
    """A menu button: start a report flow (its UUID is fixed now), or list the reports."""
    await query.answer()
    if callback_data.item == "mine":
        await _mine(bot, who, services)
        return
    observer = await _observer(services, who)
    kind = callback_data.item
    candidates: list[str] = []
    if kind == "protocol":
        candidates = await services.run(election_candidates, services.engine, observer.election)
    station = observer.stations[0] if len(observer.stations) == 1 else ""
    draft = reporting.new_draft(kind, observer, station, _now(), candidates=candidates)
    await state.set_state(ReportFlow.active)
    await state.update_data(draft=draft)
    if station:
        await _ask(bot, who, draft)
        return
    _ = who._
    if 1 < len(observer.stations) <= MAX_STATION_BUTTONS:
        rows = [[(s, Flow(act="station", value=str(i)))] for i, s in enumerate(observer.stations)]
        await bot.send_message(who.chat_id, _("Which station?"), reply_markup=keyboard(rows))
    else:
        await bot.send_message(who.chat_id, _("Send the station's number."))


async def _ask(bot: Bot, who: Who, draft: dict[str, Any], observer: Observer | None = None) -> None:
    """Ask for the current step, or show the summary when every step is done."""
    _ = who._
    step = reporting.current_step(draft)
    cancel = (_("Cancel"), Flow(act="cancel"))
    if step is None:
        assert observer is not None
        text = reporting.summary(draft, observer, _now(), _)
        buttons = [[(_("Send"), Flow(act="ok", value=draft["id"][:8])), cancel]]
        await bot.send_message(who.chat_id, text, reply_markup=keyboard(buttons))
        return
    rows: list[list[tuple[str, Any]]] = []
    if step == "window":
        rows = [
            [(_("{minutes} min", minutes=m), Flow(act="pick", value=str(m)))]
            for m in reporting.WINDOWS
        ]
    elif step == "category":
        rows = [
            [(_(CATEGORY_LABELS[c]), Flow(act="pick", value=str(i)))]
            for i, c in enumerate(INCIDENT_CATEGORIES)
        ]
    elif step == "status":
        rows = [[(_(STATUS_LABELS[s]), Flow(act="pick", value=s))] for s in STATUSES]
    if step in reporting.OPTIONAL_STEPS or step.startswith("votes:"):
        rows.append([(_("Skip"), Flow(act="skip", value=str(draft["step"])))])
    rows.append([cancel])
    await bot.send_message(who.chat_id, reporting.prompt(draft, _), reply_markup=keyboard(rows))


async def _draft(state: FSMContext) -> dict[str, Any] | None:
    data = await state.get_data()
    draft = data.get("draft")
    return dict(draft) if isinstance(draft, dict) else None


async def _advance(
    bot: Bot, who: Who, state: FSMContext, draft: dict[str, Any], observer: Observer
) -> None:
    await state.update_data(draft=draft)
    await _ask(bot, who, draft, observer)


@handlers.callback_query(Flow.filter())
async def flow_button(
    query: CallbackQuery,
    callback_data: Flow,
    bot: Bot,
    who: Who,
    services: BotServices,
    state: FSMContext,
) -> None:
    """A button inside a flow: station, choice, skip, send, cancel."""
    _ = who._
    await query.answer()
    act, value = callback_data.act, callback_data.value
    draft = await _draft(state)
    if act == "ok":
        await _send(bot, who, services, state, draft, value)
        if isinstance(query.message, Message):  # the summary's buttons go: no second tap
            with contextlib.suppress(TelegramBadRequest):  # too old to edit: harmless
                await query.message.edit_reply_markup(reply_markup=None)
        return
    if draft is None:
        await bot.send_message(who.chat_id, _("No report is being entered. /menu starts one."))
        return
    if act == "cancel":
        await state.clear()
        await bot.send_message(who.chat_id, _("Cancelled; nothing was sent."))
        return
    observer = await _observer(services, who)
    if act == "station" and not draft["station"]:
        index = int(value) if value.isdigit() else -1
        if not 0 <= index < len(observer.stations):
            raise InputError(_("that station is not one of yours"), column="station")
        draft["station"] = observer.stations[index]
        await _advance(bot, who, state, draft, observer)
        return
    step = reporting.current_step(draft)
    if act == "skip" and value == str(draft["step"]):
        await _advance(bot, who, state, reporting.skip_step(draft), observer)
    elif act == "pick" and step == "window" and value.isdigit():
        picked = reporting.apply_value(draft, int(value), observer, _now())
        await _advance(bot, who, state, picked, observer)
    elif (
        act == "pick"
        and step == "category"
        and value.isdigit()
        and int(value) < len(INCIDENT_CATEGORIES)
    ):
        picked = reporting.apply_value(draft, INCIDENT_CATEGORIES[int(value)], observer, _now())
        await _advance(bot, who, state, picked, observer)
    elif act == "pick" and step == "status" and value in STATUSES:
        picked = reporting.apply_value(draft, value, observer, _now())
        await _advance(bot, who, state, picked, observer)
    else:  # an old button of an earlier step, tapped again: ask the current step again
        await _ask(bot, who, draft, observer)


@handlers.message(ReportFlow.active, F.photo)
async def flow_photo(
    message: Message, bot: Bot, who: Who, services: BotServices, state: FSMContext
) -> None:
    """A photo for an incident: checked and cleaned now, stored with the report."""
    _ = who._
    draft = await _draft(state)
    if draft is None or reporting.current_step(draft) != "photo":
        raise InputError(_("a photo is not expected now"), column="photo")
    observer = await _observer(services, who)
    best = max(message.photo or [], key=lambda p: p.width * p.height)
    await _cleaned_photo(bot, services, best.file_id, best.file_size)
    await _advance(
        bot, who, state, reporting.apply_value(draft, best.file_id, observer, _now()), observer
    )


async def _cleaned_photo(bot: Bot, services: BotServices, file_id: str, size: int | None) -> Any:
    if size is not None and size > MAX_PHOTO_BYTES:
        raise InputError(
            f"the photo is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB", column="photo"
        )
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    data = buffer.getvalue()
    if len(data) > MAX_PHOTO_BYTES:
        raise InputError(
            f"the photo is larger than {MAX_PHOTO_BYTES // (1024 * 1024)} MB", column="photo"
        )
    async with services.photo_slots.slot():
        return await services.run(clean_photo, data)


@handlers.message(ReportFlow.active)
async def flow_text(
    message: Message, bot: Bot, who: Who, services: BotServices, state: FSMContext
) -> None:
    """A typed value for the current step (a number, the incident text, a station id)."""
    _ = who._
    draft = await _draft(state)
    if draft is None:
        await state.clear()
        return
    observer = await _observer(services, who)
    text = message.text
    if text is None:
        raise InputError(_("send the value as a text message"), column="value")
    if not draft["station"]:
        station = check_station_id(text.strip())
        if not observer.may_report(observer.election, station):
            raise InputError(
                _("you may not report on station {station}", station=station), column="station"
            )
        draft["station"] = station
        await _advance(bot, who, state, draft, observer)
        return
    step = reporting.current_step(draft)
    if step is None:
        await _ask(bot, who, draft, observer)
        return
    if step == "photo":
        raise InputError(_("send a photo, or tap Skip"), column="photo")
    if step in ("window", "category", "status"):
        raise InputError(_("tap one of the buttons"), column=step)
    value: Any = text if step == "text" else reporting.parse_whole_number(text, step)
    await _advance(bot, who, state, reporting.apply_value(draft, value, observer, _now()), observer)


async def _send(
    bot: Bot,
    who: Who,
    services: BotServices,
    state: FSMContext,
    draft: dict[str, Any] | None,
    short_id: str,
) -> None:
    """Store the confirmed report through the group-commit writer (idempotent on its id)."""
    _ = who._
    data = await state.get_data()
    if draft is None or not draft["id"].startswith(short_id) or not short_id:
        if short_id and str(data.get("last_sent", "")).startswith(short_id):
            await bot.send_message(who.chat_id, _("This report was already sent."))
        else:
            await bot.send_message(
                who.chat_id, _("This summary is out of date; /menu starts a new report.")
            )
        return
    observer = await _observer(services, who)
    if reporting.current_step(draft) is not None:
        await _ask(bot, who, draft, observer)
        return
    prepared = reporting.prepared(draft, observer, _now())
    stored = await services.writer.submit(prepared)
    photo_id = draft["fields"].get("photo")
    if photo_id:
        cleaned = await _cleaned_photo(bot, services, str(photo_id), None)
        await services.run(store_photo, services.engine, draft["id"], cleaned, observer=observer)
    await state.set_state(None)
    await state.set_data({"last_sent": draft["id"]})
    seq = stored.report["ledger"]["seq"]
    if stored.created:
        text = _("Report sent and stored: ledger entry {seq}.", seq=seq)
    else:
        text = _("This report was already stored (ledger entry {seq}).", seq=seq)
    await bot.send_message(who.chat_id, text, reply_markup=_menu(_))
