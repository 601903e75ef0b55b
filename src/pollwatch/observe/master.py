"""The master record of one polling station: several observers' reports merged field by field.

Following NDI's Apollo (the "master checklist" per station), each field of the station's
record comes from every report that carries it:

* **protocol figures** (``registered`` … ``invalid`` and ``votes.<candidate>``): when every
  report that copied a figure agrees, the figure is taken; when two disagree the field is a
  :class:`Conflict` listing each report id and its value, and it is left out of the record
  (and so out of every estimate) until a coordinator resolves it;
* **status**: the latest status by ``observed_at`` (a station opens, is suspended, resumes,
  closes — later reports supersede earlier ones); two different statuses at the same instant
  are a conflict;
* **count windows**: the union of the observers' windows. Windows that overlap count the same
  door twice, so they cannot be added: identical windows with equal counts are one window;
  any other overlap is a conflict, resolved by choosing the report(s) to keep;
* **incidents** are not merged: every incident stays, in time order.

Resolutions (field → chosen value, by whom) are applied purely: the same reports and the same
resolutions always give the same record. A resolution for a field that is no longer in
conflict is kept in ``stale_resolutions`` rather than silently applied.

References
----------
NDI, *Apollo* data management software for election observation (master checklist and
conflict flags), https://github.com/nditech/apollo ; NDI, *The Quick Count and Election
Observation* (Estok, Nevitte & Cowan, 2002), ch. 6 on data quality.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pollwatch.errors import InputError
from pollwatch.observe.reports import (
    COUNT_LIMIT,
    FIGURE_FIELDS,
    STATUSES,
    CountReport,
    IncidentReport,
    ProtocolFigures,
    ProtocolReport,
    Report,
    StatusReport,
    format_timestamp,
)

__all__ = [
    "Conflict",
    "CountWindow",
    "MasterRecord",
    "ReportedValue",
    "Resolution",
    "merge_station_reports",
]

VOTES_PREFIX = "votes."
"""Field names of vote lines: ``votes.<candidate>``."""

WINDOW_PREFIX = "window:"
"""Field names of count-window conflicts: ``window:<start>/<end>`` (UTC)."""


@dataclass(frozen=True)
class ReportedValue:
    """What one report says about a field."""

    report_id: str
    value: Any


@dataclass(frozen=True)
class Conflict:
    """Reports that disagree about one field; left out of estimates until resolved."""

    field: str
    values: tuple[ReportedValue, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "field": self.field,
            "values": [{"report_id": v.report_id, "value": v.value} for v in self.values],
        }


@dataclass(frozen=True)
class Resolution:
    """A coordinator's decision about a conflicting field.

    ``value`` is an integer for a protocol figure, one of :data:`STATUSES` for ``status``, and
    the id (or a list of ids) of the count report(s) to keep for a ``window:…`` field. The
    coordinator may enter a figure no observer reported (e.g. read from the protocol photo).
    """

    field: str
    value: Any
    by: str
    note: str = ""


@dataclass(frozen=True)
class CountWindow:
    """One accepted count window (non-overlapping with the record's other windows)."""

    start: datetime
    end: datetime
    entered: int
    ballots_issued: int | None
    report_ids: tuple[str, ...]

    @property
    def hours(self) -> float:
        """Length in hours."""
        return (self.end - self.start).total_seconds() / 3600.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "start": format_timestamp(self.start),
            "end": format_timestamp(self.end),
            "entered": self.entered,
            "ballots_issued": self.ballots_issued,
            "report_ids": list(self.report_ids),
        }


@dataclass(frozen=True)
class MasterRecord:
    """One station's merged record.

    Attributes
    ----------
    figures:
        Protocol figures agreed by every report that has them, or resolved
        (``registered`` …, ``votes.<candidate>``); conflicting fields are absent.
    windows:
        Accepted count windows, in time order, never overlapping.
    conflicts:
        Unresolved disagreements; their fields are absent from ``figures``/``windows``.
    resolved:
        Conflicts a coordinator resolved, with the resolution applied.
    """

    election: str
    station: str
    report_ids: tuple[str, ...]
    figures: Mapping[str, int]
    status: str | None
    status_at: datetime | None
    opened_at: datetime | None
    closed_at: datetime | None
    queue: int | None
    queue_at: datetime | None
    windows: tuple[CountWindow, ...]
    incidents: tuple[IncidentReport, ...]
    conflicts: tuple[Conflict, ...]
    resolved: tuple[tuple[Conflict, Resolution], ...] = ()
    stale_resolutions: tuple[Resolution, ...] = ()

    @property
    def has_protocol(self) -> bool:
        """Whether any protocol figure is known (agreed or resolved)."""
        return bool(self.figures)

    def protocol_figures(self) -> ProtocolFigures | None:
        """The agreed figures as :class:`ProtocolFigures` (None when there are none).

        Vote lines are included only when none of them is in conflict: a partial vote table
        would bias shares.
        """
        if not self.figures:
            return None
        votes = {
            name[len(VOTES_PREFIX) :]: value
            for name, value in self.figures.items()
            if name.startswith(VOTES_PREFIX)
        }
        if any(c.field.startswith(VOTES_PREFIX) for c in self.conflicts):
            votes = {}
        counts = {name: self.figures.get(name) for name in FIGURE_FIELDS}
        return ProtocolFigures(**counts, votes=votes)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Inconsistencies of the agreed protocol figures."""
        figures = self.protocol_figures()
        return () if figures is None else figures.warnings

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data for the API and the dashboard."""

        def ts(moment: datetime | None) -> str | None:
            return None if moment is None else format_timestamp(moment)

        return {
            "election": self.election,
            "station": self.station,
            "report_ids": list(self.report_ids),
            "figures": dict(self.figures),
            "status": self.status,
            "status_at": ts(self.status_at),
            "opened_at": ts(self.opened_at),
            "closed_at": ts(self.closed_at),
            "queue": self.queue,
            "queue_at": ts(self.queue_at),
            "windows": [w.to_dict() for w in self.windows],
            "incidents": [i.to_dict() for i in self.incidents],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "resolved": [
                {**c.to_dict(), "value": r.value, "by": r.by, "note": r.note}
                for c, r in self.resolved
            ],
            "stale_resolutions": [
                {"field": r.field, "value": r.value, "by": r.by} for r in self.stale_resolutions
            ],
            "warnings": list(self.warnings),
        }


