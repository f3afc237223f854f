"""Device ID from a photo of the label: at the device-ID step, or to start a registration.

Decoding runs in the photo reader's worker threads (bot.photo), one photo at a time per
installer, so one heavy photo (or a burst of them) never stalls other installers. An ID read
from a photo always needs one confirming tap: the installer compares it with the label.

When the barcodes give no ID and `tesseract` is installed, the printed digits of the label area
are read (bot.photo.ocr, bounded). The answer waits for that at most `OCR_WAIT_S`; a number
found later comes as a follow-up message with the same buttons, if the installer is still at
the device-ID step of the same registration.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, FileSizeLimit
from telegram.error import TelegramError

from bot.domain.device_id import IMEI_RULE, IdRule, check_device_id
from bot.domain.draft import Draft, Step
from bot.ops.health import observe_photo

# The imaging stack (bot.photo.reader, bot.photo.ocr: OpenCV, numpy, zxing-cpp) is imported
# when the first photo arrives, not at start-up.
from bot.photo.kinds import PhotoProblem, PhotoReading, SeenCode
from bot.telegram import texts
from bot.telegram.callback import DraftButton
from bot.telegram.common import (
    Context,
    commit_state,
    load_draft,
    save_draft,
    say,
    tapped_choice,
    tr,
)
from bot.telegram.context import BotContext
from bot.telegram.questions import (
    CONVERSATION_NAME,
    State,
    advance,
    ask_device_id,
    needs_draft,
)

log = logging.getLogger(__name__)

MAX_CANDIDATES = 4
DOWNLOAD_TIMEOUT = 30.0
OCR_WAIT_S = 0.3  # the answer never waits longer than this for the printed digits


@needs_draft
async def on_device_photo(update: Update, context: Context, draft: Draft) -> State | None:
    """A photo (or image file) at the device-ID step."""
    rule = draft.id_rule
    return await _read_and_offer(update, context, draft, rule)


async def start_from_photo(update: Update, context: Context) -> State | None:
    """A photo sent while no registration is open starts one with the ID read from it."""
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    draft = Draft.start(chat.id, user.id)
    save_draft(context, draft)
    # The model is not known yet: a photo first means an IMEI (the usual case).
    return await _read_and_offer(update, context, draft, IMEI_RULE)


@needs_draft
async def on_candidate(update: Update, context: Context, draft: Draft) -> State | None:
    """'Use <id>' or 'Type it instead' under a photo reading."""
    query = update.callback_query
    assert query is not None
    value = DraftButton.action_of(query.data).removeprefix("dev:")
    tapped = tapped_choice(query)  # kept above the next question, in one edit
    if value == "type":
        return await ask_device_id(update, context, draft, None, tapped=tapped)
    rule = draft.id_rule
    check = check_device_id(rule, value)
    if check.value is None:
        return await ask_device_id(update, context, draft, None, tapped=tapped)
    draft.device_id = check.value
    return await advance(update, context, draft, tapped=tapped)


async def _read_and_offer(
    update: Update, context: Context, draft: Draft, rule: IdRule
) -> State | None:
    _ = tr(update)
    message = update.effective_message
    assert message is not None
    reading = await _read(update, context, message, rule)
    if isinstance(reading, PhotoProblem):
        return await _not_found(update, context, draft, reading, [])
    if reading.candidates:
        return await _offer(update, context, draft, reading.candidates, from_ocr=False)
    printed = _read_printed(reading, rule)
    if printed is not None:
        done, _pending = await asyncio.wait({printed}, timeout=OCR_WAIT_S)
        if done and printed.result():
            return await _offer(update, context, draft, printed.result(), from_ocr=True)
    state = await _not_found(
        update, context, draft, reading.problem or PhotoProblem.NO_BARCODE, reading.seen
    )
    if printed is not None and not printed.done():
        if draft.model_code is not None:  # at the device-ID step: a late find is still useful
            context.application.create_task(
                _follow_up(update, context, draft.id, printed), update=update
            )
        else:
            printed.cancel()
    return state


def _read_printed(reading: PhotoReading, rule: IdRule) -> asyncio.Task[list[str]] | None:
    from bot.photo.ocr import read_printed_ids, tesseract_path

    if reading.label_crop is None or tesseract_path() is None:
        return None
    return asyncio.create_task(read_printed_ids(reading.label_crop, rule))


async def _follow_up(
    update: Update, context: Context, draft_id: str, printed: asyncio.Task[list[str]]
) -> None:
    """A number OCR found after the answer: offered if the same draft still waits for it."""
    found = await printed
    draft = load_draft(update, context)
    if not found or draft is None or draft.id != draft_id or draft.device_id is not None:
        return
    await _offer(update, context, draft, found, from_ocr=True)


async def _offer(
    update: Update, context: Context, draft: Draft, found: list[str], *, from_ocr: bool
) -> State:
    _ = tr(update)
    candidates = found[:MAX_CANDIDATES]
    rows = [
        [
            InlineKeyboardButton(
                texts.button_use_id(_, c), callback_data=DraftButton.data(draft, f"dev:{c}")
            )
        ]
        for c in candidates
    ]
    rows.append(
        [
            InlineKeyboardButton(
                texts.button_type_instead(_), callback_data=DraftButton.data(draft, "dev:type")
            )
        ]
    )
    if len(candidates) == 1:
        text = texts.photo_found_one(_, candidates[0], from_ocr=from_ocr)
    else:
        text = texts.photo_found_many(_)
    # The step is saved before the question goes out (a crash in between re-asks it).
    save_draft(context, draft)
    await commit_state(update, context, CONVERSATION_NAME, Step.DEVICE_ID)
    await say(update, context, text, InlineKeyboardMarkup(rows))
    return Step.DEVICE_ID


async def _not_found(
    update: Update,
    context: Context,
    draft: Draft,
    problem: PhotoProblem,
    seen: Sequence[SeenCode],
) -> State:
    note = texts.photo_failure(tr(update), problem, [c.kind for c in seen])
    if draft.model_code is None:
        # Photo first and nothing usable: carry on with the model, the ID comes later.
        return await advance(update, context, draft, note)
    return await ask_device_id(update, context, draft, note)


async def _read(
    update: Update, context: Context, message: Message, rule: IdRule
) -> PhotoReading | PhotoProblem:
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
    user = update.effective_user
    from bot.photo.reader import read_device_ids_async

    reading = await read_device_ids_async(data, rule, user.id if user is not None else None)
    observe_photo(BotContext.of(context).vitals_or_none, reading.elapsed_ms / 1000)
    log.info(
        "photo read: %d candidates, %d codes seen, problem %s, %.0f ms",
        len(reading.candidates),
        len(reading.seen),
        reading.problem,
        reading.elapsed_ms,
    )
    return reading
