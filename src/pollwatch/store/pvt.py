"""The quick-count sample of an election in the database, and its estimate from the reports.

``pollwatch pvt sample`` draws the sample (:func:`pollwatch.observe.draw_stratified_sample`)
and :func:`store_sample` keeps it, replacing the previous one, with an audit entry.
:func:`pvt_estimate` reads the protocol figures of the sampled stations' master records
(agreed or resolved figures only; conflicting ones are left out until resolved) and runs
:func:`pollwatch.observe.stratified_ratio_estimate`; when official results are attached to
every station, the official shares and turnout are checked against the intervals. The
formulas are in :mod:`pollwatch.observe.pvt` (and ``docs/observe.md``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from pollwatch.errors import InputError, PVTUnavailable
from pollwatch.observe.master import merge_station_reports
from pollwatch.observe.pvt import stratified_ratio_estimate
from pollwatch.observe.reports import FIGURE_FIELDS, ProtocolReport, format_timestamp
from pollwatch.results.schema import COUNT_FIELDS
from pollwatch.store._util import as_utc, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.elections import get_election, station_table
from pollwatch.store.engine import write_transaction
from pollwatch.store.read_models import forget_summaries
from pollwatch.store.tables import elections, official_results, pvt_sample, reports
from pollwatch.store.views import load_resolutions, parse_stored_body

__all__ = ["load_sample", "pvt_estimate", "store_sample"]

_TURNOUT_COLUMNS = ("registered", "issued_early", "issued_premises", "issued_outside", "invalid")


@dataclass(frozen=True)
class PVTSample:
    """An election's stored sample: station → stratum, how it was drawn."""

    election: str
    strata_column: str
    seed: int
    drawn_at: datetime
    stations: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "election": self.election,
            "strata_column": self.strata_column,
            "seed": self.seed,
            "drawn_at": format_timestamp(self.drawn_at),
            "stations": dict(self.stations),
        }


def store_sample(
    engine: Engine,
    election: str,
    sample: pd.DataFrame,
    *,
    strata_column: str,
    seed: int,
    actor: str = "cli",
) -> PVTSample:
    """Keep a drawn sample as the election's quick-count sample (replacing any earlier one).

    ``sample`` is :func:`~pollwatch.observe.draw_stratified_sample`'s table (``station`` and
    the ``strata_column``). The replacement and its audit entry commit together.
    """
    get_election(engine, election)
    for column in ("station", strata_column):
        if column not in sample.columns:
            raise InputError(f"the sample has no column {column!r}", column=column)
    stations = [str(s) for s in sample["station"]]
    strata = [str(s) for s in sample[strata_column]]
    if len(set(stations)) != len(stations):
        raise InputError("a station appears twice in the sample", column="station")
    drawn_at = utcnow()
    with write_transaction(engine) as conn:
        conn.execute(delete(pvt_sample).where(pvt_sample.c.election == election))
        if stations:
            conn.execute(
                insert(pvt_sample),
                [
                    {
                        "election": election,
                        "station": station,
                        "stratum": stratum,
                        "strata_column": strata_column,
                        "seed": int(seed),
                        "drawn_at": drawn_at,
                    }
                    for station, stratum in zip(stations, strata, strict=True)
                ],
            )
        record_audit(
            conn,
            actor,
            "store_pvt_sample",
            election,
            {"size": len(stations), "strata": strata_column, "seed": int(seed)},
        )
    forget_summaries(engine, election)
    return PVTSample(
        election,
        strata_column,
        int(seed),
        drawn_at,
        MappingProxyType(dict(zip(stations, strata, strict=True))),
    )


def load_sample(engine: Engine, election: str) -> PVTSample | None:
    """The election's stored sample, or None when none was drawn."""
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(pvt_sample)
                .where(pvt_sample.c.election == election)
                .order_by(pvt_sample.c.station)
            )
            .mappings()
            .all()
        )
    if not rows:
        return None
    first = rows[0]
    return PVTSample(
        election=election,
        strata_column=str(first["strata_column"]),
        seed=int(first["seed"]),
        drawn_at=as_utc(first["drawn_at"]),
        stations=MappingProxyType({str(r["station"]): str(r["stratum"]) for r in rows}),
    )


