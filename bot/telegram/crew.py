"""Crew chats (groups where installers register together).

`remember_last_message` notes each member's latest message the bot sees in a group, so
that a question sent after a button tap can reply to it (`common.say`): a selective
ForceReply then reaches that member's reply box even where a client ignores the mention.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, TypeHandler

from bot.telegram import admin, admin_reports
from bot.telegram.common import LAST_MESSAGE_KEY, Context

#: Before the access gate (-1): cheap, memory plus the chat's persisted data.
REMEMBER_GROUP = -4


async def remember_last_message(update: Update, context: Context) -> None:
    message = update.message
    user = update.effective_user
    if (
        message is None
        or user is None
        or message.chat.type == ChatType.PRIVATE
        or context.chat_data is None
    ):
        return
    seen = context.chat_data.setdefault(LAST_MESSAGE_KEY, {})
    if isinstance(seen, dict):
        seen[str(user.id)] = message.message_id


def handlers() -> list[tuple[BaseHandler[Any, Any, Any], int]]:
    """(handler, group) pairs, for `Application.add_handler`."""
    return [
        (TypeHandler(Update, remember_last_message), REMEMBER_GROUP),
        *((handler, 0) for handler in admin.handlers()),
        *((handler, 0) for handler in admin_reports.handlers()),
    ]
