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


def _read_csv_arrow(data: bytes, encoding: str, sep: str) -> pd.DataFrame | None:
    """The table read by Arrow's CSV reader (every column as text), or ``None`` when Arrow
    is missing or does not read it (the pandas reader then reads it, or names the fault).

    About five times less CPU than pandas' reader on a national results file (Russia 2024:
    94,000 rows, 13 MB), and it reads on every core. Leading spaces of a value are
    dropped, as pandas' ``skipinitialspace`` does.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency of pandas 3 here
        return None
    if encoding == "utf-8-sig":
        data = data.removeprefix(b"\xef\xbb\xbf")
        encoding = "utf8"
    if _quote_beside_space(data, sep.encode("ascii")):
        return None
    try:
        names = _header(data, encoding, sep)
        if "" in names or len(set(names)) != len(names):
            return None  # pandas names blank and repeated headers; let it
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, csv.Error):
        return None
    if table.num_columns < 2:
        return None
    columns = {
        name: pc.utf8_ltrim(col, characters=" ").to_pandas()
        for name, col in zip(table.column_names, table.columns, strict=True)
    }
    return pd.DataFrame(columns, columns=table.column_names)


def _quote_beside_space(data: bytes, sep: bytes) -> bool:
    """Whether a value starts with spaces before its opening quote (``a, "b"``) or with a
    space inside it (``" b"``). pandas' ``skipinitialspace`` reads the first as the quoted
    ``b`` and keeps the second's space; Arrow reads the first as the text ``"b"``, quotes
    included, and its values are trimmed after parsing, which drops the second's. Such a
    file goes to pandas' reader (no national results file has one; the check looks only
    at the few spaces beside a quote, not at every byte)."""
    for needle, quote_at in ((b' "', 1), (b'" ', 0)):
        i = data.find(needle)
        while i != -1:
            j = i + quote_at - 1
            while j >= 0 and data[j] == 0x20:
                j -= 1
            if j < 0 or data[j : j + 1] in (sep, b"\n", b"\r"):
                return True
            i = data.find(needle, i + 1)
    return False


def _header(data: bytes, encoding: str, sep: str) -> list[str]:
    """Column names of the first line (for Arrow's per-column types)."""
    first = data.split(b"\n", 1)[0].decode(encoding).rstrip("\r")
    return next(csv.reader([first], delimiter=sep))


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
    frame = _read_csv_arrow(data, encoding, sep)
    if frame is not None:
        return frame
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
