"""A restart at a million reports: how long the first dashboard requests take, and refreshes.

Builds an election of ``--reports`` reports over ``--stations`` stations by bulk insert
(rows written straight through the database driver: SQLite ``executemany``, PostgreSQL
``COPY``), as a day of observation would leave it: per station three observers count the
door in 15-minute windows from 07:00 to 21:00 UTC (the same windows, so the master record
keeps one of each; in 3 % of windows one observer's count differs: a conflict), each
reports the station opened and closed, each copies the protocol (2 % of stations with one
disagreeing figure), and the rest are incidents — 200 reports per station by default.
The ledger rows are chained with a plain SHA-256 of the previous hash and the report id
(the real format costs a minute more and nothing here verifies it); each report arrives
one second to ten minutes after it was observed.

Then, as the service would have left it running, the station counters
(``rebuild_activity``), the stored merged state (``update_station_state``: every station
merged once — that time is what each restart cost before issue 16) and the comparison
table's rows (``refresh_comparison``: every station estimated once, as the background
keeper does once a coordinator has opened the table), and:

1. restarts ``pollwatch serve`` on that database and, as soon as ``/healthz`` answers, sends
   the requests of the coordinators' dashboard that read the merged state (stations,
   activity, conflicts) at once: the first-load time is when the last one answered;
2. restarts it again for each endpoint alone (its own cold time), the comparison table too
   (its cost is the turnout estimate of every station, not merging: see docs/deploy.md);
3. steady refreshes: ``--refreshes`` page loads, each after ``--new`` new reports were
   stored by another process (median and p99 of the whole page and of each endpoint), each
   as the dashboard refreshes (the stations changed since its last answer's ``version``,
   the first 200 conflicts by priority; ``--full-refresh``: every station and conflict), and
   the comparison table warm: once more with nothing new, and after ``--new`` new reports.

A last line per database sums it up (``SUMMARY``): restart first load, steady refresh
median/p99, comparison table first and warm request.

Every figure is printed with the load average, since the machine may be shared, and with
the CPU seconds the server process spent on it (which a busy machine does not inflate as
much as the wall-clock time).

Run: ``.venv/bin/python bench/restart.py --db both`` (``--reports 100000`` for a quick look;
``--no-comparison`` to leave the comparison table out).
Goal: the first dashboard load under 2 s, steady refreshes under 300 ms.
Files: a temporary folder (SQLite) or a new PostgreSQL schema, removed at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import DEFAULT_PG_URL, Server, coordinator_token, fresh_database

ELECTION = "restart"
ENDPOINTS = ("dashboard/stations", "dashboard/activity", "dashboard/conflicts")
COMPARISON = "dashboard/comparison"
DAY = datetime(2024, 3, 17, tzinfo=UTC)
RECEIVED = datetime(2024, 3, 17, 21, 30, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def station_day(rng: random.Random, station: str, per_station: int) -> list[dict[str, Any]]:
    """One station's reports (bodies), ``per_station`` of them, in time order."""
    out: list[dict[str, Any]] = []

    def new(kind: str, at: datetime, **fields: Any) -> None:
        out.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "election": ELECTION,
                "station": station,
                "kind": kind,
                "observed_at": _iso(at),
                **fields,
            }
        )

    opened, closed = DAY + timedelta(hours=7), DAY + timedelta(hours=21)
    for _observer in range(3):
        new("status", opened, status="opened")
    windows = int((closed - opened).total_seconds() // 900)
    for w in range(windows):
        start = opened + timedelta(minutes=15 * w)
        end = start + timedelta(minutes=15)
        entered = rng.randint(0, 40)
        for observer in range(3):
            differs = observer == 2 and rng.random() < 0.03
            new(
                "count",
                end,
                window_start=_iso(start),
                window_end=_iso(end),
                entered=entered + differs,
                queue=rng.randint(0, 20),
            )
    for _observer in range(3):
        new("status", closed, status="closed")
    valid = rng.randint(600, 1200)
    odd = rng.random() < 0.02
    for observer in range(3):
        v = valid + (odd and observer == 2)
        new(
            "protocol",
            closed + timedelta(minutes=30),
            figures={"registered": 2000, "valid": v, "invalid": 0, "votes": {"A": v}},
        )
    while len(out) < per_station:
        new(
            "incident",
            opened + timedelta(minutes=rng.randint(0, 14 * 60)),
            category="other",
            text="bench",
        )
    return sorted(out[:per_station], key=lambda b: b["observed_at"])


def _stored(moment: datetime, sqlite: bool) -> str:
    """A timestamp as the column stores it (SQLAlchemy's SQLite format; ISO for COPY)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else moment.isoformat()


def bulk_build(url: str, total: int, stations: int) -> dict[str, float]:
    """Create the election and insert ``total`` reports and their ledger rows."""
    from pollwatch.observe.ledger import GENESIS, canonical_dumps
    from pollwatch.store import open_store
    from pollwatch.store.elections import create_election, import_stations
    from pollwatch.store.engine import is_sqlite

    engine = open_store(url)
    create_election(engine, ELECTION, name="Restart benchmark")
    import_stations(
        engine,
        ELECTION,
        [{"station": f"{i:05d}", "registered": 2000} for i in range(1, stations + 1)],
    )
    sqlite = is_sqlite(engine)
    rng = random.Random(1)
    per_station = total // stations
    recorded = _iso(RECEIVED)
    prev, seq = GENESIS, 0
    build = insert_s = 0.0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for first in range(0, stations, 500):
            b0 = time.perf_counter()
            report_rows, ledger_rows = [], []
            for i in range(first + 1, min(stations, first + 500) + 1):
                for body in station_day(rng, f"{i:05d}", per_station):
                    canonical = canonical_dumps(body)
                    seq += 1
                    digest = hashlib.sha256(f"{prev}{body['id']}".encode()).hexdigest()
                    observed = datetime.fromisoformat(body["observed_at"])
                    received = observed + timedelta(seconds=rng.randint(1, 600))
                    report_rows.append(
                        (
                            body["id"], ELECTION, body["station"], None, body["kind"],
                            _stored(observed, sqlite), _stored(received, sqlite),
                            canonical, canonical, False,
                        )
                    )  # fmt: skip
                    ledger_rows.append((ELECTION, seq, body["id"], prev, digest, recorded, 1))
                    prev = digest
            b1 = time.perf_counter()
            build += b1 - b0
            columns = "id, election, station, observer_id, kind, observed_at, received_at, "
            columns += "canonical, body, public"
            ledger_columns = "election, seq, report_id, prev_hash, hash, recorded_at, version"
            if sqlite:
                cur.execute("BEGIN")  # the driver runs in autocommit: one transaction per chunk
                cur.executemany(
                    f"INSERT INTO reports ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?)", report_rows
                )
                cur.executemany(
                    f"INSERT INTO ledger ({ledger_columns}) VALUES (?,?,?,?,?,?,?)", ledger_rows
                )
            else:
                with cur.copy(f"COPY reports ({columns}) FROM STDIN") as copy:
                    for row in report_rows:
                        copy.write_row(row)
                with cur.copy(f"COPY ledger ({ledger_columns}) FROM STDIN") as copy:
                    for row in ledger_rows:
                        copy.write_row(row)
            raw.commit()
            insert_s += time.perf_counter() - b1
    finally:
        raw.close()
    if not sqlite:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {"reports": seq, "build_s": build, "insert_s": insert_s}


def settle(url: str) -> dict[str, float]:
    """What the running service would have kept along the way: counters and merged state."""
    from pollwatch.store import open_store
    from pollwatch.store.comparison import refresh_comparison
    from pollwatch.store.reports import rebuild_activity
    from pollwatch.store.state_keeper import update_station_state

    engine = open_store(url)
    t0 = time.perf_counter()
    rebuild_activity(engine, ELECTION)
    t1 = time.perf_counter()
    merged = update_station_state(engine, ELECTION)
    t2 = time.perf_counter()
    refresh_comparison(engine, ELECTION, force=True)  # a coordinator opened the table
    t3 = time.perf_counter()
    engine.dispose()
    return {
        "rebuild_activity_s": t1 - t0,
        "merge_all_s": t2 - t1,
        "merged": merged,
        "estimate_all_s": t3 - t2,
    }


def _get(base: str, token: str, path: str) -> tuple[float, int, bytes]:
    import httpx

    t0 = time.perf_counter()
    r = httpx.get(
        f"{base}/api/v1/elections/{ELECTION}/{path}",
        headers={"authorization": f"Bearer {token}"},
        timeout=1200,
    )
    return time.perf_counter() - t0, r.status_code, r.content


CONFLICT_PAGE = 200
"""Conflicts the dashboard asks for per refresh (web/static/dashboard.js CONFLICT_PAGE)."""


def page(base: str, token: str, seen: dict[str, int] | None = None) -> dict[str, float]:
    """The dashboard's requests at once; seconds each and until the last answered.

    With ``seen`` as the dashboard refreshes (web/static/dashboard.js): the stations changed
    since the version of its last answer (kept in ``seen``) and the first conflicts by
    priority; without, the full answers (every station, every conflict)."""
    paths = dict(zip(ENDPOINTS, ENDPOINTS, strict=True))
    if seen is not None:
        if "version" in seen:
            paths["dashboard/stations"] = f"dashboard/stations?since={seen['version']}"
        paths["dashboard/conflicts"] = f"dashboard/conflicts?limit={CONFLICT_PAGE}"
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(ENDPOINTS)) as pool:
        answers = dict(
            zip(ENDPOINTS, pool.map(lambda p: _get(base, token, paths[p]), ENDPOINTS), strict=True)
        )
    out = {"page": time.perf_counter() - t0}
    for path, (took, status, body) in answers.items():
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        out[path] = took
        out[f"{path} bytes"] = len(body)
    if seen is not None:
        seen["version"] = int(json.loads(answers["dashboard/stations"][2])["version"])
    return out


def add_reports(url: str, n: int, rng: random.Random, stations: int) -> None:
    """``n`` new count reports on random stations, stored by another process's writer path."""
    from pollwatch.store import make_engine
    from pollwatch.store.reports import store_reports

    engine = make_engine(url)
    items = []
    for _ in range(n):
        start = DAY + timedelta(hours=20, minutes=15 * rng.randint(0, 3))
        body = {
            "id": str(uuid.uuid4()),
            "election": ELECTION,
            "station": f"{rng.randint(1, stations):05d}",
            "kind": "count",
            "observed_at": _iso(start + timedelta(minutes=15)),
            "window_start": _iso(start),
            "window_end": _iso(start + timedelta(minutes=15)),
            "entered": rng.randint(0, 40),
        }
        items.append((body, None))
    store_reports(engine, items, now=RECEIVED)
    engine.dispose()


def _built(url: str) -> bool:
    from sqlalchemy import select

    from pollwatch.store import open_store
    from pollwatch.store.tables import elections

    engine = open_store(url)
    with engine.connect() as conn:
        found = conn.execute(select(elections.c.id).where(elections.c.id == ELECTION)).first()
    engine.dispose()
    return found is not None


def restart_run(kind: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    if args.reuse:
        return measure(kind, args.reuse, args, folder)
    with fresh_database(kind, folder, args.pg_url) as url:
        return measure(kind, url, args, folder)


def measure(kind: str, url: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"db": kind}
    if not _built(url):
        result["build"] = bulk_build(url, args.reports, args.stations)
        result["settle"] = settle(url)
        b, s = result["build"], result["settle"]
        print(
            f"[{kind}] {b['reports']:,} reports, {args.stations:,} stations: bulk build "
            f"{b['build_s']:.0f} s + insert {b['insert_s']:.0f} s; rebuild_activity "
            f"{s['rebuild_activity_s']:.1f} s; merging every station once "
            f"{s['merge_all_s']:.1f} s ({s['merged']:,} stations; what every restart cost "
            f"before); estimating every station's comparison row once "
            f"{s['estimate_all_s']:.1f} s — load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    else:
        # A reused database: the last refreshes of an earlier run may have stopped the
        # server before its station-state process stored them; store them now, as a
        # service that kept running would have (else the first load below merges them).
        from pollwatch.store import open_store
        from pollwatch.store.state_keeper import update_station_state

        engine = open_store(url)
        t0 = time.perf_counter()
        merged = update_station_state(engine, ELECTION)
        engine.dispose()
        print(
            f"[{kind}] reused database: {merged:,} stations left unstored by an earlier run "
            f"stored in {time.perf_counter() - t0:.1f} s — load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    server = Server(url, folder / f"home-{kind}", 1)
    server.start()
    try:
        token = coordinator_token(server.base, url)
        if token is None:
            raise RuntimeError("no coordinator token")
    finally:
        server.stop()
    # 1. the page's requests at once, first thing after a restart
    server.start()
    try:
        cpu = server.cpu_seconds()
        f = result["first_page"] = page(server.base, token)
        f["server_cpu"] = server.cpu_seconds() - cpu
        parts = ", ".join(f"{p.split('/')[-1]} {1000 * f[p]:.0f} ms" for p in ENDPOINTS)
        print(
            f"[{kind}] first dashboard load after a restart (stations, activity, conflicts at "
            f"once): {1000 * f['page']:.0f} ms ({parts}); server CPU {f['server_cpu']:.2f} s "
            f"— load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    finally:
        server.stop()
    # 2. each endpoint alone, first thing after a restart
    result["first_alone"] = {}
    for path in (*ENDPOINTS, COMPARISON) if args.comparison else ENDPOINTS:
        server.start()
        try:
            cpu = server.cpu_seconds()
            took = _get(server.base, token, path)[0]
            used = server.cpu_seconds() - cpu
            result["first_alone"][path] = {"s": took, "server_cpu": used}
            print(
                f"[{kind}] {path} alone, first after a restart: {1000 * took:.0f} ms, "
                f"server CPU {used:.2f} s — load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        finally:
            server.stop()
    # 3. steady refreshes with new reports in between
    server.start()
    rng = random.Random(2)
    try:
        seen: dict[str, int] | None = None if args.full_refresh else {}
        page(server.base, token, seen)  # the page's first load
        runs = []
        cpu = 0.0
        for _ in range(args.refreshes):
            if args.new:
                add_reports(url, args.new, rng, args.stations)
            before = server.cpu_seconds()
            runs.append(page(server.base, token, seen))
            cpu += server.cpu_seconds() - before
        result["steady_server_cpu_per_page"] = cpu / max(1, args.refreshes)
        st = result["steady"] = {
            key: (
                1000 * float(np.median([r[key] for r in runs])),
                1000 * float(np.quantile([r[key] for r in runs], 0.99)),
            )
            for key in ("page", *ENDPOINTS)
        }
        parts = ", ".join(
            f"{p.split('/')[-1]} {st[p][0]:.0f}/{st[p][1]:.0f} "
            f"({np.median([r[f'{p} bytes'] for r in runs]) / 1024:.0f} KiB)"
            for p in ENDPOINTS
        )
        how = "full answers" if args.full_refresh else "as the dashboard: since=, conflicts limit"
        print(
            f"[{kind}] steady refreshes ({args.refreshes}, {args.new} new reports before "
            f"each; {how}): page median {st['page'][0]:.0f} ms, p99 {st['page'][1]:.0f} ms; "
            f"median/p99 ms {parts}; server CPU per page "
            f"{result['steady_server_cpu_per_page']:.2f} s — load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if args.comparison:
            _get(server.base, token, COMPARISON)  # this process's first, as after a restart
            took = result["comparison_warm"] = _get(server.base, token, COMPARISON)[0]
            print(
                f"[{kind}] comparison again, nothing new: {1000 * took:.0f} ms "
                f"— load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if args.new:
                add_reports(url, args.new, rng, args.stations)
            took = result["comparison_new"] = _get(server.base, token, COMPARISON)[0]
            print(
                f"[{kind}] comparison after {args.new} new reports: {1000 * took:.0f} ms "
                f"— load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        server.stop()
    _summary(kind, result)
    return result


def _summary(kind: str, result: dict[str, Any]) -> None:
    """One line per database with the figures docs/deploy.md shows."""
    parts = [f"restart first load {result['first_page']['page']:.2f} s"]
    median, p99 = result["steady"]["page"]
    parts.append(f"steady refresh median {median:.0f} ms / p99 {p99:.0f} ms")
    first = result["first_alone"].get(COMPARISON)
    if first is not None:
        parts.append(f"comparison first {first['s']:.2f} s")
    if "comparison_warm" in result:
        parts.append(
            f"warm {1000 * result['comparison_warm']:.0f} ms, after new reports "
            f"{1000 * result['comparison_new']:.0f} ms"
        )
    print(f"[{kind}] SUMMARY: {'; '.join(parts)} — load {os.getloadavg()[0]:.1f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--stations", type=int, default=5_000)
    parser.add_argument("--refreshes", type=int, default=20)
    parser.add_argument("--new", type=int, default=50, help="new reports before each refresh")
    parser.add_argument("--pg-url", default=os.environ.get("POLLWATCH_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--reuse", help="database URL to use (and fill on first use) instead of a fresh one"
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="steady refreshes ask for the full answers (every station and conflict), as "
        "the dashboard did before ?since= and the conflict page",
    )
    parser.add_argument(
        "--no-comparison",
        dest="comparison",
        action="store_false",
        help="leave out the comparison table (first request, warm, after new reports)",
    )
    args = parser.parse_args(argv)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results = []
    with tempfile.TemporaryDirectory(prefix="pollwatch-restart-") as tmp:
        for kind in kinds:
            folder = Path(tmp) / kind
            folder.mkdir()
            results.append(restart_run(kind, args, folder))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
