"""FakeTelegram: a strict stand-in for the Telegram Bot API on 127.0.0.1 (aiohttp).

The real bot long-polls it exactly as in production (PTB with
``.base_url(f"{url}/bot").base_file_url(f"{url}/file/bot")``); tests drive simulated
users through it and assert what they saw. It answers like Telegram, including its
rejections (`tests/fakes/tg_rules.py`), so a bot that passes here does not trip over
"message is not modified", 64-byte callback data, unescaped HTML, stale callback queries,
replies to vanished messages or privacy-mode groups in production.

Everything runs on the test's event loop; waits are event-driven (no sleep-polling) and
bounded. See the class docstring of `FakeTelegram` for the test-side API.
"""

# The test API takes `timeout=` arguments by design (bounded waits with a clear report).

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import itertools
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from aiohttp.web_request import FileField

from tests.fakes.tg_rules import (
    CANT_INITIATE,
    MAX_CALLBACK_ANSWER_TEXT,
    MAX_CAPTION,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    ApiError,
    bad,
    check_text,
    inline_buttons,
    markup_kind,
    parse_formatted,
    utf16_len,
    validate_inline_answer,
    validate_reply_markup,
)

__all__ = ["ApiCall", "ApiError", "BotMessage", "FakeChat", "FakeTelegram", "FakeUser"]

log = logging.getLogger(__name__)
T = TypeVar("T")

CALLBACK_ANSWER_WINDOW = 15.0  # seconds; Telegram's is undocumented (about 10-15 s)
INLINE_ANSWER_WINDOW = 15.0
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "purchased_paid_media",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument", "sendlocation"})
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")

# How form-encoded values are decoded (PTB sends strings raw and everything else as JSON).
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "results",
        "commands",
        "scope",
        "allowed_updates",
        "button",
        "menu_button",
        "rights",
        "media",
        "message_ids",
    }
)
_INT_PARAMS = frozenset(
    {
        "message_id",
        "reply_to_message_id",
        "from_chat_id",
        "user_id",
        "offset",
        "limit",
        "cache_time",
        "message_thread_id",
        "live_period",
        "heading",
        "proximity_alert_radius",
    }
)
_FLOAT_PARAMS = frozenset({"latitude", "longitude", "horizontal_accuracy", "timeout"})
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "show_alert",
        "is_personal",
        "drop_pending_updates",
        "disable_web_page_preview",
        "has_spoiler",
        "disable_content_type_detection",
        "return_bots",
        "show_caption_above_media",
        "allow_paid_broadcast",
        "for_channels",
    }
)


# ============================================================================ public records


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str = "Ivan"
    language_code: str | None = "en"
    username: str | None = None
    last_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass(eq=False)
class FakeChat:
    """A chat the bot is in. Private: `id == user.id`; groups: negative id, "supergroup".

    Mutable knobs: `admins` (user ids), `owner_id`, `bot_is_admin` (an admin bot may delete
    others' messages), `started` (private: the user pressed Start / wrote to the bot),
    `blocked` (private: the user blocked the bot), `bot_member` (groups: False after a kick).
    """

    id: int
    type: str
    title: str | None = None
    user: FakeUser | None = None
    username: str | None = None
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)
    owner_id: int | None = None
    bot_is_admin: bool = False
    started: bool = False
    blocked: bool = False
    bot_member: bool = True

    @property
    def private(self) -> bool:
        return self.type == "private"

    def to_dict(self) -> dict[str, Any]:
        if self.private:
            assert self.user is not None
            data: dict[str, Any] = {
                "id": self.id,
                "type": "private",
                "first_name": self.user.first_name,
            }
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
            return data
        data = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            data["username"] = self.username
        return data


@dataclass(frozen=True)
class ApiCall:
    """One Bot API call: `params` decoded (JSON fields parsed, ints/bools converted, uploads
    as {"file_name", "mime_type", "size"})."""

    method: str
    params: dict[str, Any]
    ok: bool
    error: str | None = None
    error_code: int | None = None
    result: Any = None
    #: How the parameters came: "json", "form", "multipart" or "" (none).
    body: str = ""
    #: When the fake answered it (`time.perf_counter()`; for getUpdates: when it returned).
    at: float = field(default_factory=time.perf_counter)


@dataclass
class BotMessage:
    """A snapshot of one message the bot sent, in its CURRENT state (edits applied).

    `reply_markup` is the markup currently attached as the bot sent it (any kind: inline,
    reply keyboard, ForceReply, remove); an edit replaces it (editMessageText without
    reply_markup drops the inline keyboard, as Telegram does). `force_reply`/`selective` keep
    what the message was SENT with. `raw` is the Message object Telegram would return now.
    """

    message_id: int
    chat_id: int
    text: str | None
    reply_markup: dict[str, Any] | None
    force_reply: bool
    selective: bool
    reply_to_message_id: int | None
    deleted: bool
    edits: int
    kind: str
    location: tuple[float, float] | None
    raw: dict[str, Any]
    caption: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    parse_mode: str | None = None

    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard rows as (text, callback_data or None)."""
        return [
            [(b["text"], b.get("callback_data")) for b in row]
            for row in inline_buttons(self.reply_markup)
        ]

    def button_texts(self) -> list[str]:
        return [text for row in self.buttons() for text, _ in row]

    def button_data(self, text: str) -> str:
        for row in self.buttons():
            for btext, data in row:
                if btext == text and data is not None:
                    return data
        raise AssertionError(
            f"message {self.message_id} has no callback button {text!r}; "
            f"buttons: {self.buttons()!r}"
        )

    def keyboard(self) -> list[list[str]]:
        """Reply keyboard (ReplyKeyboardMarkup) rows as button texts."""
        if not self.reply_markup or "keyboard" not in self.reply_markup:
            return []
        return [
            [b if isinstance(b, str) else b["text"] for b in row]
            for row in self.reply_markup["keyboard"]
        ]

    def describe(self) -> str:
        body = self.text if self.text is not None else (self.caption or "")
        extra = ""
        if self.buttons():
            extra += f" buttons={self.button_texts()!r}"
        if self.force_reply:
            extra += " force_reply"
        if self.location:
            extra += f" location={self.location}"
        flags = " DELETED" if self.deleted else ""
        flags += f" edits={self.edits}" if self.edits else ""
        return f"#{self.message_id} [{self.kind}{flags}] {body[:300]!r}{extra}"


# ============================================================================ internals


@dataclass
class _Msg:
    message_id: int
    chat_id: int
    data: dict[str, Any]
    from_bot: bool
    kind: str
    user_id: int | None = None
    markup: dict[str, Any] | None = None
    force_reply: bool = False
    selective: bool = False
    parse_mode: str | None = None
    deleted: bool = False
    edits: int = 0
    delivered: bool = True


@dataclass
class _ChatState:
    chat: FakeChat
    msgs: dict[int, _Msg] = field(default_factory=dict)
    next_id: int = 1
    # wait_for_message / wait_for_edit cursors (see FakeTelegram.wait_for_message)
    action_mark: int = 0
    action_edits: dict[int, int] = field(default_factory=dict)
    returned_mark: int = 0
    returned_edits: dict[int, int] = field(default_factory=dict)
    sent_times: list[float] = field(default_factory=list)

    def last_bot_id(self) -> int:
        ids = [m.message_id for m in self.msgs.values() if m.from_bot]
        return max(ids, default=0)


@dataclass
class _Query:
    query_id: str
    kind: str  # "callback" | "inline"
    user_id: int
    created: float
    answer: dict[str, Any] | None = None


@dataclass
class _File:
    file_id: str
    unique_id: str
    data: bytes
    path: str


class _Signal:
    """notify() wakes every waiter; waiters re-check their predicate (no polling)."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float) -> T | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            try:
                await asyncio.wait({fut}, timeout=remaining)
            finally:
                if not fut.done():
                    fut.cancel()


