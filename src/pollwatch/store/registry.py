"""Importing a station registry: every row checked, what can be used imported, the rest named.

Registries come from many hands (a CEC export, a spreadsheet of addresses abroad, a list a
volunteer typed), and they are rarely complete or clean. So an import takes what it can:

* a row whose ``station`` id is empty, malformed or repeated is **left out** (the row);
* any other value that cannot be used (a latitude of 91, "about 1200" voters, an unknown
  time zone, a schedule that does not parse, text with control characters) is **left out**
  (that field), and the rest of its row is imported;
* each of these is a :class:`RowProblem`: line in the file (the header is line 1), column
  (the file's header), reason and what was done.

``strict=True`` is the old all-or-nothing import: the first problem is raised as an
:class:`~pollwatch.errors.InputError` naming file, row and column, and nothing is written.

Columns (:data:`STATION_COLUMNS`): only ``station`` is required, every other may be absent
or empty. Updating a station already in the registry changes only the columns the file
has: a column the file does not have, or a value left out as a problem, keeps what is
stored; an empty cell clears it.

Why these limits: :data:`MAX_REGISTRY_BYTES` and :data:`MAX_REGISTRY_ROWS` are several times
a whole country's registry (Russia: ~94,000 stations, ~30 MB with addresses), so a real
file always fits and a hostile one is refused before it is parsed; a text value is at most
:data:`MAX_TEXT` characters (no address is longer).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from pollwatch.errors import DataFormatError, InputError, NotFoundError
from pollwatch.observe.ids import check_election_id, check_station_id
from pollwatch.observe.schedule import check_timezone, parse_schedule, timezones_from_coordinates
from pollwatch.results import read_table
from pollwatch.store._util import utcnow
from pollwatch.store.engine import write_transaction
from pollwatch.store.tables import elections, stations

__all__ = [
    "MAX_REGISTRY_BYTES",
    "MAX_REGISTRY_ROWS",
    "MAX_TEXT",
    "STATION_COLUMNS",
    "CheckedRegistry",
    "ImportSummary",
    "RowProblem",
    "check_station_rows",
    "import_stations",
    "parse_stations",
    "read_station_file",
]

STATION_COLUMNS: tuple[str, ...] = (
    "station",
    "name",
    "country",
    "city",
    "address",
    "lat",
    "lon",
    "registered",
    "ballots_received",
    "hours",
    "region",
    "timezone",
    "schedule",
    "home_requests",
    "early_voters",
)
"""Columns of a station registry file; only ``station`` is required. ``country`` and
``region`` are what coordinators' scopes narrow by (:mod:`pollwatch.observe.permissions`).

``timezone`` (IANA, e.g. ``Europe/Berlin``; looked up offline from ``lat``/``lon`` when
empty) and ``schedule`` (``2024-03-15 08:00-20:00; 2024-03-16 08:00-20:00``, local times,
one entry per voting day) say when the station is open (:mod:`pollwatch.observe.schedule`);
the free-text ``hours`` is read where it parses. ``home_requests`` (written requests to vote
at home) and ``early_voters`` (the early voters' list) are register counts that the official
ballots issued at home and early are compared with (:mod:`pollwatch.observe.registers`)."""

MAX_REGISTRY_BYTES = 128 * 1024 * 1024
MAX_REGISTRY_ROWS = 500_000
MAX_TEXT = 1000

_TEXT = ("name", "country", "city", "address", "hours", "region", "timezone", "schedule")
_INT = ("registered", "ballots_received", "home_requests", "early_voters")
_MAX_COUNT = 10_000_000

_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
)
"""Characters a registry text may not hold: control and invisible formatting characters
(terminal escapes, bidirectional overrides); tabs and line breaks are allowed."""

ROW_SKIPPED = "row left out"
FIELD_SKIPPED = "field left out"


@dataclass(frozen=True)
class RowProblem:
    """A row or a value an import could not use: where, why, and what was done about it."""

    line: int
    column: str
    reason: str
    action: str  # ROW_SKIPPED or FIELD_SKIPPED

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "reason": self.reason,
            "action": self.action,
        }

    def text(self) -> str:
        """``line 7, column 'lat': expected … (field left out)`` — one line, escaped."""
        return f"line {self.line}, column {self.column[:60]!r}: {self.reason} ({self.action})"


@dataclass(frozen=True)
class CheckedRegistry:
    """The usable rows (each only with the columns to write) and the problems."""

    rows: tuple[dict[str, Any], ...]
    problems: tuple[RowProblem, ...]
    lines: int  # data rows read

    @property
    def skipped(self) -> int:
        return sum(1 for p in self.problems if p.action == ROW_SKIPPED)


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote: the election, rows added or updated, the source, and the rows
    and fields it left out (``problems``; always empty for a strict import)."""

    election: str
    stations: int
    source: str
    problems: tuple[RowProblem, ...] = field(default=())
    skipped_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "election": self.election,
            "stations": self.stations,
            "source": self.source,
            "skipped_rows": self.skipped_rows,
            "problems": [p.to_dict() for p in self.problems],
        }


