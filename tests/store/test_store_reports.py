"""Reports in the store: idempotent retries, conflicts, the ledger chain, concurrency."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from pollwatch.errors import InputError
from pollwatch.observe.ledger import verify_ledger
from pollwatch.store import (
    ConflictError,
    Forbidden,
    create_election,
    create_invites,
    export_ledger_lines,
    export_reports,
    import_stations,
    ledger_head,
    list_reports,
    observer_for_token,
    redeem_invite,
    reports_to_bytes,
    store_report,
)
from pollwatch.store.tables import ledger, reports

NOW = datetime(2024, 3, 17, 12, 0, tzinfo=UTC)


def count_report(station: str = "1", entered: int = 10, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": "e1",
        "station": station,
        "kind": "count",
        "observed_at": "2024-03-17T11:00:00+03:00",
        "window_start": "2024-03-17T10:00:00+03:00",
        "window_end": "2024-03-17T11:00:00+03:00",
        "entered": entered,
        **extra,
    }


@pytest.fixture()
def election(engine: Engine) -> Engine:
    create_election(engine, "e1", name="Test election")
    import_stations(engine, "e1", [{"station": str(i)} for i in range(1, 6)])
    return engine


def _observer(engine: Engine, stations: tuple[str, ...] = ()) -> Any:
    invite = create_invites(engine, "e1", 1, stations_=stations)[0]
    return observer_for_token(engine, redeem_invite(engine, invite.code).token)


def _rows(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_retry_returns_the_stored_report_and_appends_once(election: Engine) -> None:
    obs = _observer(election)
    body = count_report()
    first = store_report(election, body, observer=obs, now=NOW)
    again = [store_report(election, body, observer=obs, now=NOW) for _ in range(2)]
    assert first.status == 201 and [a.status for a in again] == [200, 200]
    assert all(a.report == first.report for a in again)
    assert _rows(election, reports) == 1 and _rows(election, ledger) == 1
    assert first.report["observer"] == obs.code_name
    assert first.report["ledger"]["seq"] == 1


def test_same_id_different_body_is_a_conflict(election: Engine) -> None:
    obs = _observer(election)
    body = count_report(entered=10)
    store_report(election, body, observer=obs, now=NOW)
    with pytest.raises(ConflictError):
        store_report(election, {**body, "entered": 11}, observer=obs, now=NOW)
    assert _rows(election, reports) == 1


def test_equivalent_body_with_other_offset_is_a_retry(election: Engine) -> None:
    obs = _observer(election)
    body = count_report()
    store_report(election, body, observer=obs, now=NOW)
    shifted = {**body, "observed_at": "2024-03-17T08:00:00Z"}  # same instant
    assert store_report(election, shifted, observer=obs, now=NOW).status == 200


def test_bad_input_names_the_field_and_stores_nothing(election: Engine) -> None:
    obs = _observer(election)
    cases = {
        "entered": count_report(entered=-1),
        "station": count_report(station="99"),
        "colour": {**count_report(), "colour": "red"},
    }
    for field, body in cases.items():
        with pytest.raises(InputError) as info:
            store_report(election, body, observer=obs, now=NOW)
        assert info.value.column == field
    with pytest.raises(InputError) as info:
        store_report(election, {**count_report(), "election": "nope"}, observer=None, now=NOW)
    assert info.value.column == "election"
    with pytest.raises(Forbidden):  # an observer of e1 cannot report on another election
        store_report(election, {**count_report(), "election": "nope"}, observer=obs, now=NOW)
    assert _rows(election, reports) == 0 and _rows(election, ledger) == 0


def test_bound_observer_may_report_only_its_station(election: Engine) -> None:
    obs = _observer(election, ("2",))
    assert store_report(election, count_report(station="2"), observer=obs, now=NOW).created
    with pytest.raises(Forbidden):
        store_report(election, count_report(station="3"), observer=obs, now=NOW)


def test_ledger_export_verifies_and_matches_the_reports(election: Engine) -> None:
    obs = _observer(election)
    ids = [store_report(election, count_report(entered=i), observer=obs, now=NOW) for i in range(5)]
    lines = list(export_ledger_lines(election, "e1"))
    result = verify_ledger(lines)
    assert result.ok and result.entries == 5
    assert result.head_hash == ledger_head(election, "e1")["head_hash"]
    assert [r.report["id"] for r in ids] == [r["id"] for r in list_reports(election, "e1")]
    tampered = [lines[0], lines[1].replace('"entered":1', '"entered":7'), *lines[2:]]
    broken = verify_ledger(tampered)
    assert not broken.ok and broken.broken_line == 2


def test_export_has_one_row_per_report_and_no_token(election: Engine, tmp_path: Any) -> None:
    redeemed = redeem_invite(election, create_invites(election, "e1", 1)[0].code)
    obs = observer_for_token(election, redeemed.token)
    for i in range(3):
        store_report(election, count_report(entered=i), observer=obs, now=NOW)
    frame = export_reports(election, "e1")
    assert len(frame) == 3 and frame["id"].is_unique
    assert sorted(frame["entered"].tolist()) == [0, 1, 2]
    csv = reports_to_bytes(frame, "csv").decode()
    assert redeemed.token not in csv
    import pandas as pd

    path = tmp_path / "r.parquet"
    path.write_bytes(reports_to_bytes(frame, "parquet"))
    assert pd.read_parquet(path)["id"].tolist() == frame["id"].tolist()


def test_concurrent_observers_on_one_station_keep_the_chain(election: Engine) -> None:
    observers = [_observer(election) for _ in range(2)]
    bodies = [[count_report(station="1", entered=i) for i in range(15)] for _ in observers]
    errors: list[BaseException] = []

    def send(obs: Any, batch: list[dict[str, Any]]) -> None:
        try:
            for body in batch:
                for _ in range(2):  # every report retried once
                    store_report(election, body, observer=obs, now=NOW)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pairs = zip(observers, bodies, strict=True)
    threads = [threading.Thread(target=send, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _rows(election, reports) == 30 and _rows(election, ledger) == 30
    result = verify_ledger(export_ledger_lines(election, "e1"))
    assert result.ok and result.entries == 30
