"""End-to-end: every registration path, as the installer sees it.

The real bot (bot.app) long-polls the fake Telegram server and talks to the Navixy
stand-in; each test asserts the messages and buttons the installer got and the exact
Navixy calls the stand-in received. Fixtures: tests/conftest.py; helpers: tests/e2e.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.app import App
from bot.sandbox import DropBeforeCommit, ErrorFault, NavixySandbox, RawHttp
from tests.e2e import (
    ACTIVATION_CODES,
    IMEI,
    IMEI_2,
    PHONE_DE,
    PLUGINS_NO_44,
    STRANGER_ID,
    Installer,
    installer,
    to_summary_fmb140,
)
from tests.fakes.telegram import BotMessage, FakeTelegram

CARD = "Check and register"
REGISTER = "✅ Register"
MOBILE = "📱 X-GPS mobile app"
CODE = ACTIVATION_CODES[0]
PHONE_2 = "+49 170 7654321"  # another Telekom number
NO_44 = pytest.mark.parametrize("sandbox_kwargs", [{"plugins": PLUGINS_NO_44}])


def text_of(message: BotMessage) -> str:
    return message.text or ""


def only_call(sandbox: NavixySandbox, action: str = "tracker/register") -> dict[str, Any]:
    calls = sandbox.calls_to(action)
    assert len(calls) == 1, [c.params for c in calls]
    return calls[0].params


async def to_summary(
    me: Installer,
    *,
    imei: str = IMEI,
    phone: str = PHONE_DE,
    label: str = "AB 123 C",
    code: str | None = None,
) -> BotMessage:
    """/register .. the card for a Teltonika FMB140 (plugin 44, or 37 with `code`)."""
    await me.send("/register", expect="Which device?")
    await me.send("fmb140", expect="Models matching")
    await me.tap("Teltonika FMB140", expect="IMEI")
    await me.send(imei, expect="Phone number")
    await me.send(phone, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send(label, expect="Which group")
    if code is None:
        return await me.tap("Main office", expect=CARD)
    await me.tap("Main office", expect="Activation code")
    return await me.send(code, expect=CARD)


async def register(me: Installer, card: BotMessage, expect: str) -> BotMessage:
    """Tap Register on the card; the card itself is edited with the outcome."""
    return await me.tap(REGISTER, on=card, expect=expect, new_message=False)


async def tap_expect_stale(tg: FakeTelegram, me: Installer, message: BotMessage, button: str) -> str:
    query_id = await tg.press_button(me.user, me.chat, message.message_id, button)
    answer = await tg.wait_for_callback_answer(query_id)
    return str(answer["text"] or "")


# --- 1. plugin 37: activation code ---------------------------------------------------------


@NO_44
async def test_plugin_37_asks_for_the_code_and_hides_it(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me, code=CODE)

    # The installer's message with the code is gone, and the card shows it masked.
    code_messages = [m for m in tg.user_messages(me.chat) if m.get("text") == CODE]
    assert len(code_messages) == 1
    deleted = [c.params["message_id"] for c in tg.calls("deleteMessage") if c.ok]
    assert code_messages[0]["message_id"] in deleted
    assert "Activation code:" in text_of(card)
    assert "••••" in text_of(card)
    assert all(CODE not in text_of(m) for m in tg.messages(me.chat))

    done = await register(me, card, "Registered")
    params = only_call(sandbox)
    assert params["plugin_id"] == 37
    assert params["activation_code"] == CODE
    assert params["device_id"] == IMEI
    assert CODE not in text_of(done)
    assert len(sandbox.trackers) == 1
    assert not tg.errors


# --- 2. the mobile app ---------------------------------------------------------------------


async def test_mobile_app_plugin_35(tg: FakeTelegram, sandbox: NavixySandbox, bot: App) -> None:
    me = installer(tg)
    await me.send("/register", expect="Which device?")
    await me.tap(MOBILE, expect="Name for this tracker")
    await me.send("Driver Anna", expect="Which group")
    await me.tap("Vans", expect="Phone number to text the app invitation")
    await me.tap("Skip", expect="E-mail address")
    card = await me.send("anna@example.com", expect=CARD)
    assert "Device ID" not in text_of(card)  # nothing to type: the platform assigns it
    assert "Invite by e-mail: anna@example.com" in text_of(card)
    assert "Invite by SMS" not in text_of(card)

    done = await register(me, card, "Registered")
    params = only_call(sandbox)
    assert params["model"] == "mobile_unknown_xgps"
    assert params["plugin_id"] == 35
    assert params["label"] == "Driver Anna"
    assert params["group_id"] == 129302
    assert params["notification_email"] == "anna@example.com"
    for absent in ("device_id", "phone", "apn_name", "apn_user", "apn_password"):
        assert absent not in params
    assert "notification_phone" not in params
    assert "activation_code" not in params

    tracker = next(iter(sandbox.trackers.values()))
    assert re.fullmatch(r"\d{12}", tracker.device_id)
    assert f"Tracker ID: {tracker.id}" in text_of(done)
    assert f"identifier for the X-GPS Tracker app: {tracker.device_id}" in text_of(done)
    assert not tg.errors


@NO_44
async def test_mobile_app_plugin_68_asks_for_the_code(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    await me.send("/register", expect="Which device?")
    await me.tap(MOBILE, expect="Name for this tracker")
    await me.send("Driver Boris", expect="Which group")
    await me.tap("No group", expect="Phone number to text the app invitation")
    await me.send("+49 170 5550123", expect="E-mail address")
    await me.tap("Skip", expect="Activation code")
    card = await me.send(ACTIVATION_CODES[1], expect=CARD)
    assert "Invite by SMS: +49 170 5550123" in text_of(card)
    assert ACTIVATION_CODES[1] not in text_of(card)

    await register(me, card, "Registered")
    params = only_call(sandbox)
    assert params["plugin_id"] == 68
    assert params["activation_code"] == ACTIVATION_CODES[1]
    assert params["notification_phone"] == "491705550123"
    assert params["group_id"] == 0
    assert "device_id" not in params and "phone" not in params
    assert not tg.errors


# --- 3. tracker/register errors ------------------------------------------------------------


async def test_error_7_device_id_asks_the_id_again(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    fault = ErrorFault(7, errors=[{"parameter": "device_id", "error": "device not on file"}])
    sandbox.inject("tracker/register", fault)
    after = me.last().message_id
    await me.tap(REGISTER, on=card, new_message=False, expect="Navixy rejected a value")
    edited = await tg.wait_for_edit(me.chat, card.message_id, lambda m: m.reply_markup is None)
    assert "Navixy rejected a value: device not on file" in text_of(edited)
    question = await tg.wait_for_message(me.chat, after=after)
    assert "Send the IMEI" in text_of(question)

    card2 = await me.send(IMEI_2, expect=CARD)
    assert IMEI_2 in text_of(card2)
    assert "internet.telekom" in text_of(card2)  # the other answers are kept
    await register(me, card2, "Registered")
    calls = sandbox.calls_to("tracker/register")
    assert [c.params["device_id"] for c in calls] == [IMEI, IMEI_2]
    assert [t.device_id for t in sandbox.trackers.values()] == [IMEI_2]
    assert not tg.errors


async def test_error_7_phone_asks_the_phone_again(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    fault = ErrorFault(7, errors=[{"parameter": "phone", "error": "not a mobile number"}])
    sandbox.inject("tracker/register", fault)
    await register(me, card, "Navixy rejected a value: not a mobile number")
    question = await tg.wait_for_message(me.chat, lambda m: "Phone number" in text_of(m))
    assert question.message_id > card.message_id
    await me.send(PHONE_2, expect="APN")  # another SIM: its APN is looked up again
    card2 = await me.tap("Use Deutsche Telekom: internet.telekom", expect=CARD)
    assert "+49 170 7654321" in text_of(card2)
    await register(me, card2, "Registered")
    calls = sandbox.calls_to("tracker/register")
    assert [c.params["phone"] for c in calls] == ["491701234567", "491707654321"]
    assert len(sandbox.trackers) == 1
    assert not tg.errors


@pytest.mark.parametrize("sandbox_kwargs", [{"rights": ()}])
async def test_error_13_no_right_to_register(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    done = await register(me, card, "not allowed to register devices")
    assert REGISTER in done.button_texts()  # the card stays: tap Register once fixed
    assert "✏️ Edit" in done.button_texts()
    assert sandbox.calls_to("tracker/register")[0].response is not None
    assert not sandbox.trackers
    assert not tg.errors


async def test_error_204_group_gone_asks_the_group_again(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    sandbox.inject("tracker/register", ErrorFault(204))
    await register(me, card, "That group no longer exists")
    question = await tg.wait_for_message(me.chat, lambda m: "Which group" in text_of(m))
    assert question.button_texts() == ["Main office", "Vans", "No group"]
    group_lists = len(sandbox.calls_to("tracker/group/list"))
    card2 = await me.tap("Vans", on=question, expect=CARD)
    assert "Group:</b> Vans" in (card2.raw.get("text") or "") or "Group: Vans" in text_of(card2)
    await register(me, card2, "Registered")
    calls = sandbox.calls_to("tracker/register")
    assert [c.params["group_id"] for c in calls] == [129301, 129302]
    assert group_lists >= 2  # the group list was fetched again, not served from the cache
    assert not tg.errors


async def test_error_220_unknown_model_asks_the_model_again(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    sandbox.inject("tracker/register", ErrorFault(220))
    await register(me, card, "Navixy does not know this model")
    await tg.wait_for_message(me.chat, lambda m: "Which device?" in text_of(m))
    await me.send("fmb920", expect="Models matching")
    card2 = await me.tap("Teltonika FMB920", expect=CARD)  # the other answers still apply
    assert IMEI in text_of(card2)
    assert "Teltonika FMB920" in text_of(card2)
    await register(me, card2, "Registered")
    calls = sandbox.calls_to("tracker/register")
    assert [c.params["model"] for c in calls] == ["telfmb140", "telfmb920"]
    assert calls[1].params["device_id"] == IMEI
    assert not tg.errors


@pytest.mark.parametrize("sandbox_kwargs", [{"device_limit": 0}])
async def test_error_221_device_limit(tg: FakeTelegram, sandbox: NavixySandbox, bot: App) -> None:
    me = installer(tg)
    card = await to_summary(me)
    done = await register(me, card, "device limit")
    assert REGISTER in done.button_texts()
    assert sandbox.calls_to("tracker/register")[0].response["status"]["code"] == 221  # type: ignore[index]
    assert not sandbox.trackers
    assert not tg.errors


async def test_error_222_plugin_refused_refreshes_the_plugins(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    plugin_lists = len(sandbox.calls_to("plugin/list"))
    sandbox.inject("tracker/register", ErrorFault(222))
    done = await register(me, card, "refused the registration method")
    assert len(sandbox.calls_to("plugin/list")) == plugin_lists + 1
    assert REGISTER in done.button_texts()
    await register(me, done, "Registered")
    assert len(sandbox.calls_to("tracker/register")) == 2
    assert len(sandbox.trackers) == 1
    assert not tg.errors


async def test_error_223_phone_in_use_asks_the_phone_again(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    first = await to_summary(me, label="First")
    await register(me, first, "Registered")

    card = await to_summary(me, imei=IMEI_2, label="Second")  # the same SIM number
    await register(me, card, "already used by another tracker")
    await tg.wait_for_message(me.chat, lambda m: "Phone number" in text_of(m))
    await me.send(PHONE_2, expect="APN")
    card2 = await me.tap("Use Deutsche Telekom: internet.telekom", expect=CARD)
    await register(me, card2, "Registered")
    codes = [
        c.response["status"]["code"] if c.http_status != 200 else 0  # type: ignore[index]
        for c in sandbox.calls_to("tracker/register")
    ]
    assert codes == [0, 223, 0]
    assert sorted(t.phone or "" for t in sandbox.trackers.values()) == [
        "491701234567",
        "491707654321",
    ]
    assert not tg.errors


async def test_error_224_device_in_another_account(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    sandbox.preregister(IMEI)
    me = installer(tg)
    card = await to_summary(me)
    done = await register(me, card, "already registered on Navixy")
    assert "Nothing was created" in text_of(done)
    assert done.button_texts() == ["Change device ID", "Cancel"]
    assert not sandbox.trackers

    await me.tap("Change device ID", on=done, expect="Send the IMEI")
    card2 = await me.send(IMEI_2, expect=CARD)
    await register(me, card2, "Registered")
    assert [t.device_id for t in sandbox.trackers.values()] == [IMEI_2]
    assert not tg.errors


async def test_error_224_device_in_this_account_names_the_tracker(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    first = await to_summary(me, label="Truck 7")
    await register(me, first, "Registered")
    existing = next(iter(sandbox.trackers.values()))

    card = await to_summary(me, phone=PHONE_2, label="Truck 8")  # the same IMEI again
    done = await register(me, card, "already registered in your account")
    assert f"as “Truck 7” (tracker ID {existing.id})" in text_of(done)
    assert "Nothing new was created" in text_of(done)
    assert len(sandbox.trackers) == 1
    assert not tg.errors


@pytest.mark.parametrize("sandbox_kwargs", [{"legal_type_allowed": False}])
async def test_error_225_legal_type(tg: FakeTelegram, sandbox: NavixySandbox, bot: App) -> None:
    me = installer(tg)
    card = await to_summary(me)
    done = await register(me, card, "tariff is not available for the account's legal type")
    assert REGISTER in done.button_texts()
    assert not sandbox.trackers
    assert not tg.errors


async def test_error_226_wrong_iccid(tg: FakeTelegram, sandbox: NavixySandbox, bot: App) -> None:
    me = installer(tg)
    card = await to_summary(me)
    sandbox.inject("tracker/register", ErrorFault(226))
    done = await register(me, card, "does not recognise the SIM card's ICCID")
    assert REGISTER in done.button_texts()
    assert not sandbox.trackers
    assert not tg.errors


@NO_44
async def test_error_227_wrong_code_asks_the_code_again(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me, code="999999")  # well-formed, but not a code of the dealer
    await register(me, card, "activation code is wrong or already used")
    await tg.wait_for_message(me.chat, lambda m: "Activation code from your dealer" in text_of(m))
    card2 = await me.send(ACTIVATION_CODES[2], expect=CARD)
    await register(me, card2, "Registered")
    calls = sandbox.calls_to("tracker/register")
    assert [c.params["activation_code"] for c in calls] == ["999999", ACTIVATION_CODES[2]]
    assert len(sandbox.trackers) == 1
    # Both code messages were deleted from the chat.
    deleted = {c.params["message_id"] for c in tg.calls("deleteMessage") if c.ok}
    codes = [m for m in tg.user_messages(me.chat) if m.get("text") in ("999999", ACTIVATION_CODES[2])]
    assert len(codes) == 2 and {m["message_id"] for m in codes} <= deleted
    assert not tg.errors


async def test_error_258_no_bundle(tg: FakeTelegram, sandbox: NavixySandbox, bot: App) -> None:
    me = installer(tg)
    card = await to_summary(me)
    sandbox.inject("tracker/register", ErrorFault(258))
    done = await register(me, card, "no bundle for this device ID")
    assert done.button_texts() == ["Change device ID", "Cancel"]
    await me.tap("Change device ID", on=done, expect="Send the IMEI")
    card2 = await me.send(IMEI_2, expect=CARD)
    await register(me, card2, "Registered")
    assert [t.device_id for t in sandbox.trackers.values()] == [IMEI_2]
    assert not tg.errors


@pytest.mark.parametrize("fault", [RawHttp(502), DropBeforeCommit()], ids=["502", "dropped"])
async def test_no_answer_offers_retry_and_registers_once(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App, fault: RawHttp | DropBeforeCommit
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    sandbox.inject("tracker/register", fault)
    done = await register(me, card, "Navixy did not answer")
    assert done.button_texts() == ["🔁 Retry", "✏️ Edit", "Cancel"]
    assert not sandbox.trackers
    assert sandbox.calls_to("tracker/list")  # checked before offering the retry

    ok = await me.tap("🔁 Retry", on=done, expect="Registered", new_message=False)
    calls = sandbox.calls_to("tracker/register")
    assert len(calls) == 2
    assert calls[0].params == calls[1].params  # the same registration, sent again
    assert len(sandbox.trackers) == 1
    tracker = next(iter(sandbox.trackers.values()))
    assert f"Tracker ID: {tracker.id}" in text_of(ok)
    assert not tg.errors
