"""Report ingestion under load: a real `pollwatch serve` driven over loopback.

Starts the service itself (a subprocess on a free port, a temporary POLLWATCH_HOME, the
default rate limits counted in Redis as deployed — ``--redis-url``, ``--rate-limit`` — with
the observers spread over ``--addresses`` loopback client addresses) on a fresh SQLite file
or a fresh PostgreSQL schema, seeds an
election, its stations and one observer token per simulated observer through
:mod:`pollwatch.store`, then drives it from ONE asyncio process (aiohttp):

* N simulated observers, each sending a count report every ``N / rate`` seconds on average
  (open loop: a slow answer does not delay the next report, so the service cannot slow the
  test down to a pace it likes); latency is measured from the moment a report was due, so
  queueing in the load generator counts against the service, not for it;
* 20 % of reports are retried with the same id and body — half after the answer (the answer
  was lost on the way back), half at once while the first send is in flight (a phone that
  timed out) — and every retry must answer 200 with the stored report;
* 1 % are malformed (negative count, unknown field, broken JSON, missing id) and must get a
  4xx and never be stored.

Afterwards it checks the database itself: every acknowledged id stored exactly once (lost =
acknowledged but absent; duplicated = more than one report row or ledger entry for an id),
nothing malformed stored, the ledger chain verifies. It prints the instrument's own ceiling
(the same client against a stub HTTP server that does no work, and against the service's
``/healthz``), so one can see that the generator is faster than what it measures.

Second part (``--station-table``): bulk-loads 1,000,000 valid reports into another election
(rows and ledger entries built in Python with :func:`pollwatch.observe.ledger.append_entry`,
inserted in chunks), rebuilds the station activity counters, and times the coordinators'
station table ``GET /api/v1/elections/{e}/dashboard/stations`` (median and p99 of 20
requests) — or, if that endpoint does not exist in this version, the equivalent SQL query on
``station_activity`` + ``stations``.

Run: ``.venv/bin/python bench/ingest.py --db both --observers 2000 --duration 60``
(``--workers 2`` for two server processes). uvicorn uses httptools and uvloop when they are
installed (``uvicorn[standard]``); the table says which HTTP stack ran. On a machine shared
with other work, give the benchmark's processes priority (they stay in one session):
``echo -10 > /proc/self/autogroup`` before running it.
Goal (on a 2-core machine): >= 1,000 accepted reports/s for 60 s with p99 < 200 ms,
zero lost, zero duplicated; the station table over 1,000,000 reports in < 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import address_sessions, client_addresses

from pollwatch.web.runtime import settled_heap

ELECTION = "bench"
BIG_ELECTION = "bench-1m"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


# --- databases and the server -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def fresh_database(kind: str, folder: Path, pg_url: str) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a new PostgreSQL schema (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'pollwatch.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    admin = psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "test",
        autocommit=True,
    )
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


class Server:
    """`pollwatch serve` as a child process (its own process group, so workers stop too;
    the same session, so it shares the benchmark's scheduling group)."""

    def __init__(
        self,
        url: str,
        home: Path,
        workers: int,
        *,
        redis_url: str = "",
        rate_limit: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url, self.home, self.workers = url, home, workers
        self.redis_url, self.rate_limit = redis_url, rate_limit
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home / "serve.log"

    def start(self) -> None:
        import httpx

        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "POLLWATCH_DATABASE_URL": self.url,
            "POLLWATCH_HOME": str(self.home),
            **self.extra_env,
        }
        # the limits as deployed: the default per-token limit unless told, counted in Redis
        # when a URL is given (shared by every worker), else in the database
        env.pop("POLLWATCH_RATE_LIMIT", None)
        env.pop("POLLWATCH_REDIS_URL", None)
        if self.rate_limit is not None:
            env["POLLWATCH_RATE_LIMIT"] = str(self.rate_limit)
        if self.redis_url:
            env["POLLWATCH_REDIS_URL"] = self.redis_url
        cmd = [sys.executable, "-m", "pollwatch", "serve", "--port", str(self.port)]
        if self.workers != 1:
            cmd += ["--workers", str(self.workers)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pollwatch serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    self.settle()
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("pollwatch serve did not start")

    def settle(self, idle: float = 0.15, longest: float = 30.0) -> None:
        """Wait until the server's processes (every worker, the station-state process) are
        done starting: under 0.15 core over half a second, so the load does not start
        against processes still importing."""
        deadline = time.monotonic() + longest
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(0.5)
            if self.cpu_seconds() - before < idle * 0.5:
                return

    def cpu_seconds(self) -> float:
        """CPU time of the server and its worker processes so far."""
        import psutil

        if self.proc is None:
            return 0.0
        try:
            parent = psutil.Process(self.proc.pid)
            procs = [parent, *parent.children(recursive=True)]
            return sum(p.cpu_times().user + p.cpu_times().system for p in procs)
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def seed(url: str, observers: int, stations: int) -> list[str]:
    """The election, its stations and one redeemed observer token per simulated observer."""
    from pollwatch.store import open_store
    from pollwatch.store.elections import create_election, import_stations
    from pollwatch.store.people import create_invites, redeem_invite

    engine = open_store(url)
    try:
        create_election(engine, ELECTION, name="Ingest benchmark")
        import_stations(engine, ELECTION, [{"station": str(i)} for i in range(1, stations + 1)])
        tokens: list[str] = []
        while len(tokens) < observers:
            batch = create_invites(engine, ELECTION, min(10_000, observers - len(tokens)))
            tokens += [redeem_invite(engine, invite.code).token for invite in batch]
        return tokens
    finally:
        engine.dispose()


# --- the load ---------------------------------------------------------------------------------


def count_body(station: str, entered: int, moment: datetime) -> dict[str, Any]:
    observed = moment.replace(microsecond=0)
    return {
        "id": str(uuid.uuid4()),
        "election": ELECTION,
        "station": station,
        "kind": "count",
        "observed_at": observed.isoformat(),
        "window_start": (observed - timedelta(minutes=30)).isoformat(),
        "window_end": observed.isoformat(),
        "entered": entered,
    }


def malformed(body: dict[str, Any], variant: int) -> tuple[bytes, str | None]:
    """A broken request body and the id it carries (if any)."""
    if variant == 0:
        return json.dumps({**body, "entered": -1}).encode(), body["id"]
    if variant == 1:
        return json.dumps({**body, "colour": "red"}).encode(), body["id"]
    if variant == 2:
        return json.dumps(body).encode()[:-7], body["id"]  # cut short: not JSON
    rest = {k: v for k, v in body.items() if k != "id"}
    return json.dumps(rest).encode(), None


@dataclass
class Tally:
    """Everything the generator saw."""

    latencies: list[float] = field(default_factory=list)  # due → answer, every request
    due_at: list[float] = field(default_factory=list)  # when each of those was due (from start)
    service: list[float] = field(default_factory=list)  # request sent → answer
    statuses: Counter[int] = field(default_factory=Counter)
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # id → 201s
    acked: set[str] = field(default_factory=set)
    sent: set[str] = field(default_factory=set)
    malformed_ids: set[str] = field(default_factory=set)
    malformed_ok: int = 0
    malformed_bad: int = 0
    retries: int = 0
    retries_ok: int = 0
    retries_bad: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    done_at: list[float] = field(default_factory=list)  # completion times of 201s
    lag: list[float] = field(default_factory=list)  # due → request started
    started_epoch: float = 0.0  # wall-clock time of the load's start (to line up server logs)


async def drive(
    base: str,
    tokens: list[str],
    stations: int,
    rate: float,
    duration: float,
    connections: int,
    retry_share: float,
    malformed_share: float,
    seed_: int,
    addresses: list[str] | None = None,
) -> tuple[Tally, float, float]:
    """Run the open-loop load; returns the tally, its wall time and the generator's CPU."""
    import aiohttp

    # The generator's own collector, like the server's (pollwatch.web.runtime): without this
    # its full collections stalled its event loop for 100+ ms, counted as service latency.
    with settled_heap():
        return await _drive(
            base,
            tokens,
            stations,
            rate,
            duration,
            connections,
            retry_share,
            malformed_share,
            seed_,
            addresses,
            aiohttp,
        )


async def _drive(
    base: str,
    tokens: list[str],
    stations: int,
    rate: float,
    duration: float,
    connections: int,
    retry_share: float,
    malformed_share: float,
    seed_: int,
    addresses: list[str] | None,
    aiohttp: Any,
) -> tuple[Tally, float, float]:

    tally = Tally()
    rng = random.Random(seed_)
    n = len(tokens)
    # each observer's mean time between reports: ``rate`` good reports per second, plus the
    # malformed ones on top
    interval = n * (1 - malformed_share) / rate
    pending: set[asyncio.Task[None]] = set()
    cpu0 = time.process_time()
    # One session per client address, so the per-address limit sees many carriers'
    # addresses as in the field, not one address sending everything (bench/loadgen.py).
    async with address_sessions(base, addresses or [], connections, 60) as sessions:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        end = start + duration
        tally.started_epoch = time.time() + 0.2

        session_of = {token: sessions[k % len(sessions)] for k, token in enumerate(tokens)}

        async def post(token: str, data: bytes, due: float) -> tuple[int, Any]:
            began = loop.time()
            tally.lag.append(began - due)
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            session = session_of[token]
            try:
                async with session.post("/api/v1/reports", data=data, headers=headers) as r:
                    payload = await r.read()
                    status = r.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                tally.errors[type(exc).__name__] += 1
                return 0, None
            now = loop.time()
            tally.latencies.append(now - due)
            tally.service.append(now - began)
            tally.due_at.append(due - start)
            tally.statuses[status] += 1
            try:
                return status, json.loads(payload)
            except ValueError:
                return status, None

        def record(body_id: str, status: int, due: float, first: bool) -> None:
            if status == 201:
                tally.created[body_id] += 1
                tally.done_at.append(loop.time() - start)
            if status in (200, 201):
                tally.acked.add(body_id)
            elif status != 0:
                tally.errors[f"HTTP {status}"] += 1

        async def good(token: str, body: dict[str, Any], due: float, retry: int) -> None:
            data = json.dumps(body).encode()
            tally.sent.add(body["id"])
            if retry == 2:  # the phone timed out and sent again while the first was in flight
                tally.retries += 1
                (s1, a1), (s2, a2) = await asyncio.gather(
                    post(token, data, due), post(token, data, due)
                )
                record(body["id"], s1, due, True)
                record(body["id"], s2, due, False)
                if {s1, s2} == {200, 201} and a1 == a2:
                    tally.retries_ok += 1
                else:
                    tally.retries_bad += 1
                return
            s1, a1 = await post(token, data, due)
            record(body["id"], s1, due, True)
            if retry == 1:  # the answer was lost on the way back: send again
                tally.retries += 1
                s2, a2 = await post(token, data, loop.time())
                record(body["id"], s2, due, False)
                if s1 == 201 and s2 == 200 and a1 == a2:
                    tally.retries_ok += 1
                else:
                    tally.retries_bad += 1

        async def bad(token: str, body: dict[str, Any], due: float, variant: int) -> None:
            data, body_id = malformed(body, variant)
            if body_id:
                tally.malformed_ids.add(body_id)
            status, answer = await post(token, data, due)
            ok = (
                400 <= status < 500
                and isinstance(answer, dict)
                and isinstance(answer.get("error"), dict)
            )
            if ok:
                tally.malformed_ok += 1
            else:
                tally.malformed_bad += 1

        async def observer(k: int) -> None:
            token = tokens[k]
            own = [str((k * 7 + j) % stations + 1) for j in range(3)]  # a few stations each
            due = start + rng.uniform(0, interval)
            entered = 0
            while due < end:
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                entered += rng.randint(0, 40)
                body = count_body(rng.choice(own), entered, datetime.now(UTC))
                roll = rng.random()
                if roll < malformed_share:
                    coro = bad(token, body, due, rng.randrange(4))
                else:
                    retry = 0
                    if roll < malformed_share + retry_share:
                        retry = 1 if rng.random() < 0.5 else 2
                    coro = good(token, body, due, retry)
                task = asyncio.create_task(coro)
                pending.add(task)
                task.add_done_callback(pending.discard)
                due += interval * rng.uniform(0.5, 1.5)

        await asyncio.gather(*(observer(k) for k in range(n)))
        if pending:
            await asyncio.gather(*list(pending))
        wall = loop.time() - start
    return tally, wall, time.process_time() - cpu0


async def ceiling(base: str, path: str, seconds: float, concurrency: int) -> float:
    """Requests per second one aiohttp client gets from ``base + path`` (closed loop)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    done = 0
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        body = json.dumps({"x": 1}).encode()

        async def worker() -> None:
            nonlocal done
            while loop.time() < end:
                request = session.get(path) if path == "/healthz" else session.post(path, data=body)
                async with request as r:
                    await r.read()
                done += 1

        t0 = loop.time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (loop.time() - t0)


STUB = r"""
import asyncio, sys
RESPONSE = (b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
            b"content-length: 11\r\n\r\n{\"ok\":true}")
class P(asyncio.Protocol):
    def connection_made(self, t): self.t = t; self.buf = b""
    def data_received(self, data):
        self.buf += data
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep: return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length": length = int(v)
            if len(rest) < length: return
            self.buf = rest[length:]
            self.t.write(RESPONSE)
async def main():
    server = await asyncio.get_running_loop().create_server(P, "127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def generator_ceiling(seconds: float, concurrency: int) -> float:
    """The load generator's own ceiling: the same client against a server that does no work."""
    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, "-c", STUB, str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert stub.stdout is not None
        stub.stdout.readline()
        return asyncio.run(ceiling(f"http://127.0.0.1:{port}", "/", seconds, concurrency))
    finally:
        stub.terminate()
        stub.wait(timeout=10)


# --- checking the database --------------------------------------------------------------------


def verify(url: str, tally: Tally) -> dict[str, Any]:
    """What the database holds against what the service acknowledged."""
    from sqlalchemy import func, select

    from pollwatch.observe.ledger import verify_ledger
    from pollwatch.store import open_store
    from pollwatch.store.reports import export_ledger_lines
    from pollwatch.store.tables import ledger, reports

    engine = open_store(url)
    try:
        with engine.connect() as conn:
            rows = Counter(
                r[0]
                for r in conn.execute(select(reports.c.id).where(reports.c.election == ELECTION))
            )
            entries = Counter(
                r[0]
                for r in conn.execute(
                    select(ledger.c.report_id).where(ledger.c.election == ELECTION)
                )
            )
            total = conn.execute(
                select(func.count()).select_from(reports).where(reports.c.election == ELECTION)
            ).scalar_one()
        chain = verify_ledger(export_ledger_lines(engine, ELECTION))
    finally:
        engine.dispose()
    stored = set(rows)
    return {
        "stored": int(total),
        "lost": len(tally.acked - stored),
        "duplicated": sum(1 for c in rows.values() if c > 1)
        + sum(1 for c in entries.values() if c > 1)
        + sum(1 for c in tally.created.values() if c > 1),
        "not_in_ledger": len(stored - set(entries)),
        "unexpected": len(stored - tally.sent),
        "malformed_stored": len(stored & tally.malformed_ids),
        "ledger_ok": chain.ok,
        "ledger_entries": chain.entries,
        "ledger_note": "" if chain.ok else chain.describe(),
    }


# --- the one-million-report station table ------------------------------------------------------


def bulk_load(url: str, total: int, stations: int, chunk: int = 20_000) -> dict[str, float]:
    """Load ``total`` valid reports into :data:`BIG_ELECTION` fast; returns timings."""
    from sqlalchemy import insert

    from pollwatch.observe.ledger import GENESIS, append_entry, canonical_dumps
    from pollwatch.observe.reports import format_timestamp
    from pollwatch.store import open_store
    from pollwatch.store.elections import create_election, import_stations
    from pollwatch.store.engine import write_transaction
    from pollwatch.store.reports import rebuild_activity
    from pollwatch.store.tables import ledger, reports

    engine = open_store(url)
    t0 = time.perf_counter()
    create_election(engine, BIG_ELECTION, name="One million reports")
    import_stations(
        engine,
        BIG_ELECTION,
        [
            {"station": str(i), "name": f"Station {i}", "registered": 2000}
            for i in range(1, stations + 1)
        ],
    )
    rng = random.Random(1)
    base = datetime(2024, 3, 17, 5, 0, tzinfo=UTC)
    received = datetime(2024, 3, 17, 18, 0, tzinfo=UTC)
    recorded = format_timestamp(received)
    prev = None
    prev_hash = GENESIS
    build = insert_time = 0.0
    kinds = ("count",) * 16 + ("status", "incident", "protocol", "count")
    for first in range(0, total, chunk):
        b0 = time.perf_counter()
        report_rows: list[dict[str, Any]] = []
        ledger_rows: list[dict[str, Any]] = []
        for k in range(first, min(total, first + chunk)):
            station = str(k % stations + 1)
            kind = kinds[k % len(kinds)]
            observed = base + timedelta(seconds=(k * 43) % 50_000)
            report: dict[str, Any] = {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "election": BIG_ELECTION,
                "station": station,
                "kind": kind,
                "observed_at": format_timestamp(observed),
            }
            if kind == "count":
                report.update(
                    window_start=format_timestamp(observed - timedelta(minutes=30)),
                    window_end=format_timestamp(observed),
                    entered=rng.randint(0, 80),
                    queue=rng.randint(0, 30),
                )
            elif kind == "status":
                report.update(status="opened" if observed.hour < 12 else "closed")
            elif kind == "incident":
                report.update(category="other", text="bench")
            else:
                report.update(figures={"registered": 2000, "valid": 900, "votes": {"A": 900}})
            canonical = canonical_dumps(report)
            entry = append_entry(prev, report["id"], canonical, recorded)
            prev, prev_hash = entry, entry.hash
            report_rows.append(
                {
                    "id": report["id"],
                    "election": BIG_ELECTION,
                    "station": station,
                    "observer_id": None,
                    "kind": kind,
                    "observed_at": observed,
                    "received_at": received,
                    "canonical": canonical,
                    "body": report,
                }
            )
            ledger_rows.append(
                {
                    "election": BIG_ELECTION,
                    "seq": entry.seq,
                    "report_id": entry.report_id,
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                    "recorded_at": recorded,
                }
            )
        b1 = time.perf_counter()
        with write_transaction(engine) as conn:
            conn.execute(insert(reports), report_rows)
            conn.execute(insert(ledger), ledger_rows)
        build += b1 - b0
        insert_time += time.perf_counter() - b1
    assert prev_hash != GENESIS
    r0 = time.perf_counter()
    rebuilt = rebuild_activity(engine, BIG_ELECTION)
    rebuild = time.perf_counter() - r0
    engine.dispose()
    return {
        "reports": total,
        "stations": rebuilt,
        "build_s": build,
        "insert_s": insert_time,
        "rebuild_s": rebuild,
        "total_s": time.perf_counter() - t0,
    }


def _timed(call: Any, requests: int) -> tuple[float, float, Any]:
    times, last = [], None
    for _ in range(requests):
        t0 = time.perf_counter()
        last = call()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times)), 1000 * float(np.quantile(times, 0.99)), last


def time_station_table(
    base: str, url: str, token: str | None, requests: int = 20
) -> dict[str, Any]:
    """Median and p99 of the station table over HTTP (whole table and one page of 100), and
    of the SQL that reads it (``stations`` joined with ``station_activity``)."""
    import httpx
    from sqlalchemy import select

    from pollwatch.store import open_store
    from pollwatch.store.tables import station_activity, stations

    path = f"/api/v1/elections/{BIG_ELECTION}/dashboard/stations"
    headers = {"authorization": f"Bearer {token}"} if token else {}
    out: dict[str, Any] = {"path": path}
    with httpx.Client(base_url=base, timeout=60) as client:
        probe = client.get(path, headers=headers)  # also warms the endpoint's caches
        out["http_status"] = probe.status_code
        if probe.status_code == 200:

            def whole() -> httpx.Response:
                r = client.get(path, headers=headers)
                r.raise_for_status()
                return r

            median, p99, last = _timed(whole, requests)
            out.update(
                median_ms=median,
                p99_ms=p99,
                stations_in_answer=len(last.json()["stations"]),
                bytes=len(last.content),
            )
            page = lambda: client.get(path, params={"limit": 100}, headers=headers)  # noqa: E731
            out["page_median_ms"], out["page_p99_ms"], _ = _timed(page, requests)
    engine = open_store(url)
    query = (
        select(stations, station_activity)
        .outerjoin(
            station_activity,
            (station_activity.c.election == stations.c.election)
            & (station_activity.c.station == stations.c.station),
        )
        .where(stations.c.election == BIG_ELECTION)
        .order_by(stations.c.station)
    )

    def read() -> int:
        with engine.connect() as conn:
            return len(conn.execute(query).all())

    out["sql_median_ms"], out["sql_p99_ms"], rows = _timed(read, requests)
    out.setdefault("stations_in_answer", rows)
    engine.dispose()
    return out


def coordinator_token(base: str, url: str) -> str | None:
    import httpx

    from pollwatch.store import open_store
    from pollwatch.store.people import add_coordinator

    engine = open_store(url)
    with contextlib.suppress(Exception):
        add_coordinator(engine, "bench", "bench passphrase 123", role="admin")
    engine.dispose()
    r = httpx.post(
        f"{base}/api/v1/login", json={"name": "bench", "password": "bench passphrase 123"}
    )
    return str(r.json()["token"]) if r.status_code == 200 else None


# --- the run ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return 1000 * float(np.quantile(values, q)) if values else float("nan")


def run_one(kind: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    with fresh_database(kind, folder, args.pg_url) as url:
        t0 = time.perf_counter()
        tokens = seed(url, args.observers, args.stations)
        seeded = time.perf_counter() - t0
        server = Server(
            url,
            folder / f"home-{kind}",
            args.workers,
            redis_url=args.redis_url,
            rate_limit=args.rate_limit,
            extra_env=dict(item.split("=", 1) for item in args.server_env),
        )
        server.start()
        try:
            health = asyncio.run(ceiling(server.base, "/healthz", 3, 64)) if args.ceiling else 0
            cpu0, db0 = server.cpu_seconds(), database_cpu_seconds(kind)
            tally, wall, gen_cpu = asyncio.run(
                drive(
                    server.base,
                    tokens,
                    args.stations,
                    args.rate,
                    args.duration,
                    args.connections,
                    args.retry_share,
                    args.malformed_share,
                    args.seed,
                    client_addresses(args.addresses, args.seed),
                )
            )
            server_cpu = server.cpu_seconds() - cpu0
            database_cpu = database_cpu_seconds(kind) - db0
            writer = writer_figures(server.base)
            checked = verify(url, tally)
            result: dict[str, Any] = {
                "db": kind,
                "workers": args.workers,
                "limits": limits_label(args),
                "addresses": args.addresses,
                "observers": args.observers,
                "target_rate": args.rate,
                "seed_s": seeded,
                "healthz_rps": health,
                "wall_s": wall,
                "accepted": sum(tally.created.values()),
                "accepted_per_s": sum(tally.created.values()) / wall,
                "requests_per_s": sum(tally.statuses.values()) / wall,
                "p50_ms": pct(tally.latencies, 0.5),
                "p99_ms": pct(tally.latencies, 0.99),
                "max_ms": pct(tally.latencies, 1.0),
                "service_p50_ms": pct(tally.service, 0.5),
                "service_p99_ms": pct(tally.service, 0.99),
                "lag_p99_ms": pct(tally.lag, 0.99),
                "statuses": dict(sorted(tally.statuses.items())),
                "errors": dict(tally.errors),
                "retries": tally.retries,
                "retries_ok": tally.retries_ok,
                "retries_bad": tally.retries_bad,
                "malformed": tally.malformed_ok + tally.malformed_bad,
                "malformed_4xx": tally.malformed_ok,
                "server_cpu_per_s": server_cpu / wall,
                "server_cpu_ms_per_request": 1000
                * server_cpu
                / max(1, sum(tally.statuses.values())),
                "database_cpu_ms_per_request": 1000
                * database_cpu
                / max(1, sum(tally.statuses.values())),
                "load_average": os.getloadavg()[0],
                "http": http_stack(),
                "generator_cpu_per_s": gen_cpu / wall,
                **writer,
                "per_10s": per_window(tally.done_at, wall, 10.0),
                "p99_per_10s": p99_per_window(tally.due_at, tally.latencies, args.duration, 10.0),
                "p99_per_1s": p99_per_window(tally.due_at, tally.latencies, args.duration, 1.0),
                "started_epoch": tally.started_epoch,
                **checked,
            }
            if args.station_table:
                loaded = bulk_load(url, args.big_reports, args.big_stations)
                token = coordinator_token(server.base, url)
                result["bulk"] = loaded
                result["station_table"] = time_station_table(server.base, url, token)
            return result
        finally:
            server.stop()


def database_cpu_seconds(kind: str) -> float:
    """CPU time of every PostgreSQL server process so far (0 for SQLite, which runs inside
    the server): on a shared machine it includes other users of the same server."""
    import psutil

    if kind != "postgresql":
        return 0.0
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("postgres", "postmaster"):
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
    return total


def writer_figures(base: str) -> dict[str, float]:
    """The group-commit writer's batches as the server's ``/metrics`` counts them (one
    worker's; the benchmark reads it from loopback, a ``metrics_from`` address)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(f"{base}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    samples = {
        (s.name, s.labels.get("le", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    batches = samples.get(("pollwatch_ingest_batch_size_count", ""), 0.0)
    if not batches:
        return {}
    commit = "pollwatch_ingest_commit_seconds"
    bounds = sorted(
        (float(le), count)
        for (name, le), count in samples.items()
        if name == f"{commit}_bucket" and le != "+Inf"
    )
    p99 = next((le for le, count in bounds if count >= 0.99 * batches), float("inf"))
    return {
        "batches": batches,
        "batch_mean": samples[("pollwatch_ingest_batch_size_sum", "")] / batches,
        "commit_mean_ms": 1000 * samples[(f"{commit}_sum", "")] / batches,
        "commit_p99_bound_ms": 1000 * p99,
    }


def limits_label(args: argparse.Namespace) -> str:
    if args.rate_limit == 0:
        return "off"
    per = "600/min" if args.rate_limit is None else f"{args.rate_limit}/min"
    return f"{per}, " + ("Redis" if args.redis_url else "database")


def p99_per_window(
    due_at: list[float], latencies: list[float], duration: float, width: float
) -> list[float]:
    """p99 latency (ms) of the requests due in each window: where in the run the tail is."""
    width = min(width, duration)
    due, lat = np.asarray(due_at), np.asarray(latencies)
    out = []
    for k in range(max(1, int(duration // width))):
        chosen = lat[(due >= k * width) & (due < (k + 1) * width)]
        out.append(round(1000 * float(np.quantile(chosen, 0.99)), 1) if len(chosen) else 0.0)
    return out


def http_stack() -> str:
    """What uvicorn picks: httptools and uvloop when installed, else h11 and asyncio."""
    import importlib.util

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{http}+{loop}"


def per_window(done_at: list[float], wall: float, width: float) -> list[float]:
    """Accepted reports per second in consecutive windows (is the rate sustained?)."""
    width = min(width, wall)
    bins = max(1, int(wall // width))
    counts = np.histogram(done_at, bins=bins, range=(0, bins * width))[0]
    return [round(float(c) / width) for c in counts]


def show(results: list[dict[str, Any]], gen: float | None) -> None:
    if gen is not None:
        print(f"load generator ceiling (aiohttp, 1 process, stub server): {gen:,.0f} req/s")
    rows = [
        ("database", "db", "{}"),
        ("server workers", "workers", "{}"),
        ("rate limits per token, in", "limits", "{}"),
        ("client addresses", "addresses", "{}"),
        ("observers", "observers", "{}"),
        ("service /healthz ceiling", "healthz_rps", "{:,.0f} req/s"),
        ("accepted (201)", "accepted", "{:,}"),
        ("accepted reports/s", "accepted_per_s", "{:,.0f}"),
        ("requests/s (with retries)", "requests_per_s", "{:,.0f}"),
        ("latency p50 (due→answer)", "p50_ms", "{:.1f} ms"),
        ("latency p99 (due→answer)", "p99_ms", "{:.1f} ms"),
        ("latency max", "max_ms", "{:.1f} ms"),
        ("sent→answer p50", "service_p50_ms", "{:.1f} ms"),
        ("sent→answer p99", "service_p99_ms", "{:.1f} ms"),
        ("generator lag p99", "lag_p99_ms", "{:.1f} ms"),
        ("lost", "lost", "{}"),
        ("duplicated", "duplicated", "{}"),
        ("retries 200 + same body", "retries_ok", "{}"),
        ("retries wrong", "retries_bad", "{}"),
        ("malformed sent / got 4xx", "malformed", "{}"),
        ("malformed 4xx", "malformed_4xx", "{}"),
        ("malformed stored", "malformed_stored", "{}"),
        ("stored but never sent", "unexpected", "{}"),
        ("ledger verifies", "ledger_ok", "{}"),
        ("ledger entries", "ledger_entries", "{:,}"),
        ("writer batches", "batches", "{:,.0f}"),
        ("reports per batch (mean)", "batch_mean", "{:.1f}"),
        ("batch store+commit mean", "commit_mean_ms", "{:.1f} ms"),
        ("batch store+commit p99 ≤", "commit_p99_bound_ms", "{:.0f} ms"),
        ("server CPU (cores)", "server_cpu_per_s", "{:.2f}"),
        ("server CPU per request", "server_cpu_ms_per_request", "{:.2f} ms"),
        ("PostgreSQL CPU per request", "database_cpu_ms_per_request", "{:.2f} ms"),
        ("HTTP stack", "http", "{}"),
        ("load average after (1 min)", "load_average", "{:.1f}"),
        ("generator CPU (cores)", "generator_cpu_per_s", "{:.2f}"),
    ]
    width = 28
    print()
    for label, key, fmt in rows:
        cells = [fmt.format(r[key]) if key in r else "-" for r in results]
        print(f"{label:<{width}}" + "".join(f"{c:>22}" for c in cells))
    for r in results:
        print(f"\n[{r['db']}] accepted/s per 10 s window: {r['per_10s']}")
        print(f"[{r['db']}] latency p99 (ms) per 10 s window: {r['p99_per_10s']}")
        print(f"[{r['db']}] latency p99 (ms) per 1 s window: {r['p99_per_1s']}")
        print(f"[{r['db']}] statuses: {r['statuses']}  errors: {r['errors'] or 'none'}")
        if "bulk" in r:
            b, s = r["bulk"], r["station_table"]
            print(
                f"[{r['db']}] bulk load {b['reports']:,} reports: {b['total_s']:.1f} s "
                f"(build {b['build_s']:.1f} s, insert {b['insert_s']:.1f} s, "
                f"rebuild_activity {b['rebuild_s']:.1f} s, {b['stations']:,} stations)"
            )
            if "median_ms" in s:
                print(
                    f"[{r['db']}] station table over HTTP ({s['stations_in_answer']:,} stations, "
                    f"{s['bytes']:,} bytes): median {s['median_ms']:.1f} ms, p99 "
                    f"{s['p99_ms']:.1f} ms; one page of 100: median {s['page_median_ms']:.1f} ms"
                    f", p99 {s['page_p99_ms']:.1f} ms"
                )
            else:
                print(f"[{r['db']}] station table endpoint answered HTTP {s['http_status']}")
            print(
                f"[{r['db']}] station table SQL (stations ⟕ station_activity): median "
                f"{s['sql_median_ms']:.1f} ms, p99 {s['sql_p99_ms']:.1f} ms"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--observers", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="valid new reports per second offered"
    )
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="pollwatch serve --workers")
    parser.add_argument("--connections", type=int, default=256, help="client connection pool")
    parser.add_argument("--retry-share", type=float, default=0.2)
    parser.add_argument("--malformed-share", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--pg-url", default=os.environ.get("POLLWATCH_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--no-ceiling", dest="ceiling", action="store_false")
    parser.add_argument("--station-table", action="store_true", help="also the 1M-report part")
    parser.add_argument("--big-reports", type=int, default=1_000_000)
    parser.add_argument("--big-stations", type=int, default=5_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="POLLWATCH_REDIS_URL for the server's limits ('' = count in the database)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        help="POLLWATCH_RATE_LIMIT for the server (default: the service's default; 0 = off)",
    )
    parser.add_argument(
        "--addresses",
        type=int,
        default=64,
        help="client source addresses on loopback (observers spread over them, like carriers)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server (for A/B runs of a setting)",
    )
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    print("command: " + " ".join([sys.executable, *sys.argv]))
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    gen = generator_ceiling(3, 64) if args.ceiling else None
    results = []
    with tempfile.TemporaryDirectory(prefix="pollwatch-bench-") as tmp:
        for kind in kinds:
            folder = Path(tmp) / kind
            folder.mkdir()
            results.append(run_one(kind, args, folder))
    show(results, gen)
    if args.json:
        args.json.write_text(json.dumps({"generator_rps": gen, "runs": results}, indent=2))
    bad = any(
        r["lost"] or r["duplicated"] or r["malformed_stored"] or not r["ledger_ok"] for r in results
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
