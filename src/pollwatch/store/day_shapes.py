"""The day shapes of an election's fully covered stations, which door-count intervals use.

Every station's estimate is calibrated on the stations of the same election that were
counted all day (:class:`pollwatch.observe.estimates.DayShapes`): their shares of the day's
arrivals over the fraction of open time. They come from the same cached master records as
the comparison table (:mod:`pollwatch.store.master_cache`) and the same opening hours as
each station's estimate (:func:`pollwatch.store.views.opening_of`), so the table, the
station page and the shapes cannot disagree about when a station was open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, select

from pollwatch.errors import PollwatchError
from pollwatch.observe.estimates import DayShapes, day_shapes_from_stations
from pollwatch.observe.schedule import StationSchedule
from pollwatch.store.master_cache import MasterEntry
from pollwatch.store.read_models import read_models
from pollwatch.store.tables import stations
from pollwatch.store.views import election_schedule, load_resolutions, opening_of

__all__ = ["election_shapes", "registry_schedules", "shapes_from_entries"]


def registry_schedules(conn: Connection, election: str) -> dict[str, dict[str, Any]]:
    """Each station's ``timezone``, ``schedule`` and legacy ``hours`` from the registry."""
    query = select(stations.c.station, stations.c.timezone, stations.c.schedule, stations.c.hours)
    return {
        str(r[0]): {"timezone": r[1], "schedule": r[2], "hours": r[3]}
        for r in conn.execute(query.where(stations.c.election == election))
    }


def shapes_from_entries(
    entries: Mapping[str, MasterEntry],
    registry: Mapping[str, Mapping[str, Any]],
    default: StationSchedule | None,
) -> DayShapes:
    """Day shapes from the stations among ``entries`` counted all their opening hours."""
    items = []
    for station, entry in sorted(entries.items()):
        if not entry.master.windows:
            continue
        try:
            hours = opening_of(registry.get(station), default, entry.hours, entry.master)
        except PollwatchError:  # a schedule the registry should not hold: no shape from it
            continue
        if hours is not None:
            items.append((hours, entry.master.windows))
    return day_shapes_from_stations(items)


def election_shapes(engine: Engine, election: str) -> DayShapes:
    """The day shapes of the election's fully covered stations, from the cached masters."""
    with engine.connect() as conn:
        counters = read_models(engine).masters.counters(conn, election)
        chosen = load_resolutions(conn, election)
        registry = registry_schedules(conn, election)
        default = election_schedule(conn, election)
    masters = read_models(engine).masters
    current = masters.refresh(engine, election, counters, chosen, sorted(counters))
    return shapes_from_entries(current, registry, default)
