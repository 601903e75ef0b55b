"""Checklists and messages over HTTP, on a live uvicorn server (issue 13, items 1-2).

Coordinators save checklists through the form (CSRF-checked, whole-election scope only),
get a malformed one back with the error naming the field, read results narrowed to their
scope; observers fetch the checklists, send answers as idempotent reports (a retry is 200,
answers that do not fit the version 400 naming the answer), read their inbox and send
receipts that only move counts. Hostile text in questions, answers and messages comes back
escaped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.store import (
    add_coordinator,
    add_scope,
    create_election,
    create_invites,
    import_stations,
    list_audit,
    open_store,
    redeem_invite,
)
from pollwatch.store.checklists import save_checklist
from pollwatch.web.app import create_app

ELECTION = "lists-2026"
PASSWORD = "a long enough password"
HOSTILE = '<img src=x onerror="alert(1)">'

CHECKLIST = f"""id: opening
title: {{en: Opening, ru: Открытие, sr: Otvaranje}}
questions:
  - id: sealed
    kind: yes_no
    text: {{en: 'Ballot box sealed? {HOSTILE}', ru: "Урна опечатана?"}}
    flag: no
  - id: why
    kind: text
    text: "If not, why?"
    when: {{question: sealed, equals: no}}
  - id: staff
    kind: number
    text: Members present
    min: 0
    max: 40
    flag: {{below: 3}}
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("lists")
    engine = open_store(f"sqlite:///{home / 'db.sqlite'}")
    add_coordinator(engine, "coord", PASSWORD)
    add_coordinator(engine, "watcher", PASSWORD, role="viewer")
    add_coordinator(engine, "local", PASSWORD)
    create_election(engine, ELECTION, name="Checklists test election")
    import_stations(
        engine,
        ELECTION,
        [
            {"station": "8101", "country": "RS"},
            {"station": "8102", "country": "RS"},
            {"station": "8201", "country": "DE"},
        ],
    )
    add_scope(engine, "coord", ELECTION, actor="test")
    add_scope(engine, "watcher", ELECTION, actor="test")
    add_scope(engine, "local", ELECTION, country="DE", actor="test")
    engine.info_home = home  # type: ignore[attr-defined]
    return engine


@pytest.fixture(scope="module")
def base_url(engine: Any) -> Iterator[str]:
    home: Path = engine.info_home
    settings = Settings(data_dir=home, home=home, database_url=str(engine.url), rate_limit=0)
    with serve_in_thread(create_app(settings)) as url:
        yield url


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found, "the page carries a csrf field"
    return found.group(1)


@contextmanager
def _logged_in(base_url: str, name: str = "coord") -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        form = client.get("/coordinate/login")
        answer = client.post(
            "/coordinate/login",
            data={"name": name, "password": PASSWORD, "csrf": _csrf(form.text)},
        )
        assert answer.status_code == 303, answer.text
        yield client


def _observer(engine: Any, stations: tuple[str, ...] = ("8101",)) -> tuple[str, str]:
    redeemed = redeem_invite(
        engine, create_invites(engine, ELECTION, 1, stations_=stations)[0].code
    )
    return redeemed.token, redeemed.observer


def _save(client: httpx.Client, source: str) -> httpx.Response:
    page = client.get(f"/coordinate/{ELECTION}/checklists")
    assert page.status_code == 200
    return client.post(
        f"/coordinate/{ELECTION}/checklists",
        data={"csrf": _csrf(page.text), "source": source},
        files={"file": ("", b"", "application/octet-stream")},
    )


def _report(
    station: str, answers: dict[str, Any], version: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": ELECTION,
        "station": station,
        "kind": "checklist",
        "observed_at": datetime.now(UTC).isoformat(),
        "checklist": "opening",
        "version": version,
        "answers": answers,
        **extra,
    }


