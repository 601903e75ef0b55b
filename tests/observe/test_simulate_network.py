"""The demo's silent stations make the alerts fire at any hour of the day (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pollwatch.observe.alerts import StationWatch, compute_alerts
from pollwatch.observe.schedule import parse_schedule
from pollwatch.observe.simulate_network import silent_stations


@pytest.mark.parametrize("day", ["2026-01-15", "2026-03-29", "2026-07-15", "2026-11-01"])
@pytest.mark.parametrize("minutes", range(0, 24 * 60, 30))
def test_alerts_fire_whatever_the_hour(day: str, minutes: int) -> None:
    # winter, the European and the American DST changes' weekends, summer
    now = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(minutes=minutes)
    sim = silent_stations(now)
    assert set(sim.stories.values()) == {"silent", "quiet", "seized"}
    assert all(row["timezone"] != "UTC" for row in sim.registry)
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
