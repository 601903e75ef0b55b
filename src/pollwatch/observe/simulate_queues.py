"""Calibration of the ballots warning on simulated polling days with known answers.

A warning that ballots may run out sends voters elsewhere; raised at an honest station that
had enough, it costs votes there. So before anyone sees it, the rule in
:func:`pollwatch.observe.queues.ballot_outlook` is run over simulated days:

* each station's arrivals follow its own day shape, drawn around a mean curve with a
  realistic spread (``Dirichlet(concentration × mean shares)``: some stations busy in the
  morning, others in the evening), and its total is Poisson;
* **honest-enough** stations received more ballots than people came (by 5 % to 100 %);
  **short** stations received fewer (people came 10 % to 100 % more than ballots);
* an observer checks every hour: ballots issued so far (the door count) and the queue; the
  rule sees the *mean* curve's share so far, as the service does.

:func:`simulate_ballot_alarms` returns how often the warning fired at enough-stations (the
false-alarm rate the press may see), how often it fired at short stations before the last
ballot was issued, and how many hours ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pollwatch.observe.queues import ballot_outlook

__all__ = ["MEAN_DAY", "AlarmRates", "simulate_ballot_alarms"]

MEAN_DAY: tuple[float, ...] = (
    0.05, 0.08, 0.10, 0.10, 0.09, 0.08, 0.07, 0.07, 0.08, 0.10, 0.10, 0.08,
)  # fmt: skip
"""Mean share of a 12-hour day's arrivals per hour (08-20): a morning and an evening peak."""


@dataclass(frozen=True)
class AlarmRates:
    """What the simulation found (fractions of stations; hours as medians)."""

    stations: int
    false_alarm_rate: float
    false_alarm_rate_tight: float
    detection_rate: float
    median_lead_hours: float | None
    concentration: float

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _one_day(
    rng: np.random.Generator, total: int, received: int, shape: np.ndarray, queue_share: float
) -> tuple[bool, int | None, int | None]:
    """(warned before running out, hour of the first warning, hour ballots ran out)."""
    per_hour = rng.multinomial(total, shape)
    cum_mean = np.cumsum(MEAN_DAY)
    arrived = 0
    first_warning = None
    ran_out = None
    for hour in range(len(MEAN_DAY)):
        arrived += int(per_hour[hour])
        queue = round(queue_share * int(per_hour[hour]))
        issued = min(arrived - queue, received)
        if ran_out is None and arrived > received:
            ran_out = hour
        outlook = ballot_outlook(received, max(issued, 0), queue, float(cum_mean[hour]), seed=hour)
        if first_warning is None and outlook.warning:
            first_warning = hour
    warned_before = first_warning is not None and (ran_out is None or first_warning <= ran_out)
    return warned_before, first_warning, ran_out


def simulate_ballot_alarms(
    stations: int = 400, *, concentration: float = 60.0, seed: int = 0
) -> AlarmRates:
    """Run ``stations`` enough- and ``stations`` short-stations through a polling day."""
    rng = np.random.default_rng(seed)
    mean = np.asarray(MEAN_DAY) / sum(MEAN_DAY)
    false_alarms = tight_alarms = tight = detected = 0
    leads: list[int] = []
    for _ in range(stations):
        total = int(rng.integers(300, 2500))
        shape = rng.dirichlet(concentration * mean)
        queue_share = float(rng.uniform(0.0, 0.5))
        # enough: 5 % to 100 % more ballots than people came
        margin = float(rng.uniform(1.05, 2.0))
        warned, first, _ = _one_day(rng, total, int(total * margin), shape, queue_share)
        false_alarms += first is not None
        if margin < 1.15:
            tight += 1
            tight_alarms += first is not None
        # short: people come 10 % to 100 % more than ballots
        received = int(total / float(rng.uniform(1.1, 2.0)))
        warned, first, ran_out = _one_day(rng, total, received, shape, queue_share)
        if warned:
            detected += 1
            if first is not None and ran_out is not None:
                leads.append(ran_out - first)
    return AlarmRates(
        stations=stations,
        false_alarm_rate=false_alarms / stations,
        false_alarm_rate_tight=tight_alarms / tight if tight else 0.0,
        detection_rate=detected / stations,
        median_lead_hours=float(np.median(leads)) if leads else None,
        concentration=concentration,
    )
