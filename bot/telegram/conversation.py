"""The registration conversation: the answers to each step, and the ConversationHandler.

A handler asks a service and renders; a service decides; the domain knows. Answers are
checked by the domain's rules, stored in the draft, and `advance()` (questions.py) asks
the next question, which always comes from `Draft.next_step()`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine
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
from bot.domain.device_id import IMEI_RULE, check_device_id, parse_id_type
from bot.domain.draft import Draft, Step
from bot.domain.phone import PhoneCheck, check_phone
from bot.domain.plugins import choose_plugin, requires_activation_code
from bot.navixy.errors import NavixyError
from bot.services.catalog import CatalogUnavailable
from bot.services.registrar import NoAnswer, Registered, Rejected
from bot.telegram import admin, crew, delivery, texts
from bot.telegram.callback import DraftButton, StartButton
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
    chosen_button,
    commit_state,
    drop_draft,
    edit,
    forget_secret_message,
    in_group,
    load_draft,
    save_draft,
    say,
    services,
    tapped_choice,
    tr,
)
from bot.telegram.photos import on_candidate, on_device_photo, start_from_photo
from bot.telegram.questions import (
    ASK,
    CONVERSATION_NAME,
    END,
    State,
    advance,
    ask_notify_phone,
    card_keyboard,
    message_text,
    needs_draft,
    offer_register,
)

log = logging.getLogger(__name__)

EDIT = "edit"  # state: picking the field to change on the summary card
MAX_MATCHES = 8
INLINE_PICK = re.compile(r"\[([A-Za-z0-9_.\-]{1,64})\]\s*$")
#: Seconds Register waits for Navixy before the card says "Registering…" (a quick answer
#: edits the card once, into the result: one Bot API call).
PROGRESS_AFTER = 1.0
#: States answered with buttons: anything typed or sent there gets "use the buttons".
BUTTON_STEPS = frozenset({Step.GROUP, Step.SUMMARY})


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
    if draft is not None and await services(context).registration.outcome_unconfirmed(draft.id):
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


async def start_from_imei(update: Update, context: Context) -> State:
    """An IMEI typed while no registration is open starts one with it."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    check = check_device_id(IMEI_RULE, message_text(update))
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


# --- answers ---------------------------------------------------------------------------------


@needs_draft
async def on_model_query(update: Update, context: Context, draft: Draft) -> State | None:
    _ = tr(update)
    query = message_text(update).strip()
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
                        texts.button_mobile_app(_), callback_data=DraftButton.data(draft, "mobile")
                    )
                ],
            ]
        )
        await say(update, context, texts.no_model_match(_, query), keyboard)
        if in_group(update):
            await say(update, context, "✏️", expects_text=True, placeholder="FMB140")
        return None
    buttons = [(h.model.title, DraftButton(draft.id, f"model:{h.model.code}")) for h in hits]
    rows = [
        [InlineKeyboardButton(title, callback_data=data.pack())]
        for title, data in buttons
        if data.fits()
    ]
    rows.append(search_row)
    await say(update, context, texts.pick_model(_, query), InlineKeyboardMarkup(rows))
    return None


@needs_draft
async def on_model_button(update: Update, context: Context, draft: Draft) -> State | None:
    query = update.callback_query
    assert query is not None
    action = DraftButton.action_of(query.data)
    code = action.removeprefix("model:")
    return await _pick_model(update, context, draft, code)


@needs_draft
async def on_mobile_button(update: Update, context: Context, draft: Draft) -> State | None:
    assert update.callback_query is not None
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
    # A tap: the list turns into the model chosen and the next question (one edit).
    tapped = texts.model_chosen(_, model.title) if update.callback_query is not None else None
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
    note = None
    if draft.device_id is not None and not check_device_id(rule, draft.device_id).ok:
        # An ID given before the model was known (a label photo, an IMEI typed to start)
        # may not fit this model: say so before the ID question rather than drop it silently.
        note = texts.device_id_not_for_model(_, draft.device_id, model.title)
        draft.device_id = None
    return await advance(update, context, draft, note, tapped=tapped)


@needs_draft
async def on_device_id(update: Update, context: Context, draft: Draft) -> State | None:
    raw = message_text(update)
    rule = draft.id_rule
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
        return check_phone(message_text(update))
    raw = contact.phone_number.strip()
    if not raw.startswith("+"):
        international = check_phone("+" + raw)
        if international.ok:
            return international
    return check_phone(raw)


@needs_draft
async def on_phone(update: Update, context: Context, draft: Draft) -> State | None:
    check = _phone_check(update)
    if check.value is None:
        assert check.problem is not None
        await say(update, context, texts.bad_phone(tr(update), check.problem), expects_text=True)
        return None
    if draft.phone != check.value:
        draft.clear_apn()  # another SIM: look its APN up again
    draft.phone = check.value
    return await advance(update, context, draft)


@needs_draft
async def on_apn_use(update: Update, context: Context, draft: Draft) -> State | None:
    assert update.callback_query is not None
    tapped = tapped_choice(update.callback_query)
    if not draft.use_apn_offer():
        draft.clear_apn(manual=True)
    return await advance(update, context, draft, tapped=tapped)


@needs_draft
async def on_apn_other(update: Update, context: Context, draft: Draft) -> State | None:
    assert update.callback_query is not None
    tapped = tapped_choice(update.callback_query)
    draft.clear_apn(manual=True)
    return await advance(update, context, draft, tapped=tapped)


SKIP_TEXT = "-"
SKIPPABLE = frozenset(
    {Step.APN_NAME, Step.APN_USER, Step.APN_PASSWORD, Step.NOTIFY_PHONE, Step.NOTIFY_EMAIL}
)


def _typed_skip(update: Update, step: Step) -> bool:
    """A lone "-" skips an optional answer (the way to skip in groups, and it works anywhere)."""
    return step in SKIPPABLE and message_text(update).strip() == SKIP_TEXT


async def _on_field(
    update: Update,
    context: Context,
    draft: Draft,
    step: Step,
    check: Callable[[str], fields.FieldCheck],
    attr: str,
    *,
    secret: bool = False,
) -> State | None:
    tapped = None
    if update.callback_query is not None or _typed_skip(update, step):  # Skip
        if update.callback_query is not None:
            tapped = tapped_choice(update.callback_query)
        value: str | None = ""
    else:
        if secret:
            # Deleted where the bot may; where it may not, the installer is told so.
            may = await can_delete_messages(update, context)
            if not (may and await forget_secret_message(update)):
                await say(update, context, texts.secret_not_deleted(tr(update)))
        result = check(message_text(update))
        if result.problem is not None:
            note = texts.bad_field(tr(update), result.problem, step)
            return await ASK[step](update, context, draft, note)
        value = result.value
    if step is Step.APN_NAME:
        draft.apn_manual = True
    setattr(draft, attr, value)
    return await advance(update, context, draft, tapped=tapped)


@needs_draft
async def on_apn_name(update: Update, context: Context, draft: Draft) -> State | None:
    return await _on_field(update, context, draft, Step.APN_NAME, fields.check_apn_name, "apn_name")


@needs_draft
async def on_apn_user(update: Update, context: Context, draft: Draft) -> State | None:
    return await _on_field(update, context, draft, Step.APN_USER, fields.check_apn_user, "apn_user")


@needs_draft
async def on_apn_password(update: Update, context: Context, draft: Draft) -> State | None:
    return await _on_field(
        update,
        context,
        draft,
        Step.APN_PASSWORD,
        fields.check_apn_password,
        "apn_password",
        secret=True,
    )


@needs_draft
async def on_label(update: Update, context: Context, draft: Draft) -> State | None:
    return await _on_field(update, context, draft, Step.LABEL, fields.check_label, "label")


@needs_draft
async def on_code(update: Update, context: Context, draft: Draft) -> State | None:
    return await _on_field(
        update,
        context,
        draft,
        Step.CODE,
        fields.check_activation_code,
        "activation_code",
        secret=True,
    )


@needs_draft
async def on_notify_email(update: Update, context: Context, draft: Draft) -> State | None:
    return await _on_field(
        update, context, draft, Step.NOTIFY_EMAIL, fields.check_email, "notification_email"
    )


@needs_draft
async def on_notify_phone(update: Update, context: Context, draft: Draft) -> State | None:
    if update.callback_query is not None or _typed_skip(update, Step.NOTIFY_PHONE):
        query = update.callback_query
        tapped = tapped_choice(query) if query is not None else None
        draft.notification_phone = ""
        return await advance(update, context, draft, tapped=tapped)
    check = _phone_check(update)
    if check.value is None:
        assert check.problem is not None
        note = texts.bad_phone(tr(update), check.problem)
        return await ask_notify_phone(update, context, draft, note)
    draft.notification_phone = check.value
    return await advance(update, context, draft)


@needs_draft
async def on_group(update: Update, context: Context, draft: Draft) -> State | None:
    query = update.callback_query
    assert query is not None
    action = DraftButton.action_of(query.data)
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
    tapped = tapped_choice(query)
    draft.group_id, draft.group_title = group_id, title
    return await advance(update, context, draft, tapped=tapped)


async def on_photo_elsewhere(update: Update, context: Context) -> State | None:
    await say(update, context, texts.photo_not_now(tr(update)))
    return None


async def on_text_at_buttons(update: Update, context: Context) -> State | None:
    await say(update, context, texts.use_buttons(tr(update)))
    return None


# --- the summary card ------------------------------------------------------------------------


@needs_draft
async def on_edit(update: Update, context: Context, draft: Draft) -> State | None:
    _ = tr(update)
    rows = [
        [
            InlineKeyboardButton(
                texts.field_name(_, step), callback_data=DraftButton.data(draft, f"field:{step}")
            )
        ]
        for step in draft.editable_steps()
    ]
    rows.append(
        [InlineKeyboardButton(texts.button_back(_), callback_data=DraftButton.data(draft, "back"))]
    )
    assert update.callback_query is not None
    await commit_state(update, context, CONVERSATION_NAME, EDIT)
    await edit(
        update.callback_query,
        texts.summary(_, draft) + "\n\n" + texts.pick_field(_),
        InlineKeyboardMarkup(rows),
    )
    return EDIT


@needs_draft
async def on_edit_back(update: Update, context: Context, draft: Draft) -> State | None:
    assert update.callback_query is not None
    await commit_state(update, context, CONVERSATION_NAME, Step.SUMMARY)
    await edit(
        update.callback_query, texts.summary(tr(update), draft), card_keyboard(update, draft)
    )
    return Step.SUMMARY


@needs_draft
async def on_edit_field(update: Update, context: Context, draft: Draft) -> State | None:
    query = update.callback_query
    assert query is not None
    action = DraftButton.action_of(query.data)
    try:
        step = Step(action.removeprefix("field:"))
    except ValueError:
        return None
    if step not in draft.editable_steps():
        return None  # not a button the bot made (the data is the client's to send)
    # The card (as it was, without buttons) and the field's question, in one edit.
    tapped = texts.summary(tr(update), draft)
    draft.forget(step)
    return await advance(update, context, draft, tapped=tapped)


@needs_draft
async def on_register(update: Update, context: Context, draft: Draft) -> State | None:
    query = update.callback_query
    assert query is not None
    _ = tr(update)
    if draft.next_step() is not Step.SUMMARY:
        return await advance(update, context, draft)
    if not await admin.within_limit(update, context):  # at most N an hour per installer
        return Step.SUMMARY
    card = texts.summary(_, draft)
    svc = services(context)
    user = update.effective_user
    card_id = query.message.message_id if query.message is not None else None

    checking = False

    async def unconfirmed() -> None:
        nonlocal checking
        checking = True
        await edit(query, card + "\n\n" + texts.registration_checking(_))

    registering = asyncio.ensure_future(
        svc.registrar.register(
            draft.id,
            draft.to_request(),
            user_id=draft.user_id,
            chat_id=draft.chat_id,
            card_message_id=card_id,
            lang=user.language_code if user else None,
            user_name=user.first_name if user else "",
            on_unconfirmed=unconfirmed,
        )
    )
    try:
        # Navixy usually answers at once: the card is then edited once, into the result.
        outcome = await asyncio.wait_for(asyncio.shield(registering), PROGRESS_AFTER)
    except TimeoutError:
        if not checking:  # "checking" says more than "Registering…"
            await edit(query, card + "\n\n" + texts.registering(_))
        outcome = await registering
    except asyncio.CancelledError:
        registering.cancel()  # as if awaited directly (shutting down)
        raise
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
            text = (
                texts.registration_not_created(_)
                if outcome.settled
                else texts.registration_not_found_yet(_)
            )
        elif outcome.checked:
            text = texts.no_answer(_)
        else:
            text = texts.no_answer_unchecked(_)
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts.button_retry(_), callback_data=DraftButton.data(draft, "register")
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
    recovery = await services(context).registration.recover(draft, error)
    if recovery.stop:
        await edit(query, card + "\n\n" + texts.no_plugin(_, draft.model_title or ""))
        drop_draft(update, context)
        return END
    if recovery.ask_again is not None:
        await edit(query, card + "\n\n" + message)
        return await advance(update, context, draft)
    save_draft(context, draft)
    if recovery.change_device_id:
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts.button_change_device_id(_),
                        callback_data=DraftButton.data(draft, f"field:{Step.DEVICE_ID}"),
                    )
                ],
                [
                    InlineKeyboardButton(
                        texts.button_cancel(_), callback_data=DraftButton.data(draft, "cancel")
                    )
                ],
            ]
        )
        await edit(query, card + "\n\n" + message, keyboard)
        return Step.SUMMARY
    await edit(query, card + "\n\n" + message, card_keyboard(update, draft))
    return Step.SUMMARY


# --- the handler -----------------------------------------------------------------------------


class _ImeiText(filters.MessageFilter):
    """Text that is a valid IMEI (15 digits, Luhn; spaces, dashes, "IMEI:" allowed)."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        return check_device_id(IMEI_RULE, message.text or "").ok


IMEI_TEXT = _ImeiText()


Handler = BaseHandler[Update, Context, object]


def _button(
    action_regex: str, callback: Callable[[Update, Context], Coroutine[Any, Any, State | None]]
) -> Handler:
    return CallbackQueryHandler(callback, pattern=DraftButton.pattern(action=action_regex))


def build_conversation() -> ConversationHandler[Context]:
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
            CallbackQueryHandler(start_registration, pattern=StartButton.pattern()),
            MessageHandler(PHOTO, start_from_photo),
            MessageHandler(TEXT & IMEI_TEXT, start_from_imei),
            MessageHandler(VIA_BOT & ADDRESSED, start_from_inline_pick),
        ],
        states=states,
        fallbacks=[
            # Restarting from any step; entry points only apply when no registration is
            # open (so a photo mid-conversation is never taken for a new start).
            CommandHandler("register", start_registration),
            CallbackQueryHandler(start_registration, pattern=StartButton.pattern()),
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
