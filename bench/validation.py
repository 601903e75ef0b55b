"""Validation study: how often each forensic method cries fraud on clean elections, how
often it finds injected fraud, and how close its estimates come to the truth.

Synthetic elections come from :func:`pollwatch.forensics.synthetic.synthetic_election`
(realistic heterogeneity, known falsification). For every method in the registry, every
election-wide p-value it reports is a test at level ``--alpha``; methods that report a 95 %
interval instead (Shpilkin, Klimek, spikes) are read as "fraud found" when the interval's
lower bound is above zero (a one-sided 2.5 % test):

* false-positive rate = share of clean elections flagged;
* power = share of falsified elections (Klimek stuffing f_i, extreme fraud f_e, Kobak
  rounding) flagged;
* estimation error (bias, RMSE) of Shpilkin's anomalous votes, Klimek's f_i / f_e (and the
  votes his fitted model adds) and the spikes' excess share against the truth.

``--real`` instead runs the battery on every election in the public data folder
(``pollwatch.config.default_data_dir()``) and prints one row per election.

Usage::

    .venv/bin/python bench/validation.py                 # simulation, a few minutes on 2 cores
    .venv/bin/python bench/validation.py --clean 200 --fraud 100 --resamples 2000
    .venv/bin/python bench/validation.py --real --resamples 10000
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pollwatch.forensics.registry import METHODS, Method, resolve_methods
from pollwatch.forensics.synthetic import MINOR, synthetic_election

# --- what to read from each method's to_dict() ------------------------------------------------


def p_values(method: str, data: dict[str, Any]) -> dict[str, float]:
    """Every p-value a result reports, keyed ``method.field`` (nested dicts joined by '.').

    A field counts as a p-value when its name is ``p``/``p_value``/``pvalue``, starts with
    ``p_`` or ends in ``_p``/``_p_value``/``_pvalue``, and its value is a number. Lists
    (per-region tables) are not entered: only election-wide tests are validated here.
    """
    out: dict[str, float] = {}

    def visit(prefix: str, d: dict[str, Any], depth: int) -> None:
        for key, value in d.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and depth < 2:
                visit(name, value, depth + 1)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            k = key.lower()
            if (
                k in {"p", "p_value", "pvalue"}
                or k.startswith("p_")
                or k.endswith(("_p", "_p_value", "_pvalue"))
            ):
                out[f"{method}.{name}"] = float(value)

    visit("", data, 0)
    return out


INTERVALS: dict[str, dict[str, tuple[str, ...]]] = {
    # method -> signal name -> path to the interval's lower bound (a 95 % interval whose lower
    # bound is above zero is read as "fraud found", a one-sided 2.5 % test)
    "shpilkin": {"shpilkin.interval>0": ("interval", "0")},
    "klimek": {
        "klimek.f_i_interval>0": ("f_i_interval", "0"),
        "klimek.f_e_interval>0": ("f_e_interval", "0"),
    },
    "spikes": {"spikes.excess_low>0": ("excess_low",)},
}
"""Methods that report an interval instead of a p-value, and how to read it as a test."""

FLAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "relations": {"relations.national.leader_excess": ("national", "leader_excess")},
}
"""Methods that report their own verdict (a boolean at their ``alpha``)."""

COUNTS: dict[str, dict[str, tuple[str, ...]]] = {
    "relations": {"relations.regions_above_share>0": ("regions_above_share",)},
}
"""Counts of flagged regions, read as "fraud found" when any region is flagged."""


def minor_signals(method: str, data: dict[str, Any], alpha: float) -> dict[str, bool]:
    """The second-digit tests of the small candidate (``synthetic.MINOR``), when there is
    one: per-candidate rows are not entered by :func:`p_values`."""
    if method != "digits":
        return {}
    out: dict[str, bool] = {}
    for row in data.get("rows") or ():
        if row.get("candidate") != MINOR:
            continue
        for key in ("second_digit_mean_p_value", "second_digit_p_value"):
            p = row.get(key)
            if isinstance(p, (int, float)) and math.isfinite(p):
                out[f"digits.minor.{key} p<{alpha:g}"] = p < alpha
    return out


def _dig(d: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if isinstance(d, dict):
            d = d.get(part)
        elif isinstance(d, (list, tuple)) and part.isdigit() and int(part) < len(d):
            d = d[int(part)]
        else:
            return None
    return d


def signals(method: str, data: dict[str, Any], alpha: float) -> dict[str, bool]:
    """Each test a result carries, as "fraud found" (True) or not, at level ``alpha``."""
    out = {f"{k} p<{alpha:g}": v < alpha for k, v in p_values(method, data).items()}
    for name, path in INTERVALS.get(method, {}).items():
        low = _dig(data, path)
        if isinstance(low, (int, float)) and not isinstance(low, bool) and math.isfinite(low):
            out[name] = low > 0
    for name, path in FLAGS.get(method, {}).items():
        flag = _dig(data, path)
        if isinstance(flag, bool):
            out[name] = flag
    for name, path in COUNTS.get(method, {}).items():
        count = _dig(data, path)
        if isinstance(count, int) and not isinstance(count, bool):
            out[name] = count > 0
    return out


ESTIMATES: dict[str, tuple[tuple[str, str], ...]] = {
    # method -> (field in to_dict(), field of the truth it estimates)
    "shpilkin": (("anomalous_votes", "anomalous_votes"),),
    "klimek": (("f_i", "f_i"), ("f_e", "f_e"), ("model_added_votes", "anomalous_votes")),
    "spikes": (("excess_share", "rounded_share_fraction"),),
}
"""Point estimates compared with the synthetic truth."""


def estimates(method: str, data: dict[str, Any]) -> dict[str, tuple[str, float]]:
    out: dict[str, tuple[str, float]] = {}
    for name, truth in ESTIMATES.get(method, ()):
        value = data.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{method}.{name}"] = (truth, float(value))
    return out


# --- simulation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One kind of election: honest (clean, heterogeneous, with a small candidate), or with
    one kind of injected fraud."""

    label: str
    incremental: float = 0.0
    extreme: float = 0.0
    rounding: float = 0.0
    machine_regions: tuple[int, ...] = ()
    share_follows_turnout: float = 0.0
    minor_share: float = 0.0
    within_region: float = 0.0

    @property
    def clean(self) -> bool:
        """No fraud (the false-positive columns; honest heterogeneity included)."""
        return self.incremental == self.extreme == self.rounding == 0.0 and not (
            self.machine_regions
        )


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("clean"),
    Scenario("stuffing f_i=0.05", incremental=0.05),
    Scenario("stuffing f_i=0.10", incremental=0.10),
    Scenario("stuffing f_i=0.20", incremental=0.20),
    Scenario("extreme f_e=0.01", extreme=0.01),
    Scenario("extreme f_e=0.03", extreme=0.03),
    Scenario("rounding 0.5%", rounding=0.005),
    Scenario("rounding 1%", rounding=0.01),
    Scenario("rounding 2%", rounding=0.02),
    # honest heterogeneity that fools a national reference (issue 10, 1b): regions whose
    # turnout and leader share go together, no fraud
    Scenario("heterogeneous k=2", share_follows_turnout=2.0),
    # a 0.7 % candidate, whose counts sit near the second-digit cut-off of 10
    Scenario("small candidate 0.7%", minor_share=0.007),
    Scenario("regional machines 3/20", machine_regions=(3, 8, 14)),
    # honest heterogeneity inside regions, as Russia 2018's districts and villages: turnout
    # and share go together between districts and between villages and towns
    Scenario("within-region 0.45", within_region=0.45),
)
"""Added scenarios go at the end: a scenario's seeds follow its place in this list."""


