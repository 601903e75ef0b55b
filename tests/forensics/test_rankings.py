"""The rankings judge whole percentages by the integer-percentage test's own rule."""

from __future__ import annotations

import numpy as np
import pytest

from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.integer_percentages import integer_percentages
from pollwatch.forensics.rankings import integer_hit, rank_regions, rank_stations
from pollwatch.forensics.shpilkin import shpilkin


def _at_turnout(issued: int, registered: int = 2000, n: int = 60) -> StationArrays:
    reg = np.full(n, registered)
    iss = np.full(n, issued)
    leader = np.full(n, issued // 2)
    return StationArrays.from_counts(reg, iss, iss, leader)


@pytest.mark.parametrize(
    ("issued", "whole"),
    [
        (99, True),  # 4.95 %: the window round 5 % is closed at both ends,
        (101, True),  # 5.05 %: as in Kobak et al.'s code
        (100, True),  # 5.00 %
        (98, False),  # 4.90 %
        (102, False),  # 5.10 %
    ],
)
def test_rankings_and_the_method_agree_at_the_bin_edge(issued: int, whole: bool) -> None:
    data = _at_turnout(issued)
    method = integer_percentages(data, resamples=10)
    assert method.applicable
    assert method.counts["turnout"].observed == (data.n if whole else 0)
    hit, _ = integer_hit(data.issued, data.registered)
    assert hit.tolist() == [whole] * data.n
    assert {row["round_turnout"] for row in rank_stations(data, {})} == {whole}
    region = rank_regions(data, {})[0]  # counted by the rankings, not taken from the method
    assert region["integer_observed"] == method.counts["either"].observed


def test_the_chance_is_the_share_of_numerators_the_rule_counts() -> None:
    for d in range(1, 401):
        numerators = np.arange(d)
        hit, chance = integer_hit(numerators, np.full(d, d))
        assert chance[0] == pytest.approx(hit.mean()), d


def test_no_voters_is_never_a_whole_percentage() -> None:
    hit, chance = integer_hit(np.array([0, 5]), np.array([0, 0]))
    assert hit.tolist() == [False, False]
    assert chance.tolist() == [1.0, 1.0]


def _machine_election(seed: int) -> tuple[StationArrays, set[str]]:
    """Ten honest regions whose turnout and leader's share rise together (45/40 % to 72/67 %)
    and two regional machines where every station is written up to 90-99 % turnout and
    90-99 % for the leader, with no round numbers."""
    rng = np.random.default_rng(seed)
    regs, isss, leads, labels = [], [], [], []
    for r in range(12):
        n = 300
        reg = rng.integers(800, 2500, n)
        t, s = (0.45 + 0.03 * r, 0.40 + 0.03 * r) if r < 10 else (0.6, 0.55)
        iss = rng.binomial(reg, rng.beta(80 * t, 80 * (1 - t)))
        lead = rng.binomial(iss, rng.beta(80 * s, 80 * (1 - s)))
        if r >= 10:  # the machine: ballots added for the leader, then others' votes moved
            new_iss = np.round(reg * rng.uniform(0.9, 0.99, n)).astype(np.int64)
            lead = lead + (new_iss - iss)
            iss = new_iss
            lead = np.maximum(lead, np.round(iss * rng.uniform(0.9, 0.99, n))).astype(np.int64)
        regs.append(reg)
        isss.append(iss)
        leads.append(lead)
        labels += [f"R{r:02d}"] * n
    reg, iss, lead = np.concatenate(regs), np.concatenate(isss), np.concatenate(leads)
    data = StationArrays.from_counts(reg, iss, iss, lead, region=labels)
    return data, {"R10", "R11"}


@pytest.mark.parametrize("seed", range(3))
def test_regional_machines_rank_first_and_honest_keen_regions_do_not(seed: int) -> None:
    data, machines = _machine_election(seed)
    ranking = rank_regions(data, {"shpilkin": shpilkin(data, resamples=10)})
    assert {r["region"] for r in ranking[:2]} == machines
    by_name = {r["region"]: r for r in ranking}
    for name in machines:
        row = by_name[name]
        assert row["reference"] == "national"
        # judged by its own (written-up) peak the machine would read as nearly clean
        assert row["anomalous_votes"] > 5 * max(abs(row["anomalous_votes_own"]), 1)
    # honest regions, the keen ones (72 % turnout, 67 % for the leader) included, read as
    # clean: by their own reference, or by the national one when chance flags their digits
    honest = [r for r in ranking if r["region"] not in machines]
    assert all(abs(r["anomalous_share"]) < 0.05 for r in honest)


@pytest.mark.slow
@pytest.mark.realdata
def test_2024_electoral_sultanates_rank_in_the_top_half(data_dir) -> None:  # type: ignore[no-untyped-def]
    """Chechnya (97 % turnout, 99 % for the leader), Kabardino-Balkaria and Tyva."""
    from pollwatch.forensics.data import station_arrays
    from pollwatch.results import load_results

    data = station_arrays(load_results(data_dir / "ru" / "2024.csv.zip"))
    results = {
        "shpilkin": shpilkin(data, resamples=10),
        "integer_percentages": integer_percentages(data, resamples=10),
    }
    ranking = [r["region"] for r in rank_regions(data, results)]
    for part in ("Чеченская", "Кабардино-Балкарская", "Тыва"):
        rank = next(i for i, name in enumerate(ranking) if part in name)
        assert rank < len(ranking) // 2, (part, rank)
