"""Status edits only when a person would notice (issue 11): the waiting time moves in marks,
time-only edits at most once a minute per message, and after a restart nothing unchanged is
edited again (what was shown is stored with the watch)."""

from __future__ import annotations

import re

from bot.config import Settings
from bot.sandbox import DeviceScript, NavixySandbox
from tests.e2e import IMEI, catalog_ready, installer, running_bot
from tests.fakes.telegram import FakeTelegram
from tests.helpers import FakeClock
from tests.test_e2e_watch import (
    MIN,
    clock,
    edits_of,
    rate_clock,
    register_and_watch,
    sandbox_kwargs,
    settings,
    watcher,
)

__all__ = ["clock", "rate_clock", "sandbox_kwargs", "settings"]  # fixtures used here

WAITING = re.compile(r"Waiting for the first connection: (\d+) min")


async def test_a_silent_device_is_edited_at_the_marks_and_at_most_once_a_minute(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    settings: Settings,
    clock: FakeClock,
    rate_clock: FakeClock,
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=None))
    async with running_bot(settings) as app:
        await catalog_ready(app)
        watcher(app).clock = clock
        me = installer(tg)
        status = await register_and_watch(me)
        started = clock.now
        edited_at: list[float] = []
        shown: list[int] = []
        for _ in range(12 * 12):  # a tick every 5 s for 12 minutes
            clock.advance(5)
            rate_clock.advance(5)
            before = len(edits_of(tg, status.message_id))
            await watcher(app).tick()
            edits = edits_of(tg, status.message_id)
            if len(edits) > before:
                edited_at.append(clock.now - started)
                match = WAITING.search(str(edits[-1].params.get("text", "")))
                if match:
                    shown.append(int(match.group(1)))

    # 144 polls of a device that said nothing new: the time moved 1, 2, 5, 10 min, and the
    # automatic retry at 5 min is a fact of its own (it may share the 5-min edit).
    assert shown == [1, 2, 5, 10]
    assert 4 <= len(edited_at) <= 5
    for t in edited_at:
        assert sum(1 for u in edited_at if t <= u < t + MIN) <= 2


async def test_after_a_restart_an_unchanged_status_is_not_edited_again(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    settings: Settings,
    clock: FakeClock,
    rate_clock: FakeClock,
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=None))
    me = installer(tg)
    async with running_bot(settings) as app:
        await catalog_ready(app)
        watcher(app).clock = clock
        status = await register_and_watch(me)
        clock.advance(2 * MIN + 5)
        rate_clock.advance(5)
        await watcher(app).tick()
        assert "2 min" in str(edits_of(tg, status.message_id)[-1].params.get("text"))
    edits = len(edits_of(tg, status.message_id))

    async with running_bot(settings) as app:  # same database: the watch resumes
        await catalog_ready(app)
        watcher(app).clock = clock
        clock.advance(30)
        rate_clock.advance(5)
        await watcher(app).tick()
        polls = len(sandbox.calls_to("tracker/get_states"))
        clock.advance(60)
        rate_clock.advance(5)
        await watcher(app).tick()
        assert len(sandbox.calls_to("tracker/get_states")) > polls  # it did look again
    assert len(edits_of(tg, status.message_id)) == edits  # and edited nothing unchanged
