"""The outbound scheduler (bot/telegram/outbox.py): order, coalescing, flood waits per chat;
and end to end, through the fault proxy: one chat's 429 does not hold another chat's reply."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from telegram.error import RetryAfter

from bot.sandbox import NavixySandbox
from bot.telegram.outbox import SWEEP_AT_LEAST, Limits, Outbox, Priority, background
from tests.e2e import catalog_ready, installer, make_settings, running_bot
from tests.fakes.faulty_telegram import FaultyTelegram, TgError
from tests.fakes.telegram import FakeTelegram

ROOMY = Limits(private_per_second=1000, private_burst=1000, overall_burst=1000)


class Recorder:
    """Calls that record their name when they run; `gate` holds the first one."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.gate = asyncio.Event()
        self.holding = asyncio.Event()  # the held call has started

    def call(self, name: str, *, hold: bool = False) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            self.ran.append(name)
            if hold:
                self.holding.set()
                await self.gate.wait()
            return name

        return run


async def test_interactive_calls_go_before_background_work_queued_earlier() -> None:
    box, rec = Outbox(ROOMY), Recorder()
    first = box.submit(7, rec.call("bg-0", hold=True), priority=Priority.BACKGROUND)
    await asyncio.wait_for(rec.holding.wait(), 5)
    with background():
        later = [box.submit(7, rec.call(f"bg-{i}")) for i in (1, 2)]
    reply = box.submit(7, rec.call("reply"))  # an answer to the installer, queued last
    rec.gate.set()
    await asyncio.wait_for(asyncio.gather(first, reply, *later), 5)
    assert rec.ran == ["bg-0", "reply", "bg-1", "bg-2"]
    assert box.sent == [1, 3]


async def test_an_answer_nothing_waits_before_starts_at_once_others_keep_their_turn() -> None:
    box, rec = Outbox(ROOMY), Recorder()
    held = box.submit(7, rec.call("a", hold=True))
    assert list(box.log) == [(Priority.INTERACTIVE, 7)]  # started in submit: no pump turn
    await asyncio.wait_for(rec.holding.wait(), 5)
    second = box.submit(7, rec.call("b"))  # its chat has a call in flight: it waits
    third = box.submit(8, rec.call("c"))  # an answer (b) waits before it: through the pump
    assert len(box.log) == 1
    await asyncio.wait_for(third, 5)
    rec.gate.set()
    await asyncio.wait_for(asyncio.gather(held, second), 5)
    assert rec.ran == ["a", "c", "b"]
    assert list(box.log) == [(Priority.INTERACTIVE, c) for c in (7, 8, 7)]


async def test_an_answer_started_at_once_is_sent_again_after_its_429() -> None:
    box = Outbox(ROOMY)
    tries: list[int] = []

    async def call() -> str:
        tries.append(len(tries))
        if len(tries) == 1:
            raise RetryAfter(1)
        return "sent"

    assert await asyncio.wait_for(box.run(7, call), 5) == "sent"
    assert tries == [0, 1] and box.floods == 1


async def test_background_work_leaves_the_reserve_of_the_overall_budget_to_answers() -> None:
    now = [0.0]  # the clock stands still: no budget comes back during the test
    limits = Limits(
        overall_per_second=10,
        overall_burst=10,
        private_per_second=1000,
        private_burst=1000,
        background_share=1.0,
        interactive_reserve=5,
    )
    box, rec = Outbox(limits, clock=lambda: now[0]), Recorder()
    five_ran = asyncio.Event()

    def status(i: int) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            rec.ran.append(f"status {i}")
            if len(rec.ran) == 5:
                five_ran.set()
            return "ok"

        return run

    with background():
        for i in range(20):  # 20 status edits in 20 watched chats
            box.submit(100 + i, status(i))
    await asyncio.wait_for(five_ran.wait(), 5)
    replies = [box.submit(i, rec.call(f"reply {i}")) for i in range(1, 6)]
    await asyncio.wait_for(asyncio.gather(*replies), 5)  # five answers go at once
    assert sum(name.startswith("status") for name in rec.ran) == 5
    assert box.sent == [5, 5]
    await box.close()


async def test_background_edits_of_one_message_are_coalesced_to_the_newest() -> None:
    box, rec = Outbox(ROOMY), Recorder()
    busy = box.submit(7, rec.call("card", hold=True))
    await asyncio.wait_for(rec.holding.wait(), 5)
    key = ("edit", 7, 42)
    with background():
        edits = [box.submit(7, rec.call(f"status {m} min"), key=key) for m in (1, 2, 5)]
        other = box.submit(7, rec.call("other message"), key=("edit", 7, 43))
    rec.gate.set()
    results = await asyncio.wait_for(asyncio.gather(busy, *edits, other), 5)
    assert rec.ran == ["card", "status 5 min", "other message"]
    assert results[1:4] == ["status 5 min"] * 3  # every caller learns what is shown
    assert box.coalesced == 2


async def test_an_interactive_edit_drops_the_older_background_edit_waiting() -> None:
    box, rec = Outbox(ROOMY), Recorder()
    busy = box.submit(7, rec.call("card", hold=True))
    await asyncio.wait_for(rec.holding.wait(), 5)
    with background():
        stale = box.submit(7, rec.call("status: waiting"), key=("edit", 7, 42))
    pressed = box.submit(7, rec.call("status: online"), key=("edit", 7, 42))
    rec.gate.set()
    assert await asyncio.wait_for(stale, 5) == "status: online"
    await asyncio.wait_for(asyncio.gather(busy, pressed), 5)
    assert rec.ran == ["card", "status: online"]


