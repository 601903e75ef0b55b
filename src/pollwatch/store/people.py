"""People, pseudonymous by design: observers by invite, coordinators by password.

An observer has no name, phone or e-mail: a coordinator creates one-time invites; redeeming
one (atomically, once) creates an observer with a random code name and returns a bearer
token, shown once and stored only as its SHA-256. Coordinators log in with a password
(argon2id, the Password Hashing Competition winner, RFC 9106) and get a session token,
also stored hashed. Roles: ``admin`` (everything, manages coordinators) and
``coordinator`` (sees reports, resolves conflicts).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update

from pollwatch.errors import InputError, NotFoundError, PollwatchError
from pollwatch.store._util import as_utc, new_secret, secret_hash, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.engine import write_transaction
from pollwatch.store.tables import coordinators, elections, invites, observers, sessions, stations

__all__ = [
    "ROLES",
    "SESSION_LIFETIME",
    "AuthError",
    "Coordinator",
    "Forbidden",
    "Invite",
    "Observer",
    "Redeemed",
    "add_coordinator",
    "coordinator_for_session",
    "create_invites",
    "login",
    "logout",
    "observer_for_token",
    "redeem_invite",
]

ROLES: tuple[str, ...] = ("admin", "coordinator")
SESSION_LIFETIME = timedelta(hours=12)

_ADJECTIVES = (
    "amber", "bold", "brave", "calm", "clear", "coral", "swift", "quiet", "green", "keen",
    "lucky", "misty", "north", "olive", "proud", "rapid", "silver", "steady", "sunny", "wise",
)  # fmt: skip
_ANIMALS = (
    "badger", "crane", "falcon", "fox", "heron", "ibis", "lynx", "marten", "otter", "owl",
    "panda", "puffin", "raven", "robin", "seal", "swan", "tern", "tiger", "wolf", "wren",
)  # fmt: skip


class AuthError(PollwatchError):
    """Missing, unknown, used or expired credentials (HTTP 401)."""

    status = 401


class Forbidden(PollwatchError):
    """Known credentials that do not allow this action (HTTP 403)."""

    status = 403


@dataclass(frozen=True)
class Invite:
    """A one-time invite: the code (shown once) and the election and stations it binds to."""

    code: str
    election: str
    stations: tuple[str, ...]

    def to_dict(self, base_url: str = "") -> dict[str, Any]:
        return {
            "code": self.code,
            "url": f"{base_url.rstrip('/')}/observe/join/{self.code}",
            "election": self.election,
            "stations": list(self.stations),
        }


@dataclass(frozen=True)
class Redeemed:
    """The result of redeeming an invite: the bearer token (shown once) and the code name."""

    token: str
    observer: str
    election: str
    stations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "observer": self.observer,
            "election": self.election,
            "stations": list(self.stations),
        }


@dataclass(frozen=True)
class Observer:
    """An observer as the API sees it: id, code name, election, optional station binding."""

    id: int
    code_name: str
    election: str
    stations: tuple[str, ...]

    def may_report(self, election: str, station: str) -> bool:
        """Whether this observer may report on this station."""
        return election == self.election and (not self.stations or station in self.stations)


@dataclass(frozen=True)
class Coordinator:
    """A logged-in coordinator or admin."""

    id: int
    name: str
    role: str


def create_invites(
    engine: Engine,
    election: str,
    count: int,
    *,
    stations_: tuple[str, ...] | list[str] = (),
    actor: str = "cli",
) -> list[Invite]:
    """Create ``count`` one-time invites for an election (optionally bound to stations)."""
    if not 1 <= count <= 10_000:
        raise InputError(f"count must be between 1 and 10000; got {count}", column="count")
    bound = tuple(dict.fromkeys(stations_))
    created: list[Invite] = []
    with write_transaction(engine) as conn:
        if not conn.execute(select(elections.c.id).where(elections.c.id == election)).first():
            raise NotFoundError(f"no election {election!r}; create it first")
        if bound:
            known = {
                r[0]
                for r in conn.execute(
                    select(stations.c.station).where(stations.c.election == election)
                )
            }
            unknown = [s for s in bound if s not in known]
            if unknown:
                raise InputError(
                    f"unknown station {unknown[0]!r} in election {election!r}", column="stations"
                )
        now = utcnow()
        for _ in range(count):
            code = new_secret()
            conn.execute(
                insert(invites).values(
                    code_hash=secret_hash(code),
                    election=election,
                    stations=list(bound) or None,
                    created_at=now,
                )
            )
            created.append(Invite(code, election, bound))
        record_audit(
            conn, actor, "invites.create", election, {"count": count, "stations": list(bound)}
        )
    return created


def _code_name() -> str:
    rng = secrets.SystemRandom()
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_ANIMALS)}-{rng.randrange(100, 1000)}"


def redeem_invite(engine: Engine, code: str) -> Redeemed:
    """Redeem an invite once: creates the observer and returns its token.

    Atomic: the invite is marked used with ``UPDATE ... WHERE used_at IS NULL``, so of two
    concurrent redemptions exactly one succeeds. Unknown or used codes raise
    :class:`AuthError` (the same answer for both, so codes cannot be probed).
    """
    if not code or len(code) > 200:
        raise AuthError("unknown or already used invite code")
    code_hash = secret_hash(code)
    token = new_secret()
    now = utcnow()
    with write_transaction(engine) as conn:
        row = conn.execute(select(invites).where(invites.c.code_hash == code_hash)).mappings()
        invite = row.first()
        if invite is None or invite["used_at"] is not None:
            raise AuthError("unknown or already used invite code")
        claimed = conn.execute(
            update(invites)
            .where(invites.c.code_hash == code_hash, invites.c.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            raise AuthError("unknown or already used invite code")
        name = _code_name()
        bound = tuple(invite["stations"] or ())
        result = conn.execute(
            insert(observers).values(
                election=invite["election"],
                code_name=name,
                token_hash=secret_hash(token),
                stations=list(bound) or None,
                created_at=now,
                revoked=False,
            )
        )
        observer_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        conn.execute(
            update(invites).where(invites.c.code_hash == code_hash).values(observer_id=observer_id)
        )
    return Redeemed(token, name, str(invite["election"]), bound)


def observer_for_token(engine: Engine, token: str) -> Observer:
    """The observer holding this bearer token; :class:`AuthError` if none (or revoked)."""
    if not token or len(token) > 200:
        raise AuthError("missing or unknown observer token")
    with engine.connect() as conn:
        row = (
            conn.execute(select(observers).where(observers.c.token_hash == secret_hash(token)))
            .mappings()
            .first()
        )
    if row is None or row["revoked"]:
        raise AuthError("missing or unknown observer token")
    return Observer(
        int(row["id"]), str(row["code_name"]), str(row["election"]), tuple(row["stations"] or ())
    )


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def add_coordinator(
    engine: Engine, name: str, password: str, *, role: str = "coordinator", actor: str = "cli"
) -> Coordinator:
    """Add a coordinator (or admin) with an argon2id password hash."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}; got {role!r}", column="role")
    if not name.strip() or len(name) > 100:
        raise InputError("the name must be 1 to 100 characters", column="name")
    if len(password) < 10:
        raise InputError("the password must be at least 10 characters", column="password")
    with write_transaction(engine) as conn:
        if conn.execute(select(coordinators.c.id).where(coordinators.c.name == name)).first():
            raise InputError(f"coordinator {name!r} exists already", column="name")
        result = conn.execute(
            insert(coordinators).values(
                name=name, password_hash=_hasher().hash(password), role=role, created_at=utcnow()
            )
        )
        record_audit(conn, actor, "coordinators.add", name, {"role": role})
    pk = result.inserted_primary_key
    return Coordinator(int(pk[0]) if pk else 0, name, role)


