"""Elections, the station registry, official results, people and the audit log."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from pollwatch.errors import InputError, NotFoundError
from pollwatch.results import ElectionResults
from pollwatch.store import (
    AuthError,
    add_coordinator,
    attach_results,
    coordinator_for_session,
    create_election,
    create_invites,
    current_revision,
    get_election,
    head_revision,
    import_stations,
    list_audit,
    list_stations,
    login,
    logout,
    observer_for_token,
    official_row,
    redeem_invite,
    upgrade_database,
)


def test_migrations_reach_head_and_rerun_harmlessly(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert upgrade_database(engine) == head_revision()


def test_create_election_twice_is_an_error(engine: Engine) -> None:
    create_election(engine, "e1", name="One")
    assert get_election(engine, "e1")["name"] == "One"
    with pytest.raises(InputError):
        create_election(engine, "e1")
    with pytest.raises(NotFoundError):
        get_election(engine, "e2")


def test_import_csv_with_mapping_and_missing_columns(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "st.csv"
    path.write_text("PS,name,lat,registered\nA1,School 5,52.5,1200\nA2,,,\n", encoding="utf-8")
    summary = import_stations(engine, "new", path, mapping={"station": "PS"})
    assert summary.stations == 2
    rows = {r["station"]: r for r in list_stations(engine, "new")}
    assert rows["A1"]["name"] == "School 5" and rows["A1"]["lat"] == 52.5
    assert rows["A1"]["registered"] == 1200
    assert rows["A2"]["name"] is None and rows["A2"]["registered"] is None
    assert get_election(engine, "new")["stations"] == 2  # unknown election was created


def test_import_json(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "st.json"
    path.write_text(json.dumps([{"station": "1", "city": "Vilnius", "lon": 25.3}]), "utf-8")
    import_stations(engine, "e", path)
    assert list_stations(engine, "e")[0]["city"] == "Vilnius"


@pytest.mark.parametrize(
    ("line", "column"),
    [("3,School,91,10", "lat"), ("3,School,50,-4", "registered"), ("1,Again,50,4", "station")],
)
def test_bad_row_names_row_and_column_and_imports_nothing(
    engine: Engine, tmp_path: Path, line: str, column: str
) -> None:
    path = tmp_path / "st.csv"
    path.write_text(f"station,name,lat,registered\n1,A,50,10\n2,B,51,20\n{line}\n", "utf-8")
    with pytest.raises(InputError) as info:
        import_stations(engine, "e", path)
    assert info.value.row == 4 and info.value.column == column
    assert "row 4" in str(info.value)
    with pytest.raises(NotFoundError):
        get_election(engine, "e")  # nothing half-imported, not even the election


def test_missing_station_column_is_explained(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "st.csv"
    path.write_text("id,name\n1,A\n", "utf-8")
    with pytest.raises(InputError, match="--map station="):
        import_stations(engine, "e", path)


def _results(stations: list[str]) -> ElectionResults:
    frame = pd.DataFrame(
        {
            "region": ["abroad"] * len(stations),
            "station": stations,
            "registered": [100] * len(stations),
            "issued_premises": [60] * len(stations),
            "valid": [58] * len(stations),
            "invalid": [2] * len(stations),
            "abroad": [True] * len(stations),
            "A": [40] * len(stations),
            "B": [18] * len(stations),
        }
    )
    return ElectionResults(name="Synthetic", stations=frame, candidates=("A", "B"), source="x")


def test_attach_results_adds_stations_and_figures(engine: Engine) -> None:
    summary = attach_results(engine, "e", _results(["10", "11"]))
    assert summary.stations == 2
    assert {r["station"] for r in list_stations(engine, "e")} == {"10", "11"}
    row = official_row(engine, "e", "10")
    assert row is not None and row["votes"] == {"A": 40, "B": 18} and row["registered"] == 100
    with pytest.raises(InputError, match="more than once"):
        attach_results(engine, "e", _results(["10", "10"]))


def test_invite_works_once_even_when_raced(engine: Engine) -> None:
    create_election(engine, "e")
    import_stations(engine, "e", [{"station": "1"}, {"station": "2"}])
    invite = create_invites(engine, "e", 1, stations_=["2"])[0]
    results: list[object] = []

    def redeem() -> None:
        try:
            results.append(redeem_invite(engine, invite.code))
        except AuthError as exc:
            results.append(exc)

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if not isinstance(r, AuthError)]
    assert len(winners) == 1
    token = winners[0].token  # type: ignore[attr-defined]
    observer = observer_for_token(engine, token)
    assert observer.stations == ("2",) and observer.election == "e"
    with pytest.raises(AuthError):
        observer_for_token(engine, token + "x")
    with pytest.raises(InputError):
        create_invites(engine, "e", 1, stations_=["9"])


def test_coordinator_login_session_and_audit(engine: Engine) -> None:
    add_coordinator(engine, "anna", "correct horse battery", role="admin")
    with pytest.raises(AuthError):
        login(engine, "anna", "wrong password!")
    with pytest.raises(AuthError):
        login(engine, "nobody", "correct horse battery")
    _coordinator, token = login(engine, "anna", "correct horse battery")
    assert coordinator_for_session(engine, token).role == "admin"
    logout(engine, token)
    with pytest.raises(AuthError):
        coordinator_for_session(engine, token)
    actions = [a["action"] for a in list_audit(engine)]
    assert "coordinators.add" in actions and "login" in actions
    with pytest.raises(InputError):
        add_coordinator(engine, "bob", "short")
