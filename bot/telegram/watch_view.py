"""The device watch in the chat, its view: the status message and what the watcher sends.

`TelegramWatchView` renders what `bot.services.watcher.Watcher` decides (one status
message per device, edited in place; new messages only for the map pin, the "online"
card, the options at the activation deadline and the final note). The status message is
the registration's result card itself ("✅ Registered", the tracker ID, label, model and
device ID on top, then the device's state and the watch's buttons): the Register tap
ends in one message, edited once. It implements the watcher's `WatchView` protocol. The
handlers (buttons, location, /pending, the APN entry) are in `bot/telegram/watch.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from html import escape
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from telegram.error import TelegramError

from bot.domain.watch import (
    CHECK_ORDER,
    ROUTINE_EDIT_SECONDS,
    CheckResult,
    Connection,
    Phase,
    StateSummary,
    Watch,
    WatchPolicy,
    distance_verdict,
    next_guided,
    shown_elapsed,
    tracker_server,
)
from bot.i18n import Gettext, gettext_for
from bot.services.catalog import Catalog
from bot.telegram import texts
from bot.telegram import watch_texts as wt
from bot.telegram.callback import WatchButton
from bot.telegram.common import (
    edit_text,
    send,
)
from bot.telegram.outbox import (
    Priority,
    background,
    current_priority,
    edit_key,
    outbox_for,
)
from bot.telegram.user_language import crew_language

log = logging.getLogger(__name__)

#: Background status edits handed to the outbox at once (the rest wait in the view): enough
#: to keep the background budget busy while one of them waits out a network retry.
_STATUS_EDITORS = 4


def state_summary(watch: Watch) -> StateSummary | None:
    """What the watch's latest answer says (None before the first one)."""
    if watch.last_state is None:
        return None
    return watch.last_state.summary()


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
        crew_online: Callable[[Watch], Awaitable[None]] | None = None,
        crew_silent: Callable[[Watch, int], Awaitable[None]] | None = None,
        admins: Callable[[], Sequence[int]] | None = None,
        record_shown: Callable[[Watch], Awaitable[None]] | None = None,
    ) -> None:
        self._bot = bot
        # Stores what a status message shows (WatchStore.set_status_message).
        self._record_shown = record_shown or _nothing
        # The admins now (ADMIN_IDS and promoted ones), instead of the watcher's start-up list.
        self._admins = admins
        # Crew chats hear "online" and "still silent" too (bot/telegram/crew.py).
        self._crew_online = crew_online
        self._crew_silent = crew_silent
        # The language each user speaks now (bot.services.languages), else the watch's own.
        self._language_of = language_of or (lambda user_id: None)
        self._catalog = catalog
        self._policy = policy
        self._server = tracker_server(api_url)
        # Status messages whose last edit failed: what they show is not `shown_digest`.
        self._unsure: set[int] = set()
        # Per status message: what `render` last read (`_render_key`) and the digest it gave.
        self._rendered: dict[int, tuple[tuple[object, ...], str]] = {}
        # Background sends in flight (the poller does not wait for them).
        self._tasks: set[asyncio.Task[None]] = set()
        # Status edits the poller decided on, newest text per message, oldest first: at
        # 1000 watched most wait for the background budget, and as plain entries (not a
        # task each, awaiting the outbox; the keyboard as its JSON, a string the garbage
        # collector does not walk) they keep the heap, and so every full collection,
        # small. `_STATUS_EDITORS` tasks hand them to the outbox.
        self._status_edits: dict[Hashable, tuple[int, int, int, str, str | None]] = {}
        self._editors: set[asyncio.Task[None]] = set()

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
        while self._tasks or self._editors:
            await asyncio.gather(*self._tasks, *self._editors, return_exceptions=True)

    def _queue_status_edit(
        self,
        tracker_id: int,
        chat_id: int,
        message_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None,
    ) -> None:
        """Background: the status message is to show `text` (replacing a text still
        waiting, which keeps its place in the line)."""
        if not self._status_edits:
            # An answer that edits the message makes a waiting background text stale.
            outbox_for(self._bot).on_interactive(self._drop_status_edit)
        keyboard = markup.to_json() if markup is not None else None
        edit = (tracker_id, chat_id, message_id, text, keyboard)
        self._status_edits[edit_key(chat_id, message_id)] = edit
        while len(self._editors) < min(_STATUS_EDITORS, len(self._status_edits)):
            task = asyncio.create_task(self._edit_statuses())
            self._editors.add(task)
            task.add_done_callback(self._editors.discard)

    def _drop_status_edit(self, key: Hashable) -> None:
        self._status_edits.pop(key, None)

    async def _edit_statuses(self) -> None:
        with background():
            while self._status_edits:
                key = next(iter(self._status_edits))
                tracker_id, chat_id, message_id, text, keyboard = self._status_edits.pop(key)
                markup = (
                    InlineKeyboardMarkup.de_json(json.loads(keyboard), self._bot)
                    if keyboard is not None
                    else None
                )
                await self._edit_status(tracker_id, chat_id, message_id, text, markup)

    def _tr(self, watch: Watch) -> Gettext:
        """The installer's language, for messages sent without an update to answer
        (in a group chat: the crew's language once one can be set, see user_language)."""
        crew = crew_language(watch.chat_id) if watch.chat_id < 0 else None
        return gettext_for(crew or self._language_of(watch.user_id) or watch.lang)

    def render(self, watch: Watch, now: float) -> tuple[str, InlineKeyboardMarkup | None]:
        _ = self._tr(watch)
        parts = [self._result(_, watch)]
        summary = state_summary(watch)
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

    @staticmethod
    def _result(_: Gettext, watch: Watch) -> str:
        """The registration's result, on top of the status message (its heading)."""
        return texts.registered(
            _,
            tracker_id=watch.tracker_id,
            label=watch.label,
            model=watch.title,
            device_id=watch.device_id,
            mobile=False,
        )

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
                        InlineKeyboardButton(
                            wt.button_check(_), callback_data=WatchButton.data(tid, "check")
                        ),
                        InlineKeyboardButton(
                            wt.button_stop(_), callback_data=WatchButton.data(tid, "stop")
                        ),
                    ]
                ]
            )
        if watch.status is Phase.ONLINE:
            row = []
            guided = next_guided(watch.checks)
            if guided is not None and watch.checks.result(guided) is CheckResult.PENDING:
                row.append(
                    InlineKeyboardButton(
                        wt.button_ignition(_, guided), callback_data=WatchButton.data(tid, "ign")
                    )
                )
            row.append(
                InlineKeyboardButton(
                    wt.button_finish(_), callback_data=WatchButton.data(tid, "fin")
                )
            )
            return InlineKeyboardMarkup([row])
        return None

    # -- WatchView ------------------------------------------------------------------------------

    async def post_status(self, watch: Watch, now: float, into: int | None = None) -> int | None:
        """The status message, which is also the registration's result: edited into the
        card `into` (the Register tap's one answer), else sent (addressed to the member in
        a group, as the result was). Sat out like an answer to the installer: it is one."""
        text, markup = self.render(watch, now)
        message_id: int | None = None
        if into is not None and await edit_text(self._bot, watch.chat_id, into, text, markup):
            message_id = into
        else:
            body = text
            if watch.chat_id < 0 and watch.user_name:
                link = f'<a href="tg://user?id={watch.user_id}">{escape(watch.user_name)}</a>'
                body = f"{self._tr(watch).isolate(link)}, {text}"
            message_id = await send(self._bot, watch.chat_id, body, markup)
        if message_id is not None:
            watch.shown_digest, watch.shown_at = _digest(text, markup), now
        return message_id

    async def update_status(self, watch: Watch, now: float) -> None:
        """Edit the status message when a person would notice: a fact changed (connection,
        fix, ignition, a ladder step, the end), or the waiting time reached its next mark,
        and then at most once a minute. What it shows is kept with the watch (`shown_*`,
        saved by the watcher), so after a restart nothing unchanged is edited again."""
        if watch.status_message_id is None:
            return
        # Every poll asks; mostly nothing changed. What `render` would give is known without
        # rendering when nothing it reads changed since the last time (`_render_key`).
        key = self._render_key(watch, now)
        memo = self._rendered.get(watch.tracker_id) if key is not None else None
        rendered: tuple[str, InlineKeyboardMarkup | None] | None = None
        if memo is not None and memo[0] == key:
            digest = memo[1]
        else:
            rendered = self.render(watch, now)
            digest = _digest(*rendered)
            if key is not None:
                self._rendered[watch.tracker_id] = (key, digest)
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
        text, markup = rendered if rendered is not None else self.render(watch, now)
        watch.shown_digest, watch.shown_at = digest, now
        self._unsure.discard(watch.tracker_id)
        await self._record_shown(watch)
        if current_priority() is Priority.INTERACTIVE:
            await self._edit_status(
                watch.tracker_id, watch.chat_id, watch.status_message_id, text, markup
            )
        else:
            self._queue_status_edit(
                watch.tracker_id, watch.chat_id, watch.status_message_id, text, markup
            )

    def _render_key(self, watch: Watch, now: float) -> tuple[object, ...] | None:
        """Everything `render(watch, now)` reads, for a device that never connected; equal
        keys render the same. None for a connected one (rendered every time: the age of
        its fix moves with each answer). Keep in step with `render`: the time counts only
        as the mark shown and whether the activation window is over; of the latest answer
        only the state (its `user_time` dates a fix, which only a connected one shows)."""
        if watch.connected_at is not None:
            return None
        fields = dict(vars(watch))
        for name in _NOT_RENDERED:
            del fields[name]
        elapsed = now - watch.started_at
        return (
            self._tr(watch),
            fields,
            watch.last_state.state if watch.last_state is not None else None,
            self._catalog.model(watch.model) if watch.manual_config else None,
            shown_elapsed(elapsed),
            elapsed >= self._policy.activation,
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
        if self._crew_online is not None:
            await self._crew_online(watch)

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
        if self._admins is not None:
            admin_ids = self._admins()
        sent = 0
        for admin_id in admin_ids:
            # Each admin in their own language (English if they never talked to the bot).
            text = wt.escalation(gettext_for(self._language_of(admin_id)), watch, now)
            if await self._send(admin_id, text):
                sent += 1
        log.info("tracker %d silent: told %d of %d admins", watch.tracker_id, sent, len(admin_ids))
        if sent:
            await self._send(watch.chat_id, wt.installer_escalated(self._tr(watch)))
        if self._crew_silent is not None:
            await self._crew_silent(watch, int((now - watch.started_at) // 60))

    async def ended(self, watch: Watch, now: float) -> None:
        self._rendered.pop(watch.tracker_id, None)
        await self._deliver(self._ended(watch, now))

    async def _ended(self, watch: Watch, now: float) -> None:
        if watch.status in (Phase.EXPIRED, Phase.GONE):
            _ = self._tr(watch)
            text = wt.heading(_, watch) + "\n\n" + wt.ended_line(_, watch.status)
            await self._send(watch.chat_id, text)

    async def _send(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> int | None:
        # Background sends never sit out a flood wait: the poller must not stall.
        return await send(self._bot, chat_id, text, markup, patience=0)


async def _nothing(watch: Watch) -> None:
    return None


#: Watch fields `render` does not read (and the latest answer, keyed by its state alone).
_NOT_RENDERED = ("polled_at", "shown_digest", "shown_at", "last_state")


def _digest(text: str, markup: InlineKeyboardMarkup | None) -> str:
    body = text + "\x00" + (markup.to_json() if markup is not None else "")
    return hashlib.blake2b(body.encode(), digest_size=12).hexdigest()


def late_keyboard(_: Gettext, tracker_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    wt.button_retry(_), callback_data=WatchButton.data(tracker_id, "retry")
                )
            ],
            [
                InlineKeyboardButton(
                    wt.button_apn(_), callback_data=WatchButton.data(tracker_id, "apn")
                )
            ],
            [
                InlineKeyboardButton(
                    wt.button_check_again(_), callback_data=WatchButton.data(tracker_id, "check")
                ),
                InlineKeyboardButton(
                    wt.button_stop(_), callback_data=WatchButton.data(tracker_id, "stop")
                ),
            ],
        ]
    )


__all__ = ["TelegramWatchView", "late_keyboard"]
