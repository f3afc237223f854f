"""Small helpers shared by the handlers: services, drafts, sending, callback data."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import warnings
from collections.abc import Awaitable, Callable, Hashable
from html import escape
from typing import Any, TypeVar, cast

from telegram import (
    Bot,
    CallbackQuery,
    ChatMemberAdministrator,
    ForceReply,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, MessageEntityType, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import filters
from telegram.warnings import PTBUserWarning

from bot.domain.draft import Draft
from bot.i18n import Gettext, gettext_for
from bot.sealing import SecretBox
from bot.telegram.context import BotContext, Services
from bot.telegram.outbox import edit_key, outbox_for
from bot.telegram.safe_text import MAX_CALLBACK_TEXT, clip_plain, fit_html, plain_text
from bot.telegram.user_language import language_for

log = logging.getLogger(__name__)
T = TypeVar("T")
ReplyMarkup = InlineKeyboardMarkup | ForceReply | ReplyKeyboardMarkup | ReplyKeyboardRemove

#: Every handler's context: `BotContext` (typed `bot_data`; see bot/telegram/context.py).
Context = BotContext

DRAFTS_KEY = "drafts"


def services(context: Context) -> Services:
    return BotContext.of(context).services


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


async def answer(query: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a button press at once; a too-old query must not abort the handler."""
    if text is not None:
        text = clip_plain(text, MAX_CALLBACK_TEXT)
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as exc:
        log.info("callback answer failed: %s", exc)


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
) -> int | None:
    """Send one message to the installer: its message id (None if Telegram never took it:
    see `send`).

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
        # Reply to the member's own message (this one, or after a button tap their last
        # one): with the mention, that opens their reply box for a selective ForceReply.
        replied = update.message.message_id if update.message is not None else None
        if replied is None and update.effective_user is not None:
            replied = last_message_id(context, update.effective_user.id)
        if replied is not None:
            reply = ReplyParameters(replied, allow_sending_without_reply=True)
    return await send(context.bot, chat.id, text, reply_markup, reply=reply)


#: chat_data key: {str(user id): id of the member's latest message the bot saw in the chat}.
LAST_MESSAGE_KEY = "last_message"


def last_message_id(context: Context, user_id: int) -> int | None:
    """The member's latest message in this group that the bot saw (None: none known)."""
    if context.chat_data is None:
        return None
    seen = context.chat_data.get(LAST_MESSAGE_KEY)
    value = seen.get(str(user_id)) if isinstance(seen, dict) else None
    return value if isinstance(value, int) else None


#: How long an interactive send may wait out Telegram's flood control (429 retry_after), in
#: total, before it gives up; the installer is waiting for this very message.
FLOOD_PATIENCE = 60.0
#: Retries after a network error or a Telegram 5xx (a TimedOut send may have arrived:
#: a question shown twice is better than a question never shown).
NETWORK_RETRIES = 2
NETWORK_BACKOFF = 0.5


async def send(
    bot: Bot,
    chat_id: int,
    text: str,
    reply_markup: ReplyMarkup | None = None,
    *,
    reply: ReplyParameters | None = None,
    patience: float = FLOOD_PATIENCE,
) -> int | None:
    """The send layer: every message of the bot goes out through here (or `edit_text`).
    The sent message's id, or None.

    The text is made valid Telegram HTML and clipped to 4096 characters (`fit_html`),
    flood waits are sat out within `patience` seconds, network errors retried; markup
    Telegram still refuses is sent as plain text. It never raises: when the message
    finally could not be sent it logs and returns None, and the caller carries on with
    its state saved, so the installer's next message is answered (re-asked) normally.
    """
    html_text = fit_html(text)

    async def attempt(body: str, mode: str | None) -> int:
        sent = await _post(
            bot,
            "sendMessage",
            chat_id=chat_id,
            text=body,
            parse_mode=mode,
            reply_markup=reply_markup,
            reply_parameters=reply,
        )
        return int(sent["message_id"])

    try:
        return await _patiently(bot, chat_id, lambda: attempt(html_text, ParseMode.HTML), patience)
    except BadRequest as exc:
        if not _markup_refused(exc):
            log.warning("send to chat %s failed: %s", chat_id, exc.message)
            return None
        log.warning("Telegram refused the markup (%s); sending plain text", exc.message)
        try:
            return await _patiently(bot, chat_id, lambda: attempt(plain_text(text), None), patience)
        except TelegramError as again:
            log.warning("send to chat %s failed: %s", chat_id, again)
    except TelegramError as exc:
        log.warning("send to chat %s failed: %s", chat_id, exc)
    return None


