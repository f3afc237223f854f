"""Device ID from a photo of the label: at the device-ID step, or to start a registration.

Decoding runs in the photo reader's worker threads (bot.photo), so one heavy
photo never stalls other installers. An ID read from a photo always needs one
confirming tap: the installer compares it with the label.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, FileSizeLimit
from telegram.error import TelegramError

from bot.domain.device_id import IdRule, check_device_id, parse_id_type
from bot.domain.draft import Draft, Step
from bot.ops.health import observe_photo
from bot.photo import PhotoProblem, PhotoReading, read_device_ids_async
from bot.telegram import texts
from bot.telegram.common import (
    Context,
    cb,
    cb_parts,
    close_keyboard,
    commit_state,
    load_draft,
    save_draft,
    say,
    tr,
)
from bot.telegram.conversation import (
    CONVERSATION_NAME,
    State,
    advance,
    ask_device_id,
    current_draft,
)

log = logging.getLogger(__name__)

MAX_CANDIDATES = 4
DOWNLOAD_TIMEOUT = 30.0


async def on_device_photo(update: Update, context: Context) -> State | None:
    """A photo (or image file) at the device-ID step."""
    draft = load_draft(update, context)
    if draft is None:
        return None
    rule = parse_id_type(draft.id_type or "imei")
    return await _read_and_offer(update, context, draft, rule)


async def start_from_photo(update: Update, context: Context) -> State | None:
    """A photo sent while no registration is open starts one with the ID read from it."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    draft = Draft.start(chat.id, user.id)
    save_draft(context, draft)
    # The model is not known yet: a photo first means an IMEI (the usual case).
    return await _read_and_offer(update, context, draft, parse_id_type("imei"))


async def on_candidate(update: Update, context: Context) -> State | None:
    """'Use <id>' or 'Type it instead' under a photo reading."""
    query = update.callback_query
    assert query is not None
    draft = await current_draft(update, context)  # answers the press; stale cards politely
    if draft is None:
        return None
    value = cb_parts(query)[1].removeprefix("dev:")
    _ = tr(update)
    await close_keyboard(query)
    if value == "type":
        return await ask_device_id(update, context, draft, None)
    rule = parse_id_type(draft.id_type or "imei")
    check = check_device_id(rule, value)
    if check.value is None:
        return await ask_device_id(update, context, draft, None)
    draft.device_id = check.value
    return await advance(update, context, draft)


async def _read_and_offer(
    update: Update, context: Context, draft: Draft, rule: IdRule
) -> State | None:
    _ = tr(update)
    message = update.effective_message
    assert message is not None
    reading = await _read(context, message, rule)
    if isinstance(reading, PhotoProblem):
        return await _not_found(update, context, draft, texts.photo_problem(_, reading))
    if reading.candidates:
        candidates = reading.candidates[:MAX_CANDIDATES]
        rows = [
            [InlineKeyboardButton(texts.button_use_id(_, c), callback_data=cb(draft, f"dev:{c}"))]
            for c in candidates
        ]
        rows.append(
            [
                InlineKeyboardButton(
                    texts.button_type_instead(_), callback_data=cb(draft, "dev:type")
                )
            ]
        )
        save_draft(context, draft)
        await commit_state(update, context, CONVERSATION_NAME, Step.DEVICE_ID)
        if len(candidates) == 1:
            text = texts.photo_found_one(_, candidates[0], from_ocr=reading.from_ocr)
        else:
            text = texts.photo_found_many(_)
        await say(update, context, text, InlineKeyboardMarkup(rows))
        return Step.DEVICE_ID
    if reading.seen:
        note = texts.photo_seen(_, [c.kind for c in reading.seen])
    else:
        note = texts.photo_problem(_, reading.problem or PhotoProblem.NO_BARCODE)
    return await _not_found(update, context, draft, note)


async def _not_found(update: Update, context: Context, draft: Draft, note: str) -> State:
    _ = tr(update)
    note = f"{note}\n{texts.photo_tips(_)}"
    if draft.model_code is None:
        # Photo first and nothing usable: carry on with the model, the ID comes later.
        return await advance(update, context, draft, note)
    return await ask_device_id(update, context, draft, note)


async def _read(context: Context, message: Message, rule: IdRule) -> PhotoReading | PhotoProblem:
    if message.photo:
        file_id, size = message.photo[-1].file_id, message.photo[-1].file_size
    elif message.document is not None:
        file_id, size = message.document.file_id, message.document.file_size
    else:
        return PhotoProblem.NOT_AN_IMAGE
    if size is not None and size > FileSizeLimit.FILESIZE_DOWNLOAD:
        return PhotoProblem.TOO_LARGE_FILE
    try:
        await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
        file = await context.bot.get_file(file_id)
        if file.file_size is not None and file.file_size > FileSizeLimit.FILESIZE_DOWNLOAD:
            return PhotoProblem.TOO_LARGE_FILE
        data = bytes(await file.download_as_bytearray(read_timeout=DOWNLOAD_TIMEOUT))
    except TelegramError as exc:
        log.info("photo download failed: %s", exc)
        return PhotoProblem.CORRUPT
    reading = await read_device_ids_async(data, rule)
    observe_photo(context.bot_data, reading.elapsed_ms / 1000)
    log.info(
        "photo read: %d candidates, %d codes seen, problem %s, %.0f ms",
        len(reading.candidates),
        len(reading.seen),
        reading.problem,
        reading.elapsed_ms,
    )
    return reading
