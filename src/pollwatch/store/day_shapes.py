"""The day shapes of an election's fully covered stations, which door-count intervals use.

Every station's estimate is calibrated on the stations of the same election that were
counted all day (:class:`pollwatch.observe.estimates.DayShapes`): their shares of the day's
arrivals over the fraction of open time. They come from the same cached master records as
the comparison table (:mod:`pollwatch.store.master_cache`) and the same opening hours as
each station's estimate (:func:`pollwatch.store.views.opening_of`), so the table, the
station page and the shapes cannot disagree about when a station was open.

Each station's own shape (:func:`pollwatch.observe.estimates.day_shapes_from_stations` of
that station alone: its profile, or none) is kept with its cached record and rebuilt only
when the record or its opening hours change; the election's shapes are those joined in
station order, which is what the function gives for all stations at once. The shapes the
comparison table's rows were estimated with are stored (``election_shapes``, with the
ledger seq they were built at), so that a restarted process finds the rows it stored
still valid (:mod:`pollwatch.store.comparison`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from pollwatch.errors import PollwatchError
from pollwatch.observe.estimates import DayShapes, day_shapes_from_stations
from pollwatch.observe.schedule import StationSchedule
from pollwatch.store.engine import write_transaction
from pollwatch.store.master_cache import MasterEntry
from pollwatch.store.read_models import read_models
from pollwatch.store.tables import election_shapes as shapes_table
from pollwatch.store.tables import stations
from pollwatch.store.views import election_schedule, load_resolutions, opening_of

__all__ = [
    "SHAPES_GROWTH",
    "SHAPES_MIN_NEW",
    "combine_shapes",
    "election_shapes",
    "load_shapes",
    "registry_schedules",
    "save_shapes",
    "shapes_digest",
    "shapes_due",
    "shapes_from_entries",
    "shapes_in_use",
    "station_shape",
]


def registry_schedules(conn: Connection, election: str) -> dict[str, dict[str, Any]]:
    """Each station's ``timezone``, ``schedule`` and legacy ``hours`` from the registry."""
    query = select(stations.c.station, stations.c.timezone, stations.c.schedule, stations.c.hours)
    return {
        str(r[0]): {"timezone": r[1], "schedule": r[2], "hours": r[3]}
        for r in conn.execute(query.where(stations.c.election == election))
    }


def station_shape(
    entry: MasterEntry, registry: Mapping[str, Any] | None, default: StationSchedule | None
) -> DayShapes:
    """The station's own day shape (no profile unless counted all its opening hours), kept
    on the entry for the opening hours it was built for."""
    if not entry.master.windows:
        return DayShapes((), ())
    try:
        hours = opening_of(registry, default, entry.hours, entry.master)
    except PollwatchError:  # a schedule the registry should not hold: no shape from it
        return DayShapes((), ())
    if hours is None:
        return DayShapes((), ())
    if entry.shape is not None and entry.shape[0] == hours:
        return entry.shape[1]  # type: ignore[no-any-return]
    shape = day_shapes_from_stations([(hours, entry.master.windows)])
    entry.shape = (hours, shape)
    return shape


def combine_shapes(parts: Sequence[DayShapes]) -> DayShapes:
    """Stations' own shapes joined in order (what one call over all of them gives)."""
    return DayShapes(
        tuple(p for part in parts for p in part.profiles),
        tuple(t for part in parts for t in part.totals),
    )


def shapes_from_entries(
    entries: Mapping[str, MasterEntry],
    registry: Mapping[str, Mapping[str, Any]],
    default: StationSchedule | None,
) -> DayShapes:
    """Day shapes from the stations among ``entries`` counted all their opening hours."""
    return combine_shapes(
        [station_shape(entry, registry.get(s), default) for s, entry in sorted(entries.items())]
    )


def load_shapes(conn: Connection, election: str) -> tuple[int, DayShapes] | None:
    """The stored day shapes of the election and the ledger seq they were built at."""
    row = conn.execute(
        select(shapes_table.c.seq, shapes_table.c.shapes).where(shapes_table.c.election == election)
    ).first()
    if row is None:
        return None
    data = json.loads(row[1])
    return int(row[0]), DayShapes(tuple(tuple(p) for p in data["p"]), tuple(data["t"]))


def save_shapes(engine: Engine, election: str, seq: int, shapes: DayShapes) -> None:
    """Store the election's day shapes as of ledger ``seq`` (replacing the previous ones).

    Floats round-trip exactly through JSON, so the stored shapes equal the built ones.
    """
    text = json.dumps({"p": shapes.profiles, "t": shapes.totals}, separators=(",", ":"))
    with write_transaction(engine) as conn:
        conn.execute(delete(shapes_table).where(shapes_table.c.election == election))
        conn.execute(insert(shapes_table).values(election=election, seq=seq, shapes=text))


SHAPES_GROWTH = 0.1
"""The shapes in use are rebuilt once the election's ledger has grown by this share since
they were built (and by at least :data:`SHAPES_MIN_NEW` reports): early in the day often,
later rarely. Between rebuilds every row is estimated with the same shapes, so a new
count re-estimates its own station only, not all 5,000 (each estimate takes milliseconds
of bisection); shapes are averages over hundreds of stations and move little meanwhile."""

SHAPES_MIN_NEW = 1000
"""Reports the ledger must have grown by before the shapes in use are rebuilt."""


def shapes_due(stored: tuple[int, DayShapes] | None, head: int) -> bool:
    """Whether the shapes in use (built at a seq) are due to be rebuilt at ledger ``head``."""
    if stored is None:
        return True
    seq = stored[0]
    return head - seq >= max(SHAPES_MIN_NEW, SHAPES_GROWTH * seq)


def shapes_in_use(
    engine: Engine,
    election: str,
    entries: Mapping[str, MasterEntry],
    registry: Mapping[str, Mapping[str, Any]],
    default: StationSchedule | None,
    head: int,
) -> tuple[DayShapes, str]:
    """The day shapes the election's estimates use now and their digest: the stored ones,
    else built from ``entries`` and stored at ``head``. Rebuilding them when due is the
    background keeper's work (:func:`pollwatch.store.comparison.refresh_comparison`), so a
    request never waits for every station's estimate."""
    with engine.connect() as conn:
        stored = load_shapes(conn, election)
    if stored is None:
        shapes = shapes_from_entries(entries, registry, default)
        save_shapes(engine, election, head, shapes)
    else:
        shapes = stored[1]
    return shapes, shapes_digest(shapes)


def shapes_digest(shapes: DayShapes) -> str:
    """A short stable name of the shapes (the same in every process)."""
    text = json.dumps([shapes.profiles, shapes.totals], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def election_shapes(engine: Engine, election: str) -> DayShapes:
    """The day shapes the election's estimates use (:func:`shapes_in_use`), so that the
    station page and the comparison table estimate a station alike."""
    masters = read_models(engine).masters
    with engine.connect() as conn:
        counters = masters.counters(conn, election)
        chosen = load_resolutions(conn, election)
        registry = registry_schedules(conn, election)
        default = election_schedule(conn, election)
        stored = load_shapes(conn, election)
    if stored is not None:
        return stored[1]
    current = masters.refresh(engine, election, counters, chosen, sorted(counters))
    head = max((c.last_seq for c in counters.values()), default=0)
    return shapes_in_use(engine, election, current, registry, default, head)[0]
