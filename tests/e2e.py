"""End-to-end harness: the real bot (built by bot.app) against the fake Telegram
server and the Navixy stand-in, both on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from telegram import Update

from bot.app import App, build_application
from bot.config import Settings, load_settings
from bot.telegram.context import AnyApp
from tests.fakes.telegram import BotMessage, FakeChat, FakeTelegram, FakeUser

ADMIN_ID = 1
INSTALLER_IDS = (100, 101, 102, 103)
STRANGER_ID = 666
ACTIVATION_CODES = ("6045325592", "123123123", "555000111")
IMEI = "356938035643809"  # Luhn-valid
IMEI_2 = "490154203237518"
PHONE_DE = "+49 170 1234567"
#: The summary card\'s heading, and its Register button.
CARD = "Check and register"
REGISTER = "✅ Register"

# Plugin list without 44 (and without 35): hardware registers with 37, the app with 68,
# and both need an activation code.
PLUGINS_NO_44: list[dict[str, Any]] = [
    {
        "id": 37,
        "type": "tracker_register",
        "module": "x",
        "ui_module": "x",
        "filter": {
            "exclusion": True,
            "values": ["navixymobile.*", "mobile_unknown.*", "iosnavixytracker.*"],
        },
    },
    {
        "id": 68,
        "type": "tracker_register",
        "module": "x",
        "ui_module": "x",
        "filter": {"exclusion": False, "values": ["mobile_unknown.*"]},
    },
]


def make_settings(
    tg: FakeTelegram, navixy_url: str, api_key: str, db: Path, **extra: Any
) -> Settings:
    return load_settings(
        _env_file=None,
        bot_token=tg.token,
        telegram_api_url=tg.url,
        navixy_api_url=navixy_url,
        navixy_api_key=api_key,
        database_path=db,
        admin_ids=str(ADMIN_ID),
        installer_ids=",".join(str(i) for i in INSTALLER_IDS),
        navixy_timeout_seconds=extra.pop("navixy_timeout_seconds", 3.0),
        **extra,
    )


AppT = TypeVar("AppT", bound=AnyApp)


@asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[App]:
    """Start the bot as `run_polling` would (post_init included) and stop it cleanly."""
    async with running_app(build_application(settings)) as app:
        yield app


@asynccontextmanager
async def running_app(app: AppT) -> AsyncIterator[AppT]:
    """Run any PTB `Application` (the bot, the bench's echo bot) as `run_polling` would."""
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(timeout=1, poll_interval=0, allowed_updates=Update.ALL_TYPES)
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


MENU_LANGUAGES = ("", "ar", "es", "pt", "ru", "tr")  # setMyCommands' codes ("": default)


async def command_menus_set(tg: FakeTelegram, *, admin_ids: tuple[int, ...] = ()) -> None:
    """Wait (bounded) until the bot has set its command menus (it does once polling runs):
    the default one in every language, and the admins' own."""

    def done() -> bool:
        return all(tg.my_commands(language_code=code) for code in MENU_LANGUAGES) and all(
            tg.my_commands("chat", code, chat_id=a) for a in admin_ids for code in MENU_LANGUAGES
        )

    await tg.wait_until(done, timeout=10, what="the command menus")


async def catalog_ready(app: App) -> None:
    """Wait (bounded) until the model catalogue is loaded."""
    from bot.telegram.context import SERVICES_KEY

    svc = app.bot_data[SERVICES_KEY]
    await svc.catalog.ensure()


class Installer:
    """One person in one chat, acting through the fake Telegram client."""

    def __init__(
        self, tg: FakeTelegram, user: FakeUser, chat: FakeChat, *, timeout: float = 5.0
    ) -> None:
        self.tg, self.user, self.chat = tg, user, chat
        # Default bound of each wait. Groups need more: the bot's rate limiter keeps to
        # Telegram's 20 messages a minute per group (one every 3 s after a burst of 20).
        self.timeout = timeout

    @property
    def group(self) -> bool:
        return self.chat.id < 0

    def last(self) -> BotMessage:
        return self.tg.last_message(self.chat)

    def _last_id(self) -> int:
        msgs = self.tg.messages(self.chat)
        return msgs[-1].message_id if msgs else 0

    def mentions_me(self, message: BotMessage) -> bool:
        """Does the bot's message mention this user (a tg://user link or a text_mention)?"""
        for entity in message.entities:
            if entity.get("url") == f"tg://user?id={self.user.id}":
                return True
            if entity.get("type") == "text_mention" and entity.get("user", {}).get("id") == (
                self.user.id
            ):
                return True
        return False

    async def send(
        self, text: str, *, expect: str | None = None, timeout: float | None = None
    ) -> BotMessage:
        """Send text; return the bot's next new message (containing `expect`, if given)."""
        after = self._last_id()
        # As a real client: a reply only where the bot opened this user's reply box.
        await self.tg.type_text(self.user, self.chat, text)
        return await self.tg.wait_for_message(
            self.chat, self._reply_to_me(expect), after=after, timeout=timeout or self.timeout
        )

    async def tap(
        self,
        button_text: str,
        *,
        expect: str | None = None,
        on: BotMessage | None = None,
        new_message: bool = True,
        timeout: float | None = None,
    ) -> BotMessage:
        """Tap a button (on the given message or the latest one that has it).

        `new_message`: the answer is a new message, or the tapped message edited into it
        (after a tap the bot turns the tapped question into the next one where it can);
        else only an edit of the tapped message counts.
        """
        target = on or self._with_button(button_text)
        after = self._last_id()
        await self.tg.press_button(self.user, self.chat, target.message_id, button_text)
        if new_message:
            return await self._answer(target.message_id, after, expect, timeout or self.timeout)
        return await self.tg.wait_for_edit(
            self.chat,
            target.message_id,
            (lambda m: expect in (m.text or "")) if expect else None,
            timeout=timeout or self.timeout,
        )

    async def _answer(
        self, tapped: int, after: int, expect: str | None, timeout: float
    ) -> BotMessage:
        """The first new message after `after`, or edit of message `tapped` (since the
        tap), that answers me and shows `expect`."""
        edits = next(m.edits for m in self.tg.messages(self.chat) if m.message_id == tapped)
        matches = self._reply_to_me(expect) or (lambda m: True)

        def found() -> BotMessage | None:
            for m in self.tg.messages(self.chat):
                fresh = m.message_id > after or (m.message_id == tapped and m.edits > edits)
                if fresh and matches(m):
                    return m
            return None

        message = await self.tg.wait_until(found, timeout=timeout, what=f"an answer {expect!r}")
        # Move the fake's cursors past it, as wait_for_message / wait_for_edit would.
        if message.message_id > after:
            await self.tg.wait_for_message(
                self.chat, lambda m: m.message_id == message.message_id, after=after
            )
        else:
            await self.tg.wait_for_edit(self.chat, tapped, lambda m: m.edits >= message.edits)
        return message

    def _reply_to_me(self, expect: str | None) -> Callable[[BotMessage], bool] | None:
        """A new message for me: containing `expect`; in a group, also mentioning me (the
        bot mentions the member it answers, so another member's turn is skipped)."""
        if not self.group:
            return (lambda m: expect in (m.text or "")) if expect else None
        return lambda m: self.mentions_me(m) and (expect is None or expect in (m.text or ""))

    def _with_button(self, text: str) -> BotMessage:
        """The latest message with the button; in a group, preferably one addressed to me."""
        candidates = [
            m for m in self.tg.messages(self.chat) if not m.deleted and text in m.button_texts()
        ]
        if self.group:
            candidates = [m for m in candidates if self.mentions_me(m)] or candidates
        if not candidates:
            raise AssertionError(f"no message with a button {text!r}")
        return candidates[-1]


def installer(
    tg: FakeTelegram, user_id: int = 100, *, lang: str = "en", name: str = "Ivan"
) -> Installer:
    """An installer in their private chat with the bot."""
    user = tg.user(user_id, name, language_code=lang)
    return Installer(tg, user, tg.private_chat(user))


async def to_imei_step(me: Installer, *, timeout: float | None = None) -> BotMessage:
    """/register, search "fmb140", pick the Teltonika FMB140: returns the IMEI question."""
    await me.send("/register", expect="Which device?", timeout=timeout)
    await me.send("fmb140", expect="Models matching", timeout=timeout)
    return await me.tap("Teltonika FMB140", expect="IMEI", timeout=timeout)


async def to_summary(
    me: Installer,
    *,
    imei: str = IMEI,
    phone: str = PHONE_DE,
    label: str = "AB 123 C",
    code: str | None = None,
) -> BotMessage:
    """/register .. the card for a Teltonika FMB140 (plugin 44, or 37 with `code`)."""
    await to_imei_step(me)
    await me.send(imei, expect="Phone number")
    await me.send(phone, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send(label, expect="Which group")
    if code is None:
        return await me.tap("Main office", expect=CARD)
    await me.tap("Main office", expect="Activation code")
    return await me.send(code, expect=CARD)


async def register(
    me: Installer, card: BotMessage | None = None, expect: str = "Registered"
) -> BotMessage:
    """Tap Register on the card (the last message by default); the card itself is edited
    with the outcome, which is returned."""
    return await me.tap(REGISTER, on=card or me.last(), expect=expect, new_message=False)