@dataclass(frozen=True)
class Task:
    scenario: Scenario
    replicate: int
    n_stations: int
    resamples: int
    methods: tuple[str, ...]
    alpha: float


def run_task(task: Task) -> dict[str, Any]:
    """One synthetic election through every method: p-values, estimates, truth, timings."""
    warnings.simplefilter("ignore")
    sc = task.scenario
    # distinct, reproducible seeds per (scenario, replicate)
    seed = 1_000_003 * (SCENARIOS.index(sc) + 1) + task.replicate
    e = synthetic_election(
        task.n_stations,
        seed=seed,
        incremental=sc.incremental,
        extreme=sc.extreme,
        rounding=sc.rounding,
        machine_regions=sc.machine_regions or None,
        share_follows_turnout=sc.share_follows_turnout,
        minor_share=sc.minor_share,
        within_region=sc.within_region,
    )
    data = e.arrays()
    row: dict[str, Any] = {
        "scenario": sc.label,
        "truth": {
            "anomalous_votes": float(e.truth.anomalous_votes),
            "f_i": e.truth.f_i,
            "f_e": e.truth.f_e,
            "rounded_share_fraction": float(e.truth.rounded_share.mean()),
        },
        "signals": {},
        "est": {},
        "seconds": {},
        "errors": {},
        "inapplicable": [],
    }
    for m in resolve_methods(task.methods):
        start = time.perf_counter()
        try:
            res = m.run(data, seed=task.replicate, resamples=task.resamples)
        except Exception as exc:  # a method bug must not stop the study; it is reported
            row["errors"][m.name] = f"{type(exc).__name__}: {exc}"
            continue
        row["seconds"][m.name] = time.perf_counter() - start
        if not res.applicable:
            row["inapplicable"].append(m.name)
            continue
        d = res.to_dict()
        row["signals"].update(signals(m.name, d, task.alpha))
        row["signals"].update(minor_signals(m.name, d, task.alpha))
        row["est"].update(estimates(m.name, d))
    return row


