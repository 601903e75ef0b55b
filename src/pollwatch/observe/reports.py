"""Observer reports: the five kinds, strict validation of the HTTP body, canonical JSON.

An observer's phone sends one JSON object per report (see ``docs/observe.md``)::

    {"id": "<client UUID>", "election": "ru-2024", "station": "8001", "kind": "count",
     "observed_at": "2024-03-17T09:00:00+03:00",
     "window_start": "2024-03-17T08:00:00+03:00", "window_end": "2024-03-17T09:00:00+03:00",
     "entered": 112, "queue": 30}

:func:`parse_report` is the only door into the system: it validates everything once, at
the boundary (scikit-learn's rule), and returns a frozen report object; every error is a
:class:`pollwatch.errors.InputError` whose ``column`` is the field path (``"figures.votes"``),
so that the web layer can name the field and never answer 500. Unknown fields are rejected
rather than dropped: a client that misspells ``enterd`` must hear about it, not lose data.

:func:`canonical_json` gives one string per report (sorted keys, no whitespace, timestamps in
UTC with ``Z``, absent optional fields left out). Equal reports give equal strings, so the
string is what idempotent retries are compared by and what the ledger hashes (RFC 8785's
idea of a canonical form, restricted to the value types reports use).

Why the limits
--------------
* ``observed_at`` must carry a timezone: a naive local time from a phone abroad is ambiguous
  by up to a day. Phones' clocks are often wrong, so up to one day in the future is accepted
  (clock skew); more than that is a broken clock or a forged report and is rejected.
* Count windows are at most 24 hours long (one polling day) and must not end before they
  start. Counts are integers from 0 to 1,000,000 (no polling station is bigger); JSON
  ``true`` is not the integer 1 and ``3.0`` is not the integer 3.
* Protocol figures that are impossible (negative, not integers) are errors; figures that
  are merely inconsistent (more valid plus invalid ballots than issued, votes not adding up
  to the valid ballots) are accepted, because that is exactly what observers must be able to
  record when a commission writes a falsified protocol, and are listed in ``warnings``.
* Strings must be valid UTF-8 without NUL characters (PostgreSQL refuses NUL in text, and a
  lone surrogate cannot be hashed), so a hostile body can never reach the database as
  something the database rejects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from pollwatch.errors import InputError
from pollwatch.observe.checklists import (
    MAX_QUESTIONS,
    Answer,
    check_answer_value,
    check_checklist_id,
)
from pollwatch.observe.ids import ID_LIMIT, ID_PATTERN, check_election_id, check_station_id
from pollwatch.results.schema import COUNT_FIELDS

__all__ = [
    "CANDIDATE_NAME_LIMIT",
    "CHECKLIST_VERSION_LIMIT",
    "COMMON_FIELDS",
    "COUNT_LIMIT",
    "FIGURE_FIELDS",
    "ID_LIMIT",
    "ID_PATTERN",
    "INCIDENT_CATEGORIES",
    "KIND_FIELDS",
    "MAX_CANDIDATES",
    "MAX_CLOCK_SKEW",
    "MAX_WINDOW",
    "REPORT_KINDS",
    "REQUIRED_FIELDS",
    "STATUSES",
    "TEXT_LIMIT",
    "UUID_PATTERN",
    "WAIT_LIMIT",
    "ChecklistReport",
    "CountReport",
    "IncidentReport",
    "ProtocolFigures",
    "ProtocolReport",
    "Report",
    "StatusReport",
    "canonical_json",
    "format_timestamp",
    "parse_report",
]

REPORT_KINDS: tuple[str, ...] = ("count", "incident", "protocol", "status", "checklist")
"""The report kinds an observer can send."""

INCIDENT_CATEGORIES: tuple[str, ...] = (
    "ballot_shortage",
    "pressure",
    "violence",
    "observer_obstruction",
    "procedural_violation",
    "other",
)
"""Incident categories: ballot shortage, pressure or intimidation, violence, obstruction of
observers, procedural violation, other."""

STATUSES: tuple[str, ...] = ("opened", "closed", "suspended", "resumed")
"""Station statuses an observer can report."""

FIGURE_FIELDS: tuple[str, ...] = COUNT_FIELDS
"""Protocol counts, in protocol order: the official-results schema's own fields, so that a
protocol copy and the published result are compared line by line."""

COUNT_LIMIT = 1_000_000
"""Largest count accepted anywhere in a report; no polling station has more voters."""

WAIT_LIMIT = 24 * 60
"""Longest wait an observer can estimate, in minutes: one polling day."""

TEXT_LIMIT = 4_000
"""Longest incident text, in characters."""

MAX_CANDIDATES = 200
"""Most vote lines in one protocol (ballots with a few dozen parties exist; 200 is ample)."""

CANDIDATE_NAME_LIMIT = 200
"""Longest candidate or party name."""

MAX_CLOCK_SKEW = timedelta(days=1)
"""How far in the future a timestamp may lie (phones' clocks are often wrong)."""

MAX_WINDOW = timedelta(hours=24)
"""Longest count window: one polling day."""

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""Timestamps before this are a broken clock (and far-past dates overflow UTC conversion)."""

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
"""A report id: a UUID in its 8-4-4-4-12 hex form (match it in full)."""

_UUID = re.compile(UUID_PATTERN)

COMMON_FIELDS: tuple[str, ...] = ("id", "election", "station", "kind", "observed_at")
"""Fields of every report, all required."""

KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "count": ("window_start", "window_end", "entered", "ballots_issued", "queue", "wait_minutes"),
    "incident": ("category", "text"),
    "protocol": ("figures",),
    "status": ("status", "queue"),
    "checklist": ("checklist", "version", "answers"),
}
"""Each kind's own fields; no other field is accepted."""

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "count": ("window_start", "window_end", "entered"),
    "incident": ("category",),
    "protocol": ("figures",),
    "status": ("status",),
    "checklist": ("checklist", "version", "answers"),
}
"""The kind's fields that must be present (the others may be absent or ``null``)."""

