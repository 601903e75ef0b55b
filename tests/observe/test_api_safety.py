"""Observer safety over a real uvicorn server, on SQLite and PostgreSQL.

Photo bombs are refused before they are decoded (peak memory of the server process
measured), a replayed ledger entry does not reveal its author, revoked tokens stop working
within seconds, expired invites are refused, and coordinators revoke from their page.
"""

from __future__ import annotations

import asyncio
import re
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from tests.observe.test_ingest_batch import run  # a loop of its own, beside Playwright's
from tests.store.databases import database_url
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.errors import ServiceBusy
from pollwatch.store import (
    AuthError,
    DecodeSlots,
    add_coordinator,
    add_scope,
    create_election,
    create_invites,
    import_stations,
    observer_for_token,
    open_store,
    revoke_observers,
)
from pollwatch.store.ingest import REVOCATION_INTERVAL
from pollwatch.store.photos import MAX_PHOTO_PIXELS
from pollwatch.store.tables import invites
from pollwatch.web.app import create_app

ELECTION = "safety-api"
PASSWORD = "a long passphrase"
MEMORY_BOUND = 48 * 1024 * 1024
"""Peak memory an upload may add to the server process: a refused bomb costs its bytes and
the multipart parse, never its declared pixels."""


@dataclass
class Live:
    base: str
    url: str
    client: httpx.Client

    def join(self) -> tuple[str, str]:
        """A new observer: (token, code name)."""
        engine = open_store(self.url)
        code = create_invites(engine, ELECTION, 1)[0].code
        engine.dispose()
        r = self.client.post(f"/api/v1/invites/{code}/redeem")
        assert r.status_code == 201, r.text
        return str(r.json()["token"]), str(r.json()["observer"])


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("safety")
    with database_url(request.param, folder) as url:
        engine = open_store(url)
        create_election(engine, ELECTION, name="Safety API")
        import_stations(engine, ELECTION, [{"station": str(i)} for i in range(1, 6)])
        add_coordinator(engine, "coord", PASSWORD)
        add_scope(engine, "coord", ELECTION, actor="test")
        engine.dispose()
        settings = Settings(data_dir=folder / "data", home=folder, database_url=url, rate_limit=0)
        app = create_app(settings)
        with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield Live(base, url, client)
        app.state.engine.dispose()


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _report(kind: str = "incident", station: str = "1") -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "election": ELECTION,
        "station": station,
        "kind": kind,
        "observed_at": now.isoformat(),
    }
    if kind == "incident":
        body.update(category="pressure", text="a man photographs the queue")
    else:
        body.update(
            window_start=(now - timedelta(hours=1)).isoformat(),
            window_end=now.isoformat(),
            entered=3,
        )
    return body


# --- photos ---------------------------------------------------------------------------------


def _png_of_zero_rows(width: int, height: int) -> bytes:
    """A valid RGB PNG whose rows are all zeros: a few hundred KB that decode to w × h × 3."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte 0, then black pixels
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = _png_of_zero_rows(12_000, 12_000)  # the size of the reported attack
    assert len(data) < 600_000
    return data


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    """Below Pillow's own guard (89 MP) but above ours: only our limit can refuse it."""
    data = _png_of_zero_rows(6_000, 5_000)
    assert MAX_PHOTO_PIXELS < 6_000 * 5_000
    return data


