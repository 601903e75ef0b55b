"""The public summary of an election for the press page: aggregates that identify no one.

Stations observed/opened/closed, report and incident counts (incidents by category), the
independent turnout summed over the stations compared with official figures
(:func:`pollwatch.observe.comparison_table.turnout_totals`), the quick count when a sample is
drawn, and the ledger head to verify exports against. No station ids, no incident texts, no
observer names. Reused per process until the ledger moves, then for at most
:data:`pollwatch.store.read_models.SUMMARY_MAX_AGE` seconds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from pollwatch.errors import PollwatchError
from pollwatch.observe.comparison_table import turnout_totals
from pollwatch.observe.reports import format_timestamp
from pollwatch.store._util import utcnow
from pollwatch.store.comparison import comparison_rows
from pollwatch.store.elections import get_election
from pollwatch.store.pvt import pvt_estimate
from pollwatch.store.read_models import read_models
from pollwatch.store.reports import ledger_head
from pollwatch.store.station_overview import activity_totals
from pollwatch.store.tables import reports

__all__ = ["public_summary"]

_PVT_FIGURES = (
    "ready",
    "reason",
    "shares",
    "turnout",
    "denominator",
    "sample_size",
    "reported",
    "complete",
    "strata",
    "joint",
    "nonresponse",
    "assumption",
)
"""What the press sees of the quick count: the estimate and the response per stratum (or
"not enough protocols yet"), not the sample's stations."""


def _quick_count(engine: Engine, election: str) -> dict[str, Any] | None:
    try:
        estimate = pvt_estimate(engine, election)
    except PollwatchError:  # no sample yet (PVTUnavailable)
        return None
    return {k: estimate.get(k) for k in _PVT_FIGURES}


def _public_now(engine: Engine, election: str) -> dict[str, Any]:
    info = get_election(engine, election)
    with engine.connect() as conn:
        totals = activity_totals(conn, election)
        category = reports.c.body["category"].as_string()
        by_category = {
            str(c): int(n)
            for c, n in conn.execute(
                select(category, func.count())
                .where(reports.c.election == election, reports.c.kind == "incident")
                .group_by(category)
            )
        }
    turnout = turnout_totals(comparison_rows(engine, election)["rows"])
    pvt = _quick_count(engine, election)
    head = ledger_head(engine, election)
    return {
        "election": election,
        "name": info["name"],
        "generated_at": format_timestamp(utcnow()),
        "stations": {
            "total": totals["stations"],
            "observed": totals["reporting"],
            "opened": totals["opened"],
            "closed": totals["closed"],
        },
        "reports": {
            "count": totals["reports"],
            "incidents": totals["incidents"],
            "protocols": totals["protocols"],
        },
        "incidents_by_category": dict(sorted(by_category.items())),
        "turnout": turnout,
        "pvt": pvt,
        "ledger": (
            None
            if not head["entries"]
            else {
                "seq": head["entries"],
                "hash": head["head_hash"],
                "recorded_at": head["recorded_at"],
            }
        ),
    }


def public_summary(engine: Engine, election: str) -> dict[str, Any]:
    """Aggregated, non-identifying figures of an election for the press page.

    Stations observed/opened/closed, report and incident counts (incidents by category),
    the independent turnout summed over the stations compared with official figures and how
    many are flagged, the quick count when a sample is drawn, and the ledger head to verify
    exports against. Kept per process until the ledger moves, then for at most
    :data:`~pollwatch.store.read_models.SUMMARY_MAX_AGE` seconds.
    """
    get_election(engine, election)
    return read_models(engine).summaries.get(
        engine, election, "public", lambda: _public_now(engine, election)
    )
