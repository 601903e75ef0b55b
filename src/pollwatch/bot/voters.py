"""Voters in Telegram: find a station, see its public status, follow it.

``/where TEXT`` searches the election's station registry with the guide's finder
(:class:`pollwatch.guide.search.StationIndex`: any script, typos); a station's card is its
public status (:func:`pollwatch.store.public_station_status`: queue, wait, ballots warning,
when updated — derived, coarsened and delayed as the publication policy says, nothing
more). ``/follow STATION`` keeps the (encrypted) chat id so that
:func:`follow_updates` can queue a message when the wait or the ballots warning changes;
``/unfollow`` stops it and drops the chat id. The election is ``POLLWATCH_TELEGRAM_ELECTION``.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy import Engine

from pollwatch.bot.context import Who
from pollwatch.bot.i18n import Translate, translator
from pollwatch.bot.keys import BotKeys
from pollwatch.bot.services import BotServices
from pollwatch.bot.ui import Handlers
from pollwatch.errors import InputError
from pollwatch.guide.search import StationIndex
from pollwatch.observe.publication import PublicStationStatus
from pollwatch.store import list_stations, public_station_status
from pollwatch.store.telegram import (
    follow_station,
    followers,
    queue_messages,
    set_last_status,
    unfollow,
)

__all__ = ["follow_updates", "handlers", "status_card"]

handlers = Handlers("voters")

MAX_FOUND = 5
"""Places shown for one search."""


def _election(services: BotServices, _: Translate) -> str:
    election = services.settings.telegram_election
    if not election:
        raise InputError(_("station search is not set up on this bot"), column="election")
    return election


def _asked(
    command: CommandObject, who: Who, services: BotServices, *, usage: str, column: str
) -> tuple[str, str]:
    """The bot's election and what the command asks about (a station or a search).

    /where and /follow look a station up alike: no election set up on this bot, or nothing
    written after the command, is a reply (``usage`` says how to ask), not a lookup.
    """
    election = _election(services, who._)
    asked = (command.args or "").strip()
    if not asked:
        raise InputError(usage, column=column)
    return election, asked


def status_card(status: PublicStationStatus, _: Translate) -> str:
    """A station's public status as one message."""
    lines = [_("Station {station}", station=status.station)]
    if status.updated_at is None:
        lines.append(_("No public figures yet."))
    else:
        if status.queue is not None:
            lines.append(_("Queue: about {n} people", n=status.queue))
        if status.wait_minutes is not None:
            lines.append(_("Wait: about {n} minutes", n=status.wait_minutes))
        lines.append(_("Updated: {time} UTC", time=status.updated_at.strftime("%d.%m %H:%M")))
    if status.ballots_warning:
        lines.append(_("⚠ Ballots may run out at this station."))
    return "\n".join(lines)


def _index(services: BotServices, election: str) -> StationIndex:
    cached = services.stations_cache
    if cached is None or cached[0] != election:
        rows = list_stations(services.engine, election)
        cached = (election, StationIndex.build(rows))
        services.stations_cache = cached
    index: StationIndex = cached[1]
    return index


@handlers.message(Command("where"))
async def where(
    message: Message, command: CommandObject, bot: Bot, who: Who, services: BotServices
) -> None:
    """Find stations by number, city, address or name."""
    _ = who._
    usage = _("write what to look for: /where Belgrade")
    election, query = _asked(command, who, services, usage=usage, column="q")
    index = await services.run(_index, services, election)
    found = index.search(query, limit=MAX_FOUND)
    if not found.groups:
        await bot.send_message(who.chat_id, _("No station found for that."))
        return
    lines: list[str] = []
    for group in found.groups:
        lines.append(group.place)
        lines += [f"  • {s.station}" + (f" — {s.name}" if s.name else "") for s in group.stations]
    lines.append("")
    lines.append(_("/follow STATION sends you its queue and wait when they change."))
    await bot.send_message(who.chat_id, "\n".join(lines)[:4096])


@handlers.message(Command("follow"))
async def follow(
    message: Message, command: CommandObject, bot: Bot, who: Who, services: BotServices
) -> None:
    """Follow a station; its status now."""
    _ = who._
    usage = _("write the station: /follow 8001")
    election, station = _asked(command, who, services, usage=usage, column="station")
    chat = services.keys.seal_chat(who.chat_id)
    await services.run(follow_station, services.engine, who.user_hash, election, station, chat=chat)
    status = await services.run(
        public_station_status,
        services.engine,
        election,
        station,
        delay_minutes=services.settings.public_delay_minutes,
    )
    await services.run(
        set_last_status, services.engine, who.user_hash, election, station, _signature(status)
    )
    await bot.send_message(
        who.chat_id,
        _("You follow station {station}. /unfollow stops it.", station=station)
        + "\n\n"
        + status_card(status, _),
    )


@handlers.message(Command("unfollow"))
async def unfollow_command(
    message: Message, command: CommandObject, bot: Bot, who: Who, services: BotServices
) -> None:
    """Stop following one station, or all."""
    station = (command.args or "").strip() or None
    removed = await services.run(unfollow, services.engine, who.user_hash, station)
    await bot.send_message(who.chat_id, who._("Stopped following {n} station(s).", n=removed))


def _signature(status: PublicStationStatus) -> str:
    """What a follower is told about: the wait and the ballots warning."""
    return f"{status.wait_minutes}|{status.ballots_warning}"


def follow_updates(engine: Engine, keys: BotKeys, election: str, *, delay_minutes: int) -> int:
    """Queue a message to every follower whose station's wait or warning changed.

    Returns how many were queued; the paced sender (:mod:`pollwatch.bot.sender`) delivers
    them.
    """
    statuses: dict[str, PublicStationStatus] = {}
    queued: list[tuple[str, bytes, str]] = []
    for row in followers(engine, election):
        station = str(row["station"])
        if station not in statuses:
            statuses[station] = public_station_status(
                engine, election, station, delay_minutes=delay_minutes
            )
        status = statuses[station]
        signature = _signature(status)
        if signature == row["last_status"]:
            continue
        _: Any = translator(row["lang"] or "en")
        queued.append((str(row["user_hash"]), bytes(row["chat"]), status_card(status, _)))
        set_last_status(engine, str(row["user_hash"]), election, station, signature)
    return queue_messages(engine, queued)
