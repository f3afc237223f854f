"""The watcher's round over many watches shares the event loop with the installers
(issue 11): it gives the loop a turn every few milliseconds instead of holding it for the
whole round, asks Navixy in batches, and a poll that finds a device saying the same again
writes only its poll time. The Watcher against the Navixy stand-in and a real SQLite file;
the view is a recorder that costs a little time per call, as rendering does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest

from bot.domain.watch import Phase, Watch, WatchPolicy
from bot.navixy.client import NavixyClient
from bot.sandbox import NavixySandbox
from bot.services.watcher import POLL_BATCH, Watcher
from bot.storage.db import Database
from bot.storage.watches import WatchStore
from tests.helpers import FakeClock

N = 400  # more than one batch of a round's get_states (POLL_BATCH)
T = 60  # seconds: bound for one round
#: What one status update costs the view here (a render takes about this long).
VIEW_COST = 0.0001


class RecordingView:
    """Records each update in `events`, next to the turns the concurrent task gets."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.updates = 0

    async def post_status(self, watch: Watch, now: float, into: int | None = None) -> int | None:
        return None

    async def update_status(self, watch: Watch, now: float) -> None:
        self.updates += 1
        self.events.append("update")
        end = time.perf_counter() + VIEW_COST
        while time.perf_counter() < end:
            pass

    async def first_fix(self, watch: Watch, lat: float, lng: float) -> None:
        return None

    async def offer_options(self, watch: Watch, now: float) -> None:
        return None

    async def escalate(self, watch: Watch, admin_ids: Sequence[int], now: float) -> None:
        return None

    async def ended(self, watch: Watch, now: float) -> None:
        return None


class CountingStore(WatchStore):
    """Counts the watches written whole and the ones whose poll time alone was recorded."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.saved = 0
        self.polled = 0
        #: Rows per statement of `save_many` and `mark_polled`.
        self.writes: list[int] = []

    async def save(self, watch: Watch) -> None:
        self.saved += 1
        await super().save(watch)

    async def save_many(self, watches: list[Watch]) -> None:
        self.saved += len(watches)
        if watches:
            self.writes.append(len(watches))
        await super().save_many(watches)

    async def mark_polled(self, tracker_ids: list[int], polled_at: float) -> None:
        self.polled += len(tracker_ids)
        if tracker_ids:
            self.writes.append(len(tracker_ids))
        await super().mark_polled(tracker_ids, polled_at)


@pytest.fixture
def sandbox_kwargs() -> dict[str, Any]:
    return {"rate_limit_per_second": 100_000}


def seed(sandbox: NavixySandbox, now: float) -> list[Watch]:
    """N silent trackers in the stand-in and their watches (a few minutes old)."""
    ids = sandbox.add_silent_trackers(f"35693803{i:07d}" for i in range(N))
    return [
        Watch(
            tracker_id=tracker_id,
            chat_id=1000 + i,
            user_id=1000 + i,
            label=f"W {i}",
            model="telfmb140",
            started_at=now - 120,
            status_message_id=1,
            auto_retry_done=True,
        )
        for i, tracker_id in enumerate(ids)
    ]


def longest_run(events: list[str], kind: str) -> int:
    longest = run = 0
    for event in events:
        run = run + 1 if event == kind else 0
        longest = max(longest, run)
    return longest


async def test_a_round_over_many_watches_gives_the_loop_turns_and_rewrites_nothing_unchanged(
    db: Database, sandbox: NavixySandbox
) -> None:
    clock = FakeClock()
    events: list[str] = []
    view = RecordingView(events)
    store = CountingStore(db)
    seeded = seed(sandbox, clock.now)
    for watch in seeded:
        await store.put(watch)
    async with NavixyClient(sandbox.base_url, api_key=sandbox.new_api_key()) as client:
        watcher = Watcher(client, store, WatchPolicy(), view=view, clock=clock)

        async def round_() -> None:
            stop = asyncio.Event()

            async def other_work() -> None:  # an installer's update, say
                while not stop.is_set():
                    events.append("turn")
                    await asyncio.sleep(0)

            task = asyncio.create_task(other_work())
            try:
                async with asyncio.timeout(T):
                    await watcher.tick()
            finally:
                stop.set()
                await task

        await round_()
        assert view.updates == N  # every watch polled and shown
        assert store.saved == N  # the first answers are news: written whole
        assert store.writes == [POLL_BATCH, N - POLL_BATCH]  # one statement per batch
        # The other task got turns all along: never N updates in one stretch (a turn every
        # few ms; the round costs N * VIEW_COST = 40 ms of updates alone).
        assert longest_run(events, "update") < N // 4

        events.clear()
        store.writes.clear()
        store.saved = store.polled = view.updates = 0
        clock.advance(WatchPolicy().poll_seconds + 1)
        await round_()
        assert view.updates == N  # polled again, each one asked to show itself
        assert store.saved == 0  # the devices said the same: nothing written whole
        assert store.polled == N  # only the poll time, one statement per batch
        assert store.writes == [POLL_BATCH, N - POLL_BATCH]
        assert longest_run(events, "update") < N // 4

    stored = await WatchStore(db).active()
    assert len(stored) == N
    assert {w.polled_at for w in stored} == {clock.now}  # the poll time is kept
    assert all(w.status is Phase.WAITING and w.last_state is not None for w in stored)
    # Each round asks in batches of POLL_BATCH trackers, in order: smaller answers, parsed,
    # applied and written in shorter stretches.
    ids = [w.tracker_id for w in seeded]
    batches = [ids[:POLL_BATCH], ids[POLL_BATCH:]]
    assert [c.params["trackers"] for c in sandbox.calls_to("tracker/get_states")] == 2 * batches
