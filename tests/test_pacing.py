"""bot/pacing.py: a long loop on the event loop gives way to the updates being answered."""

from __future__ import annotations

import asyncio

from bot.pacing import Pacer, answering


async def run_both(events: list[str]) -> None:
    async def answer() -> None:  # an installer's update: a few awaits (SQLite, Navixy, send)
        with answering():
            events.append("answer starts")
            for _ in range(10):
                await asyncio.sleep(0)
            events.append("answer ends")

    async def long_loop() -> None:  # the watcher's round over many watches
        pacer = Pacer(slice_seconds=0.0)  # every item uses up its slice
        for i in range(3):
            events.append(f"item {i}")
            await pacer.step()

    first = asyncio.create_task(answer())
    await asyncio.sleep(0)  # the answer is under way
    await asyncio.wait_for(asyncio.gather(first, long_loop()), 5)


async def test_a_long_loop_waits_for_the_answer_in_flight_before_its_next_slice() -> None:
    events: list[str] = []
    await run_both(events)
    assert events == ["answer starts", "item 0", "answer ends", "item 1", "item 2"]


async def test_with_no_answer_in_flight_the_loop_goes_on_at_once() -> None:
    events: list[str] = []
    pacer = Pacer(slice_seconds=0.0)
    for i in range(3):
        events.append(f"item {i}")
        await asyncio.wait_for(pacer.step(), 1)
    assert events == ["item 0", "item 1", "item 2"]
    assert pacer.yields == 3