async def test_listeners_hear_the_key_of_every_interactive_call_not_of_background_ones() -> None:
    box, rec = Outbox(ROOMY), Recorder()
    heard: list[object] = []
    box.on_interactive(heard.append)
    box.on_interactive(heard.append)  # once is enough
    with background():
        waiting = box.submit(7, rec.call("status"), key=("edit", 7, 42))
    answers = [
        box.submit(7, rec.call("answer"), key=("edit", 7, 43)),
        box.submit(7, rec.call("no key")),
    ]
    await asyncio.wait_for(asyncio.gather(waiting, *answers), 5)
    assert heard == [("edit", 7, 43)]
    await box.close()


async def test_a_flood_wait_pauses_only_its_chat() -> None:
    box, rec = Outbox(ROOMY), Recorder()
    floods = 0

    async def flooded() -> str:
        nonlocal floods
        rec.ran.append("A")
        if floods == 0:
            floods += 1
            raise RetryAfter(1)
        return "A"

    a = box.submit(1, flooded)
    b = box.submit(2, rec.call("B"))
    a2 = box.submit(1, rec.call("A2"))
    assert await asyncio.wait_for(b, 5) == "B"
    assert rec.ran == ["A", "B"]  # chat 2 went while chat 1 sat out its flood wait
    assert await asyncio.wait_for(a, 5) == "A"  # then retried, within its patience
    await asyncio.wait_for(a2, 5)
    assert rec.ran == ["A", "B", "A", "A2"]  # chat 1 kept its order


async def test_a_flood_wait_longer_than_the_patience_reaches_the_caller() -> None:
    box = Outbox(ROOMY)

    async def flooded() -> str:
        raise RetryAfter(30)

    try:
        await asyncio.wait_for(box.run(1, flooded, patience=0), 5)
    except RetryAfter:
        pass
    else:
        raise AssertionError("RetryAfter expected")
    assert box.floods == 1


async def test_background_work_in_a_private_chat_is_paced_after_its_burst() -> None:
    now = [0.0]
    limits = Limits(private_per_second=1.0, private_burst=3)
    box, rec = Outbox(limits, clock=lambda: now[0]), Recorder()
    with background():
        calls = [box.submit(5, rec.call(f"m{i}")) for i in range(5)]
    await asyncio.wait_for(asyncio.gather(*calls[:3]), 5)
    assert box.queued(5) == 2  # the burst went at once; the rest waits for the clock
    now[0] += 2.0
    box.clock_moved()
    await asyncio.wait_for(asyncio.gather(*calls[3:]), 5)
    assert rec.ran == [f"m{i}" for i in range(5)]


async def test_idle_chats_are_forgotten_a_paused_or_spent_one_is_kept() -> None:
    now = [0.0]
    limits = Limits(private_per_second=1.0, private_burst=3, overall_burst=10_000)
    box, rec = Outbox(limits, clock=lambda: now[0]), Recorder()

    async def flooded() -> str:
        raise RetryAfter(60)

    with contextlib.suppress(RetryAfter):
        await asyncio.wait_for(box.run(1, flooded, patience=0), 5)  # chat 1: paused 60 s
    for chat in range(2, SWEEP_AT_LEAST + 1):
        await asyncio.wait_for(box.run(chat, rec.call(f"c{chat}")), 5)
    with background():  # chat 2 spends its burst: 3 calls in the same second
        await asyncio.wait_for(asyncio.gather(*(box.run(2, rec.call("b")) for _ in range(2))), 5)
    assert box.tracked_chats == SWEEP_AT_LEAST
    now[0] += 1.0  # every bucket but chat 2's has refilled; chat 1 is still paused
    await asyncio.wait_for(box.run(-5, rec.call("group")), 5)  # one chat more: a sweep
    assert box.tracked_chats == 3  # chats 1, 2 and -5
    with background():  # chat 2 has 1 call of its budget back, not 3 (kept, not forgotten)
        await asyncio.wait_for(box.run(2, rec.call("next")), 5)
        late = box.submit(2, rec.call("late"))
    await asyncio.sleep(0)
    assert box.queued(2) == 1 and not late.done()
    paused = box.submit(1, rec.call("after the pause"))  # chat 1 still sits out its 429
    await asyncio.sleep(0)
    assert box.queued(1) == 1
    now[0] += 60.0
    box.clock_moved()
    await asyncio.wait_for(asyncio.gather(late, paused), 5)
    assert sorted(rec.ran[-2:]) == ["after the pause", "late"]


async def test_e2e_a_429_in_one_chat_does_not_hold_another_chats_reply(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    flooded, other = installer(tg, 100, name="Ann"), installer(tg, 101, name="Bob")
    async with FaultyTelegram(tg) as proxy:
        settings = make_settings(tg, sandbox.base_url, sandbox.new_api_key(), tmp_path / "b.db")
        settings = settings.model_copy(update={"telegram_api_url": proxy.url})
        async with running_bot(settings) as app:
            await catalog_ready(app)
            proxy.inject(
                "sendMessage",
                TgError(429, retry_after=5),
                when=lambda p: str(p.get("chat_id")) == str(flooded.chat.id),
            )
            await tg.send_text(flooded.user, flooded.chat, "/start")
            await tg.wait_until(lambda: proxy.injected, what="the 429 in Ann's chat")
            reply = await other.send("/start", expect="Register")
            # Bob was answered while Ann's chat still sat out its 5 s flood wait.
            assert tg.messages(flooded.chat) == []
            assert reply.message_id > 0
            late = await tg.wait_for_message(flooded.chat, timeout=10)
            assert "Register" in (late.text or "")