# --- reading -------------------------------------------------------------------------------------


def _decode(data: bytes, file: str) -> str:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataFormatError("cannot decode the file as UTF-8 or CP1251", file=file)


def _read_csv(data: bytes, file: str) -> list[dict[str, Any]]:
    """CSV rows as text with their line numbers (``__line__``); a row with more fields than
    the header is kept for the checker to report (``__error__``): one bad row must not sink
    the file. A shorter row's missing fields are empty (spreadsheets drop trailing commas)."""
    text = _decode(data, file)
    if "\x00" in text[:4096]:
        raise DataFormatError("this is a binary file, not CSV", file=file)
    try:
        delimiter = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    csv.field_size_limit(MAX_TEXT * 64)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return []
    except csv.Error as exc:
        raise DataFormatError(f"cannot read the header: {exc}", file=file) from None
    rows: list[dict[str, Any]] = []
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over the size limit: that row only
            rows.append({"__line__": line, "__error__": f"unreadable row ({exc})"[:200]})
            continue
        if not any(v.strip() for v in values):
            continue  # blank lines are no rows
        if len(rows) >= MAX_REGISTRY_ROWS:
            raise DataFormatError(f"more than {MAX_REGISTRY_ROWS:,} rows", file=file)
        row: dict[str, Any] = {
            k: v for k, v in zip(header, values, strict=False) if not _reserved(k)
        }
        row["__line__"] = line
        if len(values) > len(header):  # a shifted row: no value can be trusted to its column
            row["__error__"] = f"the row has {len(values)} fields, the header {len(header)}"
        rows.append(row)
    return rows


def _reserved(key: Any) -> bool:
    """Keys the reader adds itself (``__line__``): a file's own are dropped, not trusted."""
    return str(key).startswith("__")


def read_station_file(path: str | Path) -> list[dict[str, Any]]:
    """Read a station registry file (CSV, CSV in ``.gz``/``.zip``, Parquet, Excel, or JSON).

    JSON is a list of objects (or ``{"stations": [...]}``); values are read as text so that
    :func:`check_station_rows` validates every format the same way. Plain CSV rows carry
    their line numbers (a quoted value may span lines).
    """
    p = Path(path)
    file = str(p)
    if not p.is_file():
        raise NotFoundError(f"{p}: no such file")
    if p.stat().st_size > MAX_REGISTRY_BYTES:
        raise DataFormatError(f"the file is larger than {MAX_REGISTRY_BYTES:,} bytes", file=file)
    suffix = p.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise DataFormatError(f"not readable JSON: {exc}"[:300], file=file) from None
        if isinstance(data, Mapping) and isinstance(data.get("stations"), list):
            data = data["stations"]
        if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
            raise DataFormatError("expected a JSON list of station objects", file=file)
        if len(data) > MAX_REGISTRY_ROWS:
            raise DataFormatError(f"more than {MAX_REGISTRY_ROWS:,} rows", file=file)
        return [
            {str(k): "" if v is None else str(v) for k, v in r.items() if not _reserved(k)}
            for r in data
        ]
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(p.read_bytes(), file)
    frame = read_table(p)
    if len(frame) > MAX_REGISTRY_ROWS:
        raise DataFormatError(f"more than {MAX_REGISTRY_ROWS:,} rows", file=file)
    return [
        {str(k): str(v) for k, v in r.items() if not _reserved(k)} for r in frame.to_dict("records")
    ]


# --- checking ------------------------------------------------------------------------------------


def _shown(value: str) -> str:
    """A value quoted for a message: escaped (no terminal control), at most 40 characters."""
    return repr(value[:40]) + ("…" if len(value) > 40 else "")


def _text(value: str) -> str:
    if len(value) > MAX_TEXT:
        raise InputError(f"text longer than {MAX_TEXT} characters")
    if not value.isprintable() and _CONTROL.search(value):
        raise InputError(f"text with control characters: {_shown(value)}")
    return value


def _count(value: str) -> int:
    try:
        number = float(value)
        whole = int(number) if number.is_integer() else None
    except (ValueError, OverflowError):
        whole = None
    if whole is None or whole < 0 or whole > _MAX_COUNT:
        raise InputError(f"expected a whole number ≥ 0; got {_shown(value)}")
    return whole


