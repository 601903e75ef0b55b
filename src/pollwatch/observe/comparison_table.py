"""The coordinators' comparison table: each station's independent turnout against the official.

One row per reporting station, from its turnout estimate and its comparison with the
official protocol (:func:`pollwatch.observe.compare_with_official`):

* ``independent`` is the estimated total of voters, rounded to a whole person; ``low`` and
  ``high`` its interval;
* ``official`` is the official ``issued_premises`` (ballots issued in the premises, the
  figure the door count measures), when it is a number;
* ``difference = official - independent`` (people) and ``relative = (official - total) /
  total`` (a fraction of the unrounded estimate; none when the estimate is 0);
* ``flag`` is the comparison's verdict against the tolerance, ``protocol_mismatches`` the
  protocol lines observers copied differently from the official figures;
* ``registers`` holds the home and early voting checks against their registers where the
  registry has a count (:mod:`pollwatch.observe.registers`), and ``register_flag`` whether
  one is flagged: labelled apart from ``flag``, which is the door count's verdict alone.

Rows are ordered flagged first, then by ``|relative|`` from largest, then by station id, so
the stations to look at stand at the top. The press page sums the rows that have both
figures (:func:`turnout_totals`).

The tolerance is a relative turnout slack from 0 to 1 (:func:`check_tolerance`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pollwatch.errors import InputError
from pollwatch.observe.estimates import Comparison, TurnoutEstimate, discrepancy_baseline
from pollwatch.observe.registers import register_checks

__all__ = ["check_tolerance", "comparison_order", "comparison_row", "turnout_totals"]


def check_tolerance(value: Any) -> float:
    """``value`` as a relative turnout tolerance, else InputError naming ``tolerance``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise InputError(
            f"'tolerance' must be a number from 0 to 1; got {value!r}", column="tolerance"
        )
    return float(value)


def comparison_row(
    station: str,
    name: str | None,
    estimate: TurnoutEstimate | None,
    comparison: Comparison | None,
    official: Mapping[str, Any] | None,
    registry: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One station's row of the table (JSON-ready); ``registry`` is the station's registry
    row (its ``home_requests`` and ``early_voters`` counts), when there is one."""
    total = None if estimate is None or estimate.total is None else estimate.total
    independent = None if total is None else round(total)
    issued = (official or {}).get("issued_premises")
    official_n = (
        int(issued) if isinstance(issued, int | float) and not isinstance(issued, bool) else None
    )
    difference = None
    relative = None
    if total is not None and official_n is not None:
        difference = official_n - independent if independent is not None else None
        relative = (official_n - total) / total if total > 0 else None
    turnout = None if comparison is None else comparison.turnout
    registers = register_checks(registry, official)
    return {
        "station": station,
        "name": name,
        "counted": None if estimate is None or estimate.total is None else estimate.counted,
        "independent": independent,
        "low": None if estimate is None else estimate.low,
        "high": None if estimate is None else estimate.high,
        "official": official_n,
        "difference": difference,
        "relative": relative,
        "flag": bool(comparison.flagged) if comparison is not None else False,
        "direction": None if turnout is None else turnout.direction,
        "tested": bool(turnout is not None and turnout.tested),
        "p_value": None if turnout is None else turnout.p_value,
        "protocol_mismatches": (
            [line.field for line in comparison.lines if line.flagged] if comparison else []
        ),
        "registers": [check.to_dict() for check in registers],
        "register_flag": any(check.flagged for check in registers),
    }


def comparison_order(row: Mapping[str, Any]) -> tuple[bool, float, str]:
    """Sort key of a row: flagged first, then the largest ``|relative|``, then station id."""
    relative = row["relative"]
    size = abs(relative) if relative is not None and math.isfinite(relative) else -1.0
    return (not row["flag"], -size, str(row["station"]))


def turnout_totals(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counted, extrapolated and official turnout summed over the rows that have both, the
    flags by direction, and what an honest election would show
    (:func:`~pollwatch.observe.estimates.discrepancy_baseline`)."""
    rows = list(rows)
    compared = [r for r in rows if r["independent"] is not None and r["official"] is not None]
    tested = [r["p_value"] for r in compared if r.get("tested") and r.get("p_value") is not None]
    return {
        "counted": sum(r.get("counted") or 0 for r in compared) if compared else None,
        "independent": sum(r["independent"] for r in compared) if compared else None,
        "official": sum(r["official"] for r in compared) if compared else None,
        "stations_compared": len(compared),
        "flagged": sum(1 for r in compared if r["flag"]),
        "flagged_above": sum(1 for r in compared if r.get("direction") == "above"),
        "flagged_below": sum(1 for r in compared if r.get("direction") == "below"),
        "registers_compared": sum(1 for r in rows if r.get("registers")),
        "register_flagged": sum(1 for r in rows if r.get("register_flag")),
        **discrepancy_baseline(tested),
    }
