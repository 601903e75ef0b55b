"""The battery: one run of every method, exclusions, aggregates, rankings, JSON keys."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pollwatch.errors import InputError, NotFoundError
from pollwatch.forensics.battery import ForensicsReport, run_battery
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.rankings import integer_hit, rank_regions, rank_stations
from pollwatch.forensics.registry import method_names
from pollwatch.forensics.shpilkin import shpilkin
from pollwatch.forensics.synthetic import synthetic_election
from pollwatch.results.schema import ElectionResults

DOCUMENTED = {
    "integer_percentages": ("excess", "z", "p_value"),
    "shpilkin": ("anomalous_votes", "interval", "reference_turnout", "reference_share"),
    "klimek": ("f_i", "f_e", "interval"),
    "digits": ("second_digit_mean", "second_digit_interval", "last_digit_p_value"),
    "spikes": ("excess_share",),
}


def _with_empty_station(results: ElectionResults) -> ElectionResults:
    st = results.stations.copy()
    cols = ["valid", "invalid", *results.candidates]
    st.loc[0, cols] = 0
    return dataclasses.replace(results, stations=st)


@pytest.fixture(scope="module")
def results() -> ElectionResults:
    res = synthetic_election(3_000, seed=4, incremental=0.08, rounding=0.03).results
    agg = pd.DataFrame(
        {"region": ["Online A", "Online B"], "Leader": ["700", "300"], "Opponent 1": ["100", "100"]}
    )
    return dataclasses.replace(_with_empty_station(res), aggregates=agg)


@pytest.fixture(scope="module")
def report(results: ElectionResults) -> ForensicsReport:
    return run_battery(results, resamples=200, seed=3)


def test_every_method_runs_and_is_timed(report: ForensicsReport) -> None:
    assert list(report.results) == list(method_names())
    assert set(report.timings) == set(method_names())
    assert sum(report.timings.values()) > 0  # measured (each is rounded to 0.1 ms)
    assert report.leader == "Leader"


def test_station_counts_and_exclusions(report: ForensicsReport, results: ElectionResults) -> None:
    usable = (results.stations["registered"] > 0) & (results.ballots_cast() > 0)
    assert report.stations_total == 3_000
    assert report.stations_used == int(usable.sum()) < 3_000
    assert len(report.excluded) == 3_000 - report.stations_used
    row = report.excluded.set_index("station").loc["1"]
    assert row["reason"].startswith("no ballots cast")


def test_json_has_documented_keys(report: ForensicsReport) -> None:
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    for key in ("stations_total", "stations_used", "excluded", "rankings", "timings", "election"):
        assert key in data
    assert data["excluded"]["count"] == report.stations_total - report.stations_used
    for method, keys in DOCUMENTED.items():
        assert data[method]["applicable"] is True, data[method]["note"]
        for k in keys:
            assert k in data[method], f"{method}.{k} missing"
    assert set(data["integer_percentages"]["excess"]) >= {"either", "leader", "turnout"}


def test_aggregates_reported_apart(report: ForensicsReport) -> None:
    assert report.aggregates is not None
    assert report.aggregates["rows"] == 2
    assert report.aggregates["leader_votes"] == 1_000
    assert report.aggregates["leader_share"] == pytest.approx(1_000 / 1_200, abs=1e-4)
    assert report.arrays.n == report.stations_used  # aggregates never become stations


def test_parallel_equals_serial(results: ElectionResults) -> None:
    names = ["fingerprint", "integer_percentages", "spikes"]
    serial = run_battery(results, resamples=100, seed=1, methods=names).to_dict()
    parallel = run_battery(results, resamples=100, seed=1, methods=names, jobs=2).to_dict()
    for key in ("timings", "wall_seconds"):
        serial.pop(key), parallel.pop(key)
    assert serial == parallel


def test_chunked_resamples_do_not_depend_on_threads(
    results: ElectionResults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resamples split into chunks (taken by idle threads or run in place) give the same
    answer with one thread and with two, and the chunks are not all the same draws."""
    from pollwatch.forensics import integer_percentages, shpilkin, spikes

    monkeypatch.setattr(integer_percentages, "MC_CHUNK", 70)
    monkeypatch.setattr(spikes, "CHUNK", 40)
    monkeypatch.setattr(shpilkin, "BOOTSTRAP_CHUNK", 45)
    names = ["integer_percentages", "spikes", "shpilkin"]
    serial = run_battery(results, resamples=200, seed=5, methods=names, jobs=1)
    parallel = run_battery(results, resamples=200, seed=5, methods=names, jobs=2)
    first, second = serial.to_dict(), parallel.to_dict()
    for key in ("timings", "wall_seconds"):
        first.pop(key), second.pop(key)
    assert first == second
    sims = integer_percentages._monte_carlo(
        *(np.full(500, 0.3) for _ in range(4)), resamples=140, seed=5
    )
    assert not np.array_equal(sims[:70], sims[70:])
    assert sims[:, 0].mean() == pytest.approx(150, abs=3)


