"""Background status edits wait in the watch view, not as a task each in the outbox (issue 11:
at 1000 watched most of them wait for the background budget, and a task per edit made every
full garbage collection walk ~25 objects per waiting edit). At most a few reach the outbox at
once; a newer text replaces a waiting one; an answer that edits the message drops the
waiting background text, as the outbox does for the edits in its queue.

A PTB Bot against the fake Telegram, the real outbox on a clock the test moves: with a
background budget of one call, the edits after the first wait until the test moves time on.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot.domain.watch import WatchPolicy
from bot.navixy.client import NavixyClient
from bot.services.catalog import Catalog
from bot.storage.db import Database
from bot.storage.model_cache import ModelCache
from bot.telegram.common import edit_text, send
from bot.telegram.outbox import Limits, Outbox, background, set_outbox
from bot.telegram.watch_view import _STATUS_EDITORS, TelegramWatchView
from tests.fakes.telegram import FakeChat, FakeTelegram
from tests.helpers import FakeClock

KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Stop watching", callback_data="w:s:103")]])
#: One background call of budget, then one every ~30 s of the test's clock.
SLOW_BACKGROUND = Limits(background_share=0.001, interactive_reserve=0.0)


async def test_waiting_status_edits_stay_in_the_view_newest_text_and_an_answer_drops_them(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    users = [tg.user(7000 + i, f"W{i}") for i in range(6)]
    chats = [tg.private_chat(u, started=True) for u in users]
    clock = FakeClock()
    bot = Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
    db = await Database.open(tmp_path / "bot.db")
    async with bot:
        outbox = Outbox(SLOW_BACKGROUND, clock=clock)
        set_outbox(bot, outbox)
        view = _view(bot, db)
        messages = []
        for chat in chats:  # the status messages, sent as answers
            sent = await send(bot, chat.id, "waiting")
            assert sent is not None
            messages.append(sent)

        with background():
            for i, (chat, message_id) in enumerate(zip(chats, messages, strict=True)):
                markup = KEYBOARD if i == 3 else None  # waits in the view as JSON
                view._queue_status_edit(100 + i, chat.id, message_id, f"#{i} one minute", markup)
            # One edit went out on the budget; a few wait in the outbox, the rest in the view.
            await tg.wait_until(lambda: _texts(tg, chats[0], messages[0]) == ["#0 one minute"])
            assert outbox.queued() == _STATUS_EDITORS - 1
            # Still waiting in the view: the newer text replaces the older one.
            view._queue_status_edit(105, chats[5].id, messages[5], "#5 two minutes", None)
        # An answer edits #4 (a button on its status message): its waiting text is stale.
        assert await edit_text(bot, chats[4].id, messages[4], "#4 the installer's answer")

        # Time moves on: the budget comes back one call at a time. Five background texts
        # reach Telegram in all (#0-#3, #5's newest), one per minute of the test's clock.
        for edits in range(2, 6):
            clock.advance(60)
            outbox.clock_moved()
            await tg.wait_until(functools.partial(_background_edits_are, tg, chats, edits))
        await asyncio.wait_for(view.drain(), 5)

    assert _texts(tg, chats[4], messages[4]) == ["#4 the installer's answer"]
    assert _texts(tg, chats[5], messages[5]) == ["#5 two minutes"]
    for i in range(4):
        assert _texts(tg, chats[i], messages[i]) == [f"#{i} one minute"]
    (edit,) = [c for c in tg.calls("editMessageText") if c.params.get("chat_id") == chats[3].id]
    assert edit.params["reply_markup"] == KEYBOARD.to_dict()
    await outbox.close()
    await db.close()


def _view(bot: Bot, db: Database) -> TelegramWatchView:
    """A view whose catalogue is never read (queued edits carry their text)."""
    client = NavixyClient("http://127.0.0.1:9", api_key="unused")
    catalog = Catalog(client, ModelCache(db), refresh_hours=24)
    return TelegramWatchView(bot, catalog, WatchPolicy(), api_url="http://127.0.0.1:9")


def _background_edits_are(tg: FakeTelegram, chats: list[FakeChat], n: int) -> bool:
    """Have `n` edits succeeded in the watched chats (the installer's answer, #4, aside)?"""
    watched = {c.id for c in chats} - {chats[4].id}
    edits = [c for c in tg.calls("editMessageText") if c.ok and c.params.get("chat_id") in watched]
    return len(edits) == n


def _texts(tg: FakeTelegram, chat: FakeChat, message_id: int) -> list[str]:
    """The texts the bot's successful edits gave the message, in order."""
    return [
        str(call.params["text"])
        for call in tg.calls("editMessageText")
        if call.ok
        and call.params.get("chat_id") == chat.id
        and call.params.get("message_id") == message_id
    ]
