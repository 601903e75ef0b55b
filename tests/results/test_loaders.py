"""Loaders on malformed, hostile and oversized input: clear errors naming file, row, column."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pollwatch.results
from pollwatch.errors import DataFormatError, InputError, NotFoundError
from pollwatch.results import ColumnMapping, detect_format, load_results, read_mapping, tables
from pollwatch.results.validate import parse_counts

HEADER = "region,district,station,registered,issued_premises,valid,invalid,A,B\n"
ROWS = [
    "North,D1,1,1000,600,590,10,300,290\n",
    "North,D1,2,800,500,495,5,200,295\n",
    "South,D2,3,1200,700,690,10,400,290\n",
]


def _csv(
    tmp_path: Path, rows: list[str] | None = None, header: str = HEADER, name: str = "r.csv"
) -> Path:
    p = tmp_path / name
    p.write_text(header + "".join(ROWS if rows is None else rows), encoding="utf-8")
    return p


def test_schema_named_columns_load(tmp_path: Path) -> None:
    res = load_results(_csv(tmp_path))
    assert res.n_stations == 3
    assert res.candidates == ("A", "B")
    assert res.ballots_issued().tolist() == [600, 500, 700]
    assert res.leader() == "A"
    assert res.meta["format"] == "mapped"


def test_missing_column(tmp_path: Path) -> None:
    mapping = ColumnMapping(
        columns={"station": "station", "registered": "registered", "valid": "VALID"}
    )
    with pytest.raises(DataFormatError, match=r"missing column\(s\): 'VALID'"):
        load_results(_csv(tmp_path), mapping=mapping)


def test_no_station_or_registered_column(tmp_path: Path) -> None:
    p = _csv(tmp_path, header="a,b,c,d,e,f,g,h,i\n")
    with pytest.raises(DataFormatError, match="give a column mapping"):
        load_results(p)


@pytest.mark.parametrize(
    ("cell", "message"),
    [("12x", "not a number: '12x'"), ("-5", "negative count"), ("3.5", "not a whole number")],
)
def test_bad_count_names_row_and_column(tmp_path: Path, cell: str, message: str) -> None:
    rows = list(ROWS)
    rows[1] = f"North,D1,2,{cell},500,495,5,200,295\n"
    with pytest.raises(InputError, match=message) as info:
        load_results(_csv(tmp_path, rows))
    assert info.value.row == 3  # header is line 1
    assert info.value.column == "registered"
    assert "row 3" in str(info.value) and "column 'registered'" in str(info.value)


def test_a_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Detecting the layout reads the whole table; loading must not read the file again
    (the second read of a national file was a quarter of its load)."""
    reads: list[str] = []

    def counting(path: str | Path) -> pd.DataFrame:
        reads.append(Path(path).name)
        return tables.read_table(path)

    monkeypatch.setattr(pollwatch.results, "read_table", counting)
    assert load_results(_csv(tmp_path)).n_stations == 3
    assert reads == ["r.csv"]


ARROW_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def _parsed(cells: list[str], dtype: Any) -> list[int] | str:
    try:
        counts: list[int] = parse_counts(
            pd.Series(cells, dtype=dtype), file="f.csv", column="c"
        ).tolist()
    except InputError as exc:
        return str(exc)
    return counts


def test_plain_counts_in_arrow_text() -> None:
    """Counts as a CSV gives them (Arrow text): blanks are missing (-1), leading zeros
    read as the number."""
    assert _parsed(["1", "", "007", "42", ""], ARROW_TEXT) == [1, -1, 7, 42, -1]


@pytest.mark.parametrize(
    "cells",
    [
        ["1", "", "007", "42"],
        ["1", "٣", "2"],  # an Arabic-Indic digit three
        ["1", "²"],  # a superscript two: a digit to Python, not a number
        ["1", " 2", "1 234", " 5"],  # spaces, a no-break space
        ["1", "-5"],
        ["1", "3.5"],
        ["1", "12x"],
        ["1", "nan", "-", "null"],
        ["", ""],
    ],
)
def test_arrow_text_parses_as_python_text(cells: list[str]) -> None:
    """A count column of Arrow text (CSV files) gives the numbers, or the error, that the
    same cells give as Python strings (Excel, Parquet, a table built in Python)."""
    assert _parsed(cells, ARROW_TEXT) == _parsed(cells, object)


def test_votes_exceeding_ballots_excluded_or_strict(tmp_path: Path) -> None:
    rows = list(ROWS)
    rows[2] = "South,D2,3,1200,700,690,10,400,400\n"
    res = load_results(_csv(tmp_path, rows))
    assert res.n_stations == 2
    bad = res.excluded.iloc[0]
    assert bad["row"] == 4 and bad["column"] == "valid" and "exceed" in bad["reason"]
    with pytest.raises(InputError, match="exceed valid ballots") as info:
        load_results(_csv(tmp_path, rows), strict=True)
    assert info.value.row == 4


def test_duplicate_station(tmp_path: Path) -> None:
    rows = [*ROWS, "North,D1,2,800,500,495,5,200,295\n"]
    res = load_results(_csv(tmp_path, rows))
    assert res.n_stations == 3
    assert res.excluded["reason"].str.startswith("duplicate station").tolist() == [True]
    assert res.excluded.iloc[0]["row"] == 5
    with pytest.raises(InputError, match="duplicate station '2'"):
        load_results(_csv(tmp_path, rows), strict=True)


