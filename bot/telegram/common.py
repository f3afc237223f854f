"""Small helpers shared by the handlers: services, drafts, sending, callback data."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from html import escape
from typing import Any, cast

from telegram import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackContext, ExtBot, filters

from bot.config import Settings
from bot.domain.draft import Draft
from bot.i18n import Gettext, gettext_for
from bot.navixy.client import NavixyClient
from bot.sealing import SecretBox
from bot.services.catalog import Catalog
from bot.services.registrar import Registrar
from bot.services.watcher import Watcher
from bot.storage.db import Database
from bot.storage.journal import RegistrationJournal
from bot.telegram.user_language import language_for

log = logging.getLogger(__name__)

Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]

SERVICES_KEY = "services"
DRAFTS_KEY = "drafts"


@dataclass
class Services:
    settings: Settings
    db: Database
    client: NavixyClient
    catalog: Catalog
    journal: RegistrationJournal
    registrar: Registrar
    watcher: Watcher


def services(context: Context) -> Services:
    return cast(Services, context.application.bot_data[SERVICES_KEY])


def tr(update: Update) -> Gettext:
    """The installer's language: chosen with /language, else Telegram's (see user_language)."""
    return gettext_for(language_for(update))


# --- drafts: one per user per chat, kept in user_data as plain JSON ---------------------------


def _drafts(context: Context) -> dict[str, Any]:
    assert context.user_data is not None
    return cast(dict[str, Any], context.user_data.setdefault(DRAFTS_KEY, {}))


# Draft fields that hold secrets: stored sealed, never in clear.
_SECRET_FIELDS = ("apn_password", "activation_code")


def _box(context: Context) -> SecretBox:
    return SecretBox(context.bot.token)


def load_draft(update: Update, context: Context) -> Draft | None:
    chat = update.effective_chat
    if chat is None:
        return None
    raw = _drafts(context).get(str(chat.id))
    if raw is None:
        return None
    raw = dict(raw)
    box = _box(context)
    for name in _SECRET_FIELDS:
        if raw.get(name):
            raw[name] = box.open(raw[name])  # None (ask again) if it can't be opened
    offer = raw.get("apn_offer")
    if isinstance(offer, dict) and offer.get("password"):
        password = box.open(offer["password"])
        raw["apn_offer"] = None if password is None else {**offer, "password": password}
    try:
        return Draft.model_validate(raw)
    except ValueError:
        log.warning("dropping an unreadable draft for chat %s", chat.id)
        return None


def save_draft(context: Context, draft: Draft) -> None:
    raw = draft.model_dump(mode="json")
    box = _box(context)
    for name in _SECRET_FIELDS:
        if raw.get(name):
            raw[name] = box.seal(raw[name])
    offer = raw.get("apn_offer")
    if isinstance(offer, dict) and offer.get("password"):
        offer["password"] = box.seal(offer["password"])
    _drafts(context)[str(draft.chat_id)] = raw


def drop_draft(update: Update, context: Context) -> None:
    chat = update.effective_chat
    if chat is not None:
        _drafts(context).pop(str(chat.id), None)


# --- callback data: "<draft id>|<action>", at most 64 bytes -----------------------------------


def cb(draft: Draft, action: str) -> str:
    data = f"{draft.id}|{action}"
    if len(data.encode()) > 64:
        raise ValueError(f"callback data too long: {action!r}")
    return data


def cb_parts(query: CallbackQuery) -> tuple[str, str]:
    draft_id, _, action = (query.data or "").partition("|")
    return draft_id, action


def cb_pattern(action_regex: str) -> str:
    return rf"^[0-9a-f]{{12}}\|{action_regex}"


async def answer(query: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press at once; a too-old query must not abort the handler."""
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as exc:
        log.info("callback answer failed: %s", exc.message)


# --- sending ---------------------------------------------------------------------------------


def in_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type != ChatType.PRIVATE


def mention(update: Update) -> str:
    user = update.effective_user
    if user is None:
        return ""
    return f'<a href="tg://user?id={user.id}">{escape(user.first_name)}</a>'


async def say(
    update: Update,
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    expects_text: bool = False,
    placeholder: str | None = None,
) -> Message:
    """Send one message to the installer.

    In groups the bot only sees replies to its own messages (privacy mode), so a
    question that expects typed text carries a selective ForceReply, and the
    member is mentioned so that only they get the reply field.
    """
    chat = update.effective_chat
    assert chat is not None
    reply_markup: InlineKeyboardMarkup | ForceReply | None = markup
    reply: ReplyParameters | None = None
    if in_group(update):
        # Isolated: in Arabic a Latin name first must not turn the message left-to-right.
        text = f"{tr(update).isolate(mention(update))}, {text}"
        if markup is None and expects_text:
            reply_markup = ForceReply(selective=True, input_field_placeholder=placeholder)
        if update.message is not None:
            reply = ReplyParameters(update.message.message_id, allow_sending_without_reply=True)
    return await context.bot.send_message(
        chat.id, text, reply_markup=reply_markup, reply_parameters=reply
    )


async def edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
    """Edit the message a button sits on; 'not modified' and vanished messages are fine.

    False when the text could not be shown (the message is gone, or Telegram failed).
    """
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return True
        log.info("edit failed: %s", exc.message)
        return False
    except TelegramError as exc:
        log.info("edit failed: %s", exc)
        return False
    return True


def chosen_button(query: CallbackQuery) -> str | None:
    """The text of the button that was pressed (None if its message is not at hand)."""
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return None
    return next(
        (
            button.text
            for row in message.reply_markup.inline_keyboard
            for button in row
            if button.callback_data == query.data
        ),
        None,
    )


async def close_keyboard(query: CallbackQuery) -> None:
    """Keep the question, drop its buttons and show which one was chosen.

    Old buttons left on a question invite a second, confusing tap.
    """
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return
    chosen = chosen_button(query)
    text = message.text_html or ""
    if chosen:
        text += f"\n\n✅ {escape(chosen)}"
    await edit(query, text)


async def forget_secret_message(update: Update) -> None:
    """Delete the installer's message that carried a secret (APN password, code).

    Works in private chats; in groups only where the bot may delete messages.
    """
    message = update.effective_message
    if message is None:
        return
    with contextlib.suppress(TelegramError):
        await message.delete()


class RepliesToBot(filters.MessageFilter):
    """Private chats: any message. Groups: a reply to one of the bot's messages."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        if message.chat.type == ChatType.PRIVATE:
            return True
        replied = message.reply_to_message
        bot = message.get_bot()
        return (
            replied is not None
            and replied.from_user is not None
            and (replied.from_user.id == bot.id)
        )


VIA_BOT = filters.UpdateType.MESSAGE & filters.ViaBot(allow_empty=True)
TEXT = (
    filters.UpdateType.MESSAGE
    & filters.TEXT
    & ~filters.COMMAND
    & ~filters.ViaBot(allow_empty=True)
    & RepliesToBot()
)
PHOTO = filters.UpdateType.MESSAGE & (filters.PHOTO | filters.Document.ALL) & RepliesToBot()
