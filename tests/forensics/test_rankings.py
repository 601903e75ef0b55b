"""The rankings judge whole percentages by the integer-percentage test's own rule."""

from __future__ import annotations

import numpy as np
import pytest

from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.integer_percentages import integer_percentages
from pollwatch.forensics.rankings import integer_hit, rank_regions, rank_stations


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
