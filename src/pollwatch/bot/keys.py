"""The bot's two secrets, derived from one key in the environment.

``POLLWATCH_TELEGRAM_KEY`` (at least 32 characters; ``python -c "import secrets;
print(secrets.token_urlsafe(32))"``) is stretched with HKDF-SHA256 (RFC 5869) into:

* a MAC key: an account is known by ``HMAC-SHA256(key, user id)``, so the database never
  holds a Telegram user id, and a stolen database cannot be matched against a list of ids
  without the key;
* an AES-256-GCM key: the chat id, which sending needs, is stored encrypted with a random
  96-bit nonce (NIST SP 800-38D); a changed key makes stored chats unreadable (they are
  then dropped, as if the people had sent /forget), never wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pollwatch.errors import InputError

__all__ = ["MIN_KEY_LENGTH", "BotKeys"]

MIN_KEY_LENGTH = 32
"""Shortest key accepted (characters of a random token: ≥ 190 bits)."""


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True, repr=False)
class BotKeys:
    """Hash user ids and seal chat ids. Build with :meth:`from_secret`."""

    mac_key: bytes
    aead_key: bytes

    @classmethod
    def from_secret(cls, secret: str | None) -> BotKeys:
        """Both keys from ``POLLWATCH_TELEGRAM_KEY``; InputError if missing or short."""
        if not secret or len(secret) < MIN_KEY_LENGTH:
            raise InputError(
                f"POLLWATCH_TELEGRAM_KEY must be a random secret of at least {MIN_KEY_LENGTH} "
                'characters (python -c "import secrets; print(secrets.token_urlsafe(32))")',
                column="POLLWATCH_TELEGRAM_KEY",
            )
        raw = secret.encode("utf-8")
        return cls(_derive(raw, b"pollwatch telegram user ids"), _derive(raw, b"pollwatch chats"))

    def user_hash(self, user_id: int) -> str:
        """The keyed hash an account is stored under (64 hex characters)."""
        return hmac.new(self.mac_key, str(int(user_id)).encode(), hashlib.sha256).hexdigest()

    def seal_chat(self, chat_id: int) -> bytes:
        """The chat id encrypted: nonce (12 bytes) + ciphertext and tag."""
        nonce = os.urandom(12)
        return nonce + AESGCM(self.aead_key).encrypt(nonce, str(int(chat_id)).encode(), b"chat")

    def open_chat(self, sealed: bytes) -> int | None:
        """The chat id, or None if it was sealed with another key or altered."""
        try:
            plain = AESGCM(self.aead_key).decrypt(sealed[:12], sealed[12:], b"chat")
        except (InvalidTag, ValueError):
            return None
        return int(plain.decode())

    def __repr__(self) -> str:
        return "BotKeys(<hidden>)"
