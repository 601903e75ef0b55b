"""Privacy: nothing stored by default; opt-in counts hold ids and numbers only; forget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pollwatch.coach import Coach
from pollwatch.coach.stats import forget_stats, read_stats, record_ask, stats_path
from pollwatch.config import load_settings
from pollwatch.errors import InputError


def test_nothing_is_stored_by_default(tmp_path: Path, fixture_coach: Coach) -> None:
    settings = load_settings({"POLLWATCH_HOME": str(tmp_path)})
    assert record_ask(settings, fixture_coach.ask("налоги растут")) is False
    assert list(tmp_path.iterdir()) == []


def test_opt_in_counts_ids_never_text(tmp_path: Path, fixture_coach: Coach) -> None:
    settings = load_settings({"POLLWATCH_HOME": str(tmp_path), "POLLWATCH_COACH_STATS": "on"})
    secret = "налоги растут у моей тёти Клавы из Самары"
    record_ask(settings, fixture_coach.ask(secret))
    record_ask(settings, fixture_coach.ask("налоги высокие"))
    record_ask(settings, fixture_coach.ask("😀"))
    stats = read_stats(settings)
    counted = stats.asked.get("taxes-high", 0) + stats.unsure.get("taxes-high", 0)
    assert counted == 2 and stats.no_match == 1
    raw = stats_path(settings).read_text(encoding="utf-8")
    assert "Клав" not in raw and "Самар" not in raw and "налог" not in raw
    assert set(json.loads(raw)) == {"version", "asked", "unsure", "no_match"}
    assert forget_stats(settings) is True
    assert not stats_path(settings).exists()
    assert forget_stats(settings) is False
    assert read_stats(settings).asked == {}


def test_corrupt_counts_file(tmp_path: Path) -> None:
    settings = load_settings({"POLLWATCH_HOME": str(tmp_path), "POLLWATCH_COACH_STATS": "on"})
    stats_path(settings).write_text('{"asked": {"x": -1}}', encoding="utf-8")
    with pytest.raises(InputError, match=r"coach-stats\.json"):
        read_stats(settings)
    stats_path(settings).write_text("not json", encoding="utf-8")
    with pytest.raises(InputError):
        read_stats(settings)
