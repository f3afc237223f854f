"""The registration conversation's questions: one `ask_*` per step, and `advance()`.

`advance()` commits the draft and the next step, then asks the draft's next question
(`Draft.next_step()`), so editing a field from the summary card, being sent back by a
Navixy error or a photo read at the device-ID step all reuse the same questions. Also
here: `needs_draft`, the one rule for an answer that arrives with no open draft.
Answers are in `conversation.py`, photos in `photos.py`; both import this module, never
each other's.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    ConversationHandler,
)

from bot.domain.draft import ApnOffer, Draft, Step
from bot.i18n import Gettext
from bot.navixy.errors import NavixyError
from bot.telegram import crew, group_chat, texts
from bot.telegram.callback import DraftButton, StartButton
from bot.telegram.common import (
    Context,
    answer,
    can_delete_messages,
    commit_state,
    edit_text,
    in_group,
    load_draft,
    save_draft,
    say,
    services,
    tr,
)

log = logging.getLogger(__name__)

CONVERSATION_NAME = "registration"
END = ConversationHandler.END

State = str | int


class Ask(Protocol):
    """One step's question. `note` goes before it; `tapped`: see `show_question`."""

    def __call__(
        self,
        update: Update,
        context: Context,
        draft: Draft,
        note: str | None,
        *,
        tapped: str | None = None,
    ) -> Awaitable[State]: ...


# --- asking: one function per step -----------------------------------------------------------


async def advance(
    update: Update,
    context: Context,
    draft: Draft,
    note: str | None = None,
    *,
    tapped: str | None = None,
) -> State:
    """Save the draft and ask its next question; returns the new state.

    The draft and the new state are committed to the database *before* the question is
    sent: a process killed right after the question reached the installer still takes
    the answer when it is back. `tapped`: after a button tap, what the tapped message
    keeps (the value chosen) above the next question (`show_question`).
    """
    step = draft.next_step()
    save_draft(context, draft)
    await commit_state(update, context, CONVERSATION_NAME, step)
    return await ASK[step](update, context, draft, note, tapped=tapped)


async def show_question(
    update: Update,
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    tapped: str | None = None,
    expects_text: bool = False,
    placeholder: str | None = None,
) -> None:
    """Ask a question; after a tap, in the tapped message: one Bot API call per step.

    `tapped` (set by the handler of a tap) is what the tapped message keeps, the value
    chosen ("Model: Teltonika FMB140", or the old question and "✅ <button>"); the message
    is edited into that, a blank line and the question (with its buttons). In a group
    only a question with buttons is edited in (addressed to the member, as `say` does): a
    typed answer needs a ForceReply, which an edit cannot add, so it comes as a new
    message and the tapped one is left alone (no cosmetic edit: see `group_chat`). Without
    `tapped`, or when the edit fails (the message is gone or too old), a new message.
    """
    query = update.callback_query
    message = query.message if query is not None else None
    if tapped is not None and isinstance(message, Message):
        if not in_group(update):
            body = f"{tapped}\n\n{text}"
            if await edit_text(context.bot, message.chat.id, message.message_id, body, markup):
                return
        elif markup is not None and await group_chat.replace_tapped(update, context, text, markup):
            return
    await say(update, context, text, markup, expects_text=expects_text, placeholder=placeholder)


def register_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts.button_start_register(_), callback_data=StartButton().pack())]]
    )


async def offer_register(update: Update, context: Context, text: str) -> None:
    """A short answer outside a registration, with the Register button under it."""
    await say(update, context, text, register_keyboard(tr(update)))


def _with_note(note: str | None, text: str) -> str:
    return f"{note}\n\n{text}" if note else text


async def ask_model(
    update: Update,
    context: Context,
    draft: Draft,
    note: str | None,
    *,
    tapped: str | None = None,
) -> State:
    _ = tr(update)
    rows = [
        [InlineKeyboardButton(texts.button_search(_), switch_inline_query_current_chat="")],
        [
            InlineKeyboardButton(
                texts.button_mobile_app(_), callback_data=DraftButton.data(draft, "mobile")
            )
        ],
    ]
    known = await services(context).registration.model_for_known_tac(draft.device_id)
    if known is not None:
        label = texts.button_same_model(_, known.title)
        rows.insert(
            0,
            [
                InlineKeyboardButton(
                    label, callback_data=DraftButton.data(draft, f"model:{known.code}")
                )
            ],
        )
    if in_group(update) and known is None:
        # Groups: one ForceReply question instead of a keyboard plus a reply prompt
        # (Telegram allows 20 messages a minute per group). Typing "app" finds the app.
        text = texts.ask_model(_) + "\n" + texts.mobile_app_hint(_)
        await say(update, context, _with_note(note, text), expects_text=True, placeholder="FMB140")
        return Step.MODEL
    keyboard = InlineKeyboardMarkup(rows)
    await show_question(
        update, context, _with_note(note, texts.ask_model(_)), keyboard, tapped=tapped
    )
    if in_group(update):
        # The keyboard takes the reply_markup slot; ask for the typed answer separately.
        await say(update, context, "✏️", expects_text=True, placeholder="FMB140")
    return Step.MODEL


