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
from bot.telegram.context import SERVICES_KEY, Services
from tests.e2e import (
    ACTIVATION_CODES,
    CARD,
    IMEI,
    IMEI_2,
    PHONE_DE,
    PLUGINS_NO_44,
    REGISTER,
    STRANGER_ID,
    Installer,
    installer,
    register,
    to_imei_step,
    to_summary,
)
from tests.fakes.telegram import BotMessage, FakeChat, FakeTelegram, FakeUser

pytestmark = pytest.mark.e2e

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


async def tap_expect_stale(
    tg: FakeTelegram, me: Installer, message: BotMessage, button: str
) -> str:
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
    edited = await register(me, card, "Navixy rejected a value")
    assert "Navixy rejected a value.\nNavixy says:\ndevice not on file" in text_of(edited)
    assert edited.button_texts() == []  # the question follows as a new message
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
    rejected = await register(me, card, "Navixy rejected a value.")
    assert "not a mobile number" in text_of(rejected)
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
    assert sandbox.calls_to("tracker/register")[0].response["status"]["code"] == 13  # type: ignore[index]
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
    assert "Group: Vans" in text_of(card2)
    await register(me, card2, "Registered")
    calls = sandbox.calls_to("tracker/register")
    assert [c.params["group_id"] for c in calls] == [129301, 129302]
    assert group_lists >= 2  # the group list was fetched again, not served from the cache
    assert not tg.errors


