"""Language handlers: remember each user's language, and `/language` to change it.

`remember_language` runs before every other handler (group -3): it stores the
`language_code` Telegram sends with an admin or installer (so that messages the bot sends on its
own later — watch updates, escalations, recovery notices — speak it too) and sets the
language the update is answered in (bot/telegram/user_language.py).

`/language` shows one button per catalog plus "as my Telegram"; a tap stores the
choice (`bot.services.languages.Languages`) and, in a private chat, sets the
command menu of that chat in the chosen language.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler, TypeHandler

from bot.i18n import LANGUAGE_NAMES, available_languages, resolve_language, translator
from bot.services.languages import Languages
from bot.telegram import menus, texts
from bot.telegram.callback import LanguageButton
from bot.telegram.common import Context, answer, edit, say, tr
from bot.telegram.context import BotContext
from bot.telegram.user_language import set_update_language

log = logging.getLogger(__name__)

AUTO = "auto"
#: A handler group of its own, before the access gate (-1): in one group only the first
#: matching handler runs, so a second catch-all TypeHandler there would silence this one.
REMEMBER_GROUP = -3


def store(context: Context) -> Languages:
    return BotContext.of(context).languages


def language_store(app: Application[Any, Any, Any, Any, Any, Any]) -> Languages:
    return BotContext.of(app).languages


async def remember_language(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        set_update_language(update, None)
        return
    languages = BotContext.of(context).languages_or_none
    if languages is None:
        set_update_language(update, user.language_code)
        return
    try:
        access = BotContext.of(context).access_or_none
        if access is not None and access.role_of(user.id) is not None:  # strangers: not stored
            await languages.seen(user.id, user.language_code)
    except Exception:
        # The language is a nicety: a failed write must not cost the installer's update.
        log.exception("could not store the language of user %d", user.id)
    set_update_language(update, languages.language_of(user.id) or user.language_code)


def keyboard(current: str) -> InlineKeyboardMarkup:
    """One button per language (in its own name), the current one marked."""
    rows = []
    for language in available_languages():
        name = LANGUAGE_NAMES.get(language, language)
        mark = "✅ " if language == current else ""
        rows.append(
            [InlineKeyboardButton(mark + name, callback_data=LanguageButton(language).pack())]
        )
    return InlineKeyboardMarkup(rows)


async def language_command(update: Update, context: Context) -> None:
    _ = tr(update)
    user = update.effective_user
    assert user is not None
    chosen = store(context).get(user.id).chosen
    rows = keyboard(_.language).inline_keyboard
    auto = InlineKeyboardButton(
        ("✅ " if chosen is None else "") + texts.button_language_auto(_),
        callback_data=LanguageButton(AUTO).pack(),
    )
    markup = InlineKeyboardMarkup([*rows, [auto]])
    await say(update, context, texts.pick_language(_), markup)


async def language_chosen(update: Update, context: Context) -> None:
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    button = LanguageButton.unpack(query.data)
    value = button.language if button is not None else ""
    chosen = None if value == AUTO else value
    if chosen is not None and chosen not in available_languages():
        await answer(query)
        return
    await store(context).choose(user.id, chosen)
    language = chosen or user.language_code
    set_update_language(update, language)
    _ = translator(resolve_language(language))
    await answer(query)
    await edit(query, texts.language_set(_, LANGUAGE_NAMES.get(_.language, _.language)))
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        # The menu follows the app's language; a chosen one is set for this chat.
        access = BotContext.of(context).access_or_none
        admin = access is not None and access.is_admin(user.id)
        menu = menus.admin_commands(_) if admin else texts.commands(_)
        commands = [BotCommand(name, text) for name, text in menu]
        try:
            await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat.id))
        except TelegramError as exc:
            log.info("command menu for chat %d not set: %s", chat.id, exc)


def handlers() -> list[tuple[BaseHandler[Any, Any, Any], int]]:
    """(handler, group) pairs, for `Application.add_handler`."""
    return [
        (TypeHandler(Update, remember_language), REMEMBER_GROUP),
        (CommandHandler("language", language_command), 0),
        (CallbackQueryHandler(language_chosen, pattern=LanguageButton.pattern()), 0),
    ]
