"""The dashboard's merged state kept in the database (issue 16), on SQLite and PostgreSQL.

Properties: after random report sequences (overlapping and identical count windows,
statuses at the same instant, disagreeing protocols, incidents, retries, resolutions) the
stored state equals a full recomputation from the reports by the pure core; a restarted
process (new engine, no memory) answers the dashboard from it without merging a station —
counted, not timed; a stored row that no longer fits is merged again, never believed.
"""

from __future__ import annotations

import dataclasses
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, select, update
from tests.asyncrun import run_async

from pollwatch.errors import InputError
from pollwatch.observe.activity import SLOT_SECONDS, entered_per_slot
from pollwatch.observe.master import merge_station_reports
from pollwatch.store import (
    activity,
    comparison_rows,
    conflicts,
    day_activity,
    import_stations,
    list_reports,
    make_engine,
    master_cache,
    resolve_conflict,
    station_totals,
    write_transaction,
)
from pollwatch.store import comparison as comparison_module
from pollwatch.store.comparison import refresh_comparison
from pollwatch.store.day_shapes import load_shapes, shapes_due
from pollwatch.store.elections import create_election
from pollwatch.store.master_cache import load_counters
from pollwatch.store.read_models import forget_read_models, read_models
from pollwatch.store.reports import rebuild_activity, store_reports
from pollwatch.store.state_keeper import StateKeeper, update_station_state
from pollwatch.store.station_state import (
    dashboard_form,
    decode_conflicts,
    decode_inputs,
    decode_record,
    decode_slots,
    load_inputs,
    load_state,
    resolution_digest,
)
from pollwatch.store.tables import activity_slots, station_state
from pollwatch.store.views import (
    load_resolutions,
    load_stored_report,
    opening_hours_of,
    parse_stored_body,
)

