"""Crew chats: registrations in a privacy-mode group, typed as a real Telegram client types.

No test here replies by hand: `Installer.send` in a group calls `FakeTelegram.type_text`,
which sends the text as a reply only where the bot opened that user's reply box (a selective
ForceReply that mentions them or replies to their message), as a real client does. An
answer typed with no reply box open would be an ordinary group message the bot never sees.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.app import App
from bot.domain.device_id import luhn_check_digit
from bot.sandbox.server import NavixySandbox
from tests.e2e import ADMIN_ID, IMEI, PHONE_DE, Installer
from tests.fakes.telegram import BotMessage, FakeTelegram

CARD = "Check and register"
REGISTER = "✅ Register"


def luhn_imei(body14: str) -> str:
    """A Luhn-valid 15-digit IMEI from 14 digits."""
    return body14 + luhn_check_digit(body14)


async def typed(me: Installer, text: str, *, expect: str) -> BotMessage:
    """Type `text` as a real client: there must be a reply box open for it."""
    box = me.tg.reply_box(me.user, me.chat)
    assert box is not None, f"{me.user.first_name} has no reply box open before {text!r}"
    return await me.send(text, expect=expect)


async def crew_registration(
    me: Installer, imei: str, label: str, phone: str = PHONE_DE
) -> BotMessage:
    """A whole device registration in the group; returns the card after Register."""
    await me.send(f"/register@{me.tg.bot_username}", expect="Which device?")
    await typed(me, "fmb140", expect="Models matching")
    await me.tap("Teltonika FMB140", expect="IMEI")
    await typed(me, imei, expect="Phone number")
    await typed(me, phone, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await typed(me, label, expect="Which group")
    # In a group the group question itself becomes the card (an edit, no new message).
    card = await me.tap("Main office", expect=CARD, new_message=False)
    return await me.tap(REGISTER, on=card, expect="Registered", new_message=False)


async def test_a_crew_registration_typed_as_a_real_client(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    boris = tg.user(101, "Boris")
    group = tg.group_chat(-100777, members=[boris])
    me = Installer(tg, boris, group, timeout=30.0)

    done = await crew_registration(me, IMEI, "Van 7")

    assert "Registered" in (done.text or "")
    calls = sandbox.calls_to("tracker/register")
    assert [(c.params["label"], c.params["device_id"]) for c in calls] == [("Van 7", IMEI)]
    # Every typed answer reached the bot: nothing Boris sent stayed undelivered.
    assert tg.undelivered == []
    # Each question that wants typed text targets Boris (selective ForceReply).
    for message in tg.messages(group):
        if message.force_reply:
            assert message.selective and me.mentions_me(message)
    assert not tg.errors


async def test_a_question_after_a_tap_replies_to_the_installers_last_message(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    anna = tg.user(100, "Anna")
    group = tg.group_chat(-100778, members=[anna])
    me = Installer(tg, anna, group, timeout=30.0)
    await me.send(f"/register@{tg.bot_username}", expect="Which device?")
    await typed(me, "fmb140", expect="Models matching")
    asked = await me.tap("Teltonika FMB140", expect="IMEI")
    # The question after a button tap quotes Anna's own last message ("fmb140") and
    # mentions her: both open her reply box.
    mine = [m for m in tg.user_messages(group) if m["from"]["id"] == anna.id]
    assert asked.reply_to_message_id == mine[-1]["message_id"]
    assert me.mentions_me(asked)
    assert tg.reply_box(anna, group) == asked.message_id


async def test_chatter_with_no_reply_box_is_not_an_answer(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    """The fake models the client: once Anna sent something else, her box is closed."""
    anna = tg.user(100, "Anna")
    group = tg.group_chat(-100779, members=[anna])
    me = Installer(tg, anna, group, timeout=30.0)
    await me.send(f"/register@{tg.bot_username}", expect="Which device?")
    assert tg.reply_box(anna, group) is not None
    await tg.send_text(anna, group, "brb")  # she closed the reply box and wrote this
    assert tg.reply_box(anna, group) is None
    sent = await tg.type_text(anna, group, "fmb140")
    assert not tg.was_delivered(group, sent["message_id"])


@pytest.mark.parametrize("crew_size", [1, 2, pytest.param(4, marks=pytest.mark.timeout(240))])
async def test_crew_members_registering_at_once(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App, crew_size: int
) -> None:
    """1, 2 and 4 installers register at the same time in one group, the bot's rate limiter
    keeping to Telegram's 20 messages a minute per group. The time is printed (-s)."""
    users = [tg.user(100 + i, f"Member{i}") for i in range(crew_size)]
    group = tg.group_chat(-100800 - crew_size, members=users)
    crew = [Installer(tg, u, group, timeout=120.0) for u in users]
    imeis = [luhn_imei(f"35693803564{i:03d}") for i in range(crew_size)]

    started = time.monotonic()
    await asyncio.gather(
        *(
            crew_registration(me, imeis[i], f"Crew van {i}", f"+49 170 12345{i:02d}")
            for i, me in enumerate(crew)
        )
    )
    elapsed = time.monotonic() - started
    group_calls = [c for c in tg.requests if str(c.params.get("chat_id")) == str(group.id)]
    print(f"\n{crew_size} installer(s): {elapsed:.1f} s, {len(group_calls)} group calls")

    registered = sorted(c.params["label"] for c in sandbox.calls_to("tracker/register"))
    assert registered == sorted(f"Crew van {i}" for i in range(crew_size))
    assert tg.undelivered == []
    if crew_size <= 2:
        # Under 20 group calls a minute for two registrations: no wait on the limiter.
        assert elapsed < 10.0, f"{crew_size} installers took {elapsed:.1f} s"


