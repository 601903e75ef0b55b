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
