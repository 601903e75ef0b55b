"""The shared parameter checks: what they accept, and messages that name the parameter."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from pollwatch.errors import InputError
from pollwatch.forensics import params
from pollwatch.forensics.params import (
    check_choice,
    check_flag,
    check_int,
    check_number,
    check_seed,
)


def test_docstring_examples() -> None:
    outcome = doctest.testmod(params)
    assert outcome.attempted >= 4 and outcome.failed == 0


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({}, "a positive integer"),
        ({"low": 0}, "a non-negative integer"),
        ({"low": 10}, "an integer ≥ 10"),
        ({"low": 10, "high": 200}, "an integer between 10 and 200"),
    ],
)
def test_int_message_names_parameter_function_and_value(kwargs: dict[str, int], what: str) -> None:
    with pytest.raises(InputError) as info:
        check_int("klimek", "bins", -7, **kwargs)
    assert str(info.value) == f"The 'bins' parameter of klimek must be {what}; got -7 instead"


@pytest.mark.parametrize("value", [True, 2.0, "3", None, 201, 9])
def test_int_refuses_bools_floats_strings_and_out_of_range(value: object) -> None:
    with pytest.raises(InputError, match="'bins' parameter of klimek"):
        check_int("klimek", "bins", value, low=10, high=200)


def test_int_accepts_numpy_integers_and_returns_python_int() -> None:
    value = check_int("digits", "resamples", np.int64(5))
    assert value == 5 and type(value) is int
    assert check_int("klimek", "bins", 200, low=10, high=200) == 200


@pytest.mark.parametrize(
    ("bounds", "good", "bad", "what"),
    [
        ({"above": 0, "below": 1}, 0.5, 1.0, "a number in (0, 1)"),
        ({"at_least": 0, "below": 0.5}, 0.0, 0.5, "a number in [0, 0.5)"),
        ({"above": 0, "at_most": 0.1}, 0.1, 0.0, "a number in (0, 0.1]"),
        ({"at_least": 0, "at_most": 1}, 1.0, 1.01, "a number in [0, 1]"),
        ({"above": 0}, 1e9, 0.0, "a positive number"),
        ({"at_least": 2}, 2.0, 1.9, "a number ≥ 2"),
    ],
)
def test_number_bounds_open_and_closed(
    bounds: dict[str, float], good: float, bad: float, what: str
) -> None:
    assert check_number("f", "x", good, **bounds) == good
    with pytest.raises(InputError) as info:
        check_number("f", "x", bad, **bounds)
    assert str(info.value) == f"The 'x' parameter of f must be {what}; got {bad!r} instead"


@pytest.mark.parametrize("value", [float("nan"), True, "0.5", None, [0.5]])
def test_number_refuses_nan_bools_and_non_numbers(value: object) -> None:
    with pytest.raises(InputError, match="'alpha' parameter of relations"):
        check_number("relations", "alpha", value, above=0, below=1)


def test_number_accepts_numpy_scalars() -> None:
    assert check_number("f", "x", np.float32(0.25), above=0, below=1) == 0.25
    assert check_number("f", "x", np.int64(3), above=0) == 3.0


@pytest.mark.parametrize("value", [-1, 1.5, "x", False, np.bool_(True)])
def test_seed_must_be_what_numpy_takes(value: object) -> None:
    with pytest.raises(InputError, match="'seed' parameter of spikes must be a non-negative"):
        check_seed("spikes", value)


def test_seed_none_and_numpy_integers() -> None:
    assert check_seed("spikes", None) is None
    assert check_seed("spikes", np.uint32(7)) == 7


def test_flag_refuses_truthy_values() -> None:
    assert check_flag("shpilkin", "by_region", np.bool_(False)) is False
    for value in ("yes", 1, None):
        with pytest.raises(InputError, match="'by_region' parameter of shpilkin must be True"):
            check_flag("shpilkin", "by_region", value)


def test_choice_lists_the_choices() -> None:
    assert check_choice("shpilkin", "reference", "core", ("peak", "core")) == "core"
    with pytest.raises(InputError) as info:
        check_choice("shpilkin", "reference", "mode", ("peak", "band", "core"))
    assert "must be one of 'peak', 'band', 'core'; got 'mode' instead" in str(info.value)
    with pytest.raises(InputError, match="must be 'png' or 'svg'; got \\['png'\\]"):
        check_choice("write_plots", "fmt", ["png"], ("png", "svg"))
