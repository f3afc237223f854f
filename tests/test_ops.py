"""Running as a service: one instance, health and metrics, polling errors, start-up
checks, JSON logs, backups, webhook mode. Real processes and real HTTP on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import RESOURCES_KEY
from bot.config import load_settings
from bot.logs import setup_logging
from bot.ops import startup
from bot.ops.instance import InstanceLock
from bot.ops.polling import BackgroundErrors, RepeatLimiter
from bot.sandbox import NavixySandbox
from tests.e2e import catalog_ready, installer, make_settings, running_bot, to_summary
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e_reliability import REPO, BotProcess, bot_processes, process_env

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_for(check: Any, what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(0.05)


# --- one instance ----------------------------------------------------------------------------


async def test_a_second_process_on_the_same_database_refuses_to_start(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    env = process_env(tg, sandbox, sandbox.new_api_key(), db)
    async with bot_processes(tg, env, tmp_path) as new:
        first = new("first")
        await first.start()
        assert first.proc is not None
        second = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            env=env,
            cwd=tmp_path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            _, err = await second.communicate()
        assert second.returncode == 1
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("startup error: another instance uses")
        assert f"pid {first.proc.pid} on host {socket.gethostname()}" in lines[0]


def test_the_lock_is_free_again_when_its_holder_is_gone(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    code = (
        "import pathlib; from bot.ops.instance import InstanceLock; "
        f"InstanceLock(pathlib.Path({str(db)!r})).acquire()"
    )
    # A process that takes the lock and dies without releasing it (as kill -9 would).
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=30)
    lock = InstanceLock(db)
    lock.acquire()
    lock.release()


async def test_a_second_poller_on_the_token_makes_one_process_exit_1(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    key = sandbox.new_api_key()
    env_a = process_env(tg, sandbox, key, tmp_path / "a.db")
    env_b = process_env(tg, sandbox, key, tmp_path / "b.db")
    for env in (env_a, env_b):
        env["TELEGRAM_CONFLICT_EXIT_SECONDS"] = "3"
    async with bot_processes(tg, env_a, tmp_path) as new:
        a = new("a")
        await a.start()
        b = BotProcess_from(new, env_b)
        await b.start()
        procs = [a.proc, b.proc]
        assert all(p is not None for p in procs)

        def exited() -> bool:
            return any(p is not None and p.returncode is not None for p in procs)

        await wait_for(exited, "one of the two pollers exits", timeout=40)
        loser = a if a.proc is not None and a.proc.returncode is not None else b
        assert loser.proc is not None
        assert loser.proc.returncode == 1
        err = loser.stderr()
        assert "another instance is polling this bot token" in err
        assert "exiting (1) so that only one runs" in err
        assert "Traceback" not in err
        # One line when it starts, one when it gives up: not one per 409.
        assert err.count("another instance is polling this bot token") == 1


def BotProcess_from(new: Any, env: dict[str, str]) -> Any:
    proc = new("b")
    proc.env = env
    return proc


# --- Telegram outage while polling ---------------------------------------------------------


@contextlib.asynccontextmanager
async def _polling_bot(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> AsyncIterator[BotProcess]:
    """`python -m bot` in a process of its own, long-polling the fake Telegram."""
    env = process_env(tg, sandbox, sandbox.new_api_key(), tmp_path / "bot.db")
    async with bot_processes(tg, env, tmp_path) as new:
        proc = new("p")
        await proc.start()
        yield proc


async def test_telegram_errors_while_polling_are_one_warning_line_without_traceback(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    async with _polling_bot(tg, sandbox, tmp_path) as proc:
        polls = len(tg.calls("getUpdates"))
        tg.get_updates_faults.extend([(502, "Bad Gateway")] * 3)
        await wait_for(
            lambda: not tg.get_updates_faults and len(tg.calls("getUpdates")) > polls + 3,
            "the three 502s are served and polling goes on",
            timeout=30,
        )
        me = installer(tg)
        await me.send("/help", expect="register")
        err = proc.stderr()
    assert "Traceback" not in err
    assert "ERROR" not in err
    assert "PTBUserWarning" not in err  # the per_message note is understood and silenced
    warnings = [ln for ln in err.splitlines() if "Telegram did not answer while polling" in ln]
    assert len(warnings) == 1, err


async def test_telegram_not_answering_at_shutdown_is_one_warning_line_and_a_clean_exit(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    async with _polling_bot(tg, sandbox, tmp_path) as proc:
        tg.get_updates_faults.extend([(502, "Bad Gateway")] * 50)  # Telegram goes bad
        polls = len(tg.calls("getUpdates"))
        await wait_for(lambda: len(tg.calls("getUpdates")) > polls, "a poll failed", timeout=30)
        # docker stop: its last poll fails too, and often a poll in flight (PTB's polling
        # task then ends with an error nobody reads: asyncio's ERROR, unless handled).
        code = await proc.stop()
        err = proc.stderr()
    assert code == 0, err
    assert "Traceback" not in err
    assert "ERROR" not in err
    (line,) = [ln for ln in err.splitlines() if "the last poll at shutdown" in ln]
    # Why it failed: the 502, or the pool's one connection still held by the poll in flight.
    assert " WARNING " in line and ("Bad Gateway" in line or "Pool timeout" in line), line


def test_repeat_limiter_lets_one_line_a_minute_through_and_counts_the_rest() -> None:
    now = [0.0]
    limiter = RepeatLimiter(every=60, clock=lambda: now[0])
    assert limiter.allow("x") == (True, 0)
    assert limiter.allow("x") == (False, 0)
    assert limiter.allow("y") == (True, 0)
    now[0] = 61
    assert limiter.allow("x") == (True, 1)


def test_a_conflict_episode_ends_when_polling_works_again() -> None:
    now = [0.0]
    polled = [False]
    stopped: list[bool] = []
    from telegram.error import Conflict

    errors = BackgroundErrors(
        stop=lambda: stopped.append(True),
        telegram_answered_since=lambda since: polled[0],
        conflict_exit_seconds=60,
        clock=lambda: now[0],
    )
    errors(Conflict("terminated by other getUpdates request"))
    now[0] = 50
    polled[0] = True  # a getUpdates succeeded in between: the other instance went away
    errors(Conflict("terminated by other getUpdates request"))
    polled[0] = False
    now[0] = 100
    errors(Conflict("terminated by other getUpdates request"))
    assert stopped == []
    now[0] = 111
    errors(Conflict("terminated by other getUpdates request"))
    assert stopped == [True]
    assert errors.exit_code == 1


# --- health and metrics --------------------------------------------------------------------


async def test_health_readiness_and_metrics(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.telegram.delivery")
    port = free_port()
    settings = make_settings(
        tg, sandbox.base_url, sandbox.new_api_key(), tmp_path / "bot.db", health_port=port
    )
    base = f"http://127.0.0.1:{port}"
    async with running_bot(settings) as app, httpx.AsyncClient(base_url=base, timeout=5) as http:
        await catalog_ready(app)
        live = await http.get("/healthz")
        assert live.status_code == 200
        assert live.json()["status"] == "ok"
        await wait_for(lambda: len(tg.calls("getUpdates")) > 1, "a getUpdates answered")
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready"}

        me = installer(tg)
        await to_summary(me)
        await me.tap("✅ Register", new_message=False, expect="Registered")
        metrics = (await http.get("/metrics")).text
        assert 'installer_bot_registrations_total{outcome="success"} 1.0' in metrics
        assert 'installer_bot_navixy_calls_total{method="tracker/register",result="ok"} 1.0' in (
            metrics
        )
        assert 'installer_bot_navixy_call_seconds_count{method="tracker/register"} 1.0' in metrics
        assert 'installer_bot_updates_total{kind="message"}' in metrics
        assert 'installer_bot_telegram_calls_total{method="sendMessage",status="200"}' in metrics
        # The watch starts just after the result is shown.
        for _ in range(100):
            if 'installer_bot_watched_devices{state="waiting"} 1.0' in metrics:
                break
            await asyncio.sleep(0.05)
            metrics = (await http.get("/metrics")).text
        assert 'installer_bot_watched_devices{state="waiting"} 1.0' in metrics

        def completed() -> list[str]:
            return [
                r.getMessage() for r in caplog.records if "registration completed" in r.getMessage()
            ]

        await wait_for(completed, "the registration's INFO line")
        assert len(completed()) == 1  # one INFO line per completed registration
        assert "model telfmb140" in completed()[0]

        # The database goes away: not ready, and it says why.
        await app.bot_data[RESOURCES_KEY].db.close()
        not_ready = await http.get("/readyz")
        assert not_ready.status_code == 503
        assert any("database not writable" in p for p in not_ready.json()["problems"])
        assert (await http.get("/healthz")).status_code == 200


# --- start-up checks -------------------------------------------------------------------------


async def test_startup_checks_say_what_is_missing(tmp_path: Path) -> None:
    async with FakeTelegram(inline_mode=False) as tg, NavixySandbox() as sandbox:
        settings = load_settings(
            _env_file=None,
            bot_token=tg.token,
            telegram_api_url=tg.url,
            navixy_api_url=sandbox.base_url,
            navixy_api_key="not-a-key-of-this-account",
            database_path=tmp_path / "bot.db",
        )
        found = await startup.check(settings)
    texts = [(f.level, f.text, f.exit_code) for f in found]
    assert (logging.WARNING, startup.NO_USERS, 0) in texts
    assert (logging.WARNING, startup.INLINE_OFF, 0) in texts
    assert (logging.INFO, startup.PRIVACY_ON, 0) in texts
    refused = [t for t in texts if t[2]]
    assert len(refused) == 1
    assert refused[0][1].startswith("Navixy refused to list the device models")
    assert "not-a-key" not in refused[0][1]


async def test_startup_checks_pass_quietly_when_all_is_well(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    tg.privacy_mode = False
    settings = make_settings(tg, sandbox.base_url, sandbox.new_api_key(), tmp_path / "bot.db")
    assert await startup.check(settings) == []


async def test_unreachable_navixy_is_a_warning_not_a_refusal(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    settings = make_settings(tg, f"http://127.0.0.1:{port}", "key", tmp_path / "bot.db")
    found = await startup.check(settings)
    assert [f.exit_code for f in found] == [0] * len(found)
    assert any("Navixy did not answer" in f.text for f in found)


# --- logs ------------------------------------------------------------------------------------


def test_json_logs_are_one_object_per_line_with_secrets_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", ["SECRET-API-KEY"], json_lines=True)
        logging.getLogger("bot.test").info("calling with %s", "SECRET-API-KEY")
        try:
            raise ValueError("boom SECRET-API-KEY")
        except ValueError:
            logging.getLogger("bot.test").exception("failed")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(ln) for ln in lines)
    assert first["level"] == "INFO"
    assert first["logger"] == "bot.test"
    assert first["message"] == "calling with [redacted]"
    assert "time" in first
    assert "SECRET" not in lines[1]
    assert "ValueError: boom [redacted]" in second["error"]


# --- backups ---------------------------------------------------------------------------------


async def test_backup_of_the_running_database_is_consistent(
    bot: Any, tg: FakeTelegram, tmp_path: Path
) -> None:
    me = installer(tg)
    await to_summary(me)
    await me.tap("✅ Register", new_message=False, expect="Registered")
    db = bot.bot_data[RESOURCES_KEY].db.path
    dest = tmp_path / "backups"
    dest.mkdir()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "backup",
        str(dest),
        "--database",
        str(db),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    copies = list(dest.glob("*.db"))
    assert len(copies) == 1
    assert out.decode().strip() == f"backup written: {copies[0]}"
    with sqlite3.connect(copies[0]) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute(
            "SELECT count(*) FROM registration_attempts WHERE status = 'success'"
        ).fetchone() == (1,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_backup_of_a_missing_database_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "backup",
            str(tmp_path / "x.db"),
            "--database",
            str(tmp_path / "none.db"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"backup error: no database at {tmp_path / 'none.db'}"


# --- webhook mode ----------------------------------------------------------------------------


async def test_webhook_mode_takes_updates_posted_with_the_secret(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    port = free_port()
    env = process_env(tg, sandbox, sandbox.new_api_key(), tmp_path / "bot.db")
    env.update(
        WEBHOOK_URL=f"http://127.0.0.1:{port}/tg-hook",
        WEBHOOK_SECRET="s3cret-token_1",
        WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=str(port),
    )
    async with bot_processes(tg, env, tmp_path) as new:
        proc = new("webhook")
        # start() waits for a long poll, which webhook mode never makes: start by hand.
        proc_task = asyncio.create_task(proc.start(timeout=25))
        await wait_for(lambda: tg.webhook_url is not None, "setWebhook", timeout=25)
        proc_task.cancel()
        await asyncio.gather(proc_task, return_exceptions=True)
        assert tg.webhook_url == f"http://127.0.0.1:{port}/tg-hook"
        assert tg.webhook_secret == "s3cret-token_1"

        me = installer(tg)
        await me.send("/register", expect="Which device")
        assert not tg.calls("getUpdates") or all(not c.ok for c in tg.calls("getUpdates"))
        assert all(status == 200 for _, status in tg.webhook_posts)

        # A forged post without the secret is refused and reaches no handler.
        async with httpx.AsyncClient(timeout=5) as http:
            forged = await http.post(
                f"http://127.0.0.1:{port}/tg-hook",
                json={
                    "update_id": 1,
                    "message": {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": 5, "type": "private"},
                        "text": "/start",
                    },
                },
            )
        assert forged.status_code == 403
        assert "s3cret" not in proc.stderr()