def test_progress_is_called_per_method(results: ElectionResults) -> None:
    seen: list[tuple[str, int, int]] = []
    run_battery(
        results, resamples=50, methods=["fingerprint", "spikes"], progress=lambda *a: seen.append(a)
    )
    assert [s[1:] for s in seen] == [(1, 2), (2, 2)]
    assert {s[0] for s in seen} == {"fingerprint", "spikes"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resamples": 0}, "'resamples' parameter of run_battery"),
        ({"jobs": -1}, "'jobs'"),
        ({"seed": -2}, "'seed'"),
    ],
)
def test_bad_options(results: ElectionResults, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(InputError, match=message):
        run_battery(results, **kwargs)  # type: ignore[arg-type]


def test_unknown_method(results: ElectionResults) -> None:
    with pytest.raises(NotFoundError, match="unknown forensic method"):
        run_battery(results, methods=["bogus"])


def test_unknown_leader(results: ElectionResults) -> None:
    with pytest.raises(InputError, match="no candidate matches"):
        run_battery(results, leader="Nobody", methods=["fingerprint"])


def test_integer_hit_known_answers() -> None:
    hit, chance = integer_hit(np.array([35, 351, 7, 0, 1]), np.array([50, 1000, 20, 10, 3]))
    assert hit.tolist() == [True, False, True, True, False]
    assert chance[0] == 1.0  # with 50 voters every count is a whole 2 %
    assert chance[1] == pytest.approx(0.1)


def _regional(stuffed_region: int) -> StationArrays:
    rng = np.random.default_rng(0)
    n = 600
    region = np.repeat([0, 1, 2], n // 3)
    reg = rng.integers(800, 2_000, n)
    issued = rng.binomial(reg, 0.55)
    leader = rng.binomial(issued, 0.5)
    stuffed = (region == stuffed_region) & (rng.random(n) < 0.5)
    extra = (0.8 * (reg - issued)).astype(np.int64) * stuffed
    return StationArrays.from_counts(
        reg, issued + extra, issued + extra, leader + extra, region=region.astype(str)
    )


def test_stuffed_region_ranks_first() -> None:
    data = _regional(stuffed_region=2)
    ranking = rank_regions(data, {"shpilkin": shpilkin(data, resamples=20)})
    assert ranking[0]["region"] == "2"
    assert ranking[0]["anomalous_votes"] > 10 * max(1, ranking[1]["anomalous_votes"])


@pytest.mark.parametrize("seed", range(5))
def test_falsified_regions_of_a_synthetic_election_rank_first(seed: int) -> None:
    """Extreme stuffing at 5 % of the stations of two regions out of 20: those two head the
    ranking, with about the votes that were put in (Shpilkin counts extreme stuffing
    fully). Ranked against one national reference instead, as before, they were the top two
    in none of these 5 elections.
    """
    election = synthetic_election(20_000, seed=seed, extreme=0.05, fraud_regions=(3, 11))
    data = election.arrays()
    ranking = rank_regions(data, {"shpilkin": shpilkin(data, resamples=10)})
    assert {r["region"] for r in ranking[:2]} == {"Region 03", "Region 11"}
    region = election.results.stations["region"].to_numpy()
    for row in ranking[:2]:
        added = election.truth.added_votes[region == row["region"]].sum()
        assert 0.5 * added < row["anomalous_votes"] < 1.5 * added


def test_honest_regional_differences_are_not_anomalous() -> None:
    """A clean region with high turnout and a high leader's share is judged against its own
    clean reference, not the country's: it does not rank above a stuffed region."""
    rng = np.random.default_rng(5)
    n = 400
    region = np.repeat(["plain", "keen", "stuffed"], n)
    turnout = np.repeat([0.5, 0.8, 0.5], n)
    share = np.repeat([0.5, 0.7, 0.5], n)
    reg = rng.integers(800, 2_000, 3 * n)
    issued = rng.binomial(reg, rng.beta(60 * turnout, 60 * (1 - turnout)))
    leader = rng.binomial(issued, rng.beta(60 * share, 60 * (1 - share)))
    extra = ((region == "stuffed") & (rng.random(3 * n) < 0.1)) * (0.9 * (reg - issued))
    extra = extra.astype(np.int64)
    data = StationArrays.from_counts(
        reg, issued + extra, issued + extra, leader + extra, region=region
    )
    ranking = rank_regions(data, {"shpilkin": shpilkin(data, resamples=10)})
    by_name = {r["region"]: r for r in ranking}
    assert ranking[0]["region"] == "stuffed"
    # one national reference (turnout 60 %, share 59 %) read 39 % of keen's votes as
    # anomalous and ranked it first; its own reference leaves noise only
    assert abs(by_name["keen"]["anomalous_share"]) < 0.05
    assert by_name["stuffed"]["anomalous_share"] > 0.1


@pytest.mark.parametrize("by_region", [True, False])
def test_region_parts_add_up_to_shpilkin(by_region: bool) -> None:
    """Each region's anomalous votes are its part of Shpilkin's estimate: a region fitted on
    its own has its ``result.regions`` figure, small regions share the pooled group's, and
    the parts sum to the headline figure."""
    election = synthetic_election(4_000, seed=2, n_regions=30, extreme=0.03)
    data = election.arrays()
    result = shpilkin(data, resamples=10, by_region=by_region)
    ranking = rank_regions(data, {"shpilkin": result})
    assert len(ranking) == 30
    fitted = {r.region: r.anomalous_votes for r in result.regions}
    alone = [r for r in ranking if r["region"] in fitted]
    assert len(alone) == (sum(s >= 100 for s in np.bincount(data.region)) if by_region else 0)
    for row in alone:
        assert abs(row["anomalous_votes"] - fitted[row["region"]]) <= 1
    total = sum(r["anomalous_votes"] for r in ranking)
    assert abs(total - result.anomalous_votes) <= len(ranking)


def test_without_shpilkin_regions_are_ranked_by_integer_z() -> None:
    data = _regional(stuffed_region=2)
    ranking = rank_regions(data, {})
    assert all(r["anomalous_votes"] is None and r["anomalous_share"] is None for r in ranking)
    z = [r["integer_z"] for r in ranking]
    assert z == sorted(z, reverse=True)


def test_station_ranking_flags_identical_and_corner() -> None:
    data = _regional(stuffed_region=1)
    reg = np.r_[data.registered, 1_000, 1_000]
    iss = np.r_[data.issued, 990, 990]
    lead = np.r_[data.leader, 980, 980]
    both = StationArrays.from_counts(
        reg, iss, iss, lead, region=np.r_[data.region, 1, 1].astype(str)
    )
    top = rank_stations(both, {}, top=5)
    assert {top[0]["station"], top[1]["station"]} == {str(len(reg) - 1), str(len(reg))}
    assert top[0]["identical_group"] == 2 and top[0]["round_turnout"] and top[0]["round_share"]


@pytest.mark.slow
@pytest.mark.realdata
def test_full_battery_on_2024(data_dir) -> None:  # type: ignore[no-untyped-def]
    from pollwatch.results import load_results

    results = load_results(data_dir / "ru" / "2024.csv.zip")
    report = run_battery(results, resamples=10_000, seed=0, jobs=2)
    data = report.to_dict()
    assert data["stations_total"] == 94_214
    assert data["stations_abroad"] == 288
    assert "Путин" in data["leader"]
    assert data["excluded"]["by_reason"]["empty row: no figures published"] == 2_268
    assert data["excluded"]["by_reason"]["no registered voters"] == 7
    assert 91_000 < data["stations_used"] <= 91_939
    assert data["aggregates"]["rows"] == 29
    assert data["integer_percentages"]["applicable"] and data["integer_percentages"]["z"] > 5
    assert data["shpilkin"]["anomalous_votes"] > 1_000_000


_BACKGROUND_IMPORTS = """
import importlib, sys, threading
from pollwatch.forensics import battery
from pollwatch.forensics.registry import METHODS

real = importlib.import_module
def failing(name):
    if name == "pollwatch.forensics.klimek":
        raise ImportError("simulated")
    return real(name)
battery.importlib = type(sys)("fake_importlib")
battery.importlib.import_module = failing
raised = []
threading.excepthook = raised.append
battery.import_methods_in_background().join()
print(sorted(m.module for m in METHODS if f"pollwatch.forensics.{m.module}" not in sys.modules))
print(len(raised), "pollwatch.forensics.rankings" in sys.modules)
"""


def test_method_modules_are_imported_in_the_background() -> None:
    """What the CLI starts while it reads the file: every method's module (and the
    rankings) imported in another thread; a module that fails to import is left to the
    battery (which reports it), the thread neither raises nor stops at it."""
    proc = subprocess.run(
        [sys.executable, "-c", _BACKGROUND_IMPORTS],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert proc.stdout.split("\n")[:2] == ["['klimek']", "0 True"], proc.stderr


def test_run_chunks_keeps_order_with_or_without_a_pool() -> None:
    """Chunks come back in task order whether a pool's threads or the caller ran them."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    from pollwatch.forensics.workers import run_chunks, using_pool

    def square(i: int) -> int:
        return i * i

    tasks = [partial(square, i) for i in range(9)]
    assert run_chunks(tasks) == [i * i for i in range(9)]
    with ThreadPoolExecutor(max_workers=2) as pool, using_pool(pool):
        assert run_chunks(tasks) == [i * i for i in range(9)]


def test_run_chunks_shares_work_with_a_pool_thread_and_never_deadlocks() -> None:
    """A pool thread takes a chunk while the caller runs the rest, in order; a chunk that
    itself splits into chunks (nested) finishes with every thread busy; an error raises."""
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    from pollwatch.forensics.workers import run_chunks, using_pool

    taken = threading.Event()
    ran_on: dict[int, str] = {}

    def first() -> int:
        # the caller's chunk waits until a pool thread has started chunk 1, so both ran
        assert taken.wait(timeout=30), "no pool thread took a chunk"
        ran_on[0] = threading.current_thread().name
        return 0

    def chunk(i: int) -> int:
        if i == 1:
            taken.set()
        ran_on[i] = threading.current_thread().name
        return i * i

    tasks = [first, *(partial(chunk, i) for i in range(1, 6))]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool") as pool, using_pool(pool):
        assert run_chunks(tasks) == [i * i for i in range(6)]
        assert ran_on[1].startswith("pool") and not ran_on[0].startswith("pool")

        def nested(i: int) -> int:
            return sum(run_chunks([partial(chunk, 10 * i + j) for j in range(3)]))

        # every pool thread runs a chunk that waits on chunks of its own: no deadlock
        outer = [partial(nested, i) for i in range(4)]
        assert run_chunks(outer) == [sum((10 * i + j) ** 2 for j in range(3)) for i in range(4)]

        # the caller runs the chunks nobody took before it waits for one a thread took:
        # chunk 1 (on the pool's only thread) finishes only after the caller ran chunk 3
        third_ran = threading.Event()
        started = threading.Event()

        def slow() -> int:
            started.set()
            assert third_ran.wait(timeout=20), "the caller waited instead of working"
            return 1

        def caller_first() -> int:
            assert started.wait(timeout=30)
            return 0

        def third() -> int:
            third_ran.set()
            return 3

        assert run_chunks([caller_first, slow, partial(chunk, 2), third]) == [0, 1, 4, 3]

        def boom() -> int:
            raise ValueError("chunk failed")

        with pytest.raises(ValueError, match="chunk failed"):
            run_chunks([partial(chunk, 7), boom, partial(chunk, 8)])


def test_stations_without_a_district_are_their_regions_own_group() -> None:
    """A blank district (a spreadsheet with empty cells) is the region's "no district"
    group: pandas codes it −1, which merged two regions' groups in the identical-protocol
    test (a probability of 1.17) and made the digit test's cluster sums fail."""
    res = synthetic_election(3_000, seed=5, n_regions=6, rounding=0.03).results
    st = res.stations.copy()
    st["district"] = st["district"].astype(object)
    st.loc[st.index % 3 == 0, "district"] = None
    res = dataclasses.replace(res, stations=st)
    report = run_battery(res, resamples=50, seed=1, methods=["identical_protocols", "digits"])
    data = report.arrays
    assert data.district.min() >= 0
    for r in np.unique(data.region):  # districts stay unique across regions
        others = data.district[data.region != r]
        assert not np.isin(data.district[data.region == r], others).any()
    for name in ("identical_protocols", "digits"):
        assert report.results[name].applicable, report.results[name].note
    from pollwatch.forensics.identical import _same_district_chance

    chances = _same_district_chance(data.region, data.district)
    assert ((chances >= 0) & (chances <= 1)).all()
