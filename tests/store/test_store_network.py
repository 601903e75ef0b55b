"""Incidents followed up, rosters, the hotline, revoked senders and alerts, stored for real
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from pollwatch.errors import AuthError, Forbidden, InputError, NotFoundError
from pollwatch.observe.ledger import verify_ledger
from pollwatch.store import (
    add_coordinator,
    add_scope,
    create_election,
    create_invites,
    export_ledger_lines,
    get_report,
    import_stations,
    list_audit,
    observer_for_token,
    redeem_invite,
    revoke_observers,
    store_report,
)
from pollwatch.store.alerts import election_alerts, election_coverage
from pollwatch.store.elections import get_election, set_simulated
from pollwatch.store.incidents import (
    add_incident_note,
    assignable_coordinators,
    list_incidents,
    update_incident,
)
from pollwatch.store.rosters import assign_observer, enter_hotline_report, list_roster
from pollwatch.store.views import load_stored_report

E = "net-2026"
NOW = datetime(2026, 3, 15, 6, 0, tzinfo=UTC)  # 11:30 in Delhi, 07:00 in Belgrade
HOSTILE = '<script>alert(1)</script> & "quotes" \u202e reversed'


def _setup(engine: Engine) -> dict[str, Any]:
    create_election(engine, E, name="Network test")
    import_stations(
        engine,
        E,
        [
            {"station": "in-1", "country": "IN", "region": "Delhi", "timezone": "Asia/Kolkata",
             "schedule": "2026-03-15 08:00-18:00"},
            {"station": "rs-1", "country": "RS", "region": "Beograd",
             "timezone": "Europe/Belgrade", "schedule": "2026-03-15 07:00-20:00"},
            {"station": "rs-2", "country": "RS", "region": "Beograd",
             "timezone": "Europe/Belgrade", "schedule": "2026-03-15 07:00-20:00"},
        ],
    )  # fmt: skip
    people = {}
    for station in ("in-1", "rs-1", "rs-2"):
        code = create_invites(engine, E, 1, stations_=[station])[0].code
        redeemed = redeem_invite(engine, code)
        people[station] = (redeemed.token, observer_for_token(engine, redeemed.token))
    add_coordinator(engine, "chief", "a long enough password", role="admin")
    add_coordinator(engine, "delhi", "a long enough password", role="coordinator")
    add_scope(engine, "delhi", E, country="IN", actor="test")
    add_coordinator(engine, "viewer", "a long enough password", role="viewer")
    add_scope(engine, "viewer", E, actor="test")
    return people


def _incident(engine: Engine, observer: Any, station: str, category: str, at: datetime) -> str:
    rid = str(uuid.uuid4())
    store_report(
        engine,
        {"id": rid, "election": E, "station": station, "kind": "incident",
         "category": category, "text": HOSTILE, "observed_at": at.isoformat()},
        observer=observer, now=NOW,
    )  # fmt: skip
    return rid


def test_incidents_are_listed_by_severity_then_age_and_followed_up(engine: Engine) -> None:
    people = _setup(engine)
    old_other = _incident(engine, people["rs-1"][1], "rs-1", "other", NOW - timedelta(hours=3))
    new_violence = _incident(
        engine, people["rs-2"][1], "rs-2", "violence", NOW - timedelta(hours=1)
    )
    old_violence = _incident(
        engine, people["in-1"][1], "in-1", "violence", NOW - timedelta(hours=2)
    )
    listed = list_incidents(engine, E, now=NOW)
    assert [i["id"] for i in listed["incidents"]] == [old_violence, new_violence, old_other]
    assert listed["by_severity"] == {"high": 2, "low": 1}
    assert listed["incidents"][0]["age_minutes"] == 120
    assert listed["incidents"][0]["status"] == "new"
    paged = list_incidents(engine, E, limit=1, offset=1, now=NOW)  # every one is reachable
    assert [i["id"] for i in paged["incidents"]] == [new_violence] and paged["total"] == 3
    # a narrowed reader counts and sees its stations only
    mine = list_incidents(engine, E, allowed=frozenset({"in-1"}), now=NOW)
    assert mine["total"] == 1 and mine["incidents"][0]["id"] == old_violence

    # new → acknowledged (assigned) → in progress → resolved, each audited
    assert assignable_coordinators(engine, E, "in-1") == ["chief", "delhi"]
    assert assignable_coordinators(engine, E, "rs-1") == ["chief"]
    with pytest.raises(InputError) as refused:
        update_incident(engine, E, new_violence, by="chief", assignee="delhi")
    assert refused.value.column == "assignee"
    with pytest.raises(InputError):
        update_incident(engine, E, old_violence, by="chief", assignee="viewer")
    update_incident(engine, E, old_violence, by="chief", status="acknowledged", assignee="delhi")
    update_incident(engine, E, old_violence, by="delhi", status="in_progress", severity="medium")
    note = add_incident_note(engine, E, old_violence, HOSTILE, by="delhi")
    assert note["text"] == HOSTILE.strip()
    with pytest.raises(InputError) as bad_move:
        update_incident(engine, E, old_violence, by="delhi", status="new")
    assert bad_move.value.column == "status"
    done = update_incident(engine, E, old_violence, by="delhi", status="resolved", public=True)
    assert done["status"] == "resolved" and done["public"] is True
    assert done["note_list"] == [{"author": "delhi", "at": note["at"], "text": HOSTILE.strip()}]
    actions = [(h["actor"], h["action"], h["detail"].get("to")) for h in done["history"]]
    assert actions == [
        ("chief", "incidents.status", "acknowledged"),
        ("chief", "incidents.assign", "delhi"),
        ("delhi", "incidents.status", "in_progress"),
        ("delhi", "incidents.severity", "medium"),
        ("delhi", "incidents.note", None),
        ("delhi", "incidents.status", "resolved"),
        ("delhi", "set_incident_public", None),
    ]
    assert [i["id"] for i in list_incidents(engine, E, now=NOW)["incidents"]] == [
        new_violence,
        old_other,
    ]
    assert [i["id"] for i in list_incidents(engine, E, status="closed")["incidents"]] == [
        old_violence
    ]
    # the observer's report is untouched
    assert get_report(engine, old_violence)["text"] == HOSTILE
    with pytest.raises(NotFoundError):
        update_incident(engine, E, str(uuid.uuid4()), by="chief", status="resolved")
    with pytest.raises(InputError):
        add_incident_note(engine, E, old_other, "x" * 4001, by="chief")
    with pytest.raises(InputError):
        add_incident_note(engine, E, old_other, "nul\x00", by="chief")
    with pytest.raises(InputError):
        list_incidents(engine, E, status="nonsense")


def test_a_move_mid_day_keeps_the_history_and_the_right_to_report(engine: Engine) -> None:
    people = _setup(engine)
    token, observer = people["rs-1"]
    morning = NOW - timedelta(hours=2)
    assign_observer(engine, E, "rs-1", observer.code_name, by="chief", now=morning)
    moved = assign_observer(engine, E, "rs-2", observer.code_name, by="chief", now=NOW)
    assert moved["moved_from"] == ["rs-1"]
    rows = list_roster(engine, E, now=NOW)["assignments"]
    assert [(r["station"], r["current"]) for r in rows] == [("rs-2", True), ("rs-1", False)]
    assert rows[1]["ended_at"] is not None and rows[1]["ended_by"] == "chief"
    # the invite bound the observer to rs-1; the move lets them report at rs-2 as well
    assert observer_for_token(engine, token).stations == ("rs-1", "rs-2")
    assert [a["action"] for a in list_audit(engine)[:2]] == ["roster.assign", "roster.assign"]
    with pytest.raises(NotFoundError):
        assign_observer(engine, E, "rs-1", "nobody-at-all", by="chief")
    with pytest.raises(NotFoundError):
        assign_observer(engine, E, "zz-9", observer.code_name, by="chief")
    with pytest.raises(InputError) as shift:
        assign_observer(engine, E, "rs-1", observer.code_name, by="c", shift_start="09:00")
    assert shift.value.column == "shift_start"
    assert list_roster(engine, E, allowed=frozenset({"in-1"}))["assignments"] == []


def test_a_hotline_report_is_marked_in_the_ledger_and_its_author_audited(engine: Engine) -> None:
    people = _setup(engine)
    _, observer = people["in-1"]
    rid = str(uuid.uuid4())
    body = {"id": rid, "kind": "status", "status": "opened",
            "observed_at": (NOW - timedelta(minutes=5)).isoformat()}  # fmt: skip
    stored = enter_hotline_report(engine, E, "in-1", observer.code_name, body, by="delhi", now=NOW)
    assert stored.created and stored.report["via"] == "hotline"
    again = enter_hotline_report(engine, E, "in-1", observer.code_name, body, by="delhi", now=NOW)
    assert not again.created  # the same form sent twice is one report
    lines = list(export_ledger_lines(engine, E))
    entry = json.loads(lines[-1])
    assert entry["report"]["via"] == "hotline" and "delhi" not in lines[-1]
    assert observer.code_name not in lines[-1]
    assert verify_ledger(lines).ok
    tampered = lines[-1].replace(',"via":"hotline"', "")
    assert not verify_ledger([*lines[:-1], tampered]).ok
    (audit,) = [a for a in list_audit(engine) if a["action"] == "reports.hotline"]
    assert audit["actor"] == "delhi" and audit["detail"]["code_name"] == observer.code_name
    # stored hotline reports read back as reports (master records, station pages)
    assert load_stored_report(json.dumps(stored.report | {"kind": "status"})).kind == "status"
    assert get_report(engine, rid)["observer"] == observer.code_name
    with pytest.raises(Forbidden):  # the observer was bound to in-1 only
        enter_hotline_report(
            engine, E, "rs-1", observer.code_name, {**body, "id": str(uuid.uuid4())}, by="x"
        )
    with pytest.raises(InputError) as other:
        enter_hotline_report(
            engine, E, "in-1", observer.code_name, {**body, "station": "rs-1"}, by="x"
        )
    assert other.value.column == "station"
    with pytest.raises(InputError):
        enter_hotline_report(engine, E, "in-1", observer.code_name, {**body, "via": "app"}, by="x")
    revoke_observers(engine, election=E, code_name=observer.code_name, actor="chief")
    with pytest.raises(Forbidden):
        enter_hotline_report(
            engine, E, "in-1", observer.code_name, {**body, "id": str(uuid.uuid4())}, by="x"
        )


def test_alerts_in_local_time_and_a_revoked_observer_still_sending(engine: Engine) -> None:
    people = _setup(engine)
    set_simulated(engine, E, by="test")
    assert get_election(engine, E)["simulated"] is True
    # rs-1 opened at 07:05 Belgrade (06:05 UTC) and reported; in-1 never did
    store_report(
        engine,
        {"id": str(uuid.uuid4()), "election": E, "station": "rs-1", "kind": "status",
         "status": "opened", "observed_at": "2026-03-15T06:05:00Z"},
        observer=people["rs-1"][1], now=datetime(2026, 3, 15, 6, 6, tzinfo=UTC),
    )  # fmt: skip
    at_noon_delhi = datetime(2026, 3, 15, 6, 30, tzinfo=UTC)
    found = election_alerts(engine, E, now=at_noon_delhi)["alerts"]
    assert [(a["kind"], a["station"]) for a in found] == [
        ("no_opening", "in-1"),
        ("no_opening", "rs-2"),
    ]
    assert found[0]["local_since"] == "2026-03-15 08:00 +05:30"
    later = election_alerts(engine, E, now=datetime(2026, 3, 15, 7, 30, tzinfo=UTC))["alerts"]
    assert ("silence", "rs-1") in [(a["kind"], a["station"]) for a in later]
    # the narrowed reader sees Delhi only
    mine = election_alerts(engine, E, allowed=frozenset({"in-1"}), now=at_noon_delhi)
    assert [a["station"] for a in mine["alerts"]] == ["in-1"]

    token, observer = people["rs-2"]
    revoke_observers(engine, election=E, code_name=observer.code_name, actor="chief")
    for _ in range(3):
        with pytest.raises(AuthError):
            observer_for_token(engine, token)
    revoked = [a for a in election_alerts(engine, E)["alerts"] if a["kind"] == "revoked_sending"]
    assert len(revoked) == 1 and revoked[0]["station"] == "rs-2"
    assert revoked[0]["details"]["attempts"] == 1  # written at most once a minute

    coverage = election_coverage(engine, E, now=at_noon_delhi)
    delhi = next(s for s in coverage["stations"] if s["station"] == "in-1")
    assert delhi["timezone"] == "Asia/Kolkata" and delhi["local_now"].startswith("2026-03-15 12:00")
    assert [h["local"] for h in delhi["hours"]][:3] == ["08:00", "09:00", "10:00"]
    assert coverage["timezones"]["rs-1"] == "Europe/Belgrade"


def test_every_change_aimed_at_an_unregistered_station_is_the_same_404(engine: Engine) -> None:
    """A roster, a conflict resolution and a voter's problem report refuse a station that is
    not in the election's registry alike (:func:`pollwatch.store.elections.check_registered`)."""
    from pollwatch.store.guide_problems import record_problem
    from pollwatch.store.resolutions import resolve_conflict
    from pollwatch.store.rosters import registered_station

    create_election(engine, "reg")
    import_stations(engine, "reg", [{"station": "1"}])
    attempts = [
        lambda: registered_station(engine, "reg", "404"),
        lambda: assign_observer(engine, "reg", "404", "anyone", by="t"),
        lambda: resolve_conflict(engine, "reg", "404", "entered", 1, "t"),
        lambda: record_problem(engine, "reg", "404", "hours", "closed at noon"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFoundError) as refused:
            attempt()
        assert str(refused.value) == "no station '404' in election 'reg'"
    assert registered_station(engine, "reg", "1") == "1"