NOW = datetime(2024, 3, 17, 21, 0, tzinfo=UTC)
STATIONS = ("S1", "S2", "S3", "S4")


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _random_report(rng: random.Random) -> dict[str, Any]:
    station = rng.choice(STATIONS)
    body: dict[str, Any] = {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
    body.update(election="e", station=station)
    day = datetime(2024, 3, 17, 6, 0, tzinfo=UTC)
    kind = rng.choice(("count", "count", "count", "status", "protocol", "incident"))
    if kind == "count":
        start = day + timedelta(minutes=rng.choice(range(0, 13 * 60, 30)))
        end = start + timedelta(minutes=rng.choice((0, 15, 30, 60, 90)))
        body.update(
            kind="count",
            observed_at=_ts(end),
            window_start=_ts(start),
            window_end=_ts(end),
            entered=rng.choice((10, 20, 30)),
        )
        if rng.random() < 0.3:
            body["queue"] = rng.randint(0, 9)
    elif kind == "status":
        at = day + timedelta(hours=rng.choice((1, 6, 13)))
        body.update(kind="status", observed_at=_ts(at), status=rng.choice(("opened", "closed")))
    elif kind == "protocol":
        valid = rng.choice((500, 510))
        body.update(
            kind="protocol",
            observed_at=_ts(day + timedelta(hours=14)),
            figures={"registered": 1000, "valid": valid, "invalid": 0, "votes": {"A": valid}},
        )
    else:
        body.update(
            kind="incident",
            observed_at=_ts(day + timedelta(hours=rng.randint(0, 13))),
            category="other",
            text="x",
        )
    return body


def _twin(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    """Another observer's report of the same thing (a new id): agrees unless it is a count
    whose number differs."""
    twin = {**body, "id": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
    if body["kind"] == "count" and rng.random() < 0.3:
        twin["entered"] = body["entered"] + 1
    return twin


def _setup(engine: Engine) -> None:
    create_election(engine, "e", name="E")
    import_stations(engine, "e", [{"station": s, "name": s} for s in STATIONS])


def _send_round(engine: Engine, rng: random.Random, sent: list[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for _ in range(rng.randint(5, 20)):
        roll = rng.random()
        if sent and roll < 0.2:
            batch.append(rng.choice(sent))  # a retry: same id, same body
        elif batch and roll < 0.5:
            batch.append(_twin(rng, rng.choice(batch)))
        else:
            batch.append(_random_report(rng))
    outcomes = store_reports(engine, [(b, None) for b in batch], now=NOW)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    sent.extend(batch)


def _resolve_one(engine: Engine, rng: random.Random) -> None:
    open_ = [c for c in conflicts(engine, "e") if c["resolved"] is None]
    if not open_:
        return
    _resolve(engine, rng.choice(open_))


def _resolve(engine: Engine, c: dict[str, Any], by: str = "coordinator") -> None:
    """Resolve the conflict ``c`` (as the conflict list shows it) with its first value."""
    if c["field"].startswith("window:"):
        value: Any = c["values"][0]["report_id"]
    elif c["field"] == "status":
        value = "closed"
    else:
        value = c["values"][0]["value"]
    resolve_conflict(engine, "e", c["station"], c["field"], value, by=by)


def _assert_state_is_a_full_recomputation(engine: Engine) -> None:
    with engine.connect() as conn:
        counters = load_counters(conn, "e")
        chosen = load_resolutions(conn, "e")
        # The counters a refresh reads (only the rows changed since the last read) are all.
        assert read_models(engine).masters.counters(conn, "e") == counters
    stored = load_state(engine, "e")
    inputs = load_inputs(engine, "e", sorted(stored))
    stored = {
        s: dataclasses.replace(r, inputs=inputs[s][2] if s in inputs else None)
        for s, r in stored.items()
    }
    expected_rows = set()
    for station, c in counters.items():
        parsed = [parse_stored_body(r) for r in list_reports(engine, "e", station=station)]
        if all(r.kind == "incident" for r in parsed):
            continue  # nothing to merge
        expected_rows.add(station)
        own = chosen.get(station, ())
        master = dashboard_form(merge_station_reports(parsed, own))
        row = stored[station]
        assert (row.last_seq, row.resolutions) == (c.last_seq, resolution_digest(own))
        assert row.record is not None and row.slots is not None
        got, hours = decode_record(row.record, "e", station)
        assert got == master
        assert row.conflicts == len(master.conflicts)
        assert decode_conflicts(row.conflict_list or "") == (master.conflicts, master.resolved)
        assert hours == opening_hours_of(parsed)
        # The kept merge inputs (none in a row written before migration 0015) are exactly
        # the station's mergeable reports so far.
        if row.inputs is not None:
            kept = decode_inputs(row.inputs, "e", station, load_stored_report)
            assert sorted(kept, key=lambda r: r.id) == sorted(
                (r for r in parsed if r.kind != "incident"), key=lambda r: r.id
            )
        slots = decode_slots(row.slots)
        want = entered_per_slot(master.windows)
        assert slots.keys() == want.keys()
        assert all(abs(slots[k] - want[k]) < 1e-9 for k in want)
    assert set(stored) == expected_rows
    per_slot: dict[int, list[int]] = {}
    for r in list_reports(engine, "e"):
        moment = datetime.fromisoformat(r["observed_at"])
        cell = per_slot.setdefault(int(moment.timestamp()) // SLOT_SECONDS, [0, 0])
        cell[0] += 1
        cell[1] += r["kind"] == "incident"
    with engine.connect() as conn:
        slots_table = {
            int(s): [int(n), int(i)]
            for s, n, i in conn.execute(
                select(activity_slots.c.slot, activity_slots.c.reports, activity_slots.c.incidents)
            )
        }
    assert slots_table == per_slot


def _dashboard(engine: Engine) -> dict[str, Any]:
    totals = station_totals(engine, "e")
    return {
        "totals": totals,
        "conflicts": conflicts(engine, "e"),
        "activity": {k: v for k, v in activity(engine, "e").items() if k != "incidents"},
        "comparison": comparison_rows(engine, "e"),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stored_state_equals_a_full_recomputation(engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    _setup(engine)
    sent: list[dict[str, Any]] = []
    folded = 0
    for step in range(6):
        _send_round(engine, rng, sent)
        if step % 2:
            _resolve_one(engine, rng)
        if step % 3 == 2:
            forget_read_models(engine)  # a restart: the next merges fold the stored inputs
        masters = read_models(engine).masters
        before = masters.folded
        update_station_state(engine, "e")
        folded += masters.folded - before
        _assert_state_is_a_full_recomputation(engine)
    assert folded > 0  # the incremental merge was exercised (and gave the full answer)
    # The slots kept report by report are what a rebuild from the reports gives.
    with engine.connect() as conn:
        kept = sorted(conn.execute(select(activity_slots)).all())
    rebuild_activity(engine, "e")
    with engine.connect() as conn:
        assert sorted(conn.execute(select(activity_slots)).all()) == kept


def test_a_restarted_process_answers_from_the_stored_state_without_merging(
    engine: Engine, db_url: str
) -> None:
    rng = random.Random(7)
    _setup(engine)
    sent: list[dict[str, Any]] = []
    for _ in range(3):
        _send_round(engine, rng, sent)
    _resolve_one(engine, rng)
    assert update_station_state(engine, "e") > 0
    before = _dashboard(engine)
    assert before["totals"]["conflicts_pending"] == 0

    forget_read_models(engine)  # a new process: nothing in memory
    restarted = make_engine(db_url)
    try:
        masters = read_models(restarted).masters
        assert (masters.merged, masters.loaded) == (0, 0)
        assert _dashboard(restarted) == before
        assert masters.merged == 0
        assert masters.loaded == len(load_state(restarted, "e"))
        # One more report: only its station is merged again, the others are reused.
        store_reports(
            restarted,
            [({**_random_report(rng), "station": "S2", "kind": "status", "status": "closed",
               "observed_at": "2024-03-17T19:00:00Z"}, None)],
            now=NOW,
        )  # fmt: skip
        conflicts(restarted, "e")
        comparison_rows(restarted, "e")
        assert masters.merged == 1
    finally:
        restarted.dispose()


def test_new_reports_are_merged_with_the_kept_inputs_without_rereading_the_station(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: after a restart, one new count report at a station with dozens
    is the only report parsed, and the record still equals a full recomputation."""
    rng = random.Random(11)
    _setup(engine)
    sent: list[dict[str, Any]] = []
    for _ in range(4):
        _send_round(engine, rng, sent)
    update_station_state(engine, "e")
    forget_read_models(engine)
    parsed: list[str] = []
    real = master_cache.load_stored_report

    def counting(canonical: str) -> Any:
        parsed.append(canonical)
        return real(canonical)

    monkeypatch.setattr(master_cache, "load_stored_report", counting)
    body = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "election": "e",
        "station": "S3",
        "kind": "status",
        "status": "opened",
        "observed_at": "2024-03-17T07:00:00Z",
    }
    outcomes = store_reports(engine, [(body, None)], now=NOW)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    update_station_state(engine, "e")
    # Parsed: the new report, and the kept protocols (kept as their JSON); no count or
    # status of the station's history.
    kinds = [json.loads(c)["kind"] for c in parsed if json.loads(c)["id"] != body["id"]]
    assert len(parsed) == len(kinds) + 1
    assert set(kinds) <= {"protocol"}
    assert read_models(engine).masters.folded == 1
    _assert_state_is_a_full_recomputation(engine)
    # A row stored without inputs (before migration 0015) is merged from all its reports.
    with write_transaction(engine) as conn:
        conn.execute(update(station_state).values(inputs=None))
    forget_read_models(engine)
    _send_round(engine, rng, sent)
    update_station_state(engine, "e")
    _assert_state_is_a_full_recomputation(engine)


def test_a_station_quiet_for_long_is_brought_up_to_date_from_the_ledgers_end(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A station whose last report is far back in the ledger (others reported since): its
    new reports are read from the ledger's newest entries, because the counters' read showed
    it quiet until then, not by listing the station's history; after a restart (nothing
    known) they are listed — both give a full recomputation."""
    monkeypatch.setattr(master_cache, "RECENT_SPAN", 0)  # only what the stations' reports cost
    rng = random.Random(13)
    _setup(engine)
    sent: list[dict[str, Any]] = []
    _send_round(engine, rng, sent)
    update_station_state(engine, "e")

    def round_at(station: str, n: int) -> None:
        bodies = [{**_random_report(rng), "station": station} for _ in range(n)]
        outcomes = store_reports(engine, [(b, None) for b in bodies], now=NOW)
        assert not [o for o in outcomes if isinstance(o, Exception)]

    statements: list[str] = []

    def keep(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def listed_histories() -> int:
        """Statements that listed stations' reports since their record (by station)."""
        return sum("ledger" in q and "reports.station IN" in q for q in statements)

    for restarted in (False, True):
        for other in ("S2", "S3", "S4"):  # the ledger moves on, S1 is quiet
            round_at(other, 40)
        update_station_state(engine, "e")  # the counters read: S1 has been quiet since
        if restarted:
            forget_read_models(engine)
        round_at("S1", 2)
        event.listen(engine, "before_cursor_execute", keep)
        try:
            update_station_state(engine, "e")
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        assert listed_histories() == (1 if restarted else 0)
        statements.clear()
        _assert_state_is_a_full_recomputation(engine)


def test_the_ledgers_end_is_read_in_bounded_batches_after_a_restart(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: after a restart (no quiet span known) a station whose record is
    far back still takes its new reports from the ledger's end (within the span its and the
    other stale stations' reports allow); that range is read at most ``_RANGE_BATCH``
    entries at a time, not at once, and the records still equal a full recomputation."""
    monkeypatch.setattr(master_cache, "_RANGE_BATCH", 7, raising=False)
    rng = random.Random(17)
    _setup(engine)

    def round_at(station: str, n: int) -> None:
        bodies = [{**_random_report(rng), "station": station} for _ in range(n)]
        outcomes = store_reports(engine, [(b, None) for b in bodies], now=NOW)
        assert not [o for o in outcomes if isinstance(o, Exception)]

    for station in STATIONS:
        round_at(station, 5)
    update_station_state(engine, "e")
    for other in ("S2", "S3", "S4"):  # the ledger moves on, S1 is quiet
        round_at(other, 12)
    update_station_state(engine, "e")
    forget_read_models(engine)  # a restart: S1's quiet span is forgotten
    round_at("S1", 2)
    round_at("S2", 2)
    held: list[int] = []  # ledger rows each read of the range brought into memory at once
    real = master_cache.MasterCache._collect

    def counting(rows: Any, *args: Any, **kwargs: Any) -> None:
        rows = list(rows)
        if len(args) + len(kwargs) == 4:  # a read of the ledger's end (``only`` given)
            held.append(len(rows))
        real(rows, *args, **kwargs)

    monkeypatch.setattr(master_cache.MasterCache, "_collect", staticmethod(counting))
    update_station_state(engine, "e")
    assert sum(held) > 40, "S1's new reports came from the ledger's end"
    assert max(held) <= 7
    _assert_state_is_a_full_recomputation(engine)


def test_a_refresh_digests_each_resolved_stations_resolutions_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted: a refresh compares each resolved station's resolutions with its record's
    through one digest of them, whichever way the record comes (a merge, a stored row, this
    process's memory; the station table's conflict total) — not one per look-up."""
    rng = random.Random(5)
    _setup(engine)
    sent: list[dict[str, Any]] = []
    for _ in range(4):
        _send_round(engine, rng, sent)
    first: dict[str, dict[str, Any]] = {}
    for c in conflicts(engine, "e"):
        first.setdefault(c["station"], c)
    for station, c in first.items():
        _resolve(engine, c, by=f"by {station}")
    assert 2 <= len(first) < len(STATIONS)  # resolved stations, and one without
    update_station_state(engine, "e")
    digested: list[str] = []
    real = master_cache.resolution_digest

    def counting(own: Any) -> str:
        if own:
            digested.append(own[0].by)
        return real(own)

    monkeypatch.setattr(master_cache, "resolution_digest", counting)
    once = sorted(f"by {s}" for s in first)

    def refresh() -> list[str]:
        masters = read_models(engine).masters
        with engine.connect() as conn:
            counters = masters.counters(conn, "e")
            chosen = load_resolutions(conn, "e")
        digested.clear()
        masters.refresh(engine, "e", counters, chosen, sorted(counters))
        return sorted(digested)

    forget_read_models(engine)  # a restart: rows read back, and one resolved station merged
    store_reports(engine, [({**_random_report(rng), "station": min(first)}, None)], now=NOW)
    assert refresh() == once
    assert read_models(engine).masters.merged >= 1 and read_models(engine).masters.loaded >= 1
    assert refresh() == once  # from memory
    forget_read_models(engine)
    digested.clear()
    station_totals(engine, "e")  # rows' conflict counts, then a budgeted refresh
    assert sorted(digested) == once
    _assert_state_is_a_full_recomputation(engine)


def test_comparison_rows_are_kept_and_read_back_after_a_restart(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: a restarted process estimates no station for the comparison
    table, one new report re-estimates its station only, and rows rebuilt from nothing
    with the same day shapes are the same rows."""
    rng = random.Random(5)
    _setup(engine)
    sent: list[dict[str, Any]] = []
    for _ in range(4):
        _send_round(engine, rng, sent)
    update_station_state(engine, "e")
    first = comparison_rows(engine, "e")
    assert first["rows"]
    forget_read_models(engine)
    estimated: list[str] = []
    real = comparison_module.figures_from_master

    def counting(master: Any, **kwargs: Any) -> Any:
        estimated.append(master.station)
        return real(master, **kwargs)

    monkeypatch.setattr(comparison_module, "figures_from_master", counting)
    assert comparison_rows(engine, "e") == first
    assert estimated == []
    body = {
        "id": str(uuid.uuid4()), "election": "e", "station": "S2", "kind": "count",
        "observed_at": "2024-03-17T18:15:00Z", "window_start": "2024-03-17T18:00:00Z",
        "window_end": "2024-03-17T18:15:00Z", "entered": 12,
    }  # fmt: skip
    store_reports(engine, [(body, None)], now=NOW)
    again = comparison_rows(engine, "e")
    assert estimated == ["S2"]
    with write_transaction(engine) as conn:
        conn.execute(update(station_state).values(comparison=None))
    forget_read_models(engine)
    assert comparison_rows(engine, "e") == again
    # The keeper's step rebuilds the day shapes only when due, then every row with them.
    with engine.connect() as conn:
        before = load_shapes(conn, "e")
    assert before is not None
    assert refresh_comparison(engine, "e") is shapes_due(before, before[0] + 1)
    assert refresh_comparison(engine, "e", force=True) is True
    with engine.connect() as conn:
        after = load_shapes(conn, "e")
        head = max(c.last_seq for c in load_counters(conn, "e").values())
    assert after is not None and after[0] == head
    assert comparison_rows(engine, "e")["rows"]


def test_the_incident_feed_is_the_newest_incidents_read_from_their_own_index(
    engine: Engine,
) -> None:
    """The newest-first incidents, as reading them all would give; and the database walks
    the incidents' partial index for them (migration 0017), so the protocols and statuses
    received after the newest incident are never read (on SQLite every refresh read tens of
    thousands of them at the end of a day)."""
    rng = random.Random(3)
    _setup(engine)
    for hours in (30, 8, 3, 0):  # reports received over more than a day
        outcomes = store_reports(
            engine,
            [(_random_report(rng), None) for _ in range(15)],
            now=NOW + timedelta(hours=hours),
        )
        assert not [o for o in outcomes if isinstance(o, Exception)]
    incidents = [r for r in list_reports(engine, "e") if r["kind"] == "incident"]
    assert incidents
    newest = sorted(incidents, key=lambda r: (r["received_at"], r["id"]), reverse=True)
    for limit in (1, 3, 50):
        got = day_activity.incidents_feed(engine, "e", limit=limit)
        assert [g["id"] for g in got] == [r["id"] for r in newest[:limit]]
    # The plan: the feed's statement as sent, explained by the database.
    sent: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        day_activity.incidents_feed(engine, "e")
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    ((feed, parameters),) = [(q, p) for q, p in sent if "ORDER BY" in q]
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if not sqlite:  # a table this small is scanned unless told otherwise
            conn.exec_driver_sql("SET enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        plan = " ".join(str(r) for r in conn.exec_driver_sql(explain + feed, parameters).all())
    assert "ix_reports_election_incidents" in plan


def test_the_station_table_counts_conflicts_from_the_stored_rows(
    engine: Engine, db_url: str
) -> None:
    _setup(engine)
    a, b = (_random_report(random.Random(i)) for i in (1, 2))
    for body in (a, b):
        body.update(
            station="S1",
            kind="protocol",
            observed_at="2024-03-17T20:00:00Z",
            figures={"registered": 1000, "valid": 500 + len(body["id"]) % 7 + (body is b)},
        )
        for key in ("window_start", "window_end", "entered", "queue", "status", "category"):
            body.pop(key, None)
        body.pop("text", None)
    store_reports(engine, [(a, None), (b, None)], now=NOW)
    update_station_state(engine, "e")
    forget_read_models(engine)
    restarted = make_engine(db_url)
    try:
        totals = station_totals(restarted, "e")
        assert (totals["conflicts"], totals["conflicts_pending"]) == (1, 0)
        masters = read_models(restarted).masters
        assert (masters.merged, masters.loaded) == (0, 0)  # no record even decoded
    finally:
        restarted.dispose()


def test_a_stored_row_that_no_longer_fits_is_merged_again(engine: Engine, db_url: str) -> None:
    rng = random.Random(11)
    _setup(engine)
    _send_round(engine, rng, [])
    update_station_state(engine, "e")
    expected = _dashboard(engine)
    stored = load_state(engine, "e")
    victim, other = sorted(stored)[:2]
    with write_transaction(engine) as conn:
        # A row in another version's format, and a row for resolutions the station does
        # not have: both must be merged again, whatever they say.
        conn.execute(
            update(station_state)
            .where(station_state.c.station == victim)
            .values(record='{"v":0,"w":[[1,"x"]]}', conflicts=5)
        )
        conn.execute(
            update(station_state)
            .where(station_state.c.station == other)
            .values(resolutions="0" * 64, conflicts=99)
        )
    forget_read_models(engine)
    restarted = make_engine(db_url)
    try:
        assert _dashboard(restarted) == expected
        assert read_models(restarted).masters.merged == 2
        assert load_state(restarted, "e")[other].conflicts == stored[other].conflicts
    finally:
        restarted.dispose()


def test_the_keeper_stores_the_state_in_the_background(engine: Engine) -> None:
    _setup(engine)
    keeper = StateKeeper(engine, min_interval=0.05)
    keeper.start()
    try:
        rng = random.Random(5)
        _send_round(engine, rng, [])
        keeper.poke()
        with engine.connect() as conn:
            reporting = {s for s, c in load_counters(conn, "e").items() if c.mergeable}
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while set(load_state(engine, "e")) != reporting:  # wait for the condition
            assert datetime.now(UTC) < deadline, "the keeper did not store the state"
            keeper.poke()
            with engine.connect() as conn:
                conn.execute(select(1))
    finally:
        keeper.stop()
    _assert_state_is_a_full_recomputation(engine)


def test_the_upgrade_fills_the_slots_from_stored_reports(engine: Engine) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from pollwatch.store.migrate import _config

    _setup(engine)
    _send_round(engine, random.Random(3), [])
    with engine.connect() as conn:
        kept = sorted(conn.execute(select(activity_slots)).all())
    with write_transaction(engine) as conn:
        conn.execute(delete(station_state))
    cfg = _config()
    before = ScriptDirectory.from_config(cfg).get_revision("0013").down_revision
    with write_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, str(before))
    with write_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert sorted(conn.execute(select(activity_slots)).all()) == kept


@pytest.mark.parametrize("offset", [330, -240, 0])
def test_activity_in_local_hours_sums_whole_slots(engine: Engine, offset: int) -> None:
    _setup(engine)
    body = {
        "id": str(uuid.uuid4()),
        "election": "e",
        "station": "S1",
        "kind": "count",
        "observed_at": "2024-03-17T09:00:00Z",
        "window_start": "2024-03-17T08:00:00Z",
        "window_end": "2024-03-17T09:00:00Z",
        "entered": 60,
    }
    store_reports(engine, [(body, None)], now=NOW)
    data = activity(engine, "e", utc_offset=offset)
    hours = [h["hour"] for h in data["entered_per_hour"]]
    assert sum(h["entered"] for h in data["entered_per_hour"]) == 60
    if offset == 330:  # 13:30–14:30 local: half in each local hour, named by their UTC start
        assert hours == ["2024-03-17T07:30:00Z", "2024-03-17T08:30:00Z"]
        assert [h["entered"] for h in data["entered_per_hour"]] == [30.0, 30.0]
        assert data["reports_per_hour"] == [
            {"hour": "2024-03-17T08:30:00Z", "reports": 1, "incidents": 0}
        ]
    else:
        assert hours == ["2024-03-17T08:00:00Z"]


@pytest.mark.parametrize("bad", [7, 30.0, True, "330", 15 * 60, -15 * 61])
def test_activity_refuses_an_offset_that_is_not_whole_slots(engine: Engine, bad: Any) -> None:
    _setup(engine)
    with pytest.raises(InputError, match="utc_offset"):
        activity(engine, "e", utc_offset=bad)


@pytest.mark.parametrize(
    ("election_zone", "station_zones", "clock"),
    [
        ("Asia/Kolkata", [None, None], ("Asia/Kolkata", 330)),
        (None, ["Asia/Kathmandu", "Asia/Kathmandu"], ("Asia/Kathmandu", 345)),
        ("Asia/Kolkata", ["Asia/Kolkata", None], ("Asia/Kolkata", 330)),
        (None, ["Europe/Berlin", "Asia/Kolkata"], (None, 0)),  # several zones: UTC
        ("Asia/Kolkata", ["Europe/Berlin", None], (None, 0)),
        (None, [None, None], (None, 0)),
        ("America/New_York", [None, None], ("America/New_York", -240)),  # DST on 17 March
    ],
)
def test_the_default_activity_clock_is_the_one_zone_of_the_stations(
    engine: Engine,
    election_zone: str | None,
    station_zones: list[str | None],
    clock: tuple[str | None, int],
) -> None:
    schedule = "2024-03-17 08:00-20:00" if election_zone else None
    create_election(engine, "e", name="E", timezone=election_zone, schedule=schedule)
    rows = [{"station": f"S{i}", "timezone": z} for i, z in enumerate(station_zones)]
    import_stations(engine, "e", [{k: v for k, v in r.items() if v} for r in rows])
    body = {
        "id": str(uuid.uuid4()), "election": "e", "station": "S0", "kind": "status",
        "status": "opened", "observed_at": "2024-03-17T08:00:00Z",
    }  # fmt: skip
    store_reports(engine, [(body, None)], now=NOW)
    data = activity(engine, "e")
    assert (data["timezone"], data["utc_offset"]) == clock
    minutes = clock[1]
    hour = datetime(2024, 3, 17, 8, tzinfo=UTC) + timedelta(minutes=minutes)
    hour = hour.replace(minute=0) - timedelta(minutes=minutes)
    assert data["reports_per_hour"] == [{"hour": _ts(hour), "reports": 1, "incidents": 0}]


def test_the_ingest_writer_keeps_the_state_beside_it(engine: Engine) -> None:
    """Reports stored through the group-commit writer reach ``station_state`` without any
    dashboard request; stopping the writer stops its keeper."""
    import asyncio

    from pollwatch.store.ingest import IngestWriter
    from pollwatch.store.reports import prepare_report

    _setup(engine)
    rng = random.Random(9)
    bodies = [_random_report(rng) for _ in range(12)]
    writer = IngestWriter(engine)
    assert writer.keeper is not None
    writer.keeper.min_interval = 0.05

    async def send() -> None:
        items = [prepare_report(b, observer=None, now=NOW) for b in bodies]
        await asyncio.gather(*(writer.submit(item) for item in items))

    try:
        run_async(send())
        with engine.connect() as conn:
            reporting = {s for s, c in load_counters(conn, "e").items() if c.mergeable}
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while set(load_state(engine, "e")) != reporting:  # wait for the condition
            assert datetime.now(UTC) < deadline, "the writer's keeper did not store the state"
            writer.keeper.poke()
    finally:
        writer.stop()
    assert not writer.keeper.running()  # stopped with the writer
    _assert_state_is_a_full_recomputation(engine)


def test_a_server_leaves_writing_merged_records_to_the_state_process(engine: Engine) -> None:
    """``pollwatch serve`` (``masters.saves`` off): a dashboard request merges the stations
    with new reports for its answer and writes nothing; the station-state process (a cache
    of its own) merges them and stores what a full recomputation gives."""
    rng = random.Random(13)
    _setup(engine)
    sent: list[dict[str, Any]] = []
    _send_round(engine, rng, sent)
    update_station_state(engine, "e")
    _send_round(engine, rng, sent)
    stored = load_state(engine, "e")
    masters = read_models(engine).masters
    masters.saves = False
    before = masters.merged
    answer = conflicts(engine, "e")
    assert masters.merged > before  # merged for the answer…
    assert load_state(engine, "e") == stored  # …and nothing written
    forget_read_models(engine)  # the station-state process: a cache of its own, saving
    assert read_models(engine).masters.saves
    assert update_station_state(engine, "e") > 0
    assert load_state(engine, "e") != stored
    assert conflicts(engine, "e") == answer
    _assert_state_is_a_full_recomputation(engine)
