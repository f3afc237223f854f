"""End-to-end reliability: restarts, kill -9, double presses, lost answers, Navixy outages
and secrets, with the real bot against the fake Telegram and the Navixy stand-in.

Every test asserts what the installer saw and the exact Navixy calls. Waits are event-driven
and bounded; the only polling (`eventually`) is on the SQLite file, for writes the bot makes
without telling anyone (a subprocess, or a start-up job), where there is nothing to await.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

import bot.services.registrar as registrar_module
from bot.app import App, build_application, configure_logging, resources_of
from bot.config import Settings
from bot.navixy.client import NavixyClient
from bot.navixy.models import RegisterRequest
from bot.sandbox import Delay, DropAfterCommit, ErrorFault, Hold, NavixySandbox
from bot.storage.db import Database
from bot.storage.journal import RegistrationJournal
from bot.storage.migrations import MIGRATIONS
from bot.telegram.common import NETWORK_RETRIES
from bot.telegram.context import SERVICES_KEY, Services
from tests.e2e import (
    ACTIVATION_CODES,
    ADMIN_ID,
    IMEI,
    INSTALLER_IDS,
    PHONE_DE,
    PLUGINS_NO_44,
    REGISTER,
    Installer,
    catalog_ready,
    installer,
    make_settings,
    running_bot,
    to_imei_step,
    to_summary,
)
from tests.fakes.telegram import BotMessage, FakeTelegram

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
LABEL = "AB 123 C"
GROUP_ID = 129301
APN_PASSWORD = "Pw-7f3kQz9x"
APN_USER = "apnuser"

# --- fixtures (tg, sandbox_kwargs and sandbox come from tests/conftest.py) -------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


@pytest.fixture
def api_key(sandbox: NavixySandbox) -> str:
    return sandbox.new_api_key()


@pytest.fixture
def settings(tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path) -> Settings:
    return make_settings(tg, sandbox.base_url, api_key, db_path)


# --- helpers: people, paths through the conversation -----------------------------------------


async def to_phone_step(me: Installer, *, timeout: float = 5.0) -> None:
    await to_imei_step(me, timeout=timeout)
    await me.send(IMEI, expect="Phone number", timeout=timeout)


async def phone_to_summary(me: Installer, *, timeout: float = 5.0) -> BotMessage:
    await me.send(PHONE_DE, expect="APN", timeout=timeout)
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send(LABEL, expect="Which group")
    return await me.tap("Main office", expect="Check and register")


async def mobile_to_summary(me: Installer, label: str = "Driver Anna") -> BotMessage:
    await me.send("/register", expect="Which device?")
    await me.tap("📱 X-GPS mobile app", expect="Name for this tracker")
    await me.send(label, expect="Which group")
    await me.tap("Main office", expect="Phone number to text")
    await me.tap("Skip", expect="E-mail address")
    return await me.tap("Skip", expect="Check and register")


def tracker_id_in(text: str | None) -> int:
    match = re.search(r"Tracker ID: (\d+)", text or "")
    assert match is not None, text
    return int(match.group(1))


def register_data(card: BotMessage) -> str:
    return card.button_data(REGISTER)


def services_of(app: App) -> Services:
    svc: Services = app.bot_data[SERVICES_KEY]
    return svc


# --- helpers: the bot in-process, with a crash instead of a clean stop -----------------------


async def start_bot(settings: Settings) -> App:
    """Start the bot as `run_polling` would (see tests/e2e.py `running_bot`)."""
    app = build_application(settings)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(timeout=1, poll_interval=0, allowed_updates=Update.ALL_TYPES)
    await app.start()
    return app


async def crash(app: App) -> None:
    """Stop the bot the way a killed process stops: nothing more is written to SQLite.

    `Application.shutdown()` would run a final `update_persistence()` and `flush()`, which
    could hide data that only reaches the database at a clean exit; it is NOT called. The
    updater and the application are stopped (PTB's `stop()` writes nothing), then only the
    resources a dead process releases anyway are closed: HTTP connections and the SQLite
    handle (anything not yet committed is rolled back, as after `kill -9`).
    """
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.bot.shutdown()
    resources = resources_of(app)
    await resources.client.aclose()
    await resources.db.close()


@contextlib.asynccontextmanager
async def bot_running(settings: Settings) -> AsyncIterator[App]:
    async with running_bot(settings) as app:
        await catalog_ready(app)
        yield app


# --- helpers: SQLite, read from outside the bot ----------------------------------------------


def read_db(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def journal(path: Path) -> list[dict[str, Any]]:
    return [dict(r) for r in read_db(path, "SELECT * FROM registration_attempts ORDER BY id")]


def conversation_states(path: Path) -> dict[str, str]:
    rows = read_db(path, "SELECT key, state FROM ptb_conversations WHERE name = 'registration'")
    return {r["key"]: r["state"] for r in rows}


async def eventually(
    check: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    """Bounded polling, only for state another process writes (SQLite of a subprocess)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(0.02)


# --- helpers: the bot as a real process ------------------------------------------------------


class BotProcess:
    """`python -m bot` with the production entry point, env settings and logging."""

    def __init__(self, tg: FakeTelegram, env: dict[str, str], cwd: Path, name: str) -> None:
        self.tg, self.env, self.cwd = tg, env, cwd
        self.stderr_path = cwd / f"{name}.stderr"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, *, timeout: float = 30.0) -> None:
        """Start it and wait until it long-polls the fake Telegram (or fails)."""
        polls_before = len(self.tg.calls("deleteWebhook"))
        with self.stderr_path.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=self.env,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )
        proc = self.proc
        ready = asyncio.ensure_future(
            self.tg.wait_until(
                lambda: (
                    len(self.tg.calls("deleteWebhook")) > polls_before and self.tg.polls_waiting > 0
                ),
                timeout=timeout,
                what="the bot process polls getUpdates",
            )
        )
        died = asyncio.ensure_future(proc.wait())
        done, _ = await asyncio.wait({ready, died}, return_when=asyncio.FIRST_COMPLETED)
        for task in (ready, died):
            if task not in done:
                task.cancel()
        await asyncio.gather(ready, died, return_exceptions=True)
        if died in done:
            raise AssertionError(f"bot process exited with {proc.returncode}:\n{self.stderr()}")
        ready.result()

    async def kill(self) -> None:
        """SIGKILL: no handler, no flush, no clean-up of any kind."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            async with asyncio.timeout(10):
                await proc.wait()
            assert proc.returncode == -signal.SIGKILL

    async def stop(self, *, timeout: float = 30.0) -> int:
        """SIGTERM (what `docker stop` sends) and wait for the exit; its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout):
            return await self.proc.wait()

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


