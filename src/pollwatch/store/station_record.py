"""A station's full record for the coordinators' station page and API.

Built on the read models: :mod:`pollwatch.store.views` for the figures and
:mod:`pollwatch.store.day_shapes` for the election's day shapes that the turnout estimate
needs, which themselves come from the cached master records. Kept in a module of its own
(above both) so that the views never import what is built on them.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from pollwatch.errors import NotFoundError
from pollwatch.observe.comparison_table import check_tolerance
from pollwatch.observe.ids import check_election_id, check_station_id
from pollwatch.store.day_shapes import election_shapes
from pollwatch.store.elections import official_row
from pollwatch.store.reports import list_reports
from pollwatch.store.tables import stations
from pollwatch.store.views import (
    election_schedule,
    election_tolerance,
    load_resolutions,
    parse_stored_body,
    station_figures,
)

__all__ = ["station_record"]


def station_record(
    engine: Engine, election: str, station: str, *, tolerance: float | None = None
) -> dict[str, Any]:
    """Registry row, reports, master record, turnout estimate and comparison of one station.

    The coordinators' stored resolutions are applied to the master record (and so to the
    estimate and comparison). ``tolerance`` (relative turnout slack, 0…1) defaults to the
    election's setting. A malformed id is an :class:`InputError` (:mod:`pollwatch.observe.ids`).
    """
    check_election_id(election)
    check_station_id(station)
    if tolerance is not None:
        tolerance = check_tolerance(tolerance)
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
        chosen = load_resolutions(conn, election, station).get(station, ())
        if tolerance is None:
            tolerance = election_tolerance(conn, election)
        default = election_schedule(conn, election)
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
    figures = station_figures(
        [parse_stored_body(r) for r in stored],
        registered=registry.get("registered"),
        official=official,
        resolutions_=chosen,
        tolerance=tolerance,
        registry=registry,
        default=default,
        shapes=election_shapes(engine, election),
    )
    record["master"] = figures.master.to_dict()
    record["estimate"] = None if figures.estimate is None else figures.estimate.to_dict()
    record["comparison"] = None if figures.comparison is None else figures.comparison.to_dict()
    record["notes"] = list(figures.notes)
    return json.loads(json.dumps(record, default=str))  # type: ignore[no-any-return]
