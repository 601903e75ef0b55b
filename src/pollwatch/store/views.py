"""Read models built from stored rows with the pure core: a station's full record.

The master record, turnout estimate and comparison are computed on read by
:mod:`pollwatch.observe` from the accepted reports and the coordinators' stored resolutions,
so nothing derived is ever stored (and nothing derived can go stale when a late report
arrives). :func:`station_figures` is the one place that turns a station's parsed reports into
those figures; the station page and the dashboard (:mod:`pollwatch.store.comparison`) both
call it, so they cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from pollwatch.errors import InputError, PollwatchError
from pollwatch.observe.estimates import (
    Comparison,
    DayShapes,
    Tolerance,
    TurnoutEstimate,
    compare_with_official,
    turnout_estimate,
)
from pollwatch.observe.master import MasterRecord, Resolution, merge_station_reports
from pollwatch.observe.reports import CountReport, Report, StatusReport, parse_report
from pollwatch.observe.schedule import StationSchedule, parse_schedule, resolve_schedule
from pollwatch.store.tables import elections, resolutions

__all__ = [
    "DEFAULT_TOLERANCE",
    "StationFigures",
    "election_schedule",
    "election_tolerance",
    "figures_from_master",
    "load_resolutions",
    "load_stored_report",
    "official_flat",
    "opening_hours_of",
    "opening_of",
    "parse_stored_body",
    "readable_election_schedule",
    "readable_station_schedule",
    "station_figures",
]

DEFAULT_TOLERANCE = 0.05
"""Relative turnout slack when the coordinators have not set one (``elections.tolerance``)."""

_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
"""Stored reports were validated on arrival; re-reading them must not judge clock skew again."""


def parse_stored_body(body: dict[str, Any]) -> Report:
    """A stored report body (as listed or exported) parsed back into its model."""
    payload = {
        k: v for k, v in body.items() if k not in ("received_at", "observer", "ledger", "via")
    }  # "via": the hotline's mark (pollwatch.observe.hotline), not a report field
    payload.pop("photo", None)
    return parse_report(payload, now=_FAR_FUTURE)


def load_stored_report(canonical: str) -> Report:
    """A stored report from its canonical JSON, fast for the common kinds.

    Stored reports were validated by :func:`parse_report` on arrival and their canonical JSON
    is what it produced, so count and status reports (nearly all of an election's reports)
    are rebuilt directly, several times faster than validating again; that matters when the
    dashboard merges a million reports. Other kinds go through :func:`parse_stored_body`.
    """
    body = json.loads(canonical)
    kind = body.get("kind")
    when = datetime.fromisoformat
    if kind == "count":
        return CountReport(
            id=body["id"],
            election=body["election"],
            station=body["station"],
            observed_at=when(body["observed_at"]),
            window_start=when(body["window_start"]),
            window_end=when(body["window_end"]),
            entered=body["entered"],
            ballots_issued=body.get("ballots_issued"),
            queue=body.get("queue"),
            wait_minutes=body.get("wait_minutes"),
        )
    if kind == "status":
        return StatusReport(
            id=body["id"],
            election=body["election"],
            station=body["station"],
            observed_at=when(body["observed_at"]),
            status=body["status"],
            queue=body.get("queue"),
        )
    return parse_stored_body(body)


def opening_hours_of(parsed: Sequence[Report]) -> tuple[datetime, datetime] | None:
    """When observers reported the station opened and closed (None unless both are known).

    The last resort when a station has no schedule, its own or the election's; never the
    span of the count windows (an observer who counted the morning and left would make the
    morning the whole day).
    """
    opened = [r.observed_at for r in parsed if isinstance(r, StatusReport) and r.status == "opened"]
    closed = [r.observed_at for r in parsed if isinstance(r, StatusReport) and r.status == "closed"]
    if not opened or not closed or max(closed) <= min(opened):
        return None
    return min(opened), max(closed)


def election_schedule(conn: Connection, election: str) -> StationSchedule | None:
    """The election's default schedule for stations without one (None when unset)."""
    row = conn.execute(
        select(elections.c.timezone, elections.c.schedule).where(elections.c.id == election)
    ).first()
    if row is None or row[0] is None or row[1] is None:
        return None
    return parse_schedule(str(row[1]), str(row[0]), source="election default", assumed=True)


def readable_election_schedule(conn: Connection, election: str) -> StationSchedule | None:
    """:func:`election_schedule`, or None when the stored one no longer parses (the parser's
    rules changed since it was saved): the public faces, the voter guide and a station's
    public status, then show no hours rather than fail."""
    try:
        return election_schedule(conn, election)
    except InputError:
        return None


def readable_station_schedule(
    registry: Mapping[str, Any] | None,
    default: StationSchedule | None,
    counted_on: Sequence[datetime] = (),
) -> StationSchedule | None:
    """A station's schedule (its own, its hours, the election's default), or None when a
    stored one no longer parses: the guide and the public status show no hours then."""
    registry = registry or {}
    try:
        return resolve_schedule(
            timezone=registry.get("timezone"),
            schedule=registry.get("schedule"),
            hours=registry.get("hours"),
            default=default,
            counted_on=counted_on,
        )
    except InputError:
        return None


def opening_of(
    registry: Mapping[str, Any] | None,
    default: StationSchedule | None,
    reported: tuple[datetime, datetime] | None,
    master: MasterRecord,
) -> StationSchedule | tuple[datetime, datetime] | None:
    """A station's opening hours: its schedule (:func:`resolve_schedule`), else the
    observers' opened/closed reports, else None."""
    registry = registry or {}
    schedule = resolve_schedule(
        timezone=registry.get("timezone"),
        schedule=registry.get("schedule"),
        hours=registry.get("hours"),
        default=default,
        counted_on=[w.start for w in master.windows],
    )
    return schedule if schedule is not None else reported


def load_resolutions(
    conn: Connection, election: str, station: str | None = None
) -> dict[str, tuple[Resolution, ...]]:
    """The stored resolutions of an election (or one station), per station, oldest first."""
    query = select(resolutions).where(resolutions.c.election == election)
    if station is not None:
        query = query.where(resolutions.c.station == station)
    out: dict[str, list[Resolution]] = {}
    for row in conn.execute(query.order_by(resolutions.c.at, resolutions.c.field)).mappings():
        out.setdefault(row["station"], []).append(
            Resolution(row["field"], row["value"], row["by"], row["note"] or "")
        )
    return {k: tuple(v) for k, v in out.items()}


def election_tolerance(conn: Connection, election: str) -> float:
    """The coordinators' turnout tolerance of an election (:data:`DEFAULT_TOLERANCE` unset)."""
    value = conn.execute(select(elections.c.tolerance).where(elections.c.id == election)).scalar()
    return DEFAULT_TOLERANCE if value is None else float(value)


@dataclass(frozen=True)
class StationFigures:
    """What a station's reports say: master record, turnout estimate, comparison, notes."""

    master: MasterRecord
    estimate: TurnoutEstimate | None
    comparison: Comparison | None
    notes: tuple[str, ...]


def official_flat(official: Mapping[str, Any]) -> dict[str, Any]:
    """An official figures row with the votes as columns, as :func:`compare_with_official` reads."""
    flat = {k: v for k, v in official.items() if k != "votes"}
    flat.update(official.get("votes") or {})
    return flat


def station_figures(
    parsed: Sequence[Report],
    *,
    registered: int | None,
    official: Mapping[str, Any] | None,
    resolutions_: Sequence[Resolution] = (),
    tolerance: float = DEFAULT_TOLERANCE,
    registry: Mapping[str, Any] | None = None,
    default: StationSchedule | None = None,
    shapes: DayShapes | None = None,
) -> StationFigures:
    """Merge one station's reports (resolutions applied), estimate turnout, compare.

    ``registered`` is the registry's figure (else the official one is used); ``registry``
    the station's registry row (its schedule), ``default`` the election's schedule and
    ``shapes`` the day shapes of its fully covered stations.
    """
    master = merge_station_reports(parsed, resolutions_)
    return figures_from_master(
        master,
        hours=opening_of(registry, default, opening_hours_of(parsed), master),
        registered=registered,
        official=official,
        tolerance=tolerance,
        shapes=shapes,
    )


def figures_from_master(
    master: MasterRecord,
    *,
    hours: StationSchedule | tuple[datetime, datetime] | None,
    registered: int | None,
    official: Mapping[str, Any] | None,
    tolerance: float = DEFAULT_TOLERANCE,
    shapes: DayShapes | None = None,
) -> StationFigures:
    """Turnout estimate and comparison of an already merged master record.

    ``hours`` are the station's opening hours (:func:`opening_of`); ``shapes`` the day
    shapes of the election's fully covered stations.
    """
    notes: list[str] = []
    registered = registered or (official or {}).get("registered")
    estimate = None
    if hours is None and master.windows:
        notes.append(
            "no turnout estimate: the station has no schedule (import one with the registry, "
            "or give the election a default) and no opened and closed reports"
        )
    if hours is not None and master.windows:
        try:
            estimate = turnout_estimate(
                master.windows, registered=registered, opening_hours=hours, shapes=shapes
            )
        except PollwatchError as exc:
            notes.append(f"no turnout estimate: {exc}")
    comparison = None
    if official is not None:
        comparison = compare_with_official(
            master,
            official_flat(official),
            tolerance=Tolerance(turnout_relative=tolerance),
            estimate=estimate,
        )
    return StationFigures(master, estimate, comparison, tuple(notes))