# --- merging ---------------------------------------------------------------------------------


def _protocol_fields(report: ProtocolReport) -> dict[str, int]:
    figures = report.figures
    found = {name: getattr(figures, name) for name in FIGURE_FIELDS}
    fields = {name: value for name, value in found.items() if value is not None}
    fields.update({VOTES_PREFIX + name: value for name, value in figures.votes.items()})
    return fields


def _merge_figures(
    protocols: Sequence[ProtocolReport],
) -> tuple[dict[str, int], dict[str, Conflict]]:
    reported: dict[str, list[ReportedValue]] = {}
    for report in protocols:
        for name, value in _protocol_fields(report).items():
            reported.setdefault(name, []).append(ReportedValue(report.id, value))
    agreed: dict[str, int] = {}
    conflicts: dict[str, Conflict] = {}
    for name, values in reported.items():
        if len({v.value for v in values}) == 1:
            agreed[name] = values[0].value
        else:
            conflicts[name] = Conflict(name, tuple(values))
    return agreed, conflicts


def _window_value(report: CountReport) -> dict[str, Any]:
    return {
        "window_start": format_timestamp(report.window_start),
        "window_end": format_timestamp(report.window_end),
        "entered": report.entered,
        "ballots_issued": report.ballots_issued,
    }


def _window_clusters(counts: Sequence[CountReport]) -> list[list[CountReport]]:
    """Group windows into clusters of (transitively) overlapping windows.

    Touching windows (one ends when the next starts) do not overlap. Zero-length windows
    overlap nothing but an identical window.
    """
    ordered = sorted(counts, key=lambda r: (r.window_start, r.window_end, r.id))
    clusters: list[list[CountReport]] = []
    cluster_end: datetime | None = None
    for report in ordered:
        if clusters and cluster_end is not None:
            last = clusters[-1]
            same = any(
                (r.window_start, r.window_end) == (report.window_start, report.window_end)
                for r in last
            )
            if report.window_start < cluster_end or same:
                last.append(report)
                cluster_end = max(cluster_end, report.window_end)
                continue
        clusters.append([report])
        cluster_end = report.window_end
    return clusters


def _cluster_field(cluster: Sequence[CountReport]) -> str:
    start = min(r.window_start for r in cluster)
    end = max(r.window_end for r in cluster)
    return f"{WINDOW_PREFIX}{format_timestamp(start)}/{format_timestamp(end)}"


def _window(reports: Sequence[CountReport]) -> CountWindow:
    first = reports[0]
    return CountWindow(
        start=first.window_start,
        end=first.window_end,
        entered=first.entered,
        ballots_issued=first.ballots_issued,
        report_ids=tuple(r.id for r in reports),
    )


def _merge_windows(
    counts: Sequence[CountReport],
) -> tuple[list[CountWindow], dict[str, tuple[Conflict, list[CountReport]]]]:
    windows: list[CountWindow] = []
    conflicts: dict[str, tuple[Conflict, list[CountReport]]] = {}
    for cluster in _window_clusters(counts):
        spans = {(r.window_start, r.window_end, r.entered, r.ballots_issued) for r in cluster}
        if len(spans) == 1:
            windows.append(_window(cluster))
            continue
        name = _cluster_field(cluster)
        values = tuple(ReportedValue(r.id, _window_value(r)) for r in cluster)
        conflicts[name] = (Conflict(name, values), cluster)
    return windows, conflicts