def available_methods() -> tuple[Method, ...]:
    """Registered methods whose module has landed."""
    out = []
    for m in METHODS:
        try:
            m.function  # noqa: B018 - import check
        except (ImportError, AttributeError):
            continue
        out.append(m)
    return tuple(out)


def simulate(
    *,
    clean: int,
    fraud: int,
    n_stations: int,
    resamples: int,
    jobs: int,
    methods: tuple[str, ...],
    alpha: float,
    scenarios: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    tasks = [
        Task(sc, r, n_stations, resamples, methods, alpha)
        for sc in SCENARIOS
        if scenarios is None or sc.label in scenarios
        for r in range(clean if sc.clean else fraud)
    ]
    if jobs == 1:
        return [run_task(t) for t in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_task, tasks, chunksize=2))


def _binom_ci(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson interval for a rate."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def rejection_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one row per test, one column per scenario (share of elections flagged)."""
    by_sc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_sc[r["scenario"]].append(r)
    tests = sorted({k for r in rows for k in r["signals"]})
    labels = [sc.label for sc in SCENARIOS if sc.label in by_sc]
    honest = {sc.label: sc.clean for sc in SCENARIOS}
    head = "| test | " + " | ".join(labels) + " |"
    sep = "|---|" + "---:|" * len(labels)
    lines = [head, sep]
    for t in tests:
        cells = []
        for lab in labels:
            vals = [r["signals"][t] for r in by_sc[lab] if t in r["signals"]]
            if not vals:
                cells.append("–")
                continue
            k = sum(vals)
            rate = k / len(vals)
            if honest[lab]:
                lo, hi = _binom_ci(k, len(vals))
                cells.append(f"**{rate:.3f}** [{lo:.2f}, {hi:.2f}]")
            else:
                cells.append(f"{rate:.2f}")
        lines.append(f"| `{t}` | " + " | ".join(cells) + " |")
    n_line = "| replicates | " + " | ".join(str(len(by_sc[lab])) for lab in labels) + " |"
    lines.append(n_line)
    return "\n".join(lines)


REPORT_FLAGS: dict[str, str] = {
    # pollwatch.forensics.report.summary.HONEST_FLAGS key -> the signal it counts
    "integer_percentages.p_value": "integer_percentages.p_value p<0.05",
    "shpilkin.interval": "shpilkin.interval>0",
    "klimek.f_i_interval": "klimek.f_i_interval>0",
    "klimek.f_e_interval": "klimek.f_e_interval>0",
    "digits.second_digit_mean_p_value": "digits.second_digit_mean_p_value p<0.05",
    "digits.last_digit_p_value": "digits.last_digit_p_value p<0.05",
    "spikes.p_value": "spikes.p_value p<0.05",
    "identical_protocols.p_identical": "identical_protocols.p_identical p<0.05",
}
"""The flags the report prints with "on N honest simulated elections it fired k times"."""


def honest_flags_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: how many honest elections raised each flag the report shows, per honest
    scenario and in all (the ``total`` column is ``summary.HONEST_FLAGS``, the replicates'
    total ``summary.HONEST_RUNS``; ``tests/forensics/test_report.py`` holds them equal)."""
    labels = [
        sc.label for sc in SCENARIOS if sc.clean and any(r["scenario"] == sc.label for r in rows)
    ]
    lines = ["| flag | " + " | ".join(labels) + " | total |", "|---|" + "---:|" * (len(labels) + 1)]
    for key, signal in REPORT_FLAGS.items():
        counts = [
            sum(bool(r["signals"].get(signal)) for r in rows if r["scenario"] == lab)
            for lab in labels
        ]
        lines.append(f"| `{key}` | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")
    runs = [sum(r["scenario"] == lab for r in rows) for lab in labels]
    lines.append("| replicates | " + " | ".join(map(str, runs)) + f" | {sum(runs)} |")
    return "\n".join(lines)


def estimation_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: bias and RMSE of each estimate against the truth, by scenario."""
    by_sc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_sc[r["scenario"]].append(r)
    lines = [
        "| estimate | scenario | truth (mean) | estimate (mean) | bias | RMSE | replicates |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for key in sorted({k for r in rows for k in r["est"]}):
        for sc in SCENARIOS:
            sub = [r for r in by_sc.get(sc.label, []) if key in r["est"]]
            if not sub:
                continue
            truth_field = sub[0]["est"][key][0]
            est = np.array([r["est"][key][1] for r in sub])
            tru = np.array([r["truth"][truth_field] for r in sub])
            err = est - tru
            fmt = "{:,.0f}" if truth_field == "anomalous_votes" else "{:.4f}"
            lines.append(
                f"| `{key}` | {sc.label} | {fmt.format(tru.mean())} | {fmt.format(est.mean())} "
                f"| {fmt.format(err.mean())} | {fmt.format(np.sqrt((err**2).mean()))} "
                f"| {len(sub)} |"
            )
    return "\n".join(lines)


def timing_table(rows: list[dict[str, Any]]) -> str:
    secs: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for k, v in r["seconds"].items():
            secs[k].append(v)
    lines = ["| method | median seconds per election |", "|---|---:|"]
    for k, v in secs.items():
        lines.append(f"| {k} | {np.median(v):.3f} |")
    return "\n".join(lines)


def problems(rows: list[dict[str, Any]]) -> str:
    errs: dict[str, set[str]] = defaultdict(set)
    na: dict[str, int] = defaultdict(int)
    for r in rows:
        for k, v in r["errors"].items():
            errs[k].add(v[:160])
        for k in r["inapplicable"]:
            na[k] += 1
    out = []
    for k, v in errs.items():
        out.append(f"- {k} raised: " + "; ".join(sorted(v)[:3]))
    for k, n in na.items():
        out.append(f"- {k} not applicable in {n} of {len(rows)} elections")
    return "\n".join(out)


# --- real data --------------------------------------------------------------------------------


def real_elections(data_dir: Path) -> list[Path]:
    """Federal elections in the data folder (e-voting aggregates are not station files)."""
    ru = sorted(p for p in (data_dir / "ru").glob("*.csv.zip"))
    ug = sorted((data_dir / "uganda").glob("*.csv.gz"))
    return ru + ug


def _g(d: dict[str, Any], *names: str) -> Any:
    """First present field among ``names`` (dotted paths allowed)."""
    for name in names:
        cur: Any = d
        for part in name.split("."):
            if not isinstance(cur, dict) or part not in cur:
                cur = None
                break
            cur = cur[part]
        if cur is not None:
            return cur
    return None


def _fmt(x: Any, spec: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, (list, tuple)) and len(x) == 2:
        return f"[{_fmt(x[0], spec)}, {_fmt(x[1], spec)}]"
    try:
        return format(x, spec)
    except (TypeError, ValueError):
        return str(x)


def _recipe(result: dict[str, Any], name: str, key: str) -> Any:
    """``key`` of the recipe called ``name`` in a method's JSON, or ``None``."""
    for recipe in result.get("recipes") or ():
        if recipe.get("name") == name:
            return recipe.get(key)
    return None


def real_table(paths: Iterable[Path], *, resamples: int, jobs: int, seed: int) -> str:
    from pollwatch.forensics.battery import run_battery
    from pollwatch.results import load_results

    head = (
        "| election | stations used | turnout | leader share | integer excess (either) | integer p "
        "| Shpilkin anomalous votes (regional) | interval | recipe `shpilkin` "
        "| Klimek f_i | f_i interval | f_i of the three fits | Klimek f_e "
        "| 2nd digit mean | 2nd digit p (model) | last-digit p | spikes excess | seconds |"
    )
    lines = [head, "|---|" + "---:|" * 17]
    for path in paths:
        start = time.perf_counter()
        res = load_results(path)
        rep = run_battery(res, resamples=resamples, jobs=jobs, seed=seed)
        d = rep.to_dict()
        a = rep.arrays
        turnout = a.issued.sum() / max(int(a.registered.sum()), 1)
        share = a.leader.sum() / max(int(a.cast.sum()), 1)
        ip, sh, kl, dg, sp = (
            d.get("integer_percentages", {}),
            d.get("shpilkin", {}),
            d.get("klimek", {}),
            d.get("digits", {}),
            d.get("spikes", {}),
        )
        name = f"{path.parent.name}/{path.name.split('.')[0]}"
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    f"{rep.stations_used:,}",
                    f"{turnout:.3f}",
                    f"{share:.3f}",
                    _fmt(_g(ip, "excess.either"), ",.0f"),
                    _fmt(_g(ip, "p_value", "p"), ".2g"),
                    _fmt(_g(sh, "anomalous_votes"), ",.0f"),
                    _fmt(_g(sh, "interval", "anomalous_votes_interval", "ci"), ",.0f"),
                    _fmt(_recipe(sh, "shpilkin", "anomalous_votes"), ",.0f"),
                    _fmt(_g(kl, "f_i"), ".3f"),
                    _fmt(_g(kl, "f_i_interval"), ".3f"),
                    _fmt(_g(kl, "seed_spread.f_i"), ".3f"),
                    _fmt(_g(kl, "f_e"), ".3f"),
                    _fmt(_g(dg, "second_digit_mean", "mean_2bl", "second_digit.mean"), ".3f"),
                    _fmt(_g(dg, "second_digit_mean_p_value"), ".2g"),
                    _fmt(_g(dg, "last_digit_p_value"), ".2g"),
                    _fmt(_g(sp, "excess_share", "excess", "fraud_share"), ".4f"),
                    f"{time.perf_counter() - start:.1f}",
                ]
            )
            + " |"
        )
        print(lines[-1], file=sys.stderr, flush=True)  # progress: one election at a time
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------


