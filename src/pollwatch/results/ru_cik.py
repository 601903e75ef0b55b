"""Adapter for the Russian CEC (ЦИК) polling-station files, 2004–2024.

The files (collected by Sergey Shpilkin and Ivan Shukshin, published in dkobak/elections)
name protocol lines in Russian, with wording that changes by year; this adapter maps them
by their meaning. Quirks handled:

* station ids are integers until 2018 and "УИК №N" from 2020; both become ``"N"``;
* the district is the territorial commission (``tik``), unique only within a region;
* stations abroad ("Территория за пределами РФ", "Зарубежная территория") are flagged
  ``abroad``;
* rows without figures (2024: territories of Ukraine under occupation) and stations with
  no registered voters are excluded and listed;
* 2020 publishes only ballots issued (as ``issued_premises``) and no valid count: valid is
  the sum of the answers;
* remote e-voting is published only as regional aggregates (``2024-electronic-voting.csv.gz``
  beside ``2024.csv.zip``); it is attached as ``aggregates``, never mixed with stations.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from pollwatch.errors import DataFormatError
from pollwatch.results.schema import ElectionResults
from pollwatch.results.tables import read_table
from pollwatch.results.validate import ColumnMapping, build_results

__all__ = ["ELECTION_NAMES", "looks_like_ru_cik", "map_ru_columns", "read_ru_cik"]

ELECTION_NAMES = {
    "2000": "Russia, presidential election 2000",
    "2003": "Russia, State Duma election 2003",
    "2004": "Russia, presidential election 2004",
    "2007": "Russia, State Duma election 2007",
    "2008": "Russia, presidential election 2008",
    "2011": "Russia, State Duma election 2011",
    "2012": "Russia, presidential election 2012",
    "2016": "Russia, State Duma election 2016",
    "2018": "Russia, presidential election 2018",
    "2020": "Russia, constitutional vote 2020",
    "2021": "Russia, State Duma election 2021",
    "2024": "Russia, presidential election 2024",
}

_ID_COLUMNS = {"region", "oik", "tik", "uik", "url", "name"}
_ABROAD = re.compile(r"за пределами|зарубежн", re.IGNORECASE)


def looks_like_ru_cik(columns: list[str]) -> bool:
    """Whether a header looks like a CEC file (Russian protocol lines and ``uik``)."""
    return "uik" in columns and any(str(c).startswith("Число") for c in columns)


def _protocol_field(column: str) -> str | None:
    """Which schema field a Russian protocol line is, if any."""
    c = re.sub(r"\s+", " ", column.lower())
    if "открепительн" in c:
        return None
    if ("избирателей" in c or "участников" in c) and ("включенных" in c or "внесенных" in c):
        return "registered"
    if "бюллетен" not in c:
        return None
    if "получен" in c and "не учтенных" not in c:
        return "ballots_received"
    if "выданных" in c:
        if "досрочно" in c:
            return "issued_early"
        if "вне помещени" in c:
            return "issued_outside"
        return "issued_premises"
    if "недействительн" in c:
        return "invalid"
    if "действительн" in c:
        return "valid"
    return None


def map_ru_columns(columns: list[str]) -> ColumnMapping:
    """Build the column mapping of a CEC file from its header."""
    mapping: dict[str, str] = {}
    ignore: list[str] = []
    for col in columns:
        if col in _ID_COLUMNS:
            ignore.append(col)
            continue
        if col.startswith("Число"):
            ignore.append(col)
            fld = _protocol_field(col)
            if fld is not None and fld not in mapping:
                mapping[fld] = col
    mapping.update({"region": "region", "station": "uik"})
    if "tik" in columns:
        mapping["district"] = "tik"
    missing = [f for f in ("registered",) if f not in mapping]
    if missing:
        raise DataFormatError(f"no protocol line for {', '.join(missing)} in the CEC header")
    return ColumnMapping(columns=mapping, ignore=tuple(ignore))


def _station_numbers(raw: pd.Series) -> pd.Series:
    text = raw.astype(str).str.strip()
    return text.str.replace(r"^\s*УИК\s*№\s*", "", regex=True)


def read_ru_cik(
    path: str | Path, *, name: str | None = None, strict: bool = False
) -> ElectionResults:
    """Read one CEC file (``YEAR.csv.zip`` or any container :func:`read_table` reads)."""
    p = Path(path)
    raw = read_table(p)
    if not looks_like_ru_cik(list(raw.columns)):
        raise DataFormatError(
            "not a CEC polling-station file (no 'uik' and protocol lines)", file=str(p)
        )
    raw = raw.copy()
    raw["uik"] = _station_numbers(raw["uik"])
    mapping = map_ru_columns(list(raw.columns))
    abroad = raw["region"].astype(str).str.contains(_ABROAD).to_numpy()
    year = re.match(r"(\d{4})", p.name)
    title = name or (
        ELECTION_NAMES.get(year.group(1), f"Russia {year.group(1)}") if year else p.stem
    )
    results = build_results(raw, mapping, file=str(p), name=title, strict=strict, abroad=abroad)
    if "valid" not in mapping.columns:
        results.stations["valid"] = results.votes().to_numpy(dtype=np.int64).sum(axis=1)
    aggregates = None
    if year:
        ev = p.with_name(f"{year.group(1)}-electronic-voting.csv.gz")
        if ev.is_file():
            aggregates = read_table(ev)
    return ElectionResults(
        name=results.name,
        stations=results.stations,
        candidates=results.candidates,
        excluded=results.excluded,
        aggregates=aggregates,
        source=str(p),
        meta={"format": "ru-cik", "year": year.group(1) if year else None},
    )
