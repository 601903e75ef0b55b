"""The webhook in the web app: Telegram's secret token checked, the same dispatcher over the
web process's writer, and the observer app's link code (deep link and QR)."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.asyncrun import run_async
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.harness import KEY, callback_update, message_update
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.store import (
    create_election,
    create_invites,
    import_stations,
    list_reports,
    open_store,
    redeem_invite,
)
from pollwatch.web.app import create_app

SECRET = "webhook-secret_0123456789"


def test_the_webhook_checks_the_secret_and_runs_the_bot(db_url: str, tmp_path: Path) -> None:
    engine = open_store(db_url)
    create_election(engine, "e-2026")
    import_stations(engine, "e-2026", [{"station": "8001"}])
    invite = create_invites(engine, "e-2026", 1, stations_=("8001",))[0]
    token = redeem_invite(engine, invite.code).token

    async def scenario() -> None:
        async with FakeTelegram() as fake:
            settings = Settings(
                data_dir=tmp_path / "data",
                home=tmp_path,
                database_url=db_url,
                telegram_token=fake.token,
                telegram_api=fake.url,
                telegram_key=KEY,
                telegram_webhook_secret=SECRET,
            )
            app = create_app(settings)
            with serve_in_thread(app) as url:
                async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                    hook = "/telegram/webhook"
                    update = {"update_id": 1, **message_update(801, "/start")}
                    assert (await client.post(hook, json=update)).status_code == 401
                    wrong = {"X-Telegram-Bot-Api-Secret-Token": "x" * 24}
                    assert (await client.post(hook, json=update, headers=wrong)).status_code == 401
                    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
                    for body in (
                        b"{not json",
                        b"[]",
                        b'{"update_id": "1"}',
                        b'{"update_id": 2, "message": {"text": 5}}',
                    ):
                        answer = await client.post(
                            hook, content=body, headers={**good, "content-type": "application/json"}
                        )
                        assert answer.status_code == 400, body
                        assert answer.json()["error"]["field"] == "body"
                    assert fake.calls == []
                    # the observer app asks for a link code (observer token)
                    linked = await client.post(
                        "/api/v1/observer/telegram-link",
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert linked.status_code == 201, linked.text
                    link = linked.json()
                    assert link["url"] == f"https://t.me/pollwatch_test_bot?start={link['code']}"
                    assert link["qr_svg"].startswith("<svg")
                    no_token = await client.post("/api/v1/observer/telegram-link")
                    assert no_token.status_code == 401
                    # the deep link's /start through the webhook
                    update = {"update_id": 3, **message_update(801, f"/start {link['code']}")}
                    assert (await client.post(hook, json=update, headers=good)).status_code == 200
                    reply = await fake.wait_for(lambda: fake.sent(801))
                    assert "Linked" in reply[0].text
                    # a status report through the web process's own writer
                    steps = ["m:status", "f:pick:opened", "f:skip:1"]
                    for i, data in enumerate(steps):
                        update = {"update_id": 10 + i, **callback_update(801, data)}
                        assert (
                            await client.post(hook, json=update, headers=good)
                        ).status_code == 200
                    summary = await fake.wait_for(
                        lambda: [c for c in fake.sent(801) if "Send this report" in c.text]
                    )
                    confirm = next(d for t, d in summary[0].buttons() if t == "Send")
                    update = {"update_id": 20, **callback_update(801, confirm)}
                    assert (await client.post(hook, json=update, headers=good)).status_code == 200
                    await fake.wait_for(lambda: [c for c in fake.sent(801) if "stored" in c.text])
            app.state.engine.dispose()
            assert [r["status"] for r in list_reports(engine, "e-2026")] == ["opened"]

    run_async(scenario())
    engine.dispose()


def test_no_webhook_without_its_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", home=tmp_path)
    with serve_in_thread(create_app(settings)) as url:
        answer = httpx.post(f"{url}/telegram/webhook", json={"update_id": 1}, timeout=10)
        assert answer.status_code == 404
