"""End-to-end: the real bot, fake Telegram, Navixy stand-in, SQLite on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import App
from bot.sandbox import NavixySandbox
from tests.e2e import (
    IMEI,
    PLUGINS_NO_44,
    catalog_ready,
    command_menus_set,
    installer,
    running_bot,
    to_summary,
)
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.e2e

# The fixtures `tg`, `sandbox_kwargs`, `sandbox` and `bot` live in tests/conftest.py;
# `installer`, `to_summary` and `PLUGINS_NO_44` in tests/e2e.py (re-exported here).
__all__ = ["PLUGINS_NO_44", "installer", "to_summary"]


async def test_full_registration_in_nine_inputs(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    await to_summary(me)
    card = me.last()
    assert "356938035643809" in (card.text or "")
    assert "internet.telekom" in (card.text or "")
    done = await me.tap("✅ Register", expect="Registered", on=card, new_message=False)
    calls = sandbox.calls_to("tracker/register")
    assert len(calls) == 1
    params = calls[0].params
    assert params["model"] == "telfmb140"
    assert params["plugin_id"] == 44
    assert params["device_id"] == IMEI
    assert params["phone"] == "491701234567"
    assert params["apn_name"] == "internet.telekom"
    assert params["label"] == "AB 123 C"
    assert params["group_id"] == 129301
    tracker = next(iter(sandbox.trackers.values()))
    assert f"Tracker ID: {tracker.id}" in (done.text or "")
    assert tg.inputs[me.user.id] == 9
    await command_menus_set(tg)
    assert tg.my_commands() == ["register", "cancel", "pending", "language", "help"]
    assert not tg.errors


async def test_sandbox_mode_runs_the_stand_in_in_process(tg: FakeTelegram, tmp_path: Path) -> None:
    """NAVIXY_API_URL=sandbox: the bot starts the Navixy stand-in itself, with the real models."""
    from bot.config import load_settings

    settings = load_settings(
        _env_file=None,
        bot_token=tg.token,
        telegram_api_url=tg.url,
        navixy_api_url="sandbox",
        database_path=tmp_path / "bot.db",
        installer_ids="100",
    )
    async with running_bot(settings) as app:
        await catalog_ready(app)
        me = installer(tg)
        await to_summary(me)
        done = await me.tap("✅ Register", expect="Registered", on=me.last(), new_message=False)
        assert "Tracker ID: " in (done.text or "")
        sandbox: NavixySandbox = app.bot_data["sandbox"]
        assert len(sandbox.trackers) == 1
        assert len(app.bot_data["services"].catalog.index) == 73
