"""End-to-end: the real bot, fake Telegram, Navixy stand-in, SQLite on disk."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.app import App
from bot.sandbox import NavixySandbox
from tests.e2e import (
    CARD,
    IMEI,
    PHONE_DE,
    PLUGINS_NO_44,
    REGISTER,
    catalog_ready,
    command_menus_set,
    installer,
    make_settings,
    register,
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


#: Bot API calls outside Telegram's message limits (as `python -m bench load` counts them).
RATE_EXEMPT = frozenset({"getupdates", "answercallbackquery", "answerinlinequery", "getme"})


async def test_a_registration_costs_one_bot_api_call_per_step(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    """Nine inputs, nine rate-limited calls in a private chat: a tap edits the tapped
    message into the value chosen and the next question; Register edits the card once,
    into the result, which is also the watch's status message (issue 11, item 3)."""
    me = installer(tg)
    first = len(tg.requests)
    await me.send("/register", expect="Which device?")
    models = await me.send("fmb140", expect="Models matching")
    imei = await me.tap("Teltonika FMB140", expect="Send the IMEI")
    assert imei.message_id == models.message_id  # the list became the next question
    assert (imei.text or "").startswith("Model: Teltonika FMB140\n\nSend the IMEI")
    assert imei.buttons() == []
    await me.send(IMEI, expect="Phone number")
    apn = await me.send(PHONE_DE, expect="APN")
    label = await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    assert label.message_id == apn.message_id
    assert "✅ Use Deutsche Telekom: internet.telekom\n\nName for this tracker" in (
        label.text or ""
    )
    assert label.buttons() == []
    group = await me.send("AB 123 C", expect="Which group")
    card = await me.tap("Main office", expect=CARD)
    assert card.message_id == group.message_id
    assert "✅ Main office" in (card.text or "")
    assert card.button_texts()[0] == REGISTER
    done = await register(me, card, expect="Waiting for the first connection")
    assert done.message_id == card.message_id  # result and status: the card, edited once
    assert "Tracker ID: " in (done.text or "") and "Registering" not in (done.text or "")
    assert "🔄 Check now" in done.button_texts()
    await tg.wait_idle()

    limited = [c for c in tg.requests[first:] if c.method.lower() not in RATE_EXEMPT]
    assert Counter(c.method for c in limited) == {"sendMessage": 5, "editMessageText": 4}
    assert len(tg.calls("answerCallbackQuery")) == 4
    assert all(c.ok for c in limited)
    assert len(tg.messages(me.chat)) == 5
    assert not tg.errors


async def test_a_tapped_message_that_cannot_be_edited_gets_the_question_as_a_new_message(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    """The edit into the next question fails (the message is too old, say): the question
    comes as a new message; the installer is never left without it."""
    from tests.fakes.faulty_telegram import FaultyTelegram, TgError

    async with FaultyTelegram(tg) as proxy:
        settings = make_settings(tg, sandbox.base_url, sandbox.new_api_key(), tmp_path / "b.db")
        settings = settings.model_copy(update={"telegram_api_url": proxy.url})
        async with running_bot(settings) as app:
            await catalog_ready(app)
            me = installer(tg)
            await me.send("/register", expect="Which device?")
            models = await me.send("fmb140", expect="Models matching")
            proxy.inject("editMessageText", TgError(400))
            imei = await me.tap("Teltonika FMB140", expect="Send the IMEI")
            assert imei.message_id > models.message_id
            assert proxy.total == 1
            await me.send(IMEI, expect="Phone number")
    assert not tg.errors
