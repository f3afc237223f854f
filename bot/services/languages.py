"""The language each user is answered in, as the chat side asks for it.

The rule (a language picked with /language, else the one the Telegram app sends) and
the in-memory table live in `bot.storage.languages.LanguageStore`; this service is
what handlers and the watch view get, so that they never hold a store.
"""

from __future__ import annotations

from bot.storage.db import Database
from bot.storage.languages import LanguageStore, UserLanguage

__all__ = ["Languages", "UserLanguage"]


class Languages:
    def __init__(self, store: LanguageStore) -> None:
        self._store = store

    @classmethod
    async def load(cls, db: Database) -> Languages:
        """At start-up: everyone's language, before any update or watch message."""
        store = LanguageStore(db)
        await store.load()
        return cls(store)

    def get(self, user_id: int) -> UserLanguage:
        return self._store.get(user_id)

    def language_of(self, user_id: int) -> str | None:
        """The user's language code (chosen, else Telegram's), None if never seen."""
        return self._store.language_of(user_id)

    async def seen(self, user_id: int, telegram: str | None) -> None:
        """Remember the `language_code` an update carried."""
        await self._store.seen(user_id, telegram)

    async def choose(self, user_id: int, language: str | None) -> None:
        """Pick a language for the user (None: follow Telegram again)."""
        await self._store.choose(user_id, language)
