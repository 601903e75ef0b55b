"""One id rule: the core, the store and the CLI accept and refuse exactly the same ids.

The HTTP side of the same property is in ``tests/observe/test_api_ids.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from typer.testing import CliRunner

from pollwatch.cli import app, main
from pollwatch.errors import InputError, NotFoundError
from pollwatch.observe.ids import (
    ID_LIMIT,
    ID_PATTERN,
    check_election_id,
    check_station_id,
    is_valid_id,
    suggest_id,
)
from pollwatch.observe.reports import parse_report
from pollwatch.store import create_election, get_election, import_stations, open_store
from pollwatch.store.station_record import station_record

LOOK_ALIKES = "аеорсухАВЕКМНОРСТХіј"
"""Cyrillic letters drawn like Latin ones: the reason ids are ASCII."""

ids = st.one_of(
    st.from_regex(ID_PATTERN, fullmatch=True),
    st.text(st.sampled_from("aZ09-_.:~/ " + LOOK_ALIKES), min_size=0, max_size=ID_LIMIT + 2),
    st.text(max_size=ID_LIMIT + 2),
)
"""Well-formed ids, near misses (look-alikes, other separators, length 65) and any text."""

_SETTINGS = settings(max_examples=150, deadline=None)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('ids') / 'db.sqlite'}")
    create_election(engine, "known")
    import_stations(engine, "known", [{"station": "8001"}])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def cli_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('cli-ids') / 'db.sqlite'}"


def test_the_rule_by_example() -> None:
    for good in ("ru-2024", "8001", "O-1-3-3-12-3", "uk.london_2", "a" * ID_LIMIT, "0"):
        assert is_valid_id(good), good
    for bad in ("", "a" * (ID_LIMIT + 1), "dеmo", "уик-1", ".", "..", "-x", "_a", "a b", "a/b",
                "a:b", "a~b", "a\x00b", "ｄemo", 17, None):  # fmt: skip
        assert not is_valid_id(bad), bad


def test_a_refused_id_names_the_field_and_suggests_a_transliteration() -> None:
    with pytest.raises(InputError) as refused:
        check_election_id("уик-1")
    assert refused.value.column == "election"
    assert "try 'uik-1'" in refused.value.reason
    with pytest.raises(InputError, match="try 'demo'"):
        check_station_id("dеmo")
    with pytest.raises(InputError) as refused:
        check_station_id("a b", "stations")
    assert refused.value.column == "stations" and "try 'a-b'" in refused.value.reason
    assert suggest_id("Выборы 2024") == "Vybory-2024"
    assert suggest_id("…") is None  # nothing sensible to offer: no suggestion at all


@given(text=st.text(max_size=200))
def test_every_suggestion_is_a_valid_id(text: str) -> None:
    suggestion = suggest_id(text)
    assert suggestion is None or is_valid_id(suggestion)


@_SETTINGS
@given(ident=ids)
def test_reports_and_the_store_follow_the_rule(store: Engine, ident: str) -> None:
    valid = is_valid_id(ident)
    report = {
        "id": str(uuid.uuid4()),
        "election": ident,
        "station": ident,
        "kind": "status",
        "observed_at": "2024-03-17T09:00:00+00:00",
        "status": "opened",
    }
    now = datetime(2024, 3, 17, 12, tzinfo=UTC)
    if valid:
        assert parse_report(report, now=now).station == ident
        with pytest.raises(NotFoundError):
            station_record(store, "known", ident if ident != "8001" else "8001x")
        if ident != "known":
            with pytest.raises(NotFoundError):
                get_election(store, ident)
        return
    with pytest.raises(InputError) as refused:
        parse_report(report, now=now)
    assert refused.value.column == "election"
    for call, field in (
        (lambda: get_election(store, ident), "election"),
        (lambda: create_election(store, ident), "election"),
        (lambda: station_record(store, "known", ident), "station"),
        (lambda: station_record(store, ident, "8001"), "election"),
    ):
        with pytest.raises(InputError) as refused:
            call()
        assert refused.value.column == field


@_SETTINGS
@given(ident=ids)
def test_station_files_follow_the_rule(store: Engine, ident: str) -> None:
    """A registry cell is trimmed like every other cell of a file, then the rule applies."""
    rows = [{"station": ident}]
    if is_valid_id(ident.strip()):
        assert import_stations(store, "known", rows).stations == 1
    else:
        with pytest.raises(InputError) as refused:
            import_stations(store, "known", rows)
        assert refused.value.column == "station"


@_SETTINGS
@given(ident=ids)
def test_the_cli_creates_exactly_the_ids_the_rule_allows(cli_database: str, ident: str) -> None:
    env = {"POLLWATCH_DATABASE_URL": cli_database}
    result = CliRunner().invoke(app, ["elections", "create", "--", ident], env=env)
    if not is_valid_id(ident):
        assert isinstance(result.exception, InputError), result.output
        assert result.exception.column == "election"
        return
    if result.exit_code == 0:
        assert f"created election {ident} " in result.output
    else:  # drawn twice in this run: refused as a duplicate, not for its spelling
        assert isinstance(result.exception, InputError)
        assert "exists already" in result.exception.reason


def test_the_cli_says_what_to_type_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POLLWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert main(["elections", "create", "уик-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "try 'uik-1'" in err
    assert main(["elections", "create", "uik-1"]) == 0


@pytest.mark.parametrize(
    "command",
    [
        ["export", "ledger", "--out", "{out}.jsonl"],
        ["export", "reports", "--out", "{out}.csv"],
        ["observers", "invite"],
        ["pvt", "estimate"],
        ["pvt", "sample", "--size", "1", "--strata", "country", "--seed", "1"],
    ],
)
def test_every_command_naming_an_election_answers_as_the_api_does(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    """A malformed id is refused by the rule, an unknown one is "no election" (exit 1 both)."""
    monkeypatch.setenv("POLLWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    args = [a.replace("{out}", str(tmp_path / "out")) for a in command]
    for election, says in (("уик-1", "try 'uik-1'"), ("nowhere", "no election 'nowhere'")):
        assert main([*args, "--election", election]) == 1
        err = capsys.readouterr().err
        assert err.startswith("Error: ") and says in err, err
    assert not list(tmp_path.glob("out*")), "nothing written for an election that is not there"