def login(engine: Engine, name: str, password: str) -> tuple[Coordinator, str]:
    """Check a coordinator's password; returns the coordinator and a new session token."""
    from argon2.exceptions import InvalidHashError, VerificationError

    with engine.connect() as conn:
        row = (
            conn.execute(select(coordinators).where(coordinators.c.name == name)).mappings().first()
        )
    hasher = _hasher()
    try:
        if row is None:
            hasher.verify(hasher.hash("timing-equaliser"), password + "\x00")
            raise AuthError("wrong name or password")
        hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        raise AuthError("wrong name or password") from None
    coordinator = Coordinator(int(row["id"]), str(row["name"]), str(row["role"]))
    token = new_secret()
    now = utcnow()
    with write_transaction(engine) as conn:
        conn.execute(
            insert(sessions).values(
                token_hash=secret_hash(token),
                coordinator_id=coordinator.id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
        record_audit(conn, coordinator.name, "login", coordinator.name, None)
    return coordinator, token


def logout(engine: Engine, token: str) -> None:
    """End a session (unknown tokens are ignored)."""
    from sqlalchemy import delete

    with write_transaction(engine) as conn:
        conn.execute(delete(sessions).where(sessions.c.token_hash == secret_hash(token)))


def coordinator_for_session(engine: Engine, token: str) -> Coordinator:
    """The coordinator of a live session token; :class:`AuthError` if none or expired."""
    if not token or len(token) > 200:
        raise AuthError("coordinator login required")
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(
                    sessions.c.expires_at,
                    coordinators.c.id,
                    coordinators.c.name,
                    coordinators.c.role,
                )
                .join(coordinators, coordinators.c.id == sessions.c.coordinator_id)
                .where(sessions.c.token_hash == secret_hash(token))
            )
            .mappings()
            .first()
        )
    if row is None:
        raise AuthError("coordinator login required")
    if as_utc(row["expires_at"]) < utcnow():
        raise AuthError("the session has expired; log in again")
    return Coordinator(int(row["id"]), str(row["name"]), str(row["role"]))