async def edit_text(
    bot: Bot,
    chat_id: int,
    message_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    patience: float = FLOOD_PATIENCE,
) -> bool:
    """Edit one of the bot's messages, through the same checks as `send`.

    True when the message shows the text ('not modified' included); never raises.
    """
    html_text = fit_html(text)

    async def attempt(body: str, mode: str | None) -> object:
        return await _post(
            bot,
            "editMessageText",
            chat_id=chat_id,
            message_id=message_id,
            text=body,
            parse_mode=mode,
            reply_markup=markup,
        )

    key = edit_key(chat_id, message_id)
    try:
        await _patiently(
            bot, chat_id, lambda: attempt(html_text, ParseMode.HTML), patience, key=key
        )
        return True
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return True
        if _markup_refused(exc):
            log.warning("Telegram refused the markup (%s); editing as plain text", exc.message)
            with contextlib.suppress(TelegramError):
                await _patiently(
                    bot, chat_id, lambda: attempt(plain_text(text), None), patience, key=key
                )
                return True
        log.info("edit failed: %s", exc.message)
    except TelegramError as exc:
        log.info("edit failed: %s", exc)
    return False


async def send_document(
    bot: Bot, chat_id: int, data: bytes, filename: str, caption: str
) -> Message | None:
    """A file for the chat (an export), through the same flood and network handling as
    `send`; the caption is made valid HTML. None when Telegram never took it."""
    try:
        return await _patiently(
            bot,
            chat_id,
            lambda: bot.send_document(
                chat_id,
                data,
                filename=filename,
                caption=fit_html(caption),
                parse_mode=ParseMode.HTML,
            ),
            FLOOD_PATIENCE,
        )
    except TelegramError as exc:
        log.warning("document to chat %s failed: %s", chat_id, exc)
    return None


# The send layer calls sendMessage and editMessageText through `Bot.do_api_request`, which
# hands back Telegram's answer as it came. PTB's own `send_message`/`edit_message_text` turn
# every answer into a `Message` (its chat, sender, entities and our whole keyboard again:
# ~0.1-0.15 ms a call, a few per cent of a reply's CPU), and no caller reads more than the
# message id. `do_api_request` warns that the typed method exists; here that is deliberate.
warnings.filterwarnings(
    "ignore",
    message=r"Please use 'Bot\.(sendMessage|editMessageText)'",
    category=PTBUserWarning,
)


async def _post(bot: Bot, method: str, **params: object) -> Any:
    """One Bot API call, its answer unparsed (a dict for a message, True for some edits).

    Errors are PTB's as for the typed methods (BadRequest, RetryAfter, ...); parameters
    that are None are left out, as PTB leaves them out."""
    return await bot.do_api_request(method, api_kwargs=params)


def _markup_refused(exc: BadRequest) -> bool:
    message = exc.message.lower()
    return "can't parse" in message or "entities" in message or "too long" in message


async def _patiently(
    bot: Bot,
    chat_id: int,
    call: Callable[[], Awaitable[T]],
    patience: float,
    *,
    key: Hashable | None = None,
) -> T:
    """`call()` through the bot's outbox (bot/telegram/outbox.py: Telegram's limits, flood
    waits sat out within `patience` s, pausing only this chat), retried after network errors.
    """
    outbox = outbox_for(bot)
    failures = 0
    while True:
        try:
            return await outbox.run(chat_id, call, key=key, patience=patience)
        except BadRequest:
            raise  # a subclass of NetworkError, but sending it again changes nothing
        except NetworkError:
            failures += 1
            if failures > NETWORK_RETRIES:
                raise
            await asyncio.sleep(NETWORK_BACKOFF * failures)


