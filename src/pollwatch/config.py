"""Settings: one typed, documented list, read from ``POLLWATCH_*`` environment variables.

:data:`SETTINGS` declares every setting once (its field of :class:`Settings`, environment
variable, parser and help); the defaults are the :class:`Settings` fields' own, so the
class, :func:`load_settings` and the table in ``docs/deploy.md`` (written from this list by
``scripts/write_settings_docs.py`` and checked by a test) cannot disagree.

Nothing is read at import time; call :func:`load_settings` where a setting is needed, so
tests and tools can pass their own environment. The library knows no development folder:
``make run`` and ``make test`` point ``POLLWATCH_DATA`` at the checkout's data.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pollwatch.errors import InputError

__all__ = ["SETTINGS", "Setting", "Settings", "default_data_dir", "load_settings"]

DEFAULT_HOME = Path("pollwatch-data")
"""Where pollwatch keeps its own files when ``POLLWATCH_HOME`` is not set."""


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one process.

    ``data_dir`` defaults to ``datasets`` inside ``home`` (:func:`load_settings`);
    ``database_url`` ``None`` means the SQLite file ``pollwatch.db`` inside ``home`` (see
    :meth:`resolved_database_url`).
    """

    data_dir: Path
    home: Path = DEFAULT_HOME
    coach_stats: bool = False
    database_url: str | None = None
    rate_limit: int = 600
    events_poll_seconds: float = 1.0
    events_keepalive_seconds: float = 15.0
    events_max_seconds: float = 3600.0
    invite_ttl_hours: int = 72
    public_url: str | None = None
    trusted_proxies: str = ""
    observer_keep_sent: int = 0
    redis_url: str | None = None
    metrics_from: str = "127.0.0.1/32, ::1/128"
    public_delay_minutes: int = 10
    guide_tiles: str | None = None
    telegram_token: str | None = None
    telegram_api: str = "https://api.telegram.org"
    telegram_webhook_secret: str | None = None
    telegram_key: str | None = None
    telegram_election: str | None = None
    telegram_alerts_chat: int | None = None
    telegram_alerts_lang: str = "en"

    def resolved_database_url(self) -> str:
        """The database URL: the setting, else SQLite in the home folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'pollwatch.db'}"


def _path(value: str, env: str) -> Path:
    return Path(value).expanduser()


def _text(value: str, env: str) -> str:
    return value


def _tiles(value: str, env: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    remote = text.lower().startswith(("http://", "https://"))
    if remote and not all(part in text for part in ("{z}", "{x}", "{y}")):
        raise InputError(
            f"{env} must be a folder or a URL with {{z}}, {{x}} and {{y}}; got {text[:80]!r}",
            column=env,
        )
    return text


def _flag(value: str, env: str) -> bool:
    if value.lower() in {"1", "on", "true", "yes"}:
        return True
    if value.lower() in {"0", "off", "false", "no"}:
        return False
    raise InputError(f"{env} must be on or off; got {value!r} instead", column=env)


def _whole(value: str, env: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise InputError(f"{env} must be a whole number ≥ 0; got {value!r} instead", column=env)
    return number


MAX_KEEP_SENT = 50
"""Most sent reports a phone may be told to keep: a reference list, not an archive."""


def _keep_sent(value: str, env: str) -> int:
    try:
        keep = int(value)
    except ValueError:
        keep = -1
    if not 0 <= keep <= MAX_KEEP_SENT:
        raise InputError(
            f"{env} must be a whole number from 0 to {MAX_KEEP_SENT}; got {value!r} instead",
            column=env,
        )
    return keep


def _hours(value: str, env: str) -> int:
    try:
        hours = int(value)
    except ValueError:
        hours = 0
    if not 1 <= hours <= 24 * 365:
        raise InputError(
            f"{env} must be a whole number of hours from 1 to 8760; got {value!r} instead",
            column=env,
        )
    return hours


def _minutes_of_a_day(value: str, env: str) -> int:
    try:
        minutes = int(value)
    except ValueError:
        minutes = -1
    if not 0 <= minutes <= 24 * 60:
        raise InputError(
            f"{env} must be a whole number of minutes from 0 to 1440; got {value!r} instead",
            column=env,
        )
    return minutes


def _public_url(value: str, env: str) -> str | None:
    from urllib.parse import urlsplit

    text = value.strip().rstrip("/")
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise InputError(
            f"{env} must be an http(s) address such as https://observe.example.org; "
            f"got {value[:100]!r} instead",
            column=env,
        )
    return text


def _seconds(value: str, env: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number <= 86_400:
        raise InputError(
            f"{env} must be a number of seconds above 0 and at most 86400; got {value!r} instead",
            column=env,
        )
    return number


def _chat_id(value: str, env: str) -> int:
    try:
        chat = int(value)
    except ValueError:
        chat = 0
    if chat == 0 or abs(chat) >= 10**15:
        raise InputError(
            f"{env} must be a Telegram chat id such as -1001234567890; got {value[:40]!r} instead",
            column=env,
        )
    return chat


def _interface_language(value: str, env: str) -> str:
    if value not in ("en", "ru", "sr"):
        raise InputError(f"{env} must be en, ru or sr; got {value[:20]!r} instead", column=env)
    return value


def _webhook_secret(value: str, env: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", value):
        raise InputError(
            f"{env} must be 16 to 256 characters A-Z, a-z, 0-9, _ and - (Telegram's rule for "
            "secret_token); got a value that is not",
            column=env,
        )
    return value


@dataclass(frozen=True)
class Setting:
    """One documented setting: its :class:`Settings` field, environment variable and help.

    ``default_text`` (Markdown) describes a default that is derived rather than a plain
    value (the data folder lives inside the home folder); otherwise the field's default is
    shown.
    """

    name: str
    env: str
    help: str
    parse: Callable[[str, str], Any]
    default_text: str | None = None

    @property
    def default(self) -> str:
        """The default as the documentation shows it."""
        if self.default_text is not None:
            return self.default_text
        value = _FIELDS[self.name].default
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        "POLLWATCH_DATA",
        "Folder of public election data (ru/, uganda/), read-only; `pollwatch data fetch` "
        "downloads into it. `make run` and `make test` set it to `../shared/data`.",
        _path,
        default_text="`datasets` inside `POLLWATCH_HOME`",
    ),
    Setting(
        "home",
        "POLLWATCH_HOME",
        "Folder where pollwatch keeps its own files (reports, fetched data, opt-in counts, "
        "the SQLite database).",
        _path,
    ),
    Setting(
        "coach_stats",
        "POLLWATCH_COACH_STATS",
        "`on` keeps anonymous counts of which coach arguments were asked (never the text).",
        _flag,
    ),
    Setting(
        "database_url",
        "POLLWATCH_DATABASE_URL",
        "Database of the observation service, for the server and every CLI command alike: "
        "`sqlite:///PATH` (embedded, WAL mode) or `postgresql+psycopg://USER@HOST/DB` for "
        "production and several server processes.",
        _text,
        default_text="SQLite: `pollwatch.db` inside `POLLWATCH_HOME`",
    ),
    Setting(
        "rate_limit",
        "POLLWATCH_RATE_LIMIT",
        "API requests per minute allowed per observer token; one network address gets 20 "
        "times as many (many observers share a carrier's address). `0` turns limiting off.",
        _whole,
    ),
    Setting(
        "events_poll_seconds",
        "POLLWATCH_EVENTS_POLL_SECONDS",
        "How often the dashboard's live feed (server-sent events) asks the ledger for new "
        "reports; each open dashboard costs one small query per interval.",
        _seconds,
    ),
    Setting(
        "events_keepalive_seconds",
        "POLLWATCH_EVENTS_KEEPALIVE_SECONDS",
        "Longest silence on the live feed before a keep-alive comment, so that proxies do not "
        "close a quiet connection.",
        _seconds,
    ),
    Setting(
        "events_max_seconds",
        "POLLWATCH_EVENTS_MAX_SECONDS",
        "Longest life of one live-feed connection; the browser reconnects where it left off "
        "(Last-Event-ID), which spreads long streams over server processes.",
        _seconds,
    ),
    Setting(
        "invite_ttl_hours",
        "POLLWATCH_INVITE_TTL_HOURS",
        "Hours an observer invite can be redeemed after it was created; later it answers "
        "410 'invite expired' (an unused invite lying around is likelier in the wrong hands).",
        _hours,
    ),
    Setting(
        "public_url",
        "POLLWATCH_PUBLIC_URL",
        "The address people reach the service at, e.g. `https://observe.example.org`. Invite "
        "links are built from it (never from a request's Host header); when it is https, "
        "every answer carries HSTS and cookies are `Secure`; form posts must come from it.",
        _public_url,
        default_text="none: links are built from the request",
    ),
    Setting(
        "trusted_proxies",
        "POLLWATCH_TRUSTED_PROXIES",
        "Comma-separated addresses or networks of reverse proxies whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` are believed (e.g. `127.0.0.1` for nginx on the same machine). "
        "From anyone else these headers are ignored.",
        _text,
        default_text="none",
    ),
    Setting(
        "observer_keep_sent",
        "POLLWATCH_OBSERVER_KEEP_SENT",
        "Sent reports the observer app keeps on the phone for reference, newest first "
        "(0 to 50). `0` keeps only a count: a seized phone then holds no report the server "
        "already has.",
        _keep_sent,
    ),
    Setting(
        "redis_url",
        "POLLWATCH_REDIS_URL",
        "`redis://HOST:6379/0`: count rate limits and failed logins in Redis instead of the "
        "database; every server process and machine must use the same one.",
        _text,
        default_text="none: limits are counted in the database",
    ),
    Setting(
        "metrics_from",
        "POLLWATCH_METRICS_FROM",
        "Comma-separated addresses or networks that may read `/metrics` without logging in "
        "(a Prometheus on the same machine or network); anyone else needs an admin's session.",
        _text,
    ),
    Setting(
        "public_delay_minutes",
        "POLLWATCH_PUBLIC_DELAY_MINUTES",
        "Minutes before a report may show in public figures (press page, public station "
        "status, public ledger head), 0 to 1440; times are also rounded to 10 minutes, so a "
        "watcher cannot tell where observers stand right now (docs/observe.md, 'What is "
        "public, when').",
        _minutes_of_a_day,
    ),
    Setting(
        "guide_tiles",
        "POLLWATCH_GUIDE_TILES",
        "Map tiles for the voter guide, served from our own origin at `/tiles/Z/X/Y.png`: a "
        "folder of `Z/X/Y.png` files, or a tile server URL with `{z}`, `{x}`, `{y}` that the "
        "server fetches and keeps in `POLLWATCH_HOME/tiles` (browsers never contact it).",
        _tiles,
        default_text="none: maps show the stations without a background",
    ),
    Setting(
        "telegram_token",
        "POLLWATCH_TELEGRAM_TOKEN",
        "The Telegram bot's token from @BotFather; `pollwatch bot` and the webhook need it. "
        "Keep it secret: whoever has it speaks as the bot.",
        _text,
        default_text="none: no bot",
    ),
    Setting(
        "telegram_api",
        "POLLWATCH_TELEGRAM_API",
        "Base address of the Bot API: Telegram's, a self-hosted Bot API server, or a test server.",
        _public_url,
    ),
    Setting(
        "telegram_webhook_secret",
        "POLLWATCH_TELEGRAM_WEBHOOK_SECRET",
        "Secret Telegram sends with every webhook call (`secret_token`, 16 to 256 characters "
        "A-Z a-z 0-9 _ -); when set, the web app answers Telegram at `/telegram/webhook` and "
        "refuses calls without it.",
        _webhook_secret,
        default_text="none: no webhook (use `pollwatch bot`, long polling)",
    ),
    Setting(
        "telegram_key",
        "POLLWATCH_TELEGRAM_KEY",
        "Random secret (at least 32 characters) from which the bot derives the key that "
        "hashes Telegram user ids and the key that encrypts stored chat ids. Changing it "
        "makes the bot forget every account.",
        _text,
        default_text="none: the bot refuses to start",
    ),
    Setting(
        "telegram_election",
        "POLLWATCH_TELEGRAM_ELECTION",
        "The election voters find stations of with `/where` and follow with `/follow`.",
        _text,
        default_text="none: the voters' commands are off",
    ),
    Setting(
        "telegram_alerts_chat",
        "POLLWATCH_TELEGRAM_ALERTS_CHAT",
        "The coordinators' Telegram group (its chat id, e.g. `-1001234567890`) where the bot "
        "posts each alert once (add the bot to the group first).",
        _chat_id,
        default_text="none: alerts are not posted to Telegram",
    ),
    Setting(
        "telegram_alerts_lang",
        "POLLWATCH_TELEGRAM_ALERTS_LANG",
        "The language of the alerts posted to the coordinators' Telegram group: `en`, `ru` or "
        "`sr`.",
        _interface_language,
    ),
)


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the public election data live: ``POLLWATCH_DATA``, else inside the home folder."""
    return load_settings(environ).data_dir


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting from the environment (or the mapping given).

    An empty variable counts as unset; a malformed one is an :class:`InputError` naming it.
    """
    env = os.environ if environ is None else environ
    values = {s.name: s.parse(env[s.env], s.env) for s in SETTINGS if env.get(s.env)}
    home = values.setdefault("home", DEFAULT_HOME)
    values.setdefault("data_dir", home / "datasets")
    return Settings(**values)