def test_a_coordinator_saves_versions_and_sees_the_checklist_as_text(
    engine: Any, base_url: str
) -> None:
    with _logged_in(base_url) as client:
        saved = _save(client, CHECKLIST)
        assert saved.status_code == 303, saved.text
        assert "opening" in saved.headers["location"]
        again = _save(client, CHECKLIST)
        assert "unchanged" in again.headers["location"]
        changed = _save(client, CHECKLIST.replace("max: 40", "max: 45"))
        assert changed.status_code == 303
        page = client.get(f"/coordinate/{ELECTION}/checklists")
        assert 'data-version="2"' in page.text
        assert HOSTILE not in page.text
        assert "&lt;img src=x onerror=" in page.text
        listing = client.get(f"/coordinate/{ELECTION}/checklists.json").json()
        (only,) = listing["checklists"]
        assert only["version"] == 2 and only["created_by"] == "coord"
        assert only["questions"][0]["text"]["en"].endswith(HOSTILE)
    saves = [a for a in list_audit(engine) if a["action"] == "checklist.save"]
    assert [a["detail"]["version"] for a in saves][:2] == [2, 1]


@pytest.mark.parametrize(
    ("source", "field"),
    [
        (
            "id: x\ntitle: X\nquestions:\n  - {id: a, kind: choice, text: A}\n",
            "questions[0].options",
        ),
        ("id: x\ntitle: X\nquestions:\n  - {id: a, kind: dance, text: A}\n", "questions[0].kind"),
        ("id: X Y\ntitle: X\nquestions: []\n", "id"),
        ("id: x\ntitle: {ru: Икс}\nquestions:\n  - {id: a, kind: text, text: A}\n", "title.en"),
        (
            "id: x\ntitle: X\nquestions:\n"
            "  - {id: a, kind: text, text: A, when: {question: b, equals: 1}}\n",
            "questions[0].when.question",
        ),
        ("a: &x [1]\nb: *x\n", "body"),
        ("id: [unclosed\n", "body"),
    ],
)
def test_a_malformed_checklist_comes_back_with_the_field_named(
    base_url: str, source: str, field: str
) -> None:
    with _logged_in(base_url) as client:
        answer = _save(client, source + f"# {HOSTILE}\n")
        assert answer.status_code == 400
        found = re.search(r'id="checklist-error" data-field="([^"]*)"', answer.text)
        assert found and found.group(1) == field, answer.text[:2000]
        assert HOSTILE not in answer.text  # the kept source is shown as text
        assert "&lt;img" in answer.text


def test_upload_csrf_and_who_may_edit(engine: Any, base_url: str) -> None:
    with _logged_in(base_url) as client:
        page = client.get(f"/coordinate/{ELECTION}/checklists")
        uploaded = client.post(
            f"/coordinate/{ELECTION}/checklists",
            data={"csrf": _csrf(page.text), "source": ""},
            files={
                "file": ("closing.yaml", CHECKLIST.replace("id: opening", "id: closing").encode())
            },
        )
        assert uploaded.status_code == 303, uploaded.text
        no_token = client.post(f"/coordinate/{ELECTION}/checklists", data={"source": CHECKLIST})
        assert no_token.status_code == 403
    with _logged_in(base_url, "watcher") as viewer:
        page = viewer.get(f"/coordinate/{ELECTION}/checklists")
        assert page.status_code == 200 and 'id="checklist-form"' not in page.text
        refused = viewer.post(
            f"/coordinate/{ELECTION}/checklists",
            data={"csrf": _csrf(page.text), "source": CHECKLIST},
        )
        assert refused.status_code == 403
    with _logged_in(base_url, "local") as narrowed:
        page = narrowed.get(f"/coordinate/{ELECTION}/checklists")
        refused = narrowed.post(
            f"/coordinate/{ELECTION}/checklists",
            data={"csrf": _csrf(page.text), "source": CHECKLIST},
        )
        assert refused.status_code == 403


