"""Observation commands: elections, stations, official results, invites, coordinators, exports.

Each command is a thin wrapper over one :mod:`pollwatch.store` function, on the database
named by ``POLLWATCH_DATABASE_URL`` (default: SQLite in ``./pollwatch-data/``), migrated
on open, so the server and every command share one database with no set-up.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from sqlalchemy import Engine

from pollwatch.config import load_settings
from pollwatch.errors import InputError

__all__ = ["register"]

elections_app = typer.Typer(help="Elections of the observation service.", no_args_is_help=True)
stations_app = typer.Typer(help="The station registry of an election.", no_args_is_help=True)
results_app = typer.Typer(help="Official results attached to an election.", no_args_is_help=True)
observers_app = typer.Typer(help="Observers: one-time invites, revocation.", no_args_is_help=True)
coordinators_app = typer.Typer(help="Coordinators and admins.", no_args_is_help=True)
export_app = typer.Typer(
    help="Open-data exports, straight from the database.", no_args_is_help=True
)
ledger_app = typer.Typer(help="The tamper-evident ledger.", no_args_is_help=True)
pvt_app = typer.Typer(help="Quick count (parallel vote tabulation).", no_args_is_help=True)


@contextlib.contextmanager
def _engine(election: str | None = None) -> Iterator[Engine]:
    """The migrated database of ``POLLWATCH_DATABASE_URL``, closed when the command ends.

    With ``election``, that election must exist (a malformed id is refused by the id rule,
    an unknown one is "no election"), as the web API answers for the same id.
    """
    from pollwatch.store import get_election, open_store

    engine = open_store(load_settings().resolved_database_url())
    try:
        if election is not None:
            get_election(engine, election)
        yield engine
    finally:
        engine.dispose()


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise InputError(f"--map takes COLUMN=HEADER; got {pair!r}", column="--map")
        mapping[ours.strip()] = theirs.strip()
    return mapping


@elections_app.command("create")
def elections_create(
    election: str = typer.Argument(..., help="Election id, e.g. ru-2024."),
    name: str = typer.Option(None, "--name", help="Human-readable name."),
    schedule: str = typer.Option(
        None,
        "--schedule",
        help="Default opening hours of stations without their own, e.g. "
        "'2024-03-17 08:00-20:00' (several days separated by ';').",
    ),
    timezone: str = typer.Option(
        None, "--timezone", help="IANA time zone of --schedule, e.g. Europe/Berlin."
    ),
) -> None:
    """Create an election (optionally with the stations' default schedule)."""
    from pollwatch.store import create_election

    with _engine() as engine:
        created = create_election(engine, election, name=name, schedule=schedule, timezone=timezone)
    typer.echo(f"created election {created['id']} ({created['name']})")


@elections_app.command("schedule")
def elections_schedule(
    election: str = typer.Argument(..., help="Election id."),
    schedule: str | None = typer.Option(
        None,
        "--schedule",
        help="Default opening hours of stations without their own, e.g. "
        "'2024-03-15 08:00-20:00; 2024-03-16 08:00-20:00'.",
    ),
    timezone: str | None = typer.Option(
        None, "--timezone", help="IANA time zone of --schedule, e.g. Europe/Belgrade."
    ),
    clear: bool = typer.Option(False, "--clear", help="Remove the default schedule."),
) -> None:
    """Replace the election's default schedule (time zone, opening and closing per day)."""
    from pollwatch.store.elections import set_schedule

    if clear == (schedule is not None or timezone is not None):
        raise InputError("give either --schedule with --timezone, or --clear", column="--schedule")
    with _engine(election) as engine:
        dates = set_schedule(engine, election, schedule, timezone, actor="cli")
    if dates["schedule"] is None:
        typer.echo(f"{election}: no default schedule")
    else:
        typer.echo(f"{election}: default schedule {dates['schedule']} ({dates['timezone']})")


@elections_app.command("list")
def elections_list() -> None:
    """List elections with their number of stations."""
    from pollwatch.store import list_elections

    with _engine() as engine:
        rows = list_elections(engine)
    for e in rows:
        typer.echo(f"{e['id']:20} {e['stations']:7} stations  {e['name']}")


@elections_app.command("embargo")
def elections_embargo(
    election: str = typer.Argument(..., help="Election id."),
    until: str | None = typer.Option(
        None,
        "--until",
        help="ISO-8601 time with a timezone when polls have closed everywhere, "
        "e.g. 2024-03-17T21:00:00Z.",
    ),
    clear: bool = typer.Option(False, "--clear", help="Remove the embargo end (never public)."),
) -> None:
    """Set when the full ledger and exports become public (redacted); audited, actor `cli`."""
    from pollwatch.store import set_embargo

    if (until is None) == (not clear):
        raise InputError("give either --until TIME or --clear", column="--until")
    with _engine() as engine:
        answer = set_embargo(engine, election, None if clear else until, by="cli")
    when = answer["embargo_until"] or "never (coordinators only)"
    typer.echo(f"{election}: full ledger and exports public from {when}")


STATIONS_IMPORT_PARTIAL = 3
"""Exit status of ``stations import`` when it imported the usable rows and left some out."""

PROBLEMS_SHOWN = 50
"""Problems of an import printed on stderr (``--problems FILE`` writes all of them)."""


@stations_app.command("import")
def stations_import(
    file: Path = typer.Argument(..., help="CSV (plain, .gz, .zip), Parquet, Excel or JSON."),
    election: str = typer.Option(..., "--election", help="Election id (created if unknown)."),
    map_: list[str] = typer.Option(
        [], "--map", help="COLUMN=HEADER for a file with other headers, e.g. station='PS code'."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="All or nothing: refuse the whole file at its first problem."
    ),
    problems: Path | None = typer.Option(
        None, "--problems", help="Write every problem to this CSV file (line,column,reason,action)."
    ),
) -> None:
    """Import stations (station,name,country,city,address,lat,lon,registered,ballots_received,
    hours,region,timezone,schedule,home_requests,early_voters; only station is required).

    Rows whose station id is empty, malformed or repeated are left out; other values that
    cannot be used are left out of their row, which is imported without them. Each is
    listed on stderr as "line N, column 'C': reason (row left out | field left out)".

    Exit status: 0 every row and value imported; 1 nothing imported (unreadable file, no
    station column, no usable row, or --strict and a problem); 3 imported, with the rows or
    values listed left out.
    """
    import csv

    from pollwatch.store import import_stations

    with _engine() as engine:
        summary = import_stations(engine, election, file, mapping=_mapping(map_), strict=strict)
    typer.echo(f"imported {summary.stations} stations into {summary.election}")
    if not summary.problems:
        return
    for problem in summary.problems[:PROBLEMS_SHOWN]:
        typer.echo(problem.text(), err=True)
    more = len(summary.problems) - PROBLEMS_SHOWN
    if more > 0:
        typer.echo(f"... and {more} more problems (--problems FILE lists all)", err=True)
    if problems is not None:
        with problems.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["line", "column", "reason", "action"])
            writer.writeheader()
            writer.writerows(p.to_dict() for p in summary.problems)
    typer.echo(
        f"left out {summary.skipped_rows} rows and "
        f"{len(summary.problems) - summary.skipped_rows} values (exit status "
        f"{STATIONS_IMPORT_PARTIAL})",
        err=True,
    )
    raise typer.Exit(STATIONS_IMPORT_PARTIAL)


