"""The comparison table's arithmetic, order and totals, and the tolerance bound."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pollwatch.errors import InputError
from pollwatch.observe.comparison_table import (
    check_tolerance,
    comparison_order,
    comparison_row,
    turnout_totals,
)
from pollwatch.observe.estimates import (
    Comparison,
    LineComparison,
    Tolerance,
    TurnoutEstimate,
)


def estimate(total: float | None, low: float | None = None, high: float | None = None):
    return TurnoutEstimate(
        method="complete",
        counted=0,
        covered_hours=12.0,
        uncovered_hours=0.0,
        covered_share=1.0,
        extrapolated=0.0,
        total=total,
        low=low,
        high=high,
        level=0.95,
        registered=None,
        turnout=None,
        turnout_low=None,
        turnout_high=None,
        issued_counted=None,
    )


def comparison(flagged: bool, *lines: tuple[str, bool]) -> Comparison:
    return Comparison(
        election="e",
        station="s",
        turnout=None,
        lines=tuple(LineComparison(f, 1, 1, 0, bad) for f, bad in lines),
        flagged=flagged,
        discrepancy=0.0,
        tolerance=Tolerance(),
    )


def test_the_row_compares_the_rounded_estimate_with_ballots_issued_in_the_premises() -> None:
    row = comparison_row(
        "12", "School 4", estimate(400.4, 380.0, 420.0), comparison(False), {"issued_premises": 500}
    )
    assert row == {
        "station": "12",
        "name": "School 4",
        "counted": 0,
        "independent": 400,
        "low": 380.0,
        "high": 420.0,
        "official": 500,
        "difference": 100,
        "relative": pytest.approx((500 - 400.4) / 400.4),
        "flag": False,
        "direction": None,
        "tested": False,
        "p_value": None,
        "protocol_mismatches": [],
        "registers": [],
        "register_flag": False,
    }


def test_the_row_lists_the_protocol_lines_copied_differently_and_keeps_the_flag() -> None:
    row = comparison_row(
        "12", None, None, comparison(True, ("valid", True), ("invalid", False)), {}
    )
    assert row["flag"] is True
    assert row["protocol_mismatches"] == ["valid"]
    assert row["independent"] is None and row["difference"] is None and row["relative"] is None


@pytest.mark.parametrize("issued", [True, "500", None])
def test_an_official_figure_that_is_no_number_is_left_out(issued: Any) -> None:
    row = comparison_row("1", None, estimate(10.0), None, {"issued_premises": issued})
    assert row["official"] is None and row["difference"] is None and row["relative"] is None


def test_a_zero_estimate_has_a_difference_but_no_relative_one() -> None:
    row = comparison_row("1", None, estimate(0.0), None, {"issued_premises": 30})
    assert row["difference"] == 30
    assert row["relative"] is None


def test_flagged_rows_come_first_then_the_largest_relative_difference() -> None:
    rows = [
        {"station": "a", "flag": False, "relative": 0.9},
        {"station": "b", "flag": True, "relative": 0.01},
        {"station": "c", "flag": False, "relative": None},
        {"station": "d", "flag": False, "relative": -0.95},
        {"station": "e", "flag": False, "relative": math.inf},
    ]
    assert [r["station"] for r in sorted(rows, key=comparison_order)] == ["b", "d", "a", "c", "e"]


def test_totals_sum_only_the_rows_with_both_figures() -> None:
    rows = [
        {
            "counted": 80,
            "independent": 100,
            "official": 120,
            "flag": True,
            "direction": "above",
            "tested": True,
            "p_value": 0.001,
        },
        {
            "counted": 50,
            "independent": 50,
            "official": 50,
            "flag": False,
            "direction": None,
            "tested": True,
            "p_value": 0.9,
        },
        {"independent": None, "official": 70, "flag": True},
        {"independent": 40, "official": None, "flag": False},
    ]
    assert turnout_totals(rows) == {
        "counted": 130,
        "independent": 150,
        "official": 170,
        "stations_compared": 2,
        "flagged": 1,
        "flagged_above": 1,
        "flagged_below": 0,
        "registers_compared": 0,
        "register_flagged": 0,
        "tested": 2,
        "expected_by_chance": 0.1,
        "discoveries": 1,
        "level": 0.05,
    }
    empty = turnout_totals([])
    assert empty["independent"] is None and empty["counted"] is None
    assert empty["stations_compared"] == empty["flagged"] == empty["tested"] == 0


@pytest.mark.parametrize("value", [0, 1, 0.05, 1.0])
def test_a_tolerance_from_0_to_1_is_taken_as_a_float(value: float) -> None:
    assert check_tolerance(value) == float(value)
    assert isinstance(check_tolerance(value), float)


@pytest.mark.parametrize("value", [-0.01, 1.01, math.nan, math.inf, True, "0.1", None])
def test_any_other_tolerance_is_refused_naming_the_field(value: Any) -> None:
    with pytest.raises(InputError, match="'tolerance' must be a number from 0 to 1") as caught:
        check_tolerance(value)
    assert caught.value.column == "tolerance"
