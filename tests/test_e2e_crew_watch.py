# ruff: noqa: F811 (the watch fixtures are imported, then named as parameters)
"""A crew hears about its members' devices: the registration line, "online", and "still
silent" (in the crew chat and to its lead). The watch runs on the fake clock of
tests/test_e2e_watch.py (its fixtures are reused here)."""

from __future__ import annotations

from bot.app import App
from bot.sandbox import DeviceScript, NavixySandbox
from tests.e2e import ADMIN_ID, IMEI, installer
from tests.fakes.telegram import FakeChat, FakeTelegram
from tests.helpers import FakeClock
from tests.test_e2e_watch import (  # noqa: F401 (fixtures)
    DEVICE_AT,
    MIN,
    app,
    clock,
    rate_clock,
    register_and_watch,
    sandbox_kwargs,
    settings,
    tick,
)


async def linked_crew(tg: FakeTelegram) -> tuple[FakeChat, FakeChat]:
    """A crew chat with Ivan (100) and Boris (101, the lead); returns (crew chat, Boris's
    private chat)."""
    boss = tg.user(ADMIN_ID, "Alice")
    ivan = tg.user(100, "Ivan")
    boris = tg.user(101, "Boris")
    crew = tg.group_chat(-100900, "North crew", members=[boss, ivan, boris])
    boris_chat = tg.private_chat(boris, started=True)
    await tg.send_text(ivan, crew, f"/pending@{tg.bot_username}")  # Ivan speaks up there
    await tg.wait_for_message(crew)
    said = await tg.send_text(boris, crew, "I lead this crew")
    await tg.send_text(boss, crew, "/crew lead", reply_to=said["message_id"])
    card = await tg.wait_for_message(crew, lambda m: "Crew chat" in (m.text or ""))
    assert "Lead: Boris" in (card.text or "")
    return crew, boris_chat


async def test_a_members_private_registration_is_announced_then_online(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    app: App,
    clock: FakeClock,
) -> None:
    crew, _ = await linked_crew(tg)
    sandbox.script_device(IMEI, DeviceScript(online_after=60, location=DEVICE_AT))
    me = installer(tg, 100, name="Ivan")
    await register_and_watch(me)
    (tracker,) = sandbox.trackers.values()
    line = await tg.wait_for_message(crew, lambda m: "registered" in (m.text or ""))
    assert line.text == f"📋 Ivan registered Teltonika FMB140 “AB 123 C”: tracker {tracker.id}"
    await tick(app, clock, 61)
    online = await tg.wait_for_message(crew, lambda m: "is online" in (m.text or ""))
    assert online.text == f"🟢 “AB 123 C” (tracker {tracker.id}) is online."


async def test_a_silent_device_is_announced_to_the_crew_and_its_lead(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    app: App,
    clock: FakeClock,
) -> None:
    crew, boris_chat = await linked_crew(tg)
    alice = installer(tg, ADMIN_ID, name="Alice")
    carl = tg.private_chat(tg.user(102, "Carl"), started=True)
    await alice.send("/promote 102", expect="is an admin now")  # promoted admins hear too
    sandbox.script_device(IMEI, DeviceScript(online_after=None))
    me = installer(tg, 100, name="Ivan")
    await register_and_watch(me)
    (tracker,) = sandbox.trackers.values()
    for _ in range(6):
        await tick(app, clock, 5 * MIN)
    expected = f"⚠️ “AB 123 C” (tracker {tracker.id}, by Ivan) is still silent after 30 min."
    said = await tg.wait_for_message(crew, lambda m: "still silent" in (m.text or ""))
    assert said.text == expected
    told = await tg.wait_for_message(boris_chat, lambda m: "still silent" in (m.text or ""))
    assert told.text == expected
    await tg.wait_for_message(carl, lambda m: "No connection" in (m.text or ""))