@results_app.command("import")
def results_import(
    file: Path = typer.Argument(..., help="Official results file (e.g. a CEC file)."),
    election: str = typer.Option(..., "--election", help="Election id (created if unknown)."),
    format: str = typer.Option("auto", "--format", help="auto, ru-cik, uganda or mapped."),
    mapping: Path | None = typer.Option(None, "--mapping", help="TOML column mapping."),
    abroad: bool = typer.Option(False, "--abroad", help="Only the stations abroad."),
) -> None:
    """Attach official results to an election (adds missing stations to its registry)."""
    from pollwatch.results import load_results
    from pollwatch.store import attach_results

    results = load_results(file, format=format, mapping=mapping)
    with _engine() as engine:
        summary = attach_results(engine, election, results, abroad_only=abroad)
    typer.echo(f"attached official results of {summary.stations} stations to {election}")


@observers_app.command("invite")
def observers_invite(
    election: str = typer.Option(..., "--election", help="Election id."),
    count: int = typer.Option(1, "--count", help="How many one-time invites."),
    stations: list[str] = typer.Option([], "--stations", help="Bind to station(s); repeatable."),
    base_url: str = typer.Option(
        "http://127.0.0.1:8000", "--base-url", help="Public address of the service, for urls."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {code, url}."),
) -> None:
    """Create one-time invites; each code is shown only now (stored hashed)."""
    from pollwatch.store import create_invites

    bound = [s for item in stations for s in item.split(",") if s.strip()]
    with _engine(election) as engine:
        invites = create_invites(engine, election, count, stations_=bound)
    data = [i.to_dict(base_url) for i in invites]
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for item in data:
        typer.echo(item["url"])


@observers_app.command("revoke")
def observers_revoke(
    code_name: str | None = typer.Argument(None, help="The code name of one observer."),
    election: str | None = typer.Option(
        None, "--election", help="Election id (needed with --station and --all)."
    ),
    station: str | None = typer.Option(
        None, "--station", help="Every observer bound to this station or who reported on it."
    ),
    everyone: bool = typer.Option(False, "--all", help="Every observer of the election."),
) -> None:
    """Revoke observers' tokens at once (audited); the server refuses them within seconds."""
    from pollwatch.store import revoke_observers

    with _engine() as engine:
        names = revoke_observers(
            engine, election=election, code_name=code_name, station=station, everyone=everyone
        )
    typer.echo(f"revoked {len(names)} observer(s){': ' if names else ''}{', '.join(names)}")


@coordinators_app.command("add")
def coordinators_add(
    name: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option("coordinator", "--role", help="admin, coordinator or viewer."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Add a coordinator; the password is asked for (or read from stdin), hashed with argon2."""
    from pollwatch.store import add_coordinator

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _engine() as engine:
        who = add_coordinator(engine, name, password, role=role)
    typer.echo(f"added {who.role} {who.name}")


@coordinators_app.command("scope")
def coordinators_scope(
    name: str = typer.Argument(..., help="Login name of a coordinator or viewer."),
    election: str = typer.Option(..., "--election", help="Election id."),
    country: str | None = typer.Option(None, "--country", help="Only this country's stations."),
    region: str | None = typer.Option(None, "--region", help="Only this region's stations."),
    remove: bool = typer.Option(False, "--remove", help="Take this scope away instead."),
) -> None:
    """Let a coordinator or viewer work in an election (or one country / region of it)."""
    from pollwatch.store import add_scope, remove_scope

    with _engine() as engine:
        if remove:
            remove_scope(engine, name, election, country=country, region=region, actor="cli")
        else:
            add_scope(engine, name, election, country=country, region=region, actor="cli")
    scope = "/".join(v for v in (election, country, region) if v)
    typer.echo(f"{'removed' if remove else 'added'} scope {scope} of {name}")


@coordinators_app.command("list")
def coordinators_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Coordinators with their roles, scopes and live sessions."""
    from pollwatch.store import list_coordinators

    with _engine() as engine:
        people = list_coordinators(engine)
    if as_json:
        typer.echo(json.dumps(people, ensure_ascii=False, indent=2))
        return
    for c in people:
        scopes = ", ".join(
            "/".join(v for v in (s["election"], s["country"], s["region"]) if v)
            for s in c["scopes"]
        )  # election/country/region, as `coordinators scope` prints it
        shown = "every election" if c["role"] == "admin" else scopes or "no election"
        typer.echo(f"{c['name']:20} {c['role']:12} {c['sessions']:3} sessions  {shown}")


@export_app.command("reports")
def export_reports_cmd(
    election: str = typer.Option(..., "--election", help="Election id."),
    out: Path = typer.Option(..., "--out", help="FILE.csv or FILE.parquet."),
    redacted: bool = typer.Option(
        False,
        "--redacted",
        help="The public version: texts of incidents not marked public left out.",
    ),
) -> None:
    """Write every accepted report, one row each with its id (no token, no observer names)."""
    from pollwatch.store import export_reports, reports_to_bytes

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("csv", "parquet"):
        raise InputError("--out must end in .csv or .parquet", column="--out")
    with _engine(election) as engine:
        frame = export_reports(engine, election, redacted=redacted)
    out.write_bytes(reports_to_bytes(frame, fmt))
    typer.echo(f"wrote {len(frame)} reports to {out}")


@export_app.command("ledger")
def export_ledger_cmd(
    election: str = typer.Option(..., "--election", help="Election id."),
    out: Path = typer.Option(..., "--out", help="FILE.jsonl."),
    redacted: bool = typer.Option(
        False,
        "--redacted",
        help="The public version: texts of incidents not marked public replaced by their "
        "commitments (it still verifies).",
    ),
) -> None:
    """Write the election's ledger as JSON lines (check it with `pollwatch ledger verify`).

    Without --redacted the file holds every salt and text: it is for coordinators.
    """
    from pollwatch.store import export_ledger_lines

    n = 0
    with _engine(election) as engine, out.open("w", encoding="utf-8", newline="\n") as fh:
        for line in export_ledger_lines(engine, election, redacted=redacted):
            fh.write(line + "\n")
            n += 1
    typer.echo(f"wrote {n} ledger entries to {out}")


@ledger_app.command("verify")
def ledger_verify(
    file: Path = typer.Argument(..., help="An exported ledger (JSON lines)."),
    expected_head: str | None = typer.Option(
        None, "--expected-head", help="A head hash published earlier that must be in the chain."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check an exported ledger offline; names the first broken entry. Exit 1 if broken."""
    from pollwatch.errors import NotFoundError
    from pollwatch.observe.ledger import verify_ledger

    if not file.is_file():
        raise NotFoundError(f"{file}: no such file")
    with file.open(encoding="utf-8", errors="replace") as fh:
        result = verify_ledger(fh, expected_head=expected_head)
    typer.echo(json.dumps(result.to_dict()) if as_json else result.describe())
    if not result.ok:
        raise typer.Exit(1)


@ledger_app.command("reveal")
def ledger_reveal(
    file: Path = typer.Argument(
        ..., help="An exported ledger (JSON lines) that withholds the field."
    ),
    seq: int = typer.Option(..., "--seq", help="The entry's seq."),
    field: str = typer.Option("text", "--field", help="The withheld field."),
    value: str = typer.Option(..., "--value", help="The revealed value (a text)."),
    salt: str = typer.Option(..., "--salt", help="The revealed salt (32 hex digits)."),
) -> None:
    """Check a revealed field against the commitment in a verified ledger. Exit 1 if not."""
    from pollwatch.errors import NotFoundError
    from pollwatch.observe.ledger import LedgerEntry, check_reveal, verify_ledger

    if not file.is_file():
        raise NotFoundError(f"{file}: no such file")
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    result = verify_ledger(lines)
    if not result.ok:
        typer.echo(result.describe())
        raise typer.Exit(1)
    if not 1 <= seq <= len(lines):
        raise NotFoundError(f"no entry with seq {seq} (the ledger has {len(lines)})")
    entry = LedgerEntry.from_json_line(lines[seq - 1])
    if field not in entry.redacted:
        raise InputError(f"entry {seq} does not withhold {field!r}", column="--field")
    if not check_reveal(entry, field, value, salt):
        typer.echo(f"NOT the committed value: seq {seq} field {field!r} committed to another value")
        raise typer.Exit(1)
    typer.echo(f"revealed value matches the commitment of seq {seq} field {field!r}")


@pvt_app.command("sample")
def pvt_sample(
    election: str = typer.Option(..., "--election", help="Election id."),
    size: int = typer.Option(..., "--size", help="Number of stations to sample."),
    strata: str = typer.Option(
        ..., "--strata", help="Registry column for the strata: country, city, region, ..."
    ),
    seed: int = typer.Option(..., "--seed", help="Random seed; the same seed, the same sample."),
    out: Path | None = typer.Option(None, "--out", help="Write the sample as CSV here."),
) -> None:
    """Draw a reproducible stratified random sample of stations (proportional allocation).

    The sample is also stored as the election's quick-count sample (replacing an earlier
    one; audited), which the service's quick count and dashboard use.
    """
    from pollwatch.observe.pvt import draw_stratified_sample
    from pollwatch.store import station_table, store_sample

    with _engine(election) as engine:
        frame = station_table(engine, election)
        sample = draw_stratified_sample(frame, size=size, strata=strata, seed=seed)
        store_sample(engine, election, sample, strata_column=strata, seed=seed, actor="cli")
    stored = f"stored as the quick-count sample of {election}"
    if out is not None:
        sample.to_csv(out, index=False)
        typer.echo(f"wrote a sample of {len(sample)} stations to {out}; {stored}")
        return
    typer.echo(sample.to_csv(index=False), nl=False)
    typer.echo(f"{stored} ({len(sample)} stations)", err=True)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


@pvt_app.command("estimate")
def pvt_estimate_cmd(
    election: str = typer.Option(..., "--election", help="Election id."),
    denominator: str = typer.Option(
        "valid", "--denominator", help="Shares of 'valid' ballots or of all 'cast' ballots."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Quick count from the protocols of the stored sample: shares, turnout, 95%/99% intervals.

    Prints the protocols in per stratum, bounds for the missing ones and, when official
    results are attached, one joint test of the official figures against the estimate.
    Below the minimum response it says "not enough protocols yet". Conflicting protocol
    figures are left out until a coordinator resolves them.
    """
    from pollwatch.store import pvt_estimate

    if denominator not in ("valid", "cast"):
        raise InputError("--denominator must be 'valid' or 'cast'", column="--denominator")
    with _engine(election) as engine:
        result = pvt_estimate(
            engine, election, denominator="cast" if denominator == "cast" else "valid"
        )
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    typer.echo(
        f"Quick count of {election}: {result['reported']} of {result['sample_size']} sampled "
        f"stations reported (strata: {result['strata_column']}, seed {result['seed']})"
    )
    for stratum in result.get("strata", []):
        typer.echo(
            f"  {stratum['stratum'][:24]:24} {stratum['reported']:>5} of {stratum['sampled']:>5} "
            f"sampled protocols in ({stratum['population']} stations)"
        )
    if not result["ready"]:
        typer.echo(result["reason"])
        return
    typer.echo(f"shares of {result['denominator']} ballots; if every missing protocol gave")
    typer.echo(
        f"{'':28} {'estimate':>9}  {'95% interval':>17}  {'99% interval':>17}  "
        f"{'nothing–everything':>18}  {'official':>9}"
    )
    rows = [*result["shares"], *([result["turnout"]] if result["turnout"] else [])]
    for row in rows:
        typer.echo(
            f"{row['name'][:28]:28} {_percent(row['estimate']):>9}  "
            f"{_percent(row['low95']) + '–' + _percent(row['high95']):>17}  "
            f"{_percent(row['low99']) + '–' + _percent(row['high99']):>17}  "
            f"{_percent(row['bound_low']) + '–' + _percent(row['bound_high']):>18}  "
            f"{_percent(row['official']):>9}"
        )
    if result["joint"] is not None:
        typer.echo(result["joint"]["wording"])
    if result["nonresponse"] is not None:
        typer.echo(result["nonresponse"]["wording"])
    if not result["complete"]:
        typer.echo(f"assumption: {result['assumption']}")
    for note in result["notes"]:
        typer.echo(f"note: {note}")


def register(app: typer.Typer) -> None:
    """Add the observation commands to the main app."""
    app.add_typer(elections_app, name="elections")
    app.add_typer(stations_app, name="stations")
    app.add_typer(results_app, name="results")
    app.add_typer(observers_app, name="observers")
    app.add_typer(coordinators_app, name="coordinators")
    app.add_typer(export_app, name="export")
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(pvt_app, name="pvt")
