"""`pollwatch forensics` and `pollwatch demo`: thin commands over the forensics library.

``forensics FILE`` loads one results file, runs :func:`run_battery` and writes the HTML
report, the JSON and the figures; ``forensics --all DIR`` compares every results file in a
folder (:mod:`pollwatch.forensics.compare`), locally or on a Dask cluster; ``demo`` is
what ``make run`` runs: the 2024 Russian presidential election, or a synthetic election
when those data cannot be found or fetched. Library errors propagate to
:func:`pollwatch.cli.main`, which prints ``Error: ...`` and exits 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pollwatch.errors import InputError, PollwatchError
from pollwatch.forensics.battery import (
    ForensicsReport,
    default_jobs,
    import_methods_in_background,
    run_battery,
)
from pollwatch.forensics.battery import Progress as ProgressFn
from pollwatch.results import FORMATS

__all__ = [
    "ColumnMapping",
    "Leader",
    "Resamples",
    "ResultsFormat",
    "Seed",
    "demo",
    "forensics",
    "register",
]

_LANGS = ("en", "ru")

# The shared option set: each option declared once, with its help, and used by every command
# that takes it (Typer copies the option per command). Commands that load a results file
# take ResultsFormat and ColumnMapping; commands that run the battery take Resamples and Seed.
ResultsFormat = Annotated[
    str,
    typer.Option("--format", help="Layout: auto, ru-cik, uganda or mapped (needs --mapping)."),
]
ColumnMapping = Annotated[
    Path | None,
    typer.Option("--mapping", help="TOML column mapping for other layouts.", show_default=False),
]
Leader = Annotated[
    str | None,
    typer.Option("--leader", help="Candidate to test (default: most votes).", show_default=False),
]
Resamples = Annotated[int, typer.Option("--resamples", help="Monte Carlo / bootstrap draws.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same answer).")]


@contextmanager
def _progress(label: str) -> Iterator[ProgressFn]:
    """A rich progress bar on stderr; yields a ``progress(name, done, total)`` callback."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} {task.fields[last]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None, last="")

        def update(name: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, last=Path(name).name)

        yield update


def _echo_summary(report: ForensicsReport, lang: str) -> None:
    from pollwatch.forensics.report.summary import findings, overview

    typer.echo(report.election.get("name", ""))
    typer.echo(overview(report, lang))
    for line in findings(report, lang):
        typer.echo(f"- {line}")


def write_outputs(
    report: ForensicsReport,
    *,
    html: Path | None,
    json_path: Path | None,
    plots: Path | None,
    lang: str,
    plot_format: str = "png",
) -> list[Path]:
    """Write the requested files; return their paths (the HTML and figure code, with
    matplotlib, is imported only when a report or figures are asked for)."""
    written: list[Path] = []
    if html is not None:
        from pollwatch.forensics.report.html import write_html

        written.append(write_html(report, html, lang))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
        )
        written.append(json_path)
    if plots is not None:
        from pollwatch.forensics.report.plots import write_plots

        written.extend(write_plots(report, plots, plot_format, lang=lang))
    return written