def test_empty_rows_and_zero_registered_are_listed(tmp_path: Path) -> None:
    rows = [*ROWS, "East,D3,4,,,,,,\n", "East,D3,5,0,0,0,0,0,0\n"]
    res = load_results(_csv(tmp_path, rows))
    assert res.n_stations == 3
    assert res.excluded["reason"].tolist() == [
        "empty row: no figures published",
        "no registered voters",
    ]
    assert res.summary()["stations_total"] == 5


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"empty\.csv"):
        load_results(p)


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="a header but no rows"):
        load_results(_csv(tmp_path, rows=[]))


def test_binary_file(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_bytes(b"\x00\x01\x02PNG\x00" * 100)
    with pytest.raises(DataFormatError, match="binary file"):
        load_results(p)


def test_bad_zip(tmp_path: Path) -> None:
    p = tmp_path / "x.csv.zip"
    p.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(DataFormatError, match="cannot read the file"):
        load_results(p)


def test_zip_with_two_csvs(tmp_path: Path) -> None:
    p = tmp_path / "two.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("a.csv", HEADER + ROWS[0])
        zf.writestr("b.csv", HEADER + ROWS[1])
    with pytest.raises(DataFormatError, match="expected one CSV in the zip archive, found 2"):
        load_results(p)


def test_zip_and_gzip_containers(tmp_path: Path) -> None:
    z = tmp_path / "r.csv.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("r.csv", HEADER + "".join(ROWS))
    g = tmp_path / "r.csv.gz"
    g.write_bytes(gzip.compress((HEADER + "".join(ROWS)).encode()))
    assert load_results(z).n_stations == load_results(g).n_stations == 3


def test_oversized_input_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "MAX_FILE_BYTES", 100)
    with pytest.raises(DataFormatError, match="larger than 100 bytes"):
        load_results(_csv(tmp_path))
    g = tmp_path / "bomb.csv.gz"
    g.write_bytes(gzip.compress(b"a,b\n" + b"1,2\n" * 1000))
    with pytest.raises(DataFormatError, match="larger than 100 bytes"):
        load_results(g)


def test_cp1251_file(tmp_path: Path) -> None:
    p = tmp_path / "ru.csv"
    p.write_bytes(
        (HEADER.replace("region", "region") + "Москва,D1,1,100,50,49,1,30,19\n").encode("cp1251")
    )
    res = load_results(p)
    assert res.stations["region"].tolist() == ["Москва"]


def test_missing_file() -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        load_results("/nonexistent/results.csv")


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="unknown format 'xml'"):
        load_results(_csv(tmp_path), format="xml")


def test_mapping_toml(tmp_path: Path) -> None:
    csv = _csv(tmp_path, header="Okrug,Opstina,BM,Upisani,Izasli,Vazeci,Nevazeci,A,B\n")
    m = tmp_path / "m.toml"
    m.write_text(
        'name = "Test election"\n[columns]\nregion = "Okrug"\ndistrict = "Opstina"\n'
        'station = "BM"\nregistered = "Upisani"\nissued_premises = "Izasli"\n'
        'valid = "Vazeci"\ninvalid = "Nevazeci"\n',
        encoding="utf-8",
    )
    res = load_results(csv, mapping=m)
    assert res.name == "Test election"
    assert res.n_stations == 3 and res.candidates == ("A", "B")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("this is = = not toml", "not a valid TOML file"),
        ("[columns]\nstation = 3\n", r"\[columns\] must map schema fields"),
        ('[columns]\nstation = "BM"\n', "must name the 'registered' column"),
        ('[columns]\nstation = "BM"\nregistered = "U"\nvotes = "V"\n', "unknown schema field"),
        (
            '[columns]\nstation = "BM"\nregistered = "U"\n[candidates]\ncolumns = "A"\n',
            "list of column",
        ),
    ],
)
def test_wrong_mapping_toml(tmp_path: Path, toml: str, message: str) -> None:
    m = tmp_path / "bad.toml"
    m.write_text(toml, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_mapping(m)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such mapping file"):
        load_results(_csv(tmp_path), mapping=tmp_path / "nope.toml")


def test_detect_format() -> None:
    assert detect_format(["region", "tik", "uik", "Число избирателей"]) == "ru-cik"
    assert detect_format(["Reg.Voters", "V.Votes"]) == "uganda"
    assert detect_format(["station", "registered"]) == "mapped"


@pytest.mark.parametrize(
    "text",
    [
        'a,b\n1,  x\n2, "  y"\n',  # spaces before a quote: pandas reads the quoted y
        'a;b\n1;" q"\n2; z \n',  # a quoted value starting with a space keeps it
        'a,b\n"  lead",2\n" , ",3\n',
        'a,b\n1,  x\n"q, r",2\n"say ""hi"" ",3\n',  # nothing ambiguous: Arrow reads it
    ],
)
def test_csv_values_are_read_as_pandas_reads_them(tmp_path: Path, text: str) -> None:
    """Arrow's fast reader and pandas' reader give the same values, quoted spaces included
    (Arrow kept the quotes of ``a, "b"`` and trimmed the space of ``" b"``)."""
    p = tmp_path / "t.csv"
    p.write_text(text, encoding="utf-8")
    sep = ";" if ";" in text.split("\n", 1)[0] else ","
    want = pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    got = tables.read_table(p)
    assert got.columns.tolist() == want.columns.tolist()
    assert got.astype(str).values.tolist() == want.values.tolist()
