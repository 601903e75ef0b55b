"""Checklists and messages in the store, on SQLite and on PostgreSQL (issue 13, items 1-2).

Versions are kept and never rewritten; checklist reports are idempotent on their id, checked
against the version they name inside the writer's transaction (a refused one leaves no
ledger entry), appended to a ledger that verifies; results respect a coordinator's scope.
Messages reach exactly their targets; receipts are counters that a foreign or repeating
phone cannot push past the recipients; the bot's delivery state moves per target.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from pollwatch.errors import ConflictError, Forbidden, InputError, NotFoundError
from pollwatch.observe.ledger import verify_ledger
from pollwatch.observe.messages import parse_targets
from pollwatch.observe.permissions import Principal, Scope
from pollwatch.store import (
    StoredReport,
    create_election,
    create_invites,
    import_stations,
    observer_for_token,
    redeem_invite,
    store_report,
)
from pollwatch.store.checklists import (
    checklist_results,
    list_checklists,
    observer_checklists,
    retire_checklist,
    save_checklist,
)
from pollwatch.store.messages import (
    MAX_BOT_ATTEMPTS,
    inbox,
    list_messages,
    mark_delivery,
    pending_deliveries,
    record_receipts,
    send_message,
)
from pollwatch.store.reports import (
    export_ledger_lines,
    export_reports,
    rebuild_activity,
    reports_to_bytes,
    store_reports,
)
from pollwatch.store.tables import ledger, station_activity

E = "cl-2026"
V1 = """id: opening
title: Opening
questions:
  - {id: sealed, kind: yes_no, text: Sealed, flag: no}
  - {id: why, kind: text, text: Why, when: {question: sealed, equals: no}}
