"""Who may do what in the observation service: one table, one check, no I/O.

Every route of the web application either needs a logged-in coordinator and names one
action of :data:`PERMISSIONS` (the web layer's ``authorized(action)`` dependency calls
:func:`require`), or is listed in :data:`OPEN_ROUTES` with who may call it instead (anyone,
an observer's token, ...). A test enumerates the application's routes and fails for a route
that is in neither table, so a new route cannot be added without deciding who may use it;
later parts (voter guide, bot) add their actions and routes here.

Roles (:data:`ROLES`):

* ``admin`` — everything, in every election; manages coordinators (the first admin is
  created on the command line: ``pollwatch coordinators add NAME --role admin``);
* ``coordinator`` — works in the elections of their scopes: reads stations, reports,
  conflicts and incidents, resolves conflicts, creates invites;
* ``viewer`` — reads what a coordinator of the same scopes reads, changes nothing.

A :class:`Scope` grants one election, optionally narrowed to one country and/or one region
of the station registry. Coordinators and viewers without a scope see no election at all
(access is granted, never assumed). Why per-station scopes matter: a regional coordinator's
account, if seized, must not reveal incidents (and through them observers) elsewhere.

Levels of a :class:`Rule`:

* ``global`` — no election involved (the list of elections, filtered by scope; logout);
* ``election`` — any scope in the election suffices (pages list only the stations
  :func:`covers` allows);
* ``station`` — a scope must cover the station's place (country, region).

>>> who = Principal("coordinator", (Scope("ru-2024", country="RS"),))
>>> can(who, "conflicts.resolve", "ru-2024", Place("8101", country="RS"))
True
>>> can(who, "conflicts.resolve", "ru-2024", Place("8201", country="DE"))
False
>>> can(who, "election.settings", "ru-2024")
False
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Protocol

from pollwatch.errors import Forbidden

__all__ = [
    "OPEN_ROUTES",
    "PERMISSIONS",
    "ROLES",
    "Holder",
    "Place",
    "Principal",
    "Rule",
    "Scope",
    "can",
    "covers",
    "permission_table",
    "require",
    "whole_election",
]

ROLES: tuple[str, ...] = ("admin", "coordinator", "viewer")
"""Coordinator roles, most powerful first."""

Level = Literal["global", "election", "station"]


@dataclass(frozen=True)
class Place:
    """Where a station is, as far as scopes care: its id, country and region (or unknown)."""

    station: str
    country: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Scope:
    """One election a coordinator works in, optionally only one country and/or region of it."""

    election: str
    country: str | None = None
    region: str | None = None

    @property
    def whole(self) -> bool:
        """Whether the scope is the whole election (neither country nor region set)."""
        return self.country is None and self.region is None

    def covers(self, election: str, place: Place) -> bool:
        """Whether a station at ``place`` of ``election`` is inside this scope.

        A station whose country (or region) is unknown is inside only a scope that does not
        narrow by country (or region): an unknown place must not widen a narrow scope.
        """
        return (
            election == self.election
            and (self.country is None or place.country == self.country)
            and (self.region is None or place.region == self.region)
        )

    def to_dict(self) -> dict[str, str | None]:
        return {"election": self.election, "country": self.country, "region": self.region}


class Holder(Protocol):
    """What a permission check reads of a coordinator: the role and the scopes."""

    @property
    def role(self) -> str: ...

    @property
    def scopes(self) -> tuple[Scope, ...]: ...


@dataclass(frozen=True)
class Principal:
    """A role with its scopes (the store's ``Coordinator`` carries the same two fields)."""

    role: str
    scopes: tuple[Scope, ...] = ()


@dataclass(frozen=True)
class Rule:
    """The roles allowed to take an action and at which level their scopes are checked."""

    roles: tuple[str, ...]
    level: Level
    summary: str

    def __post_init__(self) -> None:
        if "admin" not in self.roles or not set(self.roles) <= set(ROLES):
            raise ValueError(f"a rule's roles must include admin and be among {ROLES}")


_ALL = ROLES
_WRITERS = ("admin", "coordinator")
_ADMIN = ("admin",)

PERMISSIONS: Mapping[str, Rule] = MappingProxyType(
    {
        "elections.list": Rule(_ALL, "global", "list the elections of one's scopes"),
        "session.end": Rule(_ALL, "global", "log out"),
        "dashboard.read": Rule(
            _ALL,
            "election",
            "an election's dashboard: stations, activity, incidents, conflicts, comparison, "
            "quick count, live events (stations outside a narrowed scope are left out)",
        ),
        "stations.read": Rule(_ALL, "station", "a station's master record and reports"),
        "photos.read": Rule(_ALL, "station", "the photo attached to a report"),
        "exports.read": Rule(_WRITERS, "election", "exports of an election that are not open data"),
        "conflicts.resolve": Rule(_WRITERS, "station", "resolve a station's conflicting field"),
        "incidents.publish": Rule(
            _WRITERS,
            "station",
            "mark an incident public (its category, text and coarse time in the station's "
            "public status and, after the embargo, the exports) or withdraw it",
        ),
        "invites.create": Rule(
            _WRITERS,
            "election",
            "create observers' invites (a narrowed scope: bound to its stations only)",
        ),
        "observers.revoke": Rule(
            _WRITERS,
            "election",
            "end observers' tokens (a narrowed scope: its stations' observers only)",
        ),
        # --- issue 13, network: incidents followed up, rosters, hotline, alerts -------------
        "incidents.read": Rule(
            _ALL,
            "station",
            "an incident's follow-up: status, severity, assignee, internal notes and history",
        ),
        "incidents.follow": Rule(
            _WRITERS,
            "station",
            "change an incident's status, severity or assignee, add an internal note",
        ),
        "roster.read": Rule(
            _ALL,
            "election",
            "the roster: observers' code names per station and shift, with history "
            "(a narrowed scope: its stations)",
        ),
        "roster.manage": Rule(
            _WRITERS, "station", "assign an observer (code name) to a station and shift, or move"
        ),
        "reports.hotline": Rule(
            _WRITERS,
            "station",
            "enter a report on an observer's behalf (hotline): the ledger says only "
            "'via hotline', the audit log who entered it",
        ),
        # --- end of issue 13, network -----------------------------------------------------
        "election.settings": Rule(_ADMIN, "election", "change an election's settings"),
        "coordinators.manage": Rule(
            _ADMIN,
            "global",
            "add coordinators, set roles and scopes, reset passwords, end sessions",
        ),
        # --- checklists and messages to observers (issue 13, items 1-2: web/checklists.py,
        # web/messages.py) ---
        "checklists.read": Rule(
            _ALL,
            "election",
            "an election's checklists and their results (answers per question, flagged and "
            "missing stations; only the stations of one's scope)",
        ),
        "checklists.edit": Rule(
            _WRITERS,
            "election",
            "add, change (a new version) or retire checklists (a scope of the whole election "
            "only: a checklist is the same form at every station)",
        ),
        "messages.read": Rule(
            _ALL,
            "election",
            "the messages sent to observers and their receipt counts (a narrowed scope: those "
            "addressing its part)",
        ),
        "messages.send": Rule(
            _WRITERS,
            "election",
            "send a message to observers: all, stations, countries or one code name (a "
            "narrowed scope: its own stations, countries and observers only)",
        ),
        # --- voter guide content (issue 12: guidance pages, key dates, problem reports) ---
        "guidance.write": Rule(
            _WRITERS,
            "election",
            "write the election's voter guidance (Markdown, one page per language) and its "
            "registration deadline; audited",
        ),
        "guide.problems.read": Rule(
            _ALL,
            "election",
            "read the problems voters reported with the guide's pages (stations outside a "
            "narrowed scope are left out)",
        ),
        "guide.problems.handle": Rule(
            _WRITERS,
            "election",
            "mark a voter's problem report handled (a narrowed scope: its stations' only); audited",
        ),
    }
)
"""Action → rule. Admins may do everything: every rule lists ``admin``."""

_EMBARGOED = (
    "a coordinator with exports.read until the election's embargo ends, then anyone, "
    "redacted (observe/publication.py; checked in web/observe_api.py)"
)

OPEN_ROUTES: Mapping[str, str] = MappingProxyType(
    {
        "GET /": "anyone",
        "GET /index.json": "anyone",
        "GET /healthz": "anyone",
        "GET /readyz": "anyone (names the failing check, nothing about people)",
        "GET /metrics": "an address in metrics_from, else an admin's session (web/metrics.py)",
        "GET /openapi.json": "anyone",
        "HEAD /openapi.json": "anyone",
        "MOUNT /static": "anyone",
        "MOUNT /reports": "anyone (published forensic reports)",
        "GET /coach": "anyone",
        "GET /coach.json": "anyone",
        "GET /coach/safety": "anyone",
        "GET /coach/safety.json": "anyone",
        "GET /api/v1/coach/safety": "anyone",
        "POST /api/v1/coach/ask": "anyone",
        "GET /api/v1/coach/arguments": "anyone",
        "GET /api/v1/coach/arguments/{argument_id}": "anyone",
        "POST /api/v1/coach/practice": "anyone",
        "POST /api/v1/coach/practice/reply": "anyone",
        "GET /observe": "anyone (the observer app)",
        "GET /observe/join/{code}": "anyone with an invite",
        "GET /observe/sw.js": "anyone",
        "GET /observe/manifest.webmanifest": "anyone",
        "POST /api/v1/reports": "an observer's token (own election and stations)",
        "POST /api/v1/reports/{report_id}/photo": "an observer's token (own reports)",
        "GET /api/v1/observer": "an observer's token (who it is)",
        "POST /api/v1/observer/forget": "an observer's token (revokes itself)",
        "POST /api/v1/invites/{code}/redeem": "anyone with an unused invite",
        "POST /api/v1/login": "anyone (name and password)",
        "GET /coordinate/login": "anyone",
        "POST /coordinate/login": "anyone (name and password)",
        "POST /coordinate/logout": "anyone (ends the session the cookie names)",
        "GET /api/v1/elections/{election}/public": "anyone (aggregates only)",
        "GET /press/{election}": "anyone (aggregates only)",
        "GET /api/v1/elections/{election}/export/reports.csv": _EMBARGOED,
        "GET /api/v1/elections/{election}/export/reports.parquet": _EMBARGOED,
        "GET /api/v1/elections/{election}/ledger": _EMBARGOED,
        "GET /api/v1/elections/{election}/ledger/head": (
            "anyone (the head as of the release time; live after the embargo)"
        ),
        "GET /api/v1/public/elections/{election}/stations/{station}/status": (
            "anyone (the public station status: derived, coarsened, delayed)"
        ),
        # --- checklists and messages to observers (issue 13, items 1-2) ---
        "GET /api/v1/observer/checklists": "an observer's token (own election's checklists)",
        "GET /api/v1/observer/messages": "an observer's token (the messages that reach it)",
        "POST /api/v1/observer/messages/receipts": (
            "an observer's token (counts its messages delivered and read; stores no identity)"
        ),
        # the voter guide's pages (issue 12, web/guide.py): public, cached
        "GET /guide": "anyone (elections whose guide is public)",
        "GET /guide.json": "anyone (elections whose guide is public)",
        "GET /guide/{election}": "anyone (the station finder)",
        "GET /guide/{election}.json": "anyone (the station finder)",
        "GET /guide/{election}/stations.json": "anyone (the public registry's places)",
        "GET /guide/{election}/totals": "anyone (aggregates under the publication policy)",
        "GET /guide/{election}/totals.json": "anyone (aggregates under the publication policy)",
        "GET /guide/{election}/{station}": "anyone (registry and public station status)",
        "GET /guide/{election}/{station}.json": "anyone (registry and public station status)",
        "GET /guide/{election}/{station}/feed.atom": "anyone (the public station status)",
        "GET /tiles/{z}/{x}/{y}.png": "anyone (map tiles from our own origin)",
        # --- voter guide content (issue 12: guidance pages, problem reports) ---
        "GET /guide/{election}/info": "anyone (the election's published guidance)",
        "GET /guide/{election}/info.json": "anyone (the election's published guidance)",
        "GET /guide/{election}/{station}/problem": "anyone",
        "POST /guide/{election}/{station}/problem": (
            "anyone, no account (same origin, rate-limited; nothing stored about the sender)"
        ),
        # --- the Telegram bot (issue 15; web/telegram.py) ---
        "POST /telegram/webhook": "Telegram, with the webhook's secret token",
        "POST /api/v1/observer/telegram-link": "an observer's token (a link code for itself)",
    }
)
"""``"METHOD /path"`` (or ``"MOUNT /path"``) of each route that needs no coordinator → who
may call it. Every other route names an action of :data:`PERMISSIONS`."""


def _rule(action: str) -> Rule:
    try:
        return PERMISSIONS[action]
    except KeyError:
        raise KeyError(f"no permission rule for action {action!r}") from None


def covers(who: Holder, election: str, place: Place) -> bool:
    """Whether the station at ``place`` of ``election`` is inside one of ``who``'s scopes."""
    if who.role == "admin":
        return True
    return any(scope.covers(election, place) for scope in who.scopes)


def whole_election(who: Holder, election: str) -> bool:
    """Whether ``who`` sees every station of ``election`` (admin, or a scope not narrowed)."""
    if who.role == "admin":
        return True
    return any(scope.election == election and scope.whole for scope in who.scopes)


def can(
    who: Holder | None,
    action: str,
    election: str | None = None,
    station: Place | None = None,
) -> bool:
    """Whether ``who`` may take ``action`` (on ``election``, at the ``station``'s place).

    ``None`` (nobody logged in) may do nothing. An unknown action raises ``KeyError``: a
    typo must fail loudly, not deny (or allow) quietly. An ``election``-level action needs
    the election; a ``station``-level one the station's place too (``ValueError`` without).
    """
    rule = _rule(action)
    if who is None or who.role not in rule.roles:
        return False
    if rule.level == "global" or who.role == "admin":
        return True
    if election is None:
        raise ValueError(f"the action {action!r} needs the election it applies to")
    if rule.level == "election":
        return any(scope.election == election for scope in who.scopes)
    if station is None:
        raise ValueError(f"the action {action!r} needs the station it applies to")
    return covers(who, election, station)


def require(
    who: Holder,
    action: str,
    election: str | None = None,
    station: Place | None = None,
) -> None:
    """:func:`can`, raising :class:`~pollwatch.errors.Forbidden` (HTTP 403) when not allowed."""
    if can(who, action, election, station):
        return
    rule = _rule(action)
    if who.role not in rule.roles:
        allowed = ", ".join(rule.roles)
        raise Forbidden(f"{action!r} is not allowed to the {who.role} role (only: {allowed})")
    where = f"station {station.station!r} of " if station is not None else ""
    raise Forbidden(f"{where}election {election!r} is outside your scope")


def permission_table() -> list[dict[str, str]]:
    """One row per action (action, who, scope level, what it allows), for the docs."""
    return [
        {
            "action": action,
            "roles": ", ".join(rule.roles),
            "level": rule.level,
            "summary": rule.summary,
        }
        for action, rule in PERMISSIONS.items()
    ]
