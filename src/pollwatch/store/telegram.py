"""What the Telegram bot keeps: link codes, accounts, followed stations, the outbox.

Privacy by construction. An account is known only by a keyed hash of its Telegram user id
(``user_hash``, made by :class:`pollwatch.bot.keys.BotKeys`; the store never sees the id);
the chat id, which sending needs, is stored encrypted (``chat``, opaque bytes here) and only
for accounts that asked for messages (a linked observer, a voter following a station). No
phone number, name, username or message text is stored. :func:`forget_account` erases an
account entirely (its row, its follows, its queued messages); the observer it was linked to
stays, and can link again with a new code.

Linking. An observer gets a one-time link code (:func:`create_link_code`, 43 URL-safe
characters, so it fits a ``t.me/<bot>?start=<code>`` deep link); it is stored only as its
SHA-256, works once, expires after :data:`LINK_TTL` and can be revoked. Redeeming it binds
the observer to the account: one Telegram account per observer and one observer per
account, so a second redemption moves the link (a new phone) and unlinks the old account.
A revoked observer is unlinked the next time the account is looked up
(:func:`linked_observer`), so revocation (``pollwatch observe revoke``) ends the bot too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from pollwatch.errors import AuthError, InputError, InviteExpired
from pollwatch.observe.ids import check_station_id
from pollwatch.store._util import as_utc, new_secret, secret_hash, utcnow
from pollwatch.store.elections import check_registered
from pollwatch.store.engine import write_transaction
from pollwatch.store.messages import add_delivered
from pollwatch.store.people import Observer
from pollwatch.store.tables import (
    elections,
    invites,
    ledger,
    observers,
    reports,
    telegram_alerts,
    telegram_codes,
    telegram_follows,
    telegram_outbox,
    telegram_users,
)
from pollwatch.store.telegram_batches import count_batch, new_broadcast_batch
from pollwatch.store.telegram_flows import forget_flows

__all__ = [
    "LINK_TTL",
    "MAX_FOLLOWS",
    "Account",
    "Broadcast",
    "LinkCode",
    "Outgoing",
    "account",
    "claim_outgoing",
    "create_link_code",
    "election_candidates",
    "election_exists",
    "follow_station",
    "followers",
    "forget_account",
    "forget_election",
    "link_observer",
    "linked_observer",
    "observer_for_invite",
    "observer_id_by_name",
    "observer_reports",
    "outbox_size",
    "queue_alerts",
    "queue_messages",
    "queue_to_observers",
    "redeem_link_code",
    "restore_chat",
    "revoke_link_codes",
    "sent",
    "set_language",
    "unfollow",
]

LINK_TTL = timedelta(hours=24)
"""How long a link code works: long enough to get from the observer app (or a training
session) to Telegram, short enough that a code left on paper is soon useless."""

MAX_FOLLOWS = 10
"""Stations one account may follow (a voter follows one; a family a few)."""

_UNKNOWN = "unknown or already used link code"


@dataclass(frozen=True)
class LinkCode:
    """A link code (shown once) and when it stops working."""

    code: str
    observer: str
    expires_at: datetime


@dataclass(frozen=True)
class Account:
    """What the store holds about one Telegram account."""

    user_hash: str
    chat: bytes | None
    lang: str | None
    observer_id: int | None


@dataclass(frozen=True)
class Outgoing:
    """A queued message claimed by the sender: its row id, encrypted chat and text."""

    id: int
    user_hash: str
    chat: bytes
    text: str
    attempts: int


def create_link_code(
    engine: Engine, observer_id: int, *, ttl: timedelta = LINK_TTL, now: datetime | None = None
) -> LinkCode:
    """A new one-time link code for an active observer (earlier unused codes stay valid)."""
    now = now or utcnow()
    code = new_secret()
    with write_transaction(engine) as conn:
        row = conn.execute(
            select(observers.c.code_name, observers.c.revoked).where(observers.c.id == observer_id)
        ).first()
        if row is None or row[1]:
            raise AuthError("this observer is unknown or revoked")
        conn.execute(
            insert(telegram_codes).values(
                code_hash=secret_hash(code),
                observer_id=observer_id,
                created_at=now,
                expires_at=now + ttl,
            )
        )
    return LinkCode(code, str(row[0]), now + ttl)


def revoke_link_codes(engine: Engine, observer_id: int, *, now: datetime | None = None) -> int:
    """Revoke the observer's unused codes; returns how many."""
    with write_transaction(engine) as conn:
        result = conn.execute(
            update(telegram_codes)
            .where(
                telegram_codes.c.observer_id == observer_id,
                telegram_codes.c.used_at.is_(None),
                telegram_codes.c.revoked_at.is_(None),
            )
            .values(revoked_at=now or utcnow())
        )
    return int(result.rowcount or 0)


