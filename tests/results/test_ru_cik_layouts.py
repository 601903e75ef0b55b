"""The CEC adapter finds its columns from the header and the content, in every layout.

Generated tables in the collection's layout are rearranged the ways the collection's files
differ (more or fewer text columns before the protocol lines, in another order, named in
Russian, a column naming the commission level, the link missing, any number of
candidates); every variant must load to the same stations and votes, without a mapping.
The real files of ``POLLWATCH_DATA`` (when present) are put through the same variants in
memory: nothing is copied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pollwatch.results
import pollwatch.results.ru_cik
from pollwatch.errors import DataFormatError, InputError
from pollwatch.results import detect_format, load_results
from pollwatch.results.ru_cik import map_ru_columns, ru_cik_results
from pollwatch.results.tables import read_table

PROTOCOL = {
    "registered": "Число избирателей, включенных в список избирателей",
    "ballots_received": "Число избирательных бюллетеней, полученных участковой "
    "избирательной комиссией",
    "issued_early": "Число избирательных бюллетеней, выданных избирателям, "
    "проголосовавшим досрочно",
    "issued_premises": "Число избирательных бюллетеней, выданных в помещении для "
    "голосования в день голосования",
    "issued_outside": "Число избирательных бюллетеней, выданных вне помещения для "
    "голосования в день голосования",
    "invalid": "Число недействительных избирательных бюллетеней",
    "valid": "Число действительных избирательных бюллетеней",
}


def cec_table(n: int = 300, candidates: int = 4, seed: int = 0) -> pd.DataFrame:
    """A CEC-like table as read from a file (all text), in the 2024 layout."""
    rng = np.random.default_rng(seed)
    registered = rng.integers(200, 3000, n)
    issued = rng.binomial(registered, 0.65)
    early = rng.binomial(issued, 0.02)
    outside = rng.binomial(issued - early, 0.05)
    premises = issued - early - outside
    invalid = rng.binomial(issued, 0.01)
    valid = issued - invalid
    shares = rng.dirichlet(np.arange(candidates, 0, -1) * 3.0, n)
    votes = np.array([rng.multinomial(v, p) for v, p in zip(valid, shares, strict=True)])
    frame = pd.DataFrame(
        {
            "region": [f"Область {i % 7}" for i in range(n)],
            "tik": [f"ТИК {i % 31}" for i in range(n)],
            "uik": [f"УИК №{i + 1}" for i in range(n)],
            PROTOCOL["registered"]: registered,
            PROTOCOL["ballots_received"]: registered,
            PROTOCOL["issued_early"]: early,
            PROTOCOL["issued_premises"]: premises,
            PROTOCOL["issued_outside"]: outside,
            PROTOCOL["invalid"]: invalid,
            PROTOCOL["valid"]: valid,
        }
    )
    for j in range(candidates):
        frame[f"Кандидат {j + 1}"] = votes[:, j]
    frame["url"] = [f"http://example.invalid/{i}" for i in range(n)]
    return frame.astype(str)


def variants(raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The ways files of the collection differ, applied to one table."""
    text = [c for c in raw.columns if c in ("region", "oik", "tik", "uik", "name")]
    rest = [c for c in raw.columns if c not in text]
    out = {
        "as is": raw,
        "text columns reversed": raw[text[::-1] + rest],
        "no link": raw.drop(columns=[c for c in ("url",) if c in raw.columns]),
        "level column first": raw.assign(level="участковая").loc[:, ["level", *raw.columns]],
        "district commission added": raw.assign(oik="ОИК №1").loc[:, ["oik", *raw.columns]],
        "unnamed text column (address)": raw.assign(**{"Адрес": "ул. Ленина, 1"}),
        "no territorial commission": raw.drop(columns=["tik"]),
        "headers in Russian": raw.rename(columns={"region": "Регион", "tik": "ТИК", "uik": "УИК"}),
        "protocol lines before the names": raw[rest[:-1] + text + rest[-1:]],
    }
    return out


def _key(res: object) -> tuple[int, int, list[int]]:
    stations = res.stations  # type: ignore[attr-defined]
    votes = res.votes()  # type: ignore[attr-defined]
    return len(stations), int(stations["registered"].sum()), sorted(votes.sum().astype(int))


@pytest.mark.parametrize("n_candidates", [2, 4, 15])
def test_every_variant_loads_the_same_stations(n_candidates: int) -> None:
    raw = cec_table(candidates=n_candidates)
    expected = _key(ru_cik_results(raw, file="2024.csv"))
    for label, table in variants(raw).items():
        res = ru_cik_results(table, file="2024.csv")
        assert _key(res) == expected, label
        assert len(res.candidates) == n_candidates, label
        assert res.stations["station"].str.fullmatch(r"\d+").all(), label
        assert res.name == "Russia, presidential election 2024"


