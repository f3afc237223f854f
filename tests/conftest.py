"""Shared fixtures of the end-to-end tests: fake Telegram, the Navixy stand-in, the bot.

Override `sandbox_kwargs` in a module or test (e.g. with `pytest.mark.parametrize` or a
module-level fixture) to start the stand-in with other plugins, groups or limits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.sandbox import NavixySandbox
from tests.e2e import (
    ACTIVATION_CODES,
    catalog_ready,
    installer,
    make_settings,
    running_bot,
    to_summary_fmb140,
)
from tests.fakes.telegram import FakeTelegram

__all__ = ["bot", "installer", "sandbox", "sandbox_kwargs", "tg", "to_summary_fmb140"]


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
