"""Fault suite (issue 8): many registrations under random Navixy and Telegram faults, and
`kill -9` of the real bot process at many points. Afterwards: every device has exactly one
tracker, every installer was told the truth (their own tracker's ID; a failure always came
with a working way on), and the journal matches Navixy.

Short by default (CI: 40 registrations, 4 kill points). The long version is opt-in:
`FAULT_SUITE=long .venv/bin/python -m pytest -s tests/test_faults.py` (200 registrations,
50 kill points); `FAULT_SEED=N` picks another seed. The counts are printed (`-s`) and
written to the log.

Faults are drawn from a seeded RNG. Navixy (the stand-in): latency past the client's
timeout with a late commit, HTTP 500 (error 1), HTTP 503 (error 8), error 15 (rate limit),
a connection cut before anything is done (the closest a listening stand-in gets to a refused
connection), commit-then-drop; the account holds look-alikes: trackers with the same label
(app and hardware) and labels containing it. Telegram (a proxy in front of the fake): 429
with retry_after and 5xx on the result's edit and resend, network errors and 502 on
getUpdates. A registration whose result was lost is delivered by the journal job, which the
suite runs every second (production: every minute).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import bot.services.registrar as registrar_module
from bot.app import RESOURCES_KEY, App
from bot.domain.device_id import luhn_check_digit
from bot.navixy.client import NavixyClient
from bot.navixy.models import RegisterRequest
from bot.sandbox import Delay, DropAfterCommit, DropBeforeCommit, ErrorFault, Fault, NavixySandbox
from tests.e2e import Installer, catalog_ready, make_settings, running_bot
from tests.fakes.faulty_telegram import FaultyTelegram, TgDrop, TgError, TgHold
from tests.fakes.telegram import BotMessage, FakeTelegram
from tests.test_e2e_reliability import (
    BotProcess,
    bot_processes,
    eventually,
    journal,
    process_env,
)

log = logging.getLogger(__name__)

LONG = os.environ.get("FAULT_SUITE", "").lower() == "long"
REGISTRATIONS = 200 if LONG else 40
KILL_POINTS = 50 if LONG else 4
SEED = int(os.environ.get("FAULT_SEED", "20261127"))
INSTALLERS = 8
REGISTER = "✅ Register"
APP = "mobile_unknown_xgps"
TIMEOUT = 0.3  # the bot's Navixy timeout in the suite (s)
SETTLE = timedelta(seconds=1.5)  # > the longest injected latency: Navixy is done by then
ID = re.compile(r"Tracker ID: (\d+)")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800 if LONG else 120)]


@pytest.fixture
def sandbox_kwargs() -> dict[str, Any]:
    # Code 15 comes from the injected faults; the account's look-alikes are created in a
    # burst that the stand-in's own rate limit (50/s) would refuse.
    return {"rate_limit_per_second": 10_000}


def luhn_imei(n: int) -> str:
    body = f"35693803{n:06d}"
    return body + luhn_check_digit(body)


@dataclass
class Device:
    n: int
    app: bool
    label: str
    imei: str | None
    phone: str | None
    tg_fault: str | None = None
    shown: list[int] = field(default_factory=list)  # tracker IDs announced for it
    told: str = ""  # the last word the installer got


@dataclass
class Report:
    navixy_faults: Counter[str] = field(default_factory=Counter)
    telegram_faults: Counter[str] = field(default_factory=Counter)
    kill_points: Counter[str] = field(default_factory=Counter)
    registrations: int = 0
    duplicates: int = 0
    wrong_ids: int = 0
    lost_results: int = 0
    retries: int = 0

    def line(self, what: str, seconds: float) -> str:
        return (
            f"fault suite [{what}, seed {SEED}]: {self.registrations} registrations, "
            f"{sum(self.navixy_faults.values())} Navixy faults {dict(self.navixy_faults)}, "
            f"{sum(self.telegram_faults.values())} Telegram faults "
            f"{dict(self.telegram_faults)}, {sum(self.kill_points.values())} kill points "
            f"{dict(self.kill_points)}, {self.retries} retries by installers; duplicates "
            f"{self.duplicates}, wrong IDs {self.wrong_ids}, lost results {self.lost_results}; "
            f"{seconds:.1f} s"
        )


NAVIXY_FAULTS: list[Fault] = [
    Delay(TIMEOUT * 2),  # past the timeout, commits late
    ErrorFault(1),  # HTTP 500
    ErrorFault(8),  # HTTP 503
    ErrorFault(15),  # rate limit
    DropBeforeCommit(),  # cut before anything was done
    DropAfterCommit(),  # created, then the connection is cut
]
TELEGRAM_RESULT_FAULTS = ("edit+send 5xx", "edit 5xx", "edit 429")


def fault_plan(rng: random.Random, n: int) -> list[tuple[Fault | None, str | None]]:
    """Per registration: a Navixy fault on tracker/register (about 55 %, every kind at least
    once) and a Telegram fault on the result (about 20 %, every kind at least once; the
    429 stays rare: a flood wait pauses the bot for everyone)."""
    navixy: list[Fault | None] = [*NAVIXY_FAULTS]
    navixy += [rng.choice(NAVIXY_FAULTS) for _ in range(int(n * 0.55) - len(navixy))]
    navixy += [None] * (n - len(navixy))
    telegram: list[str | None] = [*TELEGRAM_RESULT_FAULTS]
    telegram += [rng.choice(TELEGRAM_RESULT_FAULTS[:2]) for _ in range(int(n * 0.2) - 3)]
    telegram += [None] * (n - len(telegram))
    rng.shuffle(navixy)
    rng.shuffle(telegram)
    return list(zip(navixy, telegram, strict=True))


async def add_look_alikes(sandbox: NavixySandbox, key: str, devices: list[Device]) -> set[int]:
    """Trackers the bot did not create: same labels (app and hardware), and longer labels."""
    foreign: set[int] = set()
    async with NavixyClient(sandbox.base_url, api_key=key) as client:
        for d in devices:
            if d.n % 4 in (1, 2):
                app = RegisterRequest(label=d.label, group_id=0, plugin_id=35, model=APP)
                foreign.add((await client.register(app)).id)
            if d.n % 3 == 0:
                alike = RegisterRequest(label=f"{d.label} old", group_id=0, plugin_id=35, model=APP)
                foreign.add((await client.register(alike)).id)
            if d.n % 5 == 0:
                hw = RegisterRequest(
                    label=d.label,
                    group_id=0,
                    plugin_id=44,
                    model="telfmb140",
                    device_id=luhn_imei(900_000 + d.n),
                    phone=f"49160{d.n:07d}",
                )
                foreign.add((await client.register(hw)).id)
    return foreign


async def to_card(me: Installer, d: Device) -> BotMessage:
    await me.send("/register", expect="Which device?")
    if d.app:
        await me.tap("📱 X-GPS mobile app", expect="Name for this tracker")
        await me.send(d.label, expect="Which group")
        await me.tap("Main office", expect="Phone number to text")
        await me.tap("Skip", expect="E-mail address")
        return await me.tap("Skip", expect="Check and register")
    assert d.imei is not None and d.phone is not None
    await me.send("fmb140", expect="Models matching")
    await me.tap("Teltonika FMB140", expect="IMEI")
    await me.send(d.imei, expect="Phone number")
    await me.send(d.phone, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send(d.label, expect="Which group")
    return await me.tap("Main office", expect="Check and register")


def is_result_for(chat_id: int) -> Any:
    return lambda p: (
        str(p.get("chat_id")) == str(chat_id) and "Registered." in str(p.get("text", ""))
    )


def results_after(tg: FakeTelegram, me: Installer, after: int) -> list[BotMessage]:
    return [
        m
        for m in tg.messages(me.chat)
        if m.message_id > after and "✅ Registered." in (m.text or "")
    ]


async def register_until_told(
    tg: FakeTelegram, me: Installer, d: Device, card: BotMessage, report: Report
) -> None:
    """Press Register, then do what the installer is told (Retry, Register again, wait)
    until the tracker ID is shown. Every step is a bounded wait on what the chat shows."""
    target = card.message_id

    def current() -> BotMessage:
        return next(m for m in tg.messages(me.chat) if m.message_id == target)

    pressed = current().edits
    await tg.press_button(me.user, me.chat, target, REGISTER)
    for _ in range(12):

        def settled(pressed: int = pressed) -> BotMessage | None:
            news = results_after(tg, me, target)
            if news:
                return news[-1]
            now = current()
            if now.edits > pressed and ("✅ Registered." in (now.text or "") or now.buttons()):
                return now
            return None

        # Bounded generously: a step may sit out flood waits and Navixy timeouts in a row.
        message = await tg.wait_until(settled, timeout=45, what=f"device {d.n}: an outcome")
        text = message.text or ""
        d.told = text
        if "✅ Registered." in text:
            match = ID.search(text)
            assert match is not None, text
            d.shown.append(int(match.group(1)))
            return
        report.retries += 1
        button = "🔁 Retry" if "🔁 Retry" in message.button_texts() else REGISTER
        if button not in message.button_texts():
            raise AssertionError(f"device {d.n}: no way on from {text!r}")
        if "has not confirmed" in text or "in a minute" in text:
            # Navixy may still be working: the installer waits as told (the settle window).
            await asyncio.sleep(SETTLE.total_seconds())
        pressed = current().edits
        await tg.press_button(me.user, me.chat, target, button)
    raise AssertionError(f"device {d.n}: never registered; last: {d.told!r}")


def check_truth(
    sandbox: NavixySandbox,
    tg: FakeTelegram,
    owners: list[tuple[Installer, list[Device]]],
    foreign: set[int],
    rows: list[dict[str, Any]],
    report: Report,
) -> None:
    devices = [d for _, own in owners for d in own]
    ours = {tid: t for tid, t in sandbox.trackers.items() if tid not in foreign}
    by_device: dict[int, list[int]] = {}
    for d in devices:
        if d.app:
            mine = [tid for tid, t in ours.items() if t.label == d.label and t.model == APP]
        else:
            mine = [tid for tid, t in ours.items() if t.device_id == d.imei]
        by_device[d.n] = mine
        report.duplicates += max(0, len(mine) - 1)
        if not mine or not d.shown:
            report.lost_results += 1
        report.wrong_ids += sum(1 for shown in d.shown if shown not in mine)
    # No chat was ever shown an ID that is not one of its own installer's trackers.
    for me, own in owners:
        allowed = {tid for d in own for tid in by_device[d.n]}
        for m in tg.messages(me.chat):
            for match in ID.finditer(m.text or ""):
                if int(match.group(1)) not in allowed:
                    report.wrong_ids += 1
    # The journal matches Navixy: one delivered success per tracker the bot created.
    successes = [r for r in rows if r["status"] == "success"]
    assert sorted(r["tracker_id"] for r in successes) == sorted(ours), (successes, ours)
    report.lost_results += sum(1 for r in successes if r["delivered_at"] is None)
    assert not [r for r in rows if r["status"] in ("sending", "unknown")], rows


# =============================================================================================
# Many registrations, random Navixy and Telegram faults (one bot, in-process).
# =============================================================================================


async def test_registrations_under_random_navixy_and_telegram_faults(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    monkeypatch.setattr(registrar_module, "SETTLE_AFTER", SETTLE)
    rng = random.Random(SEED)
    report = Report()
    devices = [
        Device(
            n=n,
            app=n % 2 == 1,
            label=f"Van {n}",
            imei=None if n % 2 == 1 else luhn_imei(n),
            phone=None if n % 2 == 1 else f"+49 170 {n:07d}",
        )
        for n in range(REGISTRATIONS)
    ]
    key = sandbox.new_api_key()
    foreign = await add_look_alikes(sandbox, key, devices)

    async with FaultyTelegram(tg) as proxy:
        settings = make_settings(
            tg, sandbox.base_url, key, tmp_path / "bot.db", navixy_timeout_seconds=TIMEOUT
        ).model_copy(
            update={
                "telegram_api_url": proxy.url,
                "installer_ids": [100 + i for i in range(INSTALLERS)],
            }
        )
        chats = {
            i: Installer(tg, u, tg.private_chat(u), timeout=10)
            for i, u in ((i, tg.user(100 + i, f"Inst{i}")) for i in range(INSTALLERS))
        }
        # Network errors on getUpdates: each costs the bot a polling back-off (1 s and up).
        proxy.inject("getUpdates", TgDrop())
        proxy.randomize(rng, {"getUpdates": 0.003}, [TgDrop(), TgError(502)])
        plan = fault_plan(rng, len(devices))
        async with running_bot(settings) as app:
            await catalog_ready(app)
            journal_job = _fast_journal_job(app)
            try:

                async def installer_queue(i: int) -> None:
                    me = chats[i]
                    for d in devices[i::INSTALLERS]:
                        await one_registration(tg, sandbox, proxy, me, d, plan[d.n], rng, report)

                await asyncio.gather(*(installer_queue(i) for i in range(INSTALLERS)))
                # The last lost results: the journal job delivers them.
                proxy.calm()
                await _until_delivered(app.bot_data[RESOURCES_KEY])
                await tg.wait_idle()
            finally:
                journal_job.schedule_removal()
        report.telegram_faults.update(proxy.injected)

    report.navixy_faults.update(k for k, n in sandbox.faults_used.items() for _ in range(n))
    report.registrations = len(devices)
    rows = journal(tmp_path / "bot.db")
    owners = [(me, devices[i::INSTALLERS]) for i, me in chats.items()]
    check_truth(sandbox, tg, owners, foreign, rows, report)
    line = report.line("registrations", loop.time() - started)
    print("\n" + line)
    log.warning(line)
    assert (report.duplicates, report.wrong_ids, report.lost_results) == (0, 0, 0), line
    assert sum(report.navixy_faults.values()) >= REGISTRATIONS // 3, line
    assert sum(report.telegram_faults.values()) >= 3, line
    assert not tg.errors


async def one_registration(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    proxy: FaultyTelegram,
    me: Installer,
    d: Device,
    faults: tuple[Fault | None, str | None],
    rng: random.Random,
    report: Report,
) -> None:
    card = await to_card(me, d)
    fault, tg_fault = faults
    if fault is not None:
        # A shared queue: another installer's request may take it (faults are random anyway).
        sandbox.inject("tracker/register", fault)
        if rng.random() < 0.3:  # the snapshot or the lookup is slow too
            sandbox.inject("tracker/list", Delay(0.1))
    result = is_result_for(me.chat.id)
    if tg_fault == "edit+send 5xx":  # the result's edit and resend fail: the job delivers it
        proxy.inject("editMessageText", TgError(500), when=result)
        proxy.inject("sendMessage", TgError(502), when=result)
    elif tg_fault == "edit 5xx":  # only the edit fails: resent as a new message
        proxy.inject("editMessageText", TgError(502), when=result)
    elif tg_fault == "edit 429":  # a flood wait on the result: the rate limiter retries
        proxy.inject("editMessageText", TgError(429, retry_after=1), when=result)
    d.tg_fault = tg_fault
    await register_until_told(tg, me, d, card, report)


def _fast_journal_job(app: App) -> Any:
    """The journal job of production (every minute), every second here."""
    assert app.job_queue is not None
    (job,) = app.job_queue.get_jobs_by_name("journal-resolve")
    return app.job_queue.run_repeating(
        job.callback, interval=1.0, first=1.0, name="journal-resolve-fast"
    )


async def _until_delivered(svc: Any) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while await svc.journal.undelivered() or await svc.journal.unresolved():
        if loop.time() > deadline:
            raise AssertionError("results still pending after 20 s")
        await asyncio.sleep(0.2)


# =============================================================================================
# kill -9 of the real bot process at many points.
# =============================================================================================

KILL_KINDS = (
    "between Navixy's answer and the chat",
    "tracker/register in flight",
    "commit-then-drop, during the lookup",
    "mid-conversation",
    "during the result's resend",
)


async def test_kill_9_at_many_points(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    rng = random.Random(SEED + 1)
    report = Report()
    key = sandbox.new_api_key()
    db = tmp_path / "bot.db"
    devices = [
        Device(
            n=n,
            app=n % 2 == 1,
            label=f"Truck {n}",
            imei=None if n % 2 == 1 else luhn_imei(500_000 + n),
            phone=None if n % 2 == 1 else f"+49 171 {n:07d}",
        )
        for n in range(KILL_POINTS)
    ]
    foreign = await add_look_alikes(sandbox, key, devices)
    kinds = [KILL_KINDS[i % len(KILL_KINDS)] for i in range(KILL_POINTS)]
    rng.shuffle(kinds)

    async with FaultyTelegram(tg) as proxy:
        env = process_env(tg, sandbox, key, db)
        env["TELEGRAM_API_URL"] = proxy.url
        user = tg.user(100, "Ivan")
        me = Installer(tg, user, tg.private_chat(user), timeout=15)
        async with bot_processes(tg, env, tmp_path) as process:
            bot = process("bot-0")
            await bot.start()
            for i, (d, kind) in enumerate(zip(devices, kinds, strict=True)):
                report.kill_points[kind] += 1
                bot = await kill_and_recover(tg, sandbox, proxy, process, bot, me, d, kind, i, db)
            await bot.kill()
        report.telegram_faults.update(proxy.injected)

    report.navixy_faults.update(k for k, n in sandbox.faults_used.items() for _ in range(n))
    report.registrations = len(devices)
    check_truth(sandbox, tg, [(me, devices)], foreign, journal(db), report)
    line = report.line("kill -9", loop.time() - started)
    print("\n" + line)
    log.warning(line)
    assert (report.duplicates, report.wrong_ids, report.lost_results) == (0, 0, 0), line
    assert not tg.errors


async def kill_and_recover(
    tg: FakeTelegram,
    sandbox: NavixySandbox,
    proxy: FaultyTelegram,
    process: Any,
    bot: BotProcess,
    me: Installer,
    d: Device,
    kind: str,
    i: int,
    db: Path,
) -> BotProcess:
    """Drive device `d` to the kill point, kill -9, start the next process, and see the
    installer told the tracker ID (finishing the conversation where the kill left it)."""
    before = max((m.message_id for m in tg.messages(me.chat)), default=0)
    result = is_result_for(me.chat.id)
    if kind == "mid-conversation":
        await me.send("/register", expect="Which device?")
        if d.app:
            await me.tap("📱 X-GPS mobile app", expect="Name for this tracker")
            await _state_saved(db, me, '"label"')
        else:
            await me.send("fmb140", expect="Models matching")
            await me.tap("Teltonika FMB140", expect="IMEI")
            await _state_saved(db, me, '"device_id"')
        await bot.kill()
        bot = process(f"bot-{i + 1}")
        await bot.start()
        card = await _finish_card(me, d)
        await me.tap(REGISTER, on=card, new_message=False, expect="Registered")
    else:
        card = await to_card(me, d)
        arrivals = sandbox.arrivals["tracker/register"]
        lists = sandbox.arrivals["tracker/list"]
        if kind == "between Navixy's answer and the chat":
            proxy.inject("editMessageText", TgHold(), when=result)
        elif kind == "during the result's resend":
            proxy.inject("editMessageText", TgError(500), when=result)
            proxy.inject("sendMessage", TgHold(), when=result)
        elif kind == "tracker/register in flight":
            sandbox.inject("tracker/register", Delay(1.0))
        else:  # commit-then-drop, killed while the lookup is answered slowly
            sandbox.inject("tracker/register", DropAfterCommit())
            sandbox.inject("tracker/list", Delay(0))  # the snapshot
            sandbox.inject("tracker/list", Delay(1.5))  # the lookup
        await tg.press_button(me.user, me.chat, card.message_id, REGISTER)
        async with asyncio.timeout(15):
            if kind in ("between Navixy's answer and the chat", "during the result's resend"):
                await proxy.held.wait()
            elif kind == "tracker/register in flight":
                await sandbox.wait_for_arrivals("tracker/register", arrivals + 1)
            else:
                await sandbox.wait_for_arrivals("tracker/list", lists + 2)
        await bot.kill()
        proxy.calm()
        async with asyncio.timeout(10):  # Navixy finishes what it was doing
            await sandbox.wait_for_calls("tracker/register", _bot_registers(sandbox))
        bot = process(f"bot-{i + 1}")
        await bot.start()
    notice = await tg.wait_for_message(
        me.chat, lambda m: "✅ Registered." in (m.text or ""), after=before, timeout=20
    )
    match = ID.search(notice.text or "")
    assert match is not None
    d.shown.append(int(match.group(1)))
    await eventually(
        lambda: all(r["delivered_at"] for r in journal(db) if r["status"] == "success"),
        what="delivery journaled",
        timeout=15,
    )
    return bot


def _bot_registers(sandbox: NavixySandbox) -> int:
    return sandbox.arrivals["tracker/register"]


async def _state_saved(db: Path, me: Installer, state: str) -> None:
    from tests.test_e2e_reliability import conversation_states

    key = f"[{me.chat.id}, {me.user.id}]"
    await eventually(lambda: conversation_states(db).get(key) == state, what=f"state {state}")


async def _finish_card(me: Installer, d: Device) -> BotMessage:
    """After the restart, answer the question the installer has on screen."""
    if d.app:
        await me.send(d.label, expect="Which group")
        await me.tap("Main office", expect="Phone number to text")
        await me.tap("Skip", expect="E-mail address")
        return await me.tap("Skip", expect="Check and register")
    assert d.imei is not None and d.phone is not None
    await me.send(d.imei, expect="Phone number")
    await me.send(d.phone, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send(d.label, expect="Which group")
    return await me.tap("Main office", expect="Check and register")
