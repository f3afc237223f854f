"""End-to-end: the real bot, fake Telegram, Navixy stand-in, SQLite on disk."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.sandbox import NavixySandbox
from tests.e2e import (
    ACTIVATION_CODES,
    IMEI,
    Installer,
    catalog_ready,
    make_settings,
    running_bot,
)
from tests.fakes.telegram import FakeTelegram

PLUGINS_NO_44 = [
    {
        "id": 37,
        "type": "tracker_register",
        "module": "x",
        "ui_module": "x",
        "filter": {
            "exclusion": True,
            "values": ["navixymobile.*", "mobile_unknown.*", "iosnavixytracker.*"],
        },
    },
    {
        "id": 68,
        "type": "tracker_register",
        "module": "x",
        "ui_module": "x",
        "filter": {"exclusion": False, "values": ["mobile_unknown.*"]},
    },
]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def sandbox_kwargs() -> dict[str, Any]:
    return {}


@pytest.fixture
async def sandbox(sandbox_kwargs: dict[str, Any]) -> AsyncIterator[NavixySandbox]:
    sb = NavixySandbox(activation_codes=ACTIVATION_CODES, **sandbox_kwargs)
    async with sb:
        yield sb


@pytest.fixture
async def bot(tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path) -> AsyncIterator[App]:
    key = sandbox.new_api_key()
    settings = make_settings(tg, sandbox.base_url, key, tmp_path / "bot.db")
    async with running_bot(settings) as app:
        await catalog_ready(app)
        yield app


def installer(tg: FakeTelegram, user_id: int = 100, *, lang: str = "en") -> Installer:
    user = tg.user(user_id, "Ivan", language_code=lang)
    return Installer(tg, user, tg.private_chat(user))


async def to_summary_fmb140(me: Installer, *, label: str = "AB 123 C") -> None:
    """The common path of a hardware registration, up to the summary card."""
    await me.send("/register", expect="Which device?")
    await me.send("fmb140", expect="Models matching")
    await me.tap("Teltonika FMB140", expect="IMEI")
    await me.send(IMEI, expect="Phone number")
    await me.send("+49 170 1234567", expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send(label, expect="Which group")
    await me.tap("Main office", expect="Check and register")


async def test_full_registration_in_nine_inputs(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    await to_summary_fmb140(me)
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
    assert not tg.errors
