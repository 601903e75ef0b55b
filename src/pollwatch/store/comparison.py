"""The dashboard's comparison table, and the election's turnout tolerance that flags rows.

Each reporting station's master record (from the read models' cache) is estimated and
compared with its official figures (:func:`pollwatch.store.views.figures_from_master`, the
same as the station page); the row's arithmetic and the table's order are
:mod:`pollwatch.observe.comparison_table`.

An estimate costs milliseconds (an interval by bisection over beta-binomial tails), so
5,000 of them take about a minute: a row is built once for its key — the station's last
ledger seq and resolutions, registered voters, official figures, tolerance, opening hours
and the digest of the day shapes in use (:func:`pollwatch.store.day_shapes.shapes_in_use`)
— and kept in memory and in ``station_state.comparison``, so a refresh re-estimates only
the stations with something new and a restarted process reads the rows back. The day
shapes in use change only when :func:`refresh_comparison` (the background keeper's step)
rebuilds them, after it has stored every row for the new shapes: a request never
re-estimates the whole table.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.exc import DBAPIError

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
from pollwatch.store.day_shapes import (
    load_shapes,
    registry_schedules,
    save_shapes,
    shapes_digest,
    shapes_due,
    shapes_from_entries,
    shapes_in_use,
)
from pollwatch.store.elections import get_election
from pollwatch.store.engine import write_transaction
from pollwatch.store.master_cache import MasterEntry
from pollwatch.store.read_models import forget_summaries, read_models
from pollwatch.store.tables import elections, official_results, station_state, stations
from pollwatch.store.views import (
    election_schedule,
    election_tolerance,
    figures_from_master,
    load_resolutions,
    opening_of,
)

__all__ = ["comparison_rows", "refresh_comparison", "set_tolerance"]

_log = logging.getLogger(__name__)


def _station_row(
    station: str,
    name: str | None,
    entry: MasterEntry,
    registered: int | None,
    official: Mapping[str, Any] | None,
    tolerance: float,
    hours: StationSchedule | tuple[datetime, datetime] | None,
    shapes: DayShapes,
    registers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    figures = figures_from_master(
        entry.master,
        hours=hours,
        registered=registered,
        official=official,
        tolerance=tolerance,
        shapes=shapes,
    )
    return comparison_row(station, name, figures.estimate, figures.comparison, official, registers)


def _row_key(
    entry: MasterEntry,
    tol: float,
    registered: int | None,
    official: Mapping[str, Any] | None,
    hours: Any,
    shapes: str,
    registers: Mapping[str, Any] | None = None,
) -> str:
    """What a row depends on, as one comparable string (the same in every process)."""
    return json.dumps(
        [
            entry.last_seq,
            entry.resolutions,
            tol,
            registered,
            official,
            repr(hours),
            shapes,
            registers,
        ],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )


def _decoded_row(text: str) -> dict[str, Any]:
    return dict(json.loads(text))


def _built_row(
    built: dict[str, tuple[int, str]],
    key: str,
    station: str,
    name: str | None,
    entry: MasterEntry,
    registered: int | None,
    official: Mapping[str, Any] | None,
    tol: float,
    hours: Any,
    shapes: DayShapes,
    registers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The station's row, estimated now and noted in ``built`` to be stored."""
    row = _station_row(station, name, entry, registered, official, tol, hours, shapes, registers)
    built[station] = (entry.last_seq, f"{key}\n{json.dumps(row)}")
    return row


