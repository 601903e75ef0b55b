"""Alerts to the coordinators' Telegram group (``POLLWATCH_TELEGRAM_ALERTS_CHAT``).

The network part computes an election's alerts, each with a stable id (the same situation
keeps its id on every evaluation; :mod:`pollwatch.observe.alerts`). :func:`post_alerts`
queues the ones not posted before (:func:`pollwatch.store.telegram.queue_alerts`: the ids and
the messages in one transaction), and the paced sender delivers them within a group's 20
messages a minute. The group's chat id is stored encrypted like any other.
"""

from __future__ import annotations

from collections.abc import Iterable

from pollwatch.bot.services import BotServices
from pollwatch.errors import InputError
from pollwatch.store.telegram import queue_alerts

__all__ = ["post_alerts"]


def post_alerts(services: BotServices, election: str, alerts: Iterable[tuple[str, str]]) -> int:
    """Queue (stable id, message) alerts to the coordinators' chat, each id once; how many."""
    chat = services.settings.telegram_alerts_chat
    if chat is None:
        raise InputError(
            "set POLLWATCH_TELEGRAM_ALERTS_CHAT to the coordinators' group chat id",
            column="POLLWATCH_TELEGRAM_ALERTS_CHAT",
        )
    keys = services.keys
    items = [(str(i)[:300], str(t)[:4096]) for i, t in alerts]
    return queue_alerts(
        services.engine,
        election,
        items,
        user_hash=keys.user_hash(chat),
        chat=keys.seal_chat(chat),
    )
