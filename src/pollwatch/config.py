"""Settings: one typed, documented list, read from ``POLLWATCH_*`` environment variables.

Nothing is read at import time; call :func:`load_settings` where a setting is needed,
so tests and tools can pass their own environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SETTINGS", "Setting", "Settings", "default_data_dir", "load_settings"]


@dataclass(frozen=True)
class Setting:
    """One documented setting: environment variable, default and help text."""

    name: str
    env: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        "POLLWATCH_DATA",
        "../shared/data when it exists, else ./pollwatch-data/datasets",
        "Folder of public election data (ru/, uganda/), read-only; `pollwatch data fetch` "
        "downloads into it.",
    ),
    Setting(
        "home",
        "POLLWATCH_HOME",
        "./pollwatch-data",
        "Folder where pollwatch keeps its own files (reports, fetched data, opt-in counts).",
    ),
    Setting(
        "coach_stats",
        "POLLWATCH_COACH_STATS",
        "off",
        "`on` keeps anonymous counts of which coach arguments were asked (never the text).",
    ),
    Setting(
        "database_url",
        "POLLWATCH_DATABASE_URL",
        "sqlite:///pollwatch-data/pollwatch.db (inside POLLWATCH_HOME)",
        "Database of the observation service, for the server and every CLI command alike: "
        "`sqlite:///PATH` (embedded, WAL mode) or `postgresql+psycopg://USER@HOST/DB` for "
        "production and several server processes.",
    ),
    Setting(
        "rate_limit",
        "POLLWATCH_RATE_LIMIT",
        "600",
        "API requests per minute allowed per observer token; one network address gets 20 "
        "times as many (many observers share a carrier's address). `0` turns limiting off.",
    ),
    Setting(
        "invite_ttl_hours",
        "POLLWATCH_INVITE_TTL_HOURS",
        "72",
        "Hours an observer invite can be redeemed after it was created; later it answers "
        "410 'invite expired' (an unused invite lying around is likelier in the wrong hands).",
    ),
    Setting(
        "public_url",
        "POLLWATCH_PUBLIC_URL",
        "(none: links are built from the request)",
        "The address people reach the service at, e.g. `https://observe.example.org`. Invite "
        "links are built from it (never from a request's Host header); when it is https, "
        "every answer carries HSTS and cookies are `Secure`; form posts must come from it.",
    ),
    Setting(
        "trusted_proxies",
        "POLLWATCH_TRUSTED_PROXIES",
        "(none)",
        "Comma-separated addresses or networks of reverse proxies whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` are believed (e.g. `127.0.0.1` for nginx on the same machine). "
        "From anyone else these headers are ignored.",
    ),
    Setting(
        "observer_keep_sent",
        "POLLWATCH_OBSERVER_KEEP_SENT",
        "0",
        "Sent reports the observer app keeps on the phone for reference, newest first "
        "(0 to 50). `0` keeps only a count: a seized phone then holds no report the server "
        "already has.",
    ),
    Setting(
        "redis_url",
        "POLLWATCH_REDIS_URL",
        "unset (limits are counted in the database)",
        "`redis://HOST:6379/0`: count rate limits and failed logins in Redis instead of the "
        "database; every server process and machine must use the same one.",
    ),
)


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the public election data live: ``POLLWATCH_DATA``, else ``../shared/data``."""
    env = os.environ if environ is None else environ
    if env.get("POLLWATCH_DATA"):
        return Path(env["POLLWATCH_DATA"]).expanduser()
    shared = Path("../shared/data")
    if shared.is_dir():
        return shared.resolve()
    return Path(env.get("POLLWATCH_HOME", "pollwatch-data")) / "datasets"


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one process.

    ``database_url`` ``None`` means the SQLite file ``pollwatch.db`` inside ``home``
    (see :meth:`resolved_database_url`).
    """

    data_dir: Path
    home: Path
    coach_stats: bool = False
    database_url: str | None = None
    rate_limit: int = 600
    invite_ttl_hours: int = 72
    public_url: str | None = None
    trusted_proxies: str = ""
    observer_keep_sent: int = 0
    redis_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def resolved_database_url(self) -> str:
        """The database URL: the setting, else SQLite in the home folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'pollwatch.db'}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting from the environment (or the mapping given)."""
    env = os.environ if environ is None else environ
    return Settings(
        data_dir=default_data_dir(env),
        home=Path(env.get("POLLWATCH_HOME", "pollwatch-data")).expanduser(),
        coach_stats=env.get("POLLWATCH_COACH_STATS", "off").lower() in {"1", "on", "true", "yes"},
        database_url=env.get("POLLWATCH_DATABASE_URL") or None,
        rate_limit=_rate_limit(env.get("POLLWATCH_RATE_LIMIT", "600")),
        invite_ttl_hours=_invite_ttl_hours(env.get("POLLWATCH_INVITE_TTL_HOURS", "72")),
        public_url=_public_url(env.get("POLLWATCH_PUBLIC_URL", "")),
        trusted_proxies=env.get("POLLWATCH_TRUSTED_PROXIES", ""),
        observer_keep_sent=_observer_keep_sent(env.get("POLLWATCH_OBSERVER_KEEP_SENT", "0")),
        redis_url=env.get("POLLWATCH_REDIS_URL") or None,
    )


def _public_url(value: str) -> str | None:
    text = value.strip().rstrip("/")
    if not text:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        from pollwatch.errors import InputError

        raise InputError(
            f"POLLWATCH_PUBLIC_URL must be an http(s) address such as "
            f"https://observe.example.org; got {value[:100]!r} instead"
        )
    return text


def _rate_limit(value: str) -> int:
    try:
        limit = int(value)
    except ValueError:
        limit = -1
    if limit < 0:
        from pollwatch.errors import InputError

        raise InputError(
            f"POLLWATCH_RATE_LIMIT must be a whole number of requests per minute (0 = off); "
            f"got {value!r} instead"
        )
    return limit


def _invite_ttl_hours(value: str) -> int:
    try:
        hours = int(value)
    except ValueError:
        hours = 0
    if not 1 <= hours <= 24 * 365:
        from pollwatch.errors import InputError

        raise InputError(
            f"POLLWATCH_INVITE_TTL_HOURS must be a whole number of hours from 1 to 8760; "
            f"got {value!r} instead"
        )
    return hours


MAX_KEEP_SENT = 50
"""Most sent reports a phone may be told to keep: a reference list, not an archive."""


def _observer_keep_sent(value: str) -> int:
    try:
        keep = int(value)
    except ValueError:
        keep = -1
    if not 0 <= keep <= MAX_KEEP_SENT:
        from pollwatch.errors import InputError

        raise InputError(
            f"POLLWATCH_OBSERVER_KEEP_SENT must be a whole number from 0 to {MAX_KEEP_SENT}; "
            f"got {value!r} instead"
        )
    return keep