async def ask_device_id(
    update: Update,
    context: Context,
    draft: Draft,
    note: str | None,
    *,
    tapped: str | None = None,
) -> State:
    _ = tr(update)
    rule = draft.id_rule
    text = _with_note(note, texts.ask_device_id(_, rule))
    await show_question(update, context, text, tapped=tapped, expects_text=True)
    return Step.DEVICE_ID


async def ask_phone(
    update: Update,
    context: Context,
    draft: Draft,
    note: str | None,
    *,
    tapped: str | None = None,
) -> State:
    _ = tr(update)
    await show_question(
        update,
        context,
        _with_note(note, texts.ask_phone(_)),
        tapped=tapped,
        expects_text=True,
        placeholder="+49 170 1234567",
    )
    return Step.PHONE


async def ask_apn_choice(
    update: Update,
    context: Context,
    draft: Draft,
    note: str | None,
    *,
    tapped: str | None = None,
) -> State:
    """Look the APN up by the SIM's number and offer it as one tap."""
    _ = tr(update)
    apn = await services(context).registration.look_up_apn(draft.phone) if draft.phone else None
    if apn is None or not apn.name:
        draft.clear_apn(manual=True)
        save_draft(context, draft)
        text = texts.ask_apn_name(_, looked_up=True)
        await _ask_text(
            update,
            context,
            _with_note(note, text),
            skippable=True,
            draft=draft,
            placeholder="internet",
            tapped=tapped,
        )
        return Step.APN_NAME
    operator = apn.operator_name or apn.name
    draft.apn_offer = ApnOffer(
        operator=operator, name=apn.name, user=apn.user, password=apn.password
    )
    save_draft(context, draft)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.use_apn_button(_, operator, apn.name),
                    callback_data=DraftButton.data(draft, "apn:use"),
                )
            ],
            [
                InlineKeyboardButton(
                    texts.button_other_apn(_), callback_data=DraftButton.data(draft, "apn:other")
                )
            ],
        ]
    )
    text = _with_note(note, texts.apn_found(_, operator, apn.name))
    await show_question(update, context, text, keyboard, tapped=tapped)
    return Step.APN_CHOICE


def _skip_button(update: Update, draft: Draft) -> InlineKeyboardMarkup:
    _ = tr(update)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.button_skip(_), callback_data=DraftButton.data(draft, "skip")
                )
            ]
        ]
    )


async def _ask_text(
    update: Update,
    context: Context,
    text: str,
    *,
    skippable: bool = False,
    draft: Draft | None = None,
    placeholder: str | None = None,
    tapped: str | None = None,
) -> None:
    if skippable and in_group(update):
        # Groups: one ForceReply question; "-" skips (a Skip button would need a second
        # message for the reply field, and groups get 20 messages a minute).
        text += "\n" + texts.skip_hint(tr(update))
        skippable = False
    markup = _skip_button(update, draft) if skippable and draft is not None else None
    await show_question(
        update, context, text, markup, tapped=tapped, expects_text=True, placeholder=placeholder
    )


def _text_question(
    step: Step,
    question: Callable[[Gettext], str],
    *,
    skippable: bool = False,
    placeholder: str | None = None,
    secret: bool = False,
) -> Ask:
    """A question answered by typing (optionally with a Skip button).

    A `secret` asked in a group where the bot cannot delete messages says so first: the
    answer would stay visible to every member.
    """

    async def ask(
        update: Update,
        context: Context,
        draft: Draft,
        note: str | None,
        *,
        tapped: str | None = None,
    ) -> State:
        text = _with_note(note, question(tr(update)))
        if secret and in_group(update) and not await can_delete_messages(update, context):
            text = texts.secret_stays_visible(tr(update)) + "\n\n" + text
        await _ask_text(
            update,
            context,
            text,
            skippable=skippable,
            draft=draft,
            placeholder=placeholder,
            tapped=tapped,
        )
        return step

    return ask


