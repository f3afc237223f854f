"""The fake Telegram Bot API server, driven by a real PTB Application over loopback HTTP."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from PIL import Image
from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from tests.fakes.telegram import BotMessage, FakeTelegram
from tests.helpers import FakeClock

# The loopback stand-in servers themselves, over real HTTP.
pytestmark = pytest.mark.e2e

Ctx = ContextTypes.DEFAULT_TYPE


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def build(tg: FakeTelegram) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(f"{tg.url}/bot")
        .base_file_url(f"{tg.url}/file/bot")
        .build()
    )


@asynccontextmanager
async def running(app: Application) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(timeout=1, poll_interval=0, allowed_updates=Update.ALL_TYPES)
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def echo_bot(tg: FakeTelegram, seen: list[Update] | None = None) -> Application:  # type: ignore[type-arg]
    """/start with an inline keyboard, a press edits the message, text is echoed."""
    app = build(tg)

    async def start(update: Update, context: Ctx) -> None:
        if seen is not None:
            seen.append(update)
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            f"Hello, <b>{update.effective_user.first_name}</b>! args={context.args}",  # type: ignore[union-attr]
            parse_mode="HTML",
            reply_markup=keyboard([("Yes", "answer:yes"), ("No", "answer:no")]),
        )

    async def pressed(update: Update, context: Ctx) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        await query.answer(f"got {query.data}")
        await query.edit_message_text(f"You chose {query.data.split(':')[1]}")

    async def echo(update: Update, context: Ctx) -> None:
        if seen is not None:
            seen.append(update)
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(f"echo: {update.message.text}")

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed, pattern="^answer:"))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, echo))
    return app


# ============================================================================ round trips


async def test_command_reply_and_button_round_trip(tg: FakeTelegram) -> None:
    ivan = tg.user(100, "Ivan")
    chat = tg.private_chat(ivan)
    async with running(echo_bot(tg)):
        sent = await tg.send_text(ivan, chat, "/start now")
        assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
        hello = await tg.wait_for_message(chat)
        assert hello.text == "Hello, Ivan! args=['now']"
        assert hello.entities == [{"type": "bold", "offset": 7, "length": 4}]
        assert hello.parse_mode == "HTML"
        assert hello.button_texts() == ["Yes", "No"]
        assert hello.buttons() == [[("Yes", "answer:yes"), ("No", "answer:no")]]
        assert hello.button_data("No") == "answer:no"
        assert hello.raw["from"]["username"] == "installer_test_bot"
        assert hello.raw["reply_markup"]["inline_keyboard"][0][0]["text"] == "Yes"

        with pytest.raises(AssertionError, match="no button with callback_data"):
            await tg.press(ivan, chat, hello.message_id, "answer:maybe")
        with pytest.raises(AssertionError, match="no button 'Maybe'"):
            await tg.press_button(ivan, chat, hello.message_id, "Maybe")

        query_id = await tg.press_button(ivan, chat, hello.message_id, "No")
        answer = await tg.wait_for_callback_answer(query_id)
        assert answer["text"] == "got answer:no" and answer["show_alert"] is False
        edited = await tg.wait_for_edit(chat, hello.message_id)
        assert edited.text == "You chose no"
        assert edited.edits == 1
        assert edited.buttons() == []  # editMessageText without reply_markup drops it
        with pytest.raises(AssertionError, match="no button"):
            await tg.press_button(ivan, chat, hello.message_id, "Yes")

        await tg.send_text(ivan, chat, "plain words")
        echoed = await tg.wait_for_message(chat)
        assert echoed.text == "echo: plain words"
        assert echoed.reply_to_message_id is None  # reply_text quotes only in groups
    assert tg.inputs[100] == 3
    assert tg.errors == []
    assert [m.message_id for m in tg.messages(chat)] == [2, 4]  # ids shared with user messages


async def test_wait_for_message_cursor_and_timeout_report(tg: FakeTelegram) -> None:
    app = build(tg)

    async def two(update: Update, context: Ctx) -> None:
        assert update.message is not None
        await update.message.reply_text("first")
        await update.message.reply_text("second")

    app.add_handler(CommandHandler("two", two))
    ivan = tg.user(100)
    chat = tg.private_chat(ivan)
    async with running(app):
        await tg.send_text(ivan, chat, "/two")
        assert (await tg.wait_for_message(chat)).text == "first"
        assert (await tg.wait_for_message(chat)).text == "second"  # the cursor moved on
        # the default cursor jumps to the latest action: old messages never match
        await tg.send_text(ivan, chat, "/two")
        second = await tg.wait_for_message(chat, lambda m: m.text == "second")
        assert second.message_id == 6
        # an explicit `after` looks back
        earlier = await tg.wait_for_message(chat, lambda m: m.text == "first", after=0)
        assert earlier.message_id == 2
        with pytest.raises(AssertionError) as info:
            await tg.wait_for_message(chat, timeout=0.2)
        report = str(info.value)
        assert "#5 [text] 'first'" in report and "#6 [text] 'second'" in report


# ============================================================================ strictness


async def test_text_rules(tg: FakeTelegram) -> None:
    ivan = tg.user(100)
    chat = tg.private_chat(ivan, started=True)
    async with running(build(tg)) as app:
        bot: Bot = app.bot
        cases: list[tuple[dict[str, Any], str]] = [
            ({"text": ""}, "Message text is empty"),
            ({"text": "  \n "}, "Message text is empty"),
            ({"text": "<b> </b>", "parse_mode": "HTML"}, "Message text is empty"),
            ({"text": "x" * 4097}, "Message is too long"),
            ({"text": "<b>x</b>" + "y" * 4096, "parse_mode": "HTML"}, "Message is too long"),
            (
                {"text": "<blink>x</blink>", "parse_mode": "HTML"},
                'Can\'t parse entities: unsupported start tag "blink" at byte offset 0',
            ),
            (
                {"text": "a <b>bold", "parse_mode": "HTML"},
                "Can't parse entities: can't find end tag corresponding to start tag \"b\"",
            ),
            (
                {"text": "1 < 2", "parse_mode": "HTML"},
                'Can\'t parse entities: unsupported start tag "" at byte offset 2',
            ),
            ({"text": "Tom & Jerry", "parse_mode": "HTML"}, "Can't parse entities: unsupported"),
            (
                {"text": "<b>x</i>", "parse_mode": "HTML"},
                "Can't parse entities: unmatched end tag at byte offset 4",
            ),
            (
                {"text": "x</b>", "parse_mode": "HTML"},
                "Can't parse entities: unexpected end tag at byte offset 1",
            ),
            (
                {"text": "Done.", "parse_mode": "MarkdownV2"},
                "Can't parse entities: character '.' is reserved",
            ),
            (
                {"text": "*bold", "parse_mode": "MarkdownV2"},
                "Can't parse entities: can't find end of bold entity at byte offset 0",
            ),
        ]
        for kwargs, expected in cases:
            with pytest.raises(BadRequest) as info:
                await bot.send_message(chat.id, **kwargs)
            assert expected.lower() in str(info.value).lower(), (kwargs, str(info.value))
        assert len(tg.errors) == len(cases)

        ok = await bot.send_message(
            chat.id,
            "1 &lt; 2 &amp;&amp; <i>x</i> &#33; <a href='https://x.io/?a=1&amp;b=2'>link</a>",
            parse_mode="HTML",
        )
        assert ok.text == "1 < 2 && x ! link"
        assert [e.type for e in ok.entities] == ["italic", "text_link"]
        assert ok.entities[1].url == "https://x.io/?a=1&b=2"
        md = await bot.send_message(chat.id, r"*Done* \- _fine_\.", parse_mode="MarkdownV2")
        assert md.text == "Done - fine."
        assert [(e.type, e.offset, e.length) for e in md.entities] == [
            ("bold", 0, 4),
            ("italic", 7, 4),
        ]
        longest = await bot.send_message(chat.id, "я" * 4096)
        assert longest.text is not None and len(longest.text) == 4096
        emoji = await bot.send_message(chat.id, "🚗 <b>car</b>", parse_mode="HTML")
        assert (emoji.entities[0].offset, emoji.entities[0].length) == (3, 3)  # UTF-16 units
        trimmed = await bot.send_message(chat.id, "\n  hi  \n")
        assert trimmed.text == "hi"


async def test_keyboard_rules(tg: FakeTelegram) -> None:
    ivan = tg.user(100)
    chat = tg.private_chat(ivan, started=True)
    group = tg.group_chat(-1001, members=[ivan])

    async def rejected(markup: Any, expected: str, chat_id: int = chat.id) -> None:
        with pytest.raises(BadRequest) as info:
            await bot.send_message(chat_id, "pick", reply_markup=markup)
        assert expected.lower() in str(info.value).lower(), str(info.value)

    async with running(build(tg)) as app:
        bot: Bot = app.bot
        ok_data = "d" * 64
        msg = await bot.send_message(chat.id, "ok", reply_markup=keyboard([("A", ok_data)]))
        assert msg.reply_markup is not None
        await rejected(keyboard([("A", "d" * 65)]), "Button_data_invalid")
        await rejected(keyboard([("A", "ж" * 33)]), "Button_data_invalid")  # 66 bytes
        await rejected(keyboard([("A", "")]), "Button_data_invalid")
        await rejected(keyboard([("", "x")]), "Button_text_invalid")
        await rejected(
            {"inline_keyboard": [[{"text": "A"}]]},
            "can't parse inline keyboard button: text buttons are unallowed",
        )
        await rejected(
            {"inline_keyboard": [[{"text": "A", "callback_data": "x", "url": "https://a.b"}]]},
            "exactly one of the optional fields",
        )
        await rejected({"inline_keyboard": [[{"text": "A", "url": "ftp:x"}]]}, "Button_url_invalid")
        await rejected(
            keyboard(*[[(f"b{i}", f"d{i}")] for i in range(101)]), "REPLY_MARKUP_TOO_LONG"
        )
        full = await bot.send_message(
            chat.id, "100", reply_markup=keyboard(*[[(f"b{i}", f"d{i}")] for i in range(100)])
        )
        assert full.message_id

        loc = ReplyKeyboardMarkup([[KeyboardButton("Share location", request_location=True)]])
        await rejected(loc, "location can be requested in a private chats only", group.id)
        await bot.send_message(chat.id, "where?", reply_markup=loc)
        await bot.send_message(group.id, "forced", reply_markup=ForceReply(selective=True))
        await bot.send_message(chat.id, "bye keyboard", reply_markup=ReplyKeyboardRemove())

    where = tg.messages(chat)[-2]
    assert where.keyboard() == [["Share location"]]
    assert "reply_markup" not in where.raw  # only inline keyboards come back in Message
    forced = tg.last_message(group)
    assert forced.force_reply and forced.selective
    assert tg.last_message(chat).reply_markup == {"remove_keyboard": True}


async def test_edit_delete_and_reply_rules(tg: FakeTelegram) -> None:
    ivan = tg.user(100)
    chat = tg.private_chat(ivan, started=True)
    async with running(build(tg)) as app:
        bot: Bot = app.bot
        kb = keyboard([("A", "a")])
        msg = await bot.send_message(chat.id, "<b>hi</b>", parse_mode="HTML", reply_markup=kb)

        with pytest.raises(BadRequest, match="Message is not modified: specified new message"):
            await bot.edit_message_text(
                "<b>hi</b>", chat.id, msg.message_id, parse_mode="HTML", reply_markup=kb
            )
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_reply_markup(chat.id, msg.message_id, reply_markup=kb)
        # different entities count as a change; so does dropping the keyboard
        await bot.edit_message_text("hi", chat.id, msg.message_id, reply_markup=kb)
        await bot.edit_message_text("hi", chat.id, msg.message_id)
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_reply_markup(chat.id, msg.message_id)
        with pytest.raises(BadRequest, match="Message_too_long"):
            await bot.edit_message_text("x" * 4097, chat.id, msg.message_id)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("new", chat.id, 999)
        with pytest.raises(BadRequest, match="Inline keyboard expected"):
            await bot.edit_message_text("new", chat.id, msg.message_id, reply_markup=ForceReply())  # type: ignore[arg-type]

        user_msg = await tg.send_text(ivan, chat, "mine")
        with pytest.raises(BadRequest, match="Message can't be edited"):
            await bot.edit_message_text("yours", chat.id, user_msg["message_id"])

        with pytest.raises(BadRequest, match="Message to be replied not found"):
            await bot.send_message(chat.id, "re", reply_to_message_id=999)
        loose = await bot.send_message(
            chat.id, "re", reply_parameters=ReplyParameters(999, allow_sending_without_reply=True)
        )
        assert loose.reply_to_message is None
        replied = await bot.send_message(chat.id, "re", reply_to_message_id=user_msg["message_id"])
        assert replied.reply_to_message is not None
        assert replied.reply_to_message.text == "mine"

        assert await bot.delete_message(chat.id, msg.message_id)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(chat.id, msg.message_id)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(chat.id, 999)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("gone", chat.id, msg.message_id)
        with pytest.raises(BadRequest, match="Message to be replied not found"):
            await bot.send_message(chat.id, "re", reply_to_message_id=msg.message_id)

        loc = await bot.send_location(chat.id, 52.52, 13.405)
        with pytest.raises(BadRequest, match="There is no text in the message to edit"):
            await bot.edit_message_text("text", chat.id, loc.message_id)

    first = tg.messages(chat)[0]
    assert first.deleted and first.edits == 2 and first.text == "hi" and first.entities == []
    assert tg.last_message(chat).kind == "location"
    assert tg.last_message(chat).location == (52.52, 13.405)


async def test_chat_access_rules(tg: FakeTelegram) -> None:
    ivan = tg.user(100)
    chat = tg.private_chat(ivan)
    tg.user(101, "Petr")
    async with running(echo_bot(tg)) as app:
        bot: Bot = app.bot
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(4242, "hi")
        for target in (100, 101):
            with pytest.raises(
                Forbidden, match="Forbidden: bot can't initiate conversation with a user"
            ):
                await bot.send_message(target, "hi")
        with pytest.raises(Forbidden):
            await bot.send_chat_action(100, "typing")
        await tg.send_text(ivan, chat, "/start")
        await tg.wait_for_message(chat)
        await bot.send_chat_action(100, "typing")
        with pytest.raises(BadRequest, match="Wrong parameter action"):
            await bot.send_chat_action(100, "dancing")
        assert tg.chat_actions == [(100, "typing")]
        tg.block_bot(ivan)
        with pytest.raises(Forbidden, match="Forbidden: bot was blocked by the user"):
            await bot.send_message(100, "hi")


async def test_callback_answer_too_old_and_twice() -> None:
    clock = FakeClock(1000.0)
    async with FakeTelegram(clock=clock) as tg:
        app = build(tg)
        release = asyncio.Event()
        outcomes: list[str] = []

        async def slow(update: Update, context: Ctx) -> None:
            assert update.callback_query is not None
            await asyncio.wait_for(release.wait(), 5)
            try:
                await update.callback_query.answer("late")
                outcomes.append("ok")
            except BadRequest as exc:
                outcomes.append(str(exc))
            try:
                await update.callback_query.answer("again")
                outcomes.append("ok")
            except BadRequest as exc:
                outcomes.append(str(exc))
            await update.callback_query.edit_message_text("handled")

        app.add_handler(CallbackQueryHandler(slow))
        ivan = tg.user(100)
        chat = tg.private_chat(ivan, started=True)
        async with running(app):
            msg = await app.bot.send_message(
                chat.id, "press", reply_markup=keyboard([("Go", "go")])
            )
            # pressed at t=1000, answered at t=1014: fine; the second answer is refused
            await tg.press(ivan, chat, msg.message_id, "go")
            clock.now += 14
            release.set()
            await tg.wait_for_edit(chat, msg.message_id)
            assert outcomes[0] == "ok"
            assert "Query is too old and response timeout expired" in outcomes[1]

            msg2 = await app.bot.send_message(
                chat.id, "again", reply_markup=keyboard([("Go", "go")])
            )
            release.clear()
            query_id = await tg.press(ivan, chat, msg2.message_id, "go")
            clock.now += 15.5
            release.set()
            await tg.wait_for_edit(chat, msg2.message_id)
            assert outcomes[2] == (
                "Query is too old and response timeout expired or query id is invalid"
            )
            with pytest.raises(AssertionError, match="rejected answers"):
                await tg.wait_for_callback_answer(query_id, timeout=0.1)
            with pytest.raises(BadRequest, match="Query is too old"):
                await app.bot.answer_callback_query("no-such-query")
        assert len(tg.errors) == 4


# ============================================================================ inline mode


async def test_inline_query_round_trip_and_rules(tg: FakeTelegram) -> None:
    app = build(tg)
    models = [f"Model {i}" for i in range(60)]
    picked: list[str] = []

    async def search(update: Update, context: Ctx) -> None:
        query = update.inline_query
        assert query is not None

        def page(n: int) -> list[InlineQueryResultArticle] | None:
            hits = [m for m in models if query.query.lower() in m.lower()]
            chunk = hits[n * 50 : (n + 1) * 50]
            return [
                InlineQueryResultArticle(
                    id=f"m{models.index(m)}",
                    title=m,
                    input_message_content=InputTextMessageContent(f"model:{models.index(m)}"),
                )
                for m in chunk
            ] or None

        await query.answer(page, current_offset=query.offset, is_personal=False, cache_time=0)

    async def pick(update: Update, context: Ctx) -> None:
        assert update.message is not None and update.message.text is not None
        picked.append(update.message.text)
        await update.message.reply_text(f"picked {update.message.text}")

    app.add_handler(InlineQueryHandler(search))
    app.add_handler(
        MessageHandler(filters.ViaBot(username=tg.bot_username) & filters.Regex("^model:"), pick)
    )
    ivan = tg.user(100)
    chat = tg.private_chat(ivan)
    async with running(app) as app:
        first = await tg.inline_query(ivan, "model")
        assert len(first) == 50 and first[0]["title"] == "Model 0"
        assert tg.last_inline_answer is not None
        assert tg.last_inline_answer["next_offset"] == "1"
        second = await tg.inline_query(ivan, "model", offset="1")
        assert [r["id"] for r in second] == [f"m{i}" for i in range(50, 60)]
        await tg.choose_inline_result(ivan, chat, "m57")
        assert (await tg.wait_for_message(chat)).text == "picked model:57"
        await tg.send_text(ivan, chat, "model:3", via_bot=True)
        assert (await tg.wait_for_message(chat)).text == "picked model:3"
        assert picked == ["model:57", "model:3"]

    # Rules, straight through PTB's Bot against live inline queries.
    app2 = build(tg)
    answered: list[str] = []

    async def bad_answers(update: Update, context: Ctx) -> None:
        query = update.inline_query
        assert query is not None

        def art(rid: str) -> InlineQueryResultArticle:
            return InlineQueryResultArticle(rid, "t", InputTextMessageContent("x"))

        attempts: list[tuple[list[InlineQueryResultArticle], str | None]] = [
            ([art(str(i)) for i in range(51)], None),
            ([art("same"), art("same")], None),
            ([art("x" * 65)], None),
            ([art("ok")], "o" * 65),
        ]
        for results, next_offset in attempts:
            try:
                await context.bot.answer_inline_query(query.id, results, next_offset=next_offset)
            except BadRequest as exc:
                answered.append(str(exc))
        await query.answer([art("fine")])

    app2.add_handler(InlineQueryHandler(bad_answers))
    async with running(app2):
        assert [r["id"] for r in await tg.inline_query(ivan, "x")] == ["fine"]
    assert answered == [
        "Results_too_much",
        "Result_id_duplicate",
        "Result_id_invalid",
        "Next_offset_invalid",
    ]


# ============================================================================ files


def _jpeg(size: tuple[int, int] = (1280, 960)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


async def test_photo_get_file_and_download(tg: FakeTelegram) -> None:
    app = build(tg)
    downloads: list[bytes] = []

    async def photo(update: Update, context: Ctx) -> None:
        assert update.message is not None
        sizes = update.message.photo
        file = await sizes[-1].get_file()
        data = bytes(await file.download_as_bytearray(read_timeout=10))
        downloads.append(data)
        await update.message.reply_text(f"got {len(data)} bytes, {sizes[-1].width}px")

    async def document(update: Update, context: Ctx) -> None:
        assert update.message is not None and update.message.document is not None
        file = await update.message.document.get_file()
        downloads.append(bytes(await file.download_as_bytearray()))
        await update.message.reply_document(
            io.BytesIO(b"report"), filename="report.txt", caption="<b>done</b>", parse_mode="HTML"
        )

    app.add_handler(MessageHandler(filters.PHOTO, photo))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    ivan = tg.user(100)
    chat = tg.private_chat(ivan)
    image = _jpeg()
    async with running(app):
        sent = await tg.send_photo(ivan, chat, image, caption="label")
        assert len(sent["photo"]) == 3
        assert [p["width"] for p in sent["photo"]] == [90, 320, 1280]
        reply = await tg.wait_for_message(chat)
        assert reply.text == f"got {len(image)} bytes, 1280px"
        assert downloads == [image]

        await tg.send_document(
            ivan, chat, b"%PDF-fake", file_name="label.pdf", mime_type="application/pdf"
        )
        doc = await tg.wait_for_message(chat)
        assert doc.kind == "document" and doc.caption == "done"
        assert downloads[1] == b"%PDF-fake"
        # the bot's own upload is downloadable too
        file = await app.bot.get_file(doc.raw["document"]["file_id"])
        assert bytes(await file.download_as_bytearray()) == b"report"
        with pytest.raises(BadRequest, match="Invalid file_id"):
            await app.bot.get_file("nope")
        async with httpx.AsyncClient() as client:
            missing = await client.get(f"{tg.url}/file/bot{tg.token}/photos/nope.jpg")
            assert missing.status_code == 404
            wrong = await client.get(f"{tg.url}/file/bot1:WRONG/{file.file_path}")
            assert wrong.status_code == 401
    upload = tg.calls("sendDocument")[0].params["document"]
    assert upload["file_name"] == "report.txt" and upload["size"] == 6
    assert tg.errors[-1].error == "Bad Request: invalid file_id"


# ============================================================================ groups


async def test_group_privacy_mode(tg: FakeTelegram) -> None:
    seen: list[Update] = []
    ivan, petr = tg.user(100, "Ivan"), tg.user(101, "Petr")
    group = tg.group_chat(-100500, members=[ivan, petr], admins={101}, owner_id=100)
    async with running(echo_bot(tg, seen)) as app:
        chatter = await tg.send_text(ivan, group, "hello everyone")
        other = await tg.send_text(ivan, group, "/start@other_bot")
        await tg.send_text(petr, group, "/start@Installer_Test_Bot")
        hello = await tg.wait_for_message(group)
        assert hello.text is not None and hello.text.startswith("Hello, Petr")
        assert hello.reply_to_message_id is not None  # reply_text quotes in groups
        await tg.send_text(ivan, group, "/start")
        await tg.wait_for_message(group, lambda m: "Ivan" in (m.text or ""))
        await tg.send_text(ivan, group, "answer", reply_to=hello.message_id)
        echoed = await tg.wait_for_message(group)
        assert echoed.text == "echo: answer"
        await tg.send_text(ivan, group, "model:1", via_bot=True)
        assert (await tg.wait_for_message(group)).text == "echo: model:1"
        await tg.send_text(ivan, group, "not to the bot", reply_to=chatter["message_id"])
        await tg.wait_idle()

        assert not tg.was_delivered(group, chatter["message_id"])
        assert not tg.was_delivered(group, other["message_id"])
        assert [m["text"] for m in tg.undelivered] == [
            "hello everyone",
            "/start@other_bot",
            "not to the bot",
        ]
        texts = [u.effective_message.text for u in seen]  # type: ignore[union-attr]
        assert texts == ["/start@Installer_Test_Bot", "/start", "answer", "model:1"]

        admins = await app.bot.get_chat_administrators(group.id)
        assert [(a.user.id, a.status) for a in admins] == [(100, "creator"), (101, "administrator")]
        member = await app.bot.get_chat_member(group.id, 101)
        assert member.status == "administrator"
        assert (await app.bot.get_chat_member(group.id, 100)).status == "creator"
        chat_info = await app.bot.get_chat(group.id)
        assert chat_info.title == "Install crew" and chat_info.type == "supergroup"
        with pytest.raises(BadRequest, match="Message can't be deleted"):
            await app.bot.delete_message(group.id, chatter["message_id"])
    assert tg.errors[-1].error == "Bad Request: message can't be deleted"


async def test_group_without_privacy_mode_gets_everything() -> None:
    async with FakeTelegram(privacy_mode=False) as tg:
        seen: list[Update] = []
        ivan = tg.user(100)
        group = tg.group_chat(-100, members=[ivan])
        async with running(echo_bot(tg, seen)) as app:
            assert (await app.bot.get_me()).can_read_all_group_messages
            await tg.send_text(ivan, group, "hello everyone")
            assert (await tg.wait_for_message(group)).text == "echo: hello everyone"
        assert tg.undelivered == []


# ============================================================================ updates


async def test_updates_are_never_delivered_twice(tg: FakeTelegram) -> None:
    seen: list[Update] = []
    ivan = tg.user(100)
    chat = tg.private_chat(ivan)
    async with running(echo_bot(tg, seen)):
        for i in range(25):
            await tg.send_text(ivan, chat, f"m{i}")
        await tg.wait_for_message(chat, lambda m: m.text == "echo: m24")
        await tg.wait_idle()
    assert [u.message.text for u in seen] == [f"m{i}" for i in range(25)]  # type: ignore[union-attr]
    assert Counter(u.update_id for u in seen).most_common(1)[0][1] == 1
    assert set(tg.delivery_counts.values()) == {1}

    # a restarted bot gets only what it has not confirmed
    await tg.send_text(ivan, chat, "while down")
    seen.clear()
    async with running(echo_bot(tg, seen)):
        await tg.wait_for_message(chat, lambda m: m.text == "echo: while down")
        await tg.wait_idle()
    assert [u.message.text for u in seen] == ["while down"]  # type: ignore[union-attr]
    assert set(tg.delivery_counts.values()) == {1}
    assert tg.errors == []


async def test_get_updates_wire_behaviour(tg: FakeTelegram) -> None:
    base = f"{tg.url}/bot{tg.token}"
    ivan = tg.user(100)
    chat = tg.private_chat(ivan)
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=10) as client:
        started = loop.time()
        empty = (await client.post(f"{base}/getUpdates", data={"timeout": "0"})).json()
        assert empty == {"ok": True, "result": []}
        assert loop.time() - started < 0.5

        # a long poll wakes up when an update arrives
        poll = asyncio.create_task(client.post(f"{base}/getUpdates", data={"timeout": "5"}))
        await tg.wait_until(lambda: tg.polls_waiting == 1, timeout=2, what="a waiting poll")
        await tg.send_text(ivan, chat, "wake up")
        response = (await asyncio.wait_for(poll, 2)).json()
        [update] = response["result"]
        assert update["message"]["text"] == "wake up"

        # a client that disconnects mid-poll loses nothing: the update stays unconfirmed
        polls = len(tg.calls("getUpdates"))
        gone = asyncio.create_task(client.post(f"{base}/getUpdates", data={"timeout": "5"}))
        await tg.wait_until(
            lambda: len(tg.calls("getUpdates")) > polls or tg.polls_waiting == 1,
            timeout=2,
            what="the poll reached the server",
        )
        gone.cancel()
        again = (await client.post(f"{base}/getUpdates", data={"timeout": "0"})).json()
        assert [u["update_id"] for u in again["result"]] == [update["update_id"]]
        offset = update["update_id"] + 1
        confirmed = (
            await client.post(f"{base}/getUpdates", json={"offset": offset, "timeout": 0})
        ).json()
        assert confirmed["result"] == []

        # allowed_updates drops other kinds
        await tg.send_text(ivan, chat, "text")
        only_cb = await client.post(
            f"{base}/getUpdates",
            data={"offset": str(offset), "timeout": "0", "allowed_updates": '["callback_query"]'},
        )
        assert only_cb.json()["result"] == []

        unknown = await client.post(f"{base}/fooBar")
        assert unknown.status_code == 400 and unknown.json()["ok"] is False
        wrong = await client.post(f"{tg.url}/bot1:WRONG/getMe")
        assert wrong.status_code == 401
    await tg.wait_idle(timeout=1)


async def test_a_second_poller_gets_conflict(tg: FakeTelegram) -> None:
    async with running(build(tg)):
        await tg.wait_until(lambda: tg.polls_waiting == 1)
        async with httpx.AsyncClient(timeout=5) as client:
            rogue = await client.post(f"{tg.url}/bot{tg.token}/getUpdates", data={"timeout": "0"})
            assert rogue.json() == {"ok": True, "result": []}
        conflict = await tg.wait_until(lambda: [e for e in tg.errors if e.error_code == 409])
        assert conflict[0].error == (
            "Conflict: terminated by other getUpdates request; make sure that only one bot "
            "instance is running"
        )


async def test_token_unknown_method_and_extras(tg: FakeTelegram) -> None:
    bad_app = ApplicationBuilder().token("1:WRONG").base_url(f"{tg.url}/bot").build()
    with pytest.raises(InvalidToken):
        await bad_app.initialize()
    async with running(build(tg)) as app:
        bot: Bot = app.bot
        with pytest.raises(BadRequest, match="not found"):
            await bot.do_api_request("sendHologram", api_kwargs={"chat_id": 1})
        me = await bot.get_me()
        assert me.username == tg.bot_username and me.supports_inline_queries
        assert me.can_join_groups
        await bot.set_my_commands([("register", "Register a tracker"), ("cancel", "Cancel")])
        await bot.set_my_commands([("start", "Start")], language_code="de")
        assert tg.my_commands() == ["register", "cancel"]
        assert [c.command for c in await bot.get_my_commands(language_code="de")] == ["start"]
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([("Register!", "x")])
        assert await bot.delete_my_commands()
        assert tg.my_commands() == []
        assert await bot.set_chat_menu_button()
        assert await bot.set_my_description("d")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_flood_control() -> None:
    clock = FakeClock(1000.0)
    async with FakeTelegram(clock=clock, flood_limit=3) as tg:
        ivan = tg.user(100)
        chat = tg.private_chat(ivan, started=True)
        async with running(build(tg)) as app:
            for i in range(3):
                await app.bot.send_message(chat.id, f"m{i}")
            clock.now += 20
            with pytest.raises(RetryAfter) as info:
                await app.bot.send_message(chat.id, "m3")
            assert "retry in 40 seconds" in str(info.value).lower()
            clock.now += 40
            await app.bot.send_message(chat.id, "m4")
        assert tg.errors[0].error == "Too Many Requests: retry after 40"


def _texts(messages: list[BotMessage]) -> list[str | None]:
    return [m.text for m in messages]


async def test_messages_state_view(tg: FakeTelegram) -> None:
    ivan = tg.user(100)
    chat = tg.private_chat(ivan, started=True)
    async with running(build(tg)) as app:
        a = await app.bot.send_message(chat.id, "a", reply_markup=keyboard([("X", "x")]))
        await app.bot.send_message(chat.id, "b")
        await app.bot.edit_message_text("a2", chat.id, a.message_id)
        await app.bot.delete_message(chat.id, a.message_id + 1)
        shared = await tg.share_location(ivan, chat, 1.5, 2.5, reply_to=a.message_id)
        assert shared["reply_to_message"]["text"] == "a2"
    msgs = tg.messages(chat)
    assert _texts(msgs) == ["a2", "b"]
    assert [(m.edits, m.deleted) for m in msgs] == [(1, False), (0, True)]
    assert tg.calls("editMessageText")[0].params["message_id"] == a.message_id