def _resolve_windows(resolution: Resolution, cluster: Sequence[CountReport]) -> list[CountWindow]:
    chosen = resolution.value
    ids = [chosen] if isinstance(chosen, str) else chosen
    if not isinstance(ids, Sequence) or not ids or not all(isinstance(i, str) for i in ids):
        raise InputError(
            f"the resolution of {resolution.field!r} must be the id (or ids) of the count "
            f"report(s) to keep; got {chosen!r}",
            column="value",
        )
    by_id = {r.id: r for r in cluster}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise InputError(
            f"{', '.join(unknown)} is not a count report of {resolution.field!r}", column="value"
        )
    kept = sorted((by_id[i] for i in dict.fromkeys(ids)), key=lambda r: r.window_start)
    for a, b in itertools.pairwise(kept):
        if b.window_start < a.window_end:
            raise InputError(
                f"the chosen count reports {a.id} and {b.id} overlap; keep only one of them",
                column="value",
            )
    return [_window([r]) for r in kept]


def _latest_status(
    statuses: Sequence[StatusReport],
) -> tuple[StatusReport | None, Conflict | None]:
    if not statuses:
        return None, None
    latest_at = max(r.observed_at for r in statuses)
    latest = [r for r in statuses if r.observed_at == latest_at]
    if len({r.status for r in latest}) > 1:
        values = tuple(ReportedValue(r.id, r.status) for r in sorted(latest, key=lambda r: r.id))
        return None, Conflict("status", values)
    return min(latest, key=lambda r: r.id), None


def _check_figure(resolution: Resolution) -> int:
    value = resolution.value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= COUNT_LIMIT:
        raise InputError(
            f"the resolution of {resolution.field!r} must be an integer from 0 to "
            f"{COUNT_LIMIT}; got {value!r}",
            column="value",
        )
    return value


def merge_station_reports(
    reports: Sequence[Report], resolutions: Sequence[Resolution] = ()
) -> MasterRecord:
    """Merge one station's reports (of any kinds) into its master record.

    Parameters
    ----------
    reports:
        Accepted reports of one election and one station, in any order (at least one).
    resolutions:
        Coordinators' decisions on conflicting fields; when several name the same field, the
        last one wins (the audit log keeps them all).

    Returns
    -------
    MasterRecord
        Agreed and resolved figures, the latest status, the accepted count windows, the
        incidents, the open conflicts and the applied resolutions.

    Raises
    ------
    InputError
        If the reports belong to different stations or elections, or a resolution's value does
        not fit its field.
    """
    if not reports:
        raise InputError("a master record needs at least one report", column="reports")
    election, station = reports[0].election, reports[0].station
    for report in reports:
        if (report.election, report.station) != (election, station):
            raise InputError(
                f"report {report.id} is for {report.election}/{report.station}, "
                f"not {election}/{station}",
                column="station",
            )
    ordered = sorted(reports, key=lambda r: (r.observed_at, r.id))
    protocols = [r for r in ordered if isinstance(r, ProtocolReport)]
    counts = [r for r in ordered if isinstance(r, CountReport)]
    statuses = [r for r in ordered if isinstance(r, StatusReport)]

    figures, figure_conflicts = _merge_figures(protocols)
    windows, window_conflicts = _merge_windows(counts)
    status_report, status_conflict = _latest_status(statuses)

    latest: dict[str, Resolution] = {r.field: r for r in resolutions}
    resolved: list[tuple[Conflict, Resolution]] = []
    stale: list[Resolution] = []
    status = status_report.status if status_report else None
    status_at = status_report.observed_at if status_report else None
    for name, resolution in latest.items():
        if name in figure_conflicts:
            figures[name] = _check_figure(resolution)
            resolved.append((figure_conflicts.pop(name), resolution))
        elif name in window_conflicts:
            conflict, cluster = window_conflicts.pop(name)
            windows.extend(_resolve_windows(resolution, cluster))
            resolved.append((conflict, resolution))
        elif name == "status" and status_conflict is not None:
            if resolution.value not in STATUSES:
                raise InputError(
                    f"the resolution of 'status' must be one of {', '.join(STATUSES)}; "
                    f"got {resolution.value!r}",
                    column="value",
                )
            status = resolution.value
            status_at = max(r.observed_at for r in statuses)
            resolved.append((status_conflict, resolution))
            status_conflict = None
        else:
            stale.append(resolution)

    conflicts = [*figure_conflicts.values(), *(c for c, _ in window_conflicts.values())]
    if status_conflict is not None:
        conflicts.append(status_conflict)

    opened = [r.observed_at for r in statuses if r.status == "opened"]
    closed = [r.observed_at for r in statuses if r.status == "closed"]
    queued = [
        r for r in ordered if isinstance(r, CountReport | StatusReport) and r.queue is not None
    ]
    queue_report = queued[-1] if queued else None
    return MasterRecord(
        election=election,
        station=station,
        report_ids=tuple(r.id for r in ordered),
        figures=MappingProxyType(dict(sorted(figures.items()))),
        status=status,
        status_at=status_at,
        opened_at=min(opened) if opened else None,
        closed_at=max(closed) if closed else None,
        queue=queue_report.queue if queue_report else None,
        queue_at=queue_report.observed_at if queue_report else None,
        windows=tuple(sorted(windows, key=lambda w: (w.start, w.end))),
        incidents=tuple(r for r in ordered if isinstance(r, IncidentReport)),
        conflicts=tuple(sorted(conflicts, key=lambda c: c.field)),
        resolved=tuple(resolved),
        stale_resolutions=tuple(stale),
    )