def _coordinate(value: str, limit: float) -> float:
    try:
        coord = float(value)
    except ValueError:
        coord = math.nan
    if not math.isfinite(coord) or abs(coord) > limit:
        raise InputError(f"expected a number between -{limit:g} and {limit:g}; got {_shown(value)}")
    return coord


def _value(col: str, value: str) -> Any:
    if col in _TEXT:
        return _text(value)
    if col in _INT:
        return _count(value)
    return _coordinate(value, 90.0 if col == "lat" else 180.0)


def _point(raw: Mapping[str, Any], source: Mapping[str, str]) -> tuple[float | None, float | None]:
    """A raw row's coordinates where both read as numbers (checked properly later)."""
    if "lat" not in source or "lon" not in source:
        return None, None
    try:
        lat, lon = float(raw.get(source["lat"]) or "x"), float(raw.get(source["lon"]) or "x")
    except (TypeError, ValueError):
        return None, None
    return (lat, lon) if math.isfinite(lat) and math.isfinite(lon) else (None, None)


def _headers(
    rows: Sequence[Mapping[str, Any]], mapping: Mapping[str, str], file: str | None
) -> dict[str, str]:
    """Our column → the file's header, for the columns the file has; errors for the file."""
    for ours in mapping:
        if ours not in STATION_COLUMNS:
            raise InputError(
                f"unknown column {ours!r} in the mapping; columns are {', '.join(STATION_COLUMNS)}",
                column=ours,
            )
    present: set[str] = set()
    for raw in rows:
        present.update(k for k in raw if not k.startswith("__"))
    source = {col: mapping.get(col, col) for col in STATION_COLUMNS}
    if rows and source["station"] not in present:
        shown = ", ".join(sorted(h[:40] for h in present)[:30])
        raise DataFormatError(
            f"the required column {source['station']!r} is missing "
            f"(columns: {shown}); use --map station=HEADER",
            file=file,
            column=source["station"],
        )
    for col, header in mapping.items():
        if rows and header not in present:
            raise DataFormatError(f"mapped column {header!r} ({col}) is not in the file", file=file)
    return {col: header for col, header in source.items() if header in present}


def check_station_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    mapping: Mapping[str, str] | None = None,
    file: str | None = None,
) -> CheckedRegistry:
    """Check registry rows: the usable ones, each with the columns to write, and problems.

    ``mapping`` maps our column name to the file's header (``{"station": "PS code"}``).
    Rows are numbered as lines of the file (``__line__`` when the reader knew it, else
    header + position). File-level faults (no station column, an unknown mapping) raise.
    """
    source = _headers(rows, dict(mapping or {}), file)
    zones = timezones_from_coordinates([_point(raw, source) for raw in rows])
    seen: dict[str, int] = {}
    clean: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    schedules: dict[tuple[str, str], str | InputError] = {}  # registries repeat their hours
    for index, raw in enumerate(rows):
        line = int(raw.get("__line__") or index + 2)
        station_header = source["station"]
        if raw.get("__error__"):
            problems.append(RowProblem(line, station_header, str(raw["__error__"]), ROW_SKIPPED))
            continue
        station = str(raw.get(station_header, "") or "").strip()
        try:
            if not station:
                raise InputError("the station id is empty")
            check_station_id(station)
            if station in seen:
                raise InputError(f"station {station!r} repeats line {seen[station]}")
        except InputError as exc:
            problems.append(RowProblem(line, station_header, exc.reason, ROW_SKIPPED))
            continue
        seen[station] = line
        row: dict[str, Any] = {"station": station}
        for col, header in source.items():
            if col == "station":
                continue
            value = str(raw.get(header, "") or "").strip()
            if not value:
                row[col] = None
                continue
            try:
                row[col] = _value(col, value)
            except InputError as exc:
                problems.append(RowProblem(line, header, exc.reason, FIELD_SKIPPED))
        located = row.get("lat") is not None and row.get("lon") is not None
        if (
            located
            and row.get("timezone") is None
            and "timezone" not in _skipped(problems, line, source)
        ):
            row["timezone"] = zones[index]
        _check_schedule(row, line, source, problems, schedules)
        clean.append(row)
    return CheckedRegistry(tuple(clean), tuple(problems), len(rows))


def _skipped(problems: list[RowProblem], line: int, source: Mapping[str, str]) -> set[str]:
    """Our columns of ``line`` already left out as problems."""
    ours = {header: col for col, header in source.items()}
    return {ours.get(p.column, p.column) for p in problems if p.line == line}


