"""Managing coordinators: roles, scopes, passwords and sessions (every change audited).

The rules (which role may do what, what a scope covers) are in
:mod:`pollwatch.observe.permissions`; this module stores roles and scopes and answers the
questions a permission check needs from the database: a session's coordinator *with* their
scopes (:func:`session_coordinator`), a station's place (:func:`station_place`) and the
stations a narrowed scope lets someone see (:func:`visible_stations`).

Passwords set here are generated (:func:`new_password`, about 100 bits) and returned once to
be handed over; only their argon2 hash is stored. Resetting a password ends the person's
sessions, so a leaked password or a seized logged-in device loses access at once.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from pollwatch.errors import InputError, NotFoundError
from pollwatch.observe.permissions import ROLES, Holder, Place, Scope, covers, whole_election
from pollwatch.store._util import utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.engine import write_transaction
from pollwatch.store.people import Coordinator, add_coordinator, coordinator_for_session
from pollwatch.store.tables import coordinator_scopes, coordinators, elections, sessions, stations

__all__ = [
    "PASSWORD_ALPHABET",
    "add_scope",
    "create_coordinator",
    "end_sessions",
    "list_coordinators",
    "new_password",
    "remove_scope",
    "reset_password",
    "session_coordinator",
    "set_role",
    "station_place",
    "visible_stations",
]

PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
"""Lower-case letters and digits without look-alikes (l/1, o/0): read aloud or typed from a
screen without mistakes; 32 symbols, 5 bits each."""

_PLACE_LIMIT = 200


def new_password(groups: int = 4, size: int = 5) -> str:
    """A random password like ``k3hxe-w9tqa-…`` (``groups × size × 5`` bits; 100 by default)."""
    rng = secrets.SystemRandom()
    return "-".join(
        "".join(rng.choice(PASSWORD_ALPHABET) for _ in range(size)) for _ in range(groups)
    )


def _coordinator_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(coordinators).where(coordinators.c.name == name)).mappings().first()
    if row is None:
        raise NotFoundError(f"no coordinator {name[:100]!r}")
    return row


def _scopes(conn: Connection, coordinator_id: int) -> tuple[Scope, ...]:
    rows = conn.execute(
        select(
            coordinator_scopes.c.election, coordinator_scopes.c.country, coordinator_scopes.c.region
        )
        .where(coordinator_scopes.c.coordinator_id == coordinator_id)
        .order_by(coordinator_scopes.c.id)
    ).all()
    return tuple(Scope(r[0], r[1], r[2]) for r in rows)


def session_coordinator(engine: Engine, token: str) -> Coordinator:
    """The coordinator of a live session with their scopes (``AuthError`` if none)."""
    who = coordinator_for_session(engine, token)
    with engine.connect() as conn:
        return replace(who, scopes=_scopes(conn, who.id))


def create_coordinator(
    engine: Engine, name: str, *, role: str = "coordinator", actor: str
) -> tuple[Coordinator, str]:
    """Add a coordinator with a generated password; returns them and the password (shown once)."""
    password = new_password()
    return add_coordinator(engine, name, password, role=role, actor=actor), password


def list_coordinators(engine: Engine) -> list[dict[str, Any]]:
    """Every coordinator by name: role, scopes and the number of live sessions."""
    now = utcnow()
    with engine.connect() as conn:
        people = conn.execute(
            select(coordinators.c.id, coordinators.c.name, coordinators.c.role).order_by(
                coordinators.c.name
            )
        ).all()
        live: dict[int, int] = {
            int(r[0]): int(r[1])
            for r in conn.execute(
                select(sessions.c.coordinator_id, func.count())
                .where(sessions.c.expires_at > now)
                .group_by(sessions.c.coordinator_id)
            )
        }
        return [
            {
                "name": p[1],
                "role": p[2],
                "scopes": [s.to_dict() for s in _scopes(conn, int(p[0]))],
                "sessions": live.get(int(p[0]), 0),
            }
            for p in people
        ]


def set_role(engine: Engine, name: str, role: str, *, actor: str) -> None:
    """Change a coordinator's role; the last admin cannot stop being one (nobody could manage)."""
    if role not in ROLES:
        raise InputError(
            f"role must be one of {', '.join(ROLES)}; got {role[:40]!r}", column="role"
        )
    with write_transaction(engine) as conn:
        row = _coordinator_row(conn, name)
        if row["role"] == role:
            return
        if row["role"] == "admin":
            admins = conn.execute(
                select(func.count()).select_from(coordinators).where(coordinators.c.role == "admin")
            ).scalar_one()
            if admins <= 1:
                raise InputError(
                    f"{name!r} is the only admin; make someone else admin first", column="role"
                )
        conn.execute(update(coordinators).where(coordinators.c.id == row["id"]).values(role=role))
        record_audit(conn, actor, "coordinators.role", name, {"from": row["role"], "to": role})


