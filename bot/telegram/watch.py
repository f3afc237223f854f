"""The device watch in the chat, its handlers: buttons, shared locations, /pending.

`WatchChat` holds the handlers: callbacks `WatchButton` (`w|<tracker id>|<action>`), the
location share, `/pending`, and the short APN entry before a retry (kept in memory only:
APN credentials are never stored). What the watch shows is rendered by
`bot/telegram/watch_view.py` (`TelegramWatchView`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.domain import fields
from bot.domain.navixy_outcomes import RetryOutcome
from bot.domain.watch import (
    Check,
    Phase,
    Watch,
)
from bot.i18n import Gettext
from bot.navixy.errors import NavixyError
from bot.services.watcher import Apn
from bot.telegram import admin, texts
from bot.telegram import watch_texts as wt
from bot.telegram.callback import WatchButton
from bot.telegram.common import (
    ADDRESSED,
    TEXT,
    Context,
    answer,
    can_delete_messages,
    forget_secret_message,
    say,
    send,
    services,
    tr,
)
from bot.telegram.watch_view import TelegramWatchView, late_keyboard, state_summary

log = logging.getLogger(__name__)


# --- handlers -------------------------------------------------------------------------------


#: An APN entry not finished within this many seconds is forgotten.
APN_ENTRY_SECONDS = 600.0


@dataclass
class _ApnEntry:
    tracker_id: int
    step: str = "name"  # name -> user -> password
    name: str = ""
    user: str = ""
    started: float = field(default_factory=time.monotonic)


class _AwaitingApn(filters.MessageFilter):
    """Messages of a user who is typing a new APN for a retry.

    A command (e.g. /register) or a long pause abandons the entry, so that later
    answers go to the registration conversation again.
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: dict[tuple[int, int], _ApnEntry]) -> None:
        super().__init__(name="AwaitingApn")
        self._entries = entries

    def filter(self, message: Message) -> bool:
        user = message.from_user
        if user is None:
            return False
        key = (message.chat.id, user.id)
        entry = self._entries.get(key)
        if entry is None:
            return False
        stale = time.monotonic() - entry.started > APN_ENTRY_SECONDS
        if stale or (message.text or "").startswith("/"):
            del self._entries[key]
            return False
        return True


Handler = BaseHandler[Update, Context, object]