async def test_group_tap_needs_no_group_list(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    """The tapped button names the group: no tracker/group/list call, so an outage of it
    (or an emptied cache) can't turn the tap into an error."""
    me = installer(tg)
    await to_imei_step(me)
    await me.send(IMEI, expect="Phone number")
    await me.send(PHONE_DE, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    question = await me.send("AB 123 C", expect="Which group")
    svc: Services = bot.bot_data[SERVICES_KEY]
    svc.catalog.forget_groups()
    sandbox.inject("tracker/group/list", ErrorFault(13), times=10)
    group_lists = len(sandbox.calls_to("tracker/group/list"))
    card = await me.tap("Vans", on=question, expect=CARD)
    assert "Group: Vans" in text_of(card)
    assert len(sandbox.calls_to("tracker/group/list")) == group_lists
    assert not tg.errors


async def test_forged_field_button_is_ignored(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    """Callback data comes from the client: a field the card does not offer changes nothing."""
    me = installer(tg)
    card = await to_summary(me)
    data = card.button_data(REGISTER).replace("|register", "|field:summary")
    query_id = await tg.press(me.user, me.chat, card.message_id, data, forged=True)
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_idle()
    assert not [m for m in tg.messages(me.chat) if "went wrong" in text_of(m)]
    await register(me, card, "Registered")
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


async def test_error_224_after_a_refused_attempt_is_not_taken_for_ours(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    """A refusal (nothing created) then 224: the tracker with the device ID is an older one
    of the account, not this draft's; the card must say so, not "Registered"."""
    me = installer(tg)
    first = await to_summary(me, label="Truck 7")
    await register(me, first, "Registered")
    existing = next(iter(sandbox.trackers.values()))

    # The same IMEI and label again (the tracker/list lookup filters by label).
    card = await to_summary(me, phone=PHONE_2, label="Truck 7")
    sandbox.inject("tracker/register", ErrorFault(226))
    refused = await register(me, card, "ICCID")
    done = await register(me, refused, "already registered in your account")
    assert f"as “Truck 7” (tracker ID {existing.id})" in text_of(done)
    assert "Registered" not in text_of(done)
    assert len(sandbox.trackers) == 1
    codes = [c.response["status"]["code"] for c in sandbox.calls_to("tracker/register")[1:]]  # type: ignore[index]
    assert codes == [226, 224]
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
    codes = [
        m for m in tg.user_messages(me.chat) if m.get("text") in ("999999", ACTIVATION_CODES[2])
    ]
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


# --- 4. editing from the card ----------------------------------------------------------------


async def test_edit_label_from_the_card(tg: FakeTelegram, sandbox: NavixySandbox, bot: App) -> None:
    me = installer(tg)
    card = await to_summary(me)
    menu = await me.tap("✏️ Edit", on=card, new_message=False, expect="What do you want to change?")
    assert menu.button_texts() == [
        "Model",
        "Device ID",
        "SIM phone",
        "APN",
        "Label",
        "Group",
        "« Back",
    ]
    await me.tap("Label", on=menu, expect="Name for this tracker")
    card2 = await me.send("Tom & Jerry's van", expect=CARD)  # HTML-escaped on the card
    assert "Label: Tom & Jerry's van" in text_of(card2)
    for kept in (IMEI, "+49 170 1234567", "internet.telekom", "Main office"):
        assert kept in text_of(card2)
    await register(me, card2, "Registered")
    params = only_call(sandbox)
    assert params["label"] == "Tom & Jerry's van"
    assert params["device_id"] == IMEI
    assert not tg.errors


async def test_edit_back_returns_to_the_card(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    menu = await me.tap("✏️ Edit", on=card, new_message=False, expect="What do you want to change?")
    back = await me.tap("« Back", on=menu, new_message=False, expect=CARD)
    assert back.button_texts() == [REGISTER, "✏️ Edit", "Cancel"]
    assert "What do you want to change?" not in text_of(back)
    await register(me, back, "Registered")
    assert len(sandbox.trackers) == 1
    assert not tg.errors


async def test_edit_model_keeps_the_answers_that_still_apply(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    menu = await me.tap("✏️ Edit", on=card, new_message=False, expect="What do you want to change?")
    await me.tap("Model", on=menu, expect="Which device?")
    await me.send("fmb920", expect="Models matching")
    card2 = await me.tap("Teltonika FMB920", expect=CARD)
    text = text_of(card2)
    assert "Model: Teltonika FMB920" in text
    # Another IMEI model: the IMEI, SIM, APN, label and group all still apply.
    for kept in (IMEI, "+49 170 1234567", "internet.telekom", "AB 123 C", "Main office"):
        assert kept in text
    await register(me, card2, "Registered")
    params = only_call(sandbox)
    assert params["model"] == "telfmb920"
    assert params["device_id"] == IMEI
    assert params["apn_name"] == "internet.telekom"
    assert not tg.errors


async def test_edit_model_to_another_id_format_asks_the_id_again(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    menu = await me.tap("✏️ Edit", on=card, new_message=False, expect="What do you want to change?")
    await me.tap("Model", on=menu, expect="Which device?")
    await me.send("calamp", expect="Models matching")
    await me.tap("CalAmp LMU-2630", expect="Send the MEID")  # an IMEI is no MEID
    card2 = await me.send("A0000012345678", expect=CARD)
    for kept in ("A0000012345678", "+49 170 1234567", "internet.telekom", "AB 123 C"):
        assert kept in text_of(card2)
    await register(me, card2, "Registered")
    params = only_call(sandbox)
    assert params["model"] == "calamp_lmu2630"
    assert params["device_id"] == "A0000012345678"
    assert not tg.errors


async def test_edit_model_to_the_mobile_app_drops_hardware_answers(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    menu = await me.tap("✏️ Edit", on=card, new_message=False, expect="What do you want to change?")
    await me.tap("Model", on=menu, expect="Which device?")
    await me.tap(MOBILE, expect="Phone number to text the app invitation")
    await me.tap("Skip", expect="E-mail address")
    card2 = await me.tap("Skip", expect=CARD)
    assert IMEI not in text_of(card2)
    assert "internet.telekom" not in text_of(card2)
    assert "AB 123 C" in text_of(card2)
    await register(me, card2, "Registered")
    params = only_call(sandbox)
    assert params["plugin_id"] == 35
    assert "device_id" not in params and "phone" not in params and "apn_name" not in params
    assert not tg.errors


# --- 5. bad input ----------------------------------------------------------------------------


async def test_bad_imei_check_digit_is_asked_again(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    await to_imei_step(me)
    bad = await me.send("356938035643808", expect="check digit")
    assert "fails its check digit" in text_of(bad)
    assert "Send the IMEI" in text_of(bad)
    assert bad.force_reply is False  # private chat: no ForceReply needed

    short = await me.send("35693803564380", expect="An IMEI")
    assert "An IMEI has 15 digits; you sent 14 digits." in text_of(short)

    letters = await me.send("35693803564380X", expect="digits only")
    assert "Send the IMEI" in text_of(letters)

    await me.send(IMEI, expect="Phone number")  # the model is still chosen
    await me.send("+49 170 1234567", expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send("AB 123 C", expect="Which group")
    card = await me.tap("Main office", expect=CARD)
    assert "Model: Teltonika FMB140" in text_of(card)
    assert IMEI in text_of(card)
    assert not sandbox.calls_to("tracker/register")
    assert not tg.errors


async def test_bad_phone_is_asked_again(tg: FakeTelegram, sandbox: NavixySandbox, bot: App) -> None:
    me = installer(tg)
    await to_imei_step(me)
    await me.send(IMEI, expect="Phone number")
    invalid = await me.send("+49 12", expect="Phone number")
    assert "That is not a valid number" in text_of(invalid)
    words = await me.send("call me", expect="Phone number")
    assert "does not look like a phone number" in text_of(words)
    assert not sandbox.calls_to("apn_settings/read")  # nothing looked up for bad numbers
    await me.send("+49 170 1234567", expect="Deutsche Telekom")
    assert [c.params["phone"] for c in sandbox.calls_to("apn_settings/read")] == ["491701234567"]
    assert not tg.errors


async def test_manual_apn_too_long_and_label_too_long(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    await to_imei_step(me)
    await me.send(IMEI, expect="Phone number")
    await me.send("+49 170 1234567", expect="APN")
    await me.tap("Enter another APN", expect="APN name of the SIM card")
    too_long = await me.send("a" * 41, expect="APN name")
    assert "Too long: at most 40 characters." in text_of(too_long)
    assert too_long.button_texts() == ["Skip"]
    await me.send("a" * 40, expect="APN user name")
    await me.send("m2m-user", expect="APN password")
    await me.send("s3cret pw", expect="Name for this tracker")
    label = await me.send("L" * 61, expect="Name for this tracker")
    assert "Too long: at most 60 characters." in text_of(label)
    await me.send("L" * 60, expect="Which group")
    card = await me.tap("Main office", expect=CARD)
    assert "APN: " + "a" * 40 + " (user m2m-user, password ••••••••)" in text_of(card)
    assert "s3cret pw" not in text_of(card)
    # The APN password message was deleted like the activation code.
    pw = [m for m in tg.user_messages(me.chat) if m.get("text") == "s3cret pw"]
    deleted = {c.params["message_id"] for c in tg.calls("deleteMessage") if c.ok}
    assert pw[0]["message_id"] in deleted

    await register(me, card, "Registered")
    params = only_call(sandbox)
    assert params["apn_name"] == "a" * 40
    assert params["apn_user"] == "m2m-user"
    assert params["apn_password"] == "s3cret pw"
    assert params["label"] == "L" * 60
    assert not tg.errors


async def test_model_query_without_match(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    await me.send("/register", expect="Which device?")
    none = await me.send("qqq<&>zzz", expect="No model matches")
    assert "No model matches “qqq<&>zzz”" in text_of(none)
    rows = none.reply_markup["inline_keyboard"] if none.reply_markup else []
    search = rows[0][0]
    assert search["text"] == "🔎 Search all models"
    assert search["switch_inline_query_current_chat"] == "qqq<&>zzz"
    assert none.button_texts() == ["🔎 Search all models", MOBILE]
    await me.send("fmb140", expect="Models matching")  # still at the model question
    await me.tap("Teltonika FMB140", expect="IMEI")
    assert not tg.errors


async def test_edited_messages_do_not_advance(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    await to_imei_step(me)
    await me.send(IMEI, expect="Phone number")
    imei_message = next(m for m in tg.user_messages(me.chat) if m.get("text") == IMEI)
    before = len(tg.messages(me.chat))

    # The installer corrects the IMEI message into a phone number: not an answer, but not
    # ignored either: one line says that edits are not read.
    await tg.edit_text(me.user, me.chat, imei_message["message_id"], "+49 170 1234567")
    note = await tg.wait_for_message(me.chat)
    assert "not edits" in text_of(note)
    await tg.wait_idle()
    assert len(tg.messages(me.chat)) == before + 1
    assert not sandbox.calls_to("apn_settings/read")

    await me.send(PHONE_2, expect="APN")  # the phone question was still open
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send("AB 123 C", expect="Which group")
    card = await me.tap("Main office", expect=CARD)
    assert IMEI in text_of(card)
    assert "+49 170 7654321" in text_of(card)
    assert not tg.errors


# --- 6. inline mode --------------------------------------------------------------------------


async def test_inline_search_picks_the_model(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    question = await me.send("/register", expect="Which device?")
    search = question.reply_markup["inline_keyboard"][0][0] if question.reply_markup else {}
    assert search.get("switch_inline_query_current_chat") == ""

    results = await tg.inline_query(me.user, "fmb1")
    titles = [r["title"] for r in results]
    assert titles and all("FMB1" in t.upper() for t in titles[:3]), titles
    assert "Teltonika FMB140" in titles  # the vendor once, as on the buttons
    chosen = next(r for r in results if r["title"] == "Teltonika FMB140")
    text = chosen["input_message_content"]["message_text"]
    assert text == "Teltonika FMB140 [telfmb140]"

    await tg.send_text(me.user, me.chat, text, via_bot=True)
    await tg.wait_for_message(me.chat, lambda m: "Send the IMEI" in text_of(m))
    await me.send(IMEI, expect="Phone number")
    await me.send(PHONE_DE, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send("AB 123 C", expect="Which group")
    card = await me.tap("Main office", expect=CARD)
    await register(me, card, "Registered")
    assert only_call(sandbox)["model"] == "telfmb140"
    assert not tg.errors


async def test_inline_pick_outside_a_conversation_starts_one(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    results = await tg.inline_query(me.user, "gv55")
    assert any("GV55" in r["title"] for r in results)
    text = results[0]["input_message_content"]["message_text"]
    await tg.send_text(me.user, me.chat, text, via_bot=True)
    # No registration was open: the pick starts one with that model (never silence).
    question = await tg.wait_for_message(me.chat)
    assert "IMEI" in text_of(question)
    await me.send("/cancel", expect="Cancelled")
    assert not tg.errors


# --- 7. group chats --------------------------------------------------------------------------


def _mentions(message: BotMessage, user: FakeUser) -> bool:
    return any(
        e.get("type") == "text_mention" and e["user"]["id"] == user.id for e in message.entities
    )


async def test_two_installers_interleaved_in_a_group(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    anna = tg.user(100, "Anna")
    boris = tg.user(101, "Boris")
    group: FakeChat = tg.group_chat(-100123, members=[anna, boris])
    # The bot's rate limiter keeps to 20 calls a minute per group (after that, one per
    # 3 s), so this test stays near 20 calls and the waits are longer than in private.
    a = Installer(tg, anna, group, timeout=15.0)
    b = Installer(tg, boris, group, timeout=15.0)

    first = await a.send("/register", expect="Which device?")
    assert text_of(first).startswith("Anna, ")
    await b.send("/register", expect="Which device?")
    # Each one answers their own question (a reply to the ForceReply that mentions them).
    await a.send("fmb140", expect="Models matching")
    await b.send("fmb920", expect="Models matching")
    ask_a = await a.tap("Teltonika FMB140", expect="Send the IMEI")
    ask_b = await b.tap("Teltonika FMB920", expect="Send the IMEI")
    for ask, user in ((ask_a, anna), (ask_b, boris)):
        assert ask.force_reply and ask.selective
        assert _mentions(ask, user)

    # A colleague's chatter that is no reply to the bot never reaches it (privacy mode).
    carl = tg.user(500, "Carl")
    chatter = await tg.send_text(carl, group, "anyone got a spare SIM?")
    assert not tg.was_delivered(group, chatter["message_id"])

    bad = await b.send("12345", expect="An IMEI has 15 digits")
    assert bad.force_reply and bad.selective and _mentions(bad, boris)
    assert bad.reply_to_message_id is not None  # it answers Boris's message
    await a.send(IMEI, expect="Phone number")
    await b.send(IMEI_2, expect="Phone number")  # a reply to his re-asked question
    await a.send(PHONE_DE, expect="APN")
    await b.send("/cancel", expect="Cancelled")  # Boris stops; Anna goes on
    await a.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await a.send("Anna van", expect="Which group")
    # In a group the group question becomes the card: one edit, no new message.
    card = await a.tap("Main office", expect=CARD, new_message=False)
    assert _mentions(card, anna) and IMEI in text_of(card)

    # Boris taps Anna's Register button: not his card.
    query_id = await tg.press_button(boris, group, card.message_id, REGISTER)
    answer = await tg.wait_for_callback_answer(query_id)
    assert "earlier card" in (answer["text"] or "")
    assert not sandbox.calls_to("tracker/register")

    await register(a, card, "Registered")
    params = only_call(sandbox)
    assert (params["label"], params["device_id"], params["model"]) == (
        "Anna van",
        IMEI,
        "telfmb140",
    )
    assert [c.params["phone"] for c in sandbox.calls_to("apn_settings/read")] == ["491701234567"]

    for message in tg.messages(group):
        if message.force_reply:
            assert message.selective
            assert _mentions(message, anna) or _mentions(message, boris)
    assert len(tg.undelivered) == 1
    assert not tg.errors


async def test_group_app_registration_types_app_and_skips_with_a_dash(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    """In a group every question is one ForceReply message (no keyboard + prompt pairs):
    the app is found by typing "app", optional answers are skipped with "-"."""
    vera = tg.user(102, "Vera")
    group: FakeChat = tg.group_chat(-100777, members=[vera])
    me = Installer(tg, vera, group, timeout=15.0)

    ask = await me.send("/register", expect="Which device?")
    assert ask.force_reply and ask.selective and ask.buttons() == []
    assert "type app" in text_of(ask)
    await me.send("app", expect="Models matching")
    await me.tap("Navixy X-GPS Tracker (mobile app)", expect="Name for this tracker")
    await me.send("Courier Vera", expect="Which group")
    skip_phone = await me.tap("No group", expect="Phone number to text")
    assert skip_phone.force_reply and skip_phone.buttons() == []
    assert "Send - to skip." in text_of(skip_phone)
    await me.send("-", expect="E-mail")
    card = await me.send("-", expect=CARD)
    await register(me, card, "Registered")

    params = only_call(sandbox)
    assert params["model"] == "mobile_unknown_xgps"
    assert "notification_phone" not in params and "notification_email" not in params
    sent = [
        c
        for c in tg.requests
        if c.method in ("sendMessage", "editMessageText") and c.params.get("chat_id") == group.id
    ]
    # 8 inputs; the bot's share of the group's 20-a-minute budget stays at about one per input.
    assert tg.inputs[vera.id] == 8
    assert len(sent) <= 11, [c.params.get("text", "")[:40] for c in sent]
    assert not tg.errors


# --- 8. strangers ----------------------------------------------------------------------------


def _navixy_calls(sandbox: NavixySandbox) -> list[str]:
    # The start-up catalogue refresh may still be finishing; it is the bot's own call.
    return [c.action for c in sandbox.calls if c.action != "tracker/list_models"]


async def test_unauthorized_user_is_refused_without_navixy_calls(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    before = _navixy_calls(sandbox)
    stranger = installer(tg, STRANGER_ID, name="Mallory")
    start = await stranger.send("/start", expect="not on this bot's list")
    assert f"Your Telegram user id is {STRANGER_ID}" in text_of(start)
    assert start.button_texts() == ["🙋 Request access"]  # or ask the admins from here
    refusal = await stranger.send("/register", expect="not on this bot's list")
    assert str(STRANGER_ID) in text_of(refusal)
    await stranger.send("fmb140", expect="not on this bot's list")

    results = await tg.inline_query(stranger.user, "fmb1")
    assert results == []
    assert tg.last_inline_answer is not None
    assert tg.last_inline_answer["button"]["text"] == "Not allowed: ask your admin for access"

    await tg.wait_idle()
    assert _navixy_calls(sandbox) == before
    assert not tg.errors


# --- 9. cancel -------------------------------------------------------------------------------


async def test_cancel_mid_way_and_old_buttons_are_stale(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    await to_imei_step(me)
    await me.send(IMEI, expect="Phone number")
    done = await me.send("/cancel", expect="Cancelled")
    assert "Nothing was registered" in text_of(done)

    # The model question's button is still on screen; the conversation is over.
    old = next(m for m in tg.messages(me.chat) if MOBILE in m.button_texts())
    assert "earlier card" in await tap_expect_stale(tg, me, old, MOBILE)
    # Text goes nowhere now (no conversation), and /cancel has nothing to cancel.
    await me.send("/cancel", expect="nothing to cancel")
    assert not sandbox.calls_to("tracker/register")
    assert not sandbox.calls_to("apn_settings/read")

    # A new registration starts from scratch.
    card = await to_summary(me, imei=IMEI_2)
    await register(me, card, "Registered")
    assert only_call(sandbox)["device_id"] == IMEI_2
    assert not tg.errors


async def test_cancel_button_on_the_card(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    card = await to_summary(me)
    done = await me.tap("Cancel", on=card, new_message=False, expect="Cancelled")
    assert done.button_texts() == []
    menu = next(m for m in tg.messages(me.chat) if MOBILE in m.button_texts())
    assert "earlier card" in await tap_expect_stale(tg, me, menu, MOBILE)
    assert not sandbox.calls_to("tracker/register")
    assert not tg.errors
