"""`pollwatch forensics`, `--all` (local and on a real Dask cluster), `demo`, and docs/cli.md."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import typer

from pollwatch.cli import app, main
from pollwatch.forensics.synthetic import synthetic_election

ROOT = Path(__file__).resolve().parents[2]
CLI_MD = ROOT / "docs" / "cli.md"
DOCS_SCRIPT = ROOT / "scripts" / "write_cli_docs.py"
FAST = ["--resamples", "100"]


def _write_csv(path: Path, n: int = 600, seed: int = 1, **fraud: float) -> Path:
    res = synthetic_election(n, seed=seed, **fraud).results
    cols = ["region", "district", "station", "registered", "issued_premises", "valid", "invalid"]
    res.stations[cols + list(res.candidates)].to_csv(path, index=False)
    return path


def test_single_file_writes_report_json_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _write_csv(tmp_path / "e.csv", incremental=0.1)
    out = tmp_path / "out"
    code = main(
        [
            "forensics",
            str(csv),
            "--report",
            str(out / "r.html"),
            "--json",
            str(out / "r.json"),
            "--plots",
            str(out / "plots"),
            "--plot-format",
            "svg",
            "--lang",
            "ru",
            *FAST,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Лидер, Leader" in captured.out
    assert f"wrote {out / 'r.html'}" in captured.out
    data = json.loads((out / "r.json").read_text(encoding="utf-8"))
    assert data["stations_total"] == 600
    assert data["leader"] == "Leader"
    assert "<svg" in (out / "r.html").read_text(encoding="utf-8")
    assert any((out / "plots").glob("*.svg"))


def test_bad_value_names_row_and_column(tmp_path: Path) -> None:
    csv = _write_csv(tmp_path / "bad.csv", n=50)
    lines = csv.read_text(encoding="utf-8").splitlines()
    fields = lines[2].split(",")
    fields[3] = "12x"
    lines[2] = ",".join(fields)
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pollwatch", "forensics", str(csv), *FAST],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: ")
    assert "row 3" in proc.stderr and "column 'registered'" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["forensics"], "missing FILE"),
        (["forensics", "nope.csv"], "no such file"),
        (["forensics", "x.csv", "--lang", "de"], "--lang must be one of en, ru"),
        (["forensics", "--all", "."], "--all needs --out"),
        (["forensics", "x.csv", "--format", "xml"], "--format must be one of"),
    ],
)
def test_usage_errors(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err


def test_all_locally_in_processes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    _write_csv(data / "a.csv", seed=1)
    _write_csv(data / "sub" / "b.csv", seed=2, incremental=0.2)
    (data / "notes.csv").write_text("just,a\nnote,here\n", encoding="utf-8")
    out = tmp_path / "table.md"
    assert main(["forensics", "--all", str(data), "--out", str(out), "--jobs", "2", *FAST]) == 0
    captured = capsys.readouterr()
    assert "2 of 3 files analysed" in captured.out
    assert "notes.csv" in captured.err
    table = out.read_text(encoding="utf-8").splitlines()
    assert table[0].startswith("| file | election |")
    assert len(table) == 2 + 3


def test_all_on_a_dask_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import distributed  # a dependency (dask[distributed]): missing must fail, not skip

    data = tmp_path / "data"
    data.mkdir()
    _write_csv(data / "a.csv", seed=3)
    _write_csv(data / "b.csv", seed=4, rounding=0.1)
    out = tmp_path / "table.csv"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        code = main(
            [
                "forensics",
                "--all",
                str(data),
                "--out",
                str(out),
                "--scheduler",
                cluster.scheduler_address,
                *FAST,
            ]
        )
    assert code == 0, capsys.readouterr().err
    import csv

    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [Path(r["file"]).name for r in rows] == ["a.csv", "b.csv"]
    assert all(r["error"] == "" and r["stations_total"] == "600" for r in rows)


def test_demo_falls_back_to_synthetic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POLLWATCH_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("POLLWATCH_HOME", str(tmp_path / "home"))
    assert main(["demo", "--offline", *FAST, "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert "SYNTHETIC" in captured.err
    reports = tmp_path / "home" / "reports"
    names = sorted(p.name for p in reports.iterdir())
    assert names == [
        "synthetic-election.html",
        "synthetic-election.json",
        "synthetic-election.ru.html",
    ]
    assert str(reports / "synthetic-election.html") in captured.out


# --- docs/cli.md: written by scripts/write_cli_docs.py from --help, checked here ----------


def _docs_script() -> ModuleType:
    """scripts/write_cli_docs.py, loaded by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("write_cli_docs", DOCS_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_md_is_current() -> None:
    docs = _docs_script()
    assert CLI_MD.read_text(encoding="utf-8") == docs.cli_reference(), (
        f"docs/cli.md is out of date with the CLI; run `{docs.COMMAND}` and commit it"
    )


def test_docs_script_writes_what_the_check_expects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _docs_script()
    target = tmp_path / "cli.md"
    monkeypatch.setattr(docs, "CLI_MD", target)
    assert docs.main() == 0
    text = target.read_text(encoding="utf-8")
    assert text == docs.cli_reference()
    assert f"`{docs.COMMAND}`" in text.splitlines()[3]  # the header says how to regenerate
    assert f"python {DOCS_SCRIPT.relative_to(ROOT).as_posix()}" == docs.COMMAND


def test_every_command_documented() -> None:
    root = typer.main.get_command(app)
    text = CLI_MD.read_text(encoding="utf-8")
    for path in _docs_script().commands(root):
        assert f"## `pollwatch {' '.join(path)}`" in text


def test_forensics_imports_only_what_it_needs(tmp_path: Path) -> None:
    """`pollwatch forensics FILE --json` loads neither the other commands' parts (coach,
    web app, observers, bot) nor matplotlib: their imports cost over a second a run."""
    csv = _write_csv(tmp_path / "e.csv", n=300)
    script = (
        "import sys\n"
        "from pollwatch.cli import main\n"
        f"code = main(['forensics', {str(csv)!r}, '--json', {str(tmp_path / 'o.json')!r},"
        " '--resamples', '50'])\n"
        "assert code == 0, code\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    loaded = set(proc.stdout.split("MODULES", 1)[1].split())
    assert "pollwatch.forensics.battery" in loaded  # the run did happen
    for unwanted in (
        "pollwatch.cli.coach",
        "pollwatch.coach",
        "pollwatch.web",
        "pollwatch.observe",
        "pollwatch.cli.observe",
        "pollwatch.cli.bot",
        "pollwatch.cli.serve",
        "matplotlib",
        "pollwatch.forensics.report.plots",
    ):
        assert unwanted not in loaded, unwanted


def test_parts_table_matches_what_the_modules_register() -> None:
    """`PARTS` (which module to import for a command) names every command each part
    registers, so no command is missing from the fast path."""
    import importlib

    from pollwatch.cli import PARTS

    for part, commands in PARTS.items():
        one = typer.Typer()
        importlib.import_module(f"pollwatch.cli.{part}").register(one)
        names = [c.name for c in one.registered_commands] + [
            g.name or g.typer_instance.info.name for g in one.registered_groups
        ]
        assert tuple(names) == commands, part
    every = [c for commands in PARTS.values() for c in commands]
    assert len(every) == len(set(every))


def test_one_command_part_keeps_its_name(capsys: pytest.CaptureFixture[str]) -> None:
    """A part with a single command still takes the command's name (`pollwatch serve
    --help`), as the whole app does."""
    assert main(["serve", "--help"]) == 0
    assert "Usage: pollwatch serve" in capsys.readouterr().out


def test_a_failing_command_leaves_no_import_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The method modules are imported in a thread while the file loads; a command that
    stops before the methods run (here an unknown leader) waits for that thread, so the
    interpreter never shuts down under a half-done import. The imports are made slow here
    (as on a cold machine), so a command that did not wait would return before them."""
    import time
    from types import SimpleNamespace

    import pollwatch.forensics.battery as battery

    done: list[str] = []

    def slow_import(name: str) -> None:
        time.sleep(0.05)  # stands for a slow import, not a wait for a condition
        done.append(name)

    monkeypatch.setattr(battery, "importlib", SimpleNamespace(import_module=slow_import))
    csv = _write_csv(tmp_path / "e.csv")
    code = main(["forensics", str(csv), "--leader", "Nobody", *FAST])
    assert code != 0
    assert "Nobody" in capsys.readouterr().err
    assert len(done) >= 8  # every method module, the rankings and the summary