def test_observers_send_answers_idempotently_and_results_respect_scopes(
    engine: Any, base_url: str
) -> None:
    save_checklist(engine, ELECTION, CHECKLIST, actor="test")
    token, _name = _observer(engine, ("8101", "8201"))
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=auth, timeout=30) as phone:
        offered = phone.get("/api/v1/observer/checklists").json()["checklists"]
        opening = next(c for c in offered if c["id"] == "opening")
        version = opening["version"]
        body = _report("8101", {"sealed": False, "why": HOSTILE, "staff": 2}, version)
        first = phone.post("/api/v1/reports", json=body)
        assert first.status_code == 201, first.text
        assert first.json()["ledger"]["seq"] >= 1
        retry = phone.post("/api/v1/reports", json=body)
        assert retry.status_code == 200
        assert retry.json()["ledger"] == first.json()["ledger"]
        changed = phone.post(
            "/api/v1/reports", json={**body, "answers": {"sealed": True, "staff": 5}}
        )
        assert changed.status_code == 409
        not_asked = phone.post(
            "/api/v1/reports",
            json=_report("8201", {"sealed": True, "why": "x", "staff": 5}, version),
        )
        assert not_asked.status_code == 400
        assert not_asked.json()["error"]["field"] == "answers.why"
        too_many = phone.post(
            "/api/v1/reports", json=_report("8201", {"sealed": True, "staff": 99}, version)
        )
        assert too_many.json()["error"]["field"] == "answers.staff"
        no_version = phone.post(
            "/api/v1/reports", json=_report("8201", {"sealed": True, "staff": 5}, 99)
        )
        assert no_version.status_code == 400
        assert no_version.json()["error"]["field"] == "version"
        fine = phone.post(
            "/api/v1/reports", json=_report("8201", {"sealed": True, "staff": 5}, version)
        )
        assert fine.status_code == 201
    with _logged_in(base_url) as client:
        results = client.get(f"/coordinate/{ELECTION}/checklists/results.json").json()
        opening = next(c for c in results["checklists"] if c["id"] == "opening")
        assert opening["submitted"] == ["8101", "8201"]
        assert opening["missing"] == ["8102"]
        assert opening["flagged_stations"] == [
            {"station": "8101", "questions": ["sealed", "staff"]}
        ]
        page = client.get(f"/coordinate/{ELECTION}/checklists/results")
        assert HOSTILE not in page.text and "&lt;img" in page.text
    with _logged_in(base_url, "local") as narrowed:
        results = narrowed.get(f"/coordinate/{ELECTION}/checklists/results.json").json()
        opening = next(c for c in results["checklists"] if c["id"] == "opening")
        assert opening["stations"] == 1
        assert opening["submitted"] == ["8201"] and opening["flagged_stations"] == []
        assert "8101" not in narrowed.get(f"/coordinate/{ELECTION}/checklists/results").text


def test_messages_reach_the_targets_and_receipts_are_counts(engine: Any, base_url: str) -> None:
    token_rs, _ = _observer(engine, ("8101",))
    token_de, name_de = _observer(engine, ("8201",))
    with _logged_in(base_url) as client:
        page = client.get(f"/coordinate/{ELECTION}/messages")
        sent = client.post(
            f"/coordinate/{ELECTION}/messages",
            data={
                "csrf": _csrf(page.text),
                "text": f"Stay calm {HOSTILE}",
                "to": "countries",
                "countries": "DE",
                "urgent": "1",
            },
        )
        assert sent.status_code == 201, sent.text
        assert HOSTILE not in sent.text and "Stay calm &lt;img" in sent.text
        empty = client.post(
            f"/coordinate/{ELECTION}/messages",
            data={"csrf": _csrf(page.text), "text": "  ", "to": "all"},
        )
        assert empty.status_code == 400 and 'data-field="text"' in empty.text
        bad_target = client.post(
            f"/coordinate/{ELECTION}/messages",
            data={"csrf": _csrf(page.text), "text": "hi", "to": "stations", "stations": "9999"},
        )
        assert bad_target.status_code == 400 and 'data-field="targets"' in bad_target.text
        personal = client.post(
            f"/coordinate/{ELECTION}/messages",
            data={
                "csrf": _csrf(page.text),
                "text": "Just you",
                "to": "observer",
                "observer": name_de,
            },
        )
        assert personal.status_code == 201
    with httpx.Client(base_url=base_url, timeout=30) as phone:
        de = phone.get("/api/v1/observer/messages", headers={"Authorization": f"Bearer {token_de}"})
        texts = [m["text"] for m in de.json()["messages"]]
        assert texts == ["Just you", f"Stay calm {HOSTILE}"]
        assert de.json()["messages"][1]["urgent"] is True
        assert "author" not in de.json()["messages"][0]
        rs = phone.get("/api/v1/observer/messages", headers={"Authorization": f"Bearer {token_rs}"})
        assert rs.json()["messages"] == []
        ids = [m["id"] for m in de.json()["messages"]]
        moved = phone.post(
            "/api/v1/observer/messages/receipts",
            headers={"Authorization": f"Bearer {token_de}"},
            json={"delivered": ids, "read": ids[:1]},
        )
        assert moved.json() == {"delivered": 2, "read": 1}
        # Another observer cannot move the counts of a message that does not reach it.
        foreign = phone.post(
            "/api/v1/observer/messages/receipts",
            headers={"Authorization": f"Bearer {token_rs}"},
            json={"delivered": ids, "read": ids},
        )
        assert foreign.json() == {"delivered": 0, "read": 0}
        for bad in ({"read": "1"}, {"read": [True]}, {"who": []}, [1]):
            refused = phone.post(
                "/api/v1/observer/messages/receipts",
                headers={"Authorization": f"Bearer {token_de}"},
                json=bad,
            )
            assert refused.status_code == 400, bad
        assert phone.get("/api/v1/observer/messages").status_code == 401
    with _logged_in(base_url, "local") as narrowed:
        listing = narrowed.get(f"/coordinate/{ELECTION}/messages.json").json()["messages"]
        assert {m["text"] for m in listing} == {"Just you", f"Stay calm {HOSTILE}"}
        stay = next(m for m in listing if m["text"].startswith("Stay"))
        # two observers are bound to a station in DE (one of them from the test before)
        assert (stay["recipients"], stay["delivered"], stay["read"]) == (2, 1, 0)
        page = narrowed.get(f"/coordinate/{ELECTION}/messages")
        assert 'id="to-all"' not in page.text
        refused = narrowed.post(
            f"/coordinate/{ELECTION}/messages",
            data={"csrf": _csrf(page.text), "text": "hi", "to": "all"},
        )
        assert refused.status_code == 403
        refused = narrowed.post(
            f"/coordinate/{ELECTION}/messages",
            data={"csrf": _csrf(page.text), "text": "hi", "to": "stations", "stations": "8101"},
        )
        assert refused.status_code == 403
    with _logged_in(base_url, "watcher") as viewer:
        page = viewer.get(f"/coordinate/{ELECTION}/messages")
        assert page.status_code == 200 and 'id="message-form"' not in page.text


