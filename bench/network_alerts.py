"""How long the dashboard's alerts, coverage and open-incident list take on a busy day.

Builds an election of ``--stations`` stations spread over twelve time zones, each open now,
with an observer sending a status, hourly count windows and an incident now and then over
the day so far (``--per-station`` reports each; a tenth of the stations fall silent), stores
it in SQLite (or ``--url``), and times the uncached answers of
:func:`pollwatch.store.alerts.election_alerts`, :func:`~pollwatch.store.alerts.election_coverage`
and :func:`pollwatch.store.incidents.list_incidents`.

Usage: ``python bench/network_alerts.py [--stations 300] [--per-station 60] [--url URL]``
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pollwatch.store import (
    create_election,
    create_invites,
    import_stations,
    observer_for_token,
    open_store,
    redeem_invite,
)
from pollwatch.store.alerts import election_alerts, election_coverage
from pollwatch.store.incidents import list_incidents
from pollwatch.store.reports import store_reports

ZONES = (
    "America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "Europe/London",
    "Europe/Berlin", "Europe/Istanbul", "Asia/Dubai", "Asia/Kolkata", "Asia/Kathmandu",
    "Asia/Almaty", "Asia/Tokyo", "Australia/Adelaide",
)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=300)
    parser.add_argument("--per-station", type=int, default=60)
    parser.add_argument("--url", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = open_store(url)
    now = datetime.now(UTC)
    election = f"bench-{uuid.uuid4().hex[:6]}"
    create_election(engine, election)
    registry = []
    for i in range(args.stations):
        zone = ZONES[i % len(ZONES)]
        local = now.astimezone(ZoneInfo(zone))
        registry.append(
            {"station": f"S{i:04d}", "timezone": zone, "country": zone.split("/")[0],
             "schedule": f"{local.date().isoformat()} 00:00-23:59"}
        )  # fmt: skip
    import_stations(engine, election, registry)
    started = time.perf_counter()
    items = []
    for row in registry:
        code = create_invites(engine, election, 1, stations_=[row["station"]])[0].code
        observer = observer_for_token(engine, redeem_invite(engine, code).token)
        local = now.astimezone(ZoneInfo(row["timezone"]))
        opens = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        span = (now - opens).total_seconds()
        silent = rng.random() < 0.1
        for k in range(args.per_station):
            at = opens + timedelta(seconds=span * (k + 1) / (args.per_station + 1))
            if silent and at > now - timedelta(hours=2):
                break
            body = {"id": str(uuid.uuid4()), "election": election, "station": row["station"],
                    "observed_at": at.isoformat()}  # fmt: skip
            if k == 0:
                body.update(kind="status", status="opened")
            elif k % 25 == 0:
                body.update(kind="incident", category=rng.choice(["pressure", "other"]), text="x")
            else:
                start = at - timedelta(seconds=span / (args.per_station + 1))
                body.update(kind="count", window_start=start.isoformat(), window_end=at.isoformat(),
                            entered=rng.randint(0, 40))  # fmt: skip
            items.append((body, observer, at))
    items.sort(key=lambda item: item[2])  # received a moment after observed, in time order
    for first in range(0, len(items), 200):
        chunk = items[first : first + 200]
        store_reports(engine, [(b, o) for b, o, _ in chunk], now=chunk[-1][2])
    print(f"{args.stations} stations in {len(ZONES)} zones, {len(items)} reports stored "
          f"({time.perf_counter() - started:.0f} s) on {url.split(':')[0]}")  # fmt: skip
    for name, call in (
        ("alerts", lambda: election_alerts(engine, election, now=now)),
        ("coverage", lambda: election_coverage(engine, election, now=now)),
        ("open incidents", lambda: list_incidents(engine, election, now=now)),
    ):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            answer = call()
            times.append(time.perf_counter() - t0)
        print(f"{name:>15}: best of 3 {min(times) * 1000:.0f} ms")
        if name == "alerts":
            print("                 " + ", ".join(f"{k} {n}" for k, n in
                  Counter(a["kind"] for a in answer["alerts"]).most_common()))  # fmt: skip
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
