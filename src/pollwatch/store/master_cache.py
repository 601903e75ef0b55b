"""Stations' master records kept between dashboard refreshes, recomputed only when stale.

A master record is a pure function of the station's reports and resolutions
(:func:`pollwatch.observe.merge_station_reports`). Reports are append-only, so an entry
stays current while the station's ``last_seq`` (``station_activity``) and its resolutions
are unchanged; a refresh re-reads only the stations with new reports or new resolutions.

Where an entry comes from, cheapest first: this process's memory; the database's
``station_state`` row (:mod:`pollwatch.store.station_state`), written by whichever process
merged the station last — so a restarted process reads a million reports' worth of
records back in about a second instead of merging them again; and only then a merge,
written back to ``station_state`` (in ``pollwatch serve`` by its station-state process,
not by the dashboard request that merged it: :attr:`MasterCache.saves`). A merge is
incremental: the reports the station's last record was merged from (kept beside it, in
memory and in ``station_state.inputs``) plus only the reports after its ``last_seq`` (a
short range at the ledger's end when the station is recent, or known from the counters'
reads to have been quiet until recently; of a station further behind, only the new
reports are read whole), merged by the pure
:func:`pollwatch.observe.merge_station_reports` — the same function of the same reports
as a full merge, so the record cannot differ from one; a new resolution re-merges the
kept reports without reading any. A station whose record was stored without its inputs
(before migration 0015) is merged from all its reports.

Costs: merging every station from its reports takes 20–40 s per million reports on a
2-core machine; that happens once per election, not once per process. One refresh per
election runs at a time and later callers reuse its work; a caller with a budget (the
station table's conflict total) merges at most that many reports, never waits for a
running refresh, and says how many stations it left for later.

One :class:`MasterCache` belongs to one database (:class:`pollwatch.store.read_models.ReadModels`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

from pollwatch.errors import InputError
from pollwatch.observe.activity import StationCounters, entered_per_slot
from pollwatch.observe.master import MasterRecord, Resolution, merge_station_reports
from pollwatch.observe.reports import Report
from pollwatch.store.station_state import (
    ConflictView,
    StoredState,
    dashboard_form,
    decode_conflicts,
    decode_inputs,
    decode_record,
    decode_slots,
    encode_conflicts,
    encode_inputs,
    encode_record,
    encode_slots,
    extend_inputs,
    load_inputs,
    load_state,
    readable,
    resolution_digest,
    save_state,
    state_summaries,
)
from pollwatch.store.tables import ledger, reports, station_activity
from pollwatch.store.views import load_resolutions, load_stored_report, opening_hours_of

__all__ = ["RECENT_SPAN", "MasterCache", "MasterEntry", "load_counters"]

_log = logging.getLogger(__name__)

RECENT_SPAN = 5_000
"""Records whose new reports all lie within this many ledger entries of the newest (or
within as many entries as the stale stations have reports, when that is more) are brought
up to date from the ledger's newest entries — in steady refreshes, those since the last
refresh; others from their station's own reports."""

_FACTS = 4
"""Quiet spans kept per station (:meth:`MasterCache.counters`)."""

_CHUNK = 500

_RANGE_BATCH = 10_000
"""Ledger entries read at once from the ledger's end (:meth:`MasterCache._compute`): the
range can reach far back after a restart, when no quiet span is known and many stations are
stale (it may be as long as their reports together), and a driver that buffers a whole
result (psycopg) would hold all of its reports' text at once; in batches it holds at most
this many, and the reports collected are the same (each is kept by its seq alone)."""


