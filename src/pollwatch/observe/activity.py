"""What a station's running counters and count windows say, without re-reading its reports.

The store keeps a few counters per station in each report's transaction (reports, counts,
incidents, protocols; statuses are the rest). They decide whether the station's reports can
disagree at all, so the dashboard merges only those stations to look for conflicts:

* a protocol figure needs two protocol reports to disagree;
* count windows need two count reports to overlap;
* a status needs two status reports to differ.

The activity chart shows people entered per clock hour. A count window covers a span of
time, not an instant, so its ``entered`` is spread evenly over the hours it covers (a
window from 08:30 to 09:30 with 60 people gives 30 to each hour); a zero-length window
counts in its own hour.

>>> StationCounters(last_seq=9, reports=3, counts=1, incidents=1, protocols=1).may_conflict
False
>>> StationCounters(last_seq=9, reports=2, counts=2, incidents=0, protocols=0).may_conflict
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pollwatch.observe.master import CountWindow

__all__ = ["SLOT_SECONDS", "StationCounters", "entered_per_hour", "entered_per_slot"]

SLOT_SECONDS = 900
"""The dashboard's activity is kept in 15-minute UTC slots: every local hour of every time
zone in use (whole hours, +5:30, +5:45) is a sum of whole slots."""


@dataclass(frozen=True)
class StationCounters:
    """A station's reports by kind, and the ledger seq of its newest one."""

    last_seq: int
    reports: int
    counts: int
    incidents: int
    protocols: int

    @property
    def statuses(self) -> int:
        """Status reports: every report that is no count, incident or protocol."""
        return self.reports - self.counts - self.incidents - self.protocols

    @property
    def may_conflict(self) -> bool:
        """Two protocols, two count windows or two statuses: only then can fields disagree."""
        return self.protocols >= 2 or self.counts >= 2 or self.statuses >= 2

    @property
    def mergeable(self) -> int:
        """Reports a master record is merged from (incidents are never merged)."""
        return self.reports - self.incidents


def entered_per_hour(windows: Sequence[CountWindow]) -> dict[int, float]:
    """People entered per clock hour (hours since the epoch, UTC).

    Each window's count is spread evenly over its span; a zero-length window counts in
    its hour.
    """
    return entered_per_slot(windows, 3600)


def entered_per_slot(
    windows: Sequence[CountWindow], seconds: int = SLOT_SECONDS
) -> dict[int, float]:
    """People entered per slot of ``seconds`` (slots since the epoch, UTC), as
    :func:`entered_per_hour` does per hour."""
    out: dict[int, float] = {}
    for window in windows:
        start, end, entered = window.start.timestamp(), window.end.timestamp(), window.entered
        slot = int(start // seconds)
        if end <= start:
            out[slot] = out.get(slot, 0.0) + entered
            continue
        span = end - start
        while slot * seconds < end:
            overlap = min(end, (slot + 1) * seconds) - max(start, slot * seconds)
            if overlap > 0:
                out[slot] = out.get(slot, 0.0) + entered * overlap / span
            slot += 1
    return out
