"""Adapter for the Ugandan presidential results by polling station (2011, 2016).

Converted by the Uganda Elections Data Portal (bt-IRI/UEDP) from the Electoral Commission's
results. Uganda publishes no ballots-issued lines, so the turnout numerator is valid plus
invalid ballots. Regions are districts; districts are constituencies (2016) or counties
(2011, "EA").
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from pollwatch.errors import DataFormatError
from pollwatch.results.schema import ElectionResults
from pollwatch.results.tables import read_table
from pollwatch.results.validate import ColumnMapping, build_results

__all__ = ["looks_like_uganda", "read_uganda"]

_LAYOUTS: dict[str, ColumnMapping] = {
    "2011": ColumnMapping(
        columns={
            "region": "DISTRICT NAME",
            "district": "EA NAME",
            "station": "Original_Station_ID_2011",
            "station_name": "PS NAME",
            "registered": "REGISTERED VOTERS",
            "valid": "VALID",
            "invalid": "INVALID",
        },
        ignore=(
            "DISTRICT CODE",
            "EA CODE",
            "SCOUNTY CODE",
            "SCOUNTY NAME",
            "PARISH CODE",
            "PARISH NAME",
            "PS CODE",
            "SPOILT",
            "NULLIFIED",
            "NOT_RECEIVED",
            "NON_REP",
        ),
    ),
    "2016": ColumnMapping(
        columns={
            "region": "Dist_name_2016",
            "district": "Const_name_2016",
            "station": "Original_Station_ID_2016",
            "station_name": "Station_string_2016",
            "registered": "Reg.Voters",
            "valid": "V.Votes",
            "invalid": "Inv.Votes",
        },
        ignore=(
            "Dist_no_2016",
            "Const_no_2016",
            "Sbty_no_2016",
            "Sbty_name_2016",
            "Par_no_2016",
            "Par_name_2016",
            "Stn_no_2016",
            "T.Votes",
            "NON_REP",
        ),
    ),
}


def looks_like_uganda(columns: list[str]) -> bool:
    return "REGISTERED VOTERS" in columns or "Reg.Voters" in columns


def read_uganda(
    path: str | Path,
    *,
    name: str | None = None,
    strict: bool = False,
    table: pd.DataFrame | None = None,
) -> ElectionResults:
    """Read a UEDP results file (2011 or 2016 layout, detected from the header).

    ``table`` is the file already read by :func:`read_table` (:func:`load_results` reads it
    to detect the layout), so that it is not read twice.
    """
    p = Path(path)
    raw = read_table(p) if table is None else table
    layout = (
        "2011"
        if "REGISTERED VOTERS" in raw.columns
        else "2016"
        if "Reg.Voters" in raw.columns
        else None
    )
    if layout is None:
        raise DataFormatError(
            "not a Ugandan results file (no registered-voters column)", file=str(p)
        )
    year = re.match(r"(\d{4})", p.name)
    title = name or f"Uganda, presidential election {year.group(1) if year else layout}"
    res = build_results(raw, _LAYOUTS[layout], file=str(p), name=title, strict=strict)
    res.meta.update({"format": "uganda", "year": year.group(1) if year else layout})
    return res