def test_arrow_text_and_python_text_load_alike() -> None:
    """The table as a CSV gives it (Arrow text) and as Python strings load to the same
    stations: station ids written in any spacing, regions abroad, exclusions."""
    raw = cec_table()
    raw.loc[3, "uik"] = "  УИК № 4"
    raw.loc[5, "uik"] = "УИК\u00a0№\u00a06"
    raw.loc[7, "uik"] = "8"
    raw.loc[:9, "region"] = "Территория за пределами РФ"
    raw.loc[237, "uik"] = "УИК №21"  # the same region, commission and id as row 20
    arrow = ru_cik_results(raw, file="2024.csv")
    python = ru_cik_results(raw.astype(object), file="2024.csv")
    assert arrow.stations["station"].iloc[[3, 5, 7]].tolist() == ["4", "6", "8"]
    assert arrow.summary()["stations_abroad"] == 10
    assert arrow.excluded["reason"].str.startswith("duplicate station").tolist() == [True]
    pd.testing.assert_frame_equal(arrow.stations, python.stations)
    pd.testing.assert_frame_equal(arrow.excluded, python.excluded)


def test_a_cec_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Detecting the layout reads the whole table; the CEC reader takes that table
    instead of reading the file again."""
    path = tmp_path / "2024.csv"
    cec_table().to_csv(path, index=False)
    reads: list[str] = []

    def counting(p: str | Path) -> pd.DataFrame:
        reads.append(Path(p).name)
        return read_table(p)

    monkeypatch.setattr(pollwatch.results, "read_table", counting)
    monkeypatch.setattr(pollwatch.results.ru_cik, "read_table", counting)
    assert load_results(path).meta["format"] == "ru-cik"
    assert reads == ["2024.csv"]


def test_a_variant_on_disk_is_detected_and_loaded(tmp_path: Path) -> None:
    raw = variants(cec_table())["level column first"]
    path = tmp_path / "2018.csv"
    raw.to_csv(path, index=False)
    assert detect_format(list(raw.columns)) == "ru-cik"
    res = load_results(path)
    assert res.meta["format"] == "ru-cik" and len(res.candidates) == 4
    assert "level" not in res.stations.columns


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns=["uik"]), "no column for the polling station"),
        (lambda t: t.drop(columns=["region"]), "no column for the region"),
        (lambda t: t.drop(columns=[PROTOCOL["registered"]]), "no protocol line for registered"),
        (
            lambda t: t.loc[:, [c for c in t.columns if not c.startswith("Кандидат")]],
            "no candidate or party column",
        ),
        (lambda t: t.rename(columns=lambda c: c.replace("Число", "N")), "no protocol lines"),
    ],
)
def test_unknown_layouts_say_what_is_missing(change: object, message: str) -> None:
    table = change(cec_table())  # type: ignore[operator]
    with pytest.raises(DataFormatError, match=message) as info:
        ru_cik_results(table, file="x.csv")
    assert "x.csv" in str(info.value) or getattr(info.value, "file", None) == "x.csv"


def test_a_damaged_votes_cell_is_an_error_not_a_text_column() -> None:
    table = cec_table()
    table.loc[17, "Кандидат 2"] = "12a"
    with pytest.raises(InputError, match=r"row 19, column .Кандидат 2.: not a number"):
        ru_cik_results(table, file="x.csv")


def test_an_identifier_column_of_text_is_not_a_candidate() -> None:
    mapping = map_ru_columns([*cec_table().columns, "Примечание"], None)
    assert "Примечание" in mapping.candidates  # without content, every other column votes
    table = cec_table().assign(Примечание="перенесён")
    mapping = map_ru_columns(list(table.columns), table)
    assert "Примечание" in mapping.ignore and "Примечание" not in mapping.candidates


# --- every file of the collection -----------------------------------------------------------


def _collection(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "ru").glob("*.csv.zip"))


@pytest.mark.slow
@pytest.mark.realdata
def test_every_file_of_the_collection_in_every_layout(data_dir: Path) -> None:
    files = _collection(data_dir)
    if not files:
        pytest.skip(f"no CEC files in {data_dir / 'ru'}")
    for path in files:
        raw = read_table(path).head(3000)
        mapping = map_ru_columns(list(raw.columns), raw)
        assert {"region", "station", "registered"} <= set(mapping.columns), path.name
        assert len(mapping.candidates or ()) >= 2, path.name
        expected = _key(ru_cik_results(raw, file=path.name))
        for label, table in variants(raw).items():
            assert _key(ru_cik_results(table, file=path.name)) == expected, (path.name, label)