# --- the Shpilkin references under realistic scenarios -------------------------------------

REFERENCE_SCENARIOS: dict[str, dict[str, Any]] = {
    "clean": {},
    "heterogeneous": {"share_follows_turnout": 2.0},
    "station stuffing": {"incremental": 0.2, "rounding": 0.05},
    "regional machines": {"machine_regions": (3, 8, 14)},
    "mixture": {
        "machine_regions": (3, 8, 14),
        "incremental": 0.1,
        "rounding": 0.03,
        "share_follows_turnout": 1.0,
    },
}
"""Scenarios of the reference study: 20 regions each; machines run 3 of them (15 %)."""


def reference_errors(
    scenario: str, seed: int, n_stations: int, klimek: bool = False
) -> dict[str, float]:
    """Error of each Shpilkin variant against the injected votes, as a share of the leader's
    votes: the ``shpilkin`` recipe (national), ``regional`` (each region its own peak) and
    ``hybrid`` (a region's own peak when it passes its clean checks, else the national
    reference: :func:`pollwatch.forensics.rankings.rank_regions`). With ``klimek``, also
    Klimek's ``regional`` and ``pnas`` fits, by the leader votes their fitted model adds
    (``model_added_votes``), on the same yardstick."""
    from pollwatch.forensics.integer_percentages import integer_percentages
    from pollwatch.forensics.rankings import rank_regions
    from pollwatch.forensics.shpilkin import shpilkin

    election = synthetic_election(n_stations, seed=seed, **REFERENCE_SCENARIOS[scenario])
    data = election.arrays()
    result = shpilkin(data, resamples=10, seed=0)
    recipes = {r.name: r.anomalous_votes for r in result.recipes}
    ranking = rank_regions(
        data, {"shpilkin": result, "integer_percentages": integer_percentages(data, resamples=10)}
    )
    recipes["hybrid"] = float(sum(r["anomalous_votes"] for r in ranking))
    if klimek:
        from pollwatch.forensics.klimek import klimek as fit_klimek

        for name, by_region in (("klimek regional", True), ("klimek pnas", False)):
            fit = fit_klimek(data, resamples=2, seed=0, by_region=by_region)
            recipes[name] = fit.model_added_votes
    truth = election.truth.anomalous_votes
    leader = float(data.leader.sum())
    return {name: (value - truth) / leader for name, value in recipes.items()}