async def edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
    """Edit the message a button sits on; 'not modified' and vanished messages are fine.

    False when the text could not be shown (the message is gone, or Telegram failed).
    """
    message = query.message
    if message is None:
        return False
    return await edit_text(query.get_bot(), message.chat.id, message.message_id, text, markup)


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


def tapped_choice(query: CallbackQuery) -> str | None:
    """The tapped question with which button was chosen ("<question>\n\n✅ <button>"), as
    HTML; None when the message is not at hand or has no buttons any more.

    What a tapped question keeps once answered (`questions.show_question` edits it into
    this and the next question): the visible history of the chat.
    """
    message = query.message
    if not isinstance(message, Message) or message.reply_markup is None:
        return None
    chosen = chosen_button(query)
    text = message.text_html or ""
    if chosen:
        text += f"\n\n✅ {escape(chosen)}"
    return text


async def forget_secret_message(update: Update) -> bool:
    """Delete the installer's message that carried a secret (APN password, code).

    Works in private chats; in groups only where the bot may delete messages. False when
    the message could not be deleted (the installer must then be told).
    """
    message = update.effective_message
    if message is None:
        return True
    try:
        await message.delete()
    except TelegramError as exc:
        log.info("could not delete a message carrying a secret: %s", exc)
        return False
    return True


async def can_delete_messages(update: Update, context: Context) -> bool:
    """May the bot delete other members' messages in this chat (always, in private chats)?"""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, context.bot.id)
    except TelegramError as exc:
        log.info("could not read the bot's rights in chat %s: %s", chat.id, exc)
        return False
    if member.status == ChatMemberStatus.OWNER:
        return True
    return isinstance(member, ChatMemberAdministrator) and member.can_delete_messages


async def commit_state(update: Update, context: Context, conversation: str, state: object) -> None:
    """Write this user's data and conversation state to the database now.

    Called before a question is sent: a process killed right after the question reached
    the installer then still knows the question, and takes the answer. (The write-through
    handler writes the same again after the update.) A failed write is logged, not fatal.
    """
    persistence = context.application.persistence
    chat, user = update.effective_chat, update.effective_user
    if persistence is None or chat is None or user is None or context.user_data is None:
        return
    try:
        await asyncio.gather(
            persistence.update_user_data(user.id, copy.deepcopy(context.user_data)),
            persistence.update_conversation(conversation, (chat.id, user.id), state),
        )
    except Exception:
        log.warning("could not save the state before asking", exc_info=True)


#: The commands this bot answers (a bare "/cmd" in a group is ours only if it is one of them).
COMMANDS = frozenset(
    {"start", "help", "register", "cancel", "pending", "language"}
    | {"invite", "users", "revoke", "promote", "audit"}
    | {"status", "recent", "find", "stats", "export", "crew"}
)


def addressed_to_bot(message: Message, bot_id: int, bot_username: str | None) -> bool:
    """Is this message for the bot? Private chats: always. Groups (an admin bot sees every
    message): a command for this bot ("/cmd@thisbot", or one of its own commands bare), a
    reply to one of the bot's messages, or a message sent via the bot's inline mode."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    if message.via_bot is not None and message.via_bot.id == bot_id:
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return True
    command = command_of(message)
    if command is None:
        return False
    name, _, addressee = command.partition("@")
    if addressee:
        return bot_username is not None and addressee.lower() == bot_username.lower()
    return name.lower() in COMMANDS


def command_of(message: Message) -> str | None:
    """ "cmd" or "cmd@bot" when the message starts with a bot command, else None."""
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities
    for entity in entities:
        if entity.type == MessageEntityType.BOT_COMMAND and entity.offset == 0:
            return text[1 : entity.length]
    return None


class AddressedToBot(filters.MessageFilter):
    """`addressed_to_bot` as a filter."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        return addressed_to_bot(message, bot.id, bot.username)


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
ADDRESSED = AddressedToBot()
#: A new message for the bot that is neither a command nor a photo/file: at a step, what a
#: step's own handlers did not take (a sticker, a voice note, a contact, a location, ...).
OTHER = (
    filters.UpdateType.MESSAGE
    & ~filters.COMMAND
    & ~(filters.PHOTO | filters.Document.ALL)
    & ADDRESSED
)
CONTACT = filters.UpdateType.MESSAGE & filters.CONTACT & ADDRESSED
