"""The report flows as data: a draft, its steps, and each value checked as it is entered.

A draft is a plain JSON-able dict kept in the conversation's state: the report's kind, its
UUID and ``observed_at`` (both fixed when the flow starts, so a double tap, a resent update
or a retry sends the *same* report and the store answers it as a retry, never a second
report), the station, and the fields entered so far. After every value the draft is turned
into the report body and checked with :func:`pollwatch.store.reports.prepare_report`, the
web API's own check, so a value the API would refuse is refused at its step with the
library's reason, and nothing is stored until the observer confirms the summary. No rule of
what a report may contain lives here: only how a typed line becomes a number.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pollwatch.bot.i18n import Translate
from pollwatch.errors import InputError
from pollwatch.observe.reports import (
    FIGURE_FIELDS,
    INCIDENT_CATEGORIES,
    REPORT_KINDS,
    STATUSES,
    ProtocolReport,
    format_timestamp,
)
from pollwatch.store.people import Observer
from pollwatch.store.reports import PreparedReport, prepare_report
from pollwatch.web.labels import CATEGORY_LABELS, STATUS_LABELS

__all__ = [
    "FIELD_LABELS",
    "KIND_LABELS",
    "OPTIONAL_STEPS",
    "WINDOWS",
    "apply_value",
    "current_step",
    "new_draft",
    "parse_whole_number",
    "prepared",
    "prompt",
    "report_body",
    "skip_step",
    "steps",
    "summary",
]

WINDOWS: tuple[int, ...] = (15, 30, 60, 120)
"""Count windows offered as buttons, in minutes, ending when the flow started."""

KIND_LABELS: Mapping[str, str] = {
    "count": "Count window",
    "incident": "Incident",
    "protocol": "Protocol copy",
    "status": "Station status",
}

FIELD_LABELS: Mapping[str, str] = {
    "window": "Count window",
    "entered": "People who entered",
    "ballots_issued": "Ballots issued",
    "queue": "People waiting in the queue",
    "wait_minutes": "Estimated wait (minutes)",
    "category": "Category",
    "text": "Description",
    "photo": "Photo",
    "status": "Status",
    "registered": "Registered voters",
    "ballots_received": "Ballots received by the commission",
    "issued_early": "Ballots issued early",
    "issued_premises": "Ballots issued in the premises",
    "issued_outside": "Ballots issued outside the premises",
    "valid": "Valid ballots",
    "invalid": "Invalid ballots",
}

assert tuple(CATEGORY_LABELS) == INCIDENT_CATEGORIES and tuple(STATUS_LABELS) == STATUSES

OPTIONAL_STEPS = frozenset(
    {"ballots_issued", "queue", "wait_minutes", "text", "photo", *FIGURE_FIELDS}
)
"""Steps with a Skip button; a skipped protocol line is "not copied". Vote lines too."""

_BASE_STEPS: Mapping[str, tuple[str, ...]] = {
    "count": ("window", "entered", "ballots_issued", "queue", "wait_minutes"),
    "incident": ("category", "text", "photo"),
    "protocol": FIGURE_FIELDS,
    "status": ("status", "queue"),
}

_NUMBER = re.compile(r"[+-]?\d{1,12}")


def new_draft(
    kind: str,
    observer: Observer,
    station: str,
    now: datetime,
    *,
    candidates: Sequence[str] = (),
) -> dict[str, Any]:
    """A new draft: the report's UUID and time are fixed here, once."""
    if kind not in REPORT_KINDS:
        raise InputError(f"unknown report kind {kind[:20]!r}", column="kind")
    return {
        "kind": kind,
        "id": str(uuid.uuid4()),
        "election": observer.election,
        "station": station,
        "observed_at": format_timestamp(now),
        "candidates": list(candidates) if kind == "protocol" else [],
        "fields": {},
        "step": 0,
    }


def steps(draft: Mapping[str, Any]) -> list[str]:
    """The draft's steps in order (a protocol's vote lines follow its figures)."""
    base = list(_BASE_STEPS[draft["kind"]])
    return base + [f"votes:{i}" for i in range(len(draft.get("candidates") or ()))]


def current_step(draft: Mapping[str, Any]) -> str | None:
    """The step waiting for a value, or None when the summary is next."""
    names = steps(draft)
    index = int(draft["step"])
    return names[index] if index < len(names) else None


def parse_whole_number(text: str, step: str) -> int:
    """A typed figure: digits (spaces between thousands allowed); the range is the report's."""
    cleaned = re.sub(r"[\s\u00a0\u202f'’.,_]", "", text or "")
    if not _NUMBER.fullmatch(cleaned):
        raise InputError("send a whole number, e.g. 112", column=step)
    return int(cleaned)


