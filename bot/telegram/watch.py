"""The device watch in the chat: the status message, its buttons, /pending, shared locations.

`TelegramWatchView` renders what `bot.services.watcher.Watcher` decides (one status
message per device, edited in place; new messages only for the map pin, the "online"
card, the options at the activation deadline and the final note). `WatchChat` holds the
handlers: callbacks `w|<tracker id>|<action>`, the location share, `/pending`, and the
short APN entry before a retry (kept in memory only: APN credentials are never stored).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.domain import fields
from bot.domain.draft import Draft
from bot.domain.watch import (
    CHECK_ORDER,
    ROUTINE_EDIT_SECONDS,
    Check,
    CheckResult,
    Connection,
    Phase,
    RetryOutcome,
    WatchPolicy,
    distance_verdict,
    next_guided,
    summarize,
    tracker_server,
)
from bot.i18n import Gettext, gettext_for
from bot.navixy.errors import NavixyError
from bot.navixy.models import TrackerState
from bot.services.catalog import Catalog
from bot.services.registrar import Registered
from bot.services.watcher import Apn
from bot.storage.watches import Watch
from bot.telegram import texts
from bot.telegram import watch_texts as wt
from bot.telegram.common import (
    ADDRESSED,
    TEXT,
    Context,
    answer,
    can_delete_messages,
    edit_text,
    forget_secret_message,
    say,
    send,
    services,
    tr,
)
from bot.telegram.outbox import Priority, current_priority, outbox_for
from bot.telegram.user_language import crew_language, language_for

log = logging.getLogger(__name__)

PREFIX = "w"
CALLBACK_PATTERN = r"^w\|[0-9]{1,18}\|[a-z]{1,8}$"


def wcb(tracker_id: int, action: str) -> str:
    data = f"{PREFIX}|{tracker_id}|{action}"
    if len(data.encode()) > 64:
        raise ValueError(f"callback data too long: {action!r}")
    return data


def _summary(watch: Watch) -> Any:
    if watch.last_state is None:
        return None
    state = TrackerState.model_validate(watch.last_state.get("state") or {})
    return summarize(state, watch.last_state.get("user_time"))


# --- rendering ------------------------------------------------------------------------------


class TelegramWatchView:
    """Sends and edits the watch's messages (implements bot.services.watcher.WatchView)."""

    def __init__(
        self,
        bot: Bot,
        catalog: Catalog,
        policy: WatchPolicy,
        *,
        api_url: str,
        language_of: Callable[[int], str | None] | None = None,
        record_shown: Callable[[Watch], Awaitable[None]] | None = None,
    ) -> None:
        self._bot = bot
        # Stores what a status message shows (WatchStore.set_status_message).
        self._record_shown = record_shown or _nothing
        # The language each user speaks now (bot.storage.languages), else the watch's own.
        self._language_of = language_of or (lambda user_id: None)
        self._catalog = catalog
        self._policy = policy
        self._server = tracker_server(api_url)
        # Status messages whose last edit failed: what they show is not `shown_digest`.
        self._unsure: set[int] = set()
        # Background sends in flight (the poller does not wait for them).
        self._tasks: set[asyncio.Task[None]] = set()

    async def _deliver(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` now if answering someone; in background work, queue it and return, so
        the poller holds no lock while its sends wait in the outbox."""
        if current_priority() is Priority.INTERACTIVE:
            await coro
            return
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the background sends queued so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _tr(self, watch: Watch) -> Gettext:
        """The installer's language, for messages sent without an update to answer
        (in a group chat: the crew's language once one can be set, see user_language)."""
        crew = crew_language(watch.chat_id) if watch.chat_id < 0 else None
        return gettext_for(crew or self._language_of(watch.user_id) or watch.lang)

    def render(self, watch: Watch, now: float) -> tuple[str, InlineKeyboardMarkup | None]:
        _ = self._tr(watch)
        parts = [wt.heading(_, watch)]
        summary = _summary(watch)
        if watch.connected_at is None:  # never connected (waiting, or ended so)
            if watch.manual_config:
                model = self._catalog.model(watch.model)
                disabled = model is not None and model.has_auto_registration
                parts.append(wt.manual_config(_, model, self._server, commands_disabled=disabled))
            lines = wt.waiting_lines(_, watch, self._policy, now)
            if summary is not None and summary.connection not in (
                Connection.WAITING,
                Connection.REPLACED,
            ):
                lines.append(wt.connection(_, summary.connection))
            note = wt.retry_note(_, watch)
            if note:
                lines.append(note)
            parts.append("\n".join(lines))
        elif summary is not None:
            parts.append("\n".join(wt.state_lines(_, summary)))
            if watch.connected_at is not None:
                parts.append(self._checks(_, watch))
        ended = wt.ended_line(_, watch.status)
        if ended:
            parts.append(ended)
        return "\n\n".join(p for p in parts if p), self._keyboard(_, watch, now)

    def _checks(self, _: Gettext, watch: Watch) -> str:
        checks = watch.checks
        lines = [wt.check_line(_, c, checks.result(c)) for c in CHECK_ORDER]
        if checks.distance_m is not None:
            near = distance_verdict(checks.distance_m).value == "near"
            lines.append(wt.distance_line(_, checks.distance_m, near))
        if checks.running is not None and watch.status is Phase.ONLINE:
            lines.append(wt.guided_prompt(_, checks.running))
        return "\n".join(lines)

    def _keyboard(self, _: Gettext, watch: Watch, now: float) -> InlineKeyboardMarkup | None:
        tid = watch.tracker_id
        if watch.status is Phase.WAITING:
            late = watch.options_sent or now - watch.started_at >= self._policy.activation
            if late:
                return late_keyboard(_, tid)
            return InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(wt.button_check(_), callback_data=wcb(tid, "check")),
                        InlineKeyboardButton(wt.button_stop(_), callback_data=wcb(tid, "stop")),
                    ]
                ]
            )
        if watch.status is Phase.ONLINE:
            row = []
            guided = next_guided(watch.checks)
            if guided is not None and watch.checks.result(guided) is CheckResult.PENDING:
                row.append(
                    InlineKeyboardButton(
                        wt.button_ignition(_, guided), callback_data=wcb(tid, "ign")
                    )
                )
            row.append(InlineKeyboardButton(wt.button_finish(_), callback_data=wcb(tid, "fin")))
            return InlineKeyboardMarkup([row])
        return None

    # -- WatchView ------------------------------------------------------------------------------

    async def post_status(self, watch: Watch, now: float) -> int | None:
        text, markup = self.render(watch, now)
        message = await self._send(watch.chat_id, text, markup)
        if message is None:
            return None
        watch.shown_digest, watch.shown_at = _digest(text, markup), now
        return message.message_id

    async def update_status(self, watch: Watch, now: float) -> None:
        """Edit the status message when a person would notice: a fact changed (connection,
        fix, ignition, a ladder step, the end), or the waiting time reached its next mark,
        and then at most once a minute. What it shows is kept with the watch (`shown_*`,
        saved by the watcher), so after a restart nothing unchanged is edited again."""
        if watch.status_message_id is None:
            return
        text, markup = self.render(watch, now)
        digest = _digest(text, markup)
        known = None if watch.tracker_id in self._unsure else watch.shown_digest
        if known == digest:
            return
        if (
            known is not None
            and watch.shown_at is not None
            and now - watch.shown_at < ROUTINE_EDIT_SECONDS
            and _digest(*self.render(watch, watch.shown_at)) == known
        ):
            return  # only the time moved on: it waits for the minute to pass
        watch.shown_digest, watch.shown_at = digest, now
        self._unsure.discard(watch.tracker_id)
        await self._record_shown(watch)
        await self._deliver(
            self._edit_status(
                watch.tracker_id, watch.chat_id, watch.status_message_id, text, markup
            )
        )

    async def _edit_status(
        self,
        tracker_id: int,
        chat_id: int,
        message_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
    ) -> None:
        if not await edit_text(self._bot, chat_id, message_id, text, markup, patience=0):
            log.info("status of tracker %d not edited", tracker_id)
            self._unsure.add(tracker_id)  # edit again next time

    async def first_fix(self, watch: Watch, lat: float, lng: float) -> None:
        await self._deliver(self._first_fix(watch, lat, lng))

    async def _first_fix(self, watch: Watch, lat: float, lng: float) -> None:
        _ = self._tr(watch)
        private = watch.chat_id > 0
        keyboard = (
            ReplyKeyboardMarkup(
                [[KeyboardButton(wt.share_location_button(_), request_location=True)]],
                resize_keyboard=True,
                one_time_keyboard=True,
            )
            if private
            else None
        )
        try:
            await outbox_for(self._bot).run(
                watch.chat_id,
                lambda: self._bot.send_location(watch.chat_id, latitude=lat, longitude=lng),
                patience=0,
            )
        except TelegramError as exc:
            log.info("map pin for tracker %d not sent: %s", watch.tracker_id, exc)
        card = wt.online_card(_, watch, can_request_location=private)
        if await send(self._bot, watch.chat_id, card, keyboard, patience=0) is None:
            log.info("online card for tracker %d not sent", watch.tracker_id)

    async def offer_options(self, watch: Watch, now: float) -> None:
        await self._deliver(self._offer_options(watch, now))

    async def _offer_options(self, watch: Watch, now: float) -> None:
        _ = self._tr(watch)
        text = wt.options(_, watch, self._policy, now)
        if watch.manual_config:
            model = self._catalog.model(watch.model)
            disabled = model is not None and model.has_auto_registration
            text += "\n\n" + wt.manual_config(_, model, self._server, commands_disabled=disabled)
        await self._send(watch.chat_id, text, late_keyboard(_, watch.tracker_id))

    async def escalate(self, watch: Watch, admin_ids: Sequence[int], now: float) -> None:
        await self._deliver(self._escalate(watch, admin_ids, now))

    async def _escalate(self, watch: Watch, admin_ids: Sequence[int], now: float) -> None:
        sent = 0
        for admin_id in admin_ids:
            # Each admin in their own language (English if they never talked to the bot).
            text = wt.escalation(gettext_for(self._language_of(admin_id)), watch, now)
            if await self._send(admin_id, text):
                sent += 1
        log.info("tracker %d silent: told %d of %d admins", watch.tracker_id, sent, len(admin_ids))
        if sent:
            await self._send(watch.chat_id, wt.installer_escalated(self._tr(watch)))

    async def ended(self, watch: Watch, now: float) -> None:
        await self._deliver(self._ended(watch, now))

    async def _ended(self, watch: Watch, now: float) -> None:
        if watch.status in (Phase.EXPIRED, Phase.GONE):
            _ = self._tr(watch)
            text = wt.heading(_, watch) + "\n\n" + wt.ended_line(_, watch.status)
            await self._send(watch.chat_id, text)

    async def _send(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> Message | None:
        # Background sends never sit out a flood wait: the poller must not stall.
        return await send(self._bot, chat_id, text, markup, patience=0)


async def _nothing(watch: Watch) -> None:
    return None


def _digest(text: str, markup: InlineKeyboardMarkup | None) -> str:
    body = text + "\x00" + (markup.to_json() if markup is not None else "")
    return hashlib.blake2b(body.encode(), digest_size=12).hexdigest()


def late_keyboard(_: Gettext, tracker_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(wt.button_retry(_), callback_data=wcb(tracker_id, "retry"))],
            [InlineKeyboardButton(wt.button_apn(_), callback_data=wcb(tracker_id, "apn"))],
            [
                InlineKeyboardButton(
                    wt.button_check_again(_), callback_data=wcb(tracker_id, "check")
                ),
                InlineKeyboardButton(wt.button_stop(_), callback_data=wcb(tracker_id, "stop")),
            ],
        ]
    )


# --- starting a watch after a registration --------------------------------------------------


async def start_watch(update: Update, context: Context, draft: Draft, done: Registered) -> None:
    """Called by the registration conversation after `tracker/register` succeeded."""
    if draft.mobile:
        return  # the X-GPS app connects when the employee activates it: nothing to retry
    try:
        svc = services(context)
        model = svc.catalog.model(draft.model_code or done.model)
        manual = await svc.watcher.needs_manual_config(model)
        user = update.effective_user
        await svc.watcher.start(
            tracker_id=done.tracker_id,
            chat_id=draft.chat_id,
            user_id=draft.user_id,
            label=done.label,
            model=done.model,
            model_title=draft.model_title,
            device_id=done.device_id,
            user_name=user.first_name if user else "",
            lang=language_for(update),
            manual_config=manual,
        )
    except Exception:
        # Watching is a help: it must never spoil a successful registration.
        log.exception("could not start watching tracker %d", done.tracker_id)


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
            CallbackQueryHandler(self.on_button, pattern=CALLBACK_PATTERN),
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
        _prefix, tid, action = (query.data or "").split("|")
        tracker_id = int(tid)
        svc = services(context)
        watcher = svc.watcher
        watch = await watcher.get(tracker_id)
        if watch is None:
            await answer(query, wt.not_watched(_))
            return
        if watch.user_id != user.id and svc.settings.role_of(user.id) != "admin":
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
            [[InlineKeyboardButton(wt.button_skip(_), callback_data=wcb(entry.tracker_id, "skip"))]]
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
        everyone = svc.settings.role_of(user.id) == "admin"
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
                    wt.button_pending_check(_, w.label), callback_data=wcb(w.tracker_id, "check")
                ),
                InlineKeyboardButton(
                    wt.button_pending_retry(_), callback_data=wcb(w.tracker_id, "retry")
                ),
            ]
            for w in watches[:50]
        ]
        markup = InlineKeyboardMarkup(rows) if rows else None
        await say(update, context, wt.pending_list(_, watches[:50], now), markup)


def _check_answer(_: Gettext, watch: Watch | None) -> str:
    if watch is None:
        return wt.not_watched(_)
    summary = _summary(watch)
    if summary is None:
        return wt.checked(_)
    return wt.connection(_, summary.connection)


__all__ = ["Check", "TelegramWatchView", "WatchChat", "late_keyboard", "start_watch", "wcb"]
