"""The published recipes and Kobak et al.'s figures reproduce from the CEC files.

Published figures (docs/validation.md lists the sources): Duma 2011 ≈ 15 M anomalous votes
for United Russia (Lyubarev), President 2018 ≈ 10 M (Shpilkin), President 2024 ≈ 22 M over
polling stations (Cedar / Important Stories). The ``shpilkin`` recipe must land within
±15 % of each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pollwatch.forensics.data import station_arrays
from pollwatch.forensics.integer_percentages import integer_percentages
from pollwatch.forensics.shpilkin import shpilkin
from pollwatch.results import load_results

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

PUBLISHED_SHPILKIN = {"2011": 15e6, "2018": 10e6, "2024": 22e6}


@pytest.mark.parametrize("year", sorted(PUBLISHED_SHPILKIN))
def test_shpilkin_recipe_reproduces_the_published_figure(data_dir: Path, year: str) -> None:
    data = station_arrays(load_results(data_dir / "ru" / f"{year}.csv.zip"))
    recipe = {r.name: r for r in shpilkin(data, resamples=100, seed=0).recipes}["shpilkin"]
    assert recipe.anomalous_votes == pytest.approx(PUBLISHED_SHPILKIN[year], rel=0.15)


# Kobak et al.'s Monte Carlo excess of integer stations ("either"), from the
# montecarlo.pickle of their public repository dkobak/elections (analysis/2024).
PUBLISHED_INTEGER_EXCESS = {"2004": 933.7, "2008": 1_722.8, "2018": 1_708.8, "2024": 2_931.0}


@pytest.mark.parametrize("year", sorted(PUBLISHED_INTEGER_EXCESS))
def test_integer_excess_reproduces_kobak_et_al(data_dir: Path, year: str) -> None:
    data = station_arrays(load_results(data_dir / "ru" / f"{year}.csv.zip"))
    result = integer_percentages(data, resamples=10)
    excess = result.counts["either"].excess
    assert excess == pytest.approx(PUBLISHED_INTEGER_EXCESS[year], rel=0.01)