async def test_crew_links_a_group_with_a_tracker_group_and_a_language(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    alice = tg.user(ADMIN_ID, "Alice")
    ivan = tg.user(100, "Ivan")
    group = tg.group_chat(-100901, "North crew", members=[alice, ivan])
    boss = Installer(tg, alice, group, timeout=30.0)
    me = Installer(tg, ivan, group, timeout=30.0)

    await me.send(f"/crew@{tg.bot_username}", expect="Only admins can use this command.")
    private = Installer(tg, alice, tg.private_chat(alice), timeout=30.0)
    await private.send("/crew", expect="Send /crew in the crew's group chat")

    card = await boss.send(f"/crew@{tg.bot_username}", expect="Crew chat")
    assert "asked at each registration" in (card.text or "")
    await boss.tap("📁 Tracker group", on=card, expect="Which tracker group", new_message=False)
    card = await boss.tap("Main office", on=card, expect="Crew chat", new_message=False)
    assert "registered here: Main office" in (card.text or "")
    await boss.tap("🌐 Language", on=card, expect="Crew chat", new_message=False)
    card = await boss.tap("Русский", on=card, expect="Чат бригады", new_message=False)
    await boss.tap("🌐 Язык", on=card, expect="Чат бригады", new_message=False)
    await boss.tap("У каждого свой", on=card, expect="Crew chat", new_message=False)

    # A registration in the crew chat goes to the crew's group without asking.
    await me.send(f"/register@{tg.bot_username}", expect="Which device?")
    await typed(me, "fmb140", expect="Models matching")
    await me.tap("Teltonika FMB140", expect="IMEI")
    await typed(me, IMEI, expect="Phone number")
    await typed(me, PHONE_DE, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    summary = await typed(me, "Van 8", expect=CARD)
    assert "Group: Main office" in (summary.text or "")
    await me.tap(REGISTER, on=summary, expect="Registered", new_message=False)
    (call,) = sandbox.calls_to("tracker/register")
    assert call.params["group_id"] == 129301  # "Main office" in the stand-in
    # The registration happened in the crew chat: no extra announcement line there.
    assert not [m for m in tg.messages(group) if "📋" in (m.text or "")]
