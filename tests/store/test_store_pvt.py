"""The stored quick-count sample and its estimate from the sampled stations' protocols."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from pollwatch.observe.pvt import draw_stratified_sample
from pollwatch.results import ElectionResults
from pollwatch.store import (
    PVTUnavailable,
    attach_results,
    list_audit,
    load_sample,
    public_summary,
    pvt_estimate,
    resolve_conflict,
    station_table,
    store_report,
    store_sample,
)

NOW = datetime(2024, 3, 17, 21, 0, tzinfo=UTC)


def synthetic_results(n: int = 60, *, seed: int = 7, shift: int = 0) -> ElectionResults:
    """``n`` stations in 4 regions; ``shift`` votes moved from B to A in every station."""
    rng = np.random.default_rng(seed)
    registered = rng.integers(800, 1500, n)
    valid = (registered * rng.uniform(0.4, 0.8, n)).astype(int)
    a = (valid * rng.uniform(0.45, 0.75, n)).astype(int)
    frame = pd.DataFrame(
        {
            "region": [f"R{i % 4}" for i in range(n)],
            "station": [f"{1000 + i}" for i in range(n)],
            "registered": registered,
            "issued_early": 0,
            "issued_premises": valid + 5,
            "issued_outside": 0,
            "valid": valid,
            "invalid": 5,
            "abroad": True,
            "A": np.minimum(a + shift, valid),
            "B": valid - np.minimum(a + shift, valid),
        }
    )
    return ElectionResults(name="synthetic", stations=frame, candidates=("A", "B"), source="test")


def copy_protocols(
    engine: Engine, results: ElectionResults, stations: list[str], *, election: str = "e"
) -> None:
    """Observers copy each sampled station's protocol exactly as the results say."""
    rows = results.stations.set_index("station")
    for station in stations:
        r = rows.loc[station]
        figures = {
            k: int(r[k])
            for k in (
                "registered",
                "issued_early",
                "issued_premises",
                "issued_outside",
                "valid",
                "invalid",
            )
        }
        figures["votes"] = {"A": int(r["A"]), "B": int(r["B"])}
        body = {
            "id": str(uuid.uuid4()),
            "election": election,
            "station": station,
            "kind": "protocol",
            "observed_at": "2024-03-17T20:30:00Z",
            "figures": figures,
        }
        store_report(engine, body, observer=None, now=NOW)


def draw_and_store(engine: Engine, size: int = 24, seed: int = 3) -> list[str]:
    sample = draw_stratified_sample(
        station_table(engine, "e"), size=size, strata="region", seed=seed
    )
    store_sample(engine, "e", sample, strata_column="region", seed=seed, actor="cli")
    return [str(s) for s in sample["station"]]


def test_storing_a_sample_replaces_the_previous_one_and_is_audited(engine: Engine) -> None:
    attach_results(engine, "e", synthetic_results())
    assert load_sample(engine, "e") is None
    first = draw_and_store(engine, size=8, seed=1)
    second = draw_and_store(engine, size=12, seed=2)
    stored = load_sample(engine, "e")
    assert stored is not None
    assert sorted(stored.stations) == sorted(second) and len(second) == 12
    assert stored.strata_column == "region" and stored.seed == 2
    assert set(stored.stations.values()) == {"R0", "R1", "R2", "R3"}
    assert first != second
    audit = [a for a in list_audit(engine) if a["action"] == "store_pvt_sample"]
    assert [(a["actor"], a["detail"]["size"]) for a in audit] == [("cli", 12), ("cli", 8)]


def test_official_shares_inside_when_the_copies_match_outside_when_shifted(
    engine: Engine,
) -> None:
    honest = synthetic_results()
    attach_results(engine, "e", honest)
    with pytest.raises(PVTUnavailable):
        pvt_estimate(engine, "e")
    sampled = draw_and_store(engine)
    nothing = pvt_estimate(engine, "e")
    assert nothing["ready"] is False and nothing["reason"].startswith("not enough protocols yet")
    assert nothing["reported"] == 0 and sum(s["sampled"] for s in nothing["strata"]) == 24
    copy_protocols(engine, honest, sampled[:19])
    waiting = pvt_estimate(engine, "e")
    assert waiting["ready"] is False and waiting["n_reported"] == 19
    assert "needs at least 20" in waiting["reason"]
    copy_protocols(engine, honest, sampled[19:])

    result = pvt_estimate(engine, "e")
    assert result["ready"] is True
    assert result["sample_size"] == 24 and result["reported"] == 24
    assert result["official_attached"] is True and result["complete"] is True
    assert [s["response"] for s in result["strata"]] == [1.0] * 4
    shares = {s["name"]: s for s in result["shares"]}
    for share in shares.values():
        assert 0 < share["margin95"] < share["margin99"] < 0.15
        assert share["df"] <= 24 - 4
    assert result["joint"]["rejected"] is False
    assert "within what sampling error explains" in result["joint"]["wording"]

    # The published figures move 80 votes per station from B to A; the copies do not.
    attach_results(engine, "e", synthetic_results(shift=80))
    moved = pvt_estimate(engine, "e")
    shifted = {s["name"]: s for s in moved["shares"]}
    assert moved["joint"]["rejected"] is True
    assert "larger than sampling error explains (p " in moved["joint"]["wording"]
    assert shifted["A"]["official"] > shifted["A"]["high95"]
    assert shifted["A"]["estimate"] == pytest.approx(shares["A"]["estimate"])

    summary = public_summary(engine, "e")
    assert summary["pvt"] is not None and summary["pvt"]["reported"] == 24


def test_conflicting_votes_leave_a_station_out_until_resolved(engine: Engine) -> None:
    honest = synthetic_results()
    attach_results(engine, "e", honest)
    sampled = draw_and_store(engine, size=24)
    copy_protocols(engine, honest, sampled)
    row = honest.stations.set_index("station").loc[sampled[0]]
    body = {
        "id": str(uuid.uuid4()),
        "election": "e",
        "station": sampled[0],
        "kind": "protocol",
        "observed_at": "2024-03-17T20:31:00Z",
        "figures": {"votes": {"A": int(row["A"]) + 1, "B": int(row["B"])}},
    }
    store_report(engine, body, observer=None, now=NOW)
    waiting = pvt_estimate(engine, "e")
    assert waiting["reported"] == 23 and waiting["complete"] is False
    resolve_conflict(engine, "e", sampled[0], "votes.A", int(row["A"]), "anna")
    assert pvt_estimate(engine, "e")["reported"] == 24