@contextmanager
def _importing_methods() -> Iterator[None]:
    """Import what the battery will need in another thread while the ``with`` block runs.

    Loading a national file and importing the method modules each take about a second
    of CPU on Russia 2024, and the file's reading mostly runs outside the GIL, so on two
    cores the two overlap (:func:`import_methods_in_background`). The battery does not
    wait for the imports (Python's import lock does), and the block waits for the thread
    when it ends, however it ends (a bad file, a bad ``--leader``, Ctrl-C), so no import
    is left running while the interpreter shuts down; after a battery it has long finished.
    """
    imports = import_methods_in_background()
    try:
        yield
    finally:
        imports.join()


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def forensics(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Results file (CSV, .csv.gz, .csv.zip, Parquet, Excel).", show_default=False
        ),
    ] = None,
    format: ResultsFormat = "auto",
    mapping: ColumnMapping = None,
    leader: Leader = None,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write the HTML report here.", show_default=False),
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Write the results as JSON here.", show_default=False),
    ] = None,
    plots: Annotated[
        Path | None,
        typer.Option("--plots", help="Write every figure into this folder.", show_default=False),
    ] = None,
    plot_format: Annotated[
        str, typer.Option("--plot-format", help="Figure format: png or svg.")
    ] = "png",
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the report and summary: en or ru.")
    ] = "en",
    resamples: Resamples = 10_000,
    seed: Seed = 0,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            help="Workers: threads for one file's methods, processes for --all "
            "(0: up to 2, one per core).",
        ),
    ] = 0,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Fail on votes exceeding ballots and duplicate stations."),
    ] = False,
    all_dir: Annotated[
        Path | None,
        typer.Option(
            "--all", help="Compare every results file in this folder.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="With --all: the comparison table (.csv or .md).", show_default=False
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="With --all: Dask scheduler address (tcp://host:8786); default: local processes.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run every forensic method on an election's official results.

    Prints a short summary and the paths written. With --all DIR, analyses every results
    file in DIR (recursively) and writes one comparison table.
    """
    _check_choice("--format", format, FORMATS)
    _check_choice("--lang", lang, _LANGS)
    _check_choice("--plot-format", plot_format, ("png", "svg"))
    if all_dir is not None:
        if file is not None:
            raise InputError("give either FILE or --all DIR, not both")
        if out is None:
            raise InputError("--all needs --out table.csv (or .md)")
        workers = jobs or default_jobs()
        _compare(all_dir, out, resamples=resamples, seed=seed, jobs=workers, scheduler=scheduler)
        return
    if file is None:
        raise InputError("missing FILE (or --all DIR); see `pollwatch forensics --help`")
    if out is not None or scheduler is not None:
        raise InputError("--out and --scheduler go with --all DIR")

    from pollwatch.results import load_results

    with _importing_methods():
        results = load_results(file, format=format, mapping=mapping, strict=strict)
        with _progress("forensics") as progress:
            rep = run_battery(
                results, leader=leader, resamples=resamples, seed=seed, jobs=jobs,
                progress=progress,
            )  # fmt: skip
    _echo_summary(rep, lang)
    for path in write_outputs(
        rep, html=report, json_path=json_out, plots=plots, lang=lang, plot_format=plot_format
    ):
        typer.echo(f"wrote {path}")


def _compare(
    folder: Path, out: Path, *, resamples: int, seed: int, jobs: int, scheduler: str | None
) -> None:
    from pollwatch.forensics.compare import compare_files, find_results_files, write_table

    files = find_results_files(folder)
    if not files:
        raise InputError(f"{folder}: no results files found")
    with _progress("elections") as progress:
        rows = compare_files(
            files, resamples=resamples, seed=seed, jobs=jobs, scheduler=scheduler, progress=progress
        )
    failed = [r for r in rows if r.error]
    typer.echo(f"{len(rows) - len(failed)} of {len(rows)} files analysed")
    for r in failed:
        typer.echo(f"skipped {r.file}: {r.error}", err=True)
    if len(failed) == len(rows):
        raise PollwatchError(f"no file in {folder} could be analysed")
    typer.echo(f"wrote {write_table(rows, out)}")


def demo(
    resamples: Resamples = 10_000,
    jobs: Annotated[
        int,
        typer.Option("--jobs", help="Worker threads (0: up to 2, one per core)."),
    ] = 0,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not download the data when they are missing.")
    ] = False,
) -> None:
    """Run the forensics on the 2024 Russian presidential election and write the report.

    Looks for ru/2024.csv.zip in the data folder (POLLWATCH_DATA), downloads it when
    missing, and falls back to a synthetic election when neither works. Writes
    reports/russia-2024.html, .ru.html and .json under POLLWATCH_HOME.
    """
    from pollwatch.config import load_settings
    from pollwatch.results import load_results
    from pollwatch.results.datasets import fetch_dataset, find_dataset

    settings = load_settings()
    workers = jobs or default_jobs()
    path = find_dataset("ru-2024", settings.data_dir)
    reason = f"ru/2024.csv.zip is not in {settings.data_dir}"
    if path is None and not offline:
        typer.echo(f"{reason}; downloading it ...", err=True)
        try:
            path = fetch_dataset("ru-2024", settings.data_dir, timeout=30)
        except PollwatchError as exc:
            reason = str(exc)
    if path is not None:
        with _importing_methods():
            results = load_results(path)
        stem = "russia-2024"
    else:
        from pollwatch.forensics.synthetic import synthetic_election

        typer.echo(
            f"NOTE: the real 2024 data could not be found or fetched ({reason}).\n"
            "Showing a SYNTHETIC election instead (20,000 stations with known ballot stuffing "
            "and rounding) — its numbers say nothing about any real election.",
            err=True,
        )
        results = synthetic_election(
            20_000, seed=2024, incremental=0.1, extreme=0.01, rounding=0.03
        ).results
        stem = "synthetic-election"
    with _progress("forensics") as progress:
        rep = run_battery(results, resamples=resamples, seed=0, jobs=workers, progress=progress)
    _echo_summary(rep, "en")
    folder = settings.home / "reports"
    written = write_outputs(
        rep, html=folder / f"{stem}.html", json_path=folder / f"{stem}.json", plots=None, lang="en"
    )
    written += write_outputs(
        rep, html=folder / f"{stem}.ru.html", json_path=None, plots=None, lang="ru"
    )
    for p in written:
        typer.echo(f"wrote {p}")


def register(app: typer.Typer) -> None:
    """Add `pollwatch forensics` and `pollwatch demo` to the main app."""
    app.command("forensics")(forensics)
    app.command("demo")(demo)
