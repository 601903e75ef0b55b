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

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from pollwatch.errors import DataFormatError
from pollwatch.results.schema import ElectionResults
from pollwatch.results.tables import read_table
from pollwatch.results.validate import ColumnMapping, build_results

__all__ = [
    "ELECTION_NAMES",
    "looks_like_ru_cik",
    "map_ru_columns",
    "read_ru_cik",
    "ru_cik_results",
]

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

_ABROAD = re.compile(r"за пределами|зарубежн", re.IGNORECASE)

# Text columns before the protocol lines, recognised by their header (any case, spaces
# squeezed). Files of the collection name them in English (region, oik, tik, uik, url,
# name) and may name them in Russian; a column not named here is judged by its content.
_ROLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("region", re.compile(r"^(region|регион|субъект( рф| российской федерации)?)$")),
    ("district", re.compile(r"^(tik|тик|территориальная избирательная комиссия)$")),
    (
        "station",
        re.compile(
            r"^(uik|уик|№ ?уик|номер уик|уик №|участок|номер участка|избирательный участок"
            r"|участковая избирательная комиссия)$"
        ),
    ),
    (
        "ignore",
        re.compile(
            r"^(oik|оик|окружная избирательная комиссия|url|link|ссылка|name|название"
            r"|выборы|level|уровень|уровень комиссии|тип комиссии|id|код|okato|окато)$"
        ),
    ),
)
_REQUIRED = {"region": "the region", "station": "the polling station (uik)"}


def _role(column: str) -> str | None:
    """``region``, ``district``, ``station`` or ``ignore`` by the header, else ``None``."""
    key = re.sub(r"\s+", " ", str(column)).strip().lower()
    return next((role for role, pattern in _ROLES if pattern.match(key)), None)


def _is_protocol_line(column: str) -> bool:
    return str(column).strip().startswith("Число")


def looks_like_ru_cik(columns: list[str]) -> bool:
    """Whether a header looks like a CEC file: Russian protocol lines and a station column."""
    return any(_is_protocol_line(c) for c in columns) and any(
        _role(c) == "station" for c in columns
    )


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


def _counts_column(values: pd.Series) -> bool:
    """Whether a column holds vote counts: most of its non-empty cells are plain digits.

    "Most", not "all": a votes column with a few damaged cells stays a votes column, and
    its bad cells are reported with their row (:func:`parse_counts`) instead of the
    whole column silently leaving the analysis as text.
    """
    text = values.astype(str).str.strip()
    if _mostly_ascii_digits(text):
        return True  # ASCII digits are digits: the cell-by-cell count below can only agree
    cells = text.to_numpy(dtype=object)
    cells = cells[cells != ""]
    return bool(cells.size) and float(np.char.isdigit(cells.astype(str)).mean()) >= 0.5


def _mostly_ascii_digits(text: pd.Series) -> bool:
    """Whether at least half of the non-empty cells of an Arrow text column are ASCII
    digits, counted by Arrow (``False`` for other columns, and with missing cells)."""
    if getattr(text.dtype, "storage", None) != "pyarrow":
        return False
    import pyarrow as pa
    import pyarrow.compute as pc

    cells = pa.array(text.array)
    if cells.null_count:
        return False
    filled = pc.sum(pc.not_equal(cells, "")).as_py() or 0
    digits = pc.sum(pc.ascii_is_decimal(cells)).as_py() or 0
    return filled > 0 and digits / filled >= 0.5


