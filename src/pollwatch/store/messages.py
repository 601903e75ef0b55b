"""Messages to observers: sent by coordinators, fetched by phones, delivered by the bot.

A message has a text (at most 2,000 characters), an urgent flag and one or more targets
(:mod:`pollwatch.observe.messages`: all observers, stations, countries, one code name). It is
stored once (``messages``) with one row per target (``message_targets``); nothing about any
observer is stored with it.

* **The observer app** asks for its inbox at each sync (:func:`inbox`): the messages whose
  targets reach the observer's stations (or the station the phone is at, for an observer
  free to report anywhere), their countries or code name, newest first.
* **Receipts are counts, not identities** (:func:`record_receipts`): a phone reports each
  message "delivered" once and "read" once, and the store adds one to the message's
  counter, never who. Counters never exceed ``recipients``, the number of observers the
  targets reach (counted when the message is sent and again when a counter reaches it, so
  observers who joined later count; observers free to report anywhere count for every
  station target), so a phone that repeats itself cannot make a count absurd.
* **The bot** (issue 15) delivers the same messages in Telegram through a delivery state
  per target, a small queue it consumes::

      for d in pending_deliveries(engine):            # oldest first, urgent first
          ...  # send d["text"] to the chats that d["kind"]/d["value"] reach
          mark_delivery(engine, d["target_id"], "sent")   # or "failed" (retried later)

  ``bot_state`` is ``pending`` when the message is sent, ``sent`` once the bot delivered that
  target, ``failed`` after an attempt that failed; a failed target is offered again until
  it failed :data:`MAX_BOT_ATTEMPTS` times. :func:`queue_delivery` does the bot's part in
  one transaction: the target marked ``sent``, its message queued in the bot's outbox to
  the linked observers it reaches (this module's recipient rule), ``delivered`` counted.
  Chat ids stay encrypted (opaque bytes, sealed and opened by the bot's key).

Narrowed scopes (:mod:`pollwatch.observe.permissions`): a coordinator whose scope is part of
an election may address only its stations, the countries it covers whole, or observers bound
to its stations only — never everyone — and sees the messages that address its part.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, case, insert, select, update

from pollwatch.errors import Forbidden, InputError
from pollwatch.observe.messages import Target, check_message_text, reaches
from pollwatch.observe.permissions import Holder, whole_election
from pollwatch.store._util import format_stored, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.coordinators import visible_stations
from pollwatch.store.engine import write_transaction
from pollwatch.store.people import Observer
from pollwatch.store.tables import (
    message_targets,
    messages,
    observers,
    stations,
    telegram_outbox,
    telegram_users,
)
from pollwatch.store.telegram_batches import batch_counts, count_batch

__all__ = [
    "BOT_STATES",
    "INBOX_LIMIT",
    "MAX_BOT_ATTEMPTS",
    "MAX_RECEIPTS",
    "add_delivered",
    "inbox",
    "list_messages",
    "mark_delivery",
    "message_batch",
    "pending_deliveries",
    "queue_delivery",
    "record_receipts",
    "send_message",
]

BOT_STATES: tuple[str, ...] = ("pending", "sent", "failed")
"""A target's delivery by the bot."""

MAX_BOT_ATTEMPTS = 5
"""Failed deliveries of one target before the bot stops trying."""

INBOX_LIMIT = 100
"""Newest messages a phone receives (older ones are no longer news on election day)."""

MAX_RECEIPTS = 200
"""Message ids one receipts call may name, per kind."""


def _countries(places: dict[str, str | None], at: Iterable[str]) -> set[str]:
    """The registry countries of these stations (stations without a country add none)."""
    return {c for c in (places.get(s) for s in at) if c}


def _places(conn: Connection, election: str) -> dict[str, str | None]:
    """Station → country of the election's registry."""
    return {
        str(s): (str(c) if c is not None else None)
        for s, c in conn.execute(
            select(stations.c.station, stations.c.country).where(stations.c.election == election)
        )
    }


