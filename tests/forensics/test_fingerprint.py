"""Fingerprint: voter-weighted histograms with bins centred on round percentages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.fingerprint import FingerprintResult, fingerprint


def test_stations_land_in_their_bins_weighted_by_registered_voters() -> None:
    # turnout 35 % (7/20 exactly), 62.5 %, 62.5 %; share 50 %, 40 %, 40 %
    data = StationArrays.from_counts(
        registered=[20, 1000, 800],
        issued=[7, 625, 500],
        cast=[6, 600, 500],
        leader=[3, 240, 200],
    )
    result = fingerprint(data)
    assert isinstance(result, FingerprintResult)
    assert result.hist2d.shape == (1001, 1001)
    assert result.hist2d[350, 500] == 20
    assert result.hist2d[625, 400] == 1800
    assert result.hist2d.sum() == 1820
    np.testing.assert_allclose(result.centres[[350, 625]], [0.35, 0.625])
    assert result.turnout_hist[625] == 1800 and result.share_hist[500] == 20
    assert result.registered_voters == 1820


def test_integer_percentages_sit_at_bin_centres() -> None:
    # 40.04 % and 39.96 % share the 40 % bin; 40.05 % rounds half up to 40.1 %
    data = StationArrays.from_counts(
        registered=[10000, 10000, 10000],
        issued=[4004, 3996, 4005],
        cast=[100, 100, 100],
        leader=[50, 50, 50],
    )
    result = fingerprint(data)
    assert result.turnout_hist[400] == 20000
    assert result.turnout_hist[401] == 10000
    coarse = fingerprint(data, resolution=0.01)
    assert coarse.hist2d.shape == (101, 101)
    assert coarse.turnout_hist[40] == 30000


def test_national_figures_and_coarse_marginals() -> None:
    rng = np.random.default_rng(0)
    reg = rng.integers(100, 3000, 500)
    iss = rng.binomial(reg, 0.6)
    lead = rng.binomial(iss, 0.7)
    result = fingerprint(StationArrays.from_counts(reg, iss, iss, lead))
    assert result.turnout == pytest.approx(iss.sum() / reg.sum())
    assert result.share == pytest.approx(lead.sum() / iss.sum())
    assert result.turnout_hist_1pct.sum() == pytest.approx(reg.sum())
    assert result.share_hist_1pct.sum() == pytest.approx(reg.sum())
    assert 55 <= int(np.argmax(result.turnout_hist_1pct)) <= 65
    np.testing.assert_allclose(result.hist2d_1pct.sum(axis=1), result.turnout_hist_1pct)


def test_unusable_stations_are_left_out_and_counted() -> None:
    data = StationArrays.from_counts(
        registered=[1000, 0, 500, 400],
        issued=[600, 0, 700, 200],
        cast=[600, 0, 700, 0],
        leader=[300, 0, 300, 0],
    )
    result = fingerprint(data)
    assert (result.n_used, result.n_excluded) == (1, 3)
    assert result.hist2d.sum() == 1000
    assert "3 stations" in result.note


def test_no_usable_station_is_not_applicable() -> None:
    result = fingerprint(StationArrays.from_counts([0, 10], [0, 5], [0, 0], [0, 0]))
    assert not result.applicable
    assert result.note
    json.dumps(result.to_dict())


def test_json_leaves_out_the_large_arrays() -> None:
    data = StationArrays.from_counts([1000, 900], [600, 500], [600, 500], [300, 200])
    out = json.loads(json.dumps(fingerprint(data).to_dict()))
    assert out["method"] == "fingerprint"
    assert "hist2d" not in out and "turnout_hist" not in out and "hist2d_1pct" not in out
    assert len(out["turnout_hist_1pct"]) == 101
    assert out["weight"] == "registered voters"


@pytest.mark.parametrize("resolution", [0.0, -0.001, 0.003, 0.5, "0.001", True])
def test_bad_resolution_raises(resolution: object) -> None:
    data = StationArrays.from_counts([1000], [600], [600], [300])
    with pytest.raises(InputError, match="'resolution' parameter of fingerprint"):
        fingerprint(data, resolution=resolution)  # type: ignore[arg-type]