def _per_distinct(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn(values)`` for a cell-by-cell ``fn``, computed once per distinct text.

    pandas runs a regular expression in Python, cell by cell; a national file repeats its
    regions (89 names in 94,000 rows) and its station ids (5,700), so once per distinct
    value is 15 to 1,000 times less work. Only for text columns: there equal cells are the
    same text (in an object column 1, 1.0 and True would count as one value).
    """
    if not isinstance(values.dtype, pd.StringDtype):
        return fn(values)
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    out = fn(pd.Series(distinct, name=values.name)).take(codes)
    out.index = values.index
    return out


def map_ru_columns(columns: list[str], raw: pd.DataFrame | None = None) -> ColumnMapping:
    """The column mapping of a CEC file, found from its header and, with ``raw``, content.

    Protocol lines are the columns whose header starts with "Число", mapped by their
    meaning whatever the year's wording (:func:`_protocol_field`). Region, territorial
    commission (district) and station are found by their header in English or Russian,
    wherever they stand; other named text columns (district commission, link, election
    name, commission level) are ignored. Every other column is judged by its content:
    whole numbers make it a candidate's or a party's votes, any other text an
    identifier to ignore. Without ``raw`` the other columns are taken as candidates.

    Raises :class:`DataFormatError` naming what is missing: the region or the station
    column, the line of registered voters, any candidate column.
    """
    mapping: dict[str, str] = {}
    ignore: list[str] = []
    candidates: list[str] = []
    for col in columns:
        if _is_protocol_line(col):
            ignore.append(col)
            fld = _protocol_field(col)
            if fld is not None and fld not in mapping:
                mapping[fld] = col
            continue
        role = _role(col)
        if role in ("region", "district", "station") and role not in mapping:
            mapping[str(role)] = col
        elif role is not None:
            ignore.append(col)
        elif raw is None or _counts_column(raw[col]):
            candidates.append(col)
        else:
            ignore.append(col)  # a text column the collection does not name: an identifier
    head = ", ".join(repr(str(c)) for c in columns[:40])
    for fld, what in _REQUIRED.items():
        if fld not in mapping:
            raise DataFormatError(
                f"no column for {what} in the CEC header (named e.g. {fld!r} or "
                f"{'регион' if fld == 'region' else 'УИК'!r}); the file has: {head}"
            )
    if "registered" not in mapping:
        raise DataFormatError(
            "no protocol line for registered voters ('Число избирателей, включенных в "
            f"список…') in the CEC header; the file has: {head}"
        )
    if not candidates:
        raise DataFormatError(
            "no candidate or party column (whole numbers beside the protocol lines) in the "
            f"CEC file; the file has: {head}"
        )
    return ColumnMapping(columns=mapping, candidates=tuple(candidates), ignore=tuple(ignore))


def _station_numbers(raw: pd.Series) -> pd.Series:
    def number(text: pd.Series) -> pd.Series:
        return text.astype(str).str.strip().str.replace(r"^\s*УИК\s*№\s*", "", regex=True)

    return _per_distinct(raw, number)


def _abroad(region: pd.Series) -> np.ndarray:
    """Whether each station is abroad, by its region's name."""
    return _per_distinct(region, lambda r: r.astype(str).str.contains(_ABROAD)).to_numpy()


def read_ru_cik(
    path: str | Path,
    *,
    name: str | None = None,
    strict: bool = False,
    table: pd.DataFrame | None = None,
) -> ElectionResults:
    """Read one CEC file (``YEAR.csv.zip`` or any container :func:`read_table` reads).

    The remote e-voting aggregates of the same year (``YEAR-electronic-voting.csv.gz``
    beside it) are attached as ``aggregates``. ``table`` is the file already read by
    :func:`read_table` (:func:`load_results` reads it to detect the layout): reading a
    national file twice cost a quarter of its load.
    """
    p = Path(path)
    raw = read_table(p) if table is None else table
    results = ru_cik_results(raw, file=str(p), name=name, strict=strict)
    year = results.meta.get("year")
    aggregates = None
    if year:
        ev = p.with_name(f"{year}-electronic-voting.csv.gz")
        if ev.is_file():
            aggregates = read_table(ev)
    return dataclasses.replace(results, aggregates=aggregates)


def ru_cik_results(
    raw: pd.DataFrame, *, file: str, name: str | None = None, strict: bool = False
) -> ElectionResults:
    """Validated results of one CEC table already read as text (:func:`read_table`).

    The columns are found by :func:`map_ru_columns` from the header and the content; the
    election's name comes from the year the file name starts with.
    """
    if not any(_is_protocol_line(c) for c in raw.columns):
        raise DataFormatError(
            "not a CEC polling-station file (no protocol lines: no column starts with 'Число')",
            file=file,
        )
    try:
        mapping = map_ru_columns(list(raw.columns), raw)
    except DataFormatError as exc:
        raise DataFormatError(str(exc), file=file) from None
    raw = raw.copy()
    station = mapping.columns["station"]
    raw[station] = _station_numbers(raw[station])
    abroad = _abroad(raw[mapping.columns["region"]])
    year = re.match(r"(\d{4})", Path(file).name)
    title = name or (
        ELECTION_NAMES.get(year.group(1), f"Russia {year.group(1)}") if year else Path(file).stem
    )
    results = build_results(raw, mapping, file=file, name=title, strict=strict, abroad=abroad)
    if "valid" not in mapping.columns:
        results.stations["valid"] = results.votes().to_numpy(dtype=np.int64).sum(axis=1)
    return ElectionResults(
        name=results.name,
        stations=results.stations,
        candidates=results.candidates,
        excluded=results.excluded,
        source=file,
        meta={"format": "ru-cik", "year": year.group(1) if year else None},
    )
