"""Small helpers shared by the store modules: clock, hashing of secrets, JSON-safe values."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from pollwatch.observe.reports import format_timestamp

__all__ = ["as_utc", "format_stored", "new_secret", "secret_hash", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_secret() -> str:
    """A random 32-byte secret, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """SHA-256 hex of a random secret (token, invite code, session id).

    A fast hash is enough: the secrets carry 256 random bits, so there is nothing to
    brute-force (unlike passwords, which get argon2).
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite hands back naive values, stored in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_stored(moment: datetime | None) -> str | None:
    """A stored timestamp (or NULL) as the API writes times: ISO 8601 UTC, or None."""
    return None if moment is None else format_timestamp(as_utc(moment))
