"""`pollwatch bot` as people run it: a real process long-polling the fake Bot API server,
stopped by SIGTERM; and the sub-commands (link-code, webhook, broadcast, forget-election)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.bot.fake_telegram import TOKEN, ThreadedFake
from tests.bot.harness import KEY, message_update

from pollwatch.cli import main
from pollwatch.store import (
    create_election,
    create_invites,
    import_stations,
    observer_for_token,
    open_store,
    redeem_invite,
)

ROOT = Path(__file__).resolve().parents[2]


def _env(fake_url: str, db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "POLLWATCH_HOME": str(tmp_path),
        "POLLWATCH_DATABASE_URL": db_url,
        "POLLWATCH_TELEGRAM_TOKEN": TOKEN,
        "POLLWATCH_TELEGRAM_API": fake_url,
        "POLLWATCH_TELEGRAM_KEY": KEY,
        "POLLWATCH_TELEGRAM_WEBHOOK_SECRET": "secret_secret_secret",
    }


def test_pollwatch_bot_polls_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'pollwatch.db'}"
    with ThreadedFake() as threaded:
        env = {**os.environ, **_env(threaded.fake.url, db_url, tmp_path)}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
        process = subprocess.Popen(
            [sys.executable, "-m", "pollwatch", "bot"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            fake = threaded.fake
            threaded.wait_for(lambda: any(c.method == "setMyCommands" for c in fake.calls), 60)
            assert any(c.method == "deleteWebhook" for c in fake.calls)
            threaded.push(message_update(1101, "/start"))
            reply = threaded.wait_for(lambda: fake.sent(1101))
            assert "/privacy" in reply[0].text
        finally:
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()[-2000:]


def test_the_sub_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'pollwatch.db'}"
    engine = open_store(db_url)
    create_election(engine, "e-2026")
    import_stations(engine, "e-2026", [{"station": "8001"}])
    token = redeem_invite(engine, create_invites(engine, "e-2026", 1)[0].code).token
    observer = observer_for_token(engine, token)
    with ThreadedFake() as threaded:
        for name, value in _env(threaded.fake.url, db_url, tmp_path).items():
            monkeypatch.setenv(name, value)
        assert main(["bot", "link-code", observer.code_name, "--election", "e-2026"]) == 0
        out = capsys.readouterr().out
        assert "https://t.me/pollwatch_test_bot?start=" in out and "expires:" in out
        assert main(["bot", "link-code", "nobody", "--election", "e-2026"]) == 1
        assert "no active observer" in capsys.readouterr().err
        url = "https://observe.example.org/telegram/webhook"
        assert main(["bot", "webhook", url]) == 0
        assert threaded.fake.webhook["url"] == url
        assert threaded.fake.webhook["secret_token"] == "secret_secret_secret"
        assert main(["bot", "webhook", "http://insecure.example.org/telegram/webhook"]) == 1
        assert main(["bot", "broadcast", "Hello", "--election", "e-2026"]) == 0
        assert "queued for 0 observer(s) as batch b:" in capsys.readouterr().out
        assert main(["bot", "deliveries"]) == 0
        assert "nothing sent" in capsys.readouterr().out
        # a linked observer, no sender running: the wait ends with the message pending
        from pollwatch.bot.keys import BotKeys
        from pollwatch.store.telegram import link_observer

        keys = BotKeys.from_secret(KEY)
        link_observer(engine, observer.id, user_hash=keys.user_hash(7), chat=keys.seal_chat(7))
        assert main(["bot", "broadcast", "Hi", "--election", "e-2026", "--wait", "0.2"]) == 0
        out = capsys.readouterr().out
        assert "queued for 1 observer(s)" in out
        assert "queued 1, delivered 0, failed 0, pending 1" in out
        assert main(["bot", "deliveries"]) == 0
        table = capsys.readouterr().out
        assert re.search(r"b:[0-9a-f]{12}\s+1\s+0\s+0\s+1", table), table
        assert main(["bot", "broadcast", "", "--election", "e-2026"]) == 1
        assert main(["bot", "forget-election", "e-2026"]) == 0
    engine.dispose()
