"""The coordinators' messages and the network's alerts, delivered in Telegram.

Messages (issue 13's ``messages``/``message_targets``): every ``DELIVERY_SECONDS`` the bot
takes the pending targets (:func:`pollwatch.store.messages.pending_deliveries`, urgent
first) and queues each in the paced sender's outbox to the chats of the linked observers it
reaches (:func:`pollwatch.store.messages.queue_delivery`: the messages module's recipient
rule, the outbox rows and the target's ``sent`` mark in one transaction). The paced sender
then delivers them at least once, repeats bounded by its messages in flight. An urgent
message starts with :data:`URGENT_MARK`. A target whose queuing failed is marked ``failed``
and offered again (at most :data:`pollwatch.store.messages.MAX_BOT_ATTEMPTS` times).

Alerts (:func:`pollwatch.store.alerts.election_alerts`): every ``ALERT_SECONDS`` the
configured election's (``POLLWATCH_TELEGRAM_ELECTION``) alerts are handed to
:func:`pollwatch.bot.alerts.post_alerts`, which queues each stable id once, ever (the ids
are stored, so a restart does not post them again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from pollwatch.bot.alerts import post_alerts
from pollwatch.bot.i18n import language_of, translator
from pollwatch.bot.services import BotServices
from pollwatch.observe.alerts import ALERT_KINDS
from pollwatch.store.alerts import election_alerts
from pollwatch.store.messages import mark_delivery, pending_deliveries, queue_delivery
from pollwatch.web.labels import NETWORK_LABELS, SEVERITY_LABELS

__all__ = [
    "ALERT_KIND_NAMES",
    "ALERT_SECONDS",
    "DELIVERY_SECONDS",
    "SEVERITY_NAMES",
    "URGENT_MARK",
    "DeliveryReport",
    "alert_text",
    "deliver_messages",
    "message_text",
    "post_election_alerts",
    "watch_alerts",
    "watch_deliveries",
]

_log = logging.getLogger(__name__)

DELIVERY_SECONDS = 5.0
"""How often pending message targets are looked for."""

ALERT_SECONDS = 60.0
"""How often the election's alerts are evaluated (they move in minutes)."""

URGENT_MARK = "‼️"
"""The start of an urgent message."""


def message_text(text: str, urgent: bool, lang: str | None) -> str:
    """A coordinators' message as an observer reads it in Telegram."""
    _ = translator(language_of(lang))
    head = _("Message from the coordinators")
    if urgent:
        head = f"{URGENT_MARK} {_('Urgent')}: {head}"
    return f"{head}\n\n{text}"


@dataclass
class DeliveryReport:
    """What one round did: targets queued, chats they were queued to, targets failed."""

    targets: int = 0
    chats: int = 0
    failed: int = 0


def deliver_messages(
    engine: Engine,
    *,
    limit: int = 100,
    render: Callable[[str, bool, str | None], str] = message_text,
) -> DeliveryReport:
    """Queue the pending targets (at most ``limit`` a round) to their observers' chats."""
    report = DeliveryReport()
    for target in pending_deliveries(engine, limit=limit):
        try:
            chats = queue_delivery(engine, target["target_id"], render)
        except Exception:
            _log.exception("queuing message target %s failed", target["target_id"])
            report.failed += 1
            try:
                mark_delivery(engine, target["target_id"], "failed")
            except Exception:
                _log.exception("marking message target %s failed", target["target_id"])
            continue
        if chats is not None:
            report.targets += 1
            report.chats += chats
    return report


async def watch_deliveries(services: BotServices, every: float = DELIVERY_SECONDS) -> None:
    """Queue pending message targets every ``every`` seconds (a background task)."""
    while True:
        try:
            report = await services.run(deliver_messages, services.engine)
            if report.targets or report.failed:
                _log.info(
                    "coordinators' messages: %d targets queued to %d chats, %d failed",
                    report.targets,
                    report.chats,
                    report.failed,
                )
        except Exception:  # the database away for a moment: next round
            _log.exception("delivering coordinators' messages failed")
        await asyncio.sleep(every)


ALERT_KIND_NAMES: dict[str, str] = {kind: NETWORK_LABELS[f"alert_{kind}"] for kind in ALERT_KINDS}
"""The alert kinds' labels: the network pages' own msgids (translated in ``network.po``)."""

SEVERITY_NAMES: dict[str, str] = SEVERITY_LABELS
"""The severities' labels, the network pages' msgids too."""


def alert_text(alert: dict[str, Any], lang: str = "en") -> str:
    """An alert as the coordinators' group reads it, in the group's language
    (``POLLWATCH_TELEGRAM_ALERTS_LANG``)."""
    _ = translator(lang, "network")
    kind = str(alert.get("kind"))
    what = _(ALERT_KIND_NAMES[kind]) if kind in ALERT_KIND_NAMES else kind
    severity = str(alert.get("severity", ""))
    level = _(SEVERITY_NAMES[severity]) if severity in SEVERITY_NAMES else severity
    since = str(alert.get("local_since") or alert.get("since") or "")
    if alert.get("station"):
        where = _("station {station}", station=alert["station"])
    else:
        where = _("no station")
    text = _(
        "⚠️ {severity} · {election}: {where}: {what} (since {since})",
        severity=level,
        election=alert.get("election"),
        where=where,
        what=what,
        since=since,
    )
    return text[:4096]


def post_election_alerts(
    services: BotServices, election: str, *, now: datetime | None = None
) -> int:
    """Post the election's alerts not posted before to the coordinators' chat; how many."""
    found = election_alerts(services.engine, election, now=now)["alerts"]
    lang = services.settings.telegram_alerts_lang
    return post_alerts(services, election, [(str(a["id"]), alert_text(a, lang)) for a in found])


async def watch_alerts(
    services: BotServices,
    every: float = ALERT_SECONDS,
    clock: Callable[[], datetime | None] = lambda: None,
) -> None:
    """Post the configured election's new alerts every ``every`` seconds (a background
    task; nothing without ``POLLWATCH_TELEGRAM_ELECTION`` and
    ``POLLWATCH_TELEGRAM_ALERTS_CHAT``). ``clock`` gives the evaluation time (``None``:
    now)."""
    election = services.settings.telegram_election
    if not election or services.settings.telegram_alerts_chat is None:
        return
    while True:
        try:
            posted = await services.run(post_election_alerts, services, election, now=clock())
            if posted:
                _log.info("alerts posted to the coordinators' chat: %d", posted)
        except Exception:  # the database away for a moment: next round
            _log.exception("posting alerts failed")
        await asyncio.sleep(every)
