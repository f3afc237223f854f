"""Roles and access in the chat: the stranger's side of the access gate (invite links,
access requests), Approve/Reject, and the admin commands /invite, /users, /revoke,
/promote, /audit. Decisions are the AccessService's (bot/services/access.py); this
module asks, says and moves nothing else.
"""

from __future__ import annotations

import logging
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
)

from bot.i18n import Gettext, gettext_for
from bot.services.access import AccessService, Joined, Requested
from bot.telegram import admin_texts as at
from bot.telegram import menus
from bot.telegram.callback import AdminButton
from bot.telegram.common import (
    DRAFTS_KEY,
    Context,
    answer,
    edit,
    say,
    send,
    tr,
)
from bot.telegram.context import BotContext
from bot.telegram.language import language_store

log = logging.getLogger(__name__)

REQUEST = AdminButton("req").pack()
AUDIT_PAGE = 10
USERS_PAGE = 20

App = Application[Any, Any, Any, Any, Any, Any]


def access(context: Context) -> AccessService:
    return access_of(context.application)


def access_of(app: App) -> AccessService:
    return BotContext.of(app).access


def _name(user: User) -> str:
    return user.full_name or str(user.id)


def _link(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={user_id}">{escape(name or str(user_id))}</a>'


def _lang_of(context: Context, user_id: int) -> Gettext:
    return gettext_for(language_store(context.application).language_of(user_id))


def request_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(at.button_request_access(_), callback_data=REQUEST)]]
    )


# --- the stranger's side (called by the access gate) ---------------------------------------


async def stranger(update: Update, context: Context) -> bool:
    """An invite link or a request for access from someone with no role: handled (True),
    or not (False: the gate refuses as before)."""
    user = update.effective_user
    assert user is not None
    message, query = update.message, update.callback_query
    _ = tr(update)
    if message is not None and message.chat.type == ChatType.PRIVATE:
        code = _start_code(message.text or "")
        if code is None:
            return False
        outcome = await access(context).join(user.id, _name(user), code)
        if outcome is Joined.INVALID:
            await say(update, context, at.invite_invalid(_), request_keyboard(_))
        else:
            await say(update, context, at.joined(_))
        return True
    if query is not None and query.data == REQUEST:
        result = await access(context).request(user.id, _name(user))
        if result is Requested.PENDING:
            await answer(query, at.request_pending(_), alert=True)
        else:
            await answer(query)
            await edit(query, at.request_sent(_))
            if result is Requested.SENT:
                await _ask_admins(context, user)
        return True
    return False


def _start_code(text: str) -> str | None:
    command, _, rest = text.partition(" ")
    if command.split("@")[0].lower() != "/start":
        return None
    code = rest.strip()
    return code if code and code != "access" else None


async def _ask_admins(context: Context, user: User) -> None:
    for admin_id in access(context).admin_ids():
        _ = _lang_of(context, admin_id)
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        at.button_approve(_), callback_data=AdminButton("ok", str(user.id)).pack()
                    ),
                    InlineKeyboardButton(
                        at.button_reject(_), callback_data=AdminButton("no", str(user.id)).pack()
                    ),
                ]
            ]
        )
        text = at.request_for_admins(_, _name(user), user.id)
        await send(context.bot, admin_id, text, keyboard)


# --- admin side ----------------------------------------------------------------------------


async def is_admin_or_refuse(update: Update, context: Context) -> bool:
    """Is the sender an admin? Others get one short refusal (and nothing else happens)."""
    user = update.effective_user
    if user is not None and access(context).is_admin(user.id):
        return True
    _ = tr(update)
    if update.callback_query is not None:
        await answer(update.callback_query, at.admin_only(_), alert=True)
    else:
        await say(update, context, at.admin_only(_))
    return False


