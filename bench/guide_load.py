"""The voter guide under a crowd while observers report: both measured in the same run.

Starts ``pollwatch serve`` (a subprocess with the default rate limits counted in Redis, a
fresh SQLite file or PostgreSQL schema; the server parts come from ``bench/ingest.py``),
seeds an election with a registry of ``--stations`` stations and ``--observers`` observer
tokens, stores one count per station so every page has a status, then drives two open-loop
streams at once for ``--duration`` seconds from ``--clients`` aiohttp processes (one sends
the reports alone, so that the crowd cannot delay them in the generator; the others share
the reads; each process's heap frozen like the server's, and its own lag printed):

* readers: ``--read-rate`` requests/s, ``--status-share`` of them to the public status
  endpoint ``GET /api/v1/public/elections/{e}/stations/{s}/status``, the rest to station
  pages ``GET /guide/{e}/{s}`` (random stations, a fifth in Russian);
* observers: ``--report-rate`` count reports/s to ``POST /api/v1/reports``.

Latency is measured from when a request was due (open loop: a slow answer does not delay the
next request), so queueing in the generator counts against the service. The generator's own
ceiling (the same client against a stub server that does no work) is printed beside the
figures, to show the instrument is faster than what it measures.

Goal (issue 12): ≥ 2,000 reads/s with p99 < 100 ms while 200 reports/s keep p99 < 200 ms.
Run: ``.venv/bin/python bench/guide_load.py --db sqlite --workers 1 --duration 20``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import Server, count_body, fresh_database, generator_ceiling
from loadgen import address_sessions, client_addresses

ELECTION = "bench"  # the same election id as bench/ingest.py's helpers use
CITIES = ("Белград", "Нови Сад", "Берлин", "Париж", "Москва", "Казань", "Вена", "Прага")


@dataclass
class Stream:
    """What one stream of requests saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    lag: list[float] = field(default_factory=list)  # due → sent: the generator's own delay
    due: list[float] = field(default_factory=list)  # when each answered request was due (s)

    def add(self, status: int, latency: float, due: float = 0.0) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(latency)
        self.due.append(due)

    def windows(self, width: float = 10.0) -> list[float]:
        """p99 (ms) of the requests due in each ``width``-second window of the run: a
        release time crossed, a collection, a rebuild show where they happened."""
        by: dict[int, list[float]] = {}
        for due, latency in zip(self.due, self.latencies, strict=True):
            by.setdefault(int(due // width), []).append(latency)
        out = []
        for k in sorted(by):
            ordered = sorted(by[k])
            out.append(round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1))
        return out

    def line(self, name: str, wall: float) -> str:
        ordered = sorted(self.latencies)
        if not ordered:
            return f"{name:14} no answers"

        def q(p: float) -> float:
            return 1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))]

        lag = sorted(self.lag)
        lag99 = 1000 * lag[min(len(lag) - 1, int(0.99 * len(lag)))] if lag else float("nan")
        return (
            f"{name:14} {len(ordered) / wall:8.0f}/s  p50 {q(0.5):6.1f} ms  p99 {q(0.99):7.1f} ms"
            f"  max {1000 * ordered[-1]:7.1f} ms  statuses {dict(sorted(self.statuses.items()))}"
            f"  errors {self.errors}  generator lag p99 {lag99:.1f} ms"
        )


def seed(url: str, stations: int, observers: int) -> list[str]:
    """Registry, tokens, and one count per station stored 20 minutes ago (visible)."""
    from pollwatch.store import open_store
    from pollwatch.store.elections import create_election, import_stations
    from pollwatch.store.people import create_invites, redeem_invite
    from pollwatch.store.reports import store_report

    engine = open_store(url)
    try:
        create_election(engine, ELECTION, name="Guide benchmark")
        rng = random.Random(1)
        import_stations(
            engine,
            ELECTION,
            [
                {
                    "station": str(i),
                    "name": f"УИК №{i}",
                    "city": CITIES[i % len(CITIES)],
                    "address": f"ул. Ленина, {rng.randint(1, 120)}",
                    "lat": 44 + rng.random() * 10,
                    "lon": 14 + rng.random() * 30,
                    "ballots_received": 2000,
                }
                for i in range(1, stations + 1)
            ],
        )
        tokens = [
            redeem_invite(engine, invite.code).token
            for invite in create_invites(engine, ELECTION, observers)
        ]
        from pollwatch.store import observer_for_token

        first = observer_for_token(engine, tokens[0])
        past = datetime.now(UTC) - timedelta(minutes=20)
        for i in range(1, stations + 1):
            body = {**count_body(str(i), 60, past), "queue": rng.randint(0, 120)}
            store_report(engine, body, observer=first, now=past)
        return tokens
    finally:
        engine.dispose()