ask_apn_name = _text_question(
    Step.APN_NAME,
    lambda _: texts.ask_apn_name(_, looked_up=False),
    skippable=True,
    placeholder="internet",
)
ask_apn_user = _text_question(Step.APN_USER, texts.ask_apn_user, skippable=True)
ask_apn_password = _text_question(
    Step.APN_PASSWORD, texts.ask_apn_password, skippable=True, secret=True
)
ask_label = _text_question(Step.LABEL, texts.ask_label, placeholder="AB 123 C")
ask_code = _text_question(Step.CODE, texts.ask_code, secret=True)
ask_notify_phone = _text_question(Step.NOTIFY_PHONE, texts.ask_notify_phone, skippable=True)
ask_notify_email = _text_question(Step.NOTIFY_EMAIL, texts.ask_notify_email, skippable=True)


async def ask_group(
    update: Update,
    context: Context,
    draft: Draft,
    note: str | None,
    *,
    tapped: str | None = None,
) -> State:
    _ = tr(update)
    try:
        groups = await services(context).catalog.groups()
    except NavixyError:
        groups = []
        note = _with_note(note, texts.groups_unavailable(_))
    if not groups and note is None:
        # Nothing to choose from: no tap needed.
        draft.group_id, draft.group_title = 0, None
        return await advance(update, context, draft, tapped=tapped)
    preset = crew.default_group(update, context, groups)
    if preset is not None and note is None:  # a crew chat's tracker group (/crew)
        draft.group_id, draft.group_title = preset
        return await advance(update, context, draft, tapped=tapped)
    rows = [
        [InlineKeyboardButton(g.title, callback_data=DraftButton.data(draft, f"group:{g.id}"))]
        for g in groups[:90]
    ]
    rows.append(
        [
            InlineKeyboardButton(
                texts.button_no_group(_), callback_data=DraftButton.data(draft, "group:0")
            )
        ]
    )
    text = _with_note(note, texts.ask_group(_))
    await show_question(update, context, text, InlineKeyboardMarkup(rows), tapped=tapped)
    return Step.GROUP


def card_keyboard(update: Update, draft: Draft) -> InlineKeyboardMarkup:
    _ = tr(update)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.button_register(_), callback_data=DraftButton.data(draft, "register")
                )
            ],
            [
                InlineKeyboardButton(
                    texts.button_edit(_), callback_data=DraftButton.data(draft, "edit")
                ),
                InlineKeyboardButton(
                    texts.button_cancel(_), callback_data=DraftButton.data(draft, "cancel")
                ),
            ],
        ]
    )


async def ask_summary(
    update: Update,
    context: Context,
    draft: Draft,
    note: str | None,
    *,
    tapped: str | None = None,
) -> State:
    _ = tr(update)
    text = _with_note(note, texts.summary(_, draft))
    keyboard = card_keyboard(update, draft)
    # In a group a tap is always replaced by the card (it has buttons: no ForceReply).
    if tapped is None and await group_chat.replace_tapped(update, context, text, keyboard):
        return Step.SUMMARY
    await show_question(update, context, text, keyboard, tapped=tapped)
    return Step.SUMMARY


ASK: dict[Step, Ask] = {
    Step.MODEL: ask_model,
    Step.DEVICE_ID: ask_device_id,
    Step.PHONE: ask_phone,
    Step.APN_CHOICE: ask_apn_choice,
    Step.APN_NAME: ask_apn_name,
    Step.APN_USER: ask_apn_user,
    Step.APN_PASSWORD: ask_apn_password,
    Step.LABEL: ask_label,
    Step.GROUP: ask_group,
    Step.CODE: ask_code,
    Step.NOTIFY_PHONE: ask_notify_phone,
    Step.NOTIFY_EMAIL: ask_notify_email,
    Step.SUMMARY: ask_summary,
}


# --- the open draft --------------------------------------------------------------------------


def message_text(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message is not None else ""


DraftHandler = Callable[[Update, Context, Draft], Coroutine[Any, Any, State | None]]


def needs_draft(
    handler: DraftHandler,
) -> Callable[[Update, Context], Coroutine[Any, Any, State | None]]:
    """For a handler that answers within an open registration: it gets the open draft.

    THE rule when there is none: a button gets "this button belongs to an earlier card"
    (its press is answered), a message gets the idle hint with the Register button; the
    conversation then ENDs. A button of another (earlier) draft while one is open gets the
    same answer and keeps the state (None). Otherwise the press is answered, and the
    handler runs with the draft.
    """

    @functools.wraps(handler)
    async def with_draft(update: Update, context: Context) -> State | None:
        draft = load_draft(update, context)
        query = update.callback_query
        if query is not None:
            button = DraftButton.unpack(query.data)
            if draft is None or button is None or draft.id != button.draft_id:
                await answer(query, texts.stale_button(tr(update)))
                return END if draft is None else None
            await answer(query)
        elif draft is None:
            # The conversation's state outlived its draft (unreadable, or lost): start afresh.
            await offer_register(update, context, texts.idle_hint(tr(update)))
            return END
        return await handler(update, context, draft)

    return with_draft
