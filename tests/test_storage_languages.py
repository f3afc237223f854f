"""bot/storage/languages.py against a real SQLite file (the user_languages migration)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.storage.db import Database
from bot.storage.languages import LanguageStore, UserLanguage
from bot.storage.migrations import MIGRATIONS

T = 10


async def test_choice_and_telegram_language_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with asyncio.timeout(T), await Database.open(path) as db:
        assert db.schema_version == len(MIGRATIONS)
        store = LanguageStore(db)
        await store.load()
        assert store.language_of(7) is None
        await store.seen(7, "pt-br")
        assert store.language_of(7) == "pt-br"
        await store.choose(7, "ru")
        await store.seen(7, "en")  # the app's language changed: the choice still wins
        assert store.get(7) == UserLanguage(chosen="ru", telegram="en")
        assert store.language_of(7) == "ru"
        await store.seen(8, None)  # Telegram sent no language: nothing to store
        await store.seen(9, "es-419")
    async with asyncio.timeout(T), await Database.open(path) as db:
        store = LanguageStore(db)
        await store.load()
        assert store.language_of(7) == "ru"
        assert store.language_of(8) is None
        assert store.language_of(9) == "es-419"
        await store.choose(7, None)  # "as my Telegram app"
        assert store.language_of(7) == "en"
        rows = await db.fetchall("SELECT user_id, chosen, telegram FROM user_languages")
        assert [tuple(r) for r in rows] == [(7, None, "en"), (9, None, "es-419")]


async def test_an_unchanged_language_is_not_written_again(tmp_path: Path) -> None:
    async with asyncio.timeout(T), await Database.open(tmp_path / "bot.db") as db:
        store = LanguageStore(db)
        await store.load()
        await store.seen(7, "tr")
        before = await db.fetchone("SELECT updated_at FROM user_languages")
        await store.seen(7, "tr")
        await store.choose(7, None)
        after = await db.fetchone("SELECT updated_at FROM user_languages")
        assert before is not None and after is not None
        assert before["updated_at"] == after["updated_at"]
