"""Read models built from stored rows with the pure core: a station's full record.

The master record, turnout estimate and comparison are computed on read by
:mod:`pollwatch.observe` from the accepted reports, so nothing derived is ever stored (and
nothing derived can go stale when a late report arrives).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from pollwatch.errors import NotFoundError, PollwatchError
from pollwatch.observe.reports import Report, parse_report
from pollwatch.store.elections import official_row
from pollwatch.store.reports import list_reports
from pollwatch.store.tables import stations

__all__ = ["parse_stored_body", "station_record"]

_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
"""Stored reports were validated on arrival; re-reading them must not judge clock skew again."""


def parse_stored_body(body: dict[str, Any]) -> Report:
    """A stored report body (as listed or exported) parsed back into its model."""
    payload = {k: v for k, v in body.items() if k not in ("received_at", "observer", "ledger")}
    payload.pop("photo", None)
    return parse_report(payload, now=_FAR_FUTURE)


def _opening_hours(parsed: list[Report]) -> tuple[datetime, datetime] | None:
    """Opened/closed status reports, else the span of the count windows."""
    from pollwatch.observe.reports import CountReport, StatusReport

    opened = [r.observed_at for r in parsed if isinstance(r, StatusReport) and r.status == "opened"]
    closed = [r.observed_at for r in parsed if isinstance(r, StatusReport) and r.status == "closed"]
    counts = [r for r in parsed if isinstance(r, CountReport)]
    start = min(opened) if opened else min((c.window_start for c in counts), default=None)
    end = max(closed) if closed else max((c.window_end for c in counts), default=None)
    if start is None or end is None or end <= start:
        return None
    return start, end


def station_record(
    engine: Engine, election: str, station: str, *, tolerance: float = 0.05
) -> dict[str, Any]:
    """Registry row, reports, master record, turnout estimate and comparison of one station."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(stations).where(
                    stations.c.election == election, stations.c.station == station
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFoundError(f"no station {station!r} in election {election!r}")
    registry = {k: v for k, v in row.items() if k != "election"}
    stored = list_reports(engine, election, station=station)
    official = official_row(engine, election, station)
    record: dict[str, Any] = {
        "election": election,
        "station": registry,
        "reports": stored,
        "official": official,
        "master": None,
        "estimate": None,
        "comparison": None,
        "notes": [],
    }
    if not stored:
        return record
    from pollwatch.observe.estimates import Tolerance, compare_with_official, turnout_estimate
    from pollwatch.observe.master import merge_station_reports

    parsed = [parse_stored_body(r) for r in stored]
    master = merge_station_reports(parsed)
    record["master"] = master.to_dict()
    registered = registry.get("registered") or (official or {}).get("registered")
    hours = _opening_hours(parsed)
    estimate = None
    if hours is not None and master.windows:
        try:
            estimate = turnout_estimate(master.windows, registered=registered, opening_hours=hours)
            record["estimate"] = estimate.to_dict()
        except PollwatchError as exc:
            record["notes"].append(f"no turnout estimate: {exc}")
    if official is not None:
        flat = {k: v for k, v in official.items() if k != "votes"}
        flat.update(official.get("votes", {}))
        comparison = compare_with_official(
            master, flat, tolerance=Tolerance(turnout_relative=tolerance), estimate=estimate
        )
        record["comparison"] = comparison.to_dict()
    return json.loads(json.dumps(record, default=str))  # type: ignore[no-any-return]