@contextlib.asynccontextmanager
async def bot_processes(
    tg: FakeTelegram, env: dict[str, str], cwd: Path
) -> AsyncIterator[Callable[..., BotProcess]]:
    """Make BotProcess objects; every one of them is killed at the end, whatever happens."""
    made: list[BotProcess] = []

    def new(name: str, **overrides: str) -> BotProcess:
        proc = BotProcess(tg, {**env, **overrides}, cwd, name)
        made.append(proc)
        return proc

    try:
        yield new
    finally:
        for proc in made:
            with contextlib.suppress(ProcessLookupError):
                await proc.kill()


def process_env(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db: Path, log_level: str = "INFO"
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAVIXY_", "BOT_"))}
    env.update(
        BOT_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.url,
        NAVIXY_API_URL=sandbox.base_url,
        NAVIXY_API_KEY=api_key,
        NAVIXY_TIMEOUT_SECONDS="3",
        DATABASE_PATH=str(db),
        ADMIN_IDS=str(ADMIN_ID),
        INSTALLER_IDS=",".join(str(i) for i in INSTALLER_IDS),
        LOG_LEVEL=log_level,
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    return env


# =============================================================================================
# 1. A crash in the middle of the conversation, then a new application on the same file.
# =============================================================================================


async def test_crash_mid_conversation_resumes_at_the_same_step(
    tg: FakeTelegram, sandbox: NavixySandbox, settings: Settings, db_path: Path
) -> None:
    me = installer(tg)
    first = await start_bot(settings)
    try:
        await catalog_ready(first)
        await to_phone_step(me)
    finally:
        await crash(first)
    # Nothing but write-through put this there: the crash wrote nothing.
    assert conversation_states(db_path) == {f"[{me.chat.id}, {me.user.id}]": '"phone"'}

    async with bot_running(settings):
        # The answer to the question asked before the crash is taken as the phone number.
        await me.send(PHONE_DE, expect="The SIM belongs to Deutsche Telekom")
        await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
        await me.send(LABEL, expect="Which group")
        card = await me.tap("Main office", expect="Check and register")
        assert IMEI in (card.text or "")  # answered before the crash
        assert "Teltonika FMB140" in (card.text or "")
        done = await me.tap(REGISTER, on=card, new_message=False, expect="Registered")

    calls = sandbox.calls_to("tracker/register")
    assert len(calls) == 1
    params = calls[0].params
    assert params["model"] == "telfmb140"
    assert params["device_id"] == IMEI
    assert params["phone"] == "491701234567"
    assert params["apn_name"] == "internet.telekom"
    assert params["label"] == LABEL
    assert params["group_id"] == GROUP_ID
    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert not tg.errors


# =============================================================================================
# 2. kill -9 of the real process at the phone step; a second process finishes the job.
# =============================================================================================


async def test_kill_9_mid_conversation_then_second_process_registers_once(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path, tmp_path: Path
) -> None:
    env = process_env(tg, sandbox, api_key, db_path)
    me = installer(tg)
    key = f"[{me.chat.id}, {me.user.id}]"
    async with bot_processes(tg, env, tmp_path) as process:
        first = process("first")  # LOG_LEVEL=INFO, as in production
        await first.start()
        await to_phone_step(me, timeout=15)
        # The question is on screen; its state is written right after the handler returns.
        await eventually(
            lambda: conversation_states(db_path).get(key) == '"phone"',
            what="the phone step is committed",
        )
        await first.kill()

        second = process("second", LOG_LEVEL="DEBUG")  # the secrets check (7) at DEBUG
        await second.start()
        await me.send(PHONE_DE, expect="The SIM belongs to Deutsche Telekom", timeout=15)
        await me.tap("Enter another APN", expect="APN name")
        await me.send("internet.corp", expect="APN user name")
        await me.send(APN_USER, expect="APN password")
        await me.send(APN_PASSWORD, expect="Name for this tracker")
        await me.send(LABEL, expect="Which group")
        card = await me.tap("Main office", expect="Check and register")
        assert IMEI in (card.text or "")
        done = await me.tap(REGISTER, on=card, new_message=False, expect="Registered", timeout=15)
        await second.kill()

    calls = sandbox.calls_to("tracker/register")
    assert len(calls) == 1
    params = calls[0].params
    assert (params["device_id"], params["phone"], params["label"]) == (IMEI, "491701234567", LABEL)
    assert (params["apn_name"], params["apn_user"], params["apn_password"]) == (
        "internet.corp",
        APN_USER,
        APN_PASSWORD,
    )
    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert not tg.errors
    # Secrets (7): not in the processes' logs (INFO, then DEBUG), not in what the bot said.
    logs = first.stderr() + second.stderr()
    assert "Application started" in first.stderr()
    assert " DEBUG bot." in second.stderr()
    for secret in (tg.token, api_key, APN_PASSWORD):
        assert secret not in logs
    assert all(APN_PASSWORD not in (m.text or "") for m in tg.messages(me.chat))
    assert all(APN_PASSWORD not in str(v) for row in journal(db_path) for v in row.values())


# =============================================================================================
# 3. Register pressed twice; Register on a card shown before a restart.
# =============================================================================================


async def test_register_pressed_twice_registers_once(
    tg: FakeTelegram, sandbox: NavixySandbox, settings: Settings
) -> None:
    me = installer(tg)
    async with bot_running(settings):
        card = await to_summary(me)
        data = register_data(card)
        first = await tg.press(me.user, me.chat, card.message_id, data)
        second = await tg.press(me.user, me.chat, card.message_id, data)
        done = await tg.wait_for_edit(
            me.chat, card.message_id, lambda m: "Registered" in (m.text or "")
        )
        answer = await tg.wait_for_callback_answer(second)
        await tg.wait_for_callback_answer(first)
        await tg.wait_idle()

    (tracker,) = sandbox.trackers.values()
    assert len(sandbox.calls_to("tracker/register")) == 1
    assert tracker_id_in(done.text) == tracker.id
    assert answer["text"] == f"Already registered: tracker ID {tracker.id}."
    assert not tg.errors
    # No error message and no second result: the second press only got the callback answer.
    texts = [m.text or "" for m in tg.messages(me.chat)]
    assert not [t for t in texts if "went wrong" in t or "earlier card" in t]
    assert sum("Registered" in t for t in texts) == 1


async def test_card_deleted_while_registering_the_result_is_sent_anew(
    tg: FakeTelegram, sandbox: NavixySandbox, settings: Settings
) -> None:
    """The card can't be edited any more: the tracker ID comes as a new message."""
    me = installer(tg)
    async with bot_running(settings):
        card = await to_summary(me)
        sandbox.inject("tracker/register", Delay(2.0))  # "Registering…" shows after 1 s
        await tg.press(me.user, me.chat, card.message_id, register_data(card))
        await tg.wait_for_edit(me.chat, card.message_id, lambda m: "Registering" in (m.text or ""))
        tg.delete_for_everyone(me.chat, card.message_id)
        done = await tg.wait_for_message(me.chat, lambda m: "Registered" in (m.text or ""))

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert len(sandbox.calls_to("tracker/register")) == 1


async def test_register_on_the_card_after_a_crash(
    tg: FakeTelegram, sandbox: NavixySandbox, settings: Settings
) -> None:
    me = installer(tg)
    first = await start_bot(settings)
    try:
        await catalog_ready(first)
        card = await to_summary(me)
    finally:
        await crash(first)

    async with bot_running(settings):
        done = await me.tap(REGISTER, on=card, new_message=False, expect="Registered")

    (tracker,) = sandbox.trackers.values()
    (call,) = sandbox.calls_to("tracker/register")
    assert (call.params["device_id"], call.params["label"]) == (IMEI, LABEL)
    assert tracker_id_in(done.text) == tracker.id
    assert not tg.errors


# =============================================================================================
# 4. The answer to tracker/register is lost: dropped connection, timeout with a late commit.
# =============================================================================================


async def test_dropped_connection_after_commit_finds_the_tracker(
    tg: FakeTelegram, sandbox: NavixySandbox, settings: Settings, db_path: Path
) -> None:
    me = installer(tg)
    async with bot_running(settings):
        card = await to_summary(me)
        sandbox.inject("tracker/register", DropAfterCommit())
        done = await me.tap(REGISTER, on=card, new_message=False, expect="Registered")

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    register = sandbox.calls_to("tracker/register")
    assert len(register) == 1 and register[0].http_status == 0  # the answer never came
    assert len(sandbox.calls_to("tracker/list")) == 2  # the snapshot before, the lookup after
    assert [a for a in sandbox.calls if a.action.startswith("tracker/register")] == register
    (row,) = journal(db_path)
    assert (row["status"], row["tracker_id"], row["device_id"]) == ("success", tracker.id, IMEI)
    assert not tg.errors


async def test_timeout_then_late_commit_found_by_the_lookup(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path
) -> None:
    """The bot gives up at 1 s; its tracker/list lookup is answered after the late commit."""
    settings = make_settings(tg, sandbox.base_url, api_key, db_path, navixy_timeout_seconds=1.0)
    me = installer(tg)
    async with bot_running(settings):
        card = await to_summary(me)
        sandbox.inject("tracker/register", Delay(1.3))  # commits at ~1.3 s
        sandbox.inject("tracker/list", Delay(0))  # the snapshot before sending
        sandbox.inject("tracker/list", Delay(0.7))  # asked at ~1 s, answered at ~1.7 s
        done = await me.tap(REGISTER, on=card, new_message=False, expect="Registered")

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert len(sandbox.calls_to("tracker/register")) == 1
    assert len(sandbox.calls_to("tracker/list")) == 2  # the snapshot, the lookup
    (row,) = journal(db_path)
    assert (row["status"], row["tracker_id"]) == ("success", tracker.id)
    assert not tg.errors


async def test_timeout_before_commit_then_retry_finds_it(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path
) -> None:
    settings = make_settings(tg, sandbox.base_url, api_key, db_path, navixy_timeout_seconds=0.5)
    me = installer(tg)
    async with bot_running(settings):
        card = await to_summary(me)
        late = Hold()
        sandbox.inject("tracker/register", late)
        failed = await me.tap(REGISTER, on=card, new_message=False, expect="did not answer")
        assert "🔁 Retry" in failed.button_texts()
        assert not sandbox.trackers  # the lookup ran before the late commit
        assert [r["status"] for r in journal(db_path)] == ["unknown"]
        late.release()
        async with asyncio.timeout(5):
            await sandbox.wait_for_calls("tracker/register")  # the late commit
        done = await me.tap("🔁 Retry", on=failed, new_message=False, expect="Registered")

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert len(sandbox.calls_to("tracker/register")) == 1  # Retry looked before sending
    assert len(sandbox.calls_to("tracker/list")) == 3  # snapshot, lookup, Retry's lookup
    (row,) = journal(db_path)
    assert (row["status"], row["tracker_id"]) == ("success", tracker.id)
    assert not tg.errors


async def test_late_commit_after_a_restart_is_found_on_retry(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path
) -> None:
    """Timeout; restart; the start-up lookup finds nothing yet (Navixy is slow) and, the
    attempt being recent, leaves it open; then the tracker appears. Retry looks first and
    finds it: nothing is sent again."""
    settings = make_settings(tg, sandbox.base_url, api_key, db_path, navixy_timeout_seconds=0.5)
    me = installer(tg)
    first = await start_bot(settings)
    try:
        await catalog_ready(first)
        card = await to_summary(me)
        late = Hold()
        sandbox.inject("tracker/register", late)
        failed = await me.tap(REGISTER, on=card, new_message=False, expect="did not answer")
    finally:
        await crash(first)
    async with bot_running(settings):
        async with asyncio.timeout(5):
            await sandbox.wait_for_calls("tracker/list", 3)  # the start-up lookup
        assert not sandbox.trackers
        assert [r["status"] for r in journal(db_path)] == ["unknown"]
        late.release()
        async with asyncio.timeout(5):
            await sandbox.wait_for_calls("tracker/register")  # the late commit
        done = await me.tap("🔁 Retry", on=failed, new_message=False, expect="Registered")

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert len(sandbox.calls_to("tracker/register")) == 1
    rows = journal(db_path)
    assert [(r["status"], r["tracker_id"]) for r in rows] == [("success", tracker.id)]
    assert not tg.errors


async def test_late_commit_after_a_restart_224_is_resolved_as_ours(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    api_key: str,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Timeout; restart; the start-up lookup finds nothing and (settling at once here)
    marks the attempt as not created; then the tracker appears. Retry gets 224 for the
    device ID: the bot recognises its own tracker instead of reporting "already in use"."""
    monkeypatch.setattr(registrar_module, "SETTLE_AFTER", timedelta(0))
    settings = make_settings(tg, sandbox.base_url, api_key, db_path, navixy_timeout_seconds=0.5)
    me = installer(tg)
    first = await start_bot(settings)
    try:
        await catalog_ready(first)
        card = await to_summary(me)
        late = Hold()
        sandbox.inject("tracker/register", late)
        failed = await me.tap(REGISTER, on=card, new_message=False, expect="did not answer")
    finally:
        await crash(first)
    async with bot_running(settings):
        async with asyncio.timeout(5):
            await sandbox.wait_for_calls("tracker/list", 3)  # the start-up lookup
        assert not sandbox.trackers
        await eventually(lambda: [r["status"] for r in journal(db_path)] == ["failed"])
        late.release()
        async with asyncio.timeout(5):
            await sandbox.wait_for_calls("tracker/register")  # the late commit
        done = await me.tap("🔁 Retry", on=failed, new_message=False, expect="Registered")

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    register = sandbox.calls_to("tracker/register")
    assert len(register) == 2
    assert register[1].response is not None
    assert register[1].response["status"]["code"] == 224
    rows = journal(db_path)
    assert [r["tracker_id"] for r in rows if r["status"] == "success"] == [tracker.id]
    assert not tg.errors


async def test_timeout_before_commit_then_retry_mobile_app_no_second_tracker(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path
) -> None:
    """Platform-assigned device IDs: no 224 can save us, so Retry must look first."""
    settings = make_settings(tg, sandbox.base_url, api_key, db_path, navixy_timeout_seconds=0.5)
    me = installer(tg)
    async with bot_running(settings):
        card = await mobile_to_summary(me)
        late = Hold()
        sandbox.inject("tracker/register", late)
        failed = await me.tap(REGISTER, on=card, new_message=False, expect="did not answer")
        late.release()
        async with asyncio.timeout(5):
            await sandbox.wait_for_calls("tracker/register")
        done = await me.tap("🔁 Retry", on=failed, new_message=False, expect="Registered")

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert len(sandbox.calls_to("tracker/register")) == 1
    assert not tg.errors


async def test_retry_too_soon_for_a_platform_assigned_id_waits_for_navixy(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path
) -> None:
    """While a timed-out request may still be running, Retry does not send it again."""
    settings = make_settings(tg, sandbox.base_url, api_key, db_path, navixy_timeout_seconds=0.5)
    me = installer(tg)
    async with bot_running(settings):
        card = await mobile_to_summary(me)
        late = Hold()
        sandbox.inject("tracker/register", late)
        failed = await me.tap(REGISTER, on=card, new_message=False, expect="did not answer")
        waiting = await me.tap(
            "🔁 Retry", on=failed, new_message=False, expect="has not confirmed the registration"
        )
        late.release()
        await eventually(lambda: bool(sandbox.trackers), timeout=10, what="the late commit")
        done = await me.tap("🔁 Retry", on=waiting, new_message=False, expect="Registered")

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert len(sandbox.calls_to("tracker/register")) == 1
    assert not tg.errors


async def test_cancel_after_no_answer_then_the_late_tracker_is_announced(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path
) -> None:
    """Cancelling after "Navixy did not answer" does not claim nothing was registered; the
    periodic journal check finds the late tracker and tells the installer."""
    settings = make_settings(tg, sandbox.base_url, api_key, db_path, navixy_timeout_seconds=0.5)
    me = installer(tg)
    async with bot_running(settings) as app:
        card = await to_summary(me)
        late = Hold()
        sandbox.inject("tracker/register", late)
        await me.tap(REGISTER, on=card, new_message=False, expect="did not answer")
        cancelled = await me.send("/cancel", expect="Cancelled")
        assert "I keep checking" in (cancelled.text or "")
        assert "Nothing was registered" not in (cancelled.text or "")
        late.release()
        await eventually(lambda: bool(sandbox.trackers), timeout=10, what="the late commit")
        assert app.job_queue is not None
        (job,) = app.job_queue.get_jobs_by_name("journal-resolve")
        await job.run(app)
        notice = await tg.wait_for_message(
            me.chat, lambda m: "Registered" in (m.text or ""), after=cancelled.message_id
        )

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(notice.text) == tracker.id
    assert [(r["status"], r["tracker_id"]) for r in journal(db_path)] == [("success", tracker.id)]
    assert len(sandbox.calls_to("tracker/register")) == 1
    assert not tg.errors


# =============================================================================================
# 5. A crash after sending, before the answer was recorded: a SENDING row at start-up.
# =============================================================================================


async def test_sending_row_resolved_at_startup_and_old_card_registers_nothing(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, settings: Settings, db_path: Path
) -> None:
    me = installer(tg)
    first = await start_bot(settings)
    try:
        await catalog_ready(first)
        card = await to_summary(me)
    finally:
        await crash(first)
    draft_id = register_data(card).partition("|")[0]
    # What the crashed process did last: journal the attempt, then send it (Navixy created
    # the tracker; the answer was never recorded).
    request = RegisterRequest(
        label=LABEL,
        group_id=GROUP_ID,
        plugin_id=44,
        model="telfmb140",
        device_id=IMEI,
        phone="491701234567",
        apn_name="internet.telekom",
    )
    async with await Database.open(db_path) as db:
        await RegistrationJournal(db).begin(
            draft_id=draft_id,
            user_id=me.user.id,
            chat_id=me.chat.id,
            model=request.model,
            plugin_id=request.plugin_id,
            device_id=request.device_id,
            label=request.label,
            group_id=request.group_id,
        )
    async with NavixyClient(sandbox.base_url, api_key=api_key) as client:
        created = await client.register(request)
    assert [r["status"] for r in journal(db_path)] == ["sending"]

    async with bot_running(settings):
        notice = await tg.wait_for_message(
            me.chat, lambda m: "Registered" in (m.text or ""), after=card.message_id
        )
        assert tracker_id_in(notice.text) == created.id
        (row,) = journal(db_path)
        assert (row["status"], row["tracker_id"]) == ("success", created.id)
        # The recovered registration is followed until online, like any other: the
        # result is the watch's status message.
        assert WAITING in (notice.text or "")
        # The installer presses Register on the card they still have.
        done = await me.tap(REGISTER, on=card, new_message=False, expect="Registered")

    assert tracker_id_in(done.text) == created.id
    assert len(sandbox.calls_to("tracker/register")) == 1  # the crashed process's one
    assert list(sandbox.trackers) == [created.id]
    assert len(journal(db_path)) == 1
    # Still one status message for the tracker: the confirmation did not start a second watch.
    assert [m.message_id for m in tg.messages(me.chat) if WAITING in (m.text or "")] == [
        notice.message_id
    ]
    assert not tg.errors


async def test_sending_row_not_created_is_settled_and_register_sends_once(
    tg: FakeTelegram, sandbox: NavixySandbox, settings: Settings, db_path: Path
) -> None:
    """The crash came before the request reached Navixy: nothing to announce, one call."""
    me = installer(tg)
    first = await start_bot(settings)
    try:
        await catalog_ready(first)
        card = await to_summary(me)
    finally:
        await crash(first)
    draft_id = register_data(card).partition("|")[0]
    async with await Database.open(db_path) as db:
        await RegistrationJournal(db).begin(
            draft_id=draft_id,
            user_id=me.user.id,
            chat_id=me.chat.id,
            model="telfmb140",
            plugin_id=44,
            device_id=IMEI,
            label=LABEL,
            group_id=GROUP_ID,
        )

    async with bot_running(settings):
        async with asyncio.timeout(5):
            await sandbox.wait_for_calls("tracker/list")
        await tg.wait_idle()
        # Looked for and not found; being recent it is not settled yet (Navixy could still
        # be working on it). Register settles it (an IMEI is protected by 224) and sends.
        assert [r["status"] for r in journal(db_path)] == ["sending"]
        assert tg.last_message(me.chat).message_id == card.message_id  # no notice
        done = await me.tap(REGISTER, on=card, new_message=False, expect="Registered")

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert len(sandbox.calls_to("tracker/register")) == 1
    assert [r["status"] for r in journal(db_path)] == ["failed", "success"]
    assert not tg.errors


async def test_kill_9_during_register_is_resolved_by_the_next_process(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path, tmp_path: Path
) -> None:
    env = process_env(tg, sandbox, api_key, db_path)
    me = installer(tg)
    arrived = asyncio.Event()  # Navixy has read the whole register request
    parse = sandbox._parse

    async def spy(request: Any, call: Any) -> Any:
        typed = await parse(request, call)
        if call.action == "tracker/register":
            arrived.set()
        return typed

    sandbox._parse = spy  # type: ignore[method-assign]
    async with bot_processes(tg, env, tmp_path) as process:
        first = process("first")
        await first.start()
        await to_phone_step(me, timeout=15)
        card = await phone_to_summary(me)
        sandbox.inject("tracker/register", Delay(1.0))
        await tg.press(me.user, me.chat, card.message_id, register_data(card))
        async with asyncio.timeout(10):
            await arrived.wait()  # journaled as SENDING (durably) before it was sent
        await first.kill()
        assert [r["status"] for r in journal(db_path)] == ["sending"]
        async with asyncio.timeout(5):
            await sandbox.wait_for_calls("tracker/register")  # Navixy commits anyway
        (tracker,) = sandbox.trackers.values()

        second = process("second")
        await second.start()
        notice = await tg.wait_for_message(
            me.chat, lambda m: "Registered" in (m.text or ""), after=card.message_id, timeout=15
        )
        assert tracker_id_in(notice.text) == tracker.id
        await eventually(lambda: journal(db_path)[0]["status"] == "success", what="resolved")
        await second.kill()

    (row,) = journal(db_path)
    assert (row["status"], row["tracker_id"]) == ("success", tracker.id)
    assert len(sandbox.calls_to("tracker/register")) == 1
    assert len(sandbox.trackers) == 1
    assert not tg.errors


# =============================================================================================
# 6. Navixy down at start-up: the model search answers from the cache.
# =============================================================================================


async def test_model_search_from_cache_when_list_models_fails(
    tg: FakeTelegram, sandbox: NavixySandbox, settings: Settings, db_path: Path
) -> None:
    me = installer(tg)
    async with bot_running(settings):
        pass  # the first run fetched the models and cached them
    fetched = len(sandbox.calls_to("tracker/list_models"))
    # A day later: the cache is stale, and Navixy answers "try again later" every time.
    old = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute("UPDATE model_cache SET fetched_at = ?", (old,))
    sandbox.inject("tracker/list_models", ErrorFault(8), times=50)

    async with running_bot(settings):
        async with asyncio.timeout(10):
            await sandbox.wait_for_calls("tracker/list_models", fetched + 1)  # refresh tried
        await me.send("/register", expect="Which device?")
        hits = await me.send("fmb140", expect="Models matching")
        assert "Teltonika FMB140" in hits.button_texts()
    assert all(c.http_status == 503 for c in sandbox.calls_to("tracker/list_models")[fetched:])
    assert not tg.errors


async def test_model_search_from_cache_when_navixy_is_unreachable(
    tg: FakeTelegram, sandbox: NavixySandbox, settings: Settings, api_key: str, db_path: Path
) -> None:
    me = installer(tg)
    async with bot_running(settings):
        pass
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v2"
    down = make_settings(tg, dead, api_key, db_path)
    async with running_bot(down):
        await me.send("/register", expect="Which device?")
        hits = await me.send("fmb140", expect="Models matching")
        assert "Teltonika FMB140" in hits.button_texts()
    assert not tg.errors


# =============================================================================================
# 7. Secrets never leak: logs (DEBUG), chat, journal.
# =============================================================================================


@pytest.fixture
def production_logging() -> Iterator[Callable[[Settings], None]]:
    """Configure logging exactly as `python -m bot` does (`configure_logging`), keeping
    pytest's capturing handlers on the root logger: caplog then holds every record that the
    production configuration lets through, before any redaction by its handler."""
    root = logging.getLogger()
    saved: dict[str, Any] = {}

    def apply(settings: Settings) -> None:
        saved["handlers"], saved["level"] = root.handlers[:], root.level
        saved["levels"] = {n: logging.getLogger(n).level for n in root.manager.loggerDict}
        configure_logging(settings)
        for handler in saved["handlers"]:
            root.addHandler(handler)

    yield apply
    if saved:
        root.handlers[:] = saved["handlers"]
        root.setLevel(saved["level"])
        for name in list(root.manager.loggerDict):
            logging.getLogger(name).setLevel(saved["levels"].get(name, logging.NOTSET))


@pytest.mark.parametrize("sandbox_kwargs", [{"plugins": PLUGINS_NO_44}])
async def test_secrets_never_leak(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    api_key: str,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
    production_logging: Callable[[Settings], None],
) -> None:
    settings = make_settings(tg, sandbox.base_url, api_key, db_path, log_level="DEBUG")
    production_logging(settings)
    code = ACTIVATION_CODES[0]
    me = installer(tg)
    async with bot_running(settings):
        await to_phone_step(me)
        await me.send(PHONE_DE, expect="The SIM belongs to Deutsche Telekom")
        await me.tap("Enter another APN", expect="APN name")
        await me.send("internet.corp", expect="APN user name")
        await me.send(APN_USER, expect="APN password")
        await me.send(APN_PASSWORD, expect="Name for this tracker")
        await me.send(LABEL, expect="Which group")
        await me.tap("Main office", expect="Activation code")
        card = await me.send(code, expect="Check and register")
        # The stored draft (written after every step) holds both secrets sealed only.
        stored = "\n".join(_dump(db_path))
        assert "sealed:" in stored
        assert code not in stored and APN_PASSWORD not in stored
        done = await me.tap(REGISTER, on=card, new_message=False, expect="Registered")

    (call,) = sandbox.calls_to("tracker/register")
    assert call.params["activation_code"] == code
    assert call.params["apn_password"] == APN_PASSWORD
    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert not tg.errors

    records = caplog.records
    assert any(r.levelno == logging.DEBUG and r.name.startswith("bot.") for r in records)
    lines = [r.getMessage() for r in records] + [caplog.text]
    for secret in (api_key, tg.token, code, APN_PASSWORD):
        leaks = [line for line in lines if secret in line]
        assert not leaks, f"a secret is in the logs: {leaks[:3]}"
    # The installer's messages carrying secrets were deleted; the bot never repeats them.
    for message in tg.messages(me.chat):
        for secret in (code, APN_PASSWORD):
            assert secret not in (message.text or "")
            assert secret not in str(message.reply_markup or "")
    sent = [c for c in tg.requests if c.method.lower() in ("sendmessage", "editmessagetext")]
    assert all(code not in str(c.params) and APN_PASSWORD not in str(c.params) for c in sent)
    rows = journal(db_path)
    assert rows and all(r["status"] in ("success",) for r in rows)
    for row in rows:
        for column, value in row.items():
            assert code not in str(value), column
            assert APN_PASSWORD not in str(value), column


def _dump(db_path: Path) -> list[str]:
    """Every row of every table, as SQL text (WAL content included)."""
    with closing(sqlite3.connect(db_path)) as conn:
        return list(conn.iterdump())


# =============================================================================================
# 7. Never a wrong or lost result (issue 8): unknown outcomes for platform-assigned IDs, and
#    the result's delivery as its own durable step.
# =============================================================================================


async def register_foreign_app(sandbox: NavixySandbox, api_key: str, label: str) -> Any:
    """A tracker of the account that the bot did not create (someone used the web UI)."""
    async with NavixyClient(sandbox.base_url, api_key=api_key) as client:
        return await client.register(
            RegisterRequest(label=label, group_id=0, plugin_id=35, model="mobile_unknown_xgps")
        )


def said(tg: FakeTelegram, me: Installer) -> list[str]:
    """Everything the installer was shown: every message text and every edit of one."""
    texts = [m.text or "" for m in tg.messages(me.chat)]
    for call in tg.calls("editMessageText") + tg.calls("sendMessage"):
        if str(call.params.get("chat_id")) == str(me.chat.id):
            texts.append(str(call.params.get("text", "")))
    return texts


@pytest.mark.parametrize("fault", [ErrorFault(1), ErrorFault(6)], ids=["500-db", "500-unexpected"])
async def test_app_500_never_adopts_someone_elses_tracker_with_the_same_label(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    api_key: str,
    settings: Settings,
    db_path: Path,
    fault: ErrorFault,
) -> None:
    foreign = await register_foreign_app(sandbox, api_key, "Van 7")
    me = installer(tg)
    async with bot_running(settings):
        card = await mobile_to_summary(me, label="Van 7")
        sandbox.inject("tracker/register", fault)  # HTTP 500, nothing created
        failed = await me.tap(REGISTER, on=card, new_message=False, expect="did not answer")
        assert "the tracker is not there, nothing was registered" in (failed.text or "")
        assert list(sandbox.trackers) == [foreign.id]
        # Retry sends it again at once (a 500 is an answer: nothing is still in progress).
        done = await me.tap("🔁 Retry", on=failed, new_message=False, expect="Registered")

    ours = tracker_id_in(done.text)
    assert ours != foreign.id and set(sandbox.trackers) == {foreign.id, ours}
    # Never shown the foreign tracker's ID or identifier; told "checking" while it looked.
    shown = said(tg, me)
    assert not [t for t in shown if str(foreign.id) in t or foreign.source.device_id in t]
    assert any("Checking whether the tracker was created" in t for t in shown)
    assert sandbox.trackers[ours].device_id in (done.text or "")
    assert [(r["status"], r["tracker_id"]) for r in journal(db_path)] == [
        ("failed", None),
        ("success", ours),
    ]
    (snapshot_row, _) = journal(db_path)
    assert snapshot_row["snapshot"] == f"[{foreign.id}]"
    assert len(sandbox.calls_to("tracker/register")) == 3  # the foreign one, ours twice
    assert not tg.errors


async def test_app_timeout_with_a_look_alike_created_meanwhile_by_someone_else_is_not_adopted(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path
) -> None:
    """A timeout, then Navixy commits late: Retry finds the new tracker, never the older
    look-alike that was in the snapshot, and sends nothing again."""
    settings = make_settings(tg, sandbox.base_url, api_key, db_path, navixy_timeout_seconds=0.5)
    foreign = await register_foreign_app(sandbox, api_key, "Van 7")
    me = installer(tg)
    async with bot_running(settings):
        card = await mobile_to_summary(me, label="Van 7")
        sandbox.inject("tracker/register", Delay(1.5))
        failed = await me.tap(REGISTER, on=card, new_message=False, expect="did not answer")
        assert "may still be creating it" in (failed.text or "")
        async with asyncio.timeout(5):
            await sandbox.wait_for_calls("tracker/register", 2)  # the late commit
        done = await me.tap("🔁 Retry", on=failed, new_message=False, expect="Registered")

    ours = tracker_id_in(done.text)
    assert ours != foreign.id and set(sandbox.trackers) == {foreign.id, ours}
    assert not [t for t in said(tg, me) if str(foreign.id) in t]
    assert len(sandbox.calls_to("tracker/register")) == 2  # the foreign one, ours once
    assert not tg.errors


#: A watch's status message (the registration's result, which it is) while it waits.
WAITING = "Waiting for the first connection"


def _registered_texts(tg: FakeTelegram, me: Installer) -> list[BotMessage]:
    return [m for m in tg.messages(me.chat) if "Registered" in (m.text or "")]


def _is_result(params: Any) -> bool:
    return "Registered." in str(params.get("text", ""))


@pytest.mark.parametrize("mobile", [False, True], ids=["hardware", "app"])
async def test_result_edit_and_resend_fail_the_result_is_delivered_later_once(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    api_key: str,
    db_path: Path,
    mobile: bool,
) -> None:
    """Telegram fails the result edit and its resend: the success stays "delivery pending";
    /register of the same device meanwhile gets that result (no second tracker); the
    periodic job has nothing left to send; the watch starts from the journal."""
    from tests.fakes.faulty_telegram import FaultyTelegram, TgError

    async with FaultyTelegram(tg) as proxy:
        settings = make_settings(tg, sandbox.base_url, api_key, db_path)
        settings = settings.model_copy(update={"telegram_api_url": proxy.url})
        me = installer(tg)
        async with bot_running(settings) as app:
            card = await (mobile_to_summary(me, "Van 7") if mobile else to_summary(me))
            # Every result (a device's status message, the app's result) goes through the
            # send layer, which tries a 5xx again twice.
            times = 1 + NETWORK_RETRIES
            proxy.inject("editMessageText", TgError(502), times=times, when=_is_result)
            proxy.inject("sendMessage", TgError(500), times=times, when=_is_result)
            await tg.press(me.user, me.chat, card.message_id, register_data(card))
            await eventually(lambda: bool(journal(db_path)), what="journaled")
            await eventually(
                lambda: journal(db_path)[0]["status"] == "success" and proxy.total == 2 * times,
                what="registered, result lost",
            )
            await tg.wait_idle()
            (row,) = journal(db_path)
            assert row["delivered_at"] is None
            assert _registered_texts(tg, me) == []
            # The installer never saw it and registers the same device again.
            again = await (mobile_to_summary(me, "Van 7") if mobile else to_summary(me))
            done = await me.tap(REGISTER, on=again, new_message=False, expect="Registered")
            assert app.job_queue is not None
            (job,) = app.job_queue.get_jobs_by_name("journal-resolve")
            await job.run(app)  # nothing left to deliver
            await tg.wait_idle()

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(done.text) == tracker.id
    assert [m.message_id for m in _registered_texts(tg, me)] == [done.message_id]
    assert len(sandbox.calls_to("tracker/register")) == 1
    (row,) = journal(db_path)
    assert row["delivered_at"] is not None
    watching = [m for m in tg.messages(me.chat) if WAITING in (m.text or "")]
    assert len(watching) == (0 if mobile else 1)
    assert not tg.errors


async def test_result_lost_then_delivered_by_the_job_with_the_watch(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, db_path: Path
) -> None:
    from tests.fakes.faulty_telegram import FaultyTelegram, TgError

    async with FaultyTelegram(tg) as proxy:
        settings = make_settings(tg, sandbox.base_url, api_key, db_path)
        settings = settings.model_copy(update={"telegram_api_url": proxy.url})
        me = installer(tg)
        async with bot_running(settings) as app:
            card = await to_summary(me)
            # The result edit (tried again twice after a 5xx) and its resend fail.
            edits = 1 + NETWORK_RETRIES
            proxy.inject("editMessageText", TgError(500), times=edits, when=_is_result)
            proxy.inject("sendMessage", TgError(429, retry_after=1), times=3, when=_is_result)
            await tg.press(me.user, me.chat, card.message_id, register_data(card))
            await eventually(lambda: proxy.total == edits + 3, what="edits and 3 sends failed")
            await tg.wait_idle()
            assert _registered_texts(tg, me) == []
            assert app.job_queue is not None
            (job,) = app.job_queue.get_jobs_by_name("journal-resolve")
            await job.run(app)
            notice = await tg.wait_for_message(me.chat, lambda m: "Registered" in (m.text or ""))
            assert WAITING in (notice.text or "")  # the result is the watch's status message
            await job.run(app)  # delivered once: nothing more
            await tg.wait_idle()

    (tracker,) = sandbox.trackers.values()
    assert tracker_id_in(notice.text) == tracker.id
    assert len(_registered_texts(tg, me)) == 1
    (row,) = journal(db_path)
    assert row["delivered_at"] is not None and row["card_message_id"] == notice.message_id
    assert not tg.errors


@pytest.mark.parametrize("mobile", [False, True], ids=["hardware", "app"])
async def test_kill_9_between_navixy_and_the_chat_result_delivered_after_restart(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    api_key: str,
    db_path: Path,
    tmp_path: Path,
    mobile: bool,
) -> None:
    """Navixy created the tracker; the bot is killed while Telegram holds the result edit.
    The next process delivers "Registered" once, starts the watch, and the installer's
    /register of the same device makes no second tracker."""
    from tests.fakes.faulty_telegram import FaultyTelegram, TgHold

    async with FaultyTelegram(tg) as proxy:
        env = process_env(tg, sandbox, api_key, db_path)
        env["TELEGRAM_API_URL"] = proxy.url
        me = installer(tg)
        async with bot_processes(tg, env, tmp_path) as process:
            first = process("first")
            await first.start()
            if mobile:
                card = await mobile_to_summary(me, "Van 7")
            else:
                await to_phone_step(me, timeout=15)
                card = await phone_to_summary(me)
            proxy.inject("editMessageText", TgHold(), when=_is_result)
            await tg.press(me.user, me.chat, card.message_id, register_data(card))
            async with asyncio.timeout(15):
                await proxy.held.wait()  # the result is on its way to the chat
            await first.kill()
            (tracker,) = sandbox.trackers.values()
            (row,) = journal(db_path)
            assert (row["status"], row["delivered_at"]) == ("success", None)
            proxy.calm()

            second = process("second")
            await second.start()
            notice = await tg.wait_for_message(
                me.chat, lambda m: "Registered" in (m.text or ""), timeout=15
            )
            assert tracker_id_in(notice.text) == tracker.id
            # The result is the watch's status message (the app is not watched).
            assert (WAITING in (notice.text or "")) is not mobile
            await eventually(lambda: journal(db_path)[0]["delivered_at"] is not None)
            # The installer registers the same device again anyway.
            if mobile:
                again = await mobile_to_summary(me, "Van 7")
                await me.tap(REGISTER, on=again, new_message=False, expect="Registered")
                await second.kill()
            else:
                await to_phone_step(me, timeout=15)
                again = await phone_to_summary(me)
                await me.tap(REGISTER, on=again, new_message=False, expect="already")
                await second.kill()

    if mobile:
        # A delivered result was seen: a second app with the same label is a new registration.
        assert len(sandbox.calls_to("tracker/register")) == 2
    else:
        assert list(sandbox.trackers) == [tracker.id]
    assert len([m for m in _registered_texts(tg, me) if m.message_id <= notice.message_id]) == 1
    assert not tg.errors


# =============================================================================================
# 8. Storage at start (issue 8, item 6): refuse with one clear line, or quarantine one row.
# =============================================================================================


async def run_until_exit(
    command: list[str], env: dict[str, str], cwd: Path, *, timeout: float = 30.0
) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, err.decode(errors="replace")


def read_only(target: Path) -> list[str]:
    """`python -m bot` with `target` (a file or a directory) read-only.

    As root, permissions don't stop writes: the target is bind-mounted read-only in a
    private mount namespace (a read-only file system, as on a mis-mounted volume).
    """
    bot = [sys.executable, "-m", "bot"]
    if os.geteuid() != 0:
        target.chmod(0o555 if target.is_dir() else 0o444)
        return bot
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(target), *bot]


def assert_one_clear_line(code: int, stderr: str, *needles: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("startup error:")]
    assert code == 1, stderr
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


async def make_database(path: Path, sql: str = "") -> None:
    async with await Database.open(path) as db:
        if sql:
            async with db.transaction() as conn:
                await conn.executescript(sql)


@pytest.mark.parametrize("what", ["directory", "file"])
async def test_read_only_database_refuses_to_start_with_one_line(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, tmp_path: Path, what: str
) -> None:
    folder = tmp_path / "data"
    db = folder / "bot.db"
    await make_database(db)
    env = process_env(tg, sandbox, api_key, db)
    try:
        code, err = await run_until_exit(
            read_only(folder if what == "directory" else db), env, tmp_path
        )
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    assert_one_clear_line(code, err, str(folder), "writable")
    assert tg.requests == []  # refused before anything was served
    assert sandbox.calls == []


@pytest.mark.parametrize("damage", ["garbage", "overwritten-pages"])
async def test_corrupt_database_refuses_to_start_with_one_line(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, tmp_path: Path, damage: str
) -> None:
    db = tmp_path / "bot.db"
    if damage == "garbage":
        db.write_bytes(os.urandom(8192))
    else:
        rows = ",".join(f"({i}, '{{}}', 'x')" for i in range(1, 400))
        await make_database(db, f"INSERT INTO ptb_user_data VALUES {rows};")
        raw = bytearray(db.read_bytes())
        raw[4096:12288] = os.urandom(8192)  # pages 2-3: tables and indexes
        db.write_bytes(bytes(raw))
    env = process_env(tg, sandbox, api_key, db)
    code, err = await run_until_exit([sys.executable, "-m", "bot"], env, tmp_path)
    assert_one_clear_line(code, err, str(db), "damaged")
    assert tg.requests == []


async def test_newer_schema_refuses_to_start_with_one_line(
    tg: FakeTelegram, sandbox: NavixySandbox, api_key: str, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    await make_database(db)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 7}")
        conn.commit()
    env = process_env(tg, sandbox, api_key, db)
    code, err = await run_until_exit([sys.executable, "-m", "bot"], env, tmp_path)
    assert_one_clear_line(code, err, f"schema version {len(MIGRATIONS) + 7}", "upgrade the bot")
    assert tg.requests == []


async def test_malformed_rows_are_quarantined_and_everyone_is_served(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    settings: Settings,
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = datetime.now(UTC).isoformat()
    await make_database(
        db_path,
        f"""
        INSERT INTO ptb_user_data VALUES (100, '{{"drafts": {{"100": ', '{now}');
        INSERT INTO ptb_user_data VALUES (101, '{{"drafts": {{}}}}', '{now}');
        INSERT INTO ptb_chat_data VALUES (101, '[1, 2]', '{now}');
        INSERT INTO ptb_conversations VALUES ('registration', 'not a key', '"phone"', '{now}');
        INSERT INTO ptb_conversations VALUES ('registration', '[100, 100]', '{{"x": 1}}', '{now}');
        """,
    )
    ivan, olga = installer(tg, 100), installer(tg, 101, name="Olga")
    with caplog.at_level(logging.WARNING, logger="bot.storage.conversations"):
        async with bot_running(settings):
            await ivan.send("/register", expect="Which device?")
            await olga.send("/register", expect="Which device?")
            await ivan.send("fmb140", expect="Models matching")
        async with bot_running(settings):  # the next start finds nothing left to quarantine
            await olga.send("fmb140", expect="Models matching")

    moved = read_db(db_path, "SELECT source, row_key, reason FROM quarantine ORDER BY id")
    assert sorted((r["source"], r["row_key"]) for r in moved) == [
        ("ptb_chat_data", "101"),
        ("ptb_conversations", "registration, [100, 100]"),
        ("ptb_conversations", "registration, not a key"),
        ("ptb_user_data", "100"),
    ]
    warnings = [r.getMessage() for r in caplog.records if "quarantine" in r.getMessage()]
    assert len(warnings) == 4, warnings
    assert not tg.errors


async def test_attempt_without_snapshot_never_adopts_an_older_tracker_and_says_so(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    api_key: str,
    settings: Settings,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An attempt journaled by an older version (no snapshot) and left open by a crash: the
    look-alike in the account was created years before it, so it is not the result. Once
    settled, the installer is told that nothing was created."""
    monkeypatch.setattr(registrar_module, "SETTLE_AFTER", timedelta(0))
    foreign = await register_foreign_app(sandbox, api_key, "Van 7")
    sandbox.trackers[foreign.id].creation_date = "2021-06-03"
    user = tg.user(100, "Ivan")
    me = Installer(tg, user, tg.private_chat(user, started=True))  # talked to the bot before
    async with await Database.open(db_path) as db:
        await RegistrationJournal(db).begin(
            draft_id="0123456789ab",
            user_id=me.user.id,
            chat_id=me.chat.id,
            model="mobile_unknown_xgps",
            plugin_id=35,
            device_id=None,
            label="Van 7",
            group_id=0,
        )
    async with bot_running(settings):
        notice = await tg.wait_for_message(
            me.chat, lambda m: "no tracker was created" in (m.text or "")
        )
        await tg.wait_idle()

    assert "Van 7" in (notice.text or "")
    assert not [t for t in said(tg, me) if str(foreign.id) in t or "Registered" in t]
    assert [(r["status"], r["tracker_id"]) for r in journal(db_path)] == [("failed", None)]
    assert list(sandbox.trackers) == [foreign.id]
    assert not tg.errors
