"""Admin report commands: /status, /recent, /find, /stats, /export. Non-admins get one
short refusal and cause no Navixy call (the check comes first). The numbers come from
bot/services/reports.py; long lists are paginated with buttons (edited in place)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.services.reports import Period, Reports
from bot.telegram import admin_texts as at
from bot.telegram.admin import is_admin_or_refuse, pager
from bot.telegram.callback import AdminButton
from bot.telegram.common import Context, answer, edit, say, send_document, tr
from bot.telegram.context import BotContext

RECENT_PAGE = 10


def reports(context: Context) -> Reports:
    return BotContext.of(context).reports


def _args(update: Update) -> list[str]:
    message = update.effective_message
    return ((message.text or "") if message is not None else "").split()[1:]


async def status_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    await say(update, context, at.status(tr(update), await reports(context).status()))


async def _recent_page(update: Update, context: Context, offset: int) -> tuple[str, Any]:
    _ = tr(update)
    attempts, total = await reports(context).recent(RECENT_PAGE, offset)
    if not attempts:
        return at.recent_empty(_), None
    lines = [at.recent_title(_)] + [at.attempt_line(_, a) for a in attempts]
    return "\n".join(lines), pager(_, "re", offset, RECENT_PAGE, total)


async def recent_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    text, keyboard = await _recent_page(update, context, 0)
    await say(update, context, text, keyboard)


async def on_recent_page(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    if not await is_admin_or_refuse(update, context):
        return
    await answer(query)
    button = AdminButton.unpack(query.data)
    assert button is not None  # the handler's pattern
    offset = int(button.value)
    text, keyboard = await _recent_page(update, context, offset)
    await edit(query, text, keyboard)


async def find_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    _ = tr(update)
    query = " ".join(_args(update))
    if not query:
        await say(update, context, at.find_usage(_))
        return
    items, answered = await reports(context).find(query)
    if not items:
        await say(update, context, at.find_nothing(_, query))
        return
    await say(update, context, at.found(_, items, answered))


async def stats_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    _ = tr(update)
    args = _args(update)
    period = Period.parse(args[0] if args else None, Period.WEEK)
    if period is None:
        await say(update, context, at.period_usage(_, "/stats"))
        return
    await say(update, context, at.stats(_, await reports(context).stats(period)))


async def export_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    _ = tr(update)
    args = _args(update)
    period = Period.parse(args[0] if args else None, Period.MONTH)
    chat = update.effective_chat
    if period is None or chat is None:
        await say(update, context, at.period_usage(_, "/export"))
        return
    data, rows = await reports(context).export_csv(period)
    name = f"journal-{period.value}-{datetime.now(UTC):%Y%m%d-%H%M}.csv"
    await send_document(context.bot, chat.id, data, name, at.export_caption(_, rows))


REPORT_COMMANDS = ("status", "recent", "find", "stats", "export")


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("status", status_command),
        CommandHandler("recent", recent_command),
        CommandHandler("find", find_command),
        CommandHandler("stats", stats_command),
        CommandHandler("export", export_command),
        CallbackQueryHandler(
            on_recent_page, pattern=AdminButton.pattern(action="re", value="[0-9]+$")
        ),
    ]