class MasterEntry:
    """A station's master record (the dashboard's form,
    :func:`pollwatch.store.station_state.dashboard_form`) as of ``last_seq`` and its
    resolutions (their digest), with what the read models derive from it: the opening
    hours the observers reported, people entered per 15-minute UTC slot, and its conflicts.

    An entry read back from ``station_state`` decodes each part on first use: the activity
    chart needs only the slots and the conflict list only the conflicts, so neither pays
    for decoding every station's count windows.
    """

    __slots__ = (
        "_conflicts", "_decoded", "_items", "_record", "_slots", "_slots_text", "_view", "election",
        "folded", "inputs", "last_seq", "open_conflicts", "resolutions", "shape", "station",
    )  # fmt: skip

    def __init__(
        self,
        election: str,
        station: str,
        row: StoredState,
        decoded: tuple[MasterRecord, tuple[datetime, datetime] | None] | None = None,
    ) -> None:
        self.election, self.station = election, station
        self.last_seq, self.resolutions = row.last_seq, row.resolutions
        self.open_conflicts = row.conflicts
        self._record, self._slots_text, self._conflicts = row.record, row.slots, row.conflict_list
        self._decoded = decoded
        self._slots: dict[int, float] | None = None
        self._view: ConflictView | None = None
        self._items: list[dict[str, Any]] | None = None
        # The merge inputs (station_state.inputs) when this process merged the entry, and
        # how many reports they hold; None when read back from a row (read again to fold).
        self.inputs = row.inputs
        self.folded = 0
        # The station's own day shape and the opening hours it was built for
        # (pollwatch.store.day_shapes), kept with the record it comes from.
        self.shape: tuple[Any, Any] | None = None

    def _parts(self) -> tuple[MasterRecord, tuple[datetime, datetime] | None]:
        if self._decoded is None:
            self._decoded = decode_record(self._record or "", self.election, self.station)
        return self._decoded

    @property
    def master(self) -> MasterRecord:
        """The master record (dashboard's form)."""
        return self._parts()[0]

    @property
    def hours(self) -> tuple[datetime, datetime] | None:
        """When observers reported the station opened and closed (None unless both)."""
        return self._parts()[1]

    @property
    def slots(self) -> Mapping[int, float]:
        """People entered per 15-minute UTC slot (slots since the epoch)."""
        if self._slots is None:
            self._slots = decode_slots(self._slots_text or "[]")
        return self._slots

    def open_conflict_items(self) -> list[dict[str, Any]]:
        """The open conflicts as the conflict list shows them (``to_dict``), built once per
        entry: a refresh rebuilds only the stations that changed."""
        if self._items is None:
            self._items = [c.to_dict() for c in self.conflicts[0]]
        return self._items

    @property
    def conflicts(self) -> ConflictView:
        """The open conflicts, and the resolved ones with their resolutions."""
        if self._view is None:
            if self._decoded is not None:
                master = self._decoded[0]
                self._view = (master.conflicts, master.resolved)
            else:
                self._view = decode_conflicts(self._conflicts or "")
        return self._view


_COUNTER_COLUMNS = (
    station_activity.c.station, station_activity.c.last_seq, station_activity.c.reports,
    station_activity.c.counts, station_activity.c.incidents, station_activity.c.protocols,
)  # fmt: skip


def _counters_of(rows: Any) -> dict[str, StationCounters]:
    return {str(r[0]): StationCounters(int(r[1]), r[2], r[3], r[4], r[5]) for r in rows}


def load_counters(conn: Connection, election: str) -> dict[str, StationCounters]:
    """Every reporting station's counters (``station_activity``), by station id."""
    act = station_activity
    return _counters_of(conn.execute(select(*_COUNTER_COLUMNS).where(act.c.election == election)))


def _within_budget(
    stale: Sequence[str],
    counters: Mapping[str, StationCounters],
    budget: int,
    known: Mapping[str, MasterEntry],
) -> list[str]:
    """The cheapest stale stations whose reports, re-read together, stay within ``budget``
    (a station this process merged before re-reads only its new reports)."""

    def cost(s: str) -> int:
        entry = known.get(s)
        if entry is not None and entry.inputs is not None:
            return max(1, counters[s].mergeable - entry.folded)
        return counters[s].mergeable

    within, spent = [], 0
    for s in sorted(stale, key=lambda s: (cost(s), s)):
        if spent + cost(s) > budget:
            break
        within.append(s)
        spent += cost(s)
    return within


def _digests(chosen: Mapping[str, Sequence[Resolution]]) -> dict[str, str]:
    """Each resolved station's :func:`resolution_digest`, taken once per refresh: a refresh
    compares it with the record's in memory, in ``station_state`` and in a new merge, and
    hashing a station's resolutions again at each look-up took up to four hashes each."""
    return {s: resolution_digest(own) for s, own in chosen.items()}


