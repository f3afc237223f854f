"""Sealing secrets (APN password, activation code) in the stored conversation draft.

The draft must survive a crash, so it is written to SQLite after every step; the
secrets in it are encrypted (Fernet: AES-128-CBC + HMAC-SHA256) with a key
derived from the bot token, so the database file alone does not reveal them. A
draft sealed under another token simply loses its secrets: the bot asks again.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

PREFIX = "sealed:"


class SecretBox:
    def __init__(self, key_material: str) -> None:
        digest = hashlib.sha256(b"installer-bot draft secrets\0" + key_material.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, value: str) -> str:
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str | None:
        """The secret, or None when it can't be opened (other key, damaged)."""
        if not sealed.startswith(PREFIX):
            return None
        try:
            return self._fernet.decrypt(sealed.removeprefix(PREFIX).encode()).decode()
        except (InvalidToken, ValueError):
            return None