class _Params:
    """Bot API parameters from a query string, form, multipart or JSON body."""

    def __init__(self, raw: Mapping[str, Any], body: str = "") -> None:
        self.raw = dict(raw)
        self.body = body

    def has(self, name: str) -> bool:
        return name in self.raw and self.raw[name] is not None

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, FileField):
            raise bad(f"wrong parameter {name} in request")
        return value if isinstance(value, str) else json.dumps(value)

    def req_string(self, name: str, missing: str | None = None) -> str:
        value = self.string(name)
        if value is None:
            raise bad(missing or f"parameter {name} is required")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise bad(f"wrong parameter {name} in request")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise bad(f"wrong parameter {name} in request") from None

    def req_integer(self, name: str, missing: str | None = None) -> int:
        value = self.integer(name)
        if value is None:
            raise bad(missing or f"{name} is empty")
        return value

    def number(self, name: str, default: float | None = None) -> float | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad(f"wrong parameter {name} in request") from None

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def obj(self, name: str) -> Any:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad(f"can't parse {name} JSON object") from None
        return value

    def upload(self, name: str) -> FileField | str | None:
        value = self.raw.get(name)
        if value is None or isinstance(value, FileField | str):
            return value
        return str(value)

    def decoded(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.raw.items():
            if isinstance(value, FileField):
                out[key] = {
                    "file_name": value.filename,
                    "mime_type": value.content_type,
                    "size": len(_read_field(value)),
                }
                continue
            if isinstance(value, str):
                try:
                    if key in _JSON_PARAMS:
                        value = json.loads(value)
                    elif key in _INT_PARAMS or (key == "chat_id" and re.fullmatch(r"-?\d+", value)):
                        value = int(value)
                    elif key in _FLOAT_PARAMS:
                        value = float(value)
                    elif key in _BOOL_PARAMS:
                        value = value.lower() in ("true", "1")
                except ValueError:
                    pass
            out[key] = value
        return out


def _read_field(value: FileField) -> bytes:
    value.file.seek(0)
    data = value.file.read()
    value.file.seek(0)
    return data if isinstance(data, bytes) else bytes(data)


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return None


def _thumbnail(data: bytes, box: int) -> tuple[bytes, int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as original:
            img = original.convert("RGB")
        img.thumbnail((box, box))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=70)
        return out.getvalue(), img.size[0], img.size[1]
    except Exception:
        return None


Handler = Callable[[_Params], Awaitable[Any]]


# ============================================================================ the fake


class FakeTelegram:
    """Strict fake Bot API server plus the simulated users' side.

    Server: ``{url}/bot{token}/{method}`` (POST/GET; form, multipart or JSON) and file
    downloads at ``GET {url}/file/bot{token}/{file_path}``. Unknown methods answer 400, a
    wrong token 401 (PTB: InvalidToken).

    Users act with send_text / edit_text / press / press_button / inline_query /
    choose_inline_result / send_photo / send_document / share_location; each enqueues a real
    Update for getUpdates. What users see: messages / last_message / wait_for_message /
    wait_for_edit / wait_for_callback_answer. Bookkeeping: requests, calls(), errors,
    inputs, undelivered, updates, delivery_counts.

    Group privacy mode (default on, `privacy_mode=False` turns it off): a group message
    reaches the bot only if it is a command (unaddressed or ``/cmd@<this bot>``), a reply
    to one of the bot's messages, or sent via the bot. Others are recorded in
    `undelivered` and never appear in getUpdates. Private chats get everything.

    Flood control (`flood_limit=N`, off by default): the (N+1)-th send* call within 60
    clock-seconds to one chat gets 429 with parameters.retry_after.
    """

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "installer_test_bot",
        clock: Callable[[], float] = time.monotonic,
        privacy_mode: bool = True,
        flood_limit: int | None = None,
        strict_html_ampersand: bool = True,
        callback_answer_window: float = CALLBACK_ANSWER_WINDOW,
        inline_mode: bool = True,
    ) -> None:
        self.inline_mode = inline_mode
        # Webhook mode (setWebhook): updates are POSTed to the URL instead of getUpdates.
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_posts: list[tuple[int, int]] = []  # (update_id, HTTP status)
        self._pusher: asyncio.Task[None] | None = None
        # getUpdates faults: each entry answers one call instead of the real thing.
        self.get_updates_faults: list[tuple[int, str]] = []
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0])
        self.clock = clock
        self.privacy_mode = privacy_mode
        self.flood_limit = flood_limit
        self.strict_html_ampersand = strict_html_ampersand
        self.callback_answer_window = callback_answer_window

        self.requests: list[ApiCall] = []
        self.errors: list[ApiCall] = []
        self.inputs: Counter[int] = Counter()
        self.undelivered: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []  # every update ever enqueued
        self.delivery_counts: Counter[int] = Counter()  # update_id -> times returned
        self.chat_actions: list[tuple[int, str]] = []
        self.inline_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.menu_buttons: dict[int | None, Any] = {}

        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, _ChatState] = {}
        self._queries: dict[str, _Query] = {}
        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._pending: list[dict[str, Any]] = []  # enqueued, not yet confirmed
        self._next_update_id = 100_001
        self._confirmed_offset = 0
        self._allowed: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._poll_generation = 0
        self._inflight = 0
        self._polls_waiting = 0
        self._activity = 0  # non-getUpdates calls started
        self._ids = itertools.count(1)
        self._signal = _Signal()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "logout": self._true,
            "close": self._true,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates_unused,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
            "setmydescription": self._true,
            "setmyshortdescription": self._true,
            "setmyname": self._true,
            "setmydefaultadministratorrights": self._true,
            "getmydescription": self._const({"description": ""}),
            "getmyshortdescription": self._const({"short_description": ""}),
            "getmyname": self._const({"name": "Installer Test Bot"}),
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "answerinlinequery": self._answer_inline_query,
            "sendlocation": self._send_location,
            "sendchataction": self._send_chat_action,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "getfile": self._get_file,
            "getchat": self._get_chat,
            "getchatadministrators": self._get_chat_administrators,
            "getchatmember": self._get_chat_member,
            "getchatmembercount": self._get_chat_member_count,
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._url

    @property
    def api_url(self) -> str:
        """What TELEGRAM_API_URL is set to: the bot calls {api_url}/bot{token}/{method}."""
        return self.url

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Installer Test Bot",
            "username": self.bot_username,
        }

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError("FakeTelegram is already started")
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method:[^/]*}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # handler_cancellation: a long poll whose client went away ends at once.
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._url = f"http://{bound_host}:{bound_port}"
        return self._url

    async def stop(self) -> None:
        pusher, self._pusher = self._pusher, None
        if pusher is not None:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
        runner, self._runner = self._runner, None
        self._poll_generation += 1
        self._signal.notify()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ world setup

    def user(
        self,
        user_id: int,
        first_name: str = "Ivan",
        *,
        language_code: str | None = "en",
        username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        if user_id <= 0:
            raise ValueError("user ids are positive")
        if user_id == self.bot_id:
            raise ValueError("that id is the bot's")
        user = FakeUser(user_id, first_name, language_code, username, last_name)
        self._users[user_id] = user
        return user

    def private_chat(self, user: FakeUser, *, started: bool = False) -> FakeChat:
        """The user's private chat with the bot (chat.id == user.id). The bot may write
        there only once the user has `started` it; any user action in it starts it."""
        state = self._chats.get(user.id)
        if state is None:
            self._users.setdefault(user.id, user)
            chat = FakeChat(id=user.id, type="private", user=user, members={user.id})
            state = self._chats[user.id] = _ChatState(chat)
        state.chat.started = state.chat.started or started
        return state.chat

    def group_chat(
        self,
        chat_id: int,
        title: str = "Install crew",
        *,
        members: Iterable[FakeUser] = (),
        admins: Iterable[int] = (),
        owner_id: int | None = None,
        username: str | None = None,
    ) -> FakeChat:
        """A supergroup with the bot in it (chat_id must be negative)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        if chat_id in self._chats:
            raise ValueError(f"chat {chat_id} exists")
        chat = FakeChat(
            id=chat_id,
            type="supergroup",
            title=title,
            username=username,
            admins=set(admins),
            owner_id=owner_id,
        )
        for member in members:
            self._users.setdefault(member.id, member)
            chat.members.add(member.id)
        self._chats[chat_id] = _ChatState(chat)
        return chat

    def block_bot(self, user: FakeUser) -> None:
        """The user blocks the bot: sends to their private chat get 403."""
        self.private_chat(user).blocked = True

    def kick_bot(self, chat: FakeChat) -> None:
        chat.bot_member = False

    def delete_for_everyone(self, chat: FakeChat, message_id: int) -> None:
        """The user deletes a message of a private chat for both sides (the bot's too)."""
        msg = self._state(chat).msgs.get(message_id)
        if msg is None or msg.deleted:
            raise AssertionError(f"no message {message_id} in chat {chat.id} to delete")
        msg.deleted = True
        self._signal.notify()

    # ------------------------------------------------------------------ user actions

    async def send_text(
        self,
        user: FakeUser,
        chat: FakeChat,
        text: str,
        *,
        reply_to: int | None = None,
        via_bot: bool = False,
    ) -> dict[str, Any]:
        """The user sends `text` (commands get bot_command entities). `via_bot=True`: the
        message was sent through this bot's inline mode (an inline result pick)."""
        if not text:
            raise ValueError("a user cannot send an empty message")
        content: dict[str, Any] = {"text": text}
        entities = _command_entities(text)
        if entities:
            content["entities"] = entities
        if via_bot:
            content["via_bot"] = self.bot_user
        return self._user_message(user, chat, content, kind="text", reply_to=reply_to)

    def reply_box(self, user: FakeUser, chat: FakeChat) -> int | None:
        """The bot message `user`'s client has a reply box open for, as a real Telegram
        client decides it: the newest live bot message with a ForceReply that targets the
        user and came after the user's own last message in the chat (sending closes the
        box). A non-selective ForceReply targets every member; a selective one only users
        mentioned in it (a `mention` of their @username or a `text_mention`) and the sender
        of the message it replies to. None: the client shows no reply box."""
        state = self._state(chat)
        own = [m.message_id for m in state.msgs.values() if not m.from_bot and m.user_id == user.id]
        since = max(own, default=0)
        for msg in reversed(list(state.msgs.values())):
            if msg.message_id <= since:
                return None
            live = msg.from_bot and not msg.deleted and msg.force_reply
            if live and (not msg.selective or self._targets(msg, user)):
                return msg.message_id
        return None

    def _targets(self, msg: _Msg, user: FakeUser) -> bool:
        data = msg.data
        reply = data.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == user.id:
            return True
        text = data.get("text") or data.get("caption") or ""
        for entity in data.get("entities") or data.get("caption_entities") or []:
            if entity.get("type") == "text_mention" and entity["user"]["id"] == user.id:
                return True
            if entity.get("type") == "mention" and user.username:
                start, length = entity["offset"], entity["length"]
                said = text.encode("utf-16-le")[2 * start : 2 * (start + length)]
                if said.decode("utf-16-le").lower() == "@" + user.username.lower():
                    return True
        return False

    async def type_text(self, user: FakeUser, chat: FakeChat, text: str) -> dict[str, Any]:
        """The user types `text` and sends it as a real client would: as a reply to the
        message their reply box is open for (`reply_box`), else as an ordinary message
        (which a privacy-mode bot in a group never receives)."""
        return await self.send_text(user, chat, text, reply_to=self.reply_box(user, chat))

    async def edit_text(
        self, user: FakeUser, chat: FakeChat, message_id: int, text: str
    ) -> dict[str, Any]:
        """The user edits their own text message: an edited_message update."""
        state = self._state(chat)
        msg = state.msgs.get(message_id)
        if msg is None or msg.deleted or msg.from_bot or msg.user_id != user.id:
            raise AssertionError(f"{user.id} has no message {message_id} in chat {chat.id}")
        if msg.kind != "text":
            raise AssertionError(f"message {message_id} is a {msg.kind}, not text")
        msg.data["text"] = text
        entities = _command_entities(text)
        if entities:
            msg.data["entities"] = entities
        else:
            msg.data.pop("entities", None)
        msg.data["edit_date"] = int(time.time())
        msg.edits += 1
        self._mark_action(state, user)
        deliver = self._deliverable(chat, msg.data)
        if deliver:
            self._enqueue({"edited_message": copy.deepcopy(msg.data)})
        else:
            self.undelivered.append(copy.deepcopy(msg.data))
        return copy.deepcopy(msg.data)

    async def press(
        self, user: FakeUser, chat: FakeChat, message_id: int, data: str, *, forged: bool = False
    ) -> str:
        """The user presses the inline button carrying `data` on a bot message; returns the
        callback query id. AssertionError if the message has no such button, unless `forged`
        (a modified client can send any callback data for any bot message)."""
        msg = self._visible_bot_message(chat, message_id)
        available = [b.get("callback_data") for row in inline_buttons(msg.markup) for b in row]
        if data not in available and not forged:
            raise AssertionError(
                f"message {message_id} in chat {chat.id} has no button with callback_data "
                f"{data!r}; it has {self._snapshot(msg).buttons()!r}"
            )
        return self._callback(user, chat, msg, data)

    async def press_button(self, user: FakeUser, chat: FakeChat, message_id: int, text: str) -> str:
        """Press the inline button whose visible text is exactly `text`."""
        msg = self._visible_bot_message(chat, message_id)
        for row in inline_buttons(msg.markup):
            for button in row:
                if button["text"] != text:
                    continue
                if "callback_data" not in button:
                    raise AssertionError(
                        f"button {text!r} is not a callback button ({button!r}); pressing it "
                        "sends no update (use inline_query() for switch_inline_query buttons)"
                    )
                return self._callback(user, chat, msg, button["callback_data"])
        raise AssertionError(
            f"message {message_id} in chat {chat.id} has no button {text!r}; "
            f"buttons: {self._snapshot(msg).button_texts()!r}"
        )

    async def inline_query(
        self,
        user: FakeUser,
        query: str,
        *,
        chat_type: str = "private",
        offset: str = "",
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """The user types ``@bot query``; waits for answerInlineQuery and returns its
        results (the full answer is in `inline_answers[query_id]`, `last_inline_answer`)."""
        query_id = f"iq{next(self._ids)}"
        self._queries[query_id] = _Query(query_id, "inline", user.id, self.clock())
        self._users.setdefault(user.id, user)
        self._enqueue(
            {
                "inline_query": {
                    "id": query_id,
                    "from": user.to_dict(),
                    "query": query,
                    "offset": offset,
                    "chat_type": chat_type,
                }
            }
        )
        answer = await self._signal.wait_for(lambda: self.inline_answers.get(query_id), timeout)
        if answer is None:
            failed = [c for c in self.errors if c.params.get("inline_query_id") == query_id]
            raise AssertionError(
                f"inline query {query!r} ({query_id}) was not answered within {timeout}s; "
                f"failed answers: {[c.error for c in failed]!r}"
            )
        return list(answer["results"])

    @property
    def last_inline_answer(self) -> dict[str, Any] | None:
        if not self.inline_answers:
            return None
        return list(self.inline_answers.values())[-1]

    async def choose_inline_result(
        self,
        user: FakeUser,
        chat: FakeChat,
        result_id: str,
        *,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """The user picks result `result_id` from the latest inline answer they got: its
        input_message_content is sent to `chat` via the bot (as Telegram does)."""
        for query_id, answer in reversed(self.inline_answers.items()):
            if self._queries[query_id].user_id != user.id:
                continue
            for result in answer["results"]:
                if result.get("id") == result_id:
                    content = result.get("input_message_content") or {}
                    if "message_text" not in content:
                        raise AssertionError(f"result {result_id!r} has no message_text")
                    text, entities = parse_formatted(
                        content["message_text"], content.get("parse_mode"), content.get("entities")
                    )
                    data: dict[str, Any] = {"text": text, "via_bot": self.bot_user}
                    if entities:
                        data["entities"] = entities
                    return self._user_message(user, chat, data, kind="text", reply_to=reply_to)
            ids = [r.get("id") for r in answer["results"]]
            raise AssertionError(f"no result {result_id!r} in the latest answer; ids: {ids!r}")
        raise AssertionError(f"user {user.id} got no inline answer to pick from")

    async def send_photo(
        self,
        user: FakeUser,
        chat: FakeChat,
        image: bytes,
        *,
        reply_to: int | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """A compressed photo: several PhotoSize entries, the original bytes as the last
        (largest) one; smaller ones are real thumbnails (or placeholder bytes)."""
        sizes: list[dict[str, Any]] = []
        for box in (90, 320):
            thumb = _thumbnail(image, box)
            data, width, height = thumb if thumb else (b"thumb-%d" % box, box, box)
            sizes.append(self._photo_size(data, width, height))
        width, height = _image_size(image) or (1280, 960)
        sizes.append(self._photo_size(image, width, height))
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
            entities = _command_entities(caption)
            if entities:
                content["caption_entities"] = entities
        return self._user_message(user, chat, content, kind="photo", reply_to=reply_to)

    async def send_document(
        self,
        user: FakeUser,
        chat: FakeChat,
        data: bytes,
        *,
        file_name: str,
        mime_type: str,
        reply_to: int | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        stored = self._store_file(data, "documents", file_name.rsplit(".", 1)[-1])
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return self._user_message(user, chat, content, kind="document", reply_to=reply_to)

    async def share_location(
        self,
        user: FakeUser,
        chat: FakeChat,
        lat: float,
        lng: float,
        *,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        content = {"location": {"latitude": lat, "longitude": lng}}
        return self._user_message(user, chat, content, kind="location", reply_to=reply_to)

    # ------------------------------------------------------------------ what users see

    def messages(self, chat: FakeChat) -> list[BotMessage]:
        """Every message the bot sent to the chat, in order, in its current state."""
        state = self._state(chat)
        return [self._snapshot(m) for m in state.msgs.values() if m.from_bot]

    def last_message(self, chat: FakeChat) -> BotMessage:
        msgs = self.messages(chat)
        if not msgs:
            raise AssertionError(f"the bot sent nothing to chat {chat.id}")
        return msgs[-1]

    def user_messages(self, chat: FakeChat) -> list[dict[str, Any]]:
        """The users' messages in the chat (current state), delivered to the bot or not."""
        state = self._state(chat)
        return [copy.deepcopy(m.data) for m in state.msgs.values() if not m.from_bot]

    def file_bytes(self, file_id: str) -> bytes:
        """The content of a file the bot uploaded (or a user sent), by its file_id."""
        stored = self._files.get(file_id)
        if stored is None:
            raise AssertionError(f"no file {file_id!r}")
        return stored.data

    def was_delivered(self, chat: FakeChat, message_id: int) -> bool:
        msg = self._state(chat).msgs.get(message_id)
        if msg is None or msg.from_bot:
            raise AssertionError(f"no user message {message_id} in chat {chat.id}")
        return msg.delivered

    async def wait_for_message(
        self,
        chat: FakeChat,
        predicate: Callable[[BotMessage], bool] | None = None,
        *,
        timeout: float = 5.0,
        after: int | None = None,
    ) -> BotMessage:
        """The first bot message in `chat` with message_id > `after` matching `predicate`
        (judged on its current state, deleted ones included).

        `after=None` uses the chat's cursor: the larger of (a) the bot's newest message id
        in the chat at the moment of the latest simulated user action in that chat, and
        (b) the id last returned by wait_for_message for that chat. So "act, then wait"
        never misses a fast reply, and consecutive waits walk through consecutive messages.
        On timeout: AssertionError listing what the chat got (and the rejected API calls).
        """
        state = self._state(chat)
        floor = max(state.action_mark, state.returned_mark) if after is None else after

        def find() -> BotMessage | None:
            for msg in state.msgs.values():
                if msg.from_bot and msg.message_id > floor:
                    snap = self._snapshot(msg)
                    if predicate is None or predicate(snap):
                        return snap
            return None

        found = await self._signal.wait_for(find, timeout)
        if found is None:
            raise AssertionError(
                f"no new bot message (id > {floor}) matching in chat {chat.id} within "
                f"{timeout}s.\n{self._chat_report(state)}"
            )
        state.returned_mark = max(state.returned_mark, found.message_id)
        return found

    async def wait_for_edit(
        self,
        chat: FakeChat,
        message_id: int,
        predicate: Callable[[BotMessage], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> BotMessage:
        """Wait until bot message `message_id` has been edited since the cursor and its
        current state matches `predicate`. Cursor: the larger of its edit count at the
        latest user action in the chat and the edit count last returned for it."""
        state = self._state(chat)
        if message_id not in state.msgs or not state.msgs[message_id].from_bot:
            raise AssertionError(f"the bot has no message {message_id} in chat {chat.id}")
        floor = max(state.action_edits.get(message_id, 0), state.returned_edits.get(message_id, 0))

        def find() -> BotMessage | None:
            msg = state.msgs[message_id]
            if msg.edits > floor:
                snap = self._snapshot(msg)
                if predicate is None or predicate(snap):
                    return snap
            return None

        found = await self._signal.wait_for(find, timeout)
        if found is None:
            raise AssertionError(
                f"message {message_id} in chat {chat.id} got no matching edit within "
                f"{timeout}s (edits so far: {state.msgs[message_id].edits}, cursor {floor}).\n"
                f"{self._chat_report(state)}"
            )
        state.returned_edits[message_id] = found.edits
        return found

    async def wait_for_callback_answer(
        self, query_id: str, *, timeout: float = 5.0
    ) -> dict[str, Any]:
        """The accepted answerCallbackQuery parameters (text, show_alert, url, cache_time)."""
        query = self._queries.get(query_id)
        if query is None or query.kind != "callback":
            raise AssertionError(f"unknown callback query {query_id!r}")
        answer = await self._signal.wait_for(lambda: query.answer, timeout)
        if answer is None:
            failed = [c.error for c in self.errors if c.params.get("callback_query_id") == query_id]
            raise AssertionError(
                f"callback query {query_id} was not answered within {timeout}s; "
                f"rejected answers: {failed!r}"
            )
        return answer

    async def wait_idle(self, *, timeout: float = 5.0, quiet: float = 0.05) -> None:
        """Every enqueued update was fetched and confirmed (a later getUpdates offset is past
        it) and no other Bot API call is in flight, continuously for `quiet` seconds.

        Confirmation happens before PTB runs the handlers, so the quiet period is what lets
        a handler that calls the API show up; a handler busy elsewhere (Navixy) for longer
        is not covered: wait for its visible effect instead."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def idle() -> bool:
            return not self._pending and self._inflight == 0

        while True:
            remaining = deadline - loop.time()
            if not await self._signal.wait_for(idle, max(remaining, 0)):
                raise AssertionError(
                    f"bot not idle within {timeout}s: {len(self._pending)} unconfirmed "
                    f"update(s), {self._inflight} call(s) in flight"
                )
            version = self._activity

            def changed_since(version: int = version) -> bool:
                return self._activity != version or not idle()

            changed = await self._signal.wait_for(
                changed_since, min(quiet, max(deadline - loop.time(), 0))
            )
            if not changed:
                return
            if loop.time() >= deadline:
                raise AssertionError(f"bot kept calling the API for {timeout}s")

    async def wait_until(
        self, predicate: Callable[[], T | None], *, timeout: float = 5.0, what: str = ""
    ) -> T:
        """Wait (event-driven) until `predicate()` over the fake's state is truthy, e.g.
        ``await tg.wait_until(lambda: tg.calls("getChatAdministrators"))``; re-checked after
        every API call and user action. AssertionError on timeout."""
        value = await self._signal.wait_for(predicate, timeout)
        if not value:
            raise AssertionError(f"condition {what or predicate!r} not met within {timeout}s")
        return value

    @property
    def polls_waiting(self) -> int:
        """How many getUpdates long polls are waiting right now."""
        return self._polls_waiting

    def calls(self, method: str) -> list[ApiCall]:
        return [c for c in self.requests if c.method.lower() == method.lower()]

    def my_commands(
        self, scope_type: str = "default", language_code: str = "", *, chat_id: int | None = None
    ) -> list[str]:
        scope: dict[str, Any] = {"type": scope_type}
        if chat_id is not None:
            scope["chat_id"] = chat_id
        key = (json.dumps(scope, sort_keys=True), language_code)
        return [c["command"] for c in self.commands.get(key, [])]

    # ------------------------------------------------------------------ user-side internals

    def _state(self, chat: FakeChat) -> _ChatState:
        state = self._chats.get(chat.id)
        if state is None or state.chat is not chat:
            raise AssertionError(f"chat {chat.id} was not created by this FakeTelegram")
        return state

    def _mark_action(self, state: _ChatState, user: FakeUser) -> None:
        chat = state.chat
        if chat.private:
            if chat.id != user.id:
                raise AssertionError(f"user {user.id} cannot act in {chat.id}'s private chat")
            chat.started = True
        else:
            chat.members.add(user.id)
        self.inputs[user.id] += 1
        state.action_mark = state.last_bot_id()
        state.action_edits = {m.message_id: m.edits for m in state.msgs.values() if m.from_bot}

    def _user_message(
        self,
        user: FakeUser,
        chat: FakeChat,
        content: dict[str, Any],
        *,
        kind: str,
        reply_to: int | None,
    ) -> dict[str, Any]:
        state = self._state(chat)
        self._users.setdefault(user.id, user)
        self._mark_action(state, user)
        data: dict[str, Any] = {
            "message_id": state.next_id,
            "from": user.to_dict(),
            "chat": chat.to_dict(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            target = state.msgs.get(reply_to)
            if target is None or target.deleted:
                raise AssertionError(f"no message {reply_to} to reply to in chat {chat.id}")
            data["reply_to_message"] = _as_reply(target.data)
        data.update(content)
        msg = _Msg(state.next_id, chat.id, data, from_bot=False, kind=kind, user_id=user.id)
        state.msgs[msg.message_id] = msg
        state.next_id += 1
        msg.delivered = self._deliverable(chat, data)
        if msg.delivered:
            self._enqueue({"message": copy.deepcopy(data)})
        else:
            self.undelivered.append(copy.deepcopy(data))
            self._signal.notify()
        return copy.deepcopy(data)

    def _deliverable(self, chat: FakeChat, data: Mapping[str, Any]) -> bool:
        if chat.private:
            return not chat.blocked
        if not chat.bot_member:
            return False
        if not self.privacy_mode:
            return True
        via = data.get("via_bot")
        if via and via.get("id") == self.bot_id:
            return True
        reply = data.get("reply_to_message")
        if reply and reply.get("from", {}).get("id") == self.bot_id:
            return True
        text = data.get("text") or data.get("caption") or ""
        match = _COMMAND.match(text)
        if match:
            _, _, addressee = match.group(0).partition("@")
            return not addressee or addressee.lower() == self.bot_username.lower()
        return False

    def _visible_bot_message(self, chat: FakeChat, message_id: int) -> _Msg:
        msg = self._state(chat).msgs.get(message_id)
        if msg is None or not msg.from_bot:
            raise AssertionError(f"the bot has no message {message_id} in chat {chat.id}")
        if msg.deleted:
            raise AssertionError(f"message {message_id} in chat {chat.id} was deleted")
        return msg

    def _callback(self, user: FakeUser, chat: FakeChat, msg: _Msg, data: str) -> str:
        state = self._state(chat)
        self._users.setdefault(user.id, user)
        self._mark_action(state, user)
        query_id = f"cq{next(self._ids)}"
        self._queries[query_id] = _Query(query_id, "callback", user.id, self.clock())
        self._enqueue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_dict(),
                    "message": copy.deepcopy(msg.data),
                    "chat_instance": str(abs(chat.id) * 7919 + self.bot_id),
                    "data": data,
                }
            }
        )
        return query_id

    def _enqueue(self, payload: dict[str, Any]) -> None:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._pending.append(update)
        self.updates.append(copy.deepcopy(update))
        self._signal.notify()

    def _photo_size(self, data: bytes, width: int, height: int) -> dict[str, Any]:
        stored = self._store_file(data, "photos", "jpg")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "width": width,
            "height": height,
            "file_size": len(data),
        }

    def _store_file(self, data: bytes, folder: str, ext: str) -> _File:
        n = next(self._ids)
        stored = _File(
            file_id=f"AgAC{n:06d}FAKEFILEID",
            unique_id=f"AQAD{n:06d}",
            data=data,
            path=f"{folder}/file_{n}.{ext or 'bin'}",
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.path] = stored
        return stored

    def _snapshot(self, msg: _Msg) -> BotMessage:
        data = msg.data
        loc = data.get("location")
        reply = data.get("reply_to_message")
        force = bool(msg.markup and msg.markup.get("force_reply"))
        return BotMessage(
            message_id=msg.message_id,
            chat_id=msg.chat_id,
            text=data.get("text"),
            reply_markup=copy.deepcopy(msg.markup),
            force_reply=msg.force_reply or force,
            selective=msg.selective,
            reply_to_message_id=reply["message_id"] if reply else None,
            deleted=msg.deleted,
            edits=msg.edits,
            kind=msg.kind,
            location=(loc["latitude"], loc["longitude"]) if loc else None,
            raw=copy.deepcopy(data),
            caption=data.get("caption"),
            entities=copy.deepcopy(data.get("entities") or data.get("caption_entities") or []),
            parse_mode=msg.parse_mode,
        )

    def _chat_report(self, state: _ChatState) -> str:
        lines = [f"chat {state.chat.id} got:"]
        lines += ["  " + self._snapshot(m).describe() for m in state.msgs.values() if m.from_bot]
        if len(lines) == 1:
            lines.append("  (nothing)")
        if self.errors:
            lines.append("rejected API calls:")
            lines += [f"  {c.method}: {c.error}" for c in self.errors[-8:]]
        return "\n".join(lines)

    # ------------------------------------------------------------------ HTTP

    async def _read_params(self, request: web.Request) -> _Params:
        raw: dict[str, Any] = dict(request.query)
        kind = ""
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                kind = "json"
                body = await request.json()
                if not isinstance(body, dict):
                    raise bad("request body must be a JSON object")
                raw.update(body)
            else:
                kind = "multipart" if request.content_type.startswith("multipart/") else "form"
                form = await request.post()
                for key, value in form.items():
                    raw[key] = value
        return _Params(raw, kind)

    def _reply(
        self, call: ApiCall, result: Any = None, exc: ApiError | None = None
    ) -> web.Response:
        self.requests.append(call)
        if exc is not None:
            self.errors.append(call)
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.code,
                "description": exc.description,
            }
            if exc.parameters:
                body["parameters"] = exc.parameters
            log.info("fake telegram: %s -> %s", call.method, exc.description)
            self._signal.notify()
            return web.json_response(body, status=exc.code)
        self._signal.notify()
        return web.json_response({"ok": True, "result": result})

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            err = ApiError("Unauthorized", 401)
            return self._reply(ApiCall(method, {}, False, err.description, 401), exc=err)
        if method.lower() == "getupdates":
            if self.webhook_url is not None:
                err = ApiError(
                    "Conflict: can't use getUpdates method while webhook is active; use "
                    "deleteWebhook to delete the webhook first",
                    409,
                )
                return self._reply(ApiCall(method, {}, False, err.description, 409), exc=err)
            if self.get_updates_faults:
                status, description = self.get_updates_faults.pop(0)
                err = ApiError(description, status)
                return self._reply(ApiCall(method, {}, False, description, status), exc=err)
            return await self._get_updates(request, method)
        self._inflight += 1
        self._activity += 1
        params = _Params({})
        try:
            params = await self._read_params(request)
            handler = self._handlers.get(method.lower())
            if handler is None:
                raise ApiError(f"Bad Request: method {method!r} not found (not faked)", 400)
            result = await handler(params)
        except ApiError as exc:
            call = ApiCall(
                method, params.decoded(), False, exc.description, exc.code, body=params.body
            )
            return self._reply(call, exc=exc)
        finally:
            self._inflight -= 1
        call = ApiCall(
            method, params.decoded(), True, result=copy.deepcopy(result), body=params.body
        )
        return self._reply(call, result)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=stored.data, content_type="application/octet-stream")

    # ------------------------------------------------------------------ getUpdates

    async def _get_updates_unused(self, params: _Params) -> Any:  # pragma: no cover
        raise AssertionError("getUpdates is dispatched in _handle")

    async def _get_updates(self, request: web.Request, method: str) -> web.Response:
        params = _Params({})
        try:
            params = await self._read_params(request)
            offset = params.integer("offset", 0) or 0
            limit = min(max(params.integer("limit", 100) or 100, 1), 100)
            timeout = max(params.number("timeout", 0.0) or 0.0, 0.0)
            allowed = params.obj("allowed_updates")
            if allowed is not None:
                if not isinstance(allowed, list):
                    raise bad("can't parse allowed_updates JSON object")
                self._allowed = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
            self._confirm(offset)
        except ApiError as exc:
            call = ApiCall(
                method, params.decoded(), False, exc.description, exc.code, body=params.body
            )
            return self._reply(call, exc=exc)
        # A newer getUpdates terminates an older one still waiting (Telegram: 409).
        self._poll_generation += 1
        generation = self._poll_generation
        self._signal.notify()

        def ready() -> bool:
            return bool(self._take_allowed(limit, peek=True)) or generation != self._poll_generation

        self._polls_waiting += 1
        self._signal.notify()
        try:
            await self._signal.wait_for(ready, timeout)
        finally:
            self._polls_waiting -= 1
        if generation != self._poll_generation:
            if self._runner is None:  # the fake is stopping
                return web.json_response({"ok": True, "result": []})
            conflict = ApiError(
                "Conflict: terminated by other getUpdates request; make sure that only one "
                "bot instance is running",
                409,
            )
            call = ApiCall(
                method, params.decoded(), False, conflict.description, 409, body=params.body
            )
            transport = request.transport
            if transport is None or transport.is_closing():
                # The client already gave up on this poll (PTB's stop() cancels it and sends
                # getUpdates(timeout=0)): nobody receives the 409, so it is no error.
                self.requests.append(call)
                return web.json_response({"ok": False}, status=409)
            return self._reply(call, exc=conflict)
        updates = self._take_allowed(limit, peek=False)
        for update in updates:
            self.delivery_counts[update["update_id"]] += 1
        call = ApiCall(
            method,
            params.decoded(),
            True,
            result=[u["update_id"] for u in updates],
            body=params.body,
        )
        return self._reply(call, copy.deepcopy(updates))

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._confirmed_offset = max(self._confirmed_offset, offset)
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._signal.notify()

    def _take_allowed(self, limit: int, *, peek: bool) -> list[dict[str, Any]]:
        """The first `limit` pending updates of allowed types (others are dropped)."""
        if not peek:
            kept = []
            for update in self._pending:
                kinds = set(update) - {"update_id"}
                if kinds & self._allowed:
                    kept.append(update)
            self._pending = kept
        out = []
        for update in self._pending:
            if (set(update) - {"update_id"}) & self._allowed:
                out.append(update)
                if len(out) == limit:
                    break
        return out

    # ------------------------------------------------------------------ simple methods

    async def _true(self, params: _Params) -> bool:
        return True

    def _const(self, value: Any) -> Handler:
        async def handler(params: _Params) -> Any:
            return copy.deepcopy(value)

        return handler

    async def _get_me(self, params: _Params) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": self.inline_mode,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.req_string("url")
        if not url.startswith(("https://", "http://127.0.0.1")):
            raise bad("bad webhook: HTTPS URL must be provided for webhook")
        secret = params.string("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad("bad webhook: secret token contains unallowed characters")
        self.webhook_url, self.webhook_secret = url, secret
        if params.flag("drop_pending_updates"):
            self._pending = []
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.create_task(self._push_updates())
        return True

    async def _push_updates(self) -> None:
        """Telegram's side of a webhook: POST each pending update, in order, until 2xx."""
        async with ClientSession() as session:
            while self.webhook_url is not None and self._runner is not None:
                await self._signal.wait_for(
                    lambda: bool(self._pending) or self.webhook_url is None, timeout=1.0
                )
                if not self._pending or self.webhook_url is None:
                    continue
                update = self._pending[0]
                headers = {}
                if self.webhook_secret is not None:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
                try:
                    async with session.post(
                        self.webhook_url, json=update, headers=headers, timeout=ClientTimeout(5)
                    ) as response:
                        status = response.status
                except (OSError, TimeoutError, ClientError):
                    status = 0
                self.webhook_posts.append((update["update_id"], status))
                if 200 <= status < 300:
                    if self._pending and self._pending[0] is update:
                        self._pending.pop(0)
                    self.delivery_counts[update["update_id"]] += 1
                    self._signal.notify()
                else:
                    await asyncio.sleep(0.2)

    async def _delete_webhook(self, params: _Params) -> bool:
        self.webhook_url = self.webhook_secret = None
        self._signal.notify()
        if params.flag("drop_pending_updates"):
            if self._pending:
                self._confirmed_offset = self._pending[-1]["update_id"] + 1
            self._pending = []
        return True

    async def _get_webhook_info(self, params: _Params) -> dict[str, Any]:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = params.obj("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise bad("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), params.string("language_code", "") or ""

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.obj("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise bad("can't parse BotCommand JSON object")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _BOT_COMMAND_NAME.match(name):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description.strip()) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(self, params: _Params) -> list[dict[str, Any]]:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: _Params) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _set_chat_menu_button(self, params: _Params) -> bool:
        chat_id = params.integer("chat_id")
        if chat_id is not None:
            self._chat_for(params)
        self.menu_buttons[chat_id] = params.obj("menu_button") or {"type": "default"}
        return True

    async def _get_chat_menu_button(self, params: _Params) -> Any:
        return copy.deepcopy(self.menu_buttons.get(params.integer("chat_id"), {"type": "commands"}))

    # ------------------------------------------------------------------ chats

    def _chat_for(self, params: _Params, *, sending: bool = False) -> _ChatState:
        raw = params.raw.get("chat_id")
        if raw is None or raw == "":
            raise bad("chat_id is empty")
        state: _ChatState | None = None
        chat_id: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat_id = raw
        elif isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
            chat_id = int(raw)
        elif isinstance(raw, str) and raw.startswith("@"):
            for candidate in self._chats.values():
                if candidate.chat.username and candidate.chat.username.lower() == raw[1:].lower():
                    state = candidate
        if chat_id is not None:
            state = self._chats.get(chat_id)
        if state is None:
            if sending and chat_id is not None and chat_id in self._users:
                raise ApiError(CANT_INITIATE, 403)
            raise bad("chat not found")
        chat = state.chat
        if sending:
            if chat.private and chat.blocked:
                raise ApiError("Forbidden: bot was blocked by the user", 403)
            if chat.private and not chat.started:
                raise ApiError(CANT_INITIATE, 403)
            if not chat.private and not chat.bot_member:
                raise ApiError("Forbidden: bot was kicked from the supergroup chat", 403)
        elif not chat.private and not chat.bot_member:
            raise bad("chat not found")
        return state

    def _member_dict(self, chat: FakeChat, user: dict[str, Any]) -> dict[str, Any]:
        uid = user["id"]
        if chat.private:
            status = "member" if uid in (chat.id, self.bot_id) else "left"
        elif uid == chat.owner_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        elif uid in chat.admins or (uid == self.bot_id and chat.bot_is_admin):
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_pin_messages": True,
            }
        elif uid in chat.members or (uid == self.bot_id and chat.bot_member):
            status = "member"
        else:
            status = "left"
        return {"status": status, "user": user}

    def _user_dict(self, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_id:
            return self.bot_user
        user = self._users.get(user_id)
        if user is None:
            raise bad("user not found")
        return user.to_dict()

    async def _get_chat(self, params: _Params) -> dict[str, Any]:
        chat = self._chat_for(params).chat
        return {
            **chat.to_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_chat_administrators(self, params: _Params) -> list[dict[str, Any]]:
        chat = self._chat_for(params).chat
        if chat.private:
            raise bad("there are no administrators in the private chat")
        ids = [chat.owner_id] if chat.owner_id is not None else []
        ids += sorted(chat.admins - set(ids))
        if chat.bot_is_admin:
            ids.append(self.bot_id)
        return [self._member_dict(chat, self._user_dict(uid)) for uid in ids]

    async def _get_chat_member(self, params: _Params) -> dict[str, Any]:
        chat = self._chat_for(params).chat
        user_id = params.req_integer("user_id", "user_id is empty")
        return self._member_dict(chat, self._user_dict(user_id))

    async def _get_chat_member_count(self, params: _Params) -> int:
        chat = self._chat_for(params).chat
        return len(chat.members) + (1 if chat.private else int(chat.bot_member))

    # ------------------------------------------------------------------ sending

    def _check_flood(self, state: _ChatState) -> None:
        if self.flood_limit is None:
            return
        now = self.clock()
        state.sent_times = [t for t in state.sent_times if now - t < 60.0]
        if len(state.sent_times) >= self.flood_limit:
            retry_after = max(1, int(60.0 - (now - state.sent_times[0]) + 0.999))
            raise ApiError(
                f"Too Many Requests: retry after {retry_after}",
                429,
                {"retry_after": retry_after},
            )

    def _reply_target(self, params: _Params, state: _ChatState) -> _Msg | None:
        reply = params.obj("reply_parameters")
        allow = params.flag("allow_sending_without_reply")
        target_state = state
        if reply is not None:
            if not isinstance(reply, dict) or "message_id" not in reply:
                raise bad("can't parse reply parameters JSON object")
            message_id = reply["message_id"]
            allow = bool(reply.get("allow_sending_without_reply", allow))
            if reply.get("chat_id") not in (None, state.chat.id):
                other = self._chats.get(int(reply["chat_id"]))
                if other is None:
                    raise bad("message to be replied not found")
                target_state = other
        else:
            message_id = params.integer("reply_to_message_id")
            if message_id is None:
                return None
        target = target_state.msgs.get(int(message_id))
        if target is None or target.deleted:
            if allow:
                return None
            raise bad("message to be replied not found")
        return target

    def _parse_text(
        self,
        text: str,
        params: _Params,
        *,
        mode_key: str = "parse_mode",
        ents_key: str = "entities",
    ) -> tuple[str, list[dict[str, Any]]]:
        text, entities = parse_formatted(
            text,
            params.string(mode_key),
            params.obj(ents_key),
            strict_ampersand=self.strict_html_ampersand,
        )
        return text, [self._user_link(e) for e in entities]

    def _user_link(self, entity: dict[str, Any]) -> dict[str, Any]:
        """Telegram turns a link to tg://user?id=N into a `text_mention` of that user (a
        user it knows); an unknown user's link stays a plain link."""
        match = _USER_LINK.fullmatch(entity.get("url") or "")
        if entity.get("type") != "text_link" or match is None:
            return entity
        user = self._users.get(int(match.group(1)))
        if user is None:
            return entity
        return {
            "type": "text_mention",
            "offset": entity["offset"],
            "length": entity["length"],
            "user": user.to_dict(),
        }

    def _new_bot_message(
        self,
        state: _ChatState,
        params: _Params,
        content: dict[str, Any],
        *,
        kind: str,
        markup: dict[str, Any] | None,
        reply_to: _Msg | None,
    ) -> dict[str, Any]:
        chat = state.chat
        data: dict[str, Any] = {
            "message_id": state.next_id,
            "from": self.bot_user,
            "chat": chat.to_dict(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            data["reply_to_message"] = _as_reply(reply_to.data)
        data.update(content)
        if markup_kind(markup) == "inline":
            assert markup is not None
            data["reply_markup"] = copy.deepcopy(markup)
        msg = _Msg(
            state.next_id,
            chat.id,
            data,
            from_bot=True,
            kind=kind,
            markup=copy.deepcopy(markup),
            force_reply=bool(markup and markup.get("force_reply")),
            selective=bool(markup and markup.get("selective")),
            parse_mode=params.string("parse_mode"),
        )
        state.msgs[msg.message_id] = msg
        state.next_id += 1
        if self.flood_limit is not None:
            state.sent_times.append(self.clock())
        return copy.deepcopy(data)

    def _send_common(self, params: _Params) -> tuple[_ChatState, dict[str, Any] | None]:
        state = self._chat_for(params, sending=True)
        self._check_flood(state)
        markup = validate_reply_markup(params.obj("reply_markup"), private=state.chat.private)
        return state, markup

    async def _send_message(self, params: _Params) -> dict[str, Any]:
        state, markup = self._send_common(params)
        text, entities = self._parse_text(
            params.req_string("text", "message text is empty"), params
        )
        check_text(text)
        reply_to = self._reply_target(params, state)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._new_bot_message(
            state, params, content, kind="text", markup=markup, reply_to=reply_to
        )

    async def _send_location(self, params: _Params) -> dict[str, Any]:
        state, markup = self._send_common(params)
        lat = params.number("latitude")
        lng = params.number("longitude")
        if lat is None or not -90 <= lat <= 90:
            raise bad("wrong latitude")
        if lng is None or not -180 <= lng <= 180:
            raise bad("wrong longitude")
        reply_to = self._reply_target(params, state)
        content = {"location": {"latitude": lat, "longitude": lng}}
        return self._new_bot_message(
            state, params, content, kind="location", markup=markup, reply_to=reply_to
        )

    def _caption(self, params: _Params) -> dict[str, Any]:
        caption = params.string("caption")
        if caption is None:
            return {}
        text, entities = self._parse_text(caption, params, ents_key="caption_entities")
        if len(text) > MAX_CAPTION:
            raise bad("message caption is too long")
        out: dict[str, Any] = {"caption": text} if text else {}
        if entities:
            out["caption_entities"] = entities
        return out

    def _input_file(self, params: _Params, name: str, folder: str) -> tuple[_File, str | None]:
        value = params.upload(name)
        if value is None:
            raise bad(f"there is no {name} in the request")
        if isinstance(value, FileField):
            data = _read_field(value)
            ext = (value.filename or "file.bin").rsplit(".", 1)[-1]
            return self._store_file(data, folder, ext), value.filename
        if value.startswith("attach://"):
            raise bad(f"there is no {name} in the request")
        if value in self._files:
            return self._files[value], None
        if value.startswith(("http://", "https://")):
            return self._store_file(b"downloaded:" + value.encode(), folder, "jpg"), None
        raise bad("wrong file identifier/HTTP URL specified")

    async def _send_photo(self, params: _Params) -> dict[str, Any]:
        state, markup = self._send_common(params)
        stored, _ = self._input_file(params, "photo", "photos")
        width, height = _image_size(stored.data) or (800, 600)
        content: dict[str, Any] = {
            "photo": [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(stored.data),
                }
            ],
            **self._caption(params),
        }
        reply_to = self._reply_target(params, state)
        return self._new_bot_message(
            state, params, content, kind="photo", markup=markup, reply_to=reply_to
        )

    async def _send_document(self, params: _Params) -> dict[str, Any]:
        state, markup = self._send_common(params)
        stored, file_name = self._input_file(params, "document", "documents")
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_name": file_name or stored.path.rsplit("/", 1)[-1],
            "file_size": len(stored.data),
        }
        content: dict[str, Any] = {"document": document, **self._caption(params)}
        reply_to = self._reply_target(params, state)
        return self._new_bot_message(
            state, params, content, kind="document", markup=markup, reply_to=reply_to
        )

    async def _send_chat_action(self, params: _Params) -> bool:
        state = self._chat_for(params, sending=True)
        action = params.string("action")
        if action not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        self.chat_actions.append((state.chat.id, action))
        return True

    # ------------------------------------------------------------------ editing

    def _editable(self, params: _Params, *, missing: str) -> tuple[_ChatState, _Msg]:
        if params.has("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")  # inline-mode messages are not modelled
        state = self._chat_for(params)
        message_id = params.req_integer("message_id", "message identifier is not specified")
        msg = state.msgs.get(message_id)
        if msg is None or msg.deleted:
            raise bad(missing)
        if not msg.from_bot:
            raise bad("message can't be edited")
        return state, msg

    def _apply_edit(
        self, msg: _Msg, content: dict[str, Any], markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        current = {k: msg.data.get(k) for k in content}
        current_markup = msg.data.get("reply_markup")
        if current == content and current_markup == markup:
            raise bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        for key, value in content.items():
            if value in (None, []):
                msg.data.pop(key, None)
            else:
                msg.data[key] = value
        if markup is None:
            msg.data.pop("reply_markup", None)
        else:
            msg.data["reply_markup"] = copy.deepcopy(markup)
        msg.markup = copy.deepcopy(markup)
        msg.data["edit_date"] = int(time.time())
        msg.edits += 1
        return copy.deepcopy(msg.data)

    async def _edit_message_text(self, params: _Params) -> dict[str, Any]:
        state, msg = self._editable(params, missing="message to edit not found")
        text, entities = self._parse_text(
            params.req_string("text", "message text is empty"), params
        )
        check_text(text, too_long="MESSAGE_TOO_LONG")
        if msg.kind != "text":
            raise bad("there is no text in the message to edit")
        markup = validate_reply_markup(
            params.obj("reply_markup"), private=state.chat.private, inline_only=True
        )
        msg.parse_mode = params.string("parse_mode")
        return self._apply_edit(msg, {"text": text, "entities": entities or None}, markup)

    async def _edit_message_caption(self, params: _Params) -> dict[str, Any]:
        state, msg = self._editable(params, missing="message to edit not found")
        if msg.kind not in ("photo", "document"):
            raise bad("there is no caption in the message to edit")
        caption = self._caption(params)
        markup = validate_reply_markup(
            params.obj("reply_markup"), private=state.chat.private, inline_only=True
        )
        content = {
            "caption": caption.get("caption"),
            "caption_entities": caption.get("caption_entities"),
        }
        return self._apply_edit(msg, content, markup)

    async def _edit_message_reply_markup(self, params: _Params) -> dict[str, Any]:
        state, msg = self._editable(params, missing="message to edit not found")
        markup = validate_reply_markup(
            params.obj("reply_markup"), private=state.chat.private, inline_only=True
        )
        return self._apply_edit(msg, {}, markup)

    async def _delete_message(self, params: _Params) -> bool:
        state = self._chat_for(params)
        message_id = params.req_integer("message_id", "message identifier is not specified")
        msg = state.msgs.get(message_id)
        if msg is None or msg.deleted:
            raise bad("message to delete not found")
        if not msg.from_bot and not state.chat.private and not state.chat.bot_is_admin:
            raise bad("message can't be deleted")
        msg.deleted = True
        return True

    # ------------------------------------------------------------------ queries

    def _live_query(self, query_id: str | None, kind: str, window: float) -> _Query:
        query = self._queries.get(query_id or "")
        if (
            query is None
            or query.kind != kind
            or query.answer is not None
            or self.clock() - query.created > window
        ):
            raise bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        return query

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.req_string("callback_query_id", "query_id is empty")
        query = self._live_query(query_id, "callback", self.callback_answer_window)
        text = params.string("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_TEXT:
            raise bad("MESSAGE_TOO_LONG")
        url = params.string("url")
        if url is not None:
            raise bad("URL_INVALID")  # only game URLs are allowed; no games here
        query.answer = {
            "text": text,
            "show_alert": params.flag("show_alert"),
            "url": url,
            "cache_time": params.integer("cache_time", 0),
        }
        return True

    async def _answer_inline_query(self, params: _Params) -> bool:
        query_id = params.req_string("inline_query_id", "query_id is empty")
        results = params.obj("results")
        next_offset = params.string("next_offset")
        validate_inline_answer(results, next_offset, params.obj("button"))
        query = self._live_query(query_id, "inline", INLINE_ANSWER_WINDOW)
        answer = {
            "results": results,
            "next_offset": next_offset or "",
            "cache_time": params.integer("cache_time", 300),
            "is_personal": params.flag("is_personal"),
            "button": params.obj("button"),
        }
        query.answer = answer
        self.inline_answers[query_id] = answer
        return True

    # ------------------------------------------------------------------ files

    async def _get_file(self, params: _Params) -> dict[str, Any]:
        file_id = params.req_string("file_id", "file_id not specified")
        stored = self._files.get(file_id)
        if stored is None:
            raise bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }


# ============================================================================ helpers


_USER_LINK = re.compile(r"tg://user\?id=(\d+)")


def _command_entities(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group(0)),
        }
        for m in _COMMAND.finditer(text)
    ]


def _as_reply(data: Mapping[str, Any]) -> dict[str, Any]:
    """A message as embedded in reply_to_message (Telegram does not nest further)."""
    reply = copy.deepcopy(dict(data))
    reply.pop("reply_to_message", None)
    return reply
