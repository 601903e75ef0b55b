"""Stations' master records kept between dashboard refreshes, recomputed only when stale.

A master record is a pure function of the station's reports and resolutions
(:func:`pollwatch.observe.merge_station_reports`). Reports are append-only, so an entry
stays current while the station's ``last_seq`` (``station_activity``) and its resolutions
are unchanged; a refresh re-reads only the stations with new reports or new resolutions.

Costs: the first refresh of a process reads every count, status and protocol report of the
election (about 20–40 s per million reports on a 2-core machine). One refresh per election
runs at a time and later callers reuse its work; a caller with a budget (the station
table's conflict total) re-reads at most that many reports, never waits for a running
refresh, and says how many stations it left for later.

One :class:`MasterCache` belongs to one database (:class:`pollwatch.store.read_models.ReadModels`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from pollwatch.errors import InputError
from pollwatch.observe.activity import StationCounters, entered_per_hour
from pollwatch.observe.master import MasterRecord, Resolution, merge_station_reports
from pollwatch.observe.reports import Report
from pollwatch.store.tables import reports, station_activity
from pollwatch.store.views import load_resolutions, load_stored_report, opening_hours_of

__all__ = ["MasterCache", "MasterEntry", "load_counters"]

ResolutionKey = tuple[tuple[str, str, str, str], ...]


@dataclass(frozen=True)
class MasterEntry:
    """A station's master record as of ``last_seq`` and its resolutions, with what the
    read models derive from it (opening hours, people entered per clock hour)."""

    last_seq: int
    resolutions: ResolutionKey
    master: MasterRecord
    hours: tuple[datetime, datetime] | None
    hourly: Mapping[int, float]


def resolution_key(chosen: Sequence[Resolution]) -> ResolutionKey:
    """The resolutions as a comparable value (a changed one makes the entry stale)."""
    return tuple((r.field, json.dumps(r.value, sort_keys=True), r.by, r.note) for r in chosen)


def load_counters(conn: Connection, election: str) -> dict[str, StationCounters]:
    """Every reporting station's counters (``station_activity``), by station id."""
    act = station_activity
    rows = conn.execute(
        select(
            act.c.station, act.c.last_seq, act.c.reports, act.c.counts, act.c.incidents,
            act.c.protocols,
        ).where(act.c.election == election)
    ).all()  # fmt: skip
    return {str(r[0]): StationCounters(int(r[1]), r[2], r[3], r[4], r[5]) for r in rows}


def _within_budget(
    stale: Sequence[str], counters: Mapping[str, StationCounters], budget: int
) -> list[str]:
    """The smallest stale stations whose reports, re-read together, stay within ``budget``."""
    within, spent = [], 0
    for s in sorted(stale, key=lambda s: (counters[s].reports, s)):
        cost = counters[s].mergeable
        if spent + cost > budget:
            break
        within.append(s)
        spent += cost
    return within


def _merge(parsed: Sequence[Report], chosen: Sequence[Resolution]) -> MasterRecord:
    try:
        return merge_station_reports(parsed, chosen)
    except InputError:
        # A resolution that no longer fits (cannot happen through resolve_conflict, which
        # checks it); the record is still shown, with its conflicts open.
        return merge_station_reports(parsed)


class MasterCache:
    """Master records of one database keyed by (election, station), and the comparison rows
    built from them."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], MasterEntry] = {}
        self._rows: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
        self._gates: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def refresh(
        self,
        engine: Engine,
        election: str,
        counters: Mapping[str, StationCounters],
        chosen: Mapping[str, tuple[Resolution, ...]],
        wanted: Sequence[str],
        *,
        budget: int | None = None,
    ) -> dict[str, MasterEntry]:
        """Current entries for ``wanted`` stations (all, or those within the budget).

        One refresh per election at a time: a second caller waits and then finds the work
        done, instead of repeating it; a budgeted caller (the station table) does not wait
        and reports the stations it could not check.
        """
        with self._lock:
            gate = self._gates.setdefault(election, threading.Lock())
        if not gate.acquire(blocking=budget is None):
            return self._current(election, counters, chosen, wanted)
        try:
            current = self._current(election, counters, chosen, wanted)
            stale = [s for s in wanted if s not in current]
            if budget is not None:
                stale = _within_budget(stale, counters, budget)
            fresh = self._compute(engine, election, counters, chosen, stale)
            with self._lock:
                for s, entry in fresh.items():
                    self._entries[(election, s)] = entry
        finally:
            gate.release()
        return self._current(election, counters, chosen, wanted)

    def _current(
        self,
        election: str,
        counters: Mapping[str, StationCounters],
        chosen: Mapping[str, tuple[Resolution, ...]],
        wanted: Sequence[str],
    ) -> dict[str, MasterEntry]:
        with self._lock:
            found = {s: self._entries.get((election, s)) for s in wanted}
        return {
            s: e
            for s, e in found.items()
            if e is not None
            and e.last_seq >= counters[s].last_seq  # a later refresh's entry is fresher still
            and e.resolutions == resolution_key(chosen.get(s, ()))
        }

    def _compute(
        self,
        engine: Engine,
        election: str,
        counters: Mapping[str, StationCounters],
        chosen: Mapping[str, tuple[Resolution, ...]],
        stale: Sequence[str],
    ) -> dict[str, MasterEntry]:
        parsed: dict[str, list[Report]] = {s: [] for s in stale}
        with engine.connect() as conn:
            for start in range(0, len(stale), 500):
                chunk = list(stale[start : start + 500])
                query = select(reports.c.station, reports.c.canonical).where(
                    reports.c.election == election,
                    reports.c.station.in_(chunk),
                    reports.c.kind != "incident",  # incidents are never merged or compared
                )
                for station, canonical in conn.execute(query):
                    parsed[str(station)].append(load_stored_report(canonical))
        out: dict[str, MasterEntry] = {}
        for s, items in parsed.items():
            if not items:
                continue
            own = chosen.get(s, ())
            # Labelled with the seq read before loading: a report that arrived in between
            # makes the entry look stale, so it is recomputed next time (never the reverse).
            master = _merge(items, own)
            out[s] = MasterEntry(
                last_seq=counters[s].last_seq,
                resolutions=resolution_key(own),
                master=master,
                hours=opening_hours_of(items),
                hourly=entered_per_hour(master.windows),
            )
        return out

    def conflict_total(self, engine: Engine, election: str, *, budget: int) -> tuple[int, int]:
        """Open conflicts of the election and stations left unchecked within the budget."""
        with engine.connect() as conn:
            counters = load_counters(conn, election)
            chosen = load_resolutions(conn, election)
        wanted = [s for s, c in counters.items() if c.may_conflict]
        current = self.refresh(engine, election, counters, chosen, wanted, budget=budget)
        total = 0
        with self._lock:
            for s in wanted:
                entry = current.get(s) or self._entries.get((election, s))
                if entry is not None:
                    total += len(entry.master.conflicts)
        return total, len(wanted) - len(current)

    def comparison_row(
        self, election: str, station: str, key: Any, build: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """The station's comparison row for ``key`` (built once per key; a few keys kept,
        so switching the tolerance back and forth costs nothing)."""
        slot = (election, station)
        with self._lock:
            cached = self._rows.get(slot, {}).get(key)
        if cached is not None:
            return cached
        row = build()
        with self._lock:
            rows = self._rows.setdefault(slot, {})
            if len(rows) >= 4:
                rows.clear()
            rows[key] = row
        return row
