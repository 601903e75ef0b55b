"""The observation commands on SQLite and PostgreSQL, including the 288 stations abroad of 2024."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pollwatch.cli import main
from pollwatch.store import (
    import_stations,
    list_audit,
    list_stations,
    observer_for_token,
    official_row,
    open_store,
    redeem_invite,
    store_report,
)
from pollwatch.store.elections import election_key_dates

runner = CliRunner()


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_election_stations_invites_exports_and_verify(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["elections", "create", "e1", "--name", "Test"], capsys)[0] == 0
    code, _, err = run(["elections", "create", "e1"], capsys)
    assert code == 1 and err.startswith("Error:") and "exists" in err
    stations = tmp_path / "st.csv"
    stations.write_text("PS,city\nA,Vilnius\nB,Riga\n", encoding="utf-8")
    code, out, _ = run(
        ["stations", "import", str(stations), "--election", "e1", "--map", "station=PS"], capsys
    )
    assert code == 0 and "2 stations" in out
    code, out, _ = run(
        ["observers", "invite", "--election", "e1", "--count", "3", "--json"], capsys
    )
    assert code == 0
    invites = json.loads(out)
    assert len(invites) == 3 and all(i["url"].endswith(i["code"]) for i in invites)
    engine = open_store(cli_db)
    observer = observer_for_token(engine, redeem_invite(engine, invites[0]["code"]).token)
    ids = []
    for entered in (5, 7):
        report_id = str(uuid.uuid4())
        ids.append(report_id)
        body = {
            "id": report_id, "election": "e1", "station": "A", "kind": "count",
            "observed_at": "2024-03-17T10:00:00Z", "window_start": "2024-03-17T09:00:00Z",
            "window_end": "2024-03-17T10:00:00Z", "entered": entered,
        }  # fmt: skip
        store_report(engine, body, observer=observer, now=datetime(2024, 3, 17, 12, tzinfo=UTC))
    engine.dispose()
    for suffix in ("csv", "parquet"):
        out_file = tmp_path / f"r.{suffix}"
        assert (
            run(["export", "reports", "--election", "e1", "--out", str(out_file)], capsys)[0] == 0
        )
        frame = pd.read_csv(out_file) if suffix == "csv" else pd.read_parquet(out_file)
        assert sorted(frame["id"]) == sorted(ids)
    ledger = tmp_path / "ledger.jsonl"
    assert run(["export", "ledger", "--election", "e1", "--out", str(ledger)], capsys)[0] == 0
    code, out, _ = run(["ledger", "verify", str(ledger)], capsys)
    assert code == 0 and "OK: 2 entries" in out
    lines = ledger.read_text(encoding="utf-8").splitlines()
    ledger.write_text("\n".join([lines[0].replace('"entered":5', '"entered":50'), lines[1]]) + "\n")
    code, out, _ = run(["ledger", "verify", str(ledger)], capsys)
    assert code == 1 and "line 1" in out


def test_bad_station_file_names_row_and_column(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stations = tmp_path / "st.csv"
    stations.write_text("station,lon\n1,20\n2,200\n", encoding="utf-8")
    args = ["stations", "import", str(stations), "--election", "e2", "--strict"]
    code, _, err = run(args, capsys)
    assert code == 1 and "row 3" in err and "'lon'" in err and "Traceback" not in err
    assert run(["elections", "list"], capsys)[1] == ""  # nothing half-imported


def test_coordinator_password_from_stdin(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pollwatch.cli import app
    from pollwatch.store import login

    result = runner.invoke(
        app, ["coordinators", "add", "anna", "--role", "admin", "--password-stdin"],
        input="a long passphrase\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    engine = open_store(cli_db)
    assert login(engine, "anna", "a long passphrase")[0].role == "admin"
    engine.dispose()


@pytest.mark.realdata
def test_2024_stations_abroad(
    cli_db: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = data_dir / "ru" / "2024.csv.zip"
    code, out, err = run(
        ["results", "import", str(path), "--election", "ru-2024", "--abroad"], capsys
    )
    assert code == 0, err
    assert "288 stations" in out
    engine = open_store(cli_db)
    registry = list_stations(engine, "ru-2024")
    assert len(registry) == 288
    row = official_row(engine, "ru-2024", "8001")
    engine.dispose()
    assert row is not None and row["registered"] == 3189
    assert row["votes"]["Путин Владимир Владимирович"] == 3068
    code, _, err = run(["results", "import", str(path), "--election", "ru-all"], capsys)
    assert (code == 1 and "--abroad" not in err) or "appears more than once" in err


def test_pvt_sample_is_reproducible(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stations = tmp_path / "st.csv"
    rows = [f"{i},{'LT' if i < 30 else 'LV'}" for i in range(40)]
    stations.write_text("station,country\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert run(["stations", "import", str(stations), "--election", "p"], capsys)[0] == 0
    args = ["pvt", "sample", "--election", "p", "--size", "8", "--strata", "country", "--seed", "7"]
    code, first, err = run(args, capsys)
    assert code == 0, err
    assert run(args, capsys)[1] == first
    sample = pd.read_csv(io.StringIO(first))
    assert len(sample) == 8 and sample["country"].value_counts().to_dict() == {"LT": 6, "LV": 2}
    other = run([*args[:-1], "8"], capsys)[1]
    assert other != first


def test_embargo_redacted_exports_verify_and_reveal(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["elections", "create", "e1"], capsys)[0] == 0
    engine = open_store(cli_db)
    import_stations(engine, "e1", [{"station": "A"}])
    secret = "the consul's driver films observers"
    incident = {
        "id": str(uuid.uuid4()), "election": "e1", "station": "A", "kind": "incident",
        "observed_at": "2024-03-17T10:00:00Z", "category": "pressure", "text": secret,
    }  # fmt: skip
    store_report(engine, incident, observer=None, now=datetime(2024, 3, 17, 12, tzinfo=UTC))
    code, out, _ = run(
        ["elections", "embargo", "e1", "--until", "2024-03-17T21:00:00+03:00"], capsys
    )
    assert code == 0 and "2024-03-17T18:00:00Z" in out
    assert [a["actor"] for a in list_audit(engine) if a["action"] == "set_embargo"] == ["cli"]
    code, _, err = run(["elections", "embargo", "e1"], capsys)
    assert code == 1 and "--until" in err
    code, _, err = run(["elections", "embargo", "e1", "--until", "tonight"], capsys)
    assert code == 1 and "embargo_until" in err
    engine.dispose()
    full, public = tmp_path / "full.jsonl", tmp_path / "public.jsonl"
    assert run(["export", "ledger", "--election", "e1", "--out", str(full)], capsys)[0] == 0
    args = ["export", "ledger", "--election", "e1", "--out", str(public), "--redacted"]
    assert run(args, capsys)[0] == 0
    assert secret in full.read_text(encoding="utf-8")
    assert secret not in public.read_text(encoding="utf-8")
    code, out, _ = run(["ledger", "verify", str(public), "--json"], capsys)
    assert code == 0 and json.loads(out)["withheld"] == 1
    csv = tmp_path / "public.csv"
    args = ["export", "reports", "--election", "e1", "--out", str(csv), "--redacted"]
    assert run(args, capsys)[0] == 0 and secret not in csv.read_text(encoding="utf-8")
    salt = json.loads(full.read_text(encoding="utf-8"))["salts"]["text"]
    reveal = ["ledger", "reveal", str(public), "--seq", "1", "--salt", salt]
    code, out, _ = run([*reveal, "--value", secret], capsys)
    assert code == 0 and "matches" in out
    code, out, _ = run([*reveal, "--value", "nothing happened"], capsys)
    assert code == 1 and "NOT" in out
    code, _, err = run([*reveal[:-4], "--seq", "1", "--field", "category", "--value", "x",
                        "--salt", salt], capsys)  # fmt: skip
    assert code == 1 and "does not withhold" in err
    data = json.loads(public.read_text(encoding="utf-8"))
    data["recorded_at"] = "2024-03-17T12:00:01Z"
    public.write_text(json.dumps(data) + "\n", encoding="utf-8")
    code, out, _ = run(["ledger", "verify", str(public)], capsys)
    assert code == 1 and "line 1" in out and "recorded_at" in out


def test_election_schedule_is_replaced_and_hostile_input_refused(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["elections", "create", "e1"], capsys)[0] == 0
    code, out, _ = run(
        [
            "elections",
            "schedule",
            "e1",
            "--schedule",
            "2024-03-15 8:00-20:00;2024-03-16 08:00-20:00",
            "--timezone",
            "Europe/Belgrade",
        ],
        capsys,
    )
    assert code == 0
    assert "2024-03-15 08:00-20:00; 2024-03-16 08:00-20:00 (Europe/Belgrade)" in out
    engine = open_store(cli_db)
    try:
        audit = [a for a in list_audit(engine) if a["action"] == "election.schedule"]
    finally:
        engine.dispose()
    assert audit and audit[0]["detail"]["timezone"] == "Europe/Belgrade"
    hostile = [
        (["--schedule", "2024-03-15 08:00-20:00"], "together"),
        (["--timezone", "UTC"], "together"),
        ([], "either"),
        (["--clear", "--timezone", "UTC"], "either"),
        (["--schedule", "tomorrow 8-20", "--timezone", "UTC"], "voting day"),
        (["--schedule", "2024-02-30 08:00-20:00", "--timezone", "UTC"], "not a date"),
        (["--schedule", "2024-03-15 20:00-08:00", "--timezone", "UTC"], "before it opens"),
        (["--schedule", "2024-03-15 08:00-25:00", "--timezone", "UTC"], "time of day"),
        (
            ["--schedule", "2024-03-16 08:00-20:00; 2024-03-15 08:00-20:00", "--timezone", "UTC"],
            "in order",
        ),
        (["--schedule", "2024-03-15 08:00-20:00", "--timezone", "Mars/Olympus"], "time zone"),
        (["--schedule", "2024-03-15 08:00-20:00", "--timezone", "x\x00" * 40], "time zone"),
        (["--schedule", "; ;", "--timezone", "UTC"], "at least one voting day"),
        (["--schedule", "2024-03-15 08:00-20:00" * 100, "--timezone", "UTC"], "long"),
    ]
    for args, message in hostile:
        code, out, err = run(["elections", "schedule", "e1", *args], capsys)
        assert code == 1 and message in err and "Traceback" not in err, (args, err)
    code, _, err = run(["elections", "schedule", "nope", "--clear"], capsys)
    assert code == 1 and "nope" in err
    engine = open_store(cli_db)
    try:  # the refused attempts left the schedule as it was
        assert election_key_dates(engine, "e1")["schedule"].startswith("2024-03-15 08:00")
    finally:
        engine.dispose()
    code, out, _ = run(["elections", "schedule", "e1", "--clear"], capsys)
    assert code == 0 and "no default schedule" in out
