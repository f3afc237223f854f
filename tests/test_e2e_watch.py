"""End-to-end: watching a registered device until it is online.

The real bot against the fake Telegram server and the Navixy stand-in. Time is a fake
clock shared by the stand-in (device scripts) and the watcher; the tests drive the
shared poller with `watcher.tick()` (the JobQueue tick is set to an hour so it never
interferes), except `test_the_real_job_polls_with_short_intervals`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import Settings
from bot.domain.device_id import luhn_check_digit
from bot.domain.watch import Phase
from bot.navixy.client import NavixyClient
from bot.navixy.models import RegisterRequest
from bot.sandbox import DeviceScript, ErrorFault, NavixySandbox
from bot.services.watcher import Watcher
from bot.telegram.context import SERVICES_KEY, Services
from bot.telegram.outbox import Limits, Outbox, set_outbox
from tests.e2e import (
    ACTIVATION_CODES,
    ADMIN_ID,
    IMEI,
    Installer,
    catalog_ready,
    installer,
    make_settings,
    register,
    running_bot,
    to_summary,
)
from tests.fakes.telegram import BotMessage, FakeTelegram
from tests.helpers import FakeClock

pytestmark = pytest.mark.e2e

MIN = 60.0
#: The status message's heading: the registration's result (the card becomes it).
HEADING = "Tracker ID:"
DEVICE_AT = (52.5200, 13.4050)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rate_clock() -> FakeClock:
    return FakeClock(0.0)


@pytest.fixture
def sandbox_kwargs(clock: FakeClock, rate_clock: FakeClock) -> dict[str, Any]:
    # Overrides tests/conftest.py: the stand-in's devices follow the fake clock, and its
    # rate limit (50 calls per second) counts on a clock the test moves too.
    return {"clock": clock, "rate_clock": rate_clock}


@pytest.fixture
def settings(tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path) -> Settings:
    key = sandbox.new_api_key()
    return make_settings(tg, sandbox.base_url, key, tmp_path / "bot.db", watch_tick_seconds=3600)


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[App]:
    async with running_bot(settings) as application:
        await catalog_ready(application)
        svc(application).watcher.clock = clock
        yield application


def svc(app: App) -> Services:
    services: Services = app.bot_data[SERVICES_KEY]
    return services


def watcher(app: App) -> Watcher:
    return svc(app).watcher


async def tick(app: App, clock: FakeClock, seconds: float = 0.0) -> None:
    clock.advance(seconds)
    await watcher(app).tick()


async def register_and_watch(me: Installer) -> BotMessage:
    """Register the FMB140 through the chat; returns the watch's status message: the card,
    edited once into the result and the wait (no second message)."""
    card = await to_summary(me)
    status = await register(me, card, expect="Waiting for the first connection")
    assert status.message_id == card.message_id
    assert len(edits_of(me.tg, card.message_id)) == 2  # the group tap, then Register
    return status


def status_sends(tg: FakeTelegram) -> list[Any]:
    """Status messages sent as new messages (a registration's card is edited into one)."""
    return [c for c in tg.calls("sendMessage") if c.ok and HEADING in str(c.params.get("text", ""))]


def status_messages(tg: FakeTelegram, me: Installer) -> list[int]:
    """The messages in the chat showing a watch's status."""
    return [m.message_id for m in tg.messages(me.chat) if HEADING in (m.text or "")]


def edits_of(tg: FakeTelegram, message_id: int) -> list[Any]:
    return [
        c for c in tg.calls("editMessageText") if c.ok and c.params.get("message_id") == message_id
    ]


def current(tg: FakeTelegram, me: Installer, message_id: int) -> BotMessage:
    return next(m for m in tg.messages(me.chat) if m.message_id == message_id)


def no_rate_limit_errors(sandbox: NavixySandbox) -> bool:
    return all(c.http_status != 429 for c in sandbox.calls)


# --- the online path --------------------------------------------------------------------------


async def test_online_path_pin_once_status_edited_and_guided_checks(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=60, location=DEVICE_AT))
    me = installer(tg)
    status = await register_and_watch(me)
    assert "Waiting for the first connection: 0 min" in (status.text or "")
    assert status.button_texts() == ["🔄 Check now", "✖ Stop watching"]

    shown = len(edits_of(tg, status.message_id))
    await tick(app, clock)  # just registered: nothing changed, no edit
    assert len(edits_of(tg, status.message_id)) == shown
    await tick(app, clock, 30)
    await tick(app, clock, 31)  # online at 60 s
    online = current(tg, me, status.message_id)
    assert "🟢 Online" in (online.text or "")
    assert "📶 GSM: 80 %" in (online.text or "")
    assert "🔌 Board voltage: 12.6 V" in (online.text or "")
    (pin,) = tg.calls("sendLocation")
    assert (pin.params["latitude"], pin.params["longitude"]) == DEVICE_AT
    card = next(m for m in tg.messages(me.chat) if "installed and online" in (m.text or ""))
    assert card.keyboard() == [["📍 Share my location"]]
    assert card.reply_markup is not None
    assert card.reply_markup["keyboard"][0][0]["request_location"] is True

    await tick(app, clock, 15)
    assert len(tg.calls("sendLocation")) == 1  # the pin is sent once

    # The installer shares their location: next to the device, then far away.
    await tg.share_location(me.user, me.chat, 52.5203, 13.4052)
    near = await tg.wait_for_message(me.chat, lambda m: "from you" in (m.text or ""))
    assert "it matches" in (near.text or "")
    await tg.share_location(me.user, me.chat, 52.5400, 13.4050)
    far = await tg.wait_for_message(me.chat, lambda m: "from you" in (m.text or ""))
    assert "2.2 km from you" in (far.text or "")
    assert "IMEI" in (far.text or "")

    # Guided check: ignition on, confirmed by the device.
    asked = await me.tap(
        "🔑 Test ignition ON",
        on=current(tg, me, status.message_id),
        new_message=False,
        expect="Turn the ignition ON now",
    )
    assert "⏳ Ignition on" in (asked.text or "")
    script = DeviceScript(online_after=60, location=DEVICE_AT, ignition=True)
    sandbox.script_device(IMEI, script)
    await tick(app, clock, 5)
    text = current(tg, me, status.message_id).text or ""
    assert "✅ Ignition on" in text and "Turn the ignition" not in text
    await me.tap(
        "🔑 Test ignition OFF",
        on=current(tg, me, status.message_id),
        new_message=False,
        expect="Turn the ignition OFF now",
    )
    sandbox.script_device(IMEI, dataclasses.replace(script, ignition=False))
    await tick(app, clock, 5)

    final = current(tg, me, status.message_id)
    text = final.text or ""
    for line in ("✅ Ignition on", "✅ Ignition off", "✅ GSM signal", "✅ Not roaming"):
        assert line in text
    assert "✅ Board voltage" in text
    assert "⚠️ Distance to you: 2.2 km" in text
    assert "Finished watching" in text
    assert final.buttons() == []
    (tracker,) = sandbox.trackers.values()
    done = await watcher(app).get(tracker.id)
    assert done is not None and done.status is Phase.DONE
    # One status message (the result card), kept current by edits: never re-sent.
    assert status_sends(tg) == []
    assert status_messages(tg, me) == [status.message_id]
    assert len(edits_of(tg, status.message_id)) >= 6
    assert len(tg.calls("sendLocation")) == 1
    assert not tg.errors
    assert sandbox.calls_to("tracker/register_retry") == []


