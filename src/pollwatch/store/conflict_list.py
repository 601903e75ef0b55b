"""The dashboard's conflict list: every station's open and resolved conflicts, by field.

Only stations whose counters say a conflict is possible
(:attr:`pollwatch.observe.activity.StationCounters.may_conflict`), or that have resolutions,
are merged; their conflicts come from the read models' cache, or from ``station_state``
after a restart (:mod:`pollwatch.store.station_state`) without decoding whole records.

A million reports hold tens of thousands of conflicts (megabytes of JSON): the dashboard
asks for a page of them (:func:`conflict_page`: open ones first, with the totals), and with
``since`` for the stations changed after the version it last saw.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Engine, func, select

from pollwatch.store._util import format_stored
from pollwatch.store.elections import get_election
from pollwatch.store.master_cache import MasterEntry
from pollwatch.store.read_models import read_models
from pollwatch.store.tables import ledger, resolutions
from pollwatch.store.views import load_resolutions

__all__ = ["conflict_page", "conflicts"]


class _State:
    """The election's current entries with conflicts, as of ``version`` (a ledger seq)."""

    def __init__(
        self,
        version: int,
        seqs: Mapping[str, int],
        resolved: set[str],
        stamps: Mapping[tuple[str, str], str | None],
        current: Mapping[str, MasterEntry],
    ) -> None:
        self.version, self.seqs, self.resolved = version, seqs, resolved
        self.stamps, self.current = stamps, current

    def open_items(self, station: str) -> Iterator[dict[str, Any]]:
        if station not in self.current:  # no conflict possible
            return
        for item in sorted(self.current[station].open_conflict_items(), key=_field):
            yield {"station": station, **item, "resolved": None}

    def resolved_items(self, station: str) -> Iterator[dict[str, Any]]:
        if station not in self.current:
            return
        for conflict, resolution in self.current[station].conflicts[1]:
            yield {
                "station": station,
                **conflict.to_dict(),
                "resolved": {
                    "value": resolution.value,
                    "by": resolution.by,
                    "at": self.stamps.get((station, resolution.field)),
                    "note": resolution.note,
                },
            }


def _field(item: Mapping[str, Any]) -> str:
    return str(item["field"])


def _state(engine: Engine, election: str) -> _State:
    get_election(engine, election)
    masters = read_models(engine).masters
    with engine.connect() as conn:
        # Read first: every entry below is at least this current.
        version = conn.execute(
            select(func.max(ledger.c.seq)).where(ledger.c.election == election)
        ).scalar()
        counters = masters.counters(conn, election)
        chosen = load_resolutions(conn, election)
        stamps = {
            (str(r[0]), str(r[1])): format_stored(r[2])
            for r in conn.execute(
                select(resolutions.c.station, resolutions.c.field, resolutions.c.at).where(
                    resolutions.c.election == election
                )
            )
        }
    wanted = [s for s, c in counters.items() if c.may_conflict or s in chosen]
    current = masters.refresh(engine, election, counters, chosen, wanted)
    seqs = {s: c.last_seq for s, c in counters.items()}
    return _State(int(version or 0), seqs, set(chosen), stamps, current)


def conflicts(engine: Engine, election: str) -> list[dict[str, Any]]:
    """Open and resolved conflicts of every station, by station and field.

    Each: ``{"station", "field", "values": [{"report_id", "value"}], "resolved": null |
    {"value", "by", "at", "note"}}``.
    """
    state = _state(engine, election)
    out: list[dict[str, Any]] = []
    for station in sorted(state.current):
        out.extend(state.open_items(station))
        out.extend(state.resolved_items(station))
    out.sort(key=lambda c: (c["station"], c["field"]))
    return out


def conflict_page(
    engine: Engine, election: str, *, limit: int | None = None, since: int | None = None
) -> dict[str, Any]:
    """The first ``limit`` conflicts by priority — open ones (by station and field), then
    resolved ones — with the election's totals (``total``, ``open``) and ``version``.

    ``since`` (a ``version`` from an earlier answer): only the conflicts of the stations
    whose conflicts may have changed after it, listed in ``stations`` — those with a
    report after it, and every station with a resolution (a resolution has no ledger seq;
    coordinators make few) — so a client replaces those stations' conflicts with the ones
    given (none: the station has none left). A ``since`` beyond ``version`` answers as if
    there were none (``since`` null).
    """
    state = _state(engine, election)
    if since is not None and since > state.version:
        since = None
    entries = state.current
    open_total = sum(e.open_conflicts for e in entries.values())
    total = open_total + sum(len(e.conflicts[1]) for e in entries.values())
    if since is None:
        chosen = sorted(entries)
    else:
        changed = {s for s, seq in state.seqs.items() if seq > since}
        chosen = sorted(changed | (state.resolved & set(entries)))
    room = limit if limit is not None else total
    page: list[dict[str, Any]] = []
    for items in (state.open_items, state.resolved_items):
        for station in chosen:
            if len(page) >= room:
                break
            for item in items(station):
                if len(page) >= room:
                    break
                page.append(item)
    answer: dict[str, Any] = {
        "election": election,
        "version": state.version,
        "since": since,
        "total": total,
        "open": open_total,
        "conflicts": page,
    }
    if since is not None:
        answer["stations"] = chosen
    return answer
