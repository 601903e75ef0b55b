"""The real CEC 2004–2024 and Ugandan files load with the expected station counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from pollwatch.results import load_results

# rows per file, from the data folder's README (stations_total = loaded + excluded)
ROWS = {
    "ru/2004.csv.zip": 95_779,
    "ru/2007.csv.zip": 96_193,
    "ru/2008.csv.zip": 96_612,
    "ru/2011.csv.zip": 95_225,
    "ru/2012.csv.zip": 95_415,
    "ru/2016.csv.zip": 96_871,
    "ru/2018.csv.zip": 97_699,
    "ru/2020.csv.zip": 96_765,
    "ru/2024.csv.zip": 94_214,
    "uganda/2011-results.csv.gz": 23_968,
    "uganda/2016-results.csv.gz": 28_010,
}

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.mark.parametrize("name", sorted(ROWS))
def test_file_loads_with_expected_rows(data_dir: Path, name: str) -> None:
    res = load_results(data_dir / name)
    s = res.summary()
    assert s["stations_total"] == ROWS[name]
    assert s["stations_loaded"] > 0.9 * ROWS[name]
    assert (res.stations["registered"] > 0).all()
    assert len(res.candidates) >= 2
    turnout = res.ballots_cast().sum() / res.stations["registered"].sum()
    assert 0.3 < turnout < 0.95, turnout  # the ballot columns are mapped, not left at zero


def test_2024_details(data_dir: Path) -> None:
    res = load_results(data_dir / "ru" / "2024.csv.zip")
    reasons = res.excluded["reason"].value_counts().to_dict()
    assert reasons == {"empty row: no figures published": 2_268, "no registered voters": 7}
    assert res.summary()["stations_abroad"] == 288
    assert res.n_stations == 94_214 - 2_268 - 7
    assert "Путин" in res.leader()
    assert res.aggregates is not None and len(res.aggregates) == 29
    assert res.stations["station"].str.fullmatch(r"\d+").all()  # "УИК №N" → "N"


def test_2018_abroad(data_dir: Path) -> None:
    res = load_results(data_dir / "ru" / "2018.csv.zip")
    assert res.summary()["stations_abroad"] == 393


def test_2020_has_no_valid_line_but_a_valid_sum(data_dir: Path) -> None:
    res = load_results(data_dir / "ru" / "2020.csv.zip")
    assert set(res.candidates) == {"ДА", "НЕТ"}
    assert (res.stations["valid"] == res.stations["ДА"] + res.stations["НЕТ"]).all()
