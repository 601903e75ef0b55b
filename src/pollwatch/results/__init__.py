"""Official results by polling station: the schema, loaders and adapters.

``load_results(path, format="auto")`` is the one entry point: it detects the CEC and
Ugandan layouts, and reads any other layout through a column mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pollwatch.errors import DataFormatError
from pollwatch.results.mapping import mapping_from_dict, read_mapping
from pollwatch.results.ru_cik import looks_like_ru_cik, read_ru_cik
from pollwatch.results.schema import (
    COUNT_FIELDS,
    ID_FIELDS,
    ISSUED_FIELDS,
    ElectionResults,
)
from pollwatch.results.tables import read_table
from pollwatch.results.uganda import looks_like_uganda, read_uganda
from pollwatch.results.validate import ColumnMapping, build_results

__all__ = [
    "COUNT_FIELDS",
    "FORMATS",
    "ID_FIELDS",
    "ISSUED_FIELDS",
    "ColumnMapping",
    "ElectionResults",
    "build_results",
    "detect_format",
    "load_results",
    "mapping_from_dict",
    "read_mapping",
    "read_ru_cik",
    "read_table",
    "read_uganda",
]

Format = Literal["auto", "ru-cik", "uganda", "mapped"]
FORMATS: tuple[str, ...] = ("auto", "ru-cik", "uganda", "mapped")


def detect_format(columns: list[str]) -> str:
    """Guess a file's layout from its header: ``ru-cik``, ``uganda`` or ``mapped``."""
    if looks_like_ru_cik(columns):
        return "ru-cik"
    if looks_like_uganda(columns):
        return "uganda"
    return "mapped"


def load_results(
    path: str | Path,
    *,
    format: str = "auto",
    mapping: ColumnMapping | str | Path | None = None,
    name: str | None = None,
    strict: bool = False,
) -> ElectionResults:
    """Load one election's official results from a file.

    Parameters
    ----------
    path:
        CSV (plain, ``.gz`` or ``.zip``), Parquet or Excel file.
    format:
        ``auto`` (detect), ``ru-cik``, ``uganda`` or ``mapped`` (needs ``mapping``; a file
        whose columns already carry the schema's names needs none).
    mapping:
        A :class:`ColumnMapping` or the path of a TOML mapping file.
    strict:
        Raise on votes exceeding ballots and duplicate stations instead of excluding them.
    """
    if format not in FORMATS:
        raise DataFormatError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    p = Path(path)
    if isinstance(mapping, (str, Path)):
        mapping, mapped_name = read_mapping(mapping)
        name = name or mapped_name
    if mapping is not None:
        format = "mapped"
    raw = None  # read once: the table that detects the layout is the one loaded
    if format == "auto":
        raw = read_table(p)
        format = detect_format(list(raw.columns))
    if format == "ru-cik":
        return read_ru_cik(p, name=name, strict=strict, table=raw)
    if format == "uganda":
        return read_uganda(p, name=name, strict=strict, table=raw)
    if raw is None:
        raw = read_table(p)
    if mapping is None:
        fields = [c for c in ID_FIELDS + COUNT_FIELDS if c in raw.columns]
        if "station" not in fields or "registered" not in fields:
            raise DataFormatError(
                "unknown layout: give a column mapping (--mapping FILE.toml) or name the columns "
                "'station', 'registered', ... as in the results schema",
                file=str(p),
            )
        mapping = ColumnMapping(columns={f: f for f in fields}, ignore=("abroad",))
    res = build_results(raw, mapping, file=str(p), name=name or p.stem, strict=strict)
    res.meta["format"] = "mapped"
    return res
