"""A simulated observed election with known answers: for the demo and for end-to-end checks.

The observation service is only convincing when its screens are full: stations opening,
door counts arriving in two-hour windows, an incident feed, protocol copies at the quick
count's sample, a conflict between two observers, and official figures that disagree with
the independent counts at a few stations. Real observation data of that kind is not public
(and would identify people), so :func:`simulate_observation` builds one from a seed, with
the truth kept beside it, so that a test can check that the service finds exactly the
stations where the official figures were inflated.

What is simulated (all of it labelled "demo" in station names):

* stations in cities abroad (the real capitals where Russian embassies held polling
  stations in 2024; coordinates of the city centre, not of any real station);
* the true number of voters per station, spread over the day by a two-peak day curve, and
  the true votes, shared between four fictitious candidates;
* official figures equal to the truth except at ``falsified`` stations, where ballots
  for the first candidate were added (turnout inflated by 10–30 points of registration);
* observers at ``observed`` stations who count every voter in two-hour windows (exact
  counts: the door count of a careful observer), report opening and closing, a few
  incidents, and copy the final protocol — the TRUE figures, which is what an observer
  sees when the count is honest and the published result is rewritten afterwards;
* at one station two observers copy one figure differently (a conflict to resolve).

Pure: no clock, no database. The caller stores the registry, the official results and the
report bodies (see ``pollwatch demo-observe``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from pollwatch.errors import InputError
from pollwatch.observe.pvt import draw_stratified_sample
from pollwatch.observe.reports import format_timestamp
from pollwatch.results import ElectionResults

__all__ = ["CANDIDATES", "SimulatedObservation", "simulate_observation"]

CANDIDATES: tuple[str, ...] = ("Candidate A", "Candidate B", "Candidate C", "Candidate D")
"""Fictitious candidates of the simulated election."""

_SHARES = np.array([0.46, 0.28, 0.16, 0.10])

_CITIES: tuple[tuple[str, str, float, float], ...] = (
    ("Berlin", "Germany", 52.52, 13.405),
    ("Belgrade", "Serbia", 44.787, 20.457),
    ("Tbilisi", "Georgia", 41.716, 44.783),
    ("Yerevan", "Armenia", 40.179, 44.499),
    ("Istanbul", "Türkiye", 41.008, 28.978),
    ("Astana", "Kazakhstan", 51.169, 71.449),
    ("Prague", "Czechia", 50.075, 14.437),
    ("Warsaw", "Poland", 52.23, 21.012),
    ("Vilnius", "Lithuania", 54.687, 25.28),
    ("Riga", "Latvia", 56.949, 24.105),
    ("Tallinn", "Estonia", 59.437, 24.754),
    ("Helsinki", "Finland", 60.17, 24.938),
    ("Paris", "France", 48.857, 2.352),
    ("London", "United Kingdom", 51.507, -0.128),
    ("Tel Aviv", "Israel", 32.085, 34.782),
    ("Dubai", "United Arab Emirates", 25.205, 55.271),
    ("Bishkek", "Kyrgyzstan", 42.875, 74.6),
    ("Limassol", "Cyprus", 34.707, 33.022),
    ("Montenegro (Bar)", "Montenegro", 42.093, 19.1),
    ("New York", "United States", 40.713, -74.006),
)

_OPEN_HOUR, _CLOSE_HOUR, _WINDOW_HOURS = 8, 20, 2
# A day curve with the morning and the "noon against Putin" peaks, per two-hour window.
_DAY_CURVE = np.array([0.10, 0.16, 0.30, 0.18, 0.14, 0.12])

_INCIDENTS: tuple[tuple[str, str], ...] = (
    ("ballot_shortage", "Ballots ran out for about 40 minutes; people waited outside."),
    ("pressure", "A man photographed voters in the queue and asked for their names."),
    ("observer_obstruction", "Our observer was asked to stand 10 m from the ballot box."),
    ("procedural_violation", "The mobile box was carried out without observers."),
    ("other", "Queue reached the end of the street; police asked people to move on."),
)


@dataclass(frozen=True)
class SimulatedObservation:
    """The simulated election: what to store, and the truth to check the service against."""

    election: str
    name: str
    day: date
    registry: list[dict[str, Any]]
    official: ElectionResults
    reports: list[dict[str, Any]]
    falsified: tuple[str, ...]
    true_issued: dict[str, int]
    sample: tuple[str, ...]
    conflict_station: str | None


def _at(day: date, hour: float) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)


def _split(total: int, weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.multinomial(total, weights / weights.sum())


def simulate_observation(
    *,
    seed: int = 2024,
    day: date,
    election: str = "demo",
    stations: int = 60,
    observed: int = 48,
    falsified: int = 6,
    sample: int = 40,
) -> SimulatedObservation:
    """Simulate an observed election abroad (see the module docstring for what is in it).

    ``observed`` stations get door counts; ``sample`` of them, drawn by country as the
    quick count draws its sample, get protocol copies; ``falsified`` stations (chosen among
    the observed ones, so that the comparison can find them) have inflated official figures.
    """
    if not 1 <= stations <= 5000:
        raise InputError("stations must be between 1 and 5000", column="stations")
    if not 0 <= observed <= stations:
        raise InputError("observed must be between 0 and the number of stations", column="observed")
    if not 0 <= falsified <= observed:
        raise InputError(
            "falsified must be between 0 and the observed stations", column="falsified"
        )
    if not 1 <= sample <= observed:
        raise InputError("sample must be between 1 and the observed stations", column="sample")
    rng = np.random.default_rng(seed)
    ids = [f"D{n:03d}" for n in range(1, stations + 1)]
    registered = rng.integers(600, 3000, size=stations)
    turnout = np.clip(rng.beta(7, 9, size=stations), 0.05, 0.95)
    issued = np.round(registered * turnout).astype(int)
    countries = [_CITIES[i % len(_CITIES)][1] for i in range(stations)]
    # The quick-count sample is drawn as `pollwatch pvt sample` draws it (by country), and
    # the sampled stations are observed, plus other stations up to `observed`.
    drawn = draw_stratified_sample(
        pd.DataFrame({"station": ids, "country": countries}),
        size=sample,
        strata="country",
        seed=seed,
    )
    sample_ids = tuple(sorted(str(s) for s in drawn["station"]))
    rest = [s for s in rng.permutation(ids).tolist() if s not in sample_ids]
    observed_ids = sorted([*sample_ids, *rest[: max(0, observed - len(sample_ids))]])
    falsified_ids = tuple(sorted(rng.permutation(observed_ids)[:falsified].tolist()))

    registry: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    truth: dict[str, int] = {}
    reports: list[dict[str, Any]] = []
    true_figures: dict[str, dict[str, Any]] = {}
    for i, station in enumerate(ids):
        city, country, lat, lon = _CITIES[i % len(_CITIES)]
        reg, true_issued = int(registered[i]), int(issued[i])
        invalid = int(rng.binomial(true_issued, 0.01))
        votes = _split(true_issued - invalid, rng.dirichlet(_SHARES * 60), rng)
        truth[station] = true_issued
        true_figures[station] = {
            "registered": reg,
            "ballots_received": reg + 200,
            "issued_early": 0,
            "issued_premises": true_issued,
            "issued_outside": 0,
            "valid": int(votes.sum()),
            "invalid": invalid,
            "votes": {c: int(v) for c, v in zip(CANDIDATES, votes, strict=True)},
        }
        official_votes = votes.copy()
        official_issued = true_issued
        if station in falsified_ids:
            stuffed = int(reg * rng.uniform(0.10, 0.30))
            stuffed = min(stuffed, reg - true_issued)
            official_issued += stuffed
            official_votes[0] += stuffed
        registry.append(
            {
                "station": station,
                "name": f"Demo station {station} ({city})",
                "country": country,
                "city": city,
                "lat": round(lat + rng.normal(0, 0.02), 4),
                "lon": round(lon + rng.normal(0, 0.02), 4),
                "registered": reg,
                "ballots_received": reg + 200,
                "hours": f"{_OPEN_HOUR:02d}:00-{_CLOSE_HOUR:02d}:00",
                # The simulated day runs on UTC clocks everywhere, so the schedule says so.
                "timezone": "UTC",
                "schedule": f"{day.isoformat()} {_OPEN_HOUR:02d}:00-{_CLOSE_HOUR:02d}:00",
            }
        )
        rows.append(
            {
                "region": country,
                "station": station,
                "station_name": f"Demo station {station} ({city})",
                "registered": reg,
                "ballots_received": reg + 200,
                "issued_early": 0,
                "issued_premises": official_issued,
                "issued_outside": 0,
                "valid": int(official_votes.sum()),
                "invalid": invalid,
                "abroad": True,
                **{c: int(v) for c, v in zip(CANDIDATES, official_votes, strict=True)},
            }
        )

    def body(station: str, kind: str, observed_at: datetime, **fields: Any) -> dict[str, Any]:
        return {
            "id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
            "election": election,
            "station": station,
            "kind": kind,
            "observed_at": format_timestamp(observed_at),
            **fields,
        }

    for station in observed_ids:
        reports.append(
            body(
                station,
                "status",
                _at(day, _OPEN_HOUR),
                status="opened",
                queue=int(rng.integers(0, 40)),
            )
        )
        per_window = _split(truth[station], _DAY_CURVE, rng)
        for w, entered in enumerate(per_window):
            start = _OPEN_HOUR + w * _WINDOW_HOURS
            reports.append(
                body(
                    station,
                    "count",
                    _at(day, start + _WINDOW_HOURS),
                    window_start=format_timestamp(_at(day, start)),
                    window_end=format_timestamp(_at(day, start + _WINDOW_HOURS)),
                    entered=int(entered),
                    ballots_issued=int(entered),
                    queue=int(rng.integers(0, 120 if w == 2 else 30)),
                )
            )
        if rng.random() < 0.3:
            category, text = _INCIDENTS[int(rng.integers(0, len(_INCIDENTS)))]
            hour = _OPEN_HOUR + float(rng.uniform(1, 11))
            reports.append(body(station, "incident", _at(day, hour), category=category, text=text))
        reports.append(body(station, "status", _at(day, _CLOSE_HOUR), status="closed", queue=0))
        if station in sample_ids:
            reports.append(
                body(station, "protocol", _at(day, _CLOSE_HOUR + 2), figures=true_figures[station])
            )
    conflict_station = next((s for s in sample_ids if s not in falsified_ids), None)
    if conflict_station is not None:
        copy = dict(true_figures[conflict_station])
        copy["invalid"] = int(copy["invalid"]) + 3
        reports.append(
            body(conflict_station, "protocol", _at(day, _CLOSE_HOUR + 2.5), figures=copy)
        )

    official = ElectionResults(
        name="Demo election abroad (simulated)",
        stations=pd.DataFrame(rows),
        candidates=CANDIDATES,
        source="simulated by pollwatch.observe.simulate",
    )
    return SimulatedObservation(
        election=election,
        name="Demo election abroad (simulated data)",
        day=day,
        registry=registry,
        official=official,
        reports=reports,
        falsified=falsified_ids,
        true_issued=truth,
        sample=sample_ids,
        conflict_station=conflict_station,
    )
