"""A partial station registry: the usable rows and values imported, every other one named
(line, column, reason), on SQLite and PostgreSQL; malformed, hostile and oversized files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pollwatch.errors import DataFormatError, InputError, NotFoundError
from pollwatch.store import get_election, import_stations, list_stations
from pollwatch.store import registry as registry_module
from pollwatch.store.registry import check_station_rows

HEADER = "station,name,lat,lon,registered,timezone,schedule"
ROWS = [
    "1,Embassy,44.79,20.45,1200,,2026-03-15 08:00-20:00",  # 2: zone from coordinates
    ",No id,1,1,1,,",  # 3: row left out
    "a b,Bad id,1,1,1,,",  # 4: row left out
    "1,Again,1,1,1,,",  # 5: row left out (repeats line 2)
    "2,Consulate,91,20,about 1200,,",  # 6: lat and registered left out
    "3,Far away,,,,Mars/Base,2026-03-15 08:00-20:00",  # 7: zone and schedule left out
    "4,Schedule only,,,,,2026-03-15 08:00-20:00",  # 8: schedule left out (no zone)
    "5,Bad schedule,,,,Europe/Berlin,tomorrow morning",  # 9: schedule left out
    "6,Berlin,,,,Europe/Berlin,2026-03-15 8:00-20:00; 2026-03-16 08:00-14:00",  # 10: all good
    "7,Too,many,fields,here,,,,",  # 11: ragged: row left out
    "8,Short row",  # 12: trailing fields missing: empty
]


def write(tmp_path: Path, lines: list[str], name: str = "registry.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_partial_registry_imports_what_it_can_and_names_the_rest(
    engine: Engine, tmp_path: Path
) -> None:
    summary = import_stations(engine, "p", write(tmp_path, [HEADER, *ROWS]), strict=False)
    found = [(p.line, p.column, p.action) for p in summary.problems]
    assert found == [
        (3, "station", "row left out"),
        (4, "station", "row left out"),
        (5, "station", "row left out"),
        (6, "lat", "field left out"),
        (6, "registered", "field left out"),
        (7, "timezone", "field left out"),
        (7, "timezone", "field left out"),  # the schedule, for want of a zone
        (8, "timezone", "field left out"),
        (9, "schedule", "field left out"),
        (11, "station", "row left out"),
    ]
    reasons = {(p.line, p.column): p.reason for p in summary.problems}
    assert "empty" in reasons[(3, "station")] and "repeats line 2" in reasons[(5, "station")]
    assert "'about 1200'" in reasons[(6, "registered")]
    assert "the row has 9 fields, the header 7" in reasons[(11, "station")]
    assert summary.stations == 7 and summary.skipped_rows == 4
    rows = {r["station"]: r for r in list_stations(engine, "p")}
    assert sorted(rows) == ["1", "2", "3", "4", "5", "6", "8"]
    assert rows["8"]["name"] == "Short row" and rows["8"]["lat"] is None
    assert rows["1"]["timezone"] == "Europe/Belgrade" and rows["1"]["schedule"]
    assert rows["2"]["lat"] is None and rows["2"]["lon"] == 20.0
    assert rows["2"]["registered"] is None and rows["2"]["name"] == "Consulate"
    assert rows["3"]["timezone"] is None and rows["3"]["schedule"] is None
    assert rows["5"]["timezone"] == "Europe/Berlin" and rows["5"]["schedule"] is None
    assert rows["6"]["schedule"] == "2026-03-15 08:00-20:00; 2026-03-16 08:00-14:00"
    assert summary.to_dict()["problems"][0] == {
        "line": 3,
        "column": "station",
        "reason": "the station id is empty",
        "action": "row left out",
    }


def test_strict_is_still_all_or_nothing(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        import_stations(engine, "s", write(tmp_path, [HEADER, *ROWS]))
    assert info.value.row == 3 and info.value.column == "station"
    with pytest.raises(NotFoundError):
        get_election(engine, "s")


def test_any_column_but_the_station_may_be_absent_or_empty(engine: Engine, tmp_path: Path) -> None:
    summary = import_stations(engine, "m", write(tmp_path, ["station", "1", "2"]), strict=False)
    assert summary.stations == 2 and summary.problems == ()
    path = write(tmp_path, ["city;station;address", "Beograd;1;", ";2;Deligradska 32"])
    import_stations(engine, "m", path, strict=False)  # semicolons, columns in any order
    rows = {r["station"]: r for r in list_stations(engine, "m")}
    assert rows["1"]["city"] == "Beograd" and rows["2"]["address"] == "Deligradska 32"


def test_an_update_changes_only_what_the_file_has_and_could_use(
    engine: Engine, tmp_path: Path
) -> None:
    first = ["station,name,address,lat,lon", "1,Embassy,Deligradska 32,44.79,20.45"]
    import_stations(engine, "u", write(tmp_path, first), strict=False)
    # no name column; a latitude that cannot be used; an empty address clears it
    again = ["station,address,lat,lon", "1,,95,20.5"]
    summary = import_stations(engine, "u", write(tmp_path, again, "b.csv"), strict=False)
    assert [(p.line, p.column) for p in summary.problems] == [(2, "lat")]
    (row,) = list_stations(engine, "u")
    assert row["name"] == "Embassy"  # not in the file: kept
    assert row["lat"] == 44.79  # could not be used: kept
    assert row["address"] is None  # empty: cleared
    assert row["lon"] == 20.5


def test_hostile_values_are_named_escaped_and_left_out(engine: Engine, tmp_path: Path) -> None:
    lines = [
        "station,name,address,__line__",
        '1,"\x1b[2J\x1b[31mEvil",Fine,999',  # terminal escapes in a name
        '2,"=HYPERLINK(""http://x"")","multi\nline\naddress",7',  # formula; a quoted newline
        f"{'9' * 5000},Long id,,",
        "3,Ok,Knez\u00a0Mihailova 1,",  # a no-break space is fine
        "4,Admin\u202egnp.exe,,",  # a bidirectional override is not
    ]
    summary = import_stations(engine, "h", write(tmp_path, lines), strict=False)
    problems = [(p.line, p.column, p.action) for p in summary.problems]
    assert problems == [
        (2, "name", "field left out"),
        (6, "station", "row left out"),
        (8, "name", "field left out"),
    ]
    text = summary.problems[0].text()
    assert "\x1b" not in text and "\\x1b" in text  # shown escaped, never interpreted
    rows = {r["station"]: r for r in list_stations(engine, "h")}
    assert rows["1"]["name"] is None and rows["1"]["address"] == "Fine"
    assert rows["2"]["name"].startswith("=HYPERLINK")  # stored as text; pages escape it
    assert rows["2"]["address"] == "multi\nline\naddress"
    assert rows["3"]["address"] == "Knez\u00a0Mihailova 1"  # lines are the file's, not records
    assert rows["4"]["name"] is None


def test_an_oversized_field_loses_its_row_only(engine: Engine, tmp_path: Path) -> None:
    lines = ["station,name", "1,Ok", f"2,{'x' * 70_000}", "3,Ok", f"4,{'y' * 1001}"]
    summary = import_stations(engine, "o", write(tmp_path, lines), strict=False)
    assert [(p.line, p.column, p.action) for p in summary.problems] == [
        (3, "station", "row left out"),
        (5, "name", "field left out"),
    ]
    assert "1000 characters" in summary.problems[1].reason
    assert sorted(r["station"] for r in list_stations(engine, "o")) == ["1", "3", "4"]


def test_oversized_files_are_refused_before_parsing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_module, "MAX_REGISTRY_BYTES", 10_000)
    big = write(tmp_path, ["station", *(str(i) for i in range(3000))])
    with pytest.raises(DataFormatError, match="larger than"):
        import_stations(engine, "b", big, strict=False)
    monkeypatch.setattr(registry_module, "MAX_REGISTRY_BYTES", 10**9)
    monkeypatch.setattr(registry_module, "MAX_REGISTRY_ROWS", 100)
    with pytest.raises(DataFormatError, match="more than 100 rows"):
        import_stations(engine, "b", big, strict=False)
    as_json = tmp_path / "big.json"
    as_json.write_text(json.dumps([{"station": str(i)} for i in range(101)]), "utf-8")
    with pytest.raises(DataFormatError, match="more than 100 rows"):
        import_stations(engine, "b", as_json, strict=False)
    with pytest.raises(NotFoundError):
        get_election(engine, "b")


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"id,name\n1,A\n", "x.csv", "--map station="),
        (b"\x00\x01\x02binary" * 100, "x.csv", "binary"),
        (b"station\n", "x.csv", "no rows"),
        (b"station\n,\n a b\n", "x.csv", "no row of the file is usable"),
        (b"[1, 2]", "x.json", "list of station objects"),
        (b"{" * 100_000, "x.json", "not readable JSON"),
        (b"not a zip", "x.zip", "cannot read"),
    ],
)
def test_unusable_files_are_refused_with_a_reason_and_nothing_written(
    engine: Engine, tmp_path: Path, content: bytes, name: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        import_stations(engine, "bad", path, strict=False)
    with pytest.raises(NotFoundError):
        get_election(engine, "bad")


def test_json_values_of_any_type_are_checked_as_text(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    rows = [
        {"station": "1", "lat": {"x": 1}, "registered": [1, 2], "name": None},
        {"station": 2, "lat": 44.5, "__line__": "abc"},
        {"station": True},
    ]
    path.write_text(json.dumps({"stations": rows}), "utf-8")
    summary = import_stations(engine, "j", path, strict=False)
    assert [(p.line, p.column, p.action) for p in summary.problems] == [
        (2, "lat", "field left out"),
        (2, "registered", "field left out"),
    ]
    assert sorted(r["station"] for r in list_stations(engine, "j")) == ["1", "2", "True"]


def test_checking_rows_is_pure_and_names_lines() -> None:
    checked = check_station_rows([{"station": "1"}, {"station": ""}, {"station": "1"}])
    assert [r["station"] for r in checked.rows] == ["1"]
    assert [(p.line, p.reason) for p in checked.problems] == [
        (3, "the station id is empty"),
        (4, "station '1' repeats line 2"),
    ]


@pytest.mark.parametrize("suffix", ["parquet", "csv.gz", "xlsx"])
def test_other_containers_are_checked_the_same_way(
    engine: Engine, tmp_path: Path, suffix: str
) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {"station": ["1", "", "3"], "lat": ["44.8", "1", "not a number"], "city": ["A", "B", "C"]}
    )
    path = tmp_path / f"registry.{suffix}"
    if suffix == "parquet":
        frame.to_parquet(path)
    elif suffix == "xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False, compression="gzip")
    summary = import_stations(engine, "c", path, strict=False)
    assert [(p.line, p.column, p.action) for p in summary.problems] == [
        (3, "station", "row left out"),
        (4, "lat", "field left out"),
    ]
    rows = {r["station"]: r for r in list_stations(engine, "c")}
    assert rows["1"]["lat"] == 44.8 and rows["3"]["lat"] is None and rows["3"]["city"] == "C"