# --- silent devices: ladder, retry, APN -------------------------------------------------------


async def test_never_online_until_a_retry_from_the_chat(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=30, needs_retry=True))
    sandbox.inject("tracker/register_retry", ErrorFault(8))  # the automatic retry fails
    me = installer(tg)
    status = await register_and_watch(me)

    await tick(app, clock, 5 * MIN)
    (auto,) = sandbox.calls_to("tracker/register_retry")
    assert auto.params == {"tracker_id": next(iter(sandbox.trackers))}
    assert "Navixy busy" in (current(tg, me, status.message_id).text or "")

    await tick(app, clock, 10 * MIN)
    options = await tg.wait_for_message(me.chat, lambda m: "is not online after" in (m.text or ""))
    assert "15 min" in (options.text or "")
    assert "positive balance" in (options.text or "")
    assert "🔁 Retry activation" in options.button_texts()
    assert "🔁 Retry activation" in current(tg, me, status.message_id).button_texts()

    reply = await me.tap("🔁 Retry activation", on=options, expect="Sent the activation again")
    assert "new APN" not in (reply.text or "")
    calls = sandbox.calls_to("tracker/register_retry")
    assert len(calls) == 2 and calls[1].http_status == 200
    assert "apn_name" not in calls[1].params

    await tick(app, clock, 31)
    assert "🟢 Online" in (current(tg, me, status.message_id).text or "")
    assert len(tg.calls("sendLocation")) == 1
    assert status_sends(tg) == [] and status_messages(tg, me) == [status.message_id]
    assert not tg.errors