def _row_current(row: StoredState, counters: StationCounters, digest: str) -> bool:
    return row.last_seq >= counters.last_seq and row.resolutions == digest


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
        self._counters: dict[str, tuple[int, dict[str, StationCounters]]] = {}
        # Per election and station, spans (p, t) of the ledger in which the station is known
        # to have no report: seqs p+1..t (see counters()).
        self._quiet: dict[str, dict[str, list[tuple[int, int]]]] = {}
        self._lock = threading.Lock()
        self.merged = 0  # stations merged by this process (from all reports, or folded)
        self.folded = 0  # of them, merged from kept inputs and their new reports only
        self.loaded = 0  # stations read back from station_state
        # Whether a refresh writes the records it merged back to station_state. False in a
        # server whose station-state process (pollwatch.store.state_process) writes them:
        # it merges the same stations within seconds, so a dashboard request need not
        # spend a write transaction (a commit, a SQLite write lock) on a cache.
        self.saves = True

    def counters(self, conn: Connection, election: str) -> dict[str, StationCounters]:
        """Every reporting station's counters, as :func:`load_counters` reads them, from the
        rows changed since this process last read them: a station's row changes only with
        a new report, which raises its ``last_seq`` above every seq read before (ledger
        appends are serialised per election), so a refresh reads a few rows instead of
        5,000. A row count that disagrees (a rebuild, a deletion) reads them all again.

        Each changed row also tells when the station was quiet: it had no report after its
        previous ``last_seq`` p up to the newest seq t of the previous read, so its new
        reports all come after t — a few entries from the ledger's end, where a merge then
        finds them (:meth:`_compute`) instead of listing the station's whole history."""
        with self._lock:
            known = self._counters.get(election)
        act = station_activity
        facts: dict[str, tuple[int, int]] = {}
        if known is None:
            found = load_counters(conn, election)
        else:
            seen, kept = known
            changed = _counters_of(
                conn.execute(
                    select(*_COUNTER_COLUMNS).where(
                        act.c.election == election, act.c.last_seq > seen
                    )
                )
            )
            found = {**kept, **changed}
            rows = conn.execute(
                select(func.count()).select_from(act).where(act.c.election == election)
            ).scalar_one()
            if rows != len(found):
                found, known = load_counters(conn, election), None
            else:
                facts = {s: (kept[s].last_seq if s in kept else 0, seen) for s in changed}
        newest = max((c.last_seq for c in found.values()), default=0)
        with self._lock:
            self._counters[election] = (newest, found)
            if known is None:  # a first read, or the rows changed otherwise: nothing known
                self._quiet[election] = {}
            quiet = self._quiet.setdefault(election, {})
            for s, fact in facts.items():
                quiet[s] = [*quiet.get(s, ())[1 - _FACTS :], fact]
        return dict(found)

    def _quiet_after(self, election: str, bases: Mapping[str, tuple[int, str]]) -> dict[str, int]:
        """For each station, a seq after which all its reports beyond its base ``b`` lie:
        the end t of a quiet span (p, t] with p <= b, else ``b`` itself."""
        with self._lock:
            quiet = self._quiet.get(election, {})
            spans = {s: list(quiet.get(s, ())) for s in bases}
        out = {}
        for s, (b, _) in bases.items():
            out[s] = max([b, *(t for p, t in spans[s] if p <= b)])
        return out

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
        and reports the stations it could not check. Stations missing from memory are read
        from ``station_state`` when their row is current (no budget: reading a row costs
        far less than merging), the rest merged and written back.
        """
        return self._refresh(engine, election, counters, chosen, _digests(chosen), wanted, budget)

    def _refresh(
        self,
        engine: Engine,
        election: str,
        counters: Mapping[str, StationCounters],
        chosen: Mapping[str, tuple[Resolution, ...]],
        digests: Mapping[str, str],
        wanted: Sequence[str],
        budget: int | None,
    ) -> dict[str, MasterEntry]:
        """:meth:`refresh` with the resolutions' digests (:func:`_digests`) already taken."""
        with self._lock:
            gate = self._gates.setdefault(election, threading.Lock())
        if not gate.acquire(blocking=budget is None):
            return self._current(election, counters, digests, wanted)
        try:
            current = self._current(election, counters, digests, wanted)
            stale = [s for s in wanted if s not in current]
            if not stale:  # the steady case: nothing to read or merge
                return current
            self._keep(election, self._stored(engine, election, counters, digests, stale))
            current = self._current(election, counters, digests, stale)
            stale = [s for s in stale if s not in current]
            if budget is not None:
                with self._lock:
                    known = {s: e for s in stale if (e := self._entries.get((election, s)))}
                stale = _within_budget(stale, counters, budget, known)
            fresh = self._compute(engine, election, counters, chosen, digests, stale)
            self._keep(election, {s: entry for s, (entry, _) in fresh.items()})
            if fresh and self.saves:
                try:
                    save_state(engine, election, [row for _, row in fresh.values()])
                except DBAPIError as error:  # only a cache: the answer stands without it
                    _log.warning("storing merged station state failed: %s", type(error).__name__)
        finally:
            gate.release()
        return self._current(election, counters, digests, wanted)

    def _keep(self, election: str, entries: Mapping[str, MasterEntry]) -> None:
        with self._lock:
            for s, entry in entries.items():
                known = self._entries.get((election, s))
                if known is None or known.last_seq <= entry.last_seq:
                    self._entries[(election, s)] = entry

    def _current(
        self,
        election: str,
        counters: Mapping[str, StationCounters],
        digests: Mapping[str, str],
        wanted: Sequence[str],
    ) -> dict[str, MasterEntry]:
        out: dict[str, MasterEntry] = {}
        entries = self._entries
        with self._lock:  # one pass over every station of the election: kept lean
            for s in wanted:
                e = entries.get((election, s))
                if (
                    e is not None
                    and e.last_seq >= counters[s].last_seq  # a later refresh's is fresher still
                    and e.resolutions == digests.get(s, "")
                ):
                    out[s] = e
        return out

    def _stored(
        self,
        engine: Engine,
        election: str,
        counters: Mapping[str, StationCounters],
        digests: Mapping[str, str],
        stale: Sequence[str],
    ) -> dict[str, MasterEntry]:
        """Entries of ``stale`` stations read back from their current ``station_state`` rows."""
        out: dict[str, MasterEntry] = {}
        for s, row in load_state(engine, election, stale).items():
            if not _row_current(row, counters[s], digests.get(s, "")):
                continue
            if readable(row):  # else written by another version: merged again, overwritten
                out[s] = MasterEntry(election, s, row)
        self.loaded += len(out)
        return out

    def _bases(
        self, engine: Engine, election: str, stale: Sequence[str]
    ) -> dict[str, tuple[int, str]]:
        """The last merge inputs of ``stale`` stations and their seq: from memory, else from
        their ``station_state`` rows."""
        bases: dict[str, tuple[int, str]] = {}
        with self._lock:
            for s in stale:
                entry = self._entries.get((election, s))
                if entry is not None and entry.inputs is not None:
                    bases[s] = (entry.last_seq, entry.inputs)
        missing = [s for s in stale if s not in bases]
        if missing:
            for s, (seq, _digest, text) in load_inputs(engine, election, missing).items():
                bases[s] = (seq, text)
        return bases

    def _compute(
        self,
        engine: Engine,
        election: str,
        counters: Mapping[str, StationCounters],
        chosen: Mapping[str, tuple[Resolution, ...]],
        digests: Mapping[str, str],
        stale: Sequence[str],
    ) -> dict[str, tuple[MasterEntry, StoredState]]:
        """Merge ``stale`` stations: each station's kept inputs and its reports after them, or
        all its reports. A station's record is labelled with the seq read in ``counters``
        and merged from exactly its reports up to that seq (ledger appends are serialised
        per election, so none below it can still be uncommitted); a later report makes it
        stale again and is merged next time."""
        head = max((c.last_seq for c in counters.values()), default=0)
        bases = {
            s: b
            for s, b in self._bases(engine, election, stale).items()
            if b[0] <= counters[s].last_seq
        }
        new: dict[str, list[tuple[Report, str]]] = {s: [] for s in stale}
        joined = select(ledger.c.seq, reports.c.station, reports.c.canonical).join_from(
            ledger, reports, reports.c.id == ledger.c.report_id
        )
        with engine.connect() as conn:
            full = [s for s in stale if s not in bases]
            for first in range(0, len(full), _CHUNK):
                chunk = full[first : first + _CHUNK]
                query = joined.where(
                    ledger.c.election == election,
                    reports.c.election == election,
                    reports.c.station.in_(chunk),
                    reports.c.kind != "incident",  # incidents are never merged or compared
                )
                self._collect(conn.execute(query), counters, {}, new)
            behind = sorted(s for s in bases if bases[s][0] < counters[s].last_seq)
            # Stations whose new reports are all among the ledger's newest entries (their
            # record is recent, or they were quiet until recently): one range of its primary
            # key — no longer than the stale stations' own reports, which is what listing
            # those would read — up to the newest counted seq, in batches of _RANGE_BATCH
            # entries. The others: each station's own reports (its index; ``seq + 0`` keeps
            # the planner off a long range of the ledger), of which only those after the
            # record are parsed.
            quiet = self._quiet_after(election, {s: bases[s] for s in behind})
            span = max(RECENT_SPAN, sum(counters[s].mergeable for s in behind))
            recent = [s for s in behind if head - quiet[s] <= span]
            if recent:
                only = set(recent)
                for low in range(min(quiet[s] for s in recent), head, _RANGE_BATCH):
                    query = joined.where(
                        ledger.c.election == election,
                        ledger.c.seq > low,
                        ledger.c.seq <= min(low + _RANGE_BATCH, head),
                        reports.c.election == election,
                        reports.c.kind != "incident",
                    )
                    self._collect(conn.execute(query), counters, bases, new, only)
            older = [s for s in behind if head - quiet[s] > span]
            listed = select(ledger.c.seq, reports.c.station, reports.c.id).join_from(
                ledger, reports, reports.c.id == ledger.c.report_id
            )
            for first in range(0, len(older), _CHUNK):
                chunk = older[first : first + _CHUNK]
                query = listed.where(
                    ledger.c.election == election,
                    ledger.c.seq + 0 > min(bases[s][0] for s in chunk),
                    reports.c.election == election,
                    reports.c.station.in_(chunk),
                    reports.c.kind != "incident",
                )
                # The chunk's reports are listed without their text (a station's older
                # reports share the chunk's lowest base): only the new ones are read whole.
                after = {
                    str(report): (int(seq), str(station))
                    for seq, station, report in conn.execute(query)
                    if bases[str(station)][0] < seq <= counters[str(station)].last_seq
                }
                ids = sorted(after)
                rows: list[tuple[int, str, str]] = []
                for start in range(0, len(ids), _CHUNK):
                    texts = conn.execute(
                        select(reports.c.id, reports.c.canonical).where(
                            reports.c.id.in_(ids[start : start + _CHUNK])
                        )
                    )
                    rows.extend((*after[str(i)], text) for i, text in texts)
                self._collect(sorted(rows), counters, bases, new)
        out: dict[str, tuple[MasterEntry, StoredState]] = {}
        for s, added in new.items():
            if s in bases:
                kept = decode_inputs(bases[s][1], election, s, load_stored_report)
                items = [*kept, *(r for r, _ in added)]
                inputs = extend_inputs(bases[s][1], added)
            else:
                items = [r for r, _ in added]
                inputs = encode_inputs(added)
            if not items:
                continue
            master = dashboard_form(_merge(items, chosen.get(s, ())))
            hours = opening_hours_of(items)
            row = StoredState(
                s,
                max(counters[s].last_seq, bases[s][0] if s in bases else 0),
                digests.get(s, ""),
                len(master.conflicts),
                encode_record(master, hours),
                encode_slots(entered_per_slot(master.windows)),
                encode_conflicts(master),
                inputs,
            )
            entry = MasterEntry(election, s, row, (master, hours))
            entry.folded = len(items)
            out[s] = (entry, row)
        self.merged += len(out)
        self.folded += sum(1 for s in out if s in bases)
        return out

    @staticmethod
    def _collect(
        rows: Any,
        counters: Mapping[str, StationCounters],
        bases: Mapping[str, tuple[int, str]],
        new: dict[str, list[tuple[Report, str]]],
        only: set[str] | None = None,
    ) -> None:
        """Parse the rows (seq, station, canonical) of the wanted stations (``only``, else
        all) that fall after the station's base and up to its counted seq."""
        for seq, station, canonical in rows:
            s = str(station)
            if only is not None and s not in only:
                continue
            base = bases[s][0] if s in bases else 0
            if base < seq <= counters[s].last_seq:
                new[s].append((load_stored_report(canonical), canonical))

    def conflict_total(self, engine: Engine, election: str, *, budget: int) -> tuple[int, int]:
        """Open conflicts of the election and stations left unchecked within the budget.

        Counted from memory, else from the current ``station_state`` rows' conflict counts
        (no record decoded), else by merging within the budget.
        """
        with engine.connect() as conn:
            counters = self.counters(conn, election)
            chosen = load_resolutions(conn, election)
            digests = _digests(chosen)
            wanted = [s for s, c in counters.items() if c.may_conflict]
            known = self._current(election, counters, digests, wanted)
            # In steady use memory knows nearly every station: only the rest are looked up.
            missing = [s for s in wanted if s not in known]
            stored = state_summaries(conn, election, missing) if missing else {}
        total, unknown = 0, []
        for s in wanted:
            row = stored.get(s)
            if s in known:
                total += known[s].open_conflicts
            elif (
                row is not None
                and readable(row)
                and _row_current(row, counters[s], digests.get(s, ""))
            ):
                total += row.conflicts
            else:
                unknown.append(s)
        if not unknown:
            return total, 0
        current = self._refresh(engine, election, counters, chosen, digests, unknown, budget)
        with self._lock:
            for s in unknown:
                entry = current.get(s) or self._entries.get((election, s))
                if entry is not None:
                    total += entry.open_conflicts
        return total, len(unknown) - len(current)

    def has_comparison_row(self, election: str, station: str, key: Any) -> bool:
        """Whether the station's comparison row for ``key`` is in memory."""
        with self._lock:
            return key in self._rows.get((election, station), {})

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