def report_body(draft: Mapping[str, Any]) -> dict[str, Any]:
    """The report body the web API would receive for this draft."""
    fields: Mapping[str, Any] = draft["fields"]
    body: dict[str, Any] = {
        "id": draft["id"],
        "election": draft["election"],
        "station": draft["station"],
        "kind": draft["kind"],
        "observed_at": draft["observed_at"],
    }
    kind = draft["kind"]
    if kind == "count":
        end = datetime.fromisoformat(str(draft["observed_at"]).replace("Z", "+00:00"))
        if "window" in fields:
            body["window_start"] = format_timestamp(end - timedelta(minutes=int(fields["window"])))
            body["window_end"] = format_timestamp(end)
        for name in ("entered", "ballots_issued", "queue", "wait_minutes"):
            if name in fields:
                body[name] = fields[name]
    elif kind == "incident":
        body["category"] = fields.get("category")
        body["text"] = fields.get("text", "")
    elif kind == "protocol":
        figures: dict[str, Any] = {n: fields[n] for n in FIGURE_FIELDS if n in fields}
        candidates = draft.get("candidates") or []
        votes = {
            candidates[int(k.split(":")[1])]: v for k, v in fields.items() if k.startswith("votes:")
        }
        if votes:
            figures["votes"] = votes
        body["figures"] = figures
    else:
        body["status"] = fields.get("status")
        if "queue" in fields:
            body["queue"] = fields["queue"]
    return body


def prepared(draft: Mapping[str, Any], observer: Observer, now: datetime) -> PreparedReport:
    """The draft checked as the web API checks a body (InputError / Forbidden)."""
    return prepare_report(report_body(draft), observer=observer, now=now)


def _checkable(draft: Mapping[str, Any]) -> bool:
    """Whether the body has every required field yet (then it can be checked whole)."""
    fields = draft["fields"]
    kind = draft["kind"]
    if kind == "count":
        return "window" in fields and "entered" in fields
    if kind == "protocol":
        return any(n in fields for n in FIGURE_FIELDS) or any(
            k.startswith("votes:") for k in fields
        )
    return True


def apply_value(
    draft: Mapping[str, Any], value: Any, observer: Observer, now: datetime
) -> dict[str, Any]:
    """The draft with ``value`` for its current step, checked; InputError leaves it as it was."""
    step = current_step(draft)
    if step is None:
        raise InputError("this report is complete; confirm or cancel it", column="step")
    new = {**draft, "fields": {**draft["fields"], step: value}, "step": int(draft["step"]) + 1}
    if step != "photo" and _checkable(new):
        prepared(new, observer, now)
    return new


def skip_step(draft: Mapping[str, Any]) -> dict[str, Any]:
    """The draft past an optional step (nothing recorded for it)."""
    step = current_step(draft)
    if step is None or not (step in OPTIONAL_STEPS or step.startswith("votes:")):
        raise InputError("this step cannot be skipped", column=step or "step")
    return {**draft, "step": int(draft["step"]) + 1}


def field_label(step: str, draft: Mapping[str, Any], _: Translate) -> str:
    """The human name of a step (a vote line is the candidate's name)."""
    if step.startswith("votes:"):
        candidates = draft.get("candidates") or []
        return _("Votes for {name}", name=candidates[int(step.split(":")[1])])
    return _(FIELD_LABELS.get(step, step))


def prompt(draft: Mapping[str, Any], _: Translate) -> str:
    """What to ask for the current step."""
    step = current_step(draft)
    if step is None:
        return ""
    if step == "window":
        return _("How long was the count window? It ends now.")
    if step == "category":
        return _("What kind of incident?")
    if step == "status":
        return _("What happened at the station?")
    if step == "text":
        return _("Describe what happened (up to 4,000 characters), or tap Skip.")
    if step == "photo":
        return _("Send one photo (its location and other metadata are removed), or tap Skip.")
    label = field_label(step, draft, _)
    if step == "entered":
        return _("{label}: send a whole number.", label=label)
    if step in FIGURE_FIELDS or step.startswith("votes:"):
        return _(
            "{label}: send the figure as written, or tap Skip if you could not copy it.",
            label=label,
        )
    return _("{label}: send a whole number, or tap Skip.", label=label)


def _shown(step: str, value: Any, _: Translate) -> str:
    if step == "window":
        return _("{minutes} minutes", minutes=value)
    if step == "category":
        return _(CATEGORY_LABELS.get(str(value), str(value)))
    if step == "status":
        return _(STATUS_LABELS.get(str(value), str(value)))
    if step == "photo":
        return _("attached")
    return str(value)


def summary(draft: Mapping[str, Any], observer: Observer, now: datetime, _: Translate) -> str:
    """Every value entered, echoed for confirmation, with the protocol's arithmetic checks."""
    lines = [
        _(
            "{kind} at station {station}",
            kind=_(KIND_LABELS[draft["kind"]]),
            station=draft["station"],
        ),
        "",
    ]
    fields = draft["fields"]
    for step in steps(draft):
        label = field_label(step, draft, _)
        if step in fields:
            lines.append(f"{label}: {_shown(step, fields[step], _)}")
        else:
            lines.append(f"{label}: —")
    report = prepared(draft, observer, now).report
    if isinstance(report, ProtocolReport) and report.warnings:
        lines += ["", _("The protocol's arithmetic does not add up:")]
        lines += [f"⚠ {w}" for w in report.warnings]
        lines.append(
            _("If you copied it correctly, send it as it is: that is what observers record.")
        )
    lines += ["", _("Send this report?")]
    return "\n".join(lines)
