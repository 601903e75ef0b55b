"""`pollwatch demo-observe` gives the simulated election a full voter guide, labelled simulated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pollwatch.cli import main
from pollwatch.guide.markdown import render_markdown
from pollwatch.store import get_election, list_stations, open_store
from pollwatch.store.elections import election_key_dates
from pollwatch.store.guidance import list_guidance

SIMULATED = {"en": "SIMULATED", "ru": "СИМУЛЯЦИЯ", "sr": "SIMULACIJA"}


def test_the_demo_election_has_a_guide_labelled_simulated(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-observe", "--seed", "5"]) == 0
    assert "/guide/demo/info" in capsys.readouterr().out
    engine = open_store(cli_db)
    try:
        assert "SIMULATED" in get_election(engine, "demo")["name"]
        registry = list_stations(engine, "demo")
        assert registry and all("(simulated address)" in r["address"] for r in registry)
        assert all(r["schedule"] and r["timezone"] for r in registry)
        pages = list_guidance(engine, "demo")
        dates = election_key_dates(engine, "demo")
    finally:
        engine.dispose()
    assert set(pages) == {"en", "ru", "sr"}
    for lang, page in pages.items():
        first_line = str(page["markdown"]).splitlines()[0]
        assert SIMULATED[lang] in first_line, lang
        assert "<h2>" in render_markdown(str(page["markdown"]))
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    assert dates["schedule"] == f"{yesterday.isoformat()} 08:00-20:00"
    assert dates["registration_timezone"] == "Europe/Moscow"
    deadline = datetime.fromisoformat(str(dates["registration_deadline"]).replace("Z", "+00:00"))
    assert deadline.date() == yesterday - timedelta(days=5)