def _observer_rows(conn: Connection, election: str) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (str(code), tuple(bound or ()))
        for code, bound in conn.execute(
            select(observers.c.code_name, observers.c.stations).where(
                observers.c.election == election, observers.c.revoked.is_(False)
            )
        )
    ]


def _reached(
    targets: Sequence[Target],
    people: Iterable[tuple[str, tuple[str, ...]]],
    places: dict[str, str | None],
) -> list[str]:
    """The code names the targets reach (the one rule for counts and for the bot)."""
    everywhere = list(places)
    all_countries = _countries(places, everywhere)
    found = []
    for code, bound in people:
        at = bound or everywhere  # free to report anywhere: may be at any station
        countries = _countries(places, bound) if bound else all_countries
        if reaches(targets, code_name=code, stations=at, countries=countries):
            found.append(code)
    return found


def _recipients(
    targets: Sequence[Target],
    people: Iterable[tuple[str, tuple[str, ...]]],
    places: dict[str, str | None],
) -> int:
    return len(_reached(targets, people, places))


def _check_scope(
    who: Holder,
    election: str,
    targets: Sequence[Target],
    visible: frozenset[str] | None,
    people: dict[str, tuple[str, ...]],
) -> None:
    """A narrowed scope addresses only its own part of the election."""
    if visible is None:
        return
    whole_countries = {
        s.country
        for s in who.scopes
        if s.election == election and s.country is not None and s.region is None
    }
    for target in targets:
        if target.kind == "all":
            raise Forbidden("your scope is part of this election: address its stations")
        if target.kind == "station" and target.value not in visible:
            raise Forbidden(f"station {target.value!r} is outside your scope")
        if target.kind == "country" and target.value not in whole_countries:
            raise Forbidden(f"country {target.value!r} is not wholly inside your scope")
        if target.kind == "observer":
            bound = people.get(str(target.value), ())
            if not bound or not set(bound) <= visible:
                raise Forbidden(f"observer {target.value!r} is not bound to your stations only")


def send_message(
    engine: Engine,
    election: str,
    *,
    text: str,
    targets: Sequence[Target],
    urgent: bool = False,
    actor: str,
    who: Holder | None = None,
) -> dict[str, Any]:
    """Store a message for its targets (and the bot's queue); audited under ``actor``.

    ``who`` (the sending coordinator) narrows what may be addressed (see the module text);
    ``None`` for trusted callers (the CLI, the demo). Raises :class:`InputError` for an
    empty or long text, no target, or a code name that is not an observer of the election;
    :class:`Forbidden` for a target outside a narrowed scope.
    """
    body = check_message_text(text)
    if not targets:
        raise InputError("a message needs at least one target", column="targets")
    visible = (
        visible_stations(engine, who, election)
        if who is not None and not whole_election(who, election)
        else None
    )
    now = utcnow()
    with write_transaction(engine) as conn:
        places = _places(conn, election)
        people_rows = _observer_rows(conn, election)
        people = dict(people_rows)
        for target in targets:
            if target.kind == "observer" and target.value not in people:
                raise InputError(
                    f"no active observer {target.value!r} in election {election!r}",
                    column="targets",
                )
            if target.kind == "station" and target.value not in places:
                raise InputError(
                    f"no station {target.value!r} in election {election!r}", column="targets"
                )
        if who is not None:
            _check_scope(who, election, targets, visible, people)
        recipients = _recipients(targets, people_rows, places)
        message_id = conn.execute(
            insert(messages)
            .values(
                election=election,
                text=body,
                urgent=urgent,
                created_at=now,
                author=actor,
                recipients=recipients,
                delivered=0,
                reads=0,
            )
            .returning(messages.c.id)
        ).scalar_one()
        conn.execute(
            insert(message_targets),
            [
                {"message_id": message_id, "kind": t.kind, "value": t.value, "bot_state": "pending"}
                for t in targets
            ],
        )
        record_audit(
            conn,
            actor,
            "message.send",
            f"{election}/{message_id}",
            {"targets": [t.label() for t in targets], "urgent": urgent, "length": len(body)},
        )
    return {
        "id": int(message_id),
        "election": election,
        "text": body,
        "urgent": urgent,
        "created_at": format_stored(now),
        "targets": [t.label() for t in targets],
        "recipients": recipients,
        "delivered": 0,
        "read": 0,
    }


