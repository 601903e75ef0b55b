"""Home and early voting held against their own registers, where a register count exists.

A door count cannot see ballots issued at voters' homes or before election day: those voters
never walk past the observer. What they leave behind is a register that the commission
keeps: the written requests for voting at home (a ballot may be issued outside the premises
only against a request), and the list of early voters (each signs it; their ballots wait in
sealed envelopes). When a count of such a register is imported with the station registry
(columns ``home_requests`` and ``early_voters``; an observer who saw the register, or the
authority, supplies it), the official figure is compared with it:

* **home voting** — the official ``issued_outside`` may not exceed the requests: flagged
  ``"above"`` when it does by more than the slack. Fewer ballots than requests is normal
  (voters not at home, voters who came to the station after all) and never flagged, so home
  stuffing is seen only once it exceeds the unused requests (typically 10–20 %);
* **early voting** — the official ``issued_early`` should equal the early voters' list:
  flagged ``"above"`` or ``"below"`` when it differs by more than the slack.

The slack, ``max(REGISTER_SLACK_ABSOLUTE, REGISTER_SLACK_RELATIVE × register)``, absorbs an
observer's copying slip; in the simulation of :func:`pollwatch.observe.calibration.
register_calibration` (``bench/observe_stats.py``, tables in ``docs/observe.md``) an honest
station is flagged at most 5 % of the time. These checks are labelled apart from the door
count's flag: they test other ballots, on other evidence, and say nothing about the premises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "REGISTERS",
    "REGISTER_SLACK_ABSOLUTE",
    "REGISTER_SLACK_RELATIVE",
    "RegisterCheck",
    "check_register",
    "register_checks",
]

REGISTERS: dict[str, tuple[str, str, str]] = {
    "home": ("home_requests", "issued_outside", "ballots issued at home against the requests"),
    "early": ("early_voters", "issued_early", "ballots issued early against the early voters"),
}
"""kind → (registry column of the register count, official line, label)."""

REGISTER_SLACK_ABSOLUTE = 2
"""Ballots a register comparison forgives whatever the register's size (a copying slip)."""

REGISTER_SLACK_RELATIVE = 0.02
"""Share of the register a comparison forgives: one line in fifty miscopied or added late."""


@dataclass(frozen=True)
class RegisterCheck:
    """One station's official figure against one register count.

    ``difference = official − register``; ``direction`` is ``"above"``, ``"below"`` or
    ``None``, and ``flagged`` is whether that direction counts for this kind (home voting
    below its requests is normal).
    """

    kind: Literal["home", "early"]
    official: int
    register: int
    slack: int
    direction: Literal["above", "below"] | None
    flagged: bool

    @property
    def difference(self) -> int:
        """Official minus register."""
        return self.official - self.register

    @property
    def label(self) -> str:
        """What is compared, in words."""
        return REGISTERS[self.kind][2]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "kind": self.kind,
            "label": self.label,
            "official": self.official,
            "register": self.register,
            "difference": self.difference,
            "slack": self.slack,
            "direction": self.direction,
            "flagged": self.flagged,
        }


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0 or value != int(value):
        return None
    return int(value)


def check_register(kind: Literal["home", "early"], official: int, register: int) -> RegisterCheck:
    """Compare one official figure with its register count (see the module docstring).

    >>> check_register("home", 57, 50).flagged, check_register("home", 30, 50).flagged
    (True, False)
    """
    if kind not in REGISTERS:
        raise ValueError(f"unknown register {kind!r}")
    slack = max(REGISTER_SLACK_ABSOLUTE, math.ceil(REGISTER_SLACK_RELATIVE * register))
    difference = official - register
    direction: Literal["above", "below"] | None = None
    if difference > slack:
        direction = "above"
    elif difference < -slack:
        direction = "below"
    flagged = direction == "above" or (direction == "below" and kind == "early")
    return RegisterCheck(kind, official, register, slack, direction, flagged)


def register_checks(
    registry: Mapping[str, Any] | None, official: Mapping[str, Any] | None
) -> list[RegisterCheck]:
    """The checks a station's registry row and official figures allow: one per register
    whose count and official line are both whole numbers (none when either is missing)."""
    out = []
    for kind, (column, line, _) in REGISTERS.items():
        register = _count((registry or {}).get(column))
        issued = _count((official or {}).get(line))
        if register is not None and issued is not None:
            out.append(check_register(kind, issued, register))  # type: ignore[arg-type]
    return out
