"""Bar charts drawn on the server as SVG geometry: no script, no library, a few hundred bytes.

The totals page shows people counted at the doors and waiting in queues hour by hour. A
phone on a slow network gets the chart inside the HTML; the template draws the rectangles
this module places (:func:`bar_chart`), and every bar carries its value as text for screen
readers and for anyone who prefers a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Bar", "BarChart", "bar_chart", "nice_ceiling"]


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value and rectangle in the chart's coordinates."""

    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    """Bars in a ``width`` × ``height`` box, the value axis running from 0 to ``top``."""

    width: int
    height: int
    top: float
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, float], ...]  # (value, y)

    def to_dict(self) -> dict[str, Any]:
        return {"top": self.top, "bars": [{"label": b.label, "value": b.value} for b in self.bars]}


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``value``.

    >>> [nice_ceiling(v) for v in (0, 7, 13, 240, 251)]
    [1.0, 10.0, 20.0, 250.0, 500.0]
    """
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop ends at 10


def bar_chart(
    points: Sequence[tuple[str, float]], *, width: int = 480, height: int = 200, left: int = 48
) -> BarChart:
    """Place one bar per point (in order) under a rounded top; four grid lines."""
    top = nice_ceiling(max((v for _, v in points), default=0.0))
    usable = height - 28  # room for the labels below
    slot = (width - left) / max(1, len(points))
    bars = tuple(
        Bar(
            label,
            value,
            round(left + i * slot + slot * 0.1, 1),
            round(usable - usable * value / top, 1),
            round(slot * 0.8, 1),
            round(usable * value / top, 1),
        )
        for i, (label, value) in enumerate(points)
    )
    ticks = tuple((top * k / 4, round(usable - usable * k / 4, 1)) for k in range(5))
    return BarChart(width, height, top, bars, ticks)