def _parsed_schedule(
    text: str, zone: str, memo: dict[tuple[str, str], str | InputError]
) -> str | InputError:
    key = (text, zone)
    if key not in memo:
        try:
            memo[key] = parse_schedule(text, zone).text()
        except InputError as exc:
            memo[key] = exc
    return memo[key]


def _check_schedule(
    row: dict[str, Any],
    line: int,
    source: Mapping[str, str],
    problems: list[RowProblem],
    memo: dict[tuple[str, str], str | InputError],
) -> None:
    """Check a row's time zone (given or looked up) and its schedule, leaving out the bad."""
    zone_header = source.get("timezone", "timezone")
    if row.get("timezone") is not None:
        try:
            check_timezone(row["timezone"])
        except InputError as exc:
            problems.append(RowProblem(line, zone_header, exc.reason, FIELD_SKIPPED))
            del row["timezone"]
    if row.get("schedule") is not None:
        header = source.get("schedule", "schedule")
        zone = row.get("timezone")
        if zone is None:
            problems.append(
                RowProblem(
                    line,
                    zone_header,  # what is missing; the schedule is what is left out
                    "a schedule needs the station's time zone (or its coordinates); "
                    "the schedule is left out",
                    FIELD_SKIPPED,
                )
            )
            del row["schedule"]
            return
        parsed = _parsed_schedule(row["schedule"], zone, memo)
        if isinstance(parsed, InputError):
            problems.append(RowProblem(line, header, parsed.reason, FIELD_SKIPPED))
            del row["schedule"]
        else:
            row["schedule"] = parsed


def parse_stations(
    rows: list[dict[str, Any]],
    *,
    mapping: Mapping[str, str] | None = None,
    file: str | None = None,
) -> list[dict[str, Any]]:
    """Validate registry rows strictly: clean dicts, or the first problem raised.

    Every returned row has every column (``None`` where the file has none).
    """
    checked = check_station_rows(rows, mapping=mapping, file=file)
    if checked.problems:
        first = checked.problems[0]
        raise InputError(first.reason, file=file, row=first.line, column=first.column)
    return [{col: row.get(col) for col in STATION_COLUMNS} for row in checked.rows]


# --- writing -------------------------------------------------------------------------------------


def _ensure_election(conn: Connection, election: str) -> None:
    check_election_id(election)
    if not conn.execute(select(elections.c.id).where(elections.c.id == election)).first():
        conn.execute(insert(elections).values(id=election, name=election, created_at=utcnow()))


def _upsert(conn: Connection, election: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new stations (absent columns NULL); update known ones in their given columns."""
    existing = {
        r[0]
        for r in conn.execute(select(stations.c.station).where(stations.c.election == election))
    }
    new = [
        {"election": election, **{col: r.get(col) for col in STATION_COLUMNS}}
        for r in rows
        if r["station"] not in existing
    ]
    if new:
        conn.execute(insert(stations), new)
    for r in rows:
        if r["station"] in existing:
            values = {k: v for k, v in r.items() if k != "station"}
            if values:
                conn.execute(
                    update(stations)
                    .where(stations.c.election == election, stations.c.station == r["station"])
                    .values(**values)
                )


def import_stations(
    engine: Engine,
    election: str,
    source: str | Path | list[dict[str, Any]],
    *,
    mapping: Mapping[str, str] | None = None,
    strict: bool = True,
) -> ImportSummary:
    """Import (add or update) stations of an election from a file or rows.

    ``strict`` (the default for library callers): all or nothing, the first problem raised.
    ``strict=False``: the usable rows and fields are imported in one transaction and the
    rest are listed in the summary's ``problems``; :class:`InputError` only when no row at
    all can be used. The election is created if unknown; stations not in the file are kept.
    """
    if isinstance(source, list):
        rows, file = source, None
    else:
        rows, file = read_station_file(source), str(source)
    checked = check_station_rows(rows, mapping=mapping, file=file)
    if strict and checked.problems:
        first = checked.problems[0]
        raise InputError(first.reason, file=file, row=first.line, column=first.column)
    if not checked.rows:
        if not rows:
            raise InputError("the station file has no rows", file=file)
        first = checked.problems[0]
        raise InputError(
            f"no row of the file is usable ({len(checked.problems)} problems; the first: "
            f"{first.text()})",
            file=file,
        )
    with write_transaction(engine) as conn:
        _ensure_election(conn, election)
        _upsert(conn, election, checked.rows)
    return ImportSummary(
        election,
        len(checked.rows),
        file or "rows",
        problems=checked.problems,
        skipped_rows=checked.skipped,
    )