def reference_table(replicates: int, n_stations: int, jobs: int, klimek: bool = False) -> str:
    """Bias and RMSE (% of the leader's votes) of every variant in every scenario, and each
    variant's worst case; the headline should be the variant whose worst RMSE is smallest."""
    tasks = [(sc, seed) for sc in REFERENCE_SCENARIOS for seed in range(replicates)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        scenarios = [sc for sc, _ in tasks]
        seeds = [seed for _, seed in tasks]
        errors = list(
            pool.map(
                reference_errors,
                scenarios,
                seeds,
                [n_stations] * len(tasks),
                [klimek] * len(tasks),
            )
        )
    variants = list(errors[0])
    lines = [
        "| variant | " + " | ".join(REFERENCE_SCENARIOS) + " | worst RMSE |",
        "|---" * (len(REFERENCE_SCENARIOS) + 2) + "|",
    ]
    for v in variants:
        cells, worst = [], 0.0
        for sc in REFERENCE_SCENARIOS:
            e = np.array([err[v] for (s, _), err in zip(tasks, errors, strict=True) if s == sc])
            rmse = float(np.sqrt(np.mean(e**2)))
            worst = max(worst, rmse)
            cells.append(f"{100 * e.mean():+.1f} / {100 * rmse:.1f}")
        lines.append(f"| `{v}` | " + " | ".join(cells) + f" | {100 * worst:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--clean", type=int, default=100, help="clean replicates (default 100)")
    ap.add_argument(
        "--fraud", type=int, default=30, help="replicates per fraud scenario (default 30)"
    )
    ap.add_argument("--stations", type=int, default=20_000, help="stations per election")
    ap.add_argument("--resamples", type=int, default=1_000, help="Monte Carlo resamples")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--methods", nargs="*", default=None, help="method names (default all)")
    ap.add_argument(
        "--scenarios",
        nargs="*",
        default=None,
        choices=[sc.label for sc in SCENARIOS],
        help="scenario labels (default all)",
    )
    ap.add_argument("--real", action="store_true", help="run the battery on the real data")
    ap.add_argument("--seed", type=int, default=0, help="battery seed for --real")
    ap.add_argument(
        "--references",
        type=int,
        metavar="N",
        default=0,
        help="instead: bias/RMSE of Shpilkin's references in N elections per scenario",
    )
    ap.add_argument(
        "--with-klimek",
        action="store_true",
        help="with --references: Klimek's regional and pnas fits in the same table",
    )
    args = ap.parse_args(argv)

    if args.references:
        start = time.perf_counter()
        print(
            f"## Shpilkin's references: bias / RMSE, % of the leader's votes "
            f"({args.references} elections of {args.stations:,} stations per scenario)\n"
        )
        print(reference_table(args.references, args.stations, args.jobs, args.with_klimek))
        print(f"\n_{time.perf_counter() - start:.0f} s in all_")
        return 0
    if args.real:
        from pollwatch.config import default_data_dir

        paths = real_elections(default_data_dir())
        if not paths:
            print(f"no elections found in {default_data_dir()}", file=sys.stderr)
            return 1
        start = time.perf_counter()
        print(f"## Real elections (resamples={args.resamples}, seed={args.seed})\n")
        print(real_table(paths, resamples=args.resamples, jobs=args.jobs, seed=args.seed))
        print(f"\n_{time.perf_counter() - start:.0f} s in all_")
        return 0

    landed = available_methods()
    names = tuple(m.name for m in landed if args.methods is None or m.name in args.methods)
    missing = [m.name for m in METHODS if m not in landed]
    start = time.perf_counter()
    rows = simulate(
        clean=args.clean,
        fraud=args.fraud,
        n_stations=args.stations,
        resamples=args.resamples,
        jobs=args.jobs,
        methods=names,
        alpha=args.alpha,
        scenarios=tuple(args.scenarios) if args.scenarios else None,
    )
    print(
        f"## Simulation: {args.clean} clean and {args.fraud} falsified elections per scenario, "
        f"{args.stations:,} stations each, {args.resamples:,} resamples, alpha={args.alpha}\n"
    )
    print(
        "### Share of elections flagged (clean column: false-positive rate, 95% Wilson interval)\n"
    )
    print(rejection_table(rows))
    if any(r["scenario"] in {sc.label for sc in SCENARIOS if sc.clean} for r in rows):
        print("\n### Honest elections: how often each flag the report shows fired\n")
        print(honest_flags_table(rows))
    print("\n### Estimation error against the injected truth\n")
    print(estimation_table(rows))
    print("\n### Run time\n")
    print(timing_table(rows))
    notes = problems(rows)
    if missing or notes:
        print("\n### Problems\n")
        if missing:
            print("- not yet available: " + ", ".join(missing))
        if notes:
            print(notes)
    print(f"\n_{time.perf_counter() - start:.0f} s in all, {args.jobs} processes_")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
