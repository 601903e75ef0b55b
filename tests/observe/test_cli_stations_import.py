"""`pollwatch stations import` with a partial registry: what it imports, what it reports, and
its exit status (0 all used, 3 imported with rows or values left out, 1 nothing imported)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pollwatch.cli import main
from pollwatch.cli.observe import PROBLEMS_SHOWN, STATIONS_IMPORT_PARTIAL
from pollwatch.store import list_stations, open_store


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def stations(url: str, election: str) -> dict[str, dict[str, object]]:
    engine = open_store(url)
    try:
        return {r["station"]: r for r in list_stations(engine, election)}
    finally:
        engine.dispose()


def test_a_clean_file_exits_0(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "station,city,timezone,schedule\n1,Beograd,Europe/Belgrade,2026-03-15 08:00-20:00\n",
        "utf-8",
    )
    code, out, err = run(["stations", "import", str(path), "--election", "c"], capsys)
    assert (code, err) == (0, "") and "imported 1 stations into c" in out
    assert stations(cli_db, "c")["1"]["schedule"] == "2026-03-15 08:00-20:00"


def test_a_partial_file_exits_3_naming_each_problem(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "station,name,lat,lon,timezone\n"
        "1,\x1b[31mEmbassy,44.79,20.45,\n"
        ",Nameless,,,\n"
        "2,Consulate,,,Mars/Base\n",
        "utf-8",
    )
    report = tmp_path / "problems.csv"
    args = ["stations", "import", str(path), "--election", "p", "--problems", str(report)]
    code, out, err = run(args, capsys)
    assert code == STATIONS_IMPORT_PARTIAL == 3
    assert "imported 2 stations into p" in out
    lines = err.splitlines()
    assert lines[0].startswith("line 2, column 'name': text with control characters")
    assert lines[0].endswith("(field left out)")
    assert lines[1] == "line 3, column 'station': the station id is empty (row left out)"
    assert lines[2].startswith("line 4, column 'timezone': unknown time zone 'Mars/Base'")
    assert lines[-1] == "left out 1 rows and 2 values (exit status 3)"
    assert "\x1b" not in err and "Traceback" not in err
    with report.open(encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert [(r["line"], r["column"], r["action"]) for r in written] == [
        ("2", "name", "field left out"),
        ("3", "station", "row left out"),
        ("4", "timezone", "field left out"),
    ]
    rows = stations(cli_db, "p")
    assert rows["1"]["name"] is None and rows["1"]["timezone"] == "Europe/Belgrade"
    assert rows["2"]["timezone"] is None


def test_many_problems_are_summarised_on_stderr_and_listed_in_full(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.csv"
    path.write_text("station,lat\n" + "".join(f"{i},999\n" for i in range(120)), "utf-8")
    report = tmp_path / "p.csv"
    args = ["stations", "import", str(path), "--election", "m", "--problems", str(report)]
    code, _, err = run(args, capsys)
    assert code == 3
    assert f"... and {120 - PROBLEMS_SHOWN} more problems" in err
    assert len(report.read_text("utf-8").splitlines()) == 121
    assert len(stations(cli_db, "m")) == 120


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("id,name\n1,A\n", [], "--map station="),
        ("station\na b\n!\n", [], "no row of the file is usable"),
        ("station,lat\n1,0\n2,999\n", ["--strict"], "row 3, column 'lat'"),
    ],
)
def test_nothing_imported_exits_1(
    cli_db: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    extra: list[str],
    message: str,
) -> None:
    path = tmp_path / "r.csv"
    path.write_text(content, "utf-8")
    code, _, err = run(["stations", "import", str(path), "--election", "n", *extra], capsys)
    assert code == 1 and err.startswith("Error:") and message in err
    assert run(["elections", "list"], capsys)[1] == ""