async def test_retry_with_a_changed_apn(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock, settings: Settings
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=30, needs_retry=True))
    sandbox.inject("tracker/register_retry", ErrorFault(8))
    me = installer(tg)
    status = await register_and_watch(me)
    await tick(app, clock, 5 * MIN)
    await tick(app, clock, 10 * MIN)
    options = await tg.wait_for_message(me.chat, lambda m: "is not online after" in (m.text or ""))

    await me.tap("✏️ New APN + retry", on=options, expect="New APN name")
    await me.send("fast.tmobile.com", expect="APN user name")
    await me.send("tmobile", expect="APN password")
    done = await me.send("Secret-Pw-42", expect="Sent the activation")
    assert "new APN" in (done.text or "")

    retry = sandbox.calls_to("tracker/register_retry")[-1]
    assert retry.http_status == 200
    assert retry.params["apn_name"] == "fast.tmobile.com"
    assert retry.params["apn_user"] == "tmobile"
    assert retry.params["apn_password"] == "Secret-Pw-42"
    (tracker,) = sandbox.trackers.values()
    assert tracker.apn_name == "fast.tmobile.com"
    # The password message is deleted from the chat, and never stored.
    secret = next(m for m in tg.user_messages(me.chat) if m.get("text") == "Secret-Pw-42")
    deleted = [c.params["message_id"] for c in tg.calls("deleteMessage") if c.ok]
    assert secret["message_id"] in deleted
    with sqlite3.connect(settings.database_path) as raw:
        dump = "\n".join(raw.iterdump())
    assert "Secret-Pw-42" not in dump and "tmobile" not in dump

    await tick(app, clock, 31)
    assert "🟢 Online" in (current(tg, me, status.message_id).text or "")
    watch = await watcher(app).get(tracker.id)
    assert watch is not None and watch.apn_changed and watch.retries == 1


async def test_silent_device_ladder_escalates_to_admins_and_ends(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=None))
    admin = tg.user(ADMIN_ID, "Anna")
    admin_chat = tg.private_chat(admin, started=True)
    me = installer(tg)
    status = await register_and_watch(me)
    (tracker,) = sandbox.trackers.values()

    await tick(app, clock, 5 * MIN)
    assert len(sandbox.calls_to("tracker/register_retry")) == 1  # automatic, accepted
    assert "Activation re-sent 1 time." in (current(tg, me, status.message_id).text or "")
    await tick(app, clock, 5 * MIN)
    assert len(sandbox.calls_to("tracker/register_retry")) == 1  # once only
    await tick(app, clock, 5 * MIN)
    await tg.wait_for_message(me.chat, lambda m: "is not online after" in (m.text or ""))
    await tick(app, clock, 15 * MIN)
    alert = await tg.wait_for_message(admin_chat, lambda m: "No connection" in (m.text or ""))
    text = alert.text or ""
    assert "AB 123 C" in text and str(tracker.id) in text and IMEI in text
    assert "Ivan" in text and "automatic retry: sent" in text
    await tg.wait_for_message(me.chat, lambda m: "told the admins" in (m.text or ""))
    await tick(app, clock, 5 * MIN)
    assert len([m for m in tg.messages(admin_chat) if "No connection" in (m.text or "")]) == 1

    # /pending lists it, with a button each to check or retry.
    listing = await me.send("/pending", expect="not online yet")
    assert "AB 123 C" in (listing.text or "")
    assert listing.button_texts() == ["🔄 AB 123 C", "🔁 Retry"]

    await tick(app, clock, 24 * 3600)
    final = await tg.wait_for_message(me.chat, lambda m: "no connection within" in (m.text or ""))
    assert "AB 123 C" in (final.text or "")
    assert current(tg, me, status.message_id).buttons() == []
    watch = await watcher(app).get(tracker.id)
    assert watch is not None and watch.status is Phase.EXPIRED
    empty = await me.send("/pending", expect="No registered device")
    assert empty.buttons() == []
    assert not tg.errors


async def test_retry_of_a_connected_device_is_good_news(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=10))
    me = installer(tg)
    status = await register_and_watch(me)
    clock.advance(11)  # online, but not polled yet
    listing = await me.send("/pending", expect="not online yet")
    reply = await me.tap("🔁 Retry", on=listing, expect="Good news")
    assert sandbox.calls_to("tracker/register_retry")[0].response == {
        "success": False,
        "status": {"code": 242, "description": "Device already connected"},
    }
    assert "already connected" in (reply.text or "")
    await tg.wait_for_edit(me.chat, status.message_id, lambda m: "🟢 Online" in (m.text or ""))
    assert len(tg.calls("sendLocation")) == 1


