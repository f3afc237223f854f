"""Process updates concurrently across conversations, in order within one.

PTB's default processes one update at a time, so one slow Navixy call stalls
every chat. The ConversationHandler needs updates of one conversation in order,
so this processor serialises per (chat, user) and runs different ones in
parallel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.pacing import answering


class PerConversationProcessor(BaseUpdateProcessor):
    """At most `max_concurrent_updates` updates run at once, one per conversation at a time.

    PTB takes its semaphore *before* `do_process_update`, so updates waiting there for their
    conversation's turn would hold slots that other conversations need (a burst from one
    chat behind a slow Navixy call would stall every chat). So PTB's semaphore is made
    wide and the real bound is taken here, after the turn.
    """

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        if max_concurrent_updates < 1:
            raise ValueError("max_concurrent_updates must be a positive integer")
        super().__init__(_WIDE)
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._locks: dict[tuple[int | None, int | None], asyncio.Lock] = {}
        self._users: dict[tuple[int | None, int | None], int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock, self._slots:
                with answering():  # the watcher's round gives way meanwhile (bot/pacing.py)
                    await coroutine
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


#: PTB's own semaphore: never the limit (see PerConversationProcessor).
_WIDE = 1 << 20


def _key(update: object) -> tuple[int | None, int | None]:
    if not isinstance(update, Update):
        return (None, None)
    chat = update.effective_chat
    user = update.effective_user
    return (chat.id if chat else None, user.id if user else None)
