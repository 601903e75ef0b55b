"""The demo's silent stations make the alerts fire at any hour of the day (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pollwatch.observe.alerts import StationWatch, compute_alerts
from pollwatch.observe.schedule import parse_schedule
from pollwatch.observe.simulate_network import silent_stations


@pytest.mark.parametrize("minutes", range(0, 24 * 60, 30))
def test_alerts_fire_whatever_the_hour(minutes: int) -> None:
    now = datetime(2026, 3, 29, tzinfo=UTC) + timedelta(minutes=minutes)  # a DST weekend
    sim = silent_stations(now)
    assert len(sim.registry) >= 2 and set(sim.stories.values()) >= {"silent", "quiet"}
    assert len({row["timezone"] for row in sim.registry}) == len(sim.registry)
    watches = []
    for row in sim.registry:
        mine = [r for r in sim.reports if r["station"] == row["station"]]
        at = [datetime.fromisoformat(r["observed_at"]) for r in mine]
        watches.append(
            StationWatch(
                row["station"],
                parse_schedule(row["schedule"], row["timezone"]),
                statuses=tuple(t for t, r in zip(at, mine, strict=True) if r["kind"] == "status"),
                received=tuple(t + timedelta(minutes=1) for t in at),  # as the demo stores them
                windows=tuple(
                    (
                        datetime.fromisoformat(r["window_start"]),
                        datetime.fromisoformat(r["window_end"]),
                    )
                    for r in mine
                    if r["kind"] == "count"
                ),
            )
        )
    found = {(a.kind, sim.stories[a.station]) for a in compute_alerts("demo", watches, now=now)}
    assert {("no_opening", "silent"), ("silence", "quiet"), ("count_gap", "quiet")} <= found
    assert silent_stations(now) == sim  # seeded: the same stations and report ids