async def test_check_now_button_and_stop(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=None))
    me = installer(tg)
    status = await register_and_watch(me)
    query = await tg.press_button(me.user, me.chat, status.message_id, "🔄 Check now")
    answer = await tg.wait_for_callback_answer(query)
    assert "Not connected yet" in answer["text"]
    await me.tap("✖ Stop watching", on=status, new_message=False, expect="Stopped watching")
    (tracker,) = sandbox.trackers.values()
    watch = await watcher(app).get(tracker.id)
    assert watch is not None and watch.status is Phase.DISMISSED
    polls = len(sandbox.calls_to("tracker/get_states"))
    await tick(app, clock, 5 * MIN)
    assert len(sandbox.calls_to("tracker/get_states")) == polls
    assert sandbox.calls_to("tracker/register_retry") == []


async def test_manual_configuration_is_shown_before_the_wait(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    me = installer(tg)
    await me.send("/start", expect="Register")
    await watcher(app).start(
        tracker_id=4242,
        chat_id=me.chat.id,
        user_id=me.user.id,
        label="Manual one",
        model="telfmb140",
        manual_config=True,
    )
    msg = await tg.wait_for_message(me.chat, lambda m: "Manual one" in (m.text or ""))
    text = msg.text or ""
    assert "set it up by hand" in text or "configure the device by hand" in text
    assert "Server: tracker.navixy.com · port 47776" in text
    assert text.index("port 47776") < text.index("Waiting for the first connection")


# --- restart ----------------------------------------------------------------------------------


async def test_restart_while_watching_resumes_and_completes(
    tg: FakeTelegram, sandbox: NavixySandbox, settings: Settings, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=60))
    me = installer(tg)
    async with running_bot(settings) as first:
        await catalog_ready(first)
        watcher(first).clock = clock
        status = await register_and_watch(me)
        await tick(first, clock, 15)
    clock.advance(60)  # the device connects while the bot is down
    async with running_bot(settings) as second:
        watcher(second).clock = clock
        await tick(second, clock)
        online = await tg.wait_for_edit(
            me.chat, status.message_id, lambda m: "🟢 Online" in (m.text or "")
        )
        assert "Finish" in online.button_texts()[-1]
        assert len(tg.calls("sendLocation")) == 1
        await me.tap("🏁 Finish", on=online, new_message=False, expect="Finished watching")
        (tracker,) = sandbox.trackers.values()
        watch = await watcher(second).get(tracker.id)
        assert watch is not None and watch.status is Phase.DONE
    assert status_sends(tg) == [] and status_messages(tg, me) == [status.message_id]
    assert not tg.errors


# --- many watches under the rate limit ----------------------------------------------------------


def _luhn_imei(n: int) -> str:
    body = f"35693803{n:06d}"
    return body + luhn_check_digit(body)


async def test_fifty_concurrent_watches_stay_under_the_rate_limit(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    app: App,
    clock: FakeClock,
    rate_clock: FakeClock,
    settings: Settings,
) -> None:
    n = 50
    # Fifty watches in ONE private chat: at Telegram's pace for a chat (about one message
    # a second) this would take minutes; this test is about Navixy's limits.
    set_outbox(app.bot, Outbox(Limits(private_per_second=1000, private_burst=1000)))
    me = installer(tg)
    await me.send("/start", expect="Register")
    assert settings.navixy_api_key is not None
    client = NavixyClient(sandbox.base_url, api_key=settings.navixy_api_key, backoff=0.01)
    ids: list[int] = []
    async with client:
        for i in range(n):
            imei = _luhn_imei(i)
            # Half come online by themselves, half only after the automatic retry.
            script = (
                DeviceScript(online_after=60)
                if i % 2
                else DeviceScript(online_after=30, needs_retry=True)
            )
            sandbox.script_device(imei, script)
            rate_clock.advance(0.05)  # registering 20 per second
            tracker = await client.register(
                RegisterRequest(
                    label=f"Car {i:02d}",
                    group_id=0,
                    plugin_id=44,
                    model="telfmb140",
                    device_id=imei,
                    phone=f"4917012{i:05d}",
                    apn_name="internet",
                )
            )
            ids.append(tracker.id)
            await watcher(app).start(
                tracker_id=tracker.id,
                chat_id=me.chat.id,
                user_id=me.user.id,
                label=tracker.label,
                model="telfmb140",
            )
    rate_clock.advance(1)
    first_call = len(sandbox.calls)

    async def tick_all(seconds: float) -> None:
        rate_clock.advance(5)  # one tick every 5 s
        await tick(app, clock, seconds)

    await tick_all(0)
    await tick_all(61)  # 25 online
    await tick_all(5 * MIN)  # the other 25 get their automatic retry, 10 per tick
    for _ in range(3):
        await tick_all(15)
    await tick_all(31)
    await tick_all(15)

    watches = [await watcher(app).get(i) for i in ids]
    assert all(w is not None and w.status is Phase.ONLINE for w in watches)
    assert len(sandbox.calls_to("tracker/register_retry")) == 25
    assert no_rate_limit_errors(sandbox)
    polls = [c for c in sandbox.calls[first_call:] if c.action == "tracker/get_states"]
    # Batched: one get_states per tick covering every due watch, never one per device.
    assert len(polls) <= 8
    assert sorted(polls[0].params["trackers"]) == sorted(ids)
    assert sandbox.calls_to("tracker/get_state") == []
    assert len(tg.calls("sendLocation")) == n
    assert len(status_sends(tg)) == n


