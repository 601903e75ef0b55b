"""`pollwatch coach` on the command line: ask (text and JSON), show, list, practice, stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pollwatch.cli import app, main

runner = CliRunner()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POLLWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("POLLWATCH_COACH_STATS", raising=False)
    return tmp_path


def test_ask_prints_three_steps() -> None:
    r = runner.invoke(app, ["coach", "ask", "esli ne putin to kto"])
    assert r.exit_code == 0, r.output
    assert "no-alternative" in r.output
    for heading in ("1. ", "2. ", "3. "):
        assert heading in r.output
    assert "образец" in r.output  # the starter-content note


def test_ask_json_shape() -> None:
    r = runner.invoke(app, ["coach", "ask", "If not Putin, then who?", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["status"] == "confident"
    assert data["matches"][0]["id"] == "no-alternative"
    assert all({"id", "score"} <= set(m) for m in data["matches"])
    scores = [m["score"] for m in data["matches"]]
    assert scores == sorted(scores, reverse=True)
    assert {"bridge", "counterargument", "question", "sources"} <= set(data["answer"])
    assert data["answer"]["question"].endswith("?")


def test_ask_with_lang_override() -> None:
    r = runner.invoke(app, ["coach", "ask", "esli ne putin to kto", "--lang", "en", "--json"])
    assert json.loads(r.output)["lang"] == "en"


def test_ask_unknown_text_offers_topics() -> None:
    r = runner.invoke(app, ["coach", "ask", "asdf qwerty zxcv", "--lang", "en"])
    assert r.exit_code == 0
    assert "Topics" in r.output and "no-alternative" in r.output


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["coach", "ask", "   "]) == 1
    assert capsys.readouterr().err.startswith("Error: ")
    assert main(["coach", "ask", "x", "--lang", "de"]) == 1
    assert main(["coach", "show", "no-such-id"]) == 1
    assert "Error:" in capsys.readouterr().err


def test_show_and_list() -> None:
    r = runner.invoke(app, ["coach", "show", "fakes", "--lang", "en"])
    assert r.exit_code == 0 and "3. " in r.output
    r = runner.invoke(app, ["coach", "list", "--lang", "en"])
    assert r.exit_code == 0 and "those-who-left" in r.output


def test_practice_reads_until_quit() -> None:
    replies = (
        "Понимаю, тебе тревожно. Мне тоже важна наша семья. Мне кажется, можно поговорить. "
        "Что тебя больше всего пугает?\n"
        "Ты зомби\n"
        "/quit\n"
        "never read\n"
    )
    r = runner.invoke(app, ["coach", "practice", "--argument", "stability"], input=replies)
    assert r.exit_code == 0, r.output
    assert r.output.count("Отзыв (") == 2
    assert "«зомби»" in r.output and "Можно сказать так" in r.output
    assert "Ответов: 2" in r.output


def test_practice_until_eof_in_english() -> None:
    r = runner.invoke(app, ["coach", "practice", "--seed", "1", "--lang", "en"], input="Hm.\n")
    assert r.exit_code == 0, r.output
    assert "Feedback (" in r.output and "Replies: 1" in r.output


def test_stats_off_then_on_then_forget(monkeypatch: pytest.MonkeyPatch, _home: Path) -> None:
    runner.invoke(app, ["coach", "ask", "esli ne putin to kto"])
    assert list(_home.iterdir()) == []
    r = runner.invoke(app, ["coach", "stats"])
    assert "off" in r.output
    monkeypatch.setenv("POLLWATCH_COACH_STATS", "on")
    runner.invoke(app, ["coach", "ask", "esli ne putin to kto"])
    r = runner.invoke(app, ["coach", "stats"])
    assert "no-alternative" in r.output and "esli" not in r.output
    r = runner.invoke(app, ["coach", "forget"])
    assert "Removed" in r.output and list(_home.iterdir()) == []


def test_check_command() -> None:
    r = runner.invoke(app, ["coach", "check"])
    assert r.exit_code == 0 and "ok" in r.output


@pytest.mark.slow
def test_evaluate_command() -> None:
    r = runner.invoke(app, ["coach", "evaluate"])
    assert r.exit_code == 0, r.output
    assert "leave-one-out:" in r.output and "near-misses:" in r.output
