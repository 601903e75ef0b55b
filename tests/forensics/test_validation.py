"""Validation of the forensic methods on synthetic elections with a known truth.

What users rely on when they read a method's verdict:

* on a clean election a test at level α = 0.05 flags fraud in at most about 5 % of cases
  (checked on ``CLEAN_REPLICATES`` = 60 clean elections: we require at most
  ``FPR_LIMIT`` = 0.10, i.e. 6 of 60; if the true rate were 5 %, 7 or more of 60 would
  happen with probability 0.03 — the seeds are fixed, so the test is deterministic);
* fraud of the kind a method is built for, at a stated size, is found in at least 90 % of
  falsified elections (``POWER_REPLICATES`` = 20, so at most 2 misses);
* estimates (Shpilkin's anomalous votes, Klimek's f_i and f_e) are close to the injected
  amounts, within the stated tolerance, on average over replicates.

Methods that report a 95 % interval instead of a p-value (Shpilkin, Klimek, spikes) are
read as "fraud found" when the interval's lower bound is above zero (one-sided 2.5 %).

A method whose module has not landed is skipped. Known failures are marked ``xfail`` with
the measured numbers (``strict``: a fix turns them into a failure that asks for the mark to
be removed). ``bench/validation.py`` runs the same study at full size.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest

from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.synthetic import SyntheticTruth, synthetic_election

pytestmark = pytest.mark.slow

ALPHA = 0.05
FPR_LIMIT = 0.10
CLEAN_REPLICATES = 60
POWER_REPLICATES = 20
MIN_POWER = 0.9
ESTIMATE_REPLICATES = 10
SMALL = 4_000  # stations per election for false-positive runs
LARGE = 20_000  # stations per election for power and estimation runs
RESAMPLES = 200
KLIMEK_RESAMPLES = 10  # Klimek's bootstrap refits the whole model: 200 cost ~6 of the 7 min


@cache
def _election(n: int, seed: int, incremental: float, extreme: float, rounding: float) -> Any:
    return synthetic_election(
        n, seed=seed, incremental=incremental, extreme=extreme, rounding=rounding
    )


def election(
    n: int, seed: int, *, incremental: float = 0.0, extreme: float = 0.0, rounding: float = 0.0
) -> tuple[StationArrays, SyntheticTruth]:
    e = _election(n, seed, incremental, extreme, rounding)
    return e.arrays(), e.truth


def run(method: str, data: StationArrays, seed: int) -> Any:
    mod = importlib.import_module(f"pollwatch.forensics.{_MODULES[method]}")
    fn: Callable[..., Any] = getattr(mod, method)
    params = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {}
    if "seed" in params:
        kwargs["seed"] = seed
    if "resamples" in params:
        kwargs["resamples"] = KLIMEK_RESAMPLES if method == "klimek" else RESAMPLES
    result = fn(data, **kwargs)
    assert result.applicable, f"{method} not applicable: {result.note}"
    return result


@cache
def result(
    method: str,
    n: int,
    seed: int,
    incremental: float = 0.0,
    extreme: float = 0.0,
    rounding: float = 0.0,
) -> tuple[Any, SyntheticTruth]:
    """One method on one synthetic election (cached: tests share runs within a worker)."""
    data, truth = election(n, seed, incremental=incremental, extreme=extreme, rounding=rounding)
    return run(method, data, seed=seed % 1000), truth


_MODULES = {
    "integer_percentages": "integer_percentages",
    "shpilkin": "shpilkin",
    "klimek": "klimek",
    "spikes": "spikes",
    "digits": "digits",
    "relations": "relations",
    "identical_protocols": "identical",
}


# --- how each method says "fraud found" -----------------------------------------------------


def _p_below(*path: str) -> Callable[[Any], bool]:
    def flag(result: Any) -> bool:
        value: Any = result.to_dict()
        for part in path:
            value = value[part]
        return bool(value < ALPHA)

    flag.__name__ = ".".join(path) + f" < {ALPHA}"
    return flag


def _low_above_zero(field: str, index: int | None = 0) -> Callable[[Any], bool]:
    def flag(result: Any) -> bool:
        value = getattr(result, field)
        low = value if index is None else value[index]
        return bool(np.isfinite(low) and low > 0)

    flag.__name__ = f"{field} lower bound > 0"
    return flag


def _relations_flag(result: Any) -> bool:
    return bool(result.to_dict()["national"]["leader_excess"])


def _klimek_flag(result: Any) -> bool:
    return bool(result.f_i_interval[0] > 0 or result.f_e_interval[0] > 0)


@dataclass(frozen=True)
class Check:
    """One test a method carries: how its result says "fraud found"."""

    method: str
    flag: Callable[[Any], bool]
    label: str
    clean_replicates: int = CLEAN_REPLICATES
    clean_stations: int = SMALL


CHECKS: tuple[Check, ...] = (
    Check("integer_percentages", _p_below("p_value"), "integer_percentages p_value"),
    Check("shpilkin", _low_above_zero("interval"), "shpilkin interval"),
    # Klimek's fit costs ~1 s (more on small elections): 10 replicates, at most 1 flagged
    Check("klimek", _klimek_flag, "klimek f_i or f_e interval", 10, LARGE),
    Check("spikes", _low_above_zero("excess_low", None), "spikes excess interval"),
    Check("identical_protocols", _p_below("p_identical"), "identical_protocols p_identical"),
    Check("identical_protocols", _p_below("p_near"), "identical_protocols p_near"),
    Check("digits", _p_below("second_digit_mean_p_value"), "digits 2BL mean"),
    Check("digits", _p_below("last_digit_p_value"), "digits last digit"),
    Check("digits", _p_below("zero_five_p_value"), "digits zero-five"),
    Check("relations", _relations_flag, "relations leader_excess"),
)
_BY_LABEL = {c.label: c for c in CHECKS}


def _flag_rate(check: Check, n: int, replicates: int, seed0: int, **fraud: float) -> float:
    flags = [check.flag(result(check.method, n, seed0 + r, **fraud)[0]) for r in range(replicates)]
    return float(np.mean(flags))


# --- false positives --------------------------------------------------------------------------

CLEAN_SEED = 10_000
POWER_SEED = 30_000

KNOWN_FAILURES: dict[str, str] = {
    # Measured 2026-11-25 on the methods as committed at 12:30 UTC (after the fixes to
    # Shpilkin's bias and interval, the spikes null, Klimek's regional model and the
    # second-digit null); each entry is a limit of the method, documented in docs/forensics.md.
    "spikes excess interval rounding=0.02": (
        "found in 0 of 20 elections with 2 % of protocols rounded to the next integer percent "
        "(20,000 stations): rewritten shares spread over every integer, too thin for a spike; "
        "integer_percentages is the test for this (power 1.00 at 2 %)"
    ),
    "relations leader_excess incremental=0.2": (
        "national leader_excess flagged 0 of 20 elections with 20 % of stations stuffed "
        "(20,000 stations): the stuffing's turnout spread is small next to regional spread"
    ),
    "shpilkin.anomalous_votes incremental=0.2": (
        "mean 262,176 vs truth 408,072 (0.64 recovered) over 10 elections of 20,000 stations: "
        "mildly stuffed stations stay inside the clean reference and raise its ratio, so the "
        "'peak' reference is a lower bound under mild stuffing (the 'trend' reference: 0.86)"
    ),
    "klimek clean": (
        "mean f_i 0.040 (0.095, 0.000, 0.093, 0.012, 0.000) vs at most 0.03 over 5 clean "
        "elections of 20,000 stations, measured 2026-12-05 after the fit's simulation streams "
        "were fixed (seed-free answer): in two of them the start with f_i ≈ 0.09 fits about 5 % "
        "better than f_i ≈ 0.01 on every judge stream (the logit-normal blobs misfit the "
        "generator's Beta stations); every interval still includes 0. With the user's seed "
        "driving the fit the mean was 0.028, by the luck of the streams"
    ),
    "klimek.f_i incremental=0.2": (
        "mean f_i about 0.06 vs truth 0.20 (5 elections of 20,000 stations): the regional clean "
        "blobs absorb part of the stuffing"
    ),
}
"""Test ids that fail today, with the numbers measured (reported to the methods' owners)."""


def _known(case_id: str, *values: Any) -> Any:
    reason = KNOWN_FAILURES.get(case_id)
    if reason is None:
        return pytest.param(*values, id=case_id)
    return pytest.param(*values, id=case_id, marks=pytest.mark.xfail(strict=True, reason=reason))


@pytest.mark.parametrize("label", [_known(c.label, c.label) for c in CHECKS])
def test_false_positive_rate_on_clean_elections_is_at_most_alpha(label: str) -> None:
    check = _BY_LABEL[label]
    reps = check.clean_replicates
    seed0 = CLEAN_SEED if check.clean_stations == SMALL else POWER_SEED  # share runs
    rate = _flag_rate(check, check.clean_stations, reps, seed0)
    limit = FPR_LIMIT if reps >= CLEAN_REPLICATES else 1.5 / reps
    assert rate <= limit, f"{label}: flagged {rate:.3f} of {reps} clean elections"


# --- power ------------------------------------------------------------------------------------

POWER_CASES: tuple[tuple[str, str, float, int], ...] = (
    # (check, kind of fraud, its rate, replicates)
    ("integer_percentages p_value", "rounding", 0.02, POWER_REPLICATES),
    ("shpilkin interval", "incremental", 0.2, POWER_REPLICATES),
    ("klimek f_i or f_e interval", "extreme", 0.03, 10),
    ("spikes excess interval", "rounding", 0.02, POWER_REPLICATES),
    ("relations leader_excess", "incremental", 0.2, POWER_REPLICATES),
)


@pytest.mark.parametrize(
    ("label", "kind", "rate", "reps"),
    [_known(f"{c[0]} {c[1]}={c[2]}", *c) for c in POWER_CASES],
)
def test_injected_fraud_is_found(label: str, kind: str, rate: float, reps: int) -> None:
    found = _flag_rate(_BY_LABEL[label], LARGE, reps, POWER_SEED, **{kind: rate})
    assert found >= MIN_POWER, f"{label} found {kind}={rate} in only {found:.2f} of {reps}"


# --- estimates --------------------------------------------------------------------------------


def _estimates(
    method: str, field: str, truth_field: str, reps: int = ESTIMATE_REPLICATES, **fraud: float
) -> tuple[float, float]:
    """Mean estimate and mean truth over replicates (the power runs' elections, reused)."""
    est, tru = [], []
    for r in range(reps):
        res, truth = result(method, LARGE, POWER_SEED + r, **fraud)
        est.append(float(getattr(res, field)))
        tru.append(float(getattr(truth, truth_field)))
    return float(np.mean(est)), float(np.mean(tru))


ESTIMATE_CASES: tuple[tuple[str, str, str, str, float, int, float], ...] = (
    # (method, field, truth field, kind of fraud, rate, replicates, tolerance); the tolerance
    # is relative to the truth for vote counts, absolute for fractions
    ("shpilkin", "anomalous_votes", "anomalous_votes", "incremental", 0.2, 10, 0.3),
    ("klimek", "f_e", "f_e", "extreme", 0.03, 5, 0.01),  # 5 of the 10 power elections
    ("klimek", "f_i", "f_i", "incremental", 0.2, 5, 0.05),
)


@pytest.mark.parametrize(
    ("method", "field", "truth_field", "kind", "rate", "reps", "tol"),
    [_known(f"{c[0]}.{c[1]} {c[3]}={c[4]}", *c) for c in ESTIMATE_CASES],
)
def test_estimate_recovers_the_injected_amount(
    method: str, field: str, truth_field: str, kind: str, rate: float, reps: int, tol: float
) -> None:
    est, truth = _estimates(method, field, truth_field, reps, **{kind: rate})
    allowed = tol * truth if truth_field == "anomalous_votes" else tol
    assert abs(est - truth) <= allowed, f"{method}.{field}: mean {est:,.4f} vs truth {truth:,.4f}"


@pytest.mark.parametrize(
    "case",
    [
        _known("shpilkin clean", "shpilkin"),
        _known("klimek clean", "klimek"),
    ],
)
def test_estimates_near_zero_on_clean_elections(case: str) -> None:
    """Shpilkin: under 0.5 % of the leader's votes; Klimek: f_i ≤ 0.03 and f_e ≤ 0.005."""
    reps = 10 if case == "shpilkin" else 5
    runs = [result(case, LARGE, POWER_SEED + r) for r in range(reps)]
    if case == "shpilkin":
        leader = np.mean(
            [float(election(LARGE, POWER_SEED + r)[0].leader.sum()) for r in range(reps)]
        )
        est = float(np.mean([res.anomalous_votes for res, _ in runs]))
        assert est <= 0.005 * leader, f"{est:,.0f} anomalous votes of {leader:,.0f} (clean)"
    else:
        f_i = float(np.mean([res.f_i for res, _ in runs]))
        f_e = float(np.mean([res.f_e for res, _ in runs]))
        assert f_i <= 0.03 and f_e <= 0.005, f"clean: mean f_i {f_i:.4f}, f_e {f_e:.4f}"


def test_every_registered_method_is_validated() -> None:
    """A new method must get a false-positive check here (or an explicit reason not to)."""
    registry = importlib.import_module("pollwatch.forensics.registry")
    validated = {c.method for c in CHECKS} | _NOT_TESTABLE.keys()
    missing = set(registry.method_names()) - validated
    assert not missing, f"methods without validation: {sorted(missing)}"


_NOT_TESTABLE = {
    "fingerprint": "a picture, no verdict",
}
