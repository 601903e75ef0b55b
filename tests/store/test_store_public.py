"""Publication in the store, on SQLite and PostgreSQL: v2 entries with stored salts, redacted
exports that verify, old version-1 ledgers after the migration, the public station status
and press figures as of the release time, and the coordinators' audited settings."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pandas as pd
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, select, text

from pollwatch.errors import InputError, NotFoundError
from pollwatch.observe.ledger import GENESIS, LedgerEntry, check_reveal, entry_hash, verify_ledger
from pollwatch.store import (
    create_election,
    create_invites,
    election_embargo,
    export_ledger_lines,
    export_reports,
    import_stations,
    ledger_access,
    ledger_head,
    list_audit,
    make_engine,
    observer_for_token,
    press_summary,
    public_ledger_head,
    public_station_status,
    redeem_invite,
    reports_to_bytes,
    set_embargo,
    set_incident_public,
    store_report,
    upgrade_database,
)
from pollwatch.store.tables import ledger

T0 = datetime(2024, 3, 17, 9, 0, tzinfo=UTC)
SECRET = "the consul's driver films observers"
PUBLISHED = "polling station closed early"


def _body(kind: str, station: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": "e1",
        "station": station,
        "kind": kind,
        "observed_at": at.isoformat(),
        **fields,
    }


def _count(station: str, at: datetime, entered: int, **fields: Any) -> dict[str, Any]:
    return _body(
        "count",
        station,
        at,
        window_start=(at - timedelta(minutes=30)).isoformat(),
        window_end=at.isoformat(),
        entered=entered,
        **fields,
    )


@pytest.fixture()
def election(engine: Engine) -> Engine:
    create_election(engine, "e1", name="Test election")
    import_stations(
        engine, "e1", [{"station": s, "ballots_received": 1000} for s in ("8001", "8002", "8003")]
    )
    return engine


def _observer(engine: Engine) -> Any:
    invite = create_invites(engine, "e1", 1)[0]
    return observer_for_token(engine, redeem_invite(engine, invite.code).token)


def _seed(engine: Engine) -> dict[str, str]:
    """A count, a private incident and a published one, stored at T0 + 5, 6, 7 minutes."""
    obs = _observer(engine)
    count = _count("8001", T0, 60, queue=23, ballots_issued=60)
    secret = _body("incident", "8002", T0, category="pressure", text=SECRET)
    shown = _body("incident", "8003", T0, category="other", text=PUBLISHED)
    for minutes, body in ((5, count), (6, secret), (7, shown)):
        store_report(engine, body, observer=obs, now=T0 + timedelta(minutes=minutes))
    set_incident_public(engine, "e1", shown["id"], True, by="coord")
    return {"count": count["id"], "secret": secret["id"], "shown": shown["id"]}


def test_new_entries_are_v2_with_their_salts_stored(election: Engine) -> None:
    ids = _seed(election)
    with election.connect() as conn:
        rows = conn.execute(select(ledger.c.version, ledger.c.salts).order_by(ledger.c.seq)).all()
    assert [r[0] for r in rows] == [2, 2, 2]
    assert all(len(salt) == 32 for r in rows for salt in r[1].values())
    full = list(export_ledger_lines(election, "e1"))
    result = verify_ledger(full, expected_head=ledger_head(election, "e1")["head_hash"])
    assert result.ok and result.withheld == 0
    assert SECRET in full[1] and json.loads(full[1])["report_id"] == ids["secret"]


def test_redacted_export_withholds_private_texts_and_still_verifies(election: Engine) -> None:
    ids = _seed(election)
    head = ledger_head(election, "e1")["head_hash"]
    full = list(export_ledger_lines(election, "e1"))
    public = list(export_ledger_lines(election, "e1", redacted=True))
    assert SECRET not in "".join(public) and PUBLISHED in public[2]
    result = verify_ledger(public, expected_head=head)
    assert result.ok and result.withheld == 1 and result.head_hash == head
    # The text revealed later (with its salt, which only the full ledger holds) is the one
    # the chain committed to; another text is not.
    salt = json.loads(full[1])["salts"]["text"]
    entry = LedgerEntry.from_json_line(public[1])
    assert entry.report_id == ids["secret"]
    assert check_reveal(entry, "text", SECRET, salt)
    assert not check_reveal(entry, "text", "nothing happened", salt)
    frame = pd.read_csv(
        io.BytesIO(reports_to_bytes(export_reports(election, "e1", redacted=True), "csv"))
    )
    by_id = frame.set_index("id")
    assert (
        pd.isna(by_id.loc[ids["secret"], "text"]) and by_id.loc[ids["secret"], "withheld"] == "text"
    )
    assert by_id.loc[ids["shown"], "text"] == PUBLISHED and pd.isna(
        by_id.loc[ids["shown"], "withheld"]
    )
    assert SECRET not in frame.to_csv()
    assert SECRET in export_reports(election, "e1").to_csv(), "coordinators get every text"


def test_old_v1_ledger_verifies_after_the_migration_and_continues_in_v2(db_url: str) -> None:
    engine = make_engine(db_url)
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("pollwatch.store") / "migrations")
    )
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
    report = {
        "category": "pressure",
        "election": "e1",
        "id": str(uuid.uuid4()),
        "kind": "incident",
        "observed_at": "2024-03-17T08:00:00Z",
        "station": "8001",
        "text": "written before the upgrade",
    }
    canonical = json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    v1_hash = entry_hash(GENESIS, 1, canonical)
    with engine.begin() as conn:  # the rows a version-1 service wrote
        conn.execute(
            text("INSERT INTO elections (id, name, created_at) VALUES ('e1', 'old', :t)"), {"t": T0}
        )
        conn.execute(text("INSERT INTO stations (election, station) VALUES ('e1', '8001')"))
        conn.execute(
            text(
                "INSERT INTO reports (id, election, station, kind, observed_at, received_at,"
                " canonical, body) VALUES (:id, 'e1', '8001', 'incident', :t, :t, :c, :b)"
            ),
            {"id": report["id"], "t": T0, "c": canonical, "b": canonical},
        )
        conn.execute(
            text(
                "INSERT INTO ledger (election, seq, report_id, prev_hash, hash, recorded_at)"
                " VALUES ('e1', 1, :id, :prev, :hash, '2024-03-17T09:00:00Z')"
            ),
            {"id": report["id"], "prev": GENESIS, "hash": v1_hash},
        )
    upgrade_database(engine)
    store_report(engine, _count("8001", T0, 5), observer=None, now=T0 + timedelta(minutes=1))
    for redacted in (False, True):
        lines = list(export_ledger_lines(engine, "e1", redacted=redacted))
        assert [json.loads(line).get("v", 1) for line in lines] == [1, 2]
        result = verify_ledger(lines, expected_head=v1_hash)
        assert result.ok and result.entries == 2, result.describe()
        assert "written before the upgrade" in lines[0], "a v1 entry is published whole"
    engine.dispose()


def test_station_status_shows_nothing_newer_than_the_delay(election: Engine) -> None:
    obs = _observer(election)
    received = T0 + timedelta(minutes=3)
    store_report(election, _count("8001", T0, 60, queue=23), observer=obs, now=received)
    before = public_station_status(election, "e1", "8001", T0 + timedelta(minutes=1)).to_dict()
    # A watcher polling every 30 s from the moment the report arrives (09:03) until the
    # first release after it is a delay old (09:20) sees only the release time move.
    answers = [
        public_station_status(election, "e1", "8001", received + timedelta(seconds=s)).to_dict()
        for s in range(0, 17 * 60, 30)
    ]
    assert {a["as_of"] for a in answers} == {"2024-03-17T08:50:00Z", "2024-03-17T09:00:00Z"}
    assert all({**a, "as_of": None} == {**before, "as_of": None} for a in answers)
    assert before["queue"] is None and before["updated_at"] is None
    later = public_station_status(election, "e1", "8001", T0 + timedelta(minutes=20))
    assert later.queue == 25 and later.wait_minutes == 10
    assert later.updated_at == T0 and later.as_of == T0 + timedelta(minutes=10)


def test_station_status_and_press_name_no_report_observer_or_kind(election: Engine) -> None:
    ids = _seed(election)
    obs = _observer(election)
    now = T0 + timedelta(minutes=30)
    statuses = [
        public_station_status(election, "e1", s, now).to_dict() for s in ("8001", "8002", "8003")
    ]
    press = press_summary(election, "e1", now)
    everything = json.dumps([statuses, press], ensure_ascii=False)
    for secret in (*ids.values(), obs.code_name, SECRET, '"kind"', "observer"):
        assert secret not in everything, secret
    assert statuses[0]["queue"] == 25 and statuses[1]["incidents"] == []
    assert statuses[2]["incidents"][0]["text"] == PUBLISHED
    assert press["delayed"] and "turnout" not in press and "pvt" not in press
    assert press["reports"] == {"count": 3, "incidents": 2, "protocols": 0}
    assert press["incidents_by_category"] == {"other": 1, "pressure": 1}
    assert press["stations"] == {"total": 3, "observed": 3, "opened": 0, "closed": 0}
    assert press["generated_at"] == "2024-03-17T09:20:00Z"
    assert press["ledger"]["hash"] == ledger_head(election, "e1")["head_hash"]


def test_press_and_public_head_are_as_of_the_release_time(election: Engine) -> None:
    _seed(election)  # received at 09:05–09:07
    early = T0 + timedelta(minutes=16)  # release time 09:00
    press = press_summary(election, "e1", early)
    assert press["reports"]["count"] == 0 and press["ledger"] is None
    head = public_ledger_head(election, "e1", early)
    assert head == {
        "entries": 0,
        "head_hash": GENESIS,
        "recorded_at": None,
        "as_of": "2024-03-17T09:00:00Z",
    }
    late = public_ledger_head(election, "e1", T0 + timedelta(minutes=20))
    assert late["entries"] == 3 and late["head_hash"] == ledger_head(election, "e1")["head_hash"]
    set_embargo(election, "e1", T0 + timedelta(minutes=12), by="coord")
    after = press_summary(election, "e1", T0 + timedelta(minutes=13))
    assert not after["delayed"] and "turnout" in after and after["reports"]["count"] == 3
    assert public_ledger_head(election, "e1", T0 + timedelta(minutes=13))["as_of"] is None


def test_embargo_decides_who_reads_the_full_ledger(election: Engine) -> None:
    assert election_embargo(election, "e1") is None
    assert ledger_access(election, "e1", T0 + timedelta(days=30), coordinator=False) == "closed"
    answer = set_embargo(election, "e1", "2024-03-17T21:00:00+03:00", by="coord")
    assert answer == {"election": "e1", "embargo_until": "2024-03-17T18:00:00Z"}
    assert (
        ledger_access(election, "e1", datetime(2024, 3, 17, 17, 59, tzinfo=UTC), coordinator=False)
        == "closed"
    )
    assert (
        ledger_access(election, "e1", datetime(2024, 3, 17, 18, 0, tzinfo=UTC), coordinator=False)
        == "redacted"
    )
    assert ledger_access(election, "e1", T0, coordinator=True) == "full"
    set_embargo(election, "e1", None, by="coord")
    assert election_embargo(election, "e1") is None
    audit = [a for a in list_audit(election) if a["action"] == "set_embargo"]
    assert [a["detail"]["embargo_until"] for a in audit] == [None, "2024-03-17T18:00:00Z"]
    for bad in ("tomorrow", "2024-03-17T21:00:00", 5, "9" * 100):
        with pytest.raises(InputError) as caught:
            set_embargo(election, "e1", bad, by="coord")
        assert caught.value.column == "embargo_until"
    with pytest.raises(NotFoundError):
        set_embargo(election, "nope", None, by="coord")


def test_marking_an_incident_public_is_checked_and_audited(election: Engine) -> None:
    ids = _seed(election)
    audit = [a for a in list_audit(election) if a["action"] == "set_incident_public"]
    assert audit[0]["actor"] == "coord" and audit[0]["target"] == ids["shown"]
    assert audit[0]["detail"] == {"election": "e1", "public": True, "previous": False}
    with pytest.raises(NotFoundError):
        set_incident_public(election, "e1", ids["count"], True, by="coord")  # not an incident
    with pytest.raises(NotFoundError):
        set_incident_public(election, "other", ids["secret"], True, by="coord")
    with pytest.raises(InputError) as caught:
        set_incident_public(election, "e1", ids["secret"], "yes", by="coord")
    assert caught.value.column == "public"
    set_incident_public(election, "e1", ids["shown"], False, by="coord")
    status = public_station_status(election, "e1", "8003", T0 + timedelta(hours=1))
    assert status.incidents == ()


def test_unknown_station_or_election_is_not_found(election: Engine) -> None:
    for election_id, station in (("e1", "9999"), ("nope", "8001")):
        with pytest.raises(NotFoundError):
            public_station_status(election, election_id, station, T0)
    with pytest.raises(InputError) as malformed:
        public_station_status(election, "e1", "../x", T0)
    assert malformed.value.column == "station"