def _place_value(value: str | None, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > _PLACE_LIMIT or "\x00" in value:
        raise InputError(f"'{what}' must be at most {_PLACE_LIMIT} characters", column=what)
    return value


def _check_place(conn: Connection, election: str, column: str, value: str | None) -> None:
    """A country or region must be one the election's registry uses (catches typos)."""
    if value is None:
        return
    col = stations.c[column]
    found = conn.execute(
        select(col).where(stations.c.election == election, col == value).limit(1)
    ).first()
    if found is None:
        known = sorted(
            str(r[0])
            for r in conn.execute(
                select(col).where(stations.c.election == election, col.is_not(None)).distinct()
            )
        )
        listed = ", ".join(known[:20]) or "none"
        raise InputError(
            f"no station of election {election!r} has {column} {value!r} (known: {listed})",
            column=column,
        )


def add_scope(
    engine: Engine,
    name: str,
    election: str,
    *,
    country: str | None = None,
    region: str | None = None,
    actor: str,
) -> Scope:
    """Let a coordinator or viewer work in an election (optionally one country / region of it).

    Adding a scope the person has already changes nothing. Admins need no scope (they see
    every election), so giving one is refused rather than silently meaningless.
    """
    scope = Scope(election, _place_value(country, "country"), _place_value(region, "region"))
    with write_transaction(engine) as conn:
        row = _coordinator_row(conn, name)
        if row["role"] == "admin":
            raise InputError(f"{name!r} is an admin and sees every election", column="name")
        if not conn.execute(select(elections.c.id).where(elections.c.id == election)).first():
            raise NotFoundError(f"no election {election[:100]!r}")
        _check_place(conn, election, "country", scope.country)
        _check_place(conn, election, "region", scope.region)
        if scope in _scopes(conn, int(row["id"])):
            return scope
        conn.execute(
            insert(coordinator_scopes).values(
                coordinator_id=row["id"],
                election=scope.election,
                country=scope.country,
                region=scope.region,
                created_at=utcnow(),
            )
        )
        record_audit(conn, actor, "coordinators.scope.add", name, scope.to_dict())
    return scope


def remove_scope(
    engine: Engine,
    name: str,
    election: str,
    *,
    country: str | None = None,
    region: str | None = None,
    actor: str,
) -> None:
    """Take one scope away (``NotFoundError`` if the person does not have it)."""
    scope = Scope(election, _place_value(country, "country"), _place_value(region, "region"))
    with write_transaction(engine) as conn:
        row = _coordinator_row(conn, name)
        where = [
            coordinator_scopes.c.coordinator_id == row["id"],
            coordinator_scopes.c.election == scope.election,
            coordinator_scopes.c.country.is_(None)
            if scope.country is None
            else coordinator_scopes.c.country == scope.country,
            coordinator_scopes.c.region.is_(None)
            if scope.region is None
            else coordinator_scopes.c.region == scope.region,
        ]
        if conn.execute(delete(coordinator_scopes).where(*where)).rowcount == 0:
            raise NotFoundError(f"{name!r} has no such scope")
        record_audit(conn, actor, "coordinators.scope.remove", name, scope.to_dict())


def end_sessions(engine: Engine, name: str, *, actor: str) -> int:
    """Log a coordinator out everywhere; returns how many sessions ended."""
    with write_transaction(engine) as conn:
        row = _coordinator_row(conn, name)
        ended = conn.execute(delete(sessions).where(sessions.c.coordinator_id == row["id"]))
        record_audit(conn, actor, "coordinators.sessions.end", name, {"ended": ended.rowcount})
    return int(ended.rowcount)


def reset_password(engine: Engine, name: str, *, actor: str) -> str:
    """Give a coordinator a new generated password (returned once) and end their sessions."""
    from argon2 import PasswordHasher

    password = new_password()
    digest = PasswordHasher().hash(password)  # argon2id, as for every coordinator password
    with write_transaction(engine) as conn:
        row = _coordinator_row(conn, name)
        conn.execute(
            update(coordinators).where(coordinators.c.id == row["id"]).values(password_hash=digest)
        )
        ended = conn.execute(delete(sessions).where(sessions.c.coordinator_id == row["id"]))
        record_audit(
            conn, actor, "coordinators.password.reset", name, {"sessions_ended": ended.rowcount}
        )
    return password


def station_place(engine: Engine, election: str, station: str) -> Place:
    """Where a station is (its country and region); unknown for a station not in the registry."""
    with engine.connect() as conn:
        row = conn.execute(
            select(stations.c.country, stations.c.region).where(
                stations.c.election == election, stations.c.station == station
            )
        ).first()
    return Place(station, row[0], row[1]) if row else Place(station)


def visible_stations(engine: Engine, who: Holder, election: str) -> frozenset[str] | None:
    """The registry stations ``who`` may see in ``election``, or ``None`` for all of them.

    ``None`` (no filtering needed) for admins and whole-election scopes, so the common case
    costs no query.
    """
    if whole_election(who, election):
        return None
    with engine.connect() as conn:
        rows = conn.execute(
            select(stations.c.station, stations.c.country, stations.c.region).where(
                stations.c.election == election
            )
        ).all()
    return frozenset(r[0] for r in rows if covers(who, election, Place(r[0], r[1], r[2])))