def test_oversized_and_hostile_input_gets_a_4xx_naming_the_field(
    engine: Any, base_url: str
) -> None:
    with _logged_in(base_url) as client:
        page = client.get(f"/coordinate/{ELECTION}/checklists")
        huge = "id: x\ntitle: X\nquestions:\n" + "# padding\n" * 5000
        too_big = client.post(
            f"/coordinate/{ELECTION}/checklists",
            data={"csrf": _csrf(page.text), "source": huge},
            files={"file": ("", b"", "application/octet-stream")},
        )
        assert too_big.status_code in (400, 413)
        if too_big.status_code == 400:
            assert too_big.json()["error"]["field"] == "body"
        binary = client.post(
            f"/coordinate/{ELECTION}/checklists",
            data={"csrf": _csrf(page.text), "source": ""},
            files={"file": ("x.yaml", b"\xff\xfe\x00garbage")},
        )
        assert binary.status_code == 400 and binary.json()["error"]["field"] == "file"
        retire = client.post(
            f"/coordinate/{ELECTION}/checklists/retire",
            data={"csrf": _csrf(page.text), "checklist": "../../etc"},
        )
        assert retire.status_code == 400 and retire.json()["error"]["field"] == "checklist"
        messages = client.get(f"/coordinate/{ELECTION}/messages")
        long = client.post(
            f"/coordinate/{ELECTION}/messages",
            data={"csrf": _csrf(messages.text), "text": "x" * 2500, "to": "all"},
        )
        assert long.status_code == 400
        weird = client.post(
            f"/coordinate/{ELECTION}/messages",
            data={"csrf": _csrf(messages.text), "text": "hi", "to": "everyone"},
        )
        assert weird.status_code == 400 and 'data-field="to"' in weird.text
    token, _name = _observer(engine)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=auth, timeout=30) as phone:
        assert phone.get("/api/v1/observer/messages", params={"station": "../x"}).status_code == 400
        assert phone.get("/api/v1/observer/messages", params={"station": "8102"}).status_code == 403
        broken = phone.post(
            "/api/v1/observer/messages/receipts",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert broken.status_code == 400
        assert (
            phone.get(
                "/api/v1/observer/checklists", headers={"Authorization": "Bearer x"}
            ).status_code
            == 401
        )