async def test_poller_backs_off_on_rate_limit_errors(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=60))
    me = installer(tg)
    status = await register_and_watch(me)
    # The client retries a read 3 times, then the poller pauses.
    sandbox.inject("tracker/get_states", ErrorFault(15), times=4)
    await tick(app, clock, 61)
    assert watcher(app).backoffs == 1
    calls = len(sandbox.calls_to("tracker/get_states"))
    await tick(app, clock, 5)  # paused: no call
    assert len(sandbox.calls_to("tracker/get_states")) == calls
    await tick(app, clock, 15)
    await tg.wait_for_edit(me.chat, status.message_id, lambda m: "🟢 Online" in (m.text or ""))


# --- the real JobQueue tick -------------------------------------------------------------------


async def test_the_real_job_polls_with_short_intervals(tg: FakeTelegram, tmp_path: Path) -> None:
    async with NavixySandbox(
        activation_codes=ACTIVATION_CODES, default_script=DeviceScript(online_after=0.3)
    ) as real_sandbox:
        key = real_sandbox.new_api_key()
        settings = make_settings(
            tg,
            real_sandbox.base_url,
            key,
            tmp_path / "real.db",
            watch_tick_seconds=0.1,
            watch_poll_seconds=0.1,
        )
        async with running_bot(settings) as application:
            await catalog_ready(application)
            me = installer(tg)
            status = await register_and_watch(me)
            await tg.wait_until(lambda: tg.calls("sendLocation"), timeout=10)
            await tg.wait_for_edit(
                me.chat, status.message_id, lambda m: "🟢 Online" in (m.text or ""), timeout=10
            )
            await asyncio.sleep(0)
        assert status_sends(tg) == [] and status_messages(tg, me) == [status.message_id]


# --- who may press the watch's buttons ----------------------------------------------------------


async def test_only_the_installer_or_an_admin_may_act_on_a_watch(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    ivan = tg.user(100, "Ivan")
    olga = tg.user(101, "Olga")
    anna = tg.user(ADMIN_ID, "Anna")
    crew = tg.group_chat(-1001, members=[ivan, olga, anna])
    await watcher(app).start(
        tracker_id=4243, chat_id=crew.id, user_id=ivan.id, label="Van 7", model="telfmb140"
    )
    status = await tg.wait_for_message(crew, lambda m: "Van 7" in (m.text or ""))
    refused = await tg.press_button(olga, crew, status.message_id, "✖ Stop watching")
    answer = await tg.wait_for_callback_answer(refused)
    assert "Only the installer" in answer["text"] and answer["show_alert"]
    watch = await watcher(app).get(4243)
    assert watch is not None and watch.status is Phase.WAITING
    await tg.press_button(anna, crew, status.message_id, "✖ Stop watching")
    await tg.wait_for_edit(crew, status.message_id, lambda m: "Stopped watching" in (m.text or ""))
    watch = await watcher(app).get(4243)
    assert watch is not None and watch.status is Phase.DISMISSED
    assert not tg.errors


async def test_a_command_abandons_the_apn_entry(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=None))
    me = installer(tg)
    status = await register_and_watch(me)
    await tick(app, clock, 15 * MIN)  # automatic retry and options
    await me.tap("✏️ New APN + retry", on=current(tg, me, status.message_id), expect="APN name")
    await me.send("/register", expect="Which device?")
    await me.send("fmb140", expect="Models matching")
    assert len(sandbox.calls_to("tracker/register_retry")) == 1  # only the automatic one
