"""Command menus per scope (setMyCommands): everyone sees the installer's commands (the
default scope, in every catalog language); each admin's private chat shows the admin
commands too. Menus are cosmetic: every handler authorises on its own."""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.i18n import Gettext, available_languages, gettext_for, telegram_language_code
from bot.telegram import texts

log = logging.getLogger(__name__)


def admin_commands(_: Gettext) -> list[tuple[str, str]]:
    """The admin's menu: the installer's commands, then the admin's own."""
    return [
        *texts.commands(_),
        ("status", _("Bot and Navixy status")),
        ("recent", _("Latest registrations")),
        ("find", _("Find a device by IMEI, label or tracker ID")),
        ("stats", _("Registrations per day and per installer")),
        ("export", _("The journal as a CSV file")),
        ("users", _("Installers and their last activity")),
        ("invite", _("Invite link for new installers")),
        ("revoke", _("Withdraw someone's access")),
        ("promote", _("Make someone an admin")),
        ("audit", _("Who changed what, and when")),
        ("crew", _("Link a group chat as a crew")),
    ]


def _languages() -> list[str | None]:
    return [None, *(lang for lang in available_languages() if lang != "en")]


async def set_admin_menu(bot: Bot, admin_id: int) -> None:
    """The admin commands in the admin's private chat, in every catalog language."""
    scope = BotCommandScopeChat(admin_id)
    calls = []
    for lang in _languages():  # one menu per language: all the calls at once
        commands = [BotCommand(n, d) for n, d in admin_commands(gettext_for(lang))]
        code = telegram_language_code(lang) if lang else None
        calls.append(bot.set_my_commands(commands, scope=scope, language_code=code))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, TelegramError):
            raise outcome
    failed = [o for o in outcomes if isinstance(o, TelegramError)]
    if failed:  # e.g. an admin who never opened a chat with the bot
        log.info("admin menu for %d not set: %s", admin_id, failed[0])


async def drop_admin_menu(bot: Bot, user_id: int) -> None:
    """Back to the default (installer's) menu in that private chat."""
    scope = BotCommandScopeChat(user_id)
    try:
        for lang in _languages():
            code = telegram_language_code(lang) if lang else None
            await bot.delete_my_commands(scope=scope, language_code=code)
    except TelegramError as exc:
        log.info("admin menu for %d not removed: %s", user_id, exc)