class WatchChat:
    """The watch's handlers. APN entries live in memory only (secrets are never stored)."""

    def __init__(self) -> None:
        self._apn: dict[tuple[int, int], _ApnEntry] = {}

    def handlers(self) -> list[Handler]:
        return [
            CallbackQueryHandler(self.on_button, pattern=WatchButton.pattern()),
            MessageHandler(
                filters.UpdateType.MESSAGE & filters.LOCATION & ADDRESSED, self.on_location
            ),
            # The entry check first: it also sees the commands that abandon an entry.
            MessageHandler(_AwaitingApn(self._apn) & TEXT, self.on_apn_text),
            CommandHandler("pending", self.on_pending),
        ]

    # -- buttons --------------------------------------------------------------------------------

    async def on_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        user = update.effective_user
        chat = update.effective_chat
        assert query is not None and user is not None and chat is not None
        _ = tr(update)
        button = WatchButton.unpack(query.data)
        assert button is not None  # the handler's pattern matched
        tracker_id, action = button.tracker_id, button.action
        svc = services(context)
        watcher = svc.watcher
        watch = await watcher.get(tracker_id)
        if watch is None:
            await answer(query, wt.not_watched(_))
            return
        if watch.user_id != user.id and not admin.access(context).is_admin(user.id):
            await answer(query, wt.not_yours(_), alert=True)
            return
        key = (chat.id, user.id)
        if action == "check":
            try:
                checked = await watcher.check_now(tracker_id)
            except NavixyError:
                await answer(query, wt.navixy_busy(_))
                return
            await answer(query, _check_answer(_, checked))
        elif action == "retry":
            await answer(query)
            await self._retry(update, context, tracker_id, None)
        elif action == "apn":
            await answer(query)
            self._apn[key] = _ApnEntry(tracker_id)
            await say(update, context, wt.ask_apn_name(_), expects_text=True)
        elif action == "skip":
            await answer(query)
            entry = self._apn.get(key)
            if entry is not None and entry.tracker_id == tracker_id:
                await self._apn_step(update, context, entry, "")
        elif action in ("stop", "fin"):
            await answer(query)
            await watcher.stop(tracker_id, finished=action == "fin")
        elif action == "ign":
            await answer(query)
            await watcher.start_guided_check(tracker_id)
        else:
            await answer(query)

    async def _retry(
        self, update: Update, context: Context, tracker_id: int, apn: Apn | None
    ) -> None:
        _ = tr(update)
        result = await services(context).watcher.retry(tracker_id, apn)
        if result is None:
            await say(update, context, wt.not_watched(_))
            return
        text = wt.retry_result(_, result.outcome, code=result.code, apn=apn is not None)
        if result.outcome is RetryOutcome.ALREADY_CONNECTED:
            watch = await services(context).watcher.get(tracker_id)
            if watch is not None and watch.status is Phase.WAITING:
                text += "\n" + wt.checked(_)
        await say(update, context, text)

    # -- APN entry ------------------------------------------------------------------------------

    async def on_apn_text(self, update: Update, context: Context) -> None:
        message = update.effective_message
        user = update.effective_user
        assert message is not None and user is not None
        entry = self._apn.get((message.chat.id, user.id))
        if entry is None:
            return
        await self._apn_step(update, context, entry, message.text or "")

    async def _apn_step(self, update: Update, context: Context, entry: _ApnEntry, raw: str) -> None:
        _ = tr(update)
        message = update.effective_message
        user = update.effective_user
        assert message is not None and user is not None
        key = (message.chat.id, user.id)
        skip = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        wt.button_skip(_), callback_data=WatchButton.data(entry.tracker_id, "skip")
                    )
                ]
            ]
        )
        if entry.step == "name":
            check = fields.check_apn_name(raw)
            if not check.ok or check.value is None:
                await say(
                    update, context, wt.bad_apn(_) + "\n" + wt.ask_apn_name(_), expects_text=True
                )
                return
            entry.name, entry.step = check.value, "user"
            await say(update, context, wt.ask_apn_user(_), skip, expects_text=True)
            return
        if entry.step == "user":
            check = fields.check_apn_user(raw)
            if check.value is None:
                await say(update, context, wt.bad_apn(_), skip, expects_text=True)
                return
            entry.user, entry.step = check.value, "password"
            await say(update, context, wt.ask_apn_password(_), skip, expects_text=True)
            return
        if update.callback_query is None and not (
            await can_delete_messages(update, context) and await forget_secret_message(update)
        ):
            await say(update, context, texts.secret_not_deleted(_))
        check = fields.check_apn_password(raw)
        if check.value is None:
            await say(update, context, wt.bad_apn(_), skip, expects_text=True)
            return
        del self._apn[key]
        apn = Apn(entry.name, entry.user, check.value)
        await self._retry(update, context, entry.tracker_id, apn)

    # -- location, /pending ---------------------------------------------------------------------

    async def on_location(self, update: Update, context: Context) -> None:
        message = update.effective_message
        user = update.effective_user
        assert message is not None and user is not None
        if message.location is None:
            return
        _ = tr(update)
        loc = message.location
        result = await services(context).watcher.compare_location(
            message.chat.id, user.id, loc.latitude, loc.longitude
        )
        if result is None:
            text = wt.no_location_to_compare(_)
        else:
            text = wt.distance_verdict(_, result.metres, result.near, result.fix_age)
        await send(context.bot, message.chat.id, text, ReplyKeyboardRemove())

    async def on_pending(self, update: Update, context: Context) -> None:
        user = update.effective_user
        assert user is not None
        _ = tr(update)
        svc = services(context)
        everyone = admin.access(context).is_admin(user.id)
        chat = update.effective_chat
        if chat is not None and chat.type != ChatType.PRIVATE:
            # A group sees only the devices registered in it (never other crews' devices).
            watches = [w for w in await svc.watcher.pending(None) if w.chat_id == chat.id]
        else:
            watches = await svc.watcher.pending(None if everyone else user.id)
        now = svc.watcher.clock()
        rows = [
            [
                InlineKeyboardButton(
                    wt.button_pending_check(_, w.label),
                    callback_data=WatchButton.data(w.tracker_id, "check"),
                ),
                InlineKeyboardButton(
                    wt.button_pending_retry(_),
                    callback_data=WatchButton.data(w.tracker_id, "retry"),
                ),
            ]
            for w in watches[:50]
        ]
        markup = InlineKeyboardMarkup(rows) if rows else None
        await say(update, context, wt.pending_list(_, watches[:50], now), markup)


def _check_answer(_: Gettext, watch: Watch | None) -> str:
    if watch is None:
        return wt.not_watched(_)
    summary = state_summary(watch)
    if summary is None:
        return wt.checked(_)
    return wt.connection(_, summary.connection)


__all__ = ["Check", "TelegramWatchView", "WatchButton", "WatchChat", "late_keyboard"]
