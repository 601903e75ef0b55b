"""Column mappings from a small TOML file, for results in any other layout.

Example (``mapping.toml``)::

    name = "Serbia, parliamentary election 2023"

    [columns]
    region = "Okrug"
    station = "BM"
    registered = "Upisani"
    valid = "Vazeci"
    invalid = "Nevazeci"

    [candidates]
    columns = ["Lista 1", "Lista 2"]   # omit: every column not mapped or ignored
    ignore = ["Napomena"]
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pollwatch.errors import DataFormatError, NotFoundError
from pollwatch.results.validate import ColumnMapping

__all__ = ["mapping_from_dict", "read_mapping"]


def mapping_from_dict(data: dict[str, Any], *, file: str = "mapping") -> ColumnMapping:
    columns = data.get("columns")
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise DataFormatError("[columns] must map schema fields to column names", file=file)
    cand = data.get("candidates", {})
    if not isinstance(cand, dict):
        raise DataFormatError("[candidates] must be a table", file=file)
    cols = cand.get("columns")
    if cols is not None and not (isinstance(cols, list) and all(isinstance(c, str) for c in cols)):
        raise DataFormatError("candidates.columns must be a list of column names", file=file)
    ignore = cand.get("ignore", [])
    if not (isinstance(ignore, list) and all(isinstance(c, str) for c in ignore)):
        raise DataFormatError("candidates.ignore must be a list of column names", file=file)
    return ColumnMapping(columns=dict(columns), candidates=cols, ignore=tuple(ignore))


def read_mapping(path: str | Path) -> tuple[ColumnMapping, str | None]:
    """Read a TOML column mapping; returns the mapping and the optional election name."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"{p}: no such mapping file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"not a valid TOML file: {exc}", file=str(p)) from exc
    name = data.get("name")
    return mapping_from_dict(data, file=str(p)), name if isinstance(name, str) else None
