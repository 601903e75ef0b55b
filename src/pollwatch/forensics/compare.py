"""Run the battery on every results file in a folder and compare the elections in one table.

Each file is analysed in its own process — locally with a process pool, or on a Dask
cluster when a scheduler address is given — and reduced to one :class:`ComparisonRow` of
headline numbers, so that only small rows travel back. A file that cannot be read gives a
row with its error instead of stopping the comparison (a folder often holds other files,
such as the e-voting aggregates beside ``2024.csv.zip``).
"""

from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pollwatch.errors import InputError, NotFoundError, PollwatchError
from pollwatch.forensics.battery import ForensicsReport, run_battery
from pollwatch.forensics.params import check_int

__all__ = [
    "RESULT_SUFFIXES",
    "ComparisonRow",
    "analyse_file",
    "compare_files",
    "find_results_files",
    "row_from_report",
    "write_table",
]

RESULT_SUFFIXES: tuple[str, ...] = (
    ".csv",
    ".csv.gz",
    ".csv.zip",
    ".zip",
    ".parquet",
    ".xlsx",
    ".xls",
)
"""File names that ``--all`` treats as results files."""


@dataclass(frozen=True)
class ComparisonRow:
    """Headline numbers of one election (``None`` where a method did not apply)."""

    file: str
    election: str | None = None
    stations_total: int | None = None
    stations_used: int | None = None
    leader: str | None = None
    turnout: float | None = None
    leader_share: float | None = None
    integer_z: float | None = None
    integer_p_value: float | None = None
    shpilkin_anomalous_votes: float | None = None
    klimek_f_i: float | None = None
    klimek_f_e: float | None = None
    second_digit_mean: float | None = None
    last_digit_p_value: float | None = None
    spikes_excess_share: float | None = None
    seconds: float | None = None
    error: str | None = None


def find_results_files(folder: str | Path) -> list[Path]:
    """Every results file under ``folder`` (recursively, hidden files skipped), sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise NotFoundError(f"{root}: no such folder")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and p.name.lower().endswith(RESULT_SUFFIXES)
    )


def _value(data: dict[str, Any], method: str, key: str) -> Any:
    result = data.get(method)
    if not isinstance(result, dict) or not result.get("applicable", False):
        return None
    value = result.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def row_from_report(file: str, report: ForensicsReport, seconds: float) -> ComparisonRow:
    """Reduce a report to its headline numbers."""
    data = report.to_dict()
    d = report.arrays
    reg, cast = int(d.registered.sum()), int(d.cast.sum())
    return ComparisonRow(
        file=file,
        election=str(report.election.get("name")),
        stations_total=report.stations_total,
        stations_used=report.stations_used,
        leader=report.leader,
        turnout=round(int(d.issued.sum()) / reg, 4) if reg else None,
        leader_share=round(int(d.leader.sum()) / cast, 4) if cast else None,
        integer_z=_value(data, "integer_percentages", "z"),
        integer_p_value=_value(data, "integer_percentages", "p_value"),
        shpilkin_anomalous_votes=_value(data, "shpilkin", "anomalous_votes"),
        klimek_f_i=_value(data, "klimek", "f_i"),
        klimek_f_e=_value(data, "klimek", "f_e"),
        second_digit_mean=_value(data, "digits", "second_digit_mean"),
        last_digit_p_value=_value(data, "digits", "last_digit_p_value"),
        spikes_excess_share=_value(data, "spikes", "excess_share"),
        seconds=round(seconds, 2),
    )


def analyse_file(
    path: str | Path, *, resamples: int = 10_000, seed: int | None = 0, format: str = "auto"
) -> ComparisonRow:
    """Load one file, run the battery (in this process) and return its row.

    Errors pollwatch raises on purpose (unreadable file, not election results) become the
    row's ``error``; anything else is a bug and propagates.
    """
    from pollwatch.results import load_results

    start = time.perf_counter()
    try:
        results = load_results(path, format=format)
        report = run_battery(results, resamples=resamples, seed=seed, jobs=1)
    except PollwatchError as exc:
        return ComparisonRow(
            file=str(path), error=str(exc), seconds=round(time.perf_counter() - start, 2)
        )
    return row_from_report(str(path), report, time.perf_counter() - start)


def compare_files(
    paths: Sequence[str | Path],
    *,
    resamples: int = 10_000,
    seed: int | None = 0,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[ComparisonRow]:
    """Analyse every file, in parallel, and return the rows in the order of ``paths``.

    Parameters
    ----------
    jobs:
        Local worker processes (ignored with ``scheduler``).
    scheduler:
        Address of a Dask scheduler (``tcp://host:8786``); the files are analysed by its
        workers, which must have pollwatch installed and see the same paths.
    progress:
        Called as ``progress(file, done, total)`` as files finish.
    """
    jobs = check_int("compare_files", "jobs", jobs)
    files = [str(p) for p in paths]
    if not files:
        return []
    done: dict[str, ComparisonRow] = {}
    if scheduler is not None:
        _on_dask(files, scheduler, resamples, seed, done, progress)
    elif jobs == 1 or len(files) == 1:
        for f in files:
            done[f] = analyse_file(f, resamples=resamples, seed=seed)
            if progress is not None:
                progress(f, len(done), len(files))
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(files))) as pool:
            futures = {
                pool.submit(analyse_file, f, resamples=resamples, seed=seed): f for f in files
            }
            for fut in as_completed(futures):
                done[futures[fut]] = fut.result()
                if progress is not None:
                    progress(futures[fut], len(done), len(files))
    return [done[f] for f in files]


def _on_dask(
    files: list[str],
    scheduler: str,
    resamples: int,
    seed: int | None,
    done: dict[str, ComparisonRow],
    progress: Callable[[str, int, int], None] | None,
) -> None:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout=20)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise PollwatchError(f"cannot connect to the Dask scheduler at {scheduler}: {exc}") from exc
    with client:
        futures = client.map(analyse_file, files, resamples=resamples, seed=seed, pure=False)
        names = {fut.key: f for fut, f in zip(futures, files, strict=True)}
        for fut in dask_completed(futures):  # type: ignore[no-untyped-call]
            row = fut.result()
            done[names[fut.key]] = row
            if progress is not None:
                progress(names[fut.key], len(done), len(files))


def write_table(rows: Sequence[ComparisonRow], out: str | Path) -> Path:
    """Write the rows as CSV (``.csv``) or a Markdown table (``.md``); return the path."""
    p = Path(out)
    fields = [f.name for f in dataclasses.fields(ComparisonRow)]
    if p.suffix.lower() not in (".csv", ".md"):
        raise InputError(f"--out must end in .csv or .md; got {p.name!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    records = [dataclasses.asdict(r) for r in rows]
    if p.suffix.lower() == ".csv":
        with p.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(records)
        return p

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(cell(r[f]) for f in fields) + " |" for r in records]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
