"""Crew chats (groups where installers register together).

`remember_last_message` notes each member's latest message the bot sees in a group, so
that a question sent after a button tap can reply to it (`common.say`): a selective
ForceReply then reaches that member's reply box even where a client ignores the mention.
It also notes the members of linked crew chats.

`/crew` (admins, in a group) links the chat as a crew: a default tracker group for devices
registered there, the crew's language, an optional lead. `CrewAnnouncer` posts one line
per registration by a member to the crew chat, and later "online" or "still silent".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, TypeHandler

from bot.domain.watch import Watch
from bot.i18n import LANGUAGE_NAMES, Gettext, available_languages, gettext_for
from bot.navixy.errors import NavixyError
from bot.navixy.models import TrackerGroup
from bot.services.crews import Crew, CrewService
from bot.telegram import admin, admin_reports, texts
from bot.telegram import crew_texts as ct
from bot.telegram.callback import CrewButton
from bot.telegram.common import (
    LAST_MESSAGE_KEY,
    Context,
    answer,
    edit,
    say,
    send,
    services,
    tr,
)
from bot.telegram.context import Announcer, AnyApp, BotContext

log = logging.getLogger(__name__)

#: Before the access gate (-1): cheap, memory plus the chat's persisted data.
REMEMBER_GROUP = -4


def crews(context: Context) -> CrewService:
    return BotContext.of(context).crews


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
    service = BotContext.of(context).crews_or_none
    if service is not None and admin.access(context).role_of(user.id) is not None:
        await service.member_seen(message.chat.id, user.id)


# --- /crew -----------------------------------------------------------------------------------


def _lead_name(context: Context, crew: Crew) -> str | None:
    if crew.lead_id is None:
        return None
    if crew.lead_name:
        return crew.lead_name
    member = admin.access(context).roles.get(crew.lead_id)
    return member.name if member is not None and member.name else str(crew.lead_id)


def _card_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ct.button_crew_group(_), callback_data=CrewButton("grp").pack()
                ),
                InlineKeyboardButton(
                    ct.button_crew_language(_), callback_data=CrewButton("lng").pack()
                ),
            ],
            [
                InlineKeyboardButton(
                    ct.button_crew_unlink(_), callback_data=CrewButton("off").pack()
                )
            ],
        ]
    )


async def crew_command(update: Update, context: Context) -> None:
    if not await admin.is_admin_or_refuse(update, context):
        return
    _ = tr(update)
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    assert user is not None and message is not None
    if chat is None or chat.type == ChatType.PRIVATE:
        await say(update, context, ct.crew_only_in_groups(_))
        return
    service = crews(context)
    crew = await service.link(user.id, chat.id, chat.title or str(chat.id))
    # Members the bot saw here before the link count too.
    seen = context.chat_data.get(LAST_MESSAGE_KEY) if context.chat_data is not None else None
    for member_id in seen if isinstance(seen, dict) else {}:
        if admin.access(context).role_of(int(member_id)) is not None:
            await service.member_seen(chat.id, int(member_id))
    args = (message.text or "").split()[1:]
    if args[:1] == ["lead"]:
        replied = message.reply_to_message
        lead = replied.from_user if replied is not None else user
        if lead is not None and not lead.is_bot:
            crew = await service.change(crew, lead_id=lead.id, lead_name=lead.full_name)
    await say(update, context, ct.crew_card(_, crew, _lead_name(context, crew)), _card_keyboard(_))


async def on_crew_button(update: Update, context: Context) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and chat is not None
    if not await admin.is_admin_or_refuse(update, context):
        return
    service = crews(context)
    crew = service.get(chat.id)
    _ = tr(update)
    if crew is None:
        await answer(query, ct.crew_unlinked(_))
        return
    await answer(query)
    button = CrewButton.unpack(query.data)
    assert button is not None  # the handler's pattern
    action, value = button.action, button.value
    if action == "off":
        await service.unlink(chat.id)
        await edit(query, ct.crew_unlinked(_))
        return
    if action == "grp":
        await edit(query, ct.pick_crew_group(_), await _group_keyboard(context, _))
        return
    if action == "lng":
        await edit(query, ct.crew_card(_, crew, _lead_name(context, crew)), _language_keyboard(_))
        return
    if action == "g":
        group_id = int(value)
        title = _pressed(query.message, query.data) if group_id > 0 else None
        crew = await service.change(
            crew, group_id=None if group_id < 0 else group_id, group_title=title
        )
    elif action == "l":
        crew = await service.change(crew, language=None if value == "auto" else value)
        _ = tr(update)  # the crew language, if one was just set, wins
    await edit(query, ct.crew_card(_, crew, _lead_name(context, crew)), _card_keyboard(_))


def _pressed(message: object, data: str | None) -> str | None:
    if not isinstance(message, Message) or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


async def _group_keyboard(context: Context, _: Gettext) -> InlineKeyboardMarkup:
    try:
        groups = await services(context).catalog.groups()
    except NavixyError:
        groups = []
    rows = [
        [InlineKeyboardButton(g.title, callback_data=CrewButton("g", str(g.id)).pack())]
        for g in groups[:60]
    ]
    rows.append(
        [InlineKeyboardButton(texts.button_no_group(_), callback_data=CrewButton("g", "0").pack())]
    )
    rows.append(
        [InlineKeyboardButton(ct.button_crew_ask(_), callback_data=CrewButton("g", "-1").pack())]
    )
    return InlineKeyboardMarkup(rows)


def _language_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                LANGUAGE_NAMES.get(code, code), callback_data=CrewButton("l", code).pack()
            )
        ]
        for code in available_languages()
    ]
    rows.append(
        [
            InlineKeyboardButton(
                ct.button_crew_members_language(_), callback_data=CrewButton("l", "auto").pack()
            )
        ]
    )
    return InlineKeyboardMarkup(rows)


# --- what a crew hears -----------------------------------------------------------------------


class CrewAnnouncer:
    """Posts to crew chats (and their lead) without an update to answer: each line in the
    crew's language, else the lead's or English. Never waits out a flood (background)."""

    def __init__(
        self, bot: Bot, service: CrewService, language_of: Callable[[int], str | None]
    ) -> None:
        self._bot = bot
        self._service = service
        self._language_of = language_of

    def _tr(self, crew: Crew) -> Gettext:
        return gettext_for(crew.language)

    async def registered(
        self, user_id: int, who: str, chat_id: int, tracker_id: int, label: str, model: str
    ) -> None:
        for crew in self._service.announce_to(user_id, chat_id):
            text = ct.registered_line(self._tr(crew), who, model, label, tracker_id)
            await send(self._bot, crew.chat_id, text, patience=0)

    async def online(self, watch: Watch) -> None:
        for crew in self._service.announce_to(watch.user_id, watch.chat_id):
            text = ct.online_line(self._tr(crew), watch.label, watch.tracker_id)
            await send(self._bot, crew.chat_id, text, patience=0)

    async def silent(self, watch: Watch, minutes: int) -> None:
        who = watch.user_name or str(watch.user_id)
        leads = set()
        for crew in self._service.watching(watch.user_id, watch.chat_id):
            _ = self._tr(crew)
            await send(
                self._bot,
                crew.chat_id,
                ct.silent_line(_, who, watch.label, watch.tracker_id, minutes),
                patience=0,
            )
            if crew.lead_id is not None and crew.lead_id != watch.user_id:
                leads.add(crew.lead_id)
        for lead in sorted(leads):
            _ = gettext_for(self._language_of(lead))
            await send(
                self._bot, lead, ct.silent_line(_, who, watch.label, watch.tracker_id, minutes)
            )


def announcer(app: AnyApp) -> Announcer | None:
    return BotContext.of(app).announcer


async def announce_registration(
    update: Update, context: Context, tracker_id: int, label: str, model: str
) -> None:
    user, chat = update.effective_user, update.effective_chat
    speaker = announcer(context.application)
    if user is None or chat is None or speaker is None:
        return
    await speaker.registered(user.id, user.first_name, chat.id, tracker_id, label, model)


def default_group(
    update: Update, context: Context, groups: Sequence[TrackerGroup]
) -> tuple[int, str | None] | None:
    """(group id, title) set with /crew for registrations in this chat, None: ask. A group
    Navixy no longer lists is asked for again."""
    chat = update.effective_chat
    service = BotContext.of(context).crews_or_none
    found = service.get(chat.id) if service is not None and chat is not None else None
    if found is None or found.group_id is None:
        return None
    if found.group_id == 0:
        return 0, None
    title = next((g.title for g in groups if g.id == found.group_id), None)
    return None if title is None else (found.group_id, title)


def handlers() -> list[tuple[BaseHandler[Any, Any, Any], int]]:
    """(handler, group) pairs, for `Application.add_handler`."""
    return [
        (TypeHandler(Update, remember_last_message), REMEMBER_GROUP),
        *((handler, 0) for handler in admin.handlers()),
        *((handler, 0) for handler in admin_reports.handlers()),
        (CommandHandler("crew", crew_command), 0),
        (
            CallbackQueryHandler(
                on_crew_button, pattern=CrewButton.pattern(action="(grp|lng|off|g|l)")
            ),
            0,
        ),
    ]
