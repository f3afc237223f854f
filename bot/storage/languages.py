"""The language each user speaks: picked with /language, else their Telegram app's.

One row per user who has talked to the bot. The whole table is held in memory (one
short row per installer or admin), so reading a language is synchronous: the watch
renders and the admin escalation need it outside any update. Writes go through to
SQLite at once, and only when something changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.storage.db import Database


@dataclass(frozen=True)
class UserLanguage:
    chosen: str | None = None  # picked with /language; None follows Telegram
    telegram: str | None = None  # the last `language_code` Telegram sent for the user

    @property
    def code(self) -> str | None:
        return self.chosen or self.telegram


class LanguageStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._rows: dict[int, UserLanguage] = {}

    async def load(self) -> None:
        rows = await self._db.fetchall("SELECT user_id, chosen, telegram FROM user_languages")
        self._rows = {r["user_id"]: UserLanguage(r["chosen"], r["telegram"]) for r in rows}

    def get(self, user_id: int) -> UserLanguage:
        return self._rows.get(user_id, UserLanguage())

    def language_of(self, user_id: int) -> str | None:
        """The user's language code (chosen, else Telegram's), None if never seen."""
        return self.get(user_id).code

    async def seen(self, user_id: int, telegram: str | None) -> None:
        """Remember the `language_code` an update carried (Telegram omits it sometimes)."""
        if not telegram:
            return
        old = self.get(user_id)
        if old.telegram == telegram:
            return
        await self._write(user_id, UserLanguage(old.chosen, telegram))

    async def choose(self, user_id: int, language: str | None) -> None:
        """Pick a language for the user (None: follow Telegram again)."""
        old = self.get(user_id)
        if old.chosen == language:
            return
        await self._write(user_id, UserLanguage(language, old.telegram))

    async def _write(self, user_id: int, value: UserLanguage) -> None:
        await self._db.execute(
            "INSERT INTO user_languages (user_id, chosen, telegram, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            "chosen = excluded.chosen, telegram = excluded.telegram, "
            "updated_at = excluded.updated_at",
            (user_id, value.chosen, value.telegram, datetime.now(UTC).isoformat()),
        )
        self._rows[user_id] = value
