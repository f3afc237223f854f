"""Spending a group's message budget well (Telegram: about 20 messages a minute per group;
the bot's outbox keeps to it, edits included).

In a group every question needs its own message only where it expects typed text (a
ForceReply can't be added by an edit). So, in groups: a tap whose next question has
buttons turns the tapped message into that question (one edit instead of an edit and a
new message), and the cosmetic edit that would close a tapped keyboard is skipped when a
new question follows at once (the old buttons then answer as stale). See
`questions.show_question` (in private chats every tap is answered by one edit).
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update

from bot.telegram.common import Context, edit_text, in_group, mention, tr


async def replace_tapped(
    update: Update, context: Context, text: str, markup: InlineKeyboardMarkup
) -> bool:
    """In a group, after a tap: edit the tapped message into `text` with `markup`
    (addressed to the member, as `say` does). False where nothing was edited (not a group,
    no tap, or the edit failed): the caller sends a new message instead."""
    query = update.callback_query
    if not in_group(update) or query is None or not isinstance(query.message, Message):
        return False
    message = query.message
    body = f"{tr(update).isolate(mention(update))}, {text}"
    return await edit_text(context.bot, message.chat.id, message.message_id, body, markup)
