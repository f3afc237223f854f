"""Fuzz: random sequences of what installers (and strangers) do, against the real bot.

The bot runs as in production (bot.app) against the strict fake Telegram and the Navixy
stand-in, with a real SQLite file. A seeded generator plays several people in their private
chats and in one group: messages (commands, search text, IDs, odd Unicode, 4000 characters,
a model picked in inline mode), edited messages, photos of labels, files, stickers, voice
notes, contacts, locations, button presses (current, stale and forged callback data) and
inline queries. After every step it checks:

- the error handler was never reached, and no message says "Something went wrong";
- Telegram (the strict fake) refused no call;
- every update from an authorised user that is meant for the bot got an answer (a message
  or an edit in that chat, the callback answered, the inline query answered); in a group,
  "meant for the bot" is what `addressed_to_bot` says (a reply to the bot, a command for it);
- `/cancel` always returns to idle (no conversation state, no draft);
- nobody sees another's draft: a message to one installer never carries another
  installer's IMEI or SIM number;
- strangers never get a draft.

Short version in CI (FUZZ_SECONDS, default 20 s of stepping). The long version is opt-in:
``FUZZ_SEQUENCES=200 scripts/test tests/test_fuzz.py`` (FUZZ_SEED picks the seed; a failure
prints the seed and the last steps, so it can be replayed).
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ConversationHandler, TypeHandler

from bot.app import App
from bot.domain.device_id import luhn_check_digit
from bot.domain.phone import check_phone, format_phone
from bot.sandbox import NavixySandbox
from bot.telegram.persistence import WRITE_THROUGH_GROUP
from bot.telegram.questions import CONVERSATION_NAME
from tests.e2e import (
    ADMIN_ID,
    catalog_ready,
    make_settings,
    running_bot,
)
from tests.fakes.telegram import ApiCall, BotMessage, FakeChat, FakeTelegram, FakeUser
from tests.test_e2e_photo import label_photo

pytestmark = pytest.mark.e2e

log = logging.getLogger(__name__)

SEQUENCES = int(os.environ.get("FUZZ_SEQUENCES", "0"))  # 0: the short, time-boxed run
SECONDS = float(os.environ.get("FUZZ_SECONDS", "16"))
SEED = int(os.environ.get("FUZZ_SEED", "0")) or random.SystemRandom().randrange(1, 10**9)
STEPS_PER_SEQUENCE = 30
SHORT_SEQUENCE_CAP = 40
# The bot keeps to Telegram's 20 messages a minute per group: the short run stays below it.
SHORT_GROUP_STEPS = 8
GROUP_ID = -100900
ANSWER_TIMEOUT = 15.0
WENT_WRONG = "Something went wrong"
ANSWERS = frozenset({"sendMessage", "editMessageText", "sendLocation", "sendPhoto"})
OUR_COMMANDS = frozenset({"start", "help", "register", "cancel", "pending"})


def make_imei(n: int) -> str:
    body = f"35693803{n:06d}"
    return body + str(luhn_check_digit(body))


@dataclass
class Actor:
    user: FakeUser
    authorised: bool
    imei: str = ""
    phone: str = ""
    label: str = ""
    tokens: tuple[str, ...] = ()
    private: FakeChat | None = None


@dataclass
class Stats:
    sequences: int = 0
    steps: int = 0
    answers_checked: int = 0
    cancels_checked: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


COMMON_TEXTS = [
    "/register",
    "/cancel",
    "/start",
    "/help",
    "/pending",
    "/frobnicate",
    "/weather@other_bot",
    f"/register@{'installer_test_bot'}",
    "hello",
    "fmb140",
    "FMB 920",
    "gv55 lite",
    "app",
    "-",
    "internet",
    "internet.telekom",
    "apnuser",
    "Pw-7f3kQz9x",
    "6045325592",
    "name@example.com",
    "12345",
    "356938035643808",  # 15 digits, Luhn fails
    "<b>AB</b> <1>",
    "R&D 7",
    "AB\u200b123",
    "\u200fשלום 12",
    "Van 👨\u200d👩\u200d👧",
    "zq" * 2000,
    " ",
]


class Fuzzer:
    def __init__(
        self, tg: FakeTelegram, app: App, sandbox: NavixySandbox, rng: random.Random
    ) -> None:
        self.tg, self.app, self.sandbox, self.rng = tg, app, sandbox, rng
        self.stats = Stats()
        self.trail: list[str] = []
        self.handler_errors: list[BaseException] = []
        self.group_steps = 0
        self.actors: list[Actor] = []
        self.lead: Actor
        for n, (uid, name) in enumerate(((100, "Anna"), (101, "Boris"), (ADMIN_ID, "Ada"))):
            phone = f"+49 170 {3000000 + n * 1111:07d}"
            value = check_phone(phone).value
            assert value is not None
            actor = Actor(
                tg.user(uid, name),
                authorised=True,
                imei=make_imei(100 + n),
                phone=phone,
                label=f"Van {name}",
            )
            actor.tokens = (actor.imei, value, format_phone(value))
            self.actors.append(actor)
        self.actors.append(Actor(tg.user(666, "Sam"), authorised=False))
        for actor in self.actors:
            actor.private = tg.private_chat(actor.user)
        self.group = tg.group_chat(GROUP_ID, members=[a.user for a in self.actors])
        self.conversation = next(
            h
            for h in app.handlers[0]
            if isinstance(h, ConversationHandler) and h.name == CONVERSATION_NAME
        )

        async def record(update: object, context: Any) -> None:
            self.handler_errors.append(context.error)

        app.add_error_handler(record)
        self.processed: set[int] = set()

        async def mark(update: Update, context: Any) -> None:
            self.processed.add(update.update_id)
            tg._signal.notify()

        # After every other group (write-through is 100): the update is fully handled.
        app.add_handler(TypeHandler(Update, mark), group=WRITE_THROUGH_GROUP + 1)

    # --- running --------------------------------------------------------------------------

    async def run(self, *, sequences: int | None, seconds: float) -> Stats:
        deadline = time.monotonic() + seconds
        while True:
            if sequences is not None and self.stats.sequences >= sequences:
                break
            if sequences is None and (
                time.monotonic() > deadline or self.stats.sequences >= SHORT_SEQUENCE_CAP
            ):
                break
            # One person carries each sequence (mostly answering right, so the deep steps
            # are reached); the others interfere.
            self.lead = self.rng.choice([a for a in self.actors if a.authorised])
            for _ in range(STEPS_PER_SEQUENCE):
                await self.step()
            for actor in self.actors[:3]:  # every sequence ends with each one's /cancel
                assert actor.private is not None
                await self.act(actor, actor.private, "text", "/cancel")
            self.stats.sequences += 1
        return self.stats

    async def step(self) -> None:
        rng = self.rng
        actor = self.lead if rng.random() < 0.6 else rng.choice(self.actors)
        in_group = rng.random() < 0.15 and (SEQUENCES or self.group_steps < SHORT_GROUP_STEPS)
        if actor is self.lead and rng.random() < 0.6:
            chat = self.group if in_group else actor.private
            assert chat is not None
            self.group_steps += in_group
            return await self.act(actor, chat, "progress", None)
        chat = self.group if in_group else actor.private
        assert chat is not None
        if in_group:
            self.group_steps += 1
        kind = rng.choices(
            [
                "text",
                "own",
                "button",
                "forged",
                "edit",
                "photo",
                "file",
                "other",
                "inline",
                "pick",
                "progress",
            ],
            weights=[22, 10, 18, 4, 5, 3, 2, 6, 4, 4, 30],
        )[0]
        await self.act(actor, chat, kind, None)

    async def act(self, actor: Actor, chat: FakeChat, kind: str, text: str | None) -> None:
        tg, rng = self.tg, self.rng
        self.stats.steps += 1
        self.stats.kinds[kind] = self.stats.kinds.get(kind, 0) + 1
        before = len(tg.requests)
        errors_before = len(tg.errors)
        updates_before = len(tg.updates)
        reply_to = self._reply_target(actor, chat)
        expect: Callable[[list[ApiCall]], bool] | None = None
        sent: dict[str, Any] | None = None
        where = f"{actor.user.first_name}@{'group' if chat.id < 0 else 'private'}"

        if kind == "progress":
            # The right answer to the question this person was asked last (so the walk
            # reaches the deep steps: the card, Register, the watch).
            move = self._progress(actor, chat)
            if move is None:
                return await self.act(actor, chat, "text", "/register")
            if move[0] == "tap":
                return await self.act(actor, chat, "button", move[1])
            return await self.act(actor, chat, "text", move[1])
        if kind in ("text", "own"):
            if text is None:
                pool = COMMON_TEXTS if kind == "text" else self._own(actor)
                text = rng.choice(pool)
            self.trail.append(f"{where}: text {text[:40]!r} reply_to={reply_to}")
            sent = await tg.send_text(actor.user, chat, text, reply_to=reply_to)
        elif kind == "pick":
            pick = rng.choice(["Teltonika FMB140 [telfmb140]", "Nonsense [no_such_model]"])
            self.trail.append(f"{where}: inline pick {pick!r}")
            sent = await tg.send_text(actor.user, chat, pick, via_bot=True)
        elif kind == "edit":
            mine = [
                m
                for m in tg.user_messages(chat)
                if m.get("from", {}).get("id") == actor.user.id and "text" in m
            ]
            if not mine:
                return await self.act(actor, chat, "text", None)
            target = rng.choice(mine[-5:])
            new = rng.choice(COMMON_TEXTS + self._own(actor))
            self.trail.append(f"{where}: edit {target['message_id']} -> {new[:30]!r}")
            sent = await tg.edit_text(actor.user, chat, target["message_id"], new)
        elif kind in ("button", "forged"):
            query_id = await self._press(
                actor, chat, forged=kind == "forged", where=where, wanted=text
            )
            if query_id is None:
                return await self.act(actor, chat, "text", None)

            def answered(calls: list[ApiCall], qid: str = query_id) -> bool:
                return any(
                    c.method == "answerCallbackQuery"
                    and c.ok
                    and c.params.get("callback_query_id") == qid
                    for c in calls
                )

            expect = answered  # anyone's press is answered, a stranger's too
        elif kind == "photo":
            image = label_photo(rng.choice([actor.imei or make_imei(999), "SN-0042"]))
            self.trail.append(f"{where}: photo reply_to={reply_to}")
            sent = await tg.send_photo(actor.user, chat, image, reply_to=reply_to)
        elif kind == "file":
            self.trail.append(f"{where}: text file reply_to={reply_to}")
            sent = await tg.send_document(
                actor.user,
                chat,
                b"not an image at all",
                file_name="notes.txt",
                mime_type="text/plain",
                reply_to=reply_to,
            )
        elif kind == "other":
            content: dict[str, Any] = rng.choice(
                [
                    {"sticker": _STICKER},
                    {"voice": _VOICE},
                    {"location": {"latitude": 52.52, "longitude": 13.405}},
                    {"contact": {"phone_number": actor.phone or "+4917000000", "first_name": "S"}},
                ]
            )
            self.trail.append(f"{where}: {next(iter(content))} reply_to={reply_to}")
            sent = tg._user_message(actor.user, chat, content, kind="other", reply_to=reply_to)
        elif kind == "inline":
            query = rng.choice(["fmb", "", "gv55", "zzzz", "<b>", "x" * 300])
            self.trail.append(f"{actor.user.first_name}: inline {query[:20]!r}")
            await tg.inline_query(actor.user, query, timeout=ANSWER_TIMEOUT)  # asserts answered
            self.stats.answers_checked += 1

        if sent is not None and actor.authorised and self._needs_answer(chat, sent):
            expect = self._answer_in(chat)
        if actor.authorised and len(tg.updates) > updates_before:
            # Every handler group has run for it (photo decoding, Navixy calls included).
            update_id = tg.updates[-1]["update_id"]
            await tg.wait_until(
                lambda: update_id in self.processed,
                timeout=ANSWER_TIMEOUT,
                what=f"update {update_id} processed ({self._where()})",
            )
        if expect is not None:
            if actor.authorised:
                assert expect(tg.requests[before:]), f"no answer: {self._where()}"
            else:
                await tg.wait_until(
                    lambda: expect(tg.requests[before:]),
                    timeout=ANSWER_TIMEOUT,
                    what=f"an answer ({self._where()})",
                )
            self.stats.answers_checked += 1
        await tg.wait_idle(timeout=ANSWER_TIMEOUT)
        self._check(actor, chat, before, errors_before, text)

    # --- choosing ---------------------------------------------------------------------------

    def _own(self, actor: Actor) -> list[str]:
        if not actor.authorised:
            return ["hello", "/register"]
        return [actor.imei, f"IMEI: {actor.imei}", actor.phone, actor.label]

    def _reply_target(self, actor: Actor, chat: FakeChat) -> int | None:
        """In the group: mostly a reply to the bot's question for this person (as a client
        with a reply box open sends it); sometimes a reply to any bot message, or none."""
        if chat.id > 0:
            return None
        roll = self.rng.random()
        if roll < 0.7:
            return self.tg.reply_box(actor.user, chat)
        mine = [m for m in self.tg.messages(chat) if not m.deleted]
        if roll < 0.85 and mine:
            return self.rng.choice(mine[-6:]).message_id
        return None

    async def _press(
        self, actor: Actor, chat: FakeChat, *, forged: bool, where: str, wanted: str | None = None
    ) -> str | None:
        rng = self.rng
        messages = [m for m in self.tg.messages(chat) if not m.deleted]
        if not messages:
            return None
        if forged:
            target = rng.choice(messages[-8:])
            data = rng.choice(
                [
                    "0123456789ab|register",
                    "start:register",
                    "w|9999|stop",
                    "w|1|retry",
                    "junk",
                    "x" * 64,
                    f"{_draft_id_in(messages)}|field:device_id",
                    f"{_draft_id_in(messages)}|group:424242",
                    f"{_draft_id_in(messages)}|model:no_such_model",
                    f"{_draft_id_in(messages)}|dev:{make_imei(7)}",
                ]
            )
            self.trail.append(f"{where}: FORGED {data!r} on {target.message_id}")
            return await self.tg.press(actor.user, chat, target.message_id, data, forged=True)
        with_buttons = [m for m in messages if _callback_buttons(m)]
        if not with_buttons:
            return None
        target = with_buttons[-1] if rng.random() < 0.6 else rng.choice(with_buttons[-6:])
        buttons = _callback_buttons(target)
        if wanted is not None:
            target = next(m for m in reversed(with_buttons) if _has(m, wanted))
            buttons = [b for b in _callback_buttons(target) if b[0].startswith(wanted)]
        text, data = rng.choice(buttons)
        self.trail.append(f"{where}: tap {text!r} ({data}) on {target.message_id}")
        return await self.tg.press(actor.user, chat, target.message_id, data)

    def _progress(self, actor: Actor, chat: FakeChat) -> tuple[str, str] | None:
        if not actor.authorised:
            return None
        mine = [
            m
            for m in self.tg.messages(chat)
            if not m.deleted
            and (
                chat.id > 0
                or any(
                    e.get("type") == "text_mention" and e["user"]["id"] == actor.user.id
                    for e in m.entities
                )
            )
        ]
        if not mine:
            return None
        last = mine[-1]
        body = last.text or ""
        taps = [
            ("Models matching", "Teltonika FMB"),
            ("Check and register", "✅ Register"),
            ("Which group", "Main office"),
            ("The SIM belongs to", "Use "),
            ("Read from the barcode", "Use "),
        ]
        for marker, button in taps:
            if marker in body and _has(last, button):
                return ("tap", button)
        typed = [
            ("Which device?", "fmb140"),
            ("IMEI", actor.imei),
            ("Phone number", actor.phone),
            ("APN name", "internet"),
            ("APN user", "-"),
            ("APN password", "-"),
            ("Name for this tracker", actor.label),
            ("Activation code", "6045325592"),
            ("E-mail", "-"),
        ]
        for marker, answer in typed:
            if marker in body:
                return ("text", answer)
        return None

    # --- judging ------------------------------------------------------------------------------

    def _needs_answer(self, chat: FakeChat, sent: dict[str, Any]) -> bool:
        """Is this message (or edit) meant for the bot? Private: always. Group: delivered
        (privacy mode) and a reply to the bot, sent via the bot, or a command for it."""
        if chat.id > 0:
            return True
        if not any(u.get("message_id") == sent["message_id"] for u in self._delivered(chat)):
            return False
        if sent.get("via_bot") or (
            sent.get("reply_to_message", {}).get("from", {}).get("id") == self.tg.bot_id
        ):
            return True
        match = re.match(r"/([A-Za-z0-9_]+)(?:@(\w+))?", sent.get("text") or "")
        if match is None:
            return False
        name, addressee = match.group(1).lower(), match.group(2)
        if addressee:
            return addressee.lower() == self.tg.bot_username.lower()
        return name in OUR_COMMANDS

    def _delivered(self, chat: FakeChat) -> list[dict[str, Any]]:
        out = []
        for update in self.tg.updates:
            message = update.get("message") or update.get("edited_message")
            if message and message["chat"]["id"] == chat.id:
                out.append(message)
        return out

    def _answer_in(self, chat: FakeChat) -> Callable[[list[ApiCall]], bool]:
        def answered(calls: list[ApiCall]) -> bool:
            return any(
                c.method in ANSWERS and c.ok and c.params.get("chat_id") == chat.id for c in calls
            )

        return answered

    def _where(self) -> str:
        return f"seed {SEED}, step {self.stats.steps}: " + " | ".join(self.trail[-3:])

    def _check(
        self, actor: Actor, chat: FakeChat, before: int, errors_before: int, text: str | None
    ) -> None:
        tg = self.tg
        context = f"\nseed {SEED}; last steps:\n  " + "\n  ".join(self.trail[-15:])
        assert not self.handler_errors, f"error handler reached: {self.handler_errors!r}{context}"
        rejected = tg.errors[errors_before:]
        assert not rejected, f"Telegram refused: {[c.error for c in rejected]}{context}"
        new = tg.requests[before:]
        for call in new:
            body = str(call.params.get("text") or "")
            assert WENT_WRONG not in body, f"{body!r}{context}"
            if call.method in ("sendMessage", "editMessageText"):
                self._no_leak(call, body, context)
        cancel = text is not None and text.split("@")[0] == "/cancel" and actor.authorised
        if cancel and (chat.id > 0 or self._needs_answer(chat, tg.user_messages(chat)[-1])):
            self._idle(actor, chat, context)
        stranger = next(a for a in self.actors if not a.authorised)
        assert not self.app.user_data.get(stranger.user.id, {}).get("drafts"), context

    def _idle(self, actor: Actor, chat: FakeChat, context: str) -> None:
        key = (chat.id, actor.user.id)
        state = self.conversation._conversations.get(key)
        assert state is None, f"/cancel left state {state!r} for {key}{context}"
        drafts = self.app.user_data.get(actor.user.id, {}).get("drafts", {})
        assert str(chat.id) not in drafts, f"/cancel left a draft for {key}{context}"
        self.stats.cancels_checked += 1

    def _no_leak(self, call: ApiCall, body: str, context: str) -> None:
        chat_id = call.params.get("chat_id")
        if chat_id == ADMIN_ID:
            return  # the admin's /pending lists everyone's devices, by design
        if isinstance(chat_id, int) and chat_id > 0:
            audience = {chat_id}
        else:
            audience = {int(m) for m in re.findall(r"tg://user\?id=(\d+)", body)}
            if not audience:
                return  # a message to the whole group (watch status): no draft in it
        for other in self.actors:
            if other.user.id in audience or not other.authorised:
                continue
            for token in other.tokens:
                assert token not in body, (
                    f"{other.user.first_name}'s {token!r} shown to {audience}: {body[:300]!r}"
                    f"{context}"
                )


_STICKER = {
    "file_id": "CAACAgIAAxkBAAEFAKE",
    "file_unique_id": "AgADFAKE",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}
_VOICE = {"file_id": "AwACAgIAAxkBAAEVOICE", "file_unique_id": "AgADVOICE", "duration": 2}


def _callback_buttons(message: BotMessage) -> list[tuple[str, str]]:
    """The message's callback buttons, without access management ("a|...": Request access,
    Approve, Reject): the fuzzer's stranger must stay a stranger (tests/test_e2e_access.py
    covers those buttons)."""
    return [
        (t, d)
        for row in message.buttons()
        for t, d in row
        if d is not None and not d.startswith("a|")
    ]


def _has(message: BotMessage, prefix: str) -> bool:
    return any(text.startswith(prefix) for text, _data in _callback_buttons(message))


def _draft_id_in(messages: list[BotMessage]) -> str:
    for message in reversed(messages):
        for _text, data in _callback_buttons(message):
            if re.match(r"^[0-9a-f]{12}\|", data):
                return data[:12]
    return "abcdefabcdef"


@pytest.mark.timeout(0 if SEQUENCES else 90)
async def test_fuzz_random_sequences(sandbox: NavixySandbox, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    async with FakeTelegram() as tg:
        settings = make_settings(
            tg,
            sandbox.base_url,
            sandbox.new_api_key(),
            tmp_path / "bot.db",
            watch_tick_seconds=3600.0,  # no background edits mistaken for answers
        )
        async with running_bot(settings) as app:
            await catalog_ready(app)
            fuzzer = Fuzzer(tg, app, sandbox, rng)
            started = time.monotonic()
            stats = await fuzzer.run(sequences=SEQUENCES or None, seconds=SECONDS)
            elapsed = time.monotonic() - started
    print(
        f"\nfuzz seed {SEED}: {stats.sequences} sequences, {stats.steps} steps, "
        f"{stats.answers_checked} answers checked, {stats.cancels_checked} /cancel checked, "
        f"{len(sandbox.calls_to('tracker/register'))} registrations, {elapsed:.1f} s; "
        f"kinds {dict(sorted(stats.kinds.items()))}"
    )
    assert stats.sequences >= 1 and stats.steps >= STEPS_PER_SEQUENCE
