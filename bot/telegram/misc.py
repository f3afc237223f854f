"""Handlers outside the conversation: access gate, /start, /help, inline search,
stale buttons and errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, filters

from bot.domain.search import SearchHit
from bot.telegram import admin, texts
from bot.telegram.callback import DraftButton
from bot.telegram.common import (
    ADDRESSED,
    Context,
    addressed_to_bot,
    answer,
    command_of,
    say,
    services,
    tr,
)
from bot.telegram.questions import offer_register

log = logging.getLogger(__name__)

INLINE_RESULTS = 200


async def access_gate(update: Update, context: Context) -> None:
    """Runs first for every update: only admins and installers get further.

    Everyone else gets a short refusal with their own user id (to give to the
    admin) and causes no Navixy call.
    """
    user = update.effective_user
    if user is None:
        return
    if admin.access(context).role_of(user.id) is not None:
        await admin.note_activity(update, context)
        return
    if await admin.stranger(update, context):  # an invite link, a request for access
        raise ApplicationHandlerStop
    _ = tr(update)
    refusal = texts.not_allowed(_, user.id)
    if update.inline_query is not None:
        await update.inline_query.answer(
            [],
            cache_time=0,
            is_personal=True,
            button=InlineQueryResultsButton(texts.inline_not_allowed(_), start_parameter="access"),
        )
    elif update.callback_query is not None:
        await answer(update.callback_query, texts.inline_not_allowed(_), alert=True)
    elif update.message is not None and addressed_to_bot(
        update.message, context.bot.id, context.bot.username
    ):
        # In groups (an admin bot sees everything) only what is meant for this bot.
        private = update.message.chat.type == ChatType.PRIVATE
        await say(update, context, refusal, admin.request_keyboard(_) if private else None)
    raise ApplicationHandlerStop


async def start(update: Update, context: Context) -> None:
    await offer_register(update, context, texts.welcome(tr(update)))


async def help_command(update: Update, context: Context) -> None:
    await start(update, context)


async def cancel_outside(update: Update, context: Context) -> None:
    await say(update, context, texts.nothing_to_cancel(tr(update)))


async def inline_search(update: Update, context: Context) -> None:
    """`@bot fmb14` lists models; choosing one sends "<vendor> <name> [<code>]"
    (the vendor once: most names already start with it)."""
    query = update.inline_query
    assert query is not None
    catalog = services(context).catalog
    text = query.query.strip()
    hits: Sequence[SearchHit]
    if text:
        hits = catalog.search(text, limit=INLINE_RESULTS)
        models = [h.model for h in hits]
    else:
        models = sorted(catalog.index.models, key=lambda m: (m.vendor.lower(), m.name.lower()))
        models = models[:INLINE_RESULTS]
    _ = tr(update)
    results = [
        InlineQueryResultArticle(
            id=m.code[:64],
            title=m.title,
            description=texts.inline_description(_, m.vendor, m.code),
            input_message_content=InputTextMessageContent(f"{m.title} [{m.code}]", parse_mode=None),
        )
        for m in models
    ]
    # Personal: the descriptions are in the asker's language.
    await query.answer(results, auto_pagination=True, cache_time=60, is_personal=True)


async def stale_callback(update: Update, context: Context) -> None:
    """A button pressed when no conversation expects it (after a restart, twice, ...)."""
    query = update.callback_query
    if query is None:
        return
    _ = tr(update)
    button = DraftButton.unpack(query.data)
    tracker_id = None
    if button is not None and len(button.draft_id) == 12:
        tracker_id = await services(context).registration.registered_tracker(button.draft_id)
    if tracker_id is not None:
        await answer(query, texts.already_registered_card(_, tracker_id), alert=True)
    else:
        await answer(query, texts.stale_button(_))


async def unhandled_message(update: Update, context: Context) -> None:
    """Last in line: a message for the bot that nothing else took (the bot is never silent
    to an authorised user). Outside a registration: a hint and the Register button."""
    message = update.effective_message
    assert message is not None
    _ = tr(update)
    if update.edited_message is not None:
        await say(update, context, texts.edit_not_read(_))
    elif command_of(message) is not None:
        await offer_register(update, context, texts.unknown_command(_))
    else:
        await offer_register(update, context, texts.idle_hint(_))


#: Every new or edited message meant for the bot (see `addressed_to_bot`).
UNHANDLED = (filters.UpdateType.MESSAGE | filters.UpdateType.EDITED_MESSAGE) & ADDRESSED


async def on_error(update: object, context: Context) -> None:
    log.error("handler failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        with contextlib.suppress(TelegramError):
            await say(update, context, texts.internal_error(tr(update)))
