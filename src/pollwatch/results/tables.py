"""Reading raw tables (CSV, zipped or gzipped CSV, Parquet, Excel) as text.

Everything is read as strings so that validation (:mod:`pollwatch.results.validate`)
can name the row and column of a bad value instead of pandas guessing a dtype.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pandas as pd

from pollwatch.errors import DataFormatError, NotFoundError

__all__ = ["MAX_FILE_BYTES", "read_table"]

MAX_FILE_BYTES = 2 * 1024**3
"""Refuse inputs larger than this (uncompressed), rather than exhaust memory."""


def _read_csv_text(data: bytes, file: str) -> pd.DataFrame:
    if len(data) > MAX_FILE_BYTES:
        raise DataFormatError(f"file is larger than {MAX_FILE_BYTES} bytes", file=file)
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1251 decodes every byte string
        raise DataFormatError("cannot decode the file as UTF-8 or CP1251", file=file)
    if "\x00" in text[:4096]:
        raise DataFormatError("this is a binary file, not CSV", file=file)
    sample = text[:65536]
    try:
        dialect = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise DataFormatError(f"not a readable CSV table: {exc}".strip(), file=file) from exc
    if frame.shape[1] < 2:
        raise DataFormatError("the table has fewer than two columns", file=file)
    return frame


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a results table as strings, whatever its container.

    Supported: ``.csv``, ``.csv.gz``, ``.csv.zip`` / ``.zip`` (one CSV inside), ``.parquet``,
    ``.xlsx`` / ``.xls``. Column names are stripped of surrounding spaces.
    """
    p = Path(path)
    file = str(p)
    if not p.is_file():
        raise NotFoundError(f"{file}: no such file")
    name = p.name.lower()
    try:
        if name.endswith(".parquet"):
            frame = pd.read_parquet(p).astype(str).replace({"None": "", "nan": "", "<NA>": ""})
        elif name.endswith((".xlsx", ".xls")):
            frame = pd.read_excel(p, dtype=str).fillna("")
        elif name.endswith(".zip"):
            with zipfile.ZipFile(p) as zf:
                members = [m for m in zf.namelist() if not m.endswith("/")]
                csvs = [m for m in members if m.lower().endswith((".csv", ".txt"))] or members
                if len(csvs) != 1:
                    raise DataFormatError(
                        f"expected one CSV in the zip archive, found {len(csvs)}", file=file
                    )
                info = zf.getinfo(csvs[0])
                if info.file_size > MAX_FILE_BYTES:
                    raise DataFormatError(
                        f"archive member is larger than {MAX_FILE_BYTES} bytes", file=file
                    )
                frame = _read_csv_text(zf.read(csvs[0]), file)
        elif name.endswith(".gz"):
            import gzip

            with gzip.open(p, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
            frame = _read_csv_text(data, file)
        else:
            frame = _read_csv_text(p.read_bytes(), file)
    except DataFormatError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, ImportError) as exc:
        raise DataFormatError(f"cannot read the file: {exc}", file=file) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame
