"""The registration conversation: one small async function per step.

Handlers ask, validate through pure domain functions, store the draft and move
the state. The next question always comes from `Draft.next_step()`, so editing a
field from the summary card, or being sent back by a Navixy error, reuses the
same questions.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.domain import fields
from bot.domain.device_id import check_device_id, parse_id_type
from bot.domain.draft import PARAMETER_STEPS, ApnOffer, Draft, Step
from bot.domain.phone import PhoneCheck, check_phone
from bot.domain.plugins import choose_plugin, requires_activation_code
from bot.i18n import Gettext
from bot.navixy.errors import NavixyError
from bot.navixy.models import DeviceModel
from bot.services.catalog import CatalogUnavailable
from bot.services.registrar import NoAnswer, Registered, Rejected
from bot.storage.journal import AttemptStatus
from bot.telegram import admin, crew, delivery, group_chat, texts
from bot.telegram.common import (
    ADDRESSED,
    CONTACT,
    OTHER,
    PHOTO,
    TEXT,
    VIA_BOT,
    Context,
    answer,
    can_delete_messages,
    cb,
    cb_parts,
    cb_pattern,
    chosen_button,
    close_keyboard,
    commit_state,
    drop_draft,
    edit,
    forget_secret_message,
    in_group,
    load_draft,
    save_draft,
    say,
    services,
    tr,
)

log = logging.getLogger(__name__)

CONVERSATION_NAME = "registration"
EDIT = "edit"  # state: picking the field to change on the summary card
END = ConversationHandler.END
MAX_MATCHES = 8
INLINE_PICK = re.compile(r"\[([A-Za-z0-9_.\-]{1,64})\]\s*$")
#: States answered with buttons: anything typed or sent there gets "use the buttons".
BUTTON_STEPS = frozenset({Step.GROUP, Step.SUMMARY})

State = str | int
Ask = Callable[[Update, Context, Draft, str | None], Awaitable[State]]


# --- entry and exit --------------------------------------------------------------------------


async def start_registration(update: Update, context: Context) -> State:
    query = update.callback_query
    if query is not None:
        await answer(query)
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    draft = Draft.start(chat.id, user.id)
    return await advance(update, context, draft)


async def cancel(update: Update, context: Context) -> State:
    _ = tr(update)
    text = texts.cancelled(_)
    draft = load_draft(update, context)
    if draft is not None:
        last = await services(context).journal.latest_for_draft(draft.id)
        if last is not None and last.status in (AttemptStatus.SENDING, AttemptStatus.UNKNOWN):
            # "Nothing was registered" would be a guess: Navixy never answered.
            text = texts.cancelled_unconfirmed(_)
    if update.callback_query is not None:
        await answer(update.callback_query)
        await edit(update.callback_query, text)
    else:
        await say(update, context, text)
    drop_draft(update, context)
    return END


async def stale_button(update: Update, context: Context) -> State | None:
    """A button of an earlier card (or another step) while a conversation is open."""
    query = update.callback_query
    assert query is not None
    await answer(query, texts.stale_button(tr(update)))
    return None


# --- asking: one function per step -----------------------------------------------------------


async def advance(update: Update, context: Context, draft: Draft, note: str | None = None) -> State:
    """Save the draft and ask its next question; returns the new state.

    The draft and the new state are committed to the database *before* the question is
    sent: a process killed right after the question reached the installer still takes
    the answer when it is back.
    """
    step = draft.next_step()
    save_draft(context, draft)
    await commit_state(update, context, CONVERSATION_NAME, step)
    return await ASK[step](update, context, draft, note)


def register_keyboard(_: Gettext) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts.button_start_register(_), callback_data="start:register")]]
    )


async def offer_register(update: Update, context: Context, text: str) -> None:
    """A short answer outside a registration, with the Register button under it."""
    await say(update, context, text, register_keyboard(tr(update)))


async def start_from_imei(update: Update, context: Context) -> State:
    """An IMEI typed while no registration is open starts one with it."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    check = check_device_id(parse_id_type("imei"), _text(update))
    draft = Draft.start(chat.id, user.id)
    draft.device_id = check.value
    return await advance(update, context, draft)


async def start_from_inline_pick(update: Update, context: Context) -> State | None:
    """A model picked in inline search while no registration is open starts one with it."""
    message = update.effective_message
    chat, user = update.effective_chat, update.effective_user
    assert message is not None and chat is not None and user is not None
    match = INLINE_PICK.search(message.text or "")
    if match is None or message.via_bot is None or message.via_bot.id != context.bot.id:
        await offer_register(update, context, texts.idle_hint(tr(update)))
        return None
    draft = Draft.start(chat.id, user.id)
    save_draft(context, draft)
    state = await _pick_model(update, context, draft, match.group(1))
    if state is None:  # the model is unknown or Navixy did not answer: nothing started
        drop_draft(update, context)
    return state


async def on_lost_state(update: Update, context: Context) -> State:
    """A message in a conversation whose saved state this version does not know (or that
    the running process lost): ask the draft's next question again, or offer a new start."""
    draft = load_draft(update, context)
    if draft is None:
        await offer_register(update, context, texts.idle_hint(tr(update)))
        return END
    return await advance(update, context, draft)


def _other_at(step: Step | str) -> Callable[[Update, Context], Coroutine[Any, Any, State | None]]:
    """A sticker, voice note, location, ... at a step: one short hint, the state is kept."""

    async def hint(update: Update, context: Context) -> State | None:
        _ = tr(update)
        if not isinstance(step, Step) or step in BUTTON_STEPS:
            await say(update, context, texts.use_buttons(_))
        else:
            await say(update, context, texts.type_hint(_, step), expects_text=True)
        return None

    return hint


def _with_note(note: str | None, text: str) -> str:
    return f"{note}\n\n{text}" if note else text


async def ask_model(update: Update, context: Context, draft: Draft, note: str | None) -> State:
    _ = tr(update)
    rows = [
        [InlineKeyboardButton(texts.button_search(_), switch_inline_query_current_chat="")],
        [InlineKeyboardButton(texts.button_mobile_app(_), callback_data=cb(draft, "mobile"))],
    ]
    known = await _model_for_known_tac(context, draft)
    if known is not None:
        label = texts.button_same_model(_, known.title)
        rows.insert(
            0, [InlineKeyboardButton(label, callback_data=cb(draft, f"model:{known.code}"))]
        )
    if in_group(update) and known is None:
        # Groups: one ForceReply question instead of a keyboard plus a reply prompt
        # (Telegram allows 20 messages a minute per group). Typing "app" finds the app.
        text = texts.ask_model(_) + "\n" + texts.mobile_app_hint(_)
        await say(update, context, _with_note(note, text), expects_text=True, placeholder="FMB140")
        return Step.MODEL
    keyboard = InlineKeyboardMarkup(rows)
    await say(update, context, _with_note(note, texts.ask_model(_)), keyboard)
    if in_group(update):
        # The keyboard takes the reply_markup slot; ask for the typed answer separately.
        await say(update, context, "✏️", expects_text=True, placeholder="FMB140")
    return Step.MODEL


async def _model_for_known_tac(context: Context, draft: Draft) -> DeviceModel | None:
    """The model this bot registered most often with the same 8-digit TAC (photo first)."""
    device_id = draft.device_id or ""
    if len(device_id) != 15 or not device_id.isdigit():
        return None
    svc = services(context)
    for code, _count in await svc.journal.models_for_tac(device_id[:8]):
        model = svc.catalog.model(code)
        if model is not None:
            return model
    return None


async def ask_device_id(update: Update, context: Context, draft: Draft, note: str | None) -> State:
    _ = tr(update)
    rule = parse_id_type(draft.id_type or "imei")
    await say(update, context, _with_note(note, texts.ask_device_id(_, rule)), expects_text=True)
    return Step.DEVICE_ID


async def ask_phone(update: Update, context: Context, draft: Draft, note: str | None) -> State:
    _ = tr(update)
    await say(
        update,
        context,
        _with_note(note, texts.ask_phone(_)),
        expects_text=True,
        placeholder="+49 170 1234567",
    )
    return Step.PHONE


async def ask_apn_choice(update: Update, context: Context, draft: Draft, note: str | None) -> State:
    """Look the APN up by the SIM's number and offer it as one tap."""
    _ = tr(update)
    apn = None
    if draft.phone:
        try:
            apn = await services(context).client.read_apn(draft.phone)
        except NavixyError as exc:
            log.info("APN lookup failed: code %s", exc.code)
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
                    texts.use_apn_button(_, operator, apn.name), callback_data=cb(draft, "apn:use")
                )
            ],
            [InlineKeyboardButton(texts.button_other_apn(_), callback_data=cb(draft, "apn:other"))],
        ]
    )
    await say(update, context, _with_note(note, texts.apn_found(_, operator, apn.name)), keyboard)
    return Step.APN_CHOICE


def _skip_button(update: Update, draft: Draft) -> InlineKeyboardMarkup:
    _ = tr(update)
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts.button_skip(_), callback_data=cb(draft, "skip"))]]
    )


async def _ask_text(
    update: Update,
    context: Context,
    text: str,
    *,
    skippable: bool = False,
    draft: Draft | None = None,
    placeholder: str | None = None,
) -> None:
    if skippable and in_group(update):
        # Groups: one ForceReply question; "-" skips (a Skip button would need a second
        # message for the reply field, and groups get 20 messages a minute).
        text += "\n" + texts.skip_hint(tr(update))
        skippable = False
    markup = _skip_button(update, draft) if skippable and draft is not None else None
    await say(update, context, text, markup, expects_text=True, placeholder=placeholder)


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

    async def ask(update: Update, context: Context, draft: Draft, note: str | None) -> State:
        text = _with_note(note, question(tr(update)))
        if secret and in_group(update) and not await can_delete_messages(update, context):
            text = texts.secret_stays_visible(tr(update)) + "\n\n" + text
        await _ask_text(
            update, context, text, skippable=skippable, draft=draft, placeholder=placeholder
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


async def ask_group(update: Update, context: Context, draft: Draft, note: str | None) -> State:
    _ = tr(update)
    try:
        groups = await services(context).catalog.groups()
    except NavixyError:
        groups = []
        note = _with_note(note, texts.groups_unavailable(_))
    if not groups and note is None:
        # Nothing to choose from: no tap needed.
        draft.group_id, draft.group_title = 0, None
        return await advance(update, context, draft)
    preset = crew.default_group(update, context, groups)
    if preset is not None and note is None:  # a crew chat's tracker group (/crew)
        draft.group_id, draft.group_title = preset
        return await advance(update, context, draft)
    rows = [
        [InlineKeyboardButton(g.title, callback_data=cb(draft, f"group:{g.id}"))]
        for g in groups[:90]
    ]
    rows.append(
        [InlineKeyboardButton(texts.button_no_group(_), callback_data=cb(draft, "group:0"))]
    )
    await say(update, context, _with_note(note, texts.ask_group(_)), InlineKeyboardMarkup(rows))
    return Step.GROUP


def _card_keyboard(update: Update, draft: Draft) -> InlineKeyboardMarkup:
    _ = tr(update)
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(texts.button_register(_), callback_data=cb(draft, "register"))],
            [
                InlineKeyboardButton(texts.button_edit(_), callback_data=cb(draft, "edit")),
                InlineKeyboardButton(texts.button_cancel(_), callback_data=cb(draft, "cancel")),
            ],
        ]
    )


async def ask_summary(update: Update, context: Context, draft: Draft, note: str | None) -> State:
    _ = tr(update)
    text = _with_note(note, texts.summary(_, draft))
    keyboard = _card_keyboard(update, draft)
    if not await group_chat.replace_tapped(update, context, text, keyboard):
        await say(update, context, text, keyboard)
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


# --- answers ---------------------------------------------------------------------------------


def _text(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message is not None else ""


async def current_draft(update: Update, context: Context) -> Draft | None:
    """The draft this update belongs to; a button of another draft gets a polite answer."""
    draft = load_draft(update, context)
    query = update.callback_query
    if query is not None:
        draft_id, _ = cb_parts(query)
        if draft is None or draft.id != draft_id:
            await answer(query, texts.stale_button(tr(update)))
            return None
        await answer(query)
    elif draft is None:
        # The conversation's state outlived its draft (unreadable, or lost): start afresh.
        await offer_register(update, context, texts.idle_hint(tr(update)))
    return draft


async def on_model_query(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return END
    _ = tr(update)
    query = _text(update).strip()
    catalog = services(context).catalog
    try:
        await catalog.ensure()
    except CatalogUnavailable:
        await say(update, context, texts.catalog_unavailable(_))
        return None
    hits = catalog.search(query, limit=MAX_MATCHES)
    search_row = [
        InlineKeyboardButton(texts.button_search(_), switch_inline_query_current_chat=query[:64])
    ]
    if not hits:
        keyboard = InlineKeyboardMarkup(
            [
                search_row,
                [
                    InlineKeyboardButton(
                        texts.button_mobile_app(_), callback_data=cb(draft, "mobile")
                    )
                ],
            ]
        )
        await say(update, context, texts.no_model_match(_, query), keyboard)
        if in_group(update):
            await say(update, context, "✏️", expects_text=True, placeholder="FMB140")
        return None
    rows = [
        [InlineKeyboardButton(h.model.title, callback_data=cb(draft, f"model:{h.model.code}"))]
        for h in hits
        if len(f"{draft.id}|model:{h.model.code}".encode()) <= 64
    ]
    rows.append(search_row)
    await say(update, context, texts.pick_model(_, query), InlineKeyboardMarkup(rows))
    return None


async def on_model_button(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return None
    query = update.callback_query
    assert query is not None
    _, action = cb_parts(query)
    code = action.removeprefix("model:")
    return await _pick_model(update, context, draft, code)


async def on_mobile_button(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return None
    assert update.callback_query is not None
    await close_keyboard(update.callback_query)
    return await _pick_model(update, context, draft, MOBILE_APP_CODE)


MOBILE_APP_CODE = "mobile_unknown_xgps"


async def on_inline_pick(update: Update, context: Context) -> State | None:
    """A model chosen in inline mode arrives as a message sent via this bot."""
    message = update.effective_message
    assert message is not None
    if message.via_bot is None or message.via_bot.id != context.bot.id:
        return None
    match = INLINE_PICK.search(message.text or "")
    draft = load_draft(update, context)
    if match is None or draft is None:
        return None
    return await _pick_model(update, context, draft, match.group(1))


async def _pick_model(update: Update, context: Context, draft: Draft, code: str) -> State | None:
    _ = tr(update)
    svc = services(context)
    model = svc.catalog.model(code)
    if model is None:
        await say(update, context, texts.model_unknown(_))
        return None
    if update.callback_query is not None and not group_chat.spare_cosmetic_edit(update):
        await edit(update.callback_query, texts.model_chosen(_, model.title))
    try:
        plugins = await svc.catalog.plugins()
    except NavixyError:
        await say(update, context, texts.plugins_unavailable(_))
        return None
    plugin = choose_plugin(plugins, model)
    if plugin is None:
        await say(update, context, texts.no_plugin(_, model.title))
        drop_draft(update, context)
        return END
    rule = parse_id_type(model.id_type)
    draft.choose_model(
        model,
        asks_device_id=rule.asks_user,
        plugin_id=plugin.id,
        code_required=requires_activation_code(plugin.id),
    )
    if draft.device_id is not None and not check_device_id(rule, draft.device_id).ok:
        # An ID read from a photo before the model was known may not fit this model.
        draft.device_id = None
    return await advance(update, context, draft)


async def on_device_id(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return END
    raw = _text(update)
    rule = parse_id_type(draft.id_type or "imei")
    check = check_device_id(rule, raw)
    if check.value is None or check.problem is not None:
        assert check.problem is not None
        await say(
            update,
            context,
            texts.bad_device_id(tr(update), rule, check.problem, raw),
            expects_text=True,
        )
        return None
    draft.device_id = check.value
    return await advance(update, context, draft)


def _phone_check(update: Update) -> PhoneCheck:
    """The phone number typed, or shared as a contact (often without its "+")."""
    message = update.effective_message
    contact = message.contact if message is not None else None
    if contact is None:
        return check_phone(_text(update))
    raw = contact.phone_number.strip()
    if not raw.startswith("+"):
        international = check_phone("+" + raw)
        if international.ok:
            return international
    return check_phone(raw)


async def on_phone(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return END
    check = _phone_check(update)
    if check.value is None:
        assert check.problem is not None
        await say(update, context, texts.bad_phone(tr(update), check.problem), expects_text=True)
        return None
    if draft.phone != check.value:
        draft.clear_apn()  # another SIM: look its APN up again
    draft.phone = check.value
    return await advance(update, context, draft)


async def on_apn_use(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return None
    assert update.callback_query is not None
    if not group_chat.spare_cosmetic_edit(update):
        await close_keyboard(update.callback_query)
    if not draft.use_apn_offer():
        draft.clear_apn(manual=True)
    return await advance(update, context, draft)


async def on_apn_other(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return None
    assert update.callback_query is not None
    await close_keyboard(update.callback_query)
    draft.clear_apn(manual=True)
    return await advance(update, context, draft)


SKIP_TEXT = "-"
SKIPPABLE = frozenset(
    {Step.APN_NAME, Step.APN_USER, Step.APN_PASSWORD, Step.NOTIFY_PHONE, Step.NOTIFY_EMAIL}
)


def _typed_skip(update: Update, step: Step) -> bool:
    """A lone "-" skips an optional answer (the way to skip in groups, and it works anywhere)."""
    return step in SKIPPABLE and _text(update).strip() == SKIP_TEXT


async def _on_field(
    update: Update,
    context: Context,
    step: Step,
    check: Callable[[str], fields.FieldCheck],
    attr: str,
    *,
    secret: bool = False,
) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return END
    if update.callback_query is not None or _typed_skip(update, step):  # Skip
        if update.callback_query is not None:
            await close_keyboard(update.callback_query)
        value: str | None = ""
    else:
        if secret:
            # Deleted where the bot may; where it may not, the installer is told so.
            may = await can_delete_messages(update, context)
            if not (may and await forget_secret_message(update)):
                await say(update, context, texts.secret_not_deleted(tr(update)))
        result = check(_text(update))
        if result.problem is not None:
            note = texts.bad_field(tr(update), result.problem, step)
            return await ASK[step](update, context, draft, note)
        value = result.value
    if step is Step.APN_NAME:
        draft.apn_manual = True
    setattr(draft, attr, value)
    return await advance(update, context, draft)


async def on_apn_name(update: Update, context: Context) -> State | None:
    return await _on_field(update, context, Step.APN_NAME, fields.check_apn_name, "apn_name")


async def on_apn_user(update: Update, context: Context) -> State | None:
    return await _on_field(update, context, Step.APN_USER, fields.check_apn_user, "apn_user")


async def on_apn_password(update: Update, context: Context) -> State | None:
    return await _on_field(
        update, context, Step.APN_PASSWORD, fields.check_apn_password, "apn_password", secret=True
    )


async def on_label(update: Update, context: Context) -> State | None:
    return await _on_field(update, context, Step.LABEL, fields.check_label, "label")


async def on_code(update: Update, context: Context) -> State | None:
    return await _on_field(
        update, context, Step.CODE, fields.check_activation_code, "activation_code", secret=True
    )


async def on_notify_email(update: Update, context: Context) -> State | None:
    return await _on_field(
        update, context, Step.NOTIFY_EMAIL, fields.check_email, "notification_email"
    )


async def on_notify_phone(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return END
    if update.callback_query is not None or _typed_skip(update, Step.NOTIFY_PHONE):
        if update.callback_query is not None:
            await close_keyboard(update.callback_query)
        draft.notification_phone = ""
        return await advance(update, context, draft)
    check = _phone_check(update)
    if check.value is None:
        assert check.problem is not None
        note = texts.bad_phone(tr(update), check.problem)
        return await ask_notify_phone(update, context, draft, note)
    draft.notification_phone = check.value
    return await advance(update, context, draft)


async def on_group(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return None
    query = update.callback_query
    assert query is not None
    _, action = cb_parts(query)
    group_id = int(action.removeprefix("group:"))
    title = None
    if group_id:
        # The button carries the title; the group list (cached) only if it is not at hand.
        title = chosen_button(query)
        if title is None:
            try:
                groups = await services(context).catalog.groups()
            except NavixyError:
                groups = []
            title = next((g.title for g in groups if g.id == group_id), str(group_id))
    if not group_chat.spare_cosmetic_edit(update):  # in a group the card replaces it
        await close_keyboard(query)
    draft.group_id, draft.group_title = group_id, title
    return await advance(update, context, draft)


async def on_photo_elsewhere(update: Update, context: Context) -> State | None:
    await say(update, context, texts.photo_not_now(tr(update)))
    return None


async def on_text_at_buttons(update: Update, context: Context) -> State | None:
    await say(update, context, texts.use_buttons(tr(update)))
    return None


# --- the summary card ------------------------------------------------------------------------


async def on_edit(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return None
    _ = tr(update)
    rows = [
        [InlineKeyboardButton(texts.field_name(_, step), callback_data=cb(draft, f"field:{step}"))]
        for step in draft.editable_steps()
    ]
    rows.append([InlineKeyboardButton(texts.button_back(_), callback_data=cb(draft, "back"))])
    assert update.callback_query is not None
    await commit_state(update, context, CONVERSATION_NAME, EDIT)
    await edit(
        update.callback_query,
        texts.summary(_, draft) + "\n\n" + texts.pick_field(_),
        InlineKeyboardMarkup(rows),
    )
    return EDIT


async def on_edit_back(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return None
    assert update.callback_query is not None
    await commit_state(update, context, CONVERSATION_NAME, Step.SUMMARY)
    await edit(
        update.callback_query, texts.summary(tr(update), draft), _card_keyboard(update, draft)
    )
    return Step.SUMMARY


async def on_edit_field(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return None
    query = update.callback_query
    assert query is not None
    _, action = cb_parts(query)
    try:
        step = Step(action.removeprefix("field:"))
    except ValueError:
        return None
    if step not in draft.editable_steps():
        return None  # not a button the bot made (the data is the client's to send)
    await edit(query, texts.summary(tr(update), draft))
    draft.forget(step)
    return await advance(update, context, draft)


async def on_register(update: Update, context: Context) -> State | None:
    draft = await current_draft(update, context)
    if draft is None:
        return None
    query = update.callback_query
    assert query is not None
    _ = tr(update)
    if draft.next_step() is not Step.SUMMARY:
        return await advance(update, context, draft)
    if not await admin.within_limit(update, context):  # at most N an hour per installer
        return Step.SUMMARY
    card = texts.summary(_, draft)
    await edit(query, card + "\n\n" + texts.registering(_))
    svc = services(context)
    user = update.effective_user
    card_id = query.message.message_id if query.message is not None else None

    async def unconfirmed() -> None:
        await edit(query, card + "\n\n" + delivery.checking(_))

    outcome = await svc.registrar.register(
        draft.id,
        draft.to_request(),
        user_id=draft.user_id,
        chat_id=draft.chat_id,
        card_message_id=card_id,
        lang=user.language_code if user else None,
        user_name=user.first_name if user else "",
        on_unconfirmed=unconfirmed,
    )
    if isinstance(outcome, Registered):
        # Journaled as delivered (and watched) only once Telegram confirmed the result;
        # otherwise the delivery job shows it later. The draft is done either way.
        assert outcome.attempt_id is not None
        deliver = delivery.result_delivery(context).deliver
        await deliver(outcome.attempt_id, card=card_id, again=True)
        await admin.registered(update, context, outcome.tracker_id, outcome.label, outcome.model)
        title = draft.model_title or outcome.model
        await crew.announce_registration(update, context, outcome.tracker_id, outcome.label, title)
        drop_draft(update, context)
        return END
    if isinstance(outcome, NoAnswer):
        if outcome.pending:
            text = texts.no_answer_pending(_)
        elif outcome.unconfirmed and outcome.checked:
            text = delivery.not_created(_) if outcome.settled else delivery.not_found_yet(_)
        elif outcome.checked:
            text = texts.no_answer(_)
        else:
            text = texts.no_answer_unchecked(_)
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(texts.button_retry(_), callback_data=cb(draft, "register"))],
                [
                    InlineKeyboardButton(texts.button_edit(_), callback_data=cb(draft, "edit")),
                    InlineKeyboardButton(texts.button_cancel(_), callback_data=cb(draft, "cancel")),
                ],
            ]
        )
        await edit(query, card + "\n\n" + text, keyboard)
        return Step.SUMMARY
    return await _rejected(update, context, draft, outcome, card)


async def _rejected(
    update: Update, context: Context, draft: Draft, outcome: Rejected, card: str
) -> State | None:
    _ = tr(update)
    error = outcome.error
    existing = outcome.existing
    message = texts.register_error(
        _,
        error,
        existing_label=existing.label if existing else None,
        existing_id=existing.id if existing else None,
    )
    query = update.callback_query
    assert query is not None
    svc = services(context)
    step: Step | None = None
    if error.code == 7:
        params = [e.parameter for e in error.errors]
        step = next((PARAMETER_STEPS[p] for p in params if p in PARAMETER_STEPS), None)
    elif error.code == 204:
        svc.catalog.forget_groups()
        step = Step.GROUP
    elif error.code == 220:
        step = Step.MODEL
    elif error.code == 223:
        step = Step.PHONE
    elif error.code == 227:
        step = Step.CODE
    elif error.code == 222:
        svc.catalog.forget_plugins()
        model = svc.catalog.model(draft.model_code or "")
        plugin = None
        with contextlib.suppress(NavixyError):
            plugin = choose_plugin(await svc.catalog.plugins(), model) if model else None
        if plugin is None:
            await edit(query, card + "\n\n" + texts.no_plugin(_, draft.model_title or ""))
            drop_draft(update, context)
            return END
        draft.plugin_id = plugin.id
        draft.code_required = requires_activation_code(plugin.id)
        save_draft(context, draft)
    if step is not None:
        await edit(query, card + "\n\n" + message)
        draft.forget(step)
        return await advance(update, context, draft)
    if error.code in (224, 258) and draft.asks_device_id:
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts.button_change_device_id(_),
                        callback_data=cb(draft, f"field:{Step.DEVICE_ID}"),
                    )
                ],
                [InlineKeyboardButton(texts.button_cancel(_), callback_data=cb(draft, "cancel"))],
            ]
        )
        await edit(query, card + "\n\n" + message, keyboard)
        return Step.SUMMARY
    await edit(query, card + "\n\n" + message, _card_keyboard(update, draft))
    return Step.SUMMARY


# --- the handler -----------------------------------------------------------------------------


class _ImeiText(filters.MessageFilter):
    """Text that is a valid IMEI (15 digits, Luhn; spaces, dashes, "IMEI:" allowed)."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        return check_device_id(parse_id_type("imei"), message.text or "").ok


IMEI_TEXT = _ImeiText()


Handler = BaseHandler[Update, Context, object]


def _button(
    action_regex: str, callback: Callable[[Update, Context], Coroutine[Any, Any, State | None]]
) -> Handler:
    return CallbackQueryHandler(callback, pattern=cb_pattern(action_regex))


def build_conversation() -> ConversationHandler[Context]:
    from bot.telegram.photos import on_candidate, on_device_photo, start_from_photo

    skip = "skip$"
    states: dict[object, list[Handler]] = {
        Step.MODEL: [
            MessageHandler(VIA_BOT, on_inline_pick),
            MessageHandler(TEXT, on_model_query),
            _button("model:", on_model_button),
            _button("mobile$", on_mobile_button),
        ],
        Step.DEVICE_ID: [
            MessageHandler(TEXT, on_device_id),
            MessageHandler(PHOTO, on_device_photo),
            _button("dev:[0-9A-Za-z-]+$", on_candidate),
        ],
        Step.PHONE: [MessageHandler(TEXT, on_phone), MessageHandler(CONTACT, on_phone)],
        Step.APN_CHOICE: [
            _button("apn:use$", on_apn_use),
            _button("apn:other$", on_apn_other),
            MessageHandler(TEXT, on_apn_name),
        ],
        Step.APN_NAME: [MessageHandler(TEXT, on_apn_name), _button(skip, on_apn_name)],
        Step.APN_USER: [MessageHandler(TEXT, on_apn_user), _button(skip, on_apn_user)],
        Step.APN_PASSWORD: [MessageHandler(TEXT, on_apn_password), _button(skip, on_apn_password)],
        Step.LABEL: [MessageHandler(TEXT, on_label)],
        Step.GROUP: [
            _button("group:-?[0-9]+$", on_group),
            MessageHandler(TEXT, on_text_at_buttons),
        ],
        Step.CODE: [MessageHandler(TEXT, on_code)],
        Step.NOTIFY_PHONE: [
            MessageHandler(TEXT, on_notify_phone),
            MessageHandler(CONTACT, on_notify_phone),
            _button(skip, on_notify_phone),
        ],
        Step.NOTIFY_EMAIL: [MessageHandler(TEXT, on_notify_email), _button(skip, on_notify_email)],
        Step.SUMMARY: [
            _button("register$", on_register),
            _button("edit$", on_edit),
            _button("field:[a-z_]+$", on_edit_field),
            MessageHandler(TEXT, on_text_at_buttons),
        ],
        EDIT: [
            _button("field:[a-z_]+$", on_edit_field),
            _button("back$", on_edit_back),
            MessageHandler(TEXT, on_text_at_buttons),
        ],
    }
    for state, handlers in states.items():
        # Last at every step: whatever the step's handlers did not take gets a short hint.
        handlers.append(MessageHandler(OTHER, _other_at(cast(Step | str, state))))
    return ConversationHandler(
        entry_points=[
            CommandHandler("register", start_registration),
            CallbackQueryHandler(start_registration, pattern=r"^start:register$"),
            MessageHandler(PHOTO, start_from_photo),
            MessageHandler(TEXT & IMEI_TEXT, start_from_imei),
            MessageHandler(VIA_BOT & ADDRESSED, start_from_inline_pick),
        ],
        states=states,
        fallbacks=[
            # Restarting from any step; entry points only apply when no registration is
            # open (so a photo mid-conversation is never taken for a new start).
            CommandHandler("register", start_registration),
            CallbackQueryHandler(start_registration, pattern=r"^start:register$"),
            MessageHandler(PHOTO, on_photo_elsewhere),
            CommandHandler("cancel", cancel),
            _button("cancel$", cancel),
            CallbackQueryHandler(stale_button),
            # Only reached in a state this version does not know (all known ones take OTHER).
            MessageHandler(OTHER, on_lost_state),
        ],
        allow_reentry=False,
        name=CONVERSATION_NAME,
        persistent=True,
    )