def _kb(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    assert found, field
    return int(found.group(1))


def _peak_growth(action: Callable[[], httpx.Response]) -> tuple[httpx.Response, int, float]:
    """Run ``action`` (the server is in this process); its answer, peak RSS growth, seconds."""
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
    before = _kb("VmRSS")
    started = time.perf_counter()
    answer = action()
    took = time.perf_counter() - started
    return answer, (_kb("VmHWM") - before) * 1024, took


def _upload(live: Live, report_id: str, data: bytes, token: str) -> httpx.Response:
    return live.client.post(
        f"/api/v1/reports/{report_id}/photo",
        files={"photo": ("p.png", data, "image/png")},
        headers=_auth(token),
    )


@pytest.mark.parametrize("image", ["bomb", "big_photo"])
def test_a_photo_declaring_too_many_pixels_is_refused_before_decoding(
    live: Live, image: str, request: pytest.FixtureRequest
) -> None:
    data: bytes = request.getfixturevalue(image)
    token, _ = live.join()
    incident = _report()
    assert (
        live.client.post("/api/v1/reports", json=incident, headers=_auth(token)).status_code == 201
    )
    answer, growth, took = _peak_growth(lambda: _upload(live, incident["id"], data, token))
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["field"] == "photo" and "pixels" in error["message"]
    assert growth < MEMORY_BOUND, f"the server grew by {growth / 2**20:.0f} MB"
    assert took < 1.0, f"{took:.2f} s"


def test_a_made_up_report_id_gets_404_without_decoding(live: Live, bomb: bytes) -> None:
    token, _ = live.join()
    answer, growth, _took = _peak_growth(lambda: _upload(live, str(uuid.uuid4()), bomb, token))
    assert answer.status_code == 404, answer.text
    assert growth < MEMORY_BOUND, f"the server grew by {growth / 2**20:.0f} MB"


def test_decode_slots_are_bounded_and_answer_busy() -> None:
    async def scenario() -> None:
        slots = DecodeSlots(1, waiting=1, wait=0.2)
        held = asyncio.Event()
        release = asyncio.Event()

        async def hold() -> None:
            async with slots.slot():
                held.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await held.wait()
        with pytest.raises(ServiceBusy):  # waited 0.2 s in the queue, no slot came free
            async with slots.slot():
                pass
        slots.waiting = 0
        with pytest.raises(ServiceBusy, match="retry"):  # the queue is full: at once
            async with slots.slot():
                pass
        release.set()
        await holder
        async with slots.slot():  # free again
            pass

    run(scenario)


# --- replays by another observer ------------------------------------------------------------


def test_a_replayed_ledger_entry_does_not_reveal_its_author(live: Live) -> None:
    author_token, author = live.join()
    stranger_token, _ = live.join()
    body = _report(kind="count", station="2")
    assert (
        live.client.post("/api/v1/reports", json=body, headers=_auth(author_token)).status_code
        == 201
    )
    ledger = live.client.get(f"/api/v1/elections/{ELECTION}/ledger").text
    assert author not in ledger
    replay = live.client.post("/api/v1/reports", json=body, headers=_auth(stranger_token))
    assert replay.status_code == 409
    assert author not in replay.text and "another report" in replay.json()["error"]["message"]
    retry = live.client.post("/api/v1/reports", json=body, headers=_auth(author_token))
    assert retry.status_code == 200 and retry.json()["observer"] == author
    for export in ("reports.csv", "reports.parquet"):
        data = live.client.get(f"/api/v1/elections/{ELECTION}/export/{export}").content
        assert author.encode() not in data


# --- revocation and expiry ------------------------------------------------------------------


def test_a_revoked_token_is_refused_within_two_seconds(live: Live) -> None:
    token, name = live.join()
    assert (
        live.client.post("/api/v1/reports", json=_report(), headers=_auth(token)).status_code == 201
    )
    engine = open_store(live.url)
    try:
        assert revoke_observers(engine, code_name=name, actor="test") == [name]
    finally:
        engine.dispose()
    revoked_at = time.monotonic()
    deadline = revoked_at + REVOCATION_INTERVAL + 3.0
    while True:
        answer = live.client.post("/api/v1/reports", json=_report(), headers=_auth(token))
        if answer.status_code == 401:
            break
        assert answer.status_code == 201, answer.text
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.1)
    # one poll interval, plus slack for a loaded test machine (the rule is the poll)
    assert time.monotonic() - revoked_at <= REVOCATION_INTERVAL + 3.0


def test_an_expired_invite_answers_410(live: Live) -> None:
    engine = open_store(live.url)
    try:
        code = create_invites(engine, ELECTION, 1)[0].code
        with engine.begin() as conn:
            conn.execute(
                update(invites)
                .where(invites.c.used_at.is_(None))
                .values(created_at=datetime.now(UTC) - timedelta(hours=80))
            )
    finally:
        engine.dispose()
    answer = live.client.post(f"/api/v1/invites/{code}/redeem")
    assert answer.status_code == 410
    assert "invite expired" in answer.json()["error"]["message"]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found
    return found.group(1)


def test_coordinators_revoke_from_the_invites_page(live: Live) -> None:
    token, name = live.join()
    with httpx.Client(base_url=live.base, timeout=30) as browser:
        form = browser.get("/coordinate/login")
        login = browser.post(
            "/coordinate/login",
            data={"name": "coord", "password": PASSWORD, "csrf": _csrf(form.text)},
        )
        assert login.status_code == 303
        page = browser.get(f"/coordinate/{ELECTION}/invites")
        assert page.status_code == 200 and 'id="revoke-name-form"' in page.text
        assert "72" in page.text  # the invites' time to live is said
        csrf = _csrf(page.text)
        path = f"/coordinate/{ELECTION}/observers/revoke"
        forged = browser.post(path, data={"what": "code_name", "code_name": name})
        assert forged.status_code == 403
        unsure = browser.post(path, data={"what": "all", "confirm": "yes", "csrf": csrf})
        assert unsure.status_code == 400 and "confirm" in unsure.text
        done = browser.post(path, data={"what": "code_name", "code_name": name, "csrf": csrf})
        assert done.status_code == 200 and name in done.text
    engine = open_store(live.url)
    try:
        with pytest.raises(AuthError):
            observer_for_token(engine, token)
    finally:
        engine.dispose()
