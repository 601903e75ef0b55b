"""The dashboard's comparison table, and the election's turnout tolerance that flags rows.

Each reporting station's master record (from the read models' cache) is estimated and
compared with its official figures (:func:`pollwatch.store.views.figures_from_master`, the
same as the station page); the row's arithmetic and the table's order are
:mod:`pollwatch.observe.comparison_table`. A row is cached by the station's last ledger seq,
resolutions, registered voters, official figures and the tolerance, so a refresh recomputes
only stations with something new.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from pollwatch.errors import PollwatchError
from pollwatch.observe.comparison_table import (
    check_tolerance,
    comparison_order,
    comparison_row,
    turnout_totals,
)
from pollwatch.observe.estimates import DayShapes
from pollwatch.observe.schedule import StationSchedule
from pollwatch.store.audit import record_audit
from pollwatch.store.day_shapes import registry_schedules, shapes_from_entries
from pollwatch.store.elections import get_election
from pollwatch.store.engine import write_transaction
from pollwatch.store.master_cache import MasterEntry
from pollwatch.store.read_models import forget_summaries, read_models
from pollwatch.store.tables import elections, official_results, stations
from pollwatch.store.views import (
    election_schedule,
    election_tolerance,
    figures_from_master,
    load_resolutions,
    opening_of,
)

__all__ = ["comparison_rows", "set_tolerance"]


def _station_row(
    station: str,
    name: str | None,
    entry: MasterEntry,
    registered: int | None,
    official: Mapping[str, Any] | None,
    tolerance: float,
    hours: StationSchedule | tuple[datetime, datetime] | None,
    shapes: DayShapes,
) -> dict[str, Any]:
    figures = figures_from_master(
        entry.master,
        hours=hours,
        registered=registered,
        official=official,
        tolerance=tolerance,
        shapes=shapes,
    )
    return comparison_row(station, name, figures.estimate, figures.comparison, official)


def comparison_rows(
    engine: Engine, election: str, *, tolerance: float | None = None
) -> dict[str, Any]:
    """Every reporting station's independent turnout against the official figure.

    ``tolerance`` (relative turnout slack, 0…1) defaults to the election's setting. Rows are
    sorted flagged first, then by ``|relative|`` descending.
    """
    get_election(engine, election)
    if tolerance is not None:
        check_tolerance(tolerance)
    with engine.connect() as conn:
        tol = election_tolerance(conn, election) if tolerance is None else float(tolerance)
        counters = read_models(engine).masters.counters(conn, election)
        chosen = load_resolutions(conn, election)
        registry = {
            str(r[0]): (r[1], r[2])
            for r in conn.execute(
                select(stations.c.station, stations.c.name, stations.c.registered).where(
                    stations.c.election == election
                )
            )
        }
        officials = {
            str(r[0]): dict(r[1])
            for r in conn.execute(
                select(official_results.c.station, official_results.c.figures).where(
                    official_results.c.election == election
                )
            )
        }
        schedules = registry_schedules(conn, election)
        default = election_schedule(conn, election)
    masters = read_models(engine).masters
    current = masters.refresh(engine, election, counters, chosen, sorted(counters))
    shapes = shapes_from_entries(current, schedules, default)
    shapes_key = hash(shapes)
    rows = []
    for station, entry in current.items():
        name, registered = registry.get(station, (None, None))
        official = officials.get(station)
        try:
            hours = opening_of(schedules.get(station), default, entry.hours, entry.master)
        except PollwatchError:
            hours = None
        key = (
            entry.last_seq,
            entry.resolutions,
            tol,
            registered,
            json.dumps(official, sort_keys=True, default=str),
            hours,
            shapes_key,
        )
        build = functools.partial(
            _station_row, station, name, entry, registered, official, tol, hours, shapes
        )
        rows.append(masters.comparison_row(election, station, key, build))
    rows.sort(key=comparison_order)
    return {"election": election, "tolerance": tol, "rows": rows, "totals": turnout_totals(rows)}


def set_tolerance(engine: Engine, election: str, tolerance: Any, *, by: str) -> dict[str, Any]:
    """Set the election's relative turnout tolerance (0…1); audited as ``set_tolerance``."""
    value = check_tolerance(tolerance)
    get_election(engine, election)
    with write_transaction(engine) as conn:
        previous = conn.execute(
            select(elections.c.tolerance).where(elections.c.id == election)
        ).scalar()
        conn.execute(update(elections).where(elections.c.id == election).values(tolerance=value))
        record_audit(
            conn, by, "set_tolerance", election, {"tolerance": value, "previous": previous}
        )
    forget_summaries(engine, election)
    return {"election": election, "tolerance": value}
