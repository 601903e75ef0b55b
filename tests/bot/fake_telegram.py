"""A fake Telegram Bot API server on loopback: a real aiohttp HTTP server speaking the Bot
API's JSON and multipart, so the bot under test runs its real HTTP client against it.

It answers ``getMe``, ``getUpdates`` (long polling over a queue of updates the test pushes),
``sendMessage``, ``editMessageText``, ``answerCallbackQuery``, ``sendPhoto``, ``getFile``
and the file download, ``setWebhook``/``deleteWebhook``, and ``True`` for anything else;
every call is recorded (method, decoded parameters, uploaded files) for the test to wait on
with :meth:`FakeTelegram.wait_for` (a condition with a timeout, never a fixed sleep). It can
answer ``429 Too Many Requests`` with ``retry_after`` (:meth:`throttle`), as Telegram does,
and refuse calls with 403 or 400 (:meth:`refuse`: a user who blocked the bot, a chat gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token_for-the-fake-server"
BOT_ID = 123456
BOT_USERNAME = "pollwatch_test_bot"


@dataclass
class Call:
    """One request the bot made: the method, its parameters (JSON values decoded), files."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = 0.0
    answered: int = 200

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of the inline keyboard, row by row."""
        markup = self.params.get("reply_markup") or {}
        return [
            (b.get("text", ""), b.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


class FakeTelegram:
    """The server. ``async with FakeTelegram() as fake:`` starts it on a free port."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.files: dict[str, bytes] = {}
        self.webhook: dict[str, Any] = {}
        self.polls = 0  # getUpdates calls (not recorded in ``calls``)
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._throttles: list[tuple[Callable[[Call], bool], int, int]] = []
        self._refusals: list[tuple[Callable[[Call], bool], int, int, str]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=30 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests do -------------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates (an ``update_id`` is added if missing)."""
        update = dict(update)
        update.setdefault("update_id", next(self._update_ids))
        self._updates.append(update)
        self._notify()
        return int(update["update_id"])

    def add_file(self, data: bytes) -> str:
        """Store a file the bot may fetch with getFile; returns its file_id."""
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = data
        return file_id

    def throttle(self, when: Callable[[Call], bool], times: int, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls matching ``when`` with 429 and ``retry_after``."""
        self._throttles.append((when, times, retry_after))

    def refuse(
        self, when: Callable[[Call], bool], times: int, status: int, description: str
    ) -> None:
        """Answer the next ``times`` calls matching ``when`` with an error, as Telegram does
        (403 "Forbidden: bot was blocked by the user", 400 "Bad Request: chat not found")."""
        self._refusals.append((when, times, status, description))

    def sent(self, chat_id: int | None = None, method: str = "sendMessage") -> list[Call]:
        """Successful calls of one method (to one chat)."""
        return [
            c
            for c in self.calls
            if c.method == method
            and c.answered == 200
            and (chat_id is None or c.chat_id == chat_id)
        ]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Wait until ``condition()`` is truthy (re-checked on every call); its value."""
        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    while not (value := condition()):
                        await self._changed.wait()
            except TimeoutError:
                recent = [(c.method, c.text[:80]) for c in self.calls[-8:]]
                raise AssertionError(
                    f"condition not met in {timeout} s; last calls {recent}"
                ) from None
            return value

    async def next_reply(self, chat_id: int, after: int, method: str = "sendMessage") -> Call:
        """The first successful ``method`` call to ``chat_id`` after ``after`` recorded calls."""

        def found() -> Call | None:
            for c in self.calls[after:]:
                if c.method == method and c.answered == 200 and c.chat_id == chat_id:
                    return c
            return None

        result: Call = await self.wait_for(found)
        return result

    def _notify(self) -> None:
        async def go() -> None:
            async with self._changed:
                self._changed.notify_all()

        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(go())

    # --- the Bot API ---------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.json()
            params = dict(body) if isinstance(body, dict) else {}
        elif ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = value.file.read()
                else:
                    params[key] = _decode(value)
        params.update({k: _decode(v) for k, v in request.query.items()})
        return params, files

    def _message(self, chat_id: Any, **extra: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "pollwatch"},
            **extra,
        }

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params, files = await self._params(request)
        call = Call(method, params, files, at=time.monotonic())
        for i, (when, times, retry_after) in enumerate(self._throttles):
            if times > 0 and method != "getUpdates" and when(call):
                self._throttles[i] = (when, times - 1, retry_after)
                call.answered = 429
                self.calls.append(call)
                self._notify()
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {retry_after}",
                        "parameters": {"retry_after": retry_after},
                    },
                    status=429,
                )
        for i, (when, times, status, description) in enumerate(self._refusals):
            if times > 0 and method != "getUpdates" and when(call):
                self._refusals[i] = (when, times - 1, status, description)
                call.answered = status
                self.calls.append(call)
                self._notify()
                return web.json_response(
                    {"ok": False, "error_code": status, "description": description},
                    status=status,
                )
        if method == "getUpdates":
            self.polls += 1
            self._notify()
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        self.calls.append(call)
        self._notify()
        return web.json_response({"ok": True, "result": self._result(method, params, files)})

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = min(float(params.get("timeout") or 0), 1.0)
        if not self._updates and timeout:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        while not self._updates:
                            await self._changed.wait()
        return list(self._updates[:100])

    def _result(self, method: str, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "pollwatch",
                "username": BOT_USERNAME,
            }
        if method == "sendMessage":
            return self._message(params["chat_id"], text=str(params.get("text", "")))
        if method == "editMessageText":
            if "chat_id" in params:
                return self._message(params["chat_id"], text=str(params.get("text", "")))
            return True
        if method == "sendPhoto":
            file_id = self.add_file(files.get("photo", b""))
            photo = [{"file_id": file_id, "file_unique_id": file_id, "width": 1, "height": 1}]
            return self._message(params["chat_id"], photo=photo)
        if method == "getFile":
            file_id = str(params.get("file_id"))
            if file_id not in self.files:
                return None
            return {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_size": len(self.files[file_id]),
                "file_path": f"photos/{file_id}.jpg",
            }
        if method == "setWebhook":
            self.webhook = dict(params)
        if method == "deleteWebhook":
            self.webhook = {}
        return True

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        name = request.match_info["path"].rpartition("/")[2].removesuffix(".jpg")
        if name not in self.files:
            return web.Response(status=404)
        self.calls.append(Call("file", {"path": request.match_info["path"]}))
        self._notify()
        return web.Response(body=self.files[name], content_type="application/octet-stream")


class ThreadedFake:
    """The fake server in its own thread and event loop, for code that runs its own loop
    (the CLI's ``asyncio.run``, a ``pollwatch bot`` subprocess)."""

    def __init__(self) -> None:
        import threading

        self.fake = FakeTelegram()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedFake:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.__aenter__(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.__aexit__(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def push(self, update: dict[str, Any]) -> None:
        self._loop.call_soon_threadsafe(self.fake.push, update)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 20.0) -> Any:
        return asyncio.run_coroutine_threadsafe(
            self.fake.wait_for(condition, timeout), self._loop
        ).result(timeout + 5)
