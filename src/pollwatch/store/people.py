"""People, pseudonymous by design: observers by invite, coordinators by password.

An observer has no name, phone or e-mail: a coordinator creates one-time invites; redeeming
one (atomically, once, within :data:`INVITE_TTL`) creates an observer with a random code
name, unique in its election, and returns a bearer token, shown once and stored only as its
SHA-256. :func:`revoke_observers` ends observers' tokens (one code name, a station's
observers, or a whole election's), audited. Coordinators log in with a password
(argon2id, the Password Hashing Competition winner, RFC 9106) and get a session token,
also stored hashed. Roles and what they allow: :mod:`pollwatch.observe.permissions`.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from pollwatch.errors import AuthError, InputError, InviteExpired, NotFoundError, PollwatchError
from pollwatch.observe.permissions import ROLES, Scope
from pollwatch.store._util import as_utc, new_secret, secret_hash, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.engine import write_transaction
from pollwatch.store.revoked import note_revoked_attempt
from pollwatch.store.tables import (
    coordinators,
    elections,
    invites,
    observers,
    reports,
    sessions,
    stations,
)

if TYPE_CHECKING:
    from pollwatch.limits.login import LoginThrottle

__all__ = [
    "INVITE_TTL",
    "ROLES",
    "SESSION_LIFETIME",
    "Coordinator",
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
    "revoke_observers",
]

SESSION_LIFETIME = timedelta(hours=12)

INVITE_TTL = timedelta(hours=72)
"""How long an invite can be redeemed by default (``POLLWATCH_INVITE_TTL_HOURS``)."""

# Code names: adjective-animal-NNNN, 32 × 32 × 9000 = 9,216,000 names per election: short,
# neutral words that say nothing about the person. Uniqueness is not left to chance: a name
# already taken in the election is drawn again, and a unique index catches a concurrent draw.
_ADJECTIVES = (
    "amber", "bold", "brave", "brisk", "calm", "clear", "coral", "crisp", "deft", "eager",
    "fair", "gentle", "golden", "green", "keen", "kind", "lucky", "merry", "misty", "noble",
    "north", "olive", "proud", "quick", "quiet", "rapid", "silver", "steady", "sunny", "swift",
    "tidy", "wise",
)  # fmt: skip
_ANIMALS = (
    "badger", "beaver", "bison", "crane", "eagle", "falcon", "finch", "fox", "gecko", "heron",
    "ibis", "koala", "lark", "lemur", "lynx", "marten", "moose", "otter", "owl", "panda",
    "puffin", "quail", "raven", "robin", "seal", "stork", "swan", "tern", "tiger", "walrus",
    "wolf", "wren",
)  # fmt: skip
_NAME_DRAWS = 50
"""Draws of a free code name before giving up (each is taken with probability < 1 %
below 90,000 observers per election)."""


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
    """A logged-in coordinator, viewer or admin, with the scopes of their access."""

    id: int
    name: str
    role: str
    scopes: tuple[Scope, ...] = ()


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
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_ANIMALS)}-{rng.randrange(1000, 10000)}"


def _free_code_name(conn: Connection, election: str) -> str:
    """A random code name not yet used in the election."""
    for _ in range(_NAME_DRAWS):
        name = _code_name()
        taken = conn.execute(
            select(observers.c.id).where(
                observers.c.election == election, observers.c.code_name == name
            )
        ).first()
        if taken is None:
            return name
    raise PollwatchError(f"no free code name found in election {election!r}")  # pragma: no cover


def redeem_invite(engine: Engine, code: str, *, ttl: timedelta = INVITE_TTL) -> Redeemed:
    """Redeem an invite once: creates the observer and returns its token.

    Atomic: the invite is marked used with ``UPDATE ... WHERE used_at IS NULL``, so of two
    concurrent redemptions exactly one succeeds. Unknown or used codes raise
    :class:`AuthError` (the same answer for both, so codes cannot be probed); an invite
    created more than ``ttl`` ago raises :class:`InviteExpired`.
    """
    if not code or len(code) > 200:
        raise AuthError("unknown or already used invite code")
    for _attempt in range(3):
        try:
            return _redeem(engine, secret_hash(code), ttl)
        except IntegrityError:
            # Another redemption took the same code name at the same moment (the unique
            # index refused ours, and rolled back the claim): draw again.
            continue
    raise AuthError("the invite could not be redeemed; retry")  # pragma: no cover


def _redeem(engine: Engine, code_hash: str, ttl: timedelta) -> Redeemed:
    token = new_secret()
    now = utcnow()
    with write_transaction(engine) as conn:
        row = conn.execute(select(invites).where(invites.c.code_hash == code_hash)).mappings()
        invite = row.first()
        if invite is None or invite["used_at"] is not None:
            raise AuthError("unknown or already used invite code")
        if as_utc(invite["created_at"]) + ttl < now:
            hours = round(ttl.total_seconds() / 3600)
            raise InviteExpired(
                f"invite expired: invites work for {hours} hours; ask your coordinator "
                "for a new one"
            )
        claimed = conn.execute(
            update(invites)
            .where(invites.c.code_hash == code_hash, invites.c.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            raise AuthError("unknown or already used invite code")
        election = str(invite["election"])
        name = _free_code_name(conn, election)
        bound = tuple(invite["stations"] or ())
        result = conn.execute(
            insert(observers).values(
                election=election,
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
    return Redeemed(token, name, election, bound)


def revoke_observers(
    engine: Engine,
    *,
    election: str | None = None,
    code_name: str | None = None,
    station: str | None = None,
    everyone: bool = False,
    actor: str = "cli",
) -> list[str]:
    """Revoke observers' tokens; returns the code names revoked now (sorted).

    Exactly one of: ``code_name`` (one observer; ``election`` may be left out when the name
    is used in one election only), ``station`` (every observer of ``election`` bound to the
    station or who reported on it: a station's phones are what gets seized together), or
    ``everyone`` (every observer of ``election``). Already revoked observers are left as
    they are. The server's token caches notice within
    :data:`pollwatch.store.ingest.REVOCATION_INTERVAL` seconds. Audited as
    ``observers.revoke`` with the actor, what was asked and the code names (never a token).
    """
    chosen = [name for name, given in (("code name", code_name), ("--station", station)) if given]
    if everyone:
        chosen.append("--all")
    if len(chosen) != 1:
        raise InputError(
            "name exactly one of: a code name, --station or --all; "
            f"got {', '.join(chosen) or 'none'}",
            column="observers",
        )
    if (station or everyone) and not election:
        raise InputError("--station and --all need --election", column="election")
    with write_transaction(engine) as conn:
        if (
            election is not None
            and not conn.execute(select(elections.c.id).where(elections.c.id == election)).first()
        ):
            raise NotFoundError(f"no election {election!r}")
        found = _to_revoke(conn, election, code_name, station)
        for chunk in range(0, len(found), 1000):  # bounded IN lists
            ids = [observer_id for observer_id, _, _ in found[chunk : chunk + 1000]]
            conn.execute(update(observers).where(observers.c.id.in_(ids)).values(revoked=True))
        names = sorted(name for _, name, _ in found)
        target = election or (found[0][2] if found else "")
        asked = {"code_name": code_name} if code_name else {"station": station} if station else {}
        record_audit(
            conn, actor, "observers.revoke", target, {**asked, "all": everyone, "revoked": names}
        )
    return names


def _to_revoke(
    conn: Connection, election: str | None, code_name: str | None, station: str | None
) -> list[tuple[int, str, str]]:
    """(id, code name, election) of the active observers that a revocation names."""
    query = select(
        observers.c.id, observers.c.code_name, observers.c.election, observers.c.stations
    ).where(observers.c.revoked.is_(False))
    if election is not None:
        query = query.where(observers.c.election == election)
    if code_name is not None:
        known = select(observers.c.election).where(observers.c.code_name == code_name)
        if election is not None:
            known = known.where(observers.c.election == election)
        where = sorted({str(r[0]) for r in conn.execute(known)})
        if not where:
            raise NotFoundError(f"no observer {code_name!r}")
        if len(where) > 1:
            raise InputError(
                f"code name {code_name!r} is used in elections {', '.join(where)}; add --election",
                column="election",
            )
        query = query.where(observers.c.code_name == code_name)
    rows = conn.execute(query).all()
    if station is not None:
        registered = select(stations.c.station).where(
            stations.c.election == election, stations.c.station == station
        )
        if conn.execute(registered).first() is None:
            raise NotFoundError(f"no station {station!r} in election {election!r}")
        reporters = {
            r[0]
            for r in conn.execute(
                select(reports.c.observer_id)
                .where(reports.c.election == election, reports.c.station == station)
                .distinct()
            )
        }
        rows = [r for r in rows if r.id in reporters or station in (r.stations or ())]
    return [(int(r.id), str(r.code_name), str(r.election)) for r in rows]


def observer_for_token(engine: Engine, token: str) -> Observer:
    """The observer holding this bearer token; :class:`AuthError` if none (or revoked).

    A revoked token is answered with a message saying so (only its holder can ask): the
    observer app wipes itself from the phone when it reads "revoked" (docs/observe.md).
    """
    if not token or len(token) > 200:
        raise AuthError("missing or unknown observer token")
    with engine.connect() as conn:
        row = (
            conn.execute(select(observers).where(observers.c.token_hash == secret_hash(token)))
            .mappings()
            .first()
        )
    if row is None:
        raise AuthError("missing or unknown observer token")
    if row["revoked"]:
        note_revoked_attempt(engine, int(row["id"]), str(row["election"]))
        raise AuthError("this observer token has been revoked")
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


@functools.cache
def _unknown_name_hash() -> str:
    """An argon2 hash of a random password, made once per process: checked for unknown names.

    Verifying a real hash of the same parameters costs an unknown name exactly what a known
    name costs, so the answer's timing does not tell whether an account exists (hashing
    anew for each unknown name, as well as verifying, would double its time).
    """
    return str(_hasher().hash(new_secret()))


def _password_matches(password_hash: str | None, password: str) -> bool:
    """One argon2 verification, against the account's hash or the unknown-name hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        _hasher().verify(password_hash or _unknown_name_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def login(
    engine: Engine,
    name: str,
    password: str,
    *,
    throttle: LoginThrottle | None = None,
    address: str | None = None,
) -> tuple[Coordinator, str]:
    """Check a coordinator's password; returns the coordinator and a new session token.

    With a ``throttle`` (the web routes pass theirs, with the client's ``address``), a name
    or address paused after repeated failures is refused with
    :class:`pollwatch.errors.LoginThrottled` before the password is looked at, and each
    failure is counted (the rule: :mod:`pollwatch.limits.login`). Known and unknown names
    cost the same (:func:`_unknown_name_hash`) and get the same answer. Every failure is
    audited (``login.failed``): the name if it exists, never the password or the address.
    """
    if throttle is not None:
        throttle.check(name, address)
    with engine.connect() as conn:
        row = (
            conn.execute(select(coordinators).where(coordinators.c.name == name)).mappings().first()
        )
    stored = None if row is None else str(row["password_hash"])
    matches = _password_matches(stored, password)  # one argon2 verification either way
    if row is None or not matches:
        failure = throttle.failed(name, address) if throttle is not None else None
        with write_transaction(engine) as conn:
            record_audit(
                conn,
                "anonymous",
                "login.failed",
                str(row["name"]) if row is not None else "(unknown name)",
                None
                if failure is None
                else {
                    "failures_for_name": failure.failures_for_name,
                    "paused_seconds": failure.paused_for,
                },
            )
        raise AuthError("wrong name or password")
    if throttle is not None:
        throttle.succeeded(name)
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
