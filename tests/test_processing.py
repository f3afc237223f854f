"""The per-conversation update processor: in order within a conversation, and a burst in
one conversation never takes the slots other conversations need."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update, User

from bot.telegram.processing import PerConversationProcessor


def _update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    user = User(chat_id, "Installer", False)
    message = Message(update_id, datetime.now(UTC), chat, from_user=user, text="x")
    return Update(update_id, message=message)


async def test_a_burst_in_one_conversation_does_not_stall_another() -> None:
    processor = PerConversationProcessor(2)
    release = asyncio.Event()
    order: list[int] = []

    async def slow(n: int) -> None:
        await release.wait()
        order.append(n)

    async def quick() -> None:
        order.append(-1)

    # Chat 1: a slow update, then four more queued behind it (more than the 2 slots).
    burst = [
        asyncio.create_task(processor.process_update(_update(n, 1), slow(n))) for n in range(5)
    ]
    await asyncio.sleep(0)
    other = asyncio.create_task(processor.process_update(_update(9, 2), quick()))
    async with asyncio.timeout(2):
        await other  # chat 2 is served while chat 1 is still waiting
    assert order == [-1]
    release.set()
    async with asyncio.timeout(2):
        await asyncio.gather(*burst)
    assert order == [-1, 0, 1, 2, 3, 4]  # chat 1 in order
    assert not processor._locks and not processor._users
