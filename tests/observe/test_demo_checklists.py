"""``pollwatch demo-observe`` also stores SIMULATED checklists, their answers and messages.

The coordinators' results page of the demo has something to show: both checklists, answers
from most observed stations, some stations still missing, a few irregularities; observers
have a message in their inbox. Everything says it is simulated.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pollwatch.cli import main
from pollwatch.store import open_store
from pollwatch.store.checklists import checklist_results, list_checklists
from pollwatch.store.messages import list_messages


@pytest.fixture()
def demo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("POLLWATCH_DATABASE_URL", url)
    monkeypatch.setenv("POLLWATCH_HOME", str(tmp_path / "home"))
    yield url


def test_the_demo_has_simulated_checklists_answers_and_messages(
    demo_home: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-observe", "--seed", "11"]) == 0
    assert "SIMULATED checklists" in capsys.readouterr().out
    engine = open_store(demo_home)
    try:
        saved = list_checklists(engine, "demo")
        assert [c.checklist.id for c in saved] == ["count", "opening"]
        assert all("simulated" in c.checklist.title["en"] for c in saved)
        opening = checklist_results(engine, "demo", "opening").to_dict()
        assert len(opening["submitted"]) > 30 and opening["missing"]
        assert opening["flagged_stations"]
        messages = list_messages(engine, "demo")
        assert len(messages) == 2 and all(m["text"].startswith("SIMULATED") for m in messages)
        assert any(m["urgent"] for m in messages)
    finally:
        engine.dispose()
