"""Shared fixtures: a database file (`db`), and for the end-to-end tests fake Telegram,
the Navixy stand-in and the bot. Shared helpers: tests/helpers.py (`FakeClock`) and
tests/e2e.py (the installer's chat: `to_summary`, `register`, ...).

Override `sandbox_kwargs` in a module or test (e.g. with `pytest.mark.parametrize` or a
module-level fixture) to start the stand-in with other plugins, groups or limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.sandbox import NavixySandbox
from bot.storage.db import Database
from tests.e2e import (
    ACTIVATION_CODES,
    catalog_ready,
    installer,
    make_settings,
    running_bot,
    to_summary,
)
from tests.fakes.telegram import FakeTelegram

__all__ = ["bot", "db", "installer", "sandbox", "sandbox_kwargs", "tg", "to_summary"]

T = 10  # seconds: bound for opening and closing the database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database file (migrated), closed after the test."""
    async with asyncio.timeout(T):
        database = await Database.open(tmp_path / "bot.db")
    try:
        yield database
    finally:
        async with asyncio.timeout(T):
            await database.close()


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def sandbox_kwargs() -> dict[str, Any]:
    return {}


@pytest.fixture
async def sandbox(sandbox_kwargs: dict[str, Any]) -> AsyncIterator[NavixySandbox]:
    kwargs = {"activation_codes": ACTIVATION_CODES, **sandbox_kwargs}
    async with NavixySandbox(**kwargs) as sb:
        yield sb


@pytest.fixture
async def bot(tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path) -> AsyncIterator[App]:
    key = sandbox.new_api_key()
    settings = make_settings(tg, sandbox.base_url, key, tmp_path / "bot.db")
    async with running_bot(settings) as app:
        await catalog_ready(app)
        yield app
