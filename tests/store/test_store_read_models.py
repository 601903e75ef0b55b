"""One set of read-model caches per database, shared by every engine on it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from pollwatch.store import make_engine
from pollwatch.store.read_models import forget_summaries, read_models


def test_engines_on_one_database_share_its_read_models(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    other = make_engine(db_url)
    elsewhere = make_engine(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        assert read_models(other) is read_models(engine)
        assert read_models(elsewhere) is not read_models(engine)
    finally:
        other.dispose()
        elsewhere.dispose()


def test_a_change_through_another_engine_drops_the_cached_summary(
    engine: Engine, db_url: str
) -> None:
    builds: list[int] = []

    def build() -> int:
        builds.append(len(builds))
        return len(builds)

    summaries = read_models(engine).summaries
    assert summaries.get(engine, "e", "public", build) == 1
    assert summaries.get(engine, "e", "public", build) == 1  # reused: the ledger stood still
    other = make_engine(db_url)
    try:
        forget_summaries(other, "e")
    finally:
        other.dispose()
    assert summaries.get(engine, "e", "public", build) == 2
    assert summaries.get(engine, "e", "activity", build) == 3  # one answer per name


def test_kept_slot_sums_equal_a_fresh_sum_after_any_changes() -> None:
    """Stations change, appear and go in any order; each slot's kept sum is bit for bit the
    exactly rounded sum a restarted process computes from the current records alone."""
    import math
    import random

    from pollwatch.store.master_cache import MasterEntry
    from pollwatch.store.read_models import SlotSums
    from pollwatch.store.station_state import StoredState, encode_slots

    rng = random.Random(4)

    def entry(station: str, seq: int) -> MasterEntry:
        slots = {rng.randrange(40): rng.random() * 10 / 3 for _ in range(rng.randint(1, 6))}
        row = StoredState(station, seq, "", 0, slots=encode_slots(slots))
        return MasterEntry("e", station, row)

    kept = SlotSums()
    current = {f"S{i}": entry(f"S{i}", 0) for i in range(30)}
    for seq in range(1, 40):
        for s in rng.sample(sorted(current), 5):  # changed records
            current[s] = entry(s, seq)
        if rng.random() < 0.3:  # a station leaves, another comes
            current.pop(rng.choice(sorted(current)))
            current[f"N{seq}"] = entry(f"N{seq}", seq)
        got = kept.per_slot("e", dict(current))
        fresh: dict[int, list[float]] = {}
        for e in current.values():
            for slot, n in e.slots.items():
                fresh.setdefault(slot, []).append(n)
        assert got == {slot: math.fsum(v) for slot, v in fresh.items()}
        assert SlotSums().per_slot("e", dict(current)) == got
