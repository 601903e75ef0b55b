"""The dashboard's conflict list: every station's open and resolved conflicts, by field.

Only stations whose counters say a conflict is possible
(:attr:`pollwatch.observe.activity.StationCounters.may_conflict`), or that have resolutions,
are merged; their conflicts come from the read models' cache, or from ``station_state``
after a restart (:mod:`pollwatch.store.station_state`) without decoding whole records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from pollwatch.store._util import format_stored
from pollwatch.store.elections import get_election
from pollwatch.store.read_models import read_models
from pollwatch.store.tables import resolutions
from pollwatch.store.views import load_resolutions

__all__ = ["conflicts"]


def conflicts(engine: Engine, election: str) -> list[dict[str, Any]]:
    """Open and resolved conflicts of every station, by station and field.

    Each: ``{"station", "field", "values": [{"report_id", "value"}], "resolved": null |
    {"value", "by", "at", "note"}}``.
    """
    get_election(engine, election)
    with engine.connect() as conn:
        counters = read_models(engine).masters.counters(conn, election)
        chosen = load_resolutions(conn, election)
        stamps = {
            (str(r[0]), str(r[1])): format_stored(r[2])
            for r in conn.execute(
                select(resolutions.c.station, resolutions.c.field, resolutions.c.at).where(
                    resolutions.c.election == election
                )
            )
        }
    wanted = [s for s, c in counters.items() if c.may_conflict or s in chosen]
    current = read_models(engine).masters.refresh(engine, election, counters, chosen, wanted)
    out: list[dict[str, Any]] = []
    for station in sorted(current):
        entry = current[station]
        resolved = entry.conflicts[1]  # without decoding the whole record
        for item in entry.open_conflict_items():  # built once per merged entry
            out.append({"station": station, **item, "resolved": None})
        for conflict, resolution in resolved:
            out.append(
                {
                    "station": station,
                    **conflict.to_dict(),
                    "resolved": {
                        "value": resolution.value,
                        "by": resolution.by,
                        "at": stamps.get((station, resolution.field)),
                        "note": resolution.note,
                    },
                }
            )
    out.sort(key=lambda c: (c["station"], c["field"]))
    return out
