"""Group commit: many reports in one transaction, each with its own answer.

* :func:`store_reports` on SQLite and PostgreSQL: a batch mixing new reports, retries (also of
  an id first seen in the same batch), changed bodies, malformed bodies, unknown stations and
  elections and forbidden stations answers each item on its own and stores only the good
  ones, once, in a verifying ledger with matching activity counters.
* The writer: reports queued while a batch commits go into the next batch together; an item
  that makes its whole batch fail is isolated and the others are stored.
* Over HTTP: a retry storm (each report sent three times at once, from many clients) stores
  every report exactly once; the observer-token cache honours revocation after its TTL.
* The benchmark itself runs (a short smoke run) and finds nothing lost or duplicated.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import Engine, func, select, update
from tests.asyncrun import run_async
from tests.store.databases import database_url
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.errors import InputError
from pollwatch.observe.ledger import verify_ledger
from pollwatch.store import (
    AuthError,
    ConflictError,
    Forbidden,
    Observer,
    create_election,
    create_invites,
    export_ledger_lines,
    import_stations,
    observer_for_token,
    open_store,
    rebuild_activity,
    redeem_invite,
)
from pollwatch.store.ingest import IngestWriter, ObserverCache
from pollwatch.store.reports import (
    Outcome,
    PreparedReport,
    StoredReport,
    prepare_report,
    store_prepared,
    store_reports,
)
from pollwatch.store.tables import ledger, observers, reports, station_activity
from pollwatch.web.app import create_app

NOW = datetime(2024, 3, 17, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``factory`` makes on its own loop (see ``tests.asyncrun``)."""
    return run_async(factory())


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database with elections e1 (stations 1-5) and e2 (stations 1-2)."""
    with database_url(request.param, tmp_path) as url:
        eng = open_store(url)
        create_election(eng, "e1", name="One")
        import_stations(eng, "e1", [{"station": str(i)} for i in range(1, 6)])
        create_election(eng, "e2", name="Two")
        import_stations(eng, "e2", [{"station": "1"}, {"station": "2"}])
        yield eng
        eng.dispose()


def body(
    election: str = "e1", station: str = "1", entered: int = 10, **extra: Any
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": election,
        "station": station,
        "kind": "count",
        "observed_at": "2024-03-17T11:00:00+03:00",
        "window_start": "2024-03-17T10:00:00+03:00",
        "window_end": "2024-03-17T11:00:00+03:00",
        "entered": entered,
        **extra,
    }


def _observer(engine: Engine, election: str = "e1", stations: tuple[str, ...] = ()) -> Observer:
    code = create_invites(engine, election, 1, stations_=stations)[0].code
    return observer_for_token(engine, redeem_invite(engine, code).token)


def _count(engine: Engine, table: Any, election: str = "e1") -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(table).where(table.c.election == election)
        return int(conn.execute(query).scalar_one())


def _activity(engine: Engine) -> dict[tuple[str, str], tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(select(station_activity)).mappings().all()
    return {
        (r["election"], r["station"]): (r["reports"], r["counts"], r["last_seq"], r["queue"])
        for r in rows
    }


def test_one_batch_answers_each_item_on_its_own(engine: Engine) -> None:
    obs = _observer(engine)
    bound = _observer(engine, stations=("2",))
    before = body(entered=1)
    changed_later = body(entered=2)
    assert store_reports(engine, [(before, obs), (changed_later, obs)], now=NOW)[0].status == 201

    new = body(entered=3, queue=4)
    twin = body(station="2", entered=5)
    items: list[tuple[dict[str, Any], Observer | None]] = [
        (new, obs),  # 0 created
        (dict(new), obs),  # 1 the same id again in the same batch: a retry
        ({**new, "entered": 99}, obs),  # 2 the same id with another body in the same batch
        (before, obs),  # 3 stored by an earlier batch: a retry
        ({**changed_later, "entered": 7}, obs),  # 4 stored earlier with another body
        ({**body(), "entered": -1}, obs),  # 5 malformed
        (body(station="99"), obs),  # 6 unknown station
        (body(election="nope"), None),  # 7 unknown election
        (body(station="3"), bound),  # 8 an observer bound to station 2
        (twin, bound),  # 9 created
        (body(election="e2", station="2"), None),  # 10 another election, same batch
    ]
    outcomes = store_reports(engine, items, now=NOW)
    statuses = [o.status for o in outcomes]
    assert statuses == [201, 200, 409, 200, 409, 400, 400, 400, 403, 201, 201]
    assert isinstance(outcomes[0], StoredReport) and isinstance(outcomes[1], StoredReport)
    assert outcomes[1].report == outcomes[0].report and not outcomes[1].created
    assert isinstance(outcomes[2], ConflictError) and isinstance(outcomes[4], ConflictError)
    for index, field in ((5, "entered"), (6, "station"), (7, "election")):
        error = outcomes[index]
        assert isinstance(error, InputError) and error.column == field
    assert isinstance(outcomes[8], Forbidden)
    first = outcomes[3]
    assert isinstance(first, StoredReport) and first.report["entered"] == 1
    assert first.report["observer"] == obs.code_name

    assert _count(engine, reports) == 4 and _count(engine, ledger) == 4
    assert _count(engine, reports, "e2") == 1
    for election in ("e1", "e2"):
        chain = verify_ledger(export_ledger_lines(engine, election))
        assert chain.ok, chain.describe()
    seqs = [
        o.report["ledger"]["seq"] for o in outcomes if isinstance(o, StoredReport) and o.created
    ]
    assert seqs == [3, 4, 1]  # e1 continues its chain; e2 starts its own
    live = _activity(engine)
    assert live[("e1", "1")][:2] == (3, 3) and live[("e1", "1")][3] == 4
    rebuild_activity(engine, "e1")
    rebuild_activity(engine, "e2")
    assert _activity(engine) == live


def test_a_write_conflict_in_the_batch_is_refused_whole_and_stores_nothing(
    engine: Engine,
) -> None:
    # An id that another process's transaction committed after this batch looked ids up
    # (here: a report row with no ledger entry, which the lookup does not see): the
    # batch's inserts fail on PostgreSQL only when its pipelined writes end. The caller
    # must get the retryable ConflictError, never the driver's error, and nothing of the
    # batch may stay stored.
    taken = prepare_report(body(), observer=None, now=NOW)
    with engine.begin() as conn:
        conn.execute(
            reports.insert(),
            {
                "id": taken.report.id,
                "election": "e1",
                "station": "1",
                "kind": "count",
                "observed_at": NOW,
                "received_at": NOW,
                "canonical": taken.canonical,
                "body": {},
            },
        )
    other = prepare_report(body(station="2"), observer=None, now=NOW)
    with pytest.raises(ConflictError, match="retry"):
        store_prepared(engine, [other, taken], now=NOW)
    assert _count(engine, ledger) == 0 and _count(engine, reports) == 1
    assert _activity(engine) == {}


def test_concurrent_batches_over_two_elections_keep_both_chains(engine: Engine) -> None:
    """Batches touching both elections in opposite orders: no deadlock, no gap, no twin."""
    errors: list[BaseException] = []
    sent: list[dict[str, Any]] = []
    lock = threading.Lock()

    def writer(order: Sequence[str]) -> None:
        try:
            for _ in range(8):
                batch = [body(election=e, station=str(k % 2 + 1)) for e in order for k in range(3)]
                with lock:
                    sent.extend(batch)
                outcomes = store_reports(engine, [(b, None) for b in batch])
                assert all(o.status == 201 for o in outcomes)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(o,)) for o in (("e1", "e2"), ("e2", "e1"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for election in ("e1", "e2"):
        chain = verify_ledger(export_ledger_lines(engine, election))
        assert chain.ok and chain.entries == 48 == _count(engine, reports, election)


def test_writer_batches_what_queues_during_a_commit(engine: Engine) -> None:
    gate = threading.Event()
    sizes: list[int] = []

    def gated(eng: Engine, items: Sequence[PreparedReport]) -> list[Outcome]:
        sizes.append(len(items))
        gate.wait(10)  # the first batch commits only once everything else is queued
        return store_prepared(eng, items)

    writer = IngestWriter(engine, store=gated)
    obs = _observer(engine)
    first = prepare_report(body(), observer=obs, now=NOW)
    storm = [body(station=str(k % 5 + 1), entered=k) for k in range(20)]

    async def gather_all() -> list[Any]:
        head = asyncio.ensure_future(writer.submit(first))
        while not sizes:
            await asyncio.sleep(0.01)
        rest = [
            asyncio.ensure_future(writer.submit(prepare_report(b, observer=obs, now=NOW)))
            for b in storm
            for _ in range(3)  # every report three times
        ]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(head, *rest, return_exceptions=True)

    try:
        answers = run(gather_all)
    finally:
        writer.stop()
    assert sizes == [1, 60]  # the storm went into one transaction
    statuses = [a.status for a in answers]
    assert statuses[0] == 201
    for k in range(20):
        triple = answers[1 + 3 * k : 4 + 3 * k]
        assert [a.status for a in triple] == [201, 200, 200]
        assert triple[0].report == triple[1].report == triple[2].report
    assert _count(engine, reports) == 21
    assert verify_ledger(export_ledger_lines(engine, "e1")).entries == 21


def test_an_item_that_breaks_its_batch_does_not_fail_the_others(engine: Engine) -> None:
    poison = prepare_report(body(entered=13), observer=None, now=NOW)

    def fragile(eng: Engine, items: Sequence[PreparedReport]) -> list[Outcome]:
        if any(item.report.id == poison.report.id for item in items):
            raise RuntimeError("the database refused this row")
        return store_prepared(eng, items)

    writer = IngestWriter(engine, store=fragile)
    good = [prepare_report(body(entered=k), observer=None, now=NOW) for k in range(5)]

    async def gather_all() -> list[Any]:
        return await asyncio.gather(
            *(writer.submit(item) for item in [*good[:2], poison, *good[2:]]),
            return_exceptions=True,
        )

    try:
        answers = run(gather_all)
    finally:
        writer.stop()
    assert isinstance(answers[2], RuntimeError)
    assert [a.status for i, a in enumerate(answers) if i != 2] == [201] * 5
    assert _count(engine, reports) == 5


def test_token_cache_drops_revoked_tokens_at_the_next_poll(engine: Engine) -> None:
    tokens = [redeem_invite(engine, i.code).token for i in create_invites(engine, "e1", 2)]
    clock = [100.0]
    cache = ObserverCache(engine, revocation_interval=2.0, clock=lambda: clock[0])
    seen = [run(partial(cache.observer, t)) for t in tokens]
    assert cache.lookups == 2
    with engine.begin() as conn:
        conn.execute(update(observers).where(observers.c.id == seen[0].id).values(revoked=True))
    clock[0] += 1.5
    assert run(lambda: cache.observer(tokens[0])) == seen[0]  # before the poll: still served
    assert cache.lookups == 2  # served from the cache, no query per report
    clock[0] += 1.0
    with pytest.raises(AuthError):
        run(lambda: cache.observer(tokens[0]))
    assert run(lambda: cache.observer(tokens[1])) == seen[1]  # the other token still works
    with pytest.raises(AuthError):  # unknown tokens are looked up each time, never cached
        run(lambda: cache.observer("not-a-token"))
    clock[0] += 700  # past the TTL every token is looked up again
    assert run(lambda: cache.observer(tokens[1])) == seen[1]


def test_token_cache_preloads_active_observers_only(engine: Engine) -> None:
    tokens = [redeem_invite(engine, i.code).token for i in create_invites(engine, "e1", 3)]
    revoked = observer_for_token(engine, tokens[2])
    with engine.begin() as conn:
        conn.execute(update(observers).where(observers.c.id == revoked.id).values(revoked=True))
    cache = ObserverCache(engine)
    assert run(lambda: cache.preload()) == 2
    assert [run(partial(cache.observer, t)).id for t in tokens[:2]] == [
        observer_for_token(engine, t).id for t in tokens[:2]
    ]
    assert cache.lookups == 0  # both came from the preload
    with pytest.raises(AuthError):
        run(lambda: cache.observer(tokens[2]))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_retry_storm_over_http_stores_each_report_once(kind: str, tmp_path: Path) -> None:
    with database_url(kind, tmp_path) as url:
        eng = open_store(url)
        create_election(eng, "e1", name="Storm")
        import_stations(eng, "e1", [{"station": str(i)} for i in range(1, 6)])
        tokens = [redeem_invite(eng, i.code).token for i in create_invites(eng, "e1", 8)]
        settings = Settings(data_dir=tmp_path / "d", home=tmp_path, database_url=url, rate_limit=0)
        app = create_app(settings)
        bodies = [(tokens[k % 8], body(station=str(k % 5 + 1), entered=k)) for k in range(60)]
        try:
            with serve_in_thread(app) as base:

                async def storm() -> list[list[httpx.Response]]:
                    limits = httpx.Limits(max_connections=64)
                    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as c:

                        async def thrice(token: str, b: dict[str, Any]) -> list[httpx.Response]:
                            headers = {"authorization": f"Bearer {token}"}
                            return list(
                                await asyncio.gather(
                                    *(
                                        c.post("/api/v1/reports", json=b, headers=headers)
                                        for _ in range(3)
                                    )
                                )
                            )

                        return list(await asyncio.gather(*(thrice(t, b) for t, b in bodies)))

                answers = run(storm)
                malformed = httpx.post(
                    f"{base}/api/v1/reports",
                    content=b'{"id": ',
                    headers={"authorization": f"Bearer {tokens[0]}"},
                )
            assert malformed.status_code == 400
            assert malformed.json()["error"]["field"] == "body"
            for triple in answers:
                assert sorted(r.status_code for r in triple) == [200, 200, 201]
                assert triple[0].json() == triple[1].json() == triple[2].json()
            chain = verify_ledger(export_ledger_lines(eng, "e1"))
            assert chain.ok and chain.entries == 60 == _count(eng, reports)
            ids = [json.loads(line)["report_id"] for line in export_ledger_lines(eng, "e1")]
            assert sorted(ids) == sorted(b["id"] for _, b in bodies)
            assert app.state.ingest.batches < 180  # some retries shared a transaction
        finally:
            app.state.engine.dispose()
            eng.dispose()


@pytest.mark.slow
def test_benchmark_smoke_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "ingest.py"),
            "--db",
            "sqlite",
            "--duration",
            "2",
            "--observers",
            "20",
            "--rate",
            "40",
            "--stations",
            "10",
            "--no-ceiling",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run = json.loads(out.read_text())["runs"][0]
    assert run["accepted"] > 20 and run["lost"] == 0 and run["duplicated"] == 0
    assert run["ledger_ok"] and run["malformed_stored"] == 0 and run["retries_bad"] == 0
    assert "accepted reports/s" in done.stdout