def _stored_rows(
    engine: Engine, election: str, wanted: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """Stored comparison rows (key, row JSON) of ``wanted`` stations."""
    out: dict[str, tuple[str, str]] = {}
    t = station_state
    with engine.connect() as conn:
        for first in range(0, len(wanted), 500):
            chunk = list(wanted[first : first + 500])
            query = select(t.c.station, t.c.comparison).where(
                t.c.election == election, t.c.station.in_(chunk), t.c.comparison.is_not(None)
            )
            for station, text in conn.execute(query):
                key, _, row = str(text).partition("\n")
                out[str(station)] = (key, row)
    return out


def _store_rows(engine: Engine, election: str, built: Mapping[str, tuple[int, str]]) -> None:
    """Write built rows back beside the record they came from (if it is still that one)."""
    t = station_state
    statement = (
        update(t)
        .where(
            t.c.election == election,
            t.c.station == bindparam("s"),
            t.c.last_seq == bindparam("seq"),
        )
        .values(comparison=bindparam("text"))
    )
    values = [{"s": s, "seq": seq, "text": text} for s, (seq, text) in built.items()]
    try:
        for first in range(0, len(values), 500):
            with write_transaction(engine) as conn:
                conn.execute(statement, values[first : first + 500])
    except DBAPIError as error:  # only a cache: the answer stands without it
        _log.warning("storing comparison rows failed: %s", type(error).__name__)


def _table(
    engine: Engine,
    election: str,
    *,
    tolerance: float | None,
    refresh_shapes: bool,
) -> dict[str, Any]:
    masters = read_models(engine).masters
    with engine.connect() as conn:
        tol = election_tolerance(conn, election) if tolerance is None else float(tolerance)
        counters = masters.counters(conn, election)
        chosen = load_resolutions(conn, election)
        registry = {
            str(r[0]): (r[1], r[2], {"home_requests": r[3], "early_voters": r[4]})
            for r in conn.execute(
                select(
                    stations.c.station,
                    stations.c.name,
                    stations.c.registered,
                    stations.c.home_requests,
                    stations.c.early_voters,
                ).where(stations.c.election == election)
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
        stored_shapes = load_shapes(conn, election)
    head = max((c.last_seq for c in counters.values()), default=0)
    current = masters.refresh(engine, election, counters, chosen, sorted(counters))
    if refresh_shapes:
        shapes = shapes_from_entries(current, schedules, default)
        digest = shapes_digest(shapes)
    elif stored_shapes is not None:
        shapes, digest = stored_shapes[1], shapes_digest(stored_shapes[1])
    else:
        shapes, digest = shapes_in_use(engine, election, current, schedules, default, head)
    keys: dict[str, str] = {}
    parts: dict[
        str, tuple[str | None, int | None, Mapping[str, Any] | None, Any, Mapping[str, Any] | None]
    ] = {}
    for station, entry in current.items():
        name, registered, registers = registry.get(station, (None, None, None))
        figures = officials.get(station)
        try:
            hours = opening_of(schedules.get(station), default, entry.hours, entry.master)
        except PollwatchError:
            hours = None
        keys[station] = _row_key(entry, tol, registered, figures, hours, digest, registers)
        parts[station] = (name, registered, figures, hours, registers)
    missing = [s for s in current if not masters.has_comparison_row(election, s, keys[s])]
    stored = _stored_rows(engine, election, missing) if missing else {}
    built: dict[str, tuple[int, str]] = {}
    rows = []
    for station, entry in current.items():
        key = keys[station]
        found = stored.get(station)
        build: Callable[[], dict[str, Any]]
        if found is not None and found[0] == key:
            build = functools.partial(_decoded_row, found[1])
        else:
            name, registered, official, hours, kept = parts[station]
            build = functools.partial(
                _built_row, built, key, station, name, entry, registered, official, tol, hours,
                shapes, kept,
            )  # fmt: skip
        rows.append(masters.comparison_row(election, station, key, build))
    if built:
        _store_rows(engine, election, built)
    if refresh_shapes:
        save_shapes(engine, election, head, shapes)
    rows.sort(key=comparison_order)
    return {"election": election, "tolerance": tol, "rows": rows, "totals": turnout_totals(rows)}


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
    return _table(engine, election, tolerance=tolerance, refresh_shapes=False)


def refresh_comparison(engine: Engine, election: str, *, force: bool = False) -> bool:
    """Keep the election's comparison rows current in the background (the keeper's step).

    Once the table has been asked for (day shapes are stored): when the shapes in use are
    due (:func:`pollwatch.store.day_shapes.shapes_due`), or when ``force``, every row is
    estimated with new shapes and stored first, then the shapes, so that requests switch
    to the new rows at once; otherwise the rows of stations with something new are
    estimated and stored, so that a request finds them. Returns whether the shapes were
    rebuilt.
    """
    masters = read_models(engine).masters
    with engine.connect() as conn:
        stored = load_shapes(conn, election)
        counters = masters.counters(conn, election)
    if stored is None and not force:
        return False  # nobody has asked for the table: no estimate is spent on it
    head = max((c.last_seq for c in counters.values()), default=0)
    due = force or shapes_due(stored, head)
    _table(engine, election, tolerance=None, refresh_shapes=due)
    return due


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