"""
V2 = V1 + "  - {id: staff, kind: number, text: Staff, min: 0, max: 40}\n"


@pytest.fixture()
def election(engine: Engine) -> Engine:
    create_election(engine, E, name="Checklist election")
    import_stations(
        engine,
        E,
        [
            {"station": "1", "country": "RS"},
            {"station": "2", "country": "RS"},
            {"station": "3", "country": "DE"},
        ],
    )
    return engine


def _observer(engine: Engine, stations: tuple[str, ...] = ()) -> Any:
    code = create_invites(engine, E, 1, stations_=stations)[0].code
    return observer_for_token(engine, redeem_invite(engine, code).token)


def _body(station: str, answers: dict[str, Any], version: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": E,
        "station": station,
        "kind": "checklist",
        "observed_at": datetime.now(UTC).isoformat(),
        "checklist": "opening",
        "version": version,
        "answers": answers,
        **extra,
    }


def _entries(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


def test_versions_are_numbered_kept_and_retired(election: Engine) -> None:
    first = save_checklist(election, E, V1, actor="ann")
    assert (first.version, first.created) == (1, True)
    assert save_checklist(election, E, V1, actor="bob").created is False
    second = save_checklist(election, E, V2, actor="bob")
    assert second.version == 2
    (listed,) = list_checklists(election, E)
    assert (listed.version, listed.created_by) == (2, "bob")
    assert observer_checklists(election, E)[0]["version"] == 2
    retire_checklist(election, E, "opening", actor="ann")
    assert observer_checklists(election, E) == []
    assert list_checklists(election, E)[0].retired
    back = save_checklist(election, E, V2, actor="ann")
    assert (back.version, back.retired) == (3, False)
    assert [c["id"] for c in observer_checklists(election, E)] == ["opening"]
    with pytest.raises(NotFoundError):
        retire_checklist(election, E, "closing", actor="ann")
    with pytest.raises(NotFoundError):
        save_checklist(election, "no-such-election", V1, actor="ann")
    with pytest.raises(InputError) as refused:
        save_checklist(
            election,
            E,
            "id: opening\ntitle: x\nquestions: [{id: a, kind: x, text: t}]",
            actor="ann",
        )
    assert refused.value.column == "questions[0].kind"


def test_checklist_reports_are_idempotent_checked_and_in_the_ledger(election: Engine) -> None:
    save_checklist(election, E, V1, actor="ann")
    observer = _observer(election)
    body = _body("1", {"sealed": False, "why": "<script>alert(1)</script>"})
    first = store_report(election, body, observer=observer)
    assert first.status == 201
    again = store_report(election, body, observer=observer)
    assert again.status == 200 and again.report["ledger"] == first.report["ledger"]
    with pytest.raises(ConflictError):
        store_report(election, {**body, "answers": {"sealed": True}}, observer=observer)
    before = _entries(election)
    bad = [
        _body("2", {"sealed": True, "why": "not asked"}),
        _body("2", {"sealed": True}, version=2),
        _body("2", {"sealed": True}, checklist="closing"),
        _body("2", {"why": "x"}),
    ]
    good = _body("2", {"sealed": True})
    outcomes = store_reports(election, [(b, observer) for b in [*bad, good, good]])
    fields = [o.column for o in outcomes[:4] if isinstance(o, InputError)]
    assert fields == ["answers.why", "version", "version", "answers.sealed"]
    assert [o.status for o in outcomes[4:] if isinstance(o, StoredReport)] == [201, 200]
    assert _entries(election) == before + 1
    # A report keeps answering the version it named after the checklist changed.
    save_checklist(election, E, V2, actor="ann")
    assert store_report(election, _body("3", {"sealed": True}, 1), observer=observer).status == 201
    assert (
        store_report(
            election, _body("3", {"sealed": True, "staff": 4}, 2), observer=observer
        ).status
        == 201
    )
    assert verify_ledger(export_ledger_lines(election, E)).ok
    # The activity counters count checklist reports, and a rebuild agrees with them.
    with election.connect() as conn:
        kept = {
            r["station"]: r["reports"] for r in conn.execute(select(station_activity)).mappings()
        }
    rebuild_activity(election, E)
    with election.connect() as conn:
        rebuilt = {
            r["station"]: r["reports"] for r in conn.execute(select(station_activity)).mappings()
        }
    assert kept == rebuilt == {"1": 1, "2": 1, "3": 2}


def test_exports_carry_the_answers_and_public_ones_withhold_them(election: Engine) -> None:
    save_checklist(election, E, V1, actor="ann")
    observer = _observer(election)
    body = _body("1", {"sealed": False, "why": "=cmd|' /C calc'!A0 and Ivan's name"})
    store_report(election, body, observer=observer)
    full = export_reports(election, E)
    row = full[full["id"] == body["id"]].iloc[0]
    assert (row["checklist"], int(row["version"])) == ("opening", 1)
    assert json.loads(row["answers"])["why"].startswith("=cmd")
    assert "=cmd" in reports_to_bytes(full, "csv").decode()  # inside a JSON cell starting "{"
    public = export_reports(election, E, redacted=True)
    row = public[public["id"] == body["id"]].iloc[0]
    assert pd.isna(row["answers"]) and row["withheld"] == "answers"
    lines = list(export_ledger_lines(election, E, redacted=True))
    assert "Ivan" not in "".join(lines) and verify_ledger(lines).ok


def test_results_respect_the_scope(election: Engine) -> None:
    save_checklist(election, E, V1, actor="ann")
    observer = _observer(election)
    store_report(election, _body("1", {"sealed": False}), observer=observer)
    store_report(election, _body("3", {"sealed": True}), observer=observer)
    everything = checklist_results(election, E, "opening").to_dict()
    assert everything["submitted"] == ["1", "3"] and everything["missing"] == ["2"]
    assert everything["flagged_stations"] == [{"station": "1", "questions": ["sealed"]}]
    de = checklist_results(election, E, "opening", visible=frozenset({"3"})).to_dict()
    assert (de["stations"], de["submitted"], de["flagged_stations"]) == (1, ["3"], [])
    assert de["questions"][0]["distribution"] == [{"answer": "yes", "count": 1}]
    with pytest.raises(NotFoundError):
        checklist_results(election, E, "closing")


def test_messages_reach_their_targets_and_count_receipts(election: Engine) -> None:
    at_1 = _observer(election, ("1",))
    at_3 = _observer(election, ("3",))
    anywhere = _observer(election)
    to_rs = send_message(
        election, E, text="RS only", targets=parse_targets(["country:RS"]), urgent=True, actor="ann"
    )
    to_owl = send_message(
        election, E, text="you", targets=parse_targets([f"observer:{at_3.code_name}"]), actor="ann"
    )
    to_all = send_message(election, E, text="all", targets=parse_targets(["all"]), actor="ann")
    assert (to_rs["recipients"], to_owl["recipients"], to_all["recipients"]) == (2, 1, 3)

    def texts(observer: Any, station: str | None = None) -> list[str]:
        return [m["text"] for m in inbox(election, observer, station=station)]

    assert texts(at_1) == ["all", "RS only"]
    assert texts(at_3) == ["all", "you"]
    assert texts(anywhere) == ["all"]
    assert texts(anywhere, "2") == ["all", "RS only"]
    with pytest.raises(Forbidden):
        inbox(election, at_1, station="3")

    assert record_receipts(
        election, at_1, delivered=[to_rs["id"], to_owl["id"]], read=[to_rs["id"]]
    ) == {"delivered": 1, "read": 1}
    for _ in range(3):  # a phone repeating itself stops at the recipients
        record_receipts(election, anywhere, delivered=[to_rs["id"]], station="2")
    row = next(m for m in list_messages(election, E) if m["id"] == to_rs["id"])
    assert (row["recipients"], row["delivered"], row["read"]) == (2, 2, 1)
    # An observer who joins after the message was sent is counted when its phone reports.
    late = _observer(election, ("2",))
    assert record_receipts(election, late, delivered=[to_rs["id"]]) == {"delivered": 1, "read": 0}
    row = next(m for m in list_messages(election, E) if m["id"] == to_rs["id"])
    assert (row["recipients"], row["delivered"]) == (3, 3)
    with pytest.raises(InputError):
        record_receipts(election, at_1, read=["1"])
    with pytest.raises(InputError):
        record_receipts(election, at_1, read=list(range(1, 300)))

    with pytest.raises(InputError) as refused:
        send_message(election, E, text="x", targets=parse_targets(["observer:nobody"]), actor="a")
    assert refused.value.column == "targets"
    with pytest.raises(InputError):
        send_message(election, E, text="x", targets=parse_targets(["station:99"]), actor="a")
    with pytest.raises(InputError):
        send_message(election, E, text=" ", targets=parse_targets(["all"]), actor="a")


def test_a_narrowed_scope_addresses_only_its_part(election: Engine) -> None:
    at_3 = _observer(election, ("3",))
    at_1 = _observer(election, ("1",))
    _observer(election)
    local = Principal("coordinator", (Scope(E, country="DE"),))
    sent = send_message(
        election, E, text="DE", targets=parse_targets(["station:3"]), actor="local", who=local
    )
    assert sent["recipients"] == 2  # the observer bound to 3 and the one free to go anywhere
    send_message(
        election, E, text="DE all", targets=parse_targets(["country:DE"]), actor="local", who=local
    )
    send_message(
        election,
        E,
        text="owl",
        targets=parse_targets([f"observer:{at_3.code_name}"]),
        actor="local",
        who=local,
    )
    for labels in (["all"], ["station:1"], ["country:RS"], [f"observer:{at_1.code_name}"]):
        with pytest.raises(Forbidden):
            send_message(
                election, E, text="x", targets=parse_targets(labels), actor="local", who=local
            )
    send_message(election, E, text="RS", targets=parse_targets(["country:RS"]), actor="ann")
    seen = {m["text"] for m in list_messages(election, E, who=local)}
    assert seen == {"DE", "DE all", "owl"}
    assert len(list_messages(election, E)) == 4


def test_the_bot_consumes_a_delivery_state_per_target(election: Engine) -> None:
    plain = send_message(
        election, E, text="plain", targets=parse_targets(["station:1", "station:2"]), actor="ann"
    )
    urgent = send_message(
        election, E, text="urgent", targets=parse_targets(["all"]), urgent=True, actor="ann"
    )
    queue = pending_deliveries(election)
    assert [(d["message_id"], d["kind"], d["value"]) for d in queue] == [
        (urgent["id"], "all", None),
        (plain["id"], "station", "1"),
        (plain["id"], "station", "2"),
    ]
    mark_delivery(election, queue[0]["target_id"], "sent")
    for _ in range(MAX_BOT_ATTEMPTS):
        mark_delivery(election, queue[1]["target_id"], "failed")
    left = pending_deliveries(election)
    assert [d["target_id"] for d in left] == [queue[2]["target_id"]]
    row = next(m for m in list_messages(election, E) if m["id"] == plain["id"])
    assert row["bot"] == {"pending": 1, "failed": 1}
    with pytest.raises(InputError):
        mark_delivery(election, queue[2]["target_id"], "read")
    with pytest.raises(InputError):
        mark_delivery(election, 10**6, "sent")