def _observer(conn: Connection, observer_id: int) -> Observer | None:
    row = conn.execute(select(observers).where(observers.c.id == observer_id)).mappings().first()
    if row is None or row["revoked"]:
        return None
    return Observer(
        int(row["id"]), str(row["code_name"]), str(row["election"]), tuple(row["stations"] or ())
    )


def _bind(conn: Connection, user_hash: str, observer_id: int, chat: bytes, now: datetime) -> None:
    """One observer per account and one account per observer: the new link wins."""
    conn.execute(
        update(telegram_users)
        .where(telegram_users.c.observer_id == observer_id, telegram_users.c.user_hash != user_hash)
        .values(observer_id=None, chat=None, updated_at=now)
    )
    found = conn.execute(
        select(telegram_users.c.user_hash).where(telegram_users.c.user_hash == user_hash)
    ).first()
    if found is None:
        conn.execute(
            insert(telegram_users).values(
                user_hash=user_hash, chat=chat, observer_id=observer_id, updated_at=now
            )
        )
    else:
        conn.execute(
            update(telegram_users)
            .where(telegram_users.c.user_hash == user_hash)
            .values(chat=chat, observer_id=observer_id, updated_at=now)
        )


def redeem_link_code(
    engine: Engine, code: str, *, user_hash: str, chat: bytes, now: datetime | None = None
) -> Observer:
    """Link the account to the code's observer, once; returns the observer.

    Unknown, used and revoked codes get the same :class:`AuthError` (codes cannot be
    probed); an expired one :class:`InviteExpired`; a revoked observer's code AuthError.
    """
    now = now or utcnow()
    if not code or len(code) > 200:
        raise AuthError(_UNKNOWN)
    code_hash = secret_hash(code)
    with write_transaction(engine) as conn:
        row = (
            conn.execute(select(telegram_codes).where(telegram_codes.c.code_hash == code_hash))
            .mappings()
            .first()
        )
        if row is None or row["used_at"] is not None or row["revoked_at"] is not None:
            raise AuthError(_UNKNOWN)
        if as_utc(row["expires_at"]) < now:
            raise InviteExpired("this link code has expired; ask for a new one in the observer app")
        claimed = conn.execute(
            update(telegram_codes)
            .where(telegram_codes.c.code_hash == code_hash, telegram_codes.c.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            raise AuthError(_UNKNOWN)
        observer = _observer(conn, int(row["observer_id"]))
        if observer is None:
            raise AuthError("this observer has been revoked")
        _bind(conn, user_hash, observer.id, chat, now)
    return observer


def link_observer(
    engine: Engine, observer_id: int, *, user_hash: str, chat: bytes, now: datetime | None = None
) -> Observer:
    """Link an account to an observer just created from an invite (the invite was the code)."""
    now = now or utcnow()
    with write_transaction(engine) as conn:
        observer = _observer(conn, observer_id)
        if observer is None:
            raise AuthError("this observer is unknown or revoked")
        _bind(conn, user_hash, observer.id, chat, now)
    return observer


def linked_observer(engine: Engine, user_hash: str) -> Observer | None:
    """The observer linked to this account, or None; a revoked observer is unlinked here."""
    with engine.connect() as conn:
        row = conn.execute(
            select(telegram_users.c.observer_id).where(telegram_users.c.user_hash == user_hash)
        ).first()
        if row is None or row[0] is None:
            return None
        observer = _observer(conn, int(row[0]))
    if observer is None:
        with write_transaction(engine) as conn:
            conn.execute(
                update(telegram_users)
                .where(telegram_users.c.user_hash == user_hash)
                .values(observer_id=None, chat=None, updated_at=utcnow())
            )
        raise AuthError("this observer has been revoked; the Telegram account is unlinked")
    return observer


def account(engine: Engine, user_hash: str) -> Account | None:
    """The stored row of an account, or None."""
    with engine.connect() as conn:
        row = (
            conn.execute(select(telegram_users).where(telegram_users.c.user_hash == user_hash))
            .mappings()
            .first()
        )
    if row is None:
        return None
    chat = row["chat"]
    return Account(
        str(row["user_hash"]),
        bytes(chat) if chat is not None else None,
        row["lang"],
        row["observer_id"],
    )


def _upsert(conn: Connection, user_hash: str, now: datetime, **values: Any) -> None:
    """Insert or update an account's row (callers retry once on a concurrent insert)."""
    found = conn.execute(
        select(telegram_users.c.user_hash).where(telegram_users.c.user_hash == user_hash)
    ).first()
    if found is None:
        conn.execute(insert(telegram_users).values(user_hash=user_hash, updated_at=now, **values))
    else:
        conn.execute(
            update(telegram_users)
            .where(telegram_users.c.user_hash == user_hash)
            .values(updated_at=now, **values)
        )


def set_language(engine: Engine, user_hash: str, lang: str) -> None:
    """Remember the interface language an account chose (only when it chose one)."""
    if lang not in ("en", "ru", "sr"):
        raise InputError(f"the language must be en, ru or sr; got {lang[:20]!r}", column="lang")
    for attempt in range(2):  # two taps at once: the second insert loses, then updates
        try:
            with write_transaction(engine) as conn:
                _upsert(conn, user_hash, utcnow(), lang=lang)
            return
        except IntegrityError:
            if attempt:
                raise


def forget_account(engine: Engine, user_hash: str) -> bool:
    """Erase everything kept about an account (its unfinished flow too); returns whether
    there was anything."""
    with write_transaction(engine) as conn:
        conn.execute(delete(telegram_outbox).where(telegram_outbox.c.user_hash == user_hash))
        conn.execute(delete(telegram_follows).where(telegram_follows.c.user_hash == user_hash))
        forget_flows(conn, [user_hash])
        gone = conn.execute(delete(telegram_users).where(telegram_users.c.user_hash == user_hash))
    return bool(gone.rowcount)


def observer_reports(engine: Engine, observer_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    """The observer's latest accepted reports, newest first: id, kind, station, ledger seq."""
    query = (
        select(
            reports.c.id,
            reports.c.kind,
            reports.c.station,
            reports.c.received_at,
            ledger.c.seq,
        )
        .join(ledger, ledger.c.report_id == reports.c.id)
        .where(reports.c.observer_id == observer_id)
        .order_by(ledger.c.seq.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            "id": str(r["id"]),
            "kind": str(r["kind"]),
            "station": str(r["station"]),
            "received_at": as_utc(r["received_at"]),
            "seq": int(r["seq"]),
        }
        for r in rows
    ]


# --- voters following a station ---------------------------------------------------------------


def follow_station(
    engine: Engine, user_hash: str, election: str, station: str, *, chat: bytes
) -> None:
    """Follow a registered station (at most :data:`MAX_FOLLOWS` per account);
    :class:`NotFoundError` for a station the election does not have."""
    check_station_id(station)
    for attempt in range(2):  # a concurrent first insert of the account: try once more
        try:
            _follow(engine, user_hash, election, station, chat)
            return
        except IntegrityError:
            if attempt:
                raise


def _follow(engine: Engine, user_hash: str, election: str, station: str, chat: bytes) -> None:
    now = utcnow()
    with write_transaction(engine) as conn:
        check_registered(conn, election, station)
        _upsert(conn, user_hash, now, chat=chat)
        count = conn.execute(
            select(telegram_follows.c.station).where(telegram_follows.c.user_hash == user_hash)
        ).all()
        if (station,) not in [(r[0],) for r in count] and len(count) >= MAX_FOLLOWS:
            raise InputError(
                f"an account may follow at most {MAX_FOLLOWS} stations", column="station"
            )
        exists = conn.execute(
            select(telegram_follows.c.station).where(
                telegram_follows.c.user_hash == user_hash,
                telegram_follows.c.election == election,
                telegram_follows.c.station == station,
            )
        ).first()
        if exists is None:
            conn.execute(
                insert(telegram_follows).values(
                    user_hash=user_hash, election=election, station=station, created_at=now
                )
            )


def unfollow(engine: Engine, user_hash: str, station: str | None = None) -> int:
    """Stop following one station (or all); an account that then needs no chat loses it."""
    with write_transaction(engine) as conn:
        query = delete(telegram_follows).where(telegram_follows.c.user_hash == user_hash)
        if station is not None:
            query = query.where(telegram_follows.c.station == station)
        removed = int(conn.execute(query).rowcount or 0)
        left = conn.execute(
            select(telegram_follows.c.station).where(telegram_follows.c.user_hash == user_hash)
        ).first()
        if left is None:  # the chat id is kept only while something is to be sent
            conn.execute(
                update(telegram_users)
                .where(
                    telegram_users.c.user_hash == user_hash, telegram_users.c.observer_id.is_(None)
                )
                .values(chat=None)
            )
    return removed


def followers(engine: Engine, election: str) -> list[dict[str, Any]]:
    """Every follow of an election with its account's encrypted chat and last status sent."""
    query = (
        select(
            telegram_follows.c.user_hash,
            telegram_follows.c.station,
            telegram_follows.c.last_status,
            telegram_users.c.chat,
            telegram_users.c.lang,
        )
        .join(telegram_users, telegram_users.c.user_hash == telegram_follows.c.user_hash)
        .where(telegram_follows.c.election == election, telegram_users.c.chat.is_not(None))
    )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def set_last_status(
    engine: Engine, user_hash: str, election: str, station: str, status: str
) -> None:
    """Remember the status text last queued for a follower (so only changes are sent)."""
    with write_transaction(engine) as conn:
        conn.execute(
            update(telegram_follows)
            .where(
                telegram_follows.c.user_hash == user_hash,
                telegram_follows.c.election == election,
                telegram_follows.c.station == station,
            )
            .values(last_status=status)
        )


# --- the outbox of the paced sender -------------------------------------------------------------


def queue_messages(
    engine: Engine, messages: Sequence[tuple[str, bytes, str]], *, batch: str | None = None
) -> int:
    """Queue (user_hash, encrypted chat, text) messages, counted in ``batch`` if given
    (:mod:`pollwatch.store.telegram_batches`); returns how many."""
    now = utcnow()
    with write_transaction(engine) as conn:
        for first in range(0, len(messages), 1000):
            conn.execute(
                insert(telegram_outbox),
                [
                    {
                        "user_hash": u,
                        "chat": c,
                        "text": t,
                        "created_at": now,
                        "attempts": 0,
                        "batch": batch,
                    }
                    for u, c, t in messages[first : first + 1000]
                ],
            )
        count_batch(conn, batch, now, queued=len(messages))
    return len(messages)


def claim_outgoing(
    engine: Engine, limit: int, *, lease: timedelta, now: datetime | None = None
) -> list[Outgoing]:
    """Claim up to ``limit`` queued messages for ``lease`` (oldest first).

    A claimed message not confirmed by :func:`sent` before its lease ends is claimed again,
    so a sender that dies delivers nothing twice except the messages it had in flight.
    """
    now = now or utcnow()
    with write_transaction(engine) as conn:
        rows = (
            conn.execute(
                select(telegram_outbox)
                .where(
                    or_(
                        telegram_outbox.c.claimed_until.is_(None),
                        telegram_outbox.c.claimed_until < now,
                    )
                )
                .order_by(telegram_outbox.c.id)
                .limit(limit)
            )
            .mappings()
            .all()
        )
        ids = [int(r["id"]) for r in rows]
        if ids:
            conn.execute(
                update(telegram_outbox)
                .where(telegram_outbox.c.id.in_(ids))
                .values(claimed_until=now + lease, attempts=telegram_outbox.c.attempts + 1)
            )
    return [
        Outgoing(
            int(r["id"]),
            str(r["user_hash"]),
            bytes(r["chat"]),
            str(r["text"]),
            int(r["attempts"]) + 1,
        )
        for r in rows
    ]


def sent(
    engine: Engine,
    ids: Sequence[int],
    *,
    outcome: str = "delivered",
    unreachable: Sequence[str] = (),
) -> None:
    """Delete messages Telegram accepted (``outcome="delivered"``) or that were given up
    (``"failed"``) from the outbox, counting them in their batches and, for a coordinators'
    message, in its ``delivered`` count; in one transaction, so a message is counted once.

    ``unreachable``: accounts whose chat refused the bot (it was blocked, or the chat is
    gone); their chat id is dropped, so nothing more is queued to them until they write to
    the bot again (:func:`restore_chat`).
    """
    if outcome not in ("delivered", "failed"):
        raise ValueError(f"outcome must be delivered or failed; got {outcome!r}")
    if not ids and not unreachable:
        return
    now = utcnow()
    with write_transaction(engine) as conn:
        rows = conn.execute(
            select(telegram_outbox.c.id, telegram_outbox.c.batch).where(
                telegram_outbox.c.id.in_(list(ids))
            )
        ).all()
        conn.execute(delete(telegram_outbox).where(telegram_outbox.c.id.in_([r[0] for r in rows])))
        per_batch: dict[str, int] = {}
        for _id, batch in rows:
            if batch is not None:
                per_batch[str(batch)] = per_batch.get(str(batch), 0) + 1
        for batch, n in per_batch.items():
            count_batch(conn, batch, now, **{outcome: n})
        if outcome == "delivered":
            add_delivered(conn, {int(b[2:]): n for b, n in per_batch.items() if b.startswith("m:")})
        if unreachable:
            conn.execute(
                update(telegram_users)
                .where(telegram_users.c.user_hash.in_(list(unreachable)))
                .values(chat=None, updated_at=now)
            )


def restore_chat(engine: Engine, user_hash: str, chat: bytes) -> bool:
    """Keep a linked observer's chat again after it was dropped as unreachable (the
    observer writes to the bot, so it is reachable again); whether it was restored."""
    with write_transaction(engine) as conn:
        result = conn.execute(
            update(telegram_users)
            .where(
                telegram_users.c.user_hash == user_hash,
                telegram_users.c.chat.is_(None),
                telegram_users.c.observer_id.is_not(None),
            )
            .values(chat=chat, updated_at=utcnow())
        )
    return bool(result.rowcount)


def election_exists(engine: Engine, election: str) -> bool:
    """Whether the election is registered."""
    with engine.connect() as conn:
        return (
            conn.execute(select(elections.c.id).where(elections.c.id == election)).first()
            is not None
        )


def observer_for_invite(engine: Engine, code: str) -> int:
    """The id of the observer an invite created (after :func:`redeem_invite` redeemed it)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(invites.c.observer_id).where(invites.c.code_hash == secret_hash(code))
        ).first()
    if row is None or row[0] is None:
        raise AuthError(_UNKNOWN)
    return int(row[0])


def election_candidates(engine: Engine, election: str) -> list[str]:
    """The candidates (or parties) of an election's protocol, in the official order."""
    with engine.connect() as conn:
        row = conn.execute(select(elections.c.candidates).where(elections.c.id == election)).first()
    return [str(c) for c in (row[0] or [])] if row is not None else []


def observer_id_by_name(engine: Engine, election: str, code_name: str) -> int:
    """The id of an active observer named by code name; AuthError if unknown or revoked."""
    with engine.connect() as conn:
        row = conn.execute(
            select(observers.c.id).where(
                observers.c.election == election,
                observers.c.code_name == code_name,
                observers.c.revoked.is_(False),
            )
        ).first()
    if row is None:
        raise AuthError(f"no active observer {code_name[:100]!r} in election {election[:100]!r}")
    return int(row[0])


def outbox_size(engine: Engine) -> int:
    """Messages still in the outbox (claimed or not)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(telegram_outbox)).scalar_one())


@dataclass(frozen=True)
class Broadcast:
    """A broadcast queued: its batch (for :func:`pollwatch.store.telegram_batches.list_batches`)
    and how many chats it was queued to."""

    batch: str
    queued: int


def queue_to_observers(engine: Engine, election: str, text: str) -> Broadcast:
    """Queue ``text`` to every observer of the election linked in Telegram, as a new batch.

    The coordinators' message to observers, delivered by the paced sender; the batch counts
    how many Telegram accepted and how many failed.
    """
    if not text.strip() or len(text) > 4096:
        raise InputError("a message must have 1 to 4096 characters", column="text")
    query = (
        select(telegram_users.c.user_hash, telegram_users.c.chat)
        .join(observers, observers.c.id == telegram_users.c.observer_id)
        .where(
            observers.c.election == election,
            observers.c.revoked.is_(False),
            telegram_users.c.chat.is_not(None),
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    batch = new_broadcast_batch()
    queued = queue_messages(engine, [(str(r[0]), bytes(r[1]), text) for r in rows], batch=batch)
    return Broadcast(batch, queued)


def forget_election(engine: Engine, election: str) -> int:
    """When an election is over: erase its follows, its observers' links and chat ids, their
    queued messages and unfinished flows; returns how many accounts were touched."""
    with write_transaction(engine) as conn:
        followers_ = {
            str(r[0])
            for r in conn.execute(
                select(telegram_follows.c.user_hash).where(telegram_follows.c.election == election)
            )
        }
        linked = {
            str(r[0])
            for r in conn.execute(
                select(telegram_users.c.user_hash)
                .join(observers, observers.c.id == telegram_users.c.observer_id)
                .where(observers.c.election == election)
            )
        }
        conn.execute(delete(telegram_follows).where(telegram_follows.c.election == election))
        touched = sorted(followers_ | linked)
        for first in range(0, len(touched), 1000):
            chunk = touched[first : first + 1000]
            conn.execute(delete(telegram_outbox).where(telegram_outbox.c.user_hash.in_(chunk)))
            forget_flows(conn, chunk)
            conn.execute(
                update(telegram_users)
                .where(telegram_users.c.user_hash.in_(chunk))
                .values(chat=None, observer_id=None, updated_at=utcnow())
            )
    return len(touched)


def queue_alerts(
    engine: Engine,
    election: str,
    alerts: Sequence[tuple[str, str]],
    *,
    user_hash: str,
    chat: bytes,
) -> int:
    """Queue (stable id, text) alerts to the coordinators' chat, each id once; how many.

    The ids already queued are skipped (a situation that lasts keeps its id, so it is posted
    once); the ids and the messages are written in one transaction, so after a crash an
    alert is either queued (and then delivered at least once) or will be queued again.
    """
    if not alerts:
        return 0
    now = utcnow()
    with write_transaction(engine) as conn:
        ids = [alert_id for alert_id, _ in alerts]
        known: set[str] = set()
        for first in range(0, len(ids), 1000):
            known.update(
                str(r[0])
                for r in conn.execute(
                    select(telegram_alerts.c.alert_id).where(
                        telegram_alerts.c.alert_id.in_(ids[first : first + 1000])
                    )
                )
            )
        fresh = [(i, t) for i, t in dict(alerts).items() if i not in known]
        if fresh:
            conn.execute(
                insert(telegram_alerts),
                [{"alert_id": i, "election": election, "queued_at": now} for i, _ in fresh],
            )
            conn.execute(
                insert(telegram_outbox),
                [
                    {
                        "user_hash": user_hash,
                        "chat": chat,
                        "text": t,
                        "created_at": now,
                        "attempts": 0,
                    }
                    for _, t in fresh
                ],
            )
    return len(fresh)
