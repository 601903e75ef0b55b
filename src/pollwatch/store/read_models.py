"""The caches behind the dashboard and the press page, owned by one object per database.

The dashboard refreshes every few seconds while reports pour in, so its answers are built
from cached parts instead of from every report each time. :class:`ReadModels` holds all of
them for one database:

* ``masters`` (:class:`~pollwatch.store.master_cache.MasterCache`): each station's master
  record, recomputed only when the station has new reports or new resolutions;
* ``summaries`` (:class:`RecentAnswers`): the activity chart and the press summary, reused
  for up to :data:`SUMMARY_MAX_AGE` seconds, and dropped at once by
  :func:`forget_summaries` when a coordinator changes what they depend on;
* ``people`` (:class:`SlotSums`): people entered per 15-minute slot over every station,
  brought up to date from the stations whose records changed.

:func:`read_models` finds the database's object. Every engine on the same database in this
process shares it, so a change made through one engine (a CLI command run in the server's
process, a test's own engine) drops the answers another engine serves. Several server
processes each keep their own; they all read the same database, so they agree once
refreshed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Engine

from pollwatch.store.events import ledger_seq
from pollwatch.store.master_cache import MasterCache, MasterEntry

__all__ = [
    "SUMMARY_MAX_AGE",
    "ReadModels",
    "RecentAnswers",
    "SlotSums",
    "forget_read_models",
    "forget_summaries",
    "read_models",
]

SUMMARY_MAX_AGE = 10.0
"""Seconds an activity or public summary is reused even if the ledger moved (at most a minute
while it stands still; a coordinator's change in this process drops it at once)."""

_STILL_MAX_AGE = 60.0
"""Seconds an answer is reused while the election's ledger has not moved."""

T = TypeVar("T")


class RecentAnswers:
    """Answers reused while the ledger has not moved (or for a few seconds), by
    (election, name)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], tuple[int, float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, engine: Engine, election: str, name: str, build: Callable[[], T]) -> T:
        """The answer ``name`` of ``election``: reused when recent, else ``build()``."""
        slot = (election, name)
        seq = ledger_seq(engine, election)
        now = time.monotonic()
        with self._lock:
            cached = self._values.get(slot)
        if cached is not None and (
            now - cached[1] < SUMMARY_MAX_AGE
            or (cached[0] == seq and now - cached[1] < _STILL_MAX_AGE)
        ):
            return cached[2]  # type: ignore[no-any-return]
        value = build()
        with self._lock:
            self._values[slot] = (seq, now, value)
        return value

    def forget(self, election: str) -> None:
        """Drop an election's answers (after a coordinator changed what they depend on)."""
        with self._lock:
            for slot in [k for k in self._values if k[0] == election]:
                del self._values[slot]


class SlotSums:
    """People entered per 15-minute UTC slot, summed over an election's stations, kept
    between refreshes: a station whose record changed (another :class:`MasterEntry`) moves
    only its own slots, and only the slots it touched are summed again.

    A slot's sum is :func:`math.fsum` of its stations' values: the exactly rounded sum,
    whatever the order the stations came in or changed, so a sum kept over a day of changes
    is the sum a restarted process computes afresh, to the last bit.
    """

    def __init__(self) -> None:
        # per election: the entries summed, each slot's values by station, each slot's sum
        self._state: dict[
            str, tuple[dict[str, MasterEntry], dict[int, dict[str, float]], dict[int, float]]
        ] = {}
        self._lock = threading.Lock()

    def per_slot(self, election: str, entries: Mapping[str, MasterEntry]) -> dict[int, float]:
        """The sums over exactly ``entries`` (stations missing from them are left out)."""
        with self._lock:
            known, values, sums = self._state.setdefault(election, ({}, {}, {}))
            touched: set[int] = set()
            gone = [s for s in known if s not in entries]
            for s in gone:
                slots = known.pop(s).slots
                for slot in slots:
                    del values[slot][s]
                touched.update(slots)
            # A first call places every station's slots (280,000 at 5,000 stations): the
            # loop stays plain lookups and stores.
            for s, entry in entries.items():
                old = known.get(s)
                if old is entry:
                    continue
                if old is not None:
                    for slot in old.slots:
                        del values[slot][s]
                    touched.update(old.slots)
                slots = entry.slots
                for slot, n in slots.items():
                    column = values.get(slot)
                    if column is None:
                        column = values[slot] = {}
                    column[s] = n
                touched.update(slots)
                known[s] = entry
            for slot in touched:
                if values[slot]:
                    sums[slot] = math.fsum(values[slot].values())
                else:
                    del values[slot], sums[slot]
            return dict(sums)


class ReadModels:
    """Every cached read model of one database."""

    def __init__(self) -> None:
        self.masters = MasterCache()
        self.summaries = RecentAnswers()
        self.people = SlotSums()


class _Registry:
    """One :class:`ReadModels` per database, found from any engine on it."""

    def __init__(self) -> None:
        self._by_database: dict[str, ReadModels] = {}
        self._lock = threading.Lock()

    def of(self, engine: Engine) -> ReadModels:
        # Tests open many databases; so may a multi-tenant host: one namespace each.
        database = engine.url.render_as_string(hide_password=True)
        with self._lock:
            found = self._by_database.get(database)
            if found is None:
                found = self._by_database[database] = ReadModels()
            return found

    def forget(self, engine: Engine) -> None:
        database = engine.url.render_as_string(hide_password=True)
        with self._lock:
            self._by_database.pop(database, None)


_REGISTRY = _Registry()


def read_models(engine: Engine) -> ReadModels:
    """The read models of ``engine``'s database in this process (made on first use)."""
    return _REGISTRY.of(engine)


def forget_summaries(engine: Engine, election: str) -> None:
    """Drop the election's cached summaries (a resolution or setting changed them)."""
    read_models(engine).summaries.forget(election)


def forget_read_models(engine: Engine) -> None:
    """Drop everything this process keeps for ``engine``'s database, as a restart would.

    The next read starts from the database alone (``station_state``); used by the restart
    benchmark and the tests that check a restarted process does not merge again.
    """
    _REGISTRY.forget(engine)