Kind: TypeAlias = Literal["count", "incident", "protocol", "status", "checklist"]

CHECKLIST_VERSION_LIMIT = 1_000_000
"""Largest checklist version a report may name (versions count edits from 1)."""


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with ``Z``; microseconds only when present (so it is deterministic)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class _Header:
    """Fields every report has. ``observed_at`` is kept in UTC."""

    id: str
    election: str
    station: str
    observed_at: datetime

    def _header_dict(self, kind: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "election": self.election,
            "station": self.station,
            "kind": kind,
            "observed_at": format_timestamp(self.observed_at),
        }


@dataclass(frozen=True)
class CountReport(_Header):
    """People who entered (and ballots issued) at a station during a time window.

    ``queue`` is the number of people waiting when the window ended and ``wait_minutes`` the
    observer's estimate of the wait; both optional.
    """

    window_start: datetime
    window_end: datetime
    entered: int
    ballots_issued: int | None = None
    queue: int | None = None
    wait_minutes: int | None = None
    kind: Literal["count"] = field(default="count", init=False)

    @property
    def window_hours(self) -> float:
        """Length of the window in hours."""
        return (self.window_end - self.window_start).total_seconds() / 3600.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data in the shape of the HTTP body; absent optional fields left out."""
        data = self._header_dict(self.kind)
        data["window_start"] = format_timestamp(self.window_start)
        data["window_end"] = format_timestamp(self.window_end)
        data["entered"] = self.entered
        for name in ("ballots_issued", "queue", "wait_minutes"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@dataclass(frozen=True)
class IncidentReport(_Header):
    """An incident: one of :data:`INCIDENT_CATEGORIES` and the observer's free text."""

    category: str
    text: str = ""
    kind: Literal["incident"] = field(default="incident", init=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data in the shape of the HTTP body."""
        data = self._header_dict(self.kind)
        data["category"] = self.category
        data["text"] = self.text
        return data


@dataclass(frozen=True)
class ProtocolFigures:
    """The figures of a station's final protocol as an observer copied them.

    Every figure is optional (``None``: not copied), because a protocol photo may be partly
    unreadable and some countries' protocols lack lines; at least one figure or vote line is
    present. ``votes`` maps a candidate (or party) to its votes and is read-only.
    """

    registered: int | None = None
    ballots_received: int | None = None
    issued_early: int | None = None
    issued_premises: int | None = None
    issued_outside: int | None = None
    valid: int | None = None
    invalid: int | None = None
    votes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "votes", MappingProxyType(dict(sorted(self.votes.items()))))

    def __hash__(self) -> int:
        return hash((*(getattr(self, f) for f in FIGURE_FIELDS), tuple(self.votes.items())))

    @property
    def issued_total(self) -> int | None:
        """Ballots issued (early + in the premises + outside), if all three were copied."""
        parts = (self.issued_early, self.issued_premises, self.issued_outside)
        if any(p is None for p in parts):
            return None
        return sum(p for p in parts if p is not None)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Inconsistencies that an honest protocol would not have (accepted, but flagged).

        Checks the arithmetic a commission's protocol must satisfy: valid + invalid ballots
        found ≤ ballots issued ≤ ballots received; ballots issued ≤ registered voters; the
        vote lines add up to the valid ballots. Figures not copied are not checked.
        """
        found: list[str] = []
        issued = self.issued_total
        if issued is not None and self.valid is not None and self.invalid is not None:
            cast = self.valid + self.invalid
            if cast > issued:
                found.append(f"valid + invalid ({cast}) is more than ballots issued ({issued})")
        received = self.ballots_received
        if issued is not None and received is not None and issued > received:
            found.append(f"ballots issued ({issued}) is more than ballots received ({received})")
        if issued is not None and self.registered is not None and issued > self.registered:
            found.append(f"ballots issued ({issued}) is more than registered ({self.registered})")
        if self.votes and self.valid is not None:
            total = sum(self.votes.values())
            if total != self.valid:
                found.append(f"the votes add up to {total}, not to valid ballots ({self.valid})")
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; figures not copied are left out."""
        data: dict[str, Any] = {
            name: getattr(self, name) for name in FIGURE_FIELDS if getattr(self, name) is not None
        }
        data["votes"] = dict(self.votes)
        return data


@dataclass(frozen=True)
class ProtocolReport(_Header):
    """A copy of the station's final protocol."""

    figures: ProtocolFigures
    kind: Literal["protocol"] = field(default="protocol", init=False)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The figures' inconsistencies (see :attr:`ProtocolFigures.warnings`)."""
        return self.figures.warnings

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data in the shape of the HTTP body."""
        data = self._header_dict(self.kind)
        data["figures"] = self.figures.to_dict()
        return data


@dataclass(frozen=True)
class StatusReport(_Header):
    """The station opened, closed, was suspended or resumed; optional queue at that moment."""

    status: str
    queue: int | None = None
    kind: Literal["status"] = field(default="status", init=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data in the shape of the HTTP body."""
        data = self._header_dict(self.kind)
        data["status"] = self.status
        if self.queue is not None:
            data["queue"] = self.queue
        return data


@dataclass(frozen=True)
class ChecklistReport(_Header):
    """Answers to one version of one of the election's checklists (:mod:`pollwatch.observe.
    checklists`). Here only their shape is checked (ids, value types and sizes); whether they
    fit the checklist version is checked where the definitions are, when storing
    (:func:`pollwatch.observe.checklists.check_answers`). ``answers`` is read-only."""

    checklist: str
    version: int
    answers: Mapping[str, Answer]
    kind: Literal["checklist"] = field(default="checklist", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "answers", MappingProxyType(dict(sorted(self.answers.items()))))

    def __hash__(self) -> int:
        return hash((self.id, self.checklist, self.version, tuple(self.answers.items())))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data in the shape of the HTTP body."""
        data = self._header_dict(self.kind)
        data["checklist"] = self.checklist
        data["version"] = self.version
        data["answers"] = dict(self.answers)
        return data


Report: TypeAlias = CountReport | IncidentReport | ProtocolReport | StatusReport | ChecklistReport
"""Any report."""


def canonical_json(report: Report) -> str:
    """The report as deterministic JSON: sorted keys, no whitespace, UTC ``Z`` timestamps.

    Two payloads that :func:`parse_report` turns into equal reports give the same string
    (whatever their key order, timezone offsets, or explicit ``null`` for absent optional
    fields), so the string decides idempotent retries and is what the ledger hashes.
    Non-ASCII characters are kept as UTF-8 (hash the UTF-8 bytes).

    Examples
    --------
    >>> r = parse_report({"id": "00000000-0000-4000-8000-000000000001", "election": "e",
    ...     "station": "1", "kind": "status", "observed_at": "2024-03-17T08:00:00+03:00",
    ...     "status": "opened"}, now=datetime(2024, 3, 17, tzinfo=UTC))
    >>> canonical_json(r)[-85:]
    '"kind":"status","observed_at":"2024-03-17T05:00:00Z","station":"1","status":"opened"}'
    """
    return json.dumps(report.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- validation -----------------------------------------------------------------------------


def _fail(path: str, message: str) -> InputError:
    return InputError(message, column=path)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"'{path}' must be a string; got {_describe(value)} instead")
    if "\x00" in value:
        raise _fail(path, f"'{path}' must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(path, f"'{path}' is not valid Unicode (lone surrogate)") from None
    return value


def _uuid(value: Any, path: str) -> str:
    text = _string(value, path)
    if not _UUID.fullmatch(text):
        raise _fail(
            path,
            f"'{path}' must be a UUID like 123e4567-e89b-42d3-a456-426614174000; "
            f"got {_describe(value)} instead",
        )
    return text.lower()


def _count(value: Any, path: str, limit: int = COUNT_LIMIT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"'{path}' must be an integer; got {_describe(value)} instead")
    if value < 0 or value > limit:
        raise _fail(path, f"'{path}' must be between 0 and {limit}; got {value} instead")
    return value


def _optional_count(value: Any, path: str, limit: int = COUNT_LIMIT) -> int | None:
    return None if value is None else _count(value, path, limit)


def _timestamp(value: Any, path: str, now: datetime) -> datetime:
    text = _string(value, path)
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        moment = None
    if moment is None:
        raise _fail(
            path,
            f"'{path}' must be an ISO-8601 date and time like 2024-03-17T08:00:00+03:00; "
            f"got {_describe(value)} instead",
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _fail(
            path,
            f"'{path}' must include a timezone (e.g. +03:00 or Z); got {_describe(value)}",
        )
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or moment < EARLIEST:
        raise _fail(path, f"'{path}' is before {EARLIEST.year}; the device clock must be wrong")
    if moment > now + MAX_CLOCK_SKEW:
        raise _fail(
            path,
            f"'{path}' is more than a day in the future ({format_timestamp(moment)}); "
            "check the device clock",
        )
    return moment


def _choice(value: Any, path: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _fail(
            path, f"'{path}' must be one of {', '.join(choices)}; got {_describe(value)} instead"
        )
    return value


def _check_fields(payload: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in payload:
        if key not in allowed:
            path = f"{prefix}{key}" if isinstance(key, str) else prefix.rstrip(".") or "body"
            raise _fail(
                path,
                f"unknown field {_describe(key)}; allowed fields are {', '.join(allowed)}",
            )


def _required(payload: Mapping[str, Any], name: str, path: str | None = None) -> Any:
    if name not in payload:
        raise _fail(path or name, f"'{path or name}' is required")
    return payload[name]


def _figures(value: Any) -> ProtocolFigures:
    if not isinstance(value, Mapping):
        raise _fail("figures", f"'figures' must be an object; got {_describe(value)} instead")
    _check_fields(value, (*FIGURE_FIELDS, "votes"), "figures.")
    counts = {name: _optional_count(value.get(name), f"figures.{name}") for name in FIGURE_FIELDS}
    raw_votes = value.get("votes")
    votes: dict[str, int] = {}
    if raw_votes is not None:
        if not isinstance(raw_votes, Mapping):
            raise _fail(
                "figures.votes",
                f"'figures.votes' must be an object {{candidate: votes}}; "
                f"got {_describe(raw_votes)} instead",
            )
        if len(raw_votes) > MAX_CANDIDATES:
            raise _fail("figures.votes", f"'figures.votes' has more than {MAX_CANDIDATES} lines")
        for name, count in raw_votes.items():
            label = _string(name, "figures.votes")
            if not label.strip() or len(label) > CANDIDATE_NAME_LIMIT:
                raise _fail(
                    "figures.votes",
                    f"candidate names must be 1 to {CANDIDATE_NAME_LIMIT} characters; "
                    f"got {_describe(name)}",
                )
            votes[label] = _count(count, f"figures.votes.{label}")
    if not votes and all(v is None for v in counts.values()):
        raise _fail("figures", "'figures' must contain at least one figure or vote line")
    return ProtocolFigures(**counts, votes=votes)


def _answers(value: Any) -> dict[str, Answer]:
    if not isinstance(value, Mapping):
        raise _fail("answers", f"'answers' must be an object; got {_describe(value)} instead")
    if len(value) > MAX_QUESTIONS:
        raise _fail("answers", f"'answers' has more than {MAX_QUESTIONS} answers")
    out: dict[str, Answer] = {}
    for key, raw in value.items():
        check_checklist_id(key, "answers")
        answer = check_answer_value(raw, f"answers.{key}")
        if answer is not None:
            out[key] = answer
    return out


def parse_report(payload: Mapping[str, Any], *, now: datetime | None = None) -> Report:
    """Validate a report body and return the frozen report.

    Parameters
    ----------
    payload:
        The decoded JSON body: ``id`` (client-generated UUID), ``election``, ``station``,
        ``kind`` (one of :data:`REPORT_KINDS`), ``observed_at`` (ISO-8601 with a timezone)
        and the kind's fields (see the module docstring and ``docs/observe.md``). Explicit
        ``null`` for an optional field means absent.
    now:
        The server's current time (timezone-aware), against which future timestamps are
        judged; defaults to the system clock. Pass it explicitly to keep the call pure.

    Returns
    -------
    Report
        A :class:`CountReport`, :class:`IncidentReport`, :class:`ProtocolReport`,
        :class:`StatusReport` or :class:`ChecklistReport`; the id is lower-cased and
        timestamps are in UTC.

    Raises
    ------
    InputError
        For anything else, with ``column`` set to the offending field path (e.g.
        ``"figures.votes"``). Nothing else is raised, whatever the payload.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise InputError("'now' must be timezone-aware", column="now")
    if not isinstance(payload, Mapping):
        raise _fail("body", f"a report must be a JSON object; got {_describe(payload)} instead")
    kind = _choice(_required(payload, "kind"), "kind", REPORT_KINDS)
    _check_fields(payload, (*COMMON_FIELDS, *KIND_FIELDS[kind]), "")
    for name in (*COMMON_FIELDS, *REQUIRED_FIELDS[kind]):
        _required(payload, name)
    header: dict[str, Any] = {
        "id": _uuid(_required(payload, "id"), "id"),
        "election": check_election_id(_required(payload, "election")),
        "station": check_station_id(_required(payload, "station")),
        "observed_at": _timestamp(_required(payload, "observed_at"), "observed_at", now),
    }
    if kind == "count":
        start = _timestamp(_required(payload, "window_start"), "window_start", now)
        end = _timestamp(_required(payload, "window_end"), "window_end", now)
        if end < start:
            raise _fail("window_end", "'window_end' must not be before 'window_start'")
        if end - start > MAX_WINDOW:
            raise _fail("window_end", "a count window must not be longer than 24 hours")
        return CountReport(
            **header,
            window_start=start,
            window_end=end,
            entered=_count(_required(payload, "entered"), "entered"),
            ballots_issued=_optional_count(payload.get("ballots_issued"), "ballots_issued"),
            queue=_optional_count(payload.get("queue"), "queue"),
            wait_minutes=_optional_count(payload.get("wait_minutes"), "wait_minutes", WAIT_LIMIT),
        )
    if kind == "incident":
        text = payload.get("text")
        text = "" if text is None else _string(text, "text")
        if len(text) > TEXT_LIMIT:
            raise _fail("text", f"'text' must be at most {TEXT_LIMIT} characters")
        category = _choice(_required(payload, "category"), "category", INCIDENT_CATEGORIES)
        return IncidentReport(**header, category=category, text=text)
    if kind == "protocol":
        return ProtocolReport(**header, figures=_figures(_required(payload, "figures")))
    if kind == "checklist":
        return ChecklistReport(
            **header,
            checklist=check_checklist_id(_required(payload, "checklist"), "checklist"),
            version=_count(_required(payload, "version"), "version", CHECKLIST_VERSION_LIMIT),
            answers=_answers(_required(payload, "answers")),
        )
    return StatusReport(
        **header,
        status=_choice(_required(payload, "status"), "status", STATUSES),
        queue=_optional_count(payload.get("queue"), "queue"),
    )