def drive_process(args: tuple[Any, ...]) -> Any:
    """One generator process's share of the load (run in a process pool), with its heap
    frozen like the server's (a full collection in the generator would count as latency)."""
    from pollwatch.web.runtime import settled_heap

    with settled_heap():
        return asyncio.run(drive(*args))


async def drive(
    base: str,
    tokens: list[str],
    stations: int,
    read_rate: float,
    status_share: float,
    report_rate: float,
    duration: float,
    connections: int,
    seed_: int = 7,
    addresses: tuple[str, ...] = ("127.0.0.1",),
) -> tuple[Stream, Stream, Stream, float]:
    import aiohttp

    pages, status, reports = Stream(), Stream(), Stream()
    rng = random.Random(seed_)
    tasks: set[asyncio.Task[None]] = set()
    # one session per client address: the per-address limit sees carriers, not one host
    async with address_sessions(base, addresses, connections, 30) as sessions:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        end = start + duration

        async def get(path: str, headers: dict[str, str], due: float, into: Stream) -> None:
            into.lag.append(loop.time() - due)
            s = sessions[rng.randrange(len(sessions))]
            try:
                async with s.get(path, headers=headers) as r:
                    await r.read()
                    into.add(r.status, loop.time() - due, due - start)
            except (TimeoutError, aiohttp.ClientError):
                into.errors += 1

        async def post(token: str, body: bytes, due: float) -> None:
            reports.lag.append(loop.time() - due)
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
            s = sessions[hash(token) % len(sessions)]
            try:
                async with s.post("/api/v1/reports", data=body, headers=headers) as r:
                    await r.read()
                    reports.add(r.status, loop.time() - due, due - start)
            except (TimeoutError, aiohttp.ClientError):
                reports.errors += 1

        def launch(coro: object) -> None:
            task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        async def readers() -> None:
            if read_rate <= 0:
                return
            due = start
            while due < end:
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                station = rng.randint(1, stations)
                if rng.random() < status_share:
                    path = f"/api/v1/public/elections/{ELECTION}/stations/{station}/status"
                    launch(get(path, {}, due, status))
                else:
                    lang = {"accept-language": "ru"} if rng.random() < 0.2 else {}
                    launch(get(f"/guide/{ELECTION}/{station}", lang, due, pages))
                due += rng.expovariate(read_rate)

        async def observers() -> None:
            if report_rate <= 0:
                return
            due = start
            entered = 100
            while due < end:
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                entered += 1
                station = str(rng.randint(1, stations))
                body = {**count_body(station, entered, datetime.now(UTC)), "queue": 30}
                launch(post(rng.choice(tokens), json.dumps(body).encode(), due))
                due += rng.expovariate(report_rate)

        t0 = loop.time()
        await asyncio.gather(readers(), observers())
        while tasks:
            await asyncio.gather(*list(tasks))
        wall = loop.time() - t0
    return pages, status, reports, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--observers", type=int, default=200)
    parser.add_argument("--read-rate", type=float, default=2000.0)
    parser.add_argument("--status-share", type=float, default=0.3)
    parser.add_argument("--report-rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument(
        "--clients",
        type=int,
        default=3,
        help="generator processes: one sends the reports, the others share the reads",
    )
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
        "--addresses", type=int, default=16, help="client source addresses on loopback"
    )
    parser.add_argument(
        "--wrk",
        action="store_true",
        help="drive the reads with wrk (closed loop, as fast as the service answers) while "
        "aiohttp sends the reports open loop",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server (for A/B runs of a setting)",
    )
    args = parser.parse_args()
    print("command: " + " ".join([sys.executable, *sys.argv]), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at start on {os.cpu_count()} cores", flush=True)

    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(args.db, Path(tmp), args.pg_url) as url,
    ):
        tokens = seed(url, args.stations, args.observers)
        server = Server(
            url,
            Path(tmp) / "home",
            args.workers,
            redis_url=args.redis_url,
            rate_limit=args.rate_limit,
            extra_env=dict(item.split("=", 1) for item in args.server_env),
        )
        server.start()
        try:
            import httpx

            with httpx.Client(base_url=server.base, timeout=60) as client:
                for _ in range(args.workers):  # the caches warm (most workers get each)
                    for i in range(1, args.stations + 1):
                        client.get(f"/guide/{ELECTION}/{i}")
                        client.get(f"/guide/{ELECTION}/{i}", headers={"accept-language": "ru"})
                        client.get(f"/api/v1/public/elections/{ELECTION}/stations/{i}/status")
            cpu0, t0 = server.cpu_seconds(), time.monotonic()
            started = datetime.now(UTC).strftime("%H:%M:%S")
            if args.wrk:
                run_wrk(server.base, tokens, args, Path(tmp))
                return
            # process 0 sends the reports alone, so the crowd's load on the generator cannot
            # delay them; the others share the reads
            n = max(1, args.clients - 1)
            sources = client_addresses(args.addresses, 7)
            shares = [
                (server.base, tokens, args.stations, 0.0, 0.0, args.report_rate,
                 args.duration, 64, 7, tuple(sources))
            ] + [
                (server.base, tokens, args.stations, args.read_rate / n, args.status_share,
                 0.0, args.duration, args.connections // n, 8 + k, tuple(sources))
                for k in range(n)
            ]  # fmt: skip
            with ProcessPoolExecutor(len(shares)) as pool:
                parts = list(pool.map(drive_process, shares))
            pages, status, reports = Stream(), Stream(), Stream()
            for p, st, r, _ in parts:
                for into, part in ((pages, p), (status, st), (reports, r)):
                    into.latencies += part.latencies
                    into.due += part.due
                    into.lag += part.lag
                    into.errors += part.errors
                    for code, count in part.statuses.items():
                        into.statuses[code] = into.statuses.get(code, 0) + count
            wall = max(part[3] for part in parts)
            cpu = server.cpu_seconds() - cpu0
            elapsed = time.monotonic() - t0
        finally:
            server.stop()
    ceiling = generator_ceiling(5, 64)  # one process; --clients of them drive the reads
    out = sys.stdout
    out.write(
        f"guide load, {args.db}, {args.workers} worker(s), {args.stations} stations, "
        f"{args.duration:.0f} s; asked {args.read_rate:.0f} reads/s "
        f"({args.status_share:.0%} status API) + {args.report_rate:.0f} reports/s\n"
    )
    out.write(pages.line("station pages", wall) + "\n")
    out.write(status.line("status API", wall) + "\n")
    reads = Stream(
        pages.latencies + status.latencies,
        {},
        pages.errors + status.errors,
        pages.lag + status.lag,
        pages.due + status.due,
    )
    out.write(reads.line("all reads", wall) + "\n")
    out.write(reports.line("reports", wall) + "\n")
    out.write(f"reads p99 (ms) per 10 s window: {reads.windows()}\n")
    out.write(f"reports p99 (ms) per 10 s window: {reports.windows()}\n")
    out.write(f"started {started} UTC (release times move at minutes ending in 0)\n")
    answered = len(pages.latencies) + len(status.latencies) + len(reports.latencies)
    out.write(
        f"server CPU {cpu / elapsed:.2f} cores, {1000 * cpu / max(1, answered):.2f} ms per "
        f"answer; generator ceiling {ceiling:.0f} req/s per process, {args.clients - 1} "
        f"reading processes and one reporting; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores\n"
    )


WRK_SCRIPT = """
math.randomseed(7)
local stations, share = %d, %f
request = function()
  local s = math.random(1, stations)
  if math.random() < share then
    return wrk.format("GET", "/api/v1/public/elections/%s/stations/" .. s .. "/status")
  end
  return wrk.format("GET", "/guide/%s/" .. s)
end
"""


def run_wrk(base: str, tokens: list[str], args: argparse.Namespace, tmp: Path) -> None:
    """Reads by wrk (two threads, ``--connections``) and reports by aiohttp, at once."""
    import subprocess

    script = tmp / "reads.lua"
    script.write_text(WRK_SCRIPT % (args.stations, args.status_share, ELECTION, ELECTION))
    cmd = [
        "wrk",
        "-t2",
        f"-c{args.connections}",
        f"-d{int(args.duration)}s",
        "--latency",
        "-s",
        str(script),
        base,
    ]
    wrk = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    _, _, reports, wall = asyncio.run(
        drive(base, tokens, args.stations, 0.0, 0.0, args.report_rate, args.duration, 64)
    )
    out, _ = wrk.communicate(timeout=args.duration + 60)
    sys.stdout.write(f"reads by wrk (closed loop, {args.connections} connections):\n{out}")
    sys.stdout.write(reports.line("reports", wall) + "\n")
    sys.stdout.write(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")


if __name__ == "__main__":
    main()