def _official_columns(engine: Engine, election: str, ids: list[str]) -> pd.DataFrame | None:
    """Official figures of every station as columns, or None when some station has none."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(official_results.c.station, official_results.c.figures).where(
                official_results.c.election == election
            )
        ).all()
    figures = {str(r[0]): dict(r[1]) for r in rows}
    if not ids or any(s not in figures for s in ids):
        return None
    records = []
    for station in ids:
        row = figures[station]
        flat: dict[str, Any] = {"station": station}
        flat.update({k: row[k] for k in COUNT_FIELDS if k in row})
        flat.update(row.get("votes") or {})
        records.append(flat)
    return pd.DataFrame.from_records(records)


def _sample_protocols(
    engine: Engine, election: str, sampled: list[str]
) -> dict[str, dict[str, Any]]:
    """Agreed (or resolved) protocol figures of each sampled station that has any."""
    by_station: dict[str, list[ProtocolReport]] = {}
    with engine.connect() as conn:
        for start in range(0, len(sampled), 500):
            chunk = sampled[start : start + 500]
            query = select(reports.c.canonical).where(
                reports.c.election == election,
                reports.c.kind == "protocol",
                reports.c.station.in_(chunk),
            )
            for (canonical,) in conn.execute(query):
                parsed = parse_stored_body(json.loads(canonical))
                assert isinstance(parsed, ProtocolReport)
                by_station.setdefault(parsed.station, []).append(parsed)
        chosen = load_resolutions(conn, election)
    out: dict[str, dict[str, Any]] = {}
    for station, protocols in by_station.items():
        master = merge_station_reports(protocols, chosen.get(station, ()))
        figures = master.protocol_figures()
        if figures is None:
            continue
        row: dict[str, Any] = {name: getattr(figures, name) for name in FIGURE_FIELDS}
        row["votes"] = dict(figures.votes)
        out[station] = row
    return out


def pvt_estimate(
    engine: Engine, election: str, *, denominator: Literal["valid", "cast"] = "valid"
) -> dict[str, Any]:
    """The quick count of the stored sample from the sampled stations' protocol figures.

    Sampled stations without a usable protocol count as missing (see
    :data:`pollwatch.observe.pvt.MISSING_AT_RANDOM`).

    Returns
    -------
    dict
        :meth:`PVTResult.to_dict` (``ready`` true) or, while too few sampled protocols are in,
        :meth:`PVTPending.to_dict` (``ready`` false, the reason and the response per
        stratum); both plus ``sample_size`` (stations drawn), ``reported`` (sampled stations
        whose protocol is usable), ``strata_column``, ``seed``, ``drawn_at``,
        ``official_attached`` and ``notes``.

    Raises
    ------
    PVTUnavailable
        No sample is stored.
    """
    if denominator not in ("valid", "cast"):
        raise InputError("'denominator' must be 'valid' or 'cast'", column="denominator")
    sample = load_sample(engine, election)
    if sample is None:
        raise PVTUnavailable(
            f"no quick-count sample for {election!r}: draw one with "
            f"`pollwatch pvt sample --election {election} --size N --strata COLUMN --seed S`"
        )
    table = station_table(engine, election)
    if sample.strata_column not in table.columns:
        raise InputError(
            f"the station table has no column {sample.strata_column!r} any more",
            column="strata",
        )
    ids = [str(s) for s in table["station"]]
    population = pd.DataFrame({"station": ids, "stratum": table[sample.strata_column].to_numpy()})
    official = _official_columns(engine, election, ids)
    if official is not None:
        population = population.merge(official, on="station", how="left")
    with engine.connect() as conn:
        listed = conn.execute(
            select(elections.c.candidates).where(elections.c.id == election)
        ).scalar()
    protocols = _sample_protocols(engine, election, sorted(sample.stations))
    candidates = [str(c) for c in listed] if listed else []
    if not candidates:
        candidates = sorted({c for row in protocols.values() for c in row["votes"]})
    notes: list[str] = []
    records = []
    needed = ["valid"] + (["invalid"] if denominator == "cast" else [])
    for station, row in sorted(protocols.items()):
        if any(row[n] is None for n in needed) or any(c not in row["votes"] for c in candidates):
            notes.append(
                f"station {station}: protocol lacks {', '.join(needed)} or a candidate's votes"
            )
            continue
        flat = {"station": station, **{k: v for k, v in row.items() if k != "votes"}}
        flat.update({c: row["votes"][c] for c in candidates})
        records.append(flat)
    frame = (
        pd.DataFrame.from_records(records)
        if records
        else pd.DataFrame(columns=["station", *needed, *candidates])
    )
    for column in _TURNOUT_COLUMNS:
        if column in frame.columns and column not in needed and frame[column].isna().any():
            frame = frame.drop(columns=[column])
    if candidates:
        result = stratified_ratio_estimate(
            frame,
            population,
            strata="stratum",
            candidates=candidates,
            denominator=denominator,
            sampled=sorted(sample.stations),
        )
        data = result.to_dict()
    else:
        data = {"ready": False, "reason": "not enough protocols yet: no candidate is known"}
    data["notes"] = [*data.get("notes", []), *notes]
    answer: dict[str, Any] = _finite(
        {
            **data,
            "sample_size": len(sample.stations),
            "reported": len(records),
            "strata_column": sample.strata_column,
            "seed": sample.seed,
            "drawn_at": format_timestamp(sample.drawn_at),
            "official_attached": official is not None,
        }
    )
    return answer


def _finite(value: Any) -> Any:
    """NaN and infinities as None, so the result is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
