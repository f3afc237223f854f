"""Delivering a registration's result: its own durable step (issue 8).

The journal marks a SUCCESS "delivery pending" until Telegram confirmed the result
message (the card edited into "Registered" when its button was pressed, otherwise a
new message); then the delivery is journaled. A device's result message is its watch's
status message (`TelegramWatchView.post_status`): the watch starts by showing it, so the
Register tap costs one edit of the card. The X-GPS app (no watch) gets the result alone.
The Register button and the start-up / periodic job (`deliver_pending`) both go
through `ResultDelivery.deliver`, so a result lost to a crash or to Telegram errors
is delivered again, and the watch of a journaled success is started in this one place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from html import escape
from typing import Protocol

from telegram import Bot

from bot.domain.attempts import Attempt, AttemptStatus
from bot.domain.plugins import MOBILE_PLUGINS
from bot.i18n import Gettext, gettext_for
from bot.services.catalog import Catalog
from bot.services.watcher import Watcher
from bot.telegram import texts
from bot.telegram.common import Context, edit_text, send
from bot.telegram.context import BotContext, Deliveries

log = logging.getLogger(__name__)


class DeliveryJournal(Protocol):
    """What delivering results needs of the registration journal (`bot.storage.journal`)."""

    async def get(self, attempt_id: int) -> Attempt | None: ...

    async def undelivered(self) -> list[Attempt]: ...

    async def mark_delivered(self, attempt_id: int) -> Attempt: ...

    async def set_card(self, attempt_id: int, message_id: int) -> None: ...


class ResultDelivery:
    """Shows journaled successes in their chat, starts their watch, journals the delivery."""

    def __init__(
        self,
        bot: Bot,
        journal: DeliveryJournal,
        catalog: Catalog,
        watcher: Watcher,
        language_of: Callable[[int], str | None] = lambda user_id: None,
    ) -> None:
        self._language_of = language_of
        self._bot = bot
        self._journal = journal
        self._catalog = catalog
        self._watcher = watcher
        self._locks: dict[int, asyncio.Lock] = {}

    def text(self, attempt: Attempt) -> str:
        assert attempt.tracker_id is not None
        model = self._catalog.model(attempt.model)
        return texts.registered(
            self._gettext(attempt),
            tracker_id=attempt.tracker_id,
            label=attempt.label,
            model=model.title if model is not None else attempt.model,
            device_id=attempt.assigned_device_id or attempt.device_id,
            mobile=self._mobile(attempt),
        )

    def _gettext(self, attempt: Attempt) -> Gettext:
        # Sent on the bot's own, maybe much later: in the language the installer uses now,
        # else the one they registered in.
        return gettext_for(self._language_of(attempt.user_id) or attempt.lang)

    async def deliver(
        self, attempt_id: int, *, card: int | None = None, again: bool = False
    ) -> bool:
        """Show the result of a successful attempt; True once Telegram confirmed it.

        `card`: the message to edit (the card whose Register button was pressed); without
        it, or when it can't be edited, the result comes as a new message (a later delivery
        must be noticed: the card may be far up the chat). An already delivered result is
        shown again only with `again` (a press on the card itself). False leaves the
        delivery pending for the next run.
        """
        lock = self._locks.setdefault(attempt_id, asyncio.Lock())
        async with lock:
            attempt = await self._journal.get(attempt_id)
            if attempt is None or attempt.status is not AttemptStatus.SUCCESS:
                return False
            if attempt.delivered_at is not None and not again:
                return True
            if self._mobile(attempt):
                if not await self._show(attempt, card):
                    return False
            elif not await self._watch(attempt, card):
                return False
            if attempt.delivered_at is None:
                await self._journal.mark_delivered(attempt.id)
                # The one line per completed registration (no secrets in an Attempt).
                log.info(
                    "registration completed: tracker %d, model %s, label %r, user %d, chat %d "
                    "(attempt %d)",
                    attempt.tracker_id,
                    attempt.model,
                    attempt.label,
                    attempt.user_id,
                    attempt.chat_id,
                    attempt.id,
                )
        return True

    async def deliver_pending(self) -> tuple[int, int]:
        """Deliver every success not delivered yet: (delivered, still pending)."""
        done = pending = 0
        for attempt in await self._journal.undelivered():
            if await self.deliver(attempt.id):
                done += 1
            else:
                pending += 1
        if pending:
            log.warning("%d registration results still to deliver", pending)
        return done, pending

    async def tell_not_created(self, attempt: Attempt) -> None:
        """An attempt with an unknown outcome was settled in the background as not created:
        the installer, who saw no result (or cancelled meanwhile), is told (best effort)."""
        text = texts.registration_never_created(self._gettext(attempt), attempt.label)
        if await send(self._bot, attempt.chat_id, _addressed(attempt, text)) is None:
            log.info("attempt %d: 'not created' not sent", attempt.id)

    async def _show(self, attempt: Attempt, card: int | None) -> bool:
        text = self.text(attempt)
        if card is not None and await edit_text(self._bot, attempt.chat_id, card, text):
            return True
        message_id = await send(self._bot, attempt.chat_id, _addressed(attempt, text))
        if message_id is None:
            log.warning("attempt %d: result not delivered yet", attempt.id)
            return False
        await self._journal.set_card(attempt.id, message_id)
        return True

    async def _watch(self, attempt: Attempt, card: int | None) -> bool:
        """Show the result as the watch's status message (the card edited into it, else a
        new message) and start watching the device (idempotent). False: not shown or not
        started; the delivery is tried again."""
        assert attempt.tracker_id is not None
        try:
            watching = await self._watcher.get(attempt.tracker_id)
            if (
                watching is not None
                and watching.status.active
                and watching.status_message_id is not None
            ):
                # Shown and watched already (delivered before, or a result recovered at
                # start-up): a press on an older card shows the result there too.
                if card is None or card == watching.status_message_id:
                    return True
                return await self._show(attempt, card)
            model = self._catalog.model(attempt.model)
            manual = await self._watcher.needs_manual_config(model)
            watch = await self._watcher.start(
                tracker_id=attempt.tracker_id,
                chat_id=attempt.chat_id,
                user_id=attempt.user_id,
                label=attempt.label,
                model=attempt.model,
                model_title=model.title if model is not None else None,
                device_id=attempt.assigned_device_id or attempt.device_id,
                user_name=attempt.user_name,
                lang=attempt.lang,
                manual_config=manual,
                into=card,
            )
        except Exception:
            log.exception("could not start watching tracker %d", attempt.tracker_id)
            return False
        if watch.status_message_id is None:
            log.warning("attempt %d: result not delivered yet", attempt.id)
            return False
        if watch.status_message_id != card:
            await self._journal.set_card(attempt.id, watch.status_message_id)
        return True

    def _mobile(self, attempt: Attempt) -> bool:
        model = self._catalog.model(attempt.model)
        if model is not None:
            return model.is_mobile_app
        return attempt.plugin_id in MOBILE_PLUGINS


def result_delivery(context: Context) -> Deliveries:
    return BotContext.of(context).delivery


def _addressed(attempt: Attempt, text: str) -> str:
    """In a group, the message names the installer it is for (a link to them)."""
    if attempt.chat_id < 0 and attempt.user_name:
        link = f'<a href="tg://user?id={attempt.user_id}">{escape(attempt.user_name)}</a>'
        return f"{link}, {text}"
    return text
