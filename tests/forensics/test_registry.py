"""Conformance suite: every registered forensic method keeps the same promises.

Bad parameters raise InputError with a clear message, p-values lie in [0, 1], the same
seed gives the same answer, results are JSON-ready, tiny data give applicable=False with
a note (never an exception), and the method is documented in docs/forensics.md.
"""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pollwatch.errors import InputError, NotFoundError
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.registry import METHODS, Method, get_method, method_names, resolve_methods
from pollwatch.forensics.result import MethodResult
from pollwatch.forensics.synthetic import synthetic_election

DOCS = Path(__file__).resolve().parents[2] / "docs" / "forensics.md"
IDS = [m.name for m in METHODS]


@pytest.fixture(scope="module")
def election() -> StationArrays:
    return synthetic_election(2_000, seed=11, incremental=0.05, rounding=0.02).arrays()


@pytest.fixture(scope="module")
def tiny() -> StationArrays:
    return StationArrays.from_counts(
        [500, 600, 700], [300, 350, 400], [295, 340, 390], [150, 170, 200]
    )


def _p_values(value: Any, key: str = "") -> list[float]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _p_values(v, str(k))]
    if isinstance(value, list):
        return [p for v in value for p in _p_values(v, key)]
    if (
        ("p_value" in key or key.startswith("p_"))
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    ):
        return [float(value)]
    return []


def test_names_are_unique_snake_case_and_match_functions() -> None:
    assert len(set(method_names())) == len(METHODS)
    for m in METHODS:
        assert m.name.isidentifier() and m.name == m.name.lower()
        assert m.title["en"] and m.title["ru"] and m.detects["en"] and m.detects["ru"]
        assert m.reference


def test_get_method_and_resolve() -> None:
    assert get_method("shpilkin").name == "shpilkin"
    with pytest.raises(NotFoundError, match="unknown forensic method 'nope'"):
        get_method("nope")
    assert [m.name for m in resolve_methods(["spikes", "fingerprint"])] == ["fingerprint", "spikes"]
    assert resolve_methods(None) == METHODS


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_function_is_importable_and_takes_data_first(method: Method) -> None:
    params = list(inspect.signature(method.function).parameters.values())
    assert params[0].name == "data"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:]), "options keyword-only"


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_result_is_json_ready_with_p_values_in_unit_interval(
    method: Method, election: StationArrays
) -> None:
    result = method.run(election, seed=1, resamples=200)
    assert isinstance(result, MethodResult)
    assert result.method == method.name
    assert result.reference
    assert result.n_stations > 0
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    for p in _p_values(data):
        assert 0.0 <= p <= 1.0, (method.name, p)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_same_seed_same_answer(method: Method, election: StationArrays) -> None:
    a = method.run(election, seed=5, resamples=200).to_dict()
    b = method.run(election, seed=5, resamples=200).to_dict()
    assert a == b


DESCRIPTIVE = {"fingerprint"}
"""Methods that only describe the data (a histogram is valid for any number of stations)."""


@pytest.mark.parametrize(
    "method", [m for m in METHODS if m.name not in DESCRIPTIVE], ids=lambda m: m.name
)
def test_tiny_data_is_not_applicable_with_a_note(method: Method, tiny: StationArrays) -> None:
    result = method.run(tiny, seed=0, resamples=50)
    assert result.applicable is False
    assert len(result.note) > 5
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_no_usable_station_is_not_applicable(method: Method) -> None:
    nothing = StationArrays.from_counts([500, 600, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0])
    result = method.run(nothing, seed=0, resamples=50)
    assert result.applicable is False
    assert len(result.note) > 5
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_bad_parameters_raise_input_error(method: Method, election: StationArrays) -> None:
    if "resamples" in method.parameters():
        with pytest.raises(InputError, match=r"resamples.*-3|-3.*resamples"):
            method.run(election, resamples=-3)
    with pytest.raises(InputError, match="not parameters of"):
        method.run(election, no_such_option=1)


@pytest.mark.parametrize("seed", [-1, 1.5, "x", True])
@pytest.mark.parametrize(
    "method", [m for m in METHODS if "seed" in m.parameters()], ids=lambda m: m.name
)
def test_bad_seed_raises_input_error(method: Method, seed: object, election: StationArrays) -> None:
    """A seed NumPy would refuse is refused by us first (it was NumPy's ValueError or
    TypeError in four methods), naming the parameter and the method."""
    with pytest.raises(InputError, match=f"'seed' parameter of {method.name}"):
        method.run(election, seed=seed, resamples=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_documented(method: Method) -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert f"`{method.name}`" in text, f"{method.name} is not documented in docs/forensics.md"


def test_no_ratio_stations_do_not_crash(election: StationArrays) -> None:
    """A station with no ballots cast is a normal input; every method must cope."""
    zero = StationArrays.from_counts(
        np.r_[election.registered, 800],
        np.r_[election.issued, 0],
        np.r_[election.cast, 0],
        np.r_[election.leader, 0],
    )
    for m in METHODS:
        res = m.run(zero, seed=0, resamples=50)
        assert res.n_stations == len(zero.registered), m.name  # the input echoed, all stations
        assert not any(math.isnan(p) for p in _p_values(res.to_dict()))


@pytest.mark.parametrize(("name", "cap"), [("spikes", 1000), ("klimek", 30)])
def test_costly_methods_are_capped_at_their_useful_resamples(name: str, cap: int) -> None:
    """The battery hands 10,000 resamples to every method; a whole-refit bootstrap or a
    resampled density must not take minutes for it (klimek took 392 s before the cap)."""
    from pollwatch.forensics.synthetic import synthetic_election

    data = synthetic_election(2_000, seed=3).arrays()
    result = get_method(name).run(data, seed=0, resamples=10_000)
    assert result.to_dict()["resamples"] == cap