async def on_decision(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    if not await is_admin_or_refuse(update, context):
        return
    button = AdminButton.unpack(query.data)
    assert button is not None  # the handler's pattern
    action, user_id = button.action, int(button.value)
    admin = update.effective_user
    tr_ = tr(update)
    approve = action == "ok"
    if not await access(context).decide(admin.id, user_id, approve=approve):
        await answer(query, at.request_decided_already(tr_), alert=True)
        return
    await answer(query)
    text = query.message.text_html if isinstance(query.message, Message) else ""
    decided = at.request_approved_by if approve else at.request_rejected_by
    await edit(query, decided(tr_, text or "", _name(admin)))
    them = _lang_of(context, user_id)
    await send(
        context.bot, user_id, at.access_approved(them) if approve else at.access_rejected(them)
    )


def _args(update: Update) -> list[str]:
    message = update.effective_message
    text = (message.text or "") if message is not None else ""
    return text.split()[1:]


async def invite_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    _ = tr(update)
    try:
        numbers = [float(a) for a in _args(update)][:2]
    except ValueError:
        await say(update, context, at.invite_usage(_))
        return
    uses = int(numbers[0]) if numbers else 1
    days = numbers[1] if len(numbers) > 1 else 7.0
    assert update.effective_user is not None
    invite = await access(context).create_invite(update.effective_user.id, uses=uses, days=days)
    link = f"https://t.me/{context.bot.username}?start={invite.code}"
    await say(update, context, at.invite_created(_, link, invite.uses, invite.expires_at))


async def users_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    text, keyboard = _users_page(tr(update), access(context), 0)
    await say(update, context, text, keyboard)


def _users_page(
    _: Gettext, service: AccessService, offset: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    people = service.installers()
    page = people[offset : offset + USERS_PAGE]
    lines = [at.users_title(_, len(people))]
    lines += [at.user_line(_, m.name or str(m.user_id), m.user_id, m.last_seen_at) for m in page]
    return "\n".join(lines), pager(_, "us", offset, USERS_PAGE, len(people))


def pager(_: Gettext, kind: str, offset: int, size: int, total: int) -> InlineKeyboardMarkup | None:
    buttons = []
    if offset > 0:
        buttons.append(
            InlineKeyboardButton(
                at.button_newer(_),
                callback_data=AdminButton(kind, str(max(0, offset - size))).pack(),
            )
        )
    if offset + size < total:
        buttons.append(
            InlineKeyboardButton(
                at.button_older(_), callback_data=AdminButton(kind, str(offset + size)).pack()
            )
        )
    return InlineKeyboardMarkup([buttons]) if buttons else None


async def audit_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    text, keyboard = await _audit_page(tr(update), access(context), 0)
    await say(update, context, text, keyboard)


async def _audit_page(
    _: Gettext, service: AccessService, offset: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    total = await service.audit.count()
    if total == 0:
        return at.audit_empty(_), None
    entries = await service.audit.latest(AUDIT_PAGE, offset)
    lines = [at.audit_title(_, total)] + [at.audit_line(_, e) for e in entries]
    return "\n".join(lines), pager(_, "au", offset, AUDIT_PAGE, total)


async def on_page(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    if not await is_admin_or_refuse(update, context):
        return
    await answer(query)
    button = AdminButton.unpack(query.data)
    assert button is not None  # the handler's pattern
    kind, value = button.action, button.value
    _ = tr(update)
    if kind == "au":
        text, keyboard = await _audit_page(_, access(context), int(value))
    else:
        text, keyboard = _users_page(_, access(context), int(value))
    await edit(query, text, keyboard)


async def revoke_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    _ = tr(update)
    args = _args(update)
    if len(args) != 1 or not args[0].isdigit():
        await say(update, context, at.revoke_usage(_))
        return
    user_id = int(args[0])
    assert update.effective_user is not None
    member = await access(context).revoke(update.effective_user.id, user_id)
    if member is None:
        await say(update, context, at.revoke_nothing(_, user_id))
        return
    await say(update, context, at.revoked(_, member.name or str(user_id), user_id))
    if member.role == "admin":
        await menus.drop_admin_menu(context.bot, user_id)
    await end_conversations(context, user_id, member.name)


async def end_conversations(context: Context, user_id: int, name: str) -> None:
    """End the user's open registrations politely: the state and drafts are dropped and
    each chat where one was open is told (private: them; a group: addressed to them)."""
    app = context.application
    chats: set[int] = set()
    for handlers in app.handlers.values():
        for handler in handlers:
            if not isinstance(handler, ConversationHandler) or handler.name is None:
                continue
            # PTB has no public per-key reset (issue #4835): the mapping is its own.
            conversations = handler._conversations
            for key in [k for k in conversations if len(k) == 2 and k[1] == user_id]:
                conversations.pop(key, None)
                chats.add(int(key[0]))
                if app.persistence is not None:
                    await app.persistence.update_conversation(handler.name, key, None)
    user_data = app.user_data.get(user_id)
    if user_data is not None:
        user_data.pop(DRAFTS_KEY, None)
    _ = _lang_of(context, user_id)
    for chat_id in sorted(chats):
        text = at.revoked_notice(_)
        if chat_id < 0:
            text = f"{_.isolate(_link(user_id, name))}, {text}"
        await send(context.bot, chat_id, text)


async def promote_command(update: Update, context: Context) -> None:
    if not await is_admin_or_refuse(update, context):
        return
    _ = tr(update)
    args = _args(update)
    if len(args) != 1 or not args[0].isdigit():
        await say(update, context, at.promote_usage(_))
        return
    assert update.effective_user is not None
    if await access(context).promote(update.effective_user.id, int(args[0])):
        await menus.set_admin_menu(context.bot, int(args[0]))
    await say(update, context, at.promoted(_, int(args[0])))


# --- the registration limit (called from the Register button) -----------------------------


async def within_limit(update: Update, context: Context) -> bool:
    """May the user send one more registration this hour? If not: they are told, and the
    admins (each once per hit)."""
    user = update.effective_user
    if user is None:
        return True
    limit = await access(context).may_register(user.id)
    if limit.allowed:
        return True
    await say(update, context, at.rate_limited(tr(update), limit.limit))
    for admin_id in access(context).admin_ids():
        _ = _lang_of(context, admin_id)
        await send(
            context.bot, admin_id, at.rate_limited_admins(_, _name(user), user.id, limit.limit)
        )
    return False


async def registered(
    update: Update, context: Context, tracker_id: int, label: str, model: str
) -> None:
    user = update.effective_user
    if user is not None:
        await access(context).registered(user.id, tracker_id, label, model)


async def note_activity(update: Update, context: Context) -> None:
    """The member's last activity, for /users."""
    user = update.effective_user
    if user is not None:
        await access(context).seen(user.id, _name(user))


ADMIN_COMMANDS = ("invite", "users", "revoke", "promote", "audit")


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    return [
        CommandHandler("invite", invite_command),
        CommandHandler("users", users_command),
        CommandHandler("revoke", revoke_command),
        CommandHandler("promote", promote_command),
        CommandHandler("audit", audit_command),
        CallbackQueryHandler(
            on_decision, pattern=AdminButton.pattern(action="(ok|no)", value="[0-9]+$")
        ),
        CallbackQueryHandler(
            on_page, pattern=AdminButton.pattern(action="(au|us)", value="[0-9]+$")
        ),
    ]