def _load(
    conn: Connection, election: str, *, limit: int
) -> list[tuple[dict[str, Any], list[Target], list[str]]]:
    rows = (
        conn.execute(
            select(messages)
            .where(messages.c.election == election)
            .order_by(messages.c.id.desc())
            .limit(limit)
        )
        .mappings()
        .all()
    )
    if not rows:
        return []
    ids = [int(r["id"]) for r in rows]
    targets: dict[int, list[Target]] = {i: [] for i in ids}
    states: dict[int, list[str]] = {i: [] for i in ids}
    for row in conn.execute(
        select(message_targets)
        .where(message_targets.c.message_id.in_(ids))
        .order_by(message_targets.c.id)
    ).mappings():
        targets[int(row["message_id"])].append(Target(str(row["kind"]), row["value"]))
        states[int(row["message_id"])].append(str(row["bot_state"]))
    return [(dict(r), targets[int(r["id"])], states[int(r["id"])]) for r in rows]


_NO_TELEGRAM = {"queued": 0, "delivered": 0, "failed": 0}


def list_messages(
    engine: Engine, election: str, *, who: Holder | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """The election's messages for the coordinators' page, newest first, with receipt counts
    and the bot's delivery states (targets per state) and Telegram counts (chats queued,
    accepted by Telegram, failed). A narrowed scope sees the messages
    that address its stations, its countries or its observers."""
    visible = (
        visible_stations(engine, who, election)
        if who is not None and not whole_election(who, election)
        else None
    )
    with engine.connect() as conn:
        loaded = _load(conn, election, limit=limit)
        places = _places(conn, election) if visible is not None else {}
        people = dict(_observer_rows(conn, election)) if visible is not None else {}
        telegram = batch_counts(conn, [message_batch(int(r["id"])) for r, _t, _s in loaded])
    out = []
    for row, targets, states in loaded:
        if visible is not None:
            countries = _countries(places, visible)
            mine = any(
                (t.kind == "station" and t.value in visible)
                or (t.kind == "country" and t.value in countries)
                or (t.kind == "observer" and set(people.get(str(t.value), ())) & visible)
                for t in targets
            )
            if not mine:
                continue
        out.append(
            {
                "id": int(row["id"]),
                "text": row["text"],
                "urgent": bool(row["urgent"]),
                "created_at": format_stored(row["created_at"]),
                "author": row["author"],
                "targets": [t.label() for t in targets],
                "recipients": int(row["recipients"]),
                "delivered": int(row["delivered"]),
                "read": int(row["reads"]),
                "bot": {state: states.count(state) for state in BOT_STATES if state in states},
                "telegram": telegram.get(message_batch(int(row["id"])), _NO_TELEGRAM),
            }
        )
    return out


def _reachable(
    conn: Connection, observer: Observer, station: str | None
) -> list[tuple[dict[str, Any], list[Target], list[str]]]:
    at: tuple[str, ...] = observer.stations
    if not at and station is not None:
        at = (station,)
    countries = _countries(_places(conn, observer.election), at)
    return [
        item
        for item in _load(conn, observer.election, limit=INBOX_LIMIT * 5)
        if reaches(item[1], code_name=observer.code_name, stations=at, countries=countries)
    ][:INBOX_LIMIT]


def inbox(
    engine: Engine, observer: Observer, *, station: str | None = None
) -> list[dict[str, Any]]:
    """The messages that reach this observer, newest first (at most :data:`INBOX_LIMIT`).

    ``station`` is where the phone says it is; it counts only for an observer free to report
    anywhere (a bound observer is reached through the bound stations). No author, no
    targets, no counts: the phone needs the text, whether it is urgent and when it was sent.
    """
    if station is not None and not observer.may_report(observer.election, station):
        raise Forbidden(f"this observer may not report on station {station!r}")
    with engine.connect() as conn:
        found = _reachable(conn, observer, station)
    return [
        {
            "id": int(row["id"]),
            "text": row["text"],
            "urgent": bool(row["urgent"]),
            "sent_at": format_stored(row["created_at"]),
        }
        for row, _targets, _states in found
    ]


def _ids(values: Iterable[Any], name: str) -> list[int]:
    out: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
            raise InputError(f"'{name}' must list message ids (whole numbers)", column=name)
        out.append(value)
    if len(out) > MAX_RECEIPTS:
        raise InputError(f"'{name}' lists at most {MAX_RECEIPTS} ids", column=name)
    return sorted(set(out))


def record_receipts(
    engine: Engine,
    observer: Observer,
    *,
    delivered: Collection[Any] = (),
    read: Collection[Any] = (),
    station: str | None = None,
) -> dict[str, int]:
    """Add one to the delivered and read counters of the listed messages that reach this
    observer (others are ignored: an id is no secret, a count is not theirs to move).

    A counter at ``recipients`` first has ``recipients`` counted again (observers who joined
    after the message was sent raise it), so a message sent the evening before still counts
    the morning's observers. Returns how many counters moved. Nothing about the observer is
    stored.
    """
    got = {"delivered": _ids(delivered, "delivered"), "read": _ids(read, "read")}
    moved = {"delivered": 0, "read": 0}
    with write_transaction(engine) as conn:
        reachable = {
            int(row["id"]): (row, targets)
            for row, targets, _s in _reachable(conn, observer, station)
        }
        mine = set(reachable)
        full = [
            (i, targets)
            for i, (row, targets) in reachable.items()
            if (i in got["delivered"] and row["delivered"] >= row["recipients"])
            or (i in got["read"] and row["reads"] >= row["recipients"])
        ]
        if full:
            places = _places(conn, observer.election)
            people = _observer_rows(conn, observer.election)
            for message_id, targets in full:
                conn.execute(
                    update(messages)
                    .where(messages.c.id == message_id)
                    .values(recipients=_recipients(targets, people, places))
                )
        for name, column in (("delivered", messages.c.delivered), ("read", messages.c.reads)):
            wanted = [i for i in got[name] if i in mine]
            if not wanted:
                continue
            result = conn.execute(
                update(messages)
                .where(messages.c.id.in_(wanted), column < messages.c.recipients)
                .values({column.name: column + 1})
            )
            moved[name] = int(result.rowcount or 0)
    return moved


def pending_deliveries(engine: Engine, *, limit: int = 100) -> list[dict[str, Any]]:
    """Targets the bot has yet to deliver (pending, or failed fewer than
    :data:`MAX_BOT_ATTEMPTS` times), urgent first, then oldest first."""
    query = (
        select(
            message_targets.c.id.label("target_id"),
            message_targets.c.kind,
            message_targets.c.value,
            message_targets.c.bot_state,
            message_targets.c.bot_attempts,
            messages.c.id.label("message_id"),
            messages.c.election,
            messages.c.text,
            messages.c.urgent,
            messages.c.created_at,
        )
        .join(messages, messages.c.id == message_targets.c.message_id)
        .where(
            (message_targets.c.bot_state == "pending")
            | (
                (message_targets.c.bot_state == "failed")
                & (message_targets.c.bot_attempts < MAX_BOT_ATTEMPTS)
            )
        )
        .order_by(case((messages.c.urgent, 0), else_=1), messages.c.id, message_targets.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            {
                "target_id": int(r["target_id"]),
                "message_id": int(r["message_id"]),
                "election": r["election"],
                "kind": r["kind"],
                "value": r["value"],
                "text": r["text"],
                "urgent": bool(r["urgent"]),
                "created_at": format_stored(r["created_at"]),
                "state": r["bot_state"],
                "attempts": int(r["bot_attempts"]),
            }
            for r in conn.execute(query).mappings()
        ]


def mark_delivery(engine: Engine, target_id: int, state: str) -> None:
    """Record the bot's delivery of one target: ``sent`` or ``failed`` (counts an attempt)."""
    if state not in ("sent", "failed"):
        raise InputError("a delivery state must be sent or failed", column="state")
    with write_transaction(engine) as conn:
        result = conn.execute(
            update(message_targets)
            .where(message_targets.c.id == target_id)
            .values(
                bot_state=state,
                bot_attempts=message_targets.c.bot_attempts + 1,
                bot_updated_at=utcnow(),
            )
        )
        if not result.rowcount:
            raise InputError(f"no message target {target_id}", column="target_id")


def message_batch(message_id: int) -> str:
    """The Telegram batch a message's deliveries are counted in (``telegram_batches``)."""
    return f"m:{int(message_id)}"


def add_delivered(conn: Connection, counts: Mapping[int, int]) -> None:
    """Add to messages' ``delivered`` counts (never past ``recipients``), in the caller's
    transaction: Telegram accepted ``counts[id]`` more copies of message ``id``."""
    for message_id, n in counts.items():
        total = messages.c.delivered + n
        conn.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(
                delivered=case((total > messages.c.recipients, messages.c.recipients), else_=total)
            )
        )


def queue_delivery(
    engine: Engine, target_id: int, render: Callable[[str, bool, str | None], str]
) -> int | None:
    """Queue one pending target's message in the bot's outbox and mark the target ``sent``,
    in one transaction; returns how many Telegram chats it was queued to (``None`` if the
    target is gone or was already delivered).

    The chats are those of the observers linked in Telegram whom the target reaches (the
    recipient rule of this module, unrevoked observers only); ``render(text, urgent, lang)``
    makes each message in its account's language (``lang`` may be ``None``). The chats stay
    encrypted here (opaque bytes). Queuing and marking are one transaction, so a crash
    either leaves the target pending with nothing queued or queued and marked; the outbox
    then delivers at least once, with repeats bounded by its messages in flight. The
    chats queued are counted in the message's Telegram batch (:func:`message_batch`); its
    ``delivered`` count grows only when Telegram accepts a message
    (:func:`pollwatch.store.telegram.sent` calls :func:`add_delivered`): a count, never who.
    """
    now = utcnow()
    with write_transaction(engine) as conn:
        # marked first: on PostgreSQL the row lock makes a second bot process wait here and
        # then find the target sent, so two processes never queue one target twice
        claimed = conn.execute(
            update(message_targets)
            .where(message_targets.c.id == target_id, message_targets.c.bot_state != "sent")
            .values(
                bot_state="sent",
                bot_attempts=message_targets.c.bot_attempts + 1,
                bot_updated_at=now,
            )
        )
        if not claimed.rowcount:
            return None
        row = (
            conn.execute(
                select(
                    message_targets.c.kind,
                    message_targets.c.value,
                    message_targets.c.bot_state,
                    messages.c.id,
                    messages.c.election,
                    messages.c.text,
                    messages.c.urgent,
                )
                .join(messages, messages.c.id == message_targets.c.message_id)
                .where(message_targets.c.id == target_id)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        election = str(row["election"])
        linked = conn.execute(
            select(
                observers.c.code_name,
                observers.c.stations,
                telegram_users.c.user_hash,
                telegram_users.c.chat,
                telegram_users.c.lang,
            )
            .join(telegram_users, telegram_users.c.observer_id == observers.c.id)
            .where(
                observers.c.election == election,
                observers.c.revoked.is_(False),
                telegram_users.c.chat.is_not(None),
            )
        ).all()
        people = [(str(r[0]), tuple(r[1] or ())) for r in linked]
        reached = set(
            _reached([Target(str(row["kind"]), row["value"])], people, _places(conn, election))
        )
        batch = message_batch(int(row["id"]))
        queued = [
            {
                "batch": batch,
                "user_hash": str(r[2]),
                "chat": bytes(r[3]),
                "text": render(str(row["text"]), bool(row["urgent"]), r[4]),
                "created_at": now,
                "attempts": 0,
            }
            for r in linked
            if str(r[0]) in reached
        ]
        for first in range(0, len(queued), 1000):
            conn.execute(insert(telegram_outbox), queued[first : first + 1000])
        count_batch(conn, batch, now, queued=len(queued))
    return len(queued)
