"""`python -m bench load`: many installers at once, devices watched meanwhile, one chat in a
flood wait; the same run drives a bare python-telegram-bot echo bot for the ratios.

Every scenario runs in its own child process. There the tests' fake Telegram
(`tests/fakes/telegram.py`, behind the fault proxy `tests/fakes/faulty_telegram.py`) and the
simulated installers run on the main thread; the bot under test (or the echo bot) runs in a
process of its own, spawned by the scenario, as in production: its garbage collections walk
its own objects only, not the fake's record of every call (in one process they stalled the
bot 50 ms at 1000 watched). The Navixy stand-in (`bot/sandbox`) runs in a third process (as
Navixy is a remote server); the echo bot's scenario does not start it (the echo bot never
calls Navixy). The bot's CPU time and peak RSS are its own process's. The scenario's process
does not collect garbage while it times (the fake's pauses are not the bot's). Traffic goes
to 127.0.0.1 only.

Watched devices are seeded, not registered: N silent trackers created in the stand-in's
process (which sends their ids back), N watches in the bot's database (started 0-14 min
ago, their first quarter hour) and their status messages in the fake's chats, so the
watcher polls and edits them as it would in production.

Start-up and idle memory: the bot (and the echo bot) started as `python -m bot` would, in
a child process, against a fake Telegram in this process: seconds from spawning it to its
first getUpdates, and its RSS then, after 2 s idle, and (the bot) 2 s after it set its
command menus once polling was quiet and imported what the first search and phone number
need (`bot.app.warm_up`). The bot's modules are compiled to bytecode first, as in the image.

`--replies K,...`: K users each sending `/start` (the bot) or a word (the echo bot), the
per-reply CPU of the issue's target. `--trace`: each scenario's slowest steps split into
where the time went (the fake, the bot's queue, its handlers, the send) and how much of it
the bot spent collecting garbage. `BENCH_PROFILE=/tmp/prof` writes a cProfile of the bot's
process per scenario (`/tmp/prof.<pid>`, in CPU time); `BENCH_LAG=/tmp/lag` how late its
event loop wakes up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import functools
import gc
import json
import os
import random
import resource
import signal
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

STEPS = (
    "start",
    "search",
    "model tap",
    "IMEI",
    "phone",
    "APN tap",
    "label",
    "group tap",
    "confirm",
)
INSTALLER_BASE = 10_000
WATCH_USER_BASE = 500_000
VICTIM_ID = 9_999
ROOT = str(Path(__file__).resolve().parent.parent)
RATE_EXEMPT = frozenset({"getupdates", "answercallbackquery", "answerinlinequery", "getme"})
#: How many of a scenario's slowest steps `--trace` prints, with their parts.
TRACE_SLOWEST = 8


# ------------------------------------------------- grandchild: the Navixy stand-in on its own

#: Bound of the stand-in's start (and of seeding its trackers), and of its shutdown, s.
NAVIXY_START_BOUND = 120.0
NAVIXY_STOP_BOUND = 30.0


def _navixy_child(conn: Connection, count: int) -> None:
    """The stand-in in a process of its own (Navixy is a remote server: its work must not
    take the bot's GIL): start it, create the API key and `count` silent trackers, send
    `{"base_url", "key", "trackers"}` (or `{"error"}`) through `conn`, then serve until
    the scenario sends anything or goes away (end of the pipe)."""
    try:
        asyncio.run(_navixy_serve(conn, count))
    finally:
        conn.close()


async def _navixy_serve(conn: Connection, count: int) -> None:
    import logging
    import traceback

    logging.basicConfig(level=logging.CRITICAL)
    try:
        from bot.sandbox import NavixySandbox

        sandbox = NavixySandbox(rate_limit_per_second=100_000)
        await sandbox.start()
    except BaseException:
        conn.send({"error": traceback.format_exc()})
        raise
    try:
        try:
            hello = {
                "base_url": sandbox.base_url,
                "key": sandbox.new_api_key(),
                "trackers": _seed_trackers(sandbox, count),
            }
        except BaseException:
            conn.send({"error": traceback.format_exc()})
            raise
        conn.send(hello)
        told = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(conn.fileno(), told.set)  # a word from the scenario, or its end
        try:
            await told.wait()
        finally:
            loop.remove_reader(conn.fileno())
    finally:
        await sandbox.stop()


@contextlib.asynccontextmanager
async def _navixy_process(count: int) -> AsyncIterator[dict[str, Any]]:
    """The stand-in (with `count` seeded trackers) in a spawned child process for the
    duration of the block: yields its base URL, API key and the seeded tracker ids."""
    async with _spawned(
        _navixy_child, (count,), "the Navixy stand-in", NAVIXY_STOP_BOUND, goodbye="stop"
    ) as child:
        hello: dict[str, Any] = await child.ask(None, NAVIXY_START_BOUND)
        yield hello


# ---------------------------------------------------------------- child: one load scenario


def _luhn_imei(n: int) -> str:
    from bot.domain.device_id import luhn_check_digit

    body = f"35693803{n:06d}"
    return body + luhn_check_digit(body)


def _stall_kind(lag: float, own: float, others: float) -> str:
    """Where a stall of the loop went, from the CPU time its thread (`own`) and the
    process's other threads (`others`) used meanwhile."""
    if own >= 0.5 * lag:
        return "the loop computing"
    if others >= 0.5 * lag:
        return "another thread of the bot"
    return "no CPU for the bot (waiting for a core)"


class _LagProbe:
    """`BENCH_LAG=/tmp/lag`: how late the bot's loop wakes from a 1 ms sleep, and what its
    thread (and every other thread of the scenario) was running when the loop stayed away
    over `STALL` s (sampled by a watchdog thread); written to `/tmp/lag.<pid>`."""

    STALL = 0.010

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.stacks: Counter[str] = Counter()
        self.stalls: defaultdict[str, list[float]] = defaultdict(list)
        self._beat = time.perf_counter()
        self._done = threading.Event()
        self._loop_thread = threading.get_ident()

    async def run(self, stop: asyncio.Event) -> None:
        watchdog = threading.Thread(target=self._watch, name="lag-watchdog", daemon=True)
        watchdog.start()
        try:
            while not stop.is_set():
                t0 = time.perf_counter()
                self._beat = t0
                cpu0, own0 = time.process_time(), time.thread_time()
                await asyncio.sleep(0.001)
                lag = time.perf_counter() - t0 - 0.001
                self.lags.append(lag)
                if lag > self.STALL:
                    own = time.thread_time() - own0
                    others = time.process_time() - cpu0 - own
                    # What the stall was: the loop's own work, another thread of the
                    # process (the GIL), or no thread of the bot on a core at all.
                    self.stalls[_stall_kind(lag, own, others)].append(lag)
        finally:
            self._done.set()
            watchdog.join(5)

    def _watch(self) -> None:
        import traceback

        names = {t.ident: t.name for t in threading.enumerate()}
        while not self._done.wait(0.002):
            if time.perf_counter() - self._beat < self.STALL:
                continue
            beat = self._beat
            for ident, frame in sys._current_frames().items():
                if ident == threading.get_ident():
                    continue
                where = traceback.extract_stack(frame)[-6:]
                line = " < ".join(
                    f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(where)
                )
                who = "LOOP" if ident == self._loop_thread else names.get(ident, str(ident))
                self.stacks[f"{who}: {line}"] += 1
            while self._beat == beat and not self._done.wait(0.001):
                pass  # one sample per stall

    def report(self) -> str:
        lags = sorted(self.lags)
        if not lags:
            return "no samples\n"

        def pick(q: float) -> float:
            return lags[min(len(lags) - 1, round(q * (len(lags) - 1)))]

        out = [
            f"samples {len(lags)} p50 {pick(0.5) * 1000:.2f} ms p99 {pick(0.99) * 1000:.2f} ms "
            f"p999 {pick(0.999) * 1000:.2f} ms max {lags[-1] * 1000:.1f} ms; "
            f"over 10 ms: {sum(1 for v in lags if v > 0.010)}, "
            f"over 20 ms: {sum(1 for v in lags if v > 0.020)}"
        ]
        out += [
            f"stalls over {self.STALL * 1000:.0f} ms, {kind}: {len(v)}, "
            f"total {sum(v) * 1000:.0f} ms, max {max(v) * 1000:.1f} ms"
            for kind, v in sorted(self.stalls.items())
        ]
        out += [f"{n:5d}  {stack}" for stack, n in self.stacks.most_common(40)]
        return "\n".join(out) + "\n"


#: Bound of the bot's start (and of storing the seeded watches), and of its shutdown, s.
BOT_START_BOUND = 120.0
BOT_STOP_BOUND = 60.0


def _bot_child(conn: Connection, spec: dict[str, Any]) -> None:
    """The bot under test (or the echo bot) in a process of its own, as in production: its
    garbage collections walk its own objects, not the fake Telegram's. It answers the
    scenario through `conn`: "ready" once polling, then {"watches"} -> "stored", "go" ->
    "going", "cpu" -> its CPU seconds since "go", "stop" -> {"peak_rss_mb", "trace"} (then
    it stops); any failure -> {"error"}."""
    profile_to = os.environ.get("BENCH_PROFILE")
    try:
        if profile_to:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # this process's CPU
            try:
                profiler.runcall(asyncio.run, _bot_serve(conn, spec))
            finally:
                profiler.dump_stats(f"{profile_to}.{os.getpid()}")
        else:
            asyncio.run(_bot_serve(conn, spec))
    finally:
        conn.close()


def _running(spec: dict[str, Any]) -> Any:
    """The echo bot or the bot, started as `run_polling` would (an async context)."""
    from tests.e2e import running_app, running_bot

    if spec["kind"] == "echo":
        return running_app(_echo_app(spec["tg_url"], spec["token"]))
    from bot import app as bot_app
    from bot.config import load_settings

    ids = [INSTALLER_BASE + i for i in range(spec["k"])] + [VICTIM_ID]
    settings = load_settings(
        _env_file=None,
        bot_token=spec["token"],
        telegram_api_url=spec["tg_url"],
        navixy_api_url=spec["navixy_url"],
        navixy_api_key=spec["navixy_key"],
        database_path=Path(spec["tmp"]) / f"load-{os.getpid()}.db",
        admin_ids="1",
        installer_ids=",".join(map(str, ids)),
    )
    bot_app._whole_process = True  # the bot owns this process, as with python -m bot
    return running_bot(settings)


async def _bot_serve(conn: Connection, spec: dict[str, Any]) -> None:
    import logging
    import traceback

    logging.basicConfig(level=logging.CRITICAL)
    loop = asyncio.get_running_loop()
    lag_to = os.environ.get("BENCH_LAG")
    probe = _LagProbe() if lag_to else None
    stop_probe = asyncio.Event()
    try:
        async with _running(spec) as app:
            trace = _BotTrace() if spec["trace"] else None
            if trace is not None:
                trace.attach(app)
            if spec["kind"] != "echo":
                from bot.telegram.context import SERVICES_KEY

                await app.bot_data[SERVICES_KEY].catalog.ensure()
                # As a bot that has been up a while: the imports it does once quiet
                # (`bot.app.warm_up`) are done before the timed run.
                from bot.app import warm_up

                await warm_up()
            probing: asyncio.Task[None] | None = None
            modules_at_go: set[str] = set()
            conn.send("ready")
            cpu0 = time.process_time()
            while True:
                word = await loop.run_in_executor(None, conn.recv)
                if isinstance(word, dict):
                    await _store_watches(app, word["watches"])
                    conn.send("stored")
                elif word == "go":  # the timed run: CPU and loop lag count from here
                    cpu0 = time.process_time()
                    modules_at_go = set(sys.modules)
                    if probe is not None:
                        probing = asyncio.create_task(probe.run(stop_probe))
                    conn.send("going")
                elif word == "cpu":
                    conn.send(time.process_time() - cpu0)
                elif word == "stop":
                    conn.send(
                        {
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                            / 1024,
                            "trace": trace.recorded() if trace else None,
                        }
                    )
                    break
            if probing is not None and probe is not None:
                stop_probe.set()
                await probing
                with open(f"{lag_to}.{os.getpid()}", "w") as out:  # noqa: ASYNC230
                    out.write(probe.report())
                    late = sorted(set(sys.modules) - modules_at_go)
                    out.write(f"modules imported during the run: {len(late)}\n")
                    out.write("".join(f"  {name}\n" for name in late))
    except BaseException:
        with contextlib.suppress(OSError):
            conn.send({"error": traceback.format_exc()})
        raise


class _Child:
    """The scenario's end of a spawned child's pipe: a word sent, the answer awaited."""

    def __init__(self, conn: Connection, proc: Any, name: str) -> None:
        self._conn = conn
        self._proc = proc
        self._name = name

    async def ask(self, word: Any, bound: float = BOT_START_BOUND) -> Any:
        """Send `word` (None: only listen) and return the answer; RuntimeError when the
        child reports a failure (`{"error"}`), ends, or stays silent for `bound` s."""
        if word is not None:
            self._conn.send(word)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, self._conn.poll, bound):
            raise RuntimeError(f"{self._name} did not answer {word!r} in {bound} s")
        try:
            answer = self._conn.recv()
        except EOFError:
            code = self._proc.exitcode
            raise RuntimeError(f"{self._name}'s process ended (exit code {code})") from None
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"{self._name} failed:\n{answer['error']}")
        return answer


@contextlib.asynccontextmanager
async def _spawned(
    target: Callable[..., None],
    args: tuple[Any, ...],
    name: str,
    stop_bound: float,
    *,
    goodbye: str | None = None,
) -> AsyncIterator[_Child]:
    """`target(conn, *args)` in a spawned child process for the block; at its end
    `goodbye` is sent (if any), then the child has `stop_bound` s to exit before it is
    killed."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=target, args=(theirs, *args), name=name, daemon=True)
    proc.start()
    theirs.close()  # the child's end: ours now reads EOF if the child dies
    loop = asyncio.get_running_loop()
    try:
        yield _Child(ours, proc, name)
    finally:
        if goodbye is not None:
            with contextlib.suppress(OSError):
                ours.send(goodbye)
        ours.close()
        await loop.run_in_executor(None, proc.join, stop_bound)
        if proc.is_alive():
            proc.kill()
            await loop.run_in_executor(None, proc.join, 5)


@contextlib.asynccontextmanager
async def _bot_process(spec: dict[str, Any]) -> AsyncIterator[_Child]:
    """The bot (or echo bot) in a spawned child process, polling, for the block."""
    async with _spawned(_bot_child, (spec,), "the bot", BOT_STOP_BOUND) as bot:
        await bot.ask(None)  # "ready"
        yield bot


def _echo_app(tg_url: str, token: str) -> Any:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, MessageHandler, filters

    async def echo(update: Update, context: Any) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "?")

    async def button(update: Update, context: Any) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer()

    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{tg_url}/bot")
        .base_file_url(f"{tg_url}/file/bot")
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(button))
    return app


class _Timer:
    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = defaultdict(list)
        self.failures: Counter[str] = Counter()
        #: (step, chat id, first update id it could be, acted at, seen at) per sample.
        self.samples: list[tuple[str, int, int, float, float]] = []

    async def time(
        self,
        step: str,
        tg: Any,
        chat: Any,
        act: Callable[[], Awaitable[Any]],
        expect: str,
        bound: float,
    ) -> None:
        first_id = tg._next_update_id
        t0 = time.perf_counter()
        seen_at = await _act_and_wait(tg, chat, act, expect, bound)
        self.steps[step].append(seen_at - t0)
        self.samples.append((step, int(chat.id), first_id, t0, seen_at))


async def _act_and_wait(
    tg: Any, chat: Any, act: Callable[[], Awaitable[Any]], expect: str, bound: float
) -> float:
    """Run the user's action; when (`time.perf_counter()`) a new or edited bot message
    shows `expect`."""
    state = tg._state(chat)
    before = {m.message_id: m.edits for m in state.msgs.values() if m.from_bot}
    await act()
    seen_at = 0.0

    def seen() -> bool:
        nonlocal seen_at
        for msg in state.msgs.values():
            if not msg.from_bot or before.get(msg.message_id) == msg.edits:
                continue
            snap = tg._snapshot(msg)
            if expect in (snap.text or snap.caption or ""):
                seen_at = time.perf_counter()
                return True
        return False

    await tg.wait_until(seen, timeout=bound, what=expect)
    return seen_at


#: The update whose handlers run in this task (`--trace`, in the bot's process).
_TRACED_UPDATE: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "bench_traced_update", default=None
)


class _BotTrace:
    """When each update reached the bot's queue, waited, ran, and when the bot started each
    send or edit per chat (`--trace`; the bot's thread writes, the main thread reads after
    the run). Wrapped on the running application's objects, not in the bot's code."""

    def __init__(self) -> None:
        self.queued: dict[int, float] = {}
        self.started: dict[int, float] = {}
        self.sends: dict[str, list[float]] = defaultdict(list)
        #: Per update: seconds its handlers awaited Navixy calls, and SQLite.
        self.navixy: defaultdict[int, float] = defaultdict(float)
        self.sqlite: defaultdict[int, float] = defaultdict(float)
        #: The process's garbage collections: (generation, started, ended).
        self.collections: list[tuple[int, float, float]] = []
        self._collecting = 0.0
        gc.callbacks.append(self._collection)

    def _collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collecting = time.perf_counter()
        else:
            self.collections.append((info["generation"], self._collecting, time.perf_counter()))

    def recorded(self) -> dict[str, Any]:
        """What the scenario needs (perf_counter is the system's monotonic clock on Linux:
        the same time line in both processes)."""
        return {
            "queued": self.queued,
            "started": self.started,
            "sends": dict(self.sends),
            "collections": self.collections,
            "navixy": dict(self.navixy),
            "sqlite": dict(self.sqlite),
        }

    @staticmethod
    def _time_awaits(owner: Any, name: str, into: defaultdict[int, float]) -> None:
        """Wrap the coroutine method `owner.name`: the time each traced update awaits it."""
        original = getattr(owner, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            uid = _TRACED_UPDATE.get()
            t0 = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                if uid is not None:
                    into[uid] += time.perf_counter() - t0

        setattr(owner, name, timed)

    def attach(self, app: Any) -> None:
        queue = app.update_queue
        put = queue.put

        async def queued(item: Any) -> None:
            if isinstance(getattr(item, "update_id", None), int):
                self.queued[item.update_id] = time.perf_counter()
            await put(item)

        queue.put = queued
        processor = app.update_processor
        if hasattr(processor, "__dict__"):  # ours (PTB's own has slots: echo bot untraced)
            process = processor.do_process_update

            async def run(uid: int, coroutine: Awaitable[Any]) -> None:
                self.started[uid] = time.perf_counter()
                _TRACED_UPDATE.set(uid)  # this task's: the handlers' awaits see it
                await coroutine

            async def traced(update: Any, coroutine: Awaitable[Any]) -> None:
                await process(update, run(update.update_id, coroutine))

            processor.do_process_update = traced
        # The bot's (the echo bot has neither Navixy nor SQLite, nor imports bot.app).
        wiring = sys.modules.get("bot.app")
        resources = app.bot_data.get(wiring.RESOURCES_KEY) if wiring is not None else None
        if resources is not None:
            self._time_awaits(resources.client._http, "post", self.navixy)
            # The database's lock (one connection), then aiosqlite's `_execute` (its one
            # worker thread) for every statement: waiting for the lock counts too.
            self._time_awaits(resources.db._lock, "acquire", self.sqlite)
            self._time_awaits(resources.db._conn, "_execute", self.sqlite)
        client = app.bot.request._client
        request = client.request

        async def sending(*args: Any, **kwargs: Any) -> Any:
            url = str(kwargs.get("url", args[1] if len(args) > 1 else ""))
            if "sendMessage" in url or "editMessage" in url:
                content = kwargs.get("content")
                params = json.loads(content) if content else dict(kwargs.get("data") or {})
                self.sends[str(params.get("chat_id"))].append(time.perf_counter())
            return await request(*args, **kwargs)

        client.request = sending


def _button_message(tg: Any, chat: Any, text: str) -> int:
    for msg in reversed(tg.messages(chat)):
        if not msg.deleted and text in msg.button_texts():
            return int(msg.message_id)
    raise AssertionError(f"no button {text!r}")


async def _think(seconds: float) -> None:
    """A person reads the answer and types: 0.5-1.5 x `seconds` (simulated, on purpose)."""
    if seconds > 0:
        await asyncio.sleep(random.uniform(0.5, 1.5) * seconds)


async def _registration(
    tg: Any, user: Any, chat: Any, n: int, timer: _Timer, bound: float, think: float
) -> None:
    imei = _luhn_imei(n)
    phone = f"+49 170 {3000000 + n}"

    def text(value: str) -> Callable[[], Awaitable[Any]]:
        return lambda: tg.send_text(user, chat, value)

    def tap(label: str) -> Callable[[], Awaitable[Any]]:
        return lambda: tg.press_button(user, chat, _button_message(tg, chat, label), label)

    plan: list[tuple[str, Callable[[], Awaitable[Any]], str]] = [
        ("start", text("/register"), "Which device?"),
        ("search", text("fmb140"), "Models matching"),
        ("model tap", tap("Teltonika FMB140"), "IMEI"),
        ("IMEI", text(imei), "Phone number"),
        ("phone", text(phone), "APN"),
        ("APN tap", tap("Use Deutsche Telekom: internet.telekom"), "Name for this tracker"),
        ("label", text(f"LD {n}"), "Which group"),
        ("group tap", tap("Main office"), "Check and register"),
        ("confirm", tap("✅ Register"), "Registered"),
    ]
    for step, act, expect in plan:
        await _think(think)
        try:
            await timer.time(step, tg, chat, act, expect, bound)
        except AssertionError:
            timer.failures[step] += 1
            return


async def _echo_round(
    tg: Any, user: Any, chat: Any, n: int, timer: _Timer, bound: float, think: float
) -> None:
    for i, step in enumerate(STEPS):
        word = f"echo {n} {i}"
        await _think(think)
        try:
            await timer.time(
                step, tg, chat, functools.partial(tg.send_text, user, chat, word), word, bound
            )
        except AssertionError:
            timer.failures[step] += 1
            return


async def _start_round(
    tg: Any, user: Any, chat: Any, n: int, timer: _Timer, bound: float, think: float
) -> None:
    """Nine `/start`s (the reply every user gets), timed like the echo bot's nine messages."""
    for step in STEPS:
        await _think(think)
        try:
            await timer.time(
                step, tg, chat, functools.partial(tg.send_text, user, chat, "/start"), "Hi!", bound
            )
        except AssertionError:
            timer.failures[step] += 1
            return


def _seed_trackers(sandbox: Any, count: int) -> list[int]:
    """N silent trackers in the stand-in (in its process); their ids."""
    return list(sandbox.add_silent_trackers(_luhn_imei(900_000 + i) for i in range(count)))


def _parts(
    tg: Any, samples: list[tuple[str, int, int, float, float]], bot: dict[str, Any]
) -> list[Any]:
    """Per sample: (step, total, to the bot, queued, waited, handler, of which awaiting
    Navixy, of which awaiting SQLite, send, back, garbage collection in the bot) s; `bot` is
    `_BotTrace.recorded()`."""
    import bisect

    updates: dict[int, list[int]] = defaultdict(list)
    for u in tg.updates:
        message = u.get("message") or (u.get("callback_query") or {}).get("message")
        if message:
            updates[int(message["chat"]["id"])].append(int(u["update_id"]))
    delivered: dict[int, float] = {}
    answered: dict[str, list[float]] = defaultdict(list)
    for call in tg.requests:
        if call.method.lower() == "getupdates":
            for uid in call.result or () if call.ok else ():
                delivered.setdefault(uid, call.at)
        elif "chat_id" in call.params:
            answered[str(call.params["chat_id"])].append(call.at)
    nan = float("nan")

    def last_before(values: list[float], until: float) -> float:
        i = bisect.bisect_right(values, until)
        return values[i - 1] if i else nan

    out = []
    for step, chat_id, first_id, t0, seen_at in samples:
        ids = updates[chat_id]
        i = bisect.bisect_left(ids, first_id)
        uid = ids[i] if i < len(ids) else -1
        got = delivered.get(uid, nan)
        queued = bot["queued"].get(uid, nan)
        started = bot["started"].get(uid, queued)
        done = last_before(answered[str(chat_id)], seen_at)
        sent = last_before(bot["sends"].get(str(chat_id), []), done)
        out.append(
            (
                step,
                seen_at - t0,
                got - t0,
                queued - got,
                started - queued,
                sent - started,
                bot.get("navixy", {}).get(uid, 0.0),
                bot.get("sqlite", {}).get(uid, 0.0),
                done - sent,
                seen_at - done,
                _collected_within(bot["collections"], t0, seen_at),
            )
        )
    return out


def _collected_within(collections: list[tuple[int, float, float]], t0: float, t1: float) -> float:
    """Seconds of the bot's garbage collections (its every thread stops) between t0 and t1."""
    return sum(max(0.0, min(t1, end) - max(t0, start)) for _, start, end in collections)


def _seed_watches(tg: Any, tracker_ids: list[int]) -> list[Any]:
    """A status message in the fake per seeded tracker (scenario process); the watches to
    store in the bot's database."""
    from bot.domain.watch import Watch
    from tests.fakes.telegram import _Msg

    if not tracker_ids:
        return []
    rng = random.Random(len(tracker_ids))
    now = time.time()
    watches = []
    for i, tracker_id in enumerate(tracker_ids):
        user = tg.user(WATCH_USER_BASE + i, f"W{i}")
        chat = tg.private_chat(user, started=True)
        state = tg._state(chat)
        msg_id = state.next_id
        state.next_id += 1
        data = {
            "message_id": msg_id,
            "from": tg.bot_user,
            "chat": chat.to_dict(),
            "date": int(now),
            "text": "Waiting for the device",
        }
        state.msgs[msg_id] = _Msg(msg_id, chat.id, data, from_bot=True, kind="text")
        watches.append(
            Watch(
                tracker_id=tracker_id,
                chat_id=chat.id,
                user_id=user.id,
                label=f"W {i}",
                model="telfmb140",
                started_at=now - rng.uniform(0, 14 * 60),
                lang="en",
                status_message_id=msg_id,
                auto_retry_done=True,
            )
        )
    return watches


async def _store_watches(app: Any, watches: list[Any]) -> None:
    from bot.telegram.context import SERVICES_KEY

    store = app.bot_data[SERVICES_KEY].watcher.store
    for watch in watches:
        await store.put(watch)


def _trace_summary(recorded: dict[str, Any] | None, tg: Any, timer: _Timer) -> dict[str, Any]:
    if recorded is None:
        return {}
    parts = _parts(tg, timer.samples, recorded)
    full = [end - start for generation, start, end in recorded["collections"] if generation == 2]
    return {
        "slowest": sorted(parts, key=lambda p: p[1], reverse=True)[:TRACE_SLOWEST],
        "parts_p50": [_rank(sorted(p[i] for p in parts), 0.5) for i in range(2, 11)],
        "full_collections": [len(full), max(full, default=0.0), sum(full)],
    }


def _pcts(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    ordered = sorted(values)
    return statistics.median(ordered), _rank(ordered, 0.99)


def _rank(ordered: list[float], q: float) -> float:
    """The `q` quantile of sorted values (nearest rank; p99 of 50 values is the largest)."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _scenario(spec: dict[str, Any]) -> dict[str, Any]:
    import logging

    from tests.fakes.faulty_telegram import FaultyTelegram, TgError
    from tests.fakes.telegram import FakeTelegram

    logging.basicConfig(level=logging.CRITICAL)
    kind, k, n, rounds = spec["kind"], spec["k"], spec["n"], spec["rounds"]
    timeout = spec["timeout"]
    async with contextlib.AsyncExitStack() as stack:
        tg = await stack.enter_async_context(FakeTelegram())
        proxy = await stack.enter_async_context(FaultyTelegram(tg))
        child = {
            "kind": kind,
            "k": k,
            "tmp": spec["tmp"],
            "trace": bool(spec.get("trace")),
            "tg_url": proxy.url,
            "token": tg.token,
        }
        if kind != "echo":  # the echo bot never calls Navixy
            navixy = await stack.enter_async_context(_navixy_process(n))
            child.update(navixy_url=navixy["base_url"], navixy_key=navixy["key"])
        bot = await stack.enter_async_context(_bot_process(child))
        if kind != "echo":
            await bot.ask({"watches": _seed_watches(tg, navixy["trackers"])})
            from tests.e2e import command_menus_set

            # One-time start-up work (the menus are set once polling is quiet) is not a reply's.
            await command_menus_set(tg, admin_ids=(1,))
        users = [tg.user(INSTALLER_BASE + i, f"I{i}") for i in range(k)]
        chats = [tg.private_chat(u) for u in users]
        ours = {c.id for c in chats}
        victim_task = None
        if spec["flood"] and kind != "echo" and spec.get("flow") != "replies":
            victim = tg.user(VICTIM_ID, "Victim")
            victim_chat = tg.private_chat(victim)
            proxy.inject(
                "sendMessage",
                TgError(429, retry_after=spec["flood"]),
                times=10_000,
                when=lambda p: str(p.get("chat_id")) == str(VICTIM_ID),
            )
            proxy.inject(
                "editMessageText",
                TgError(429, retry_after=spec["flood"]),
                times=10_000,
                when=lambda p: str(p.get("chat_id")) == str(VICTIM_ID),
            )
            victim_task = asyncio.create_task(
                _registration(tg, victim, victim_chat, 99_999, _Timer(), timeout, 0.0)
            )
        timer = _Timer()
        calls_before = len(tg.requests)
        # The fake Telegram's record of every call grows all run: its full collections
        # stalled this process (not the bot) 30-50 ms, the simulated users and the fake's
        # answers with it. Production's Telegram has no such pauses: none while timing.
        gc.collect()
        gc.disable()
        await bot.ask("go")
        t0 = time.perf_counter()
        flow = _echo_round if kind == "echo" else _registration
        if kind != "echo" and spec.get("flow") == "replies":
            flow = _start_round

        async def one(i: int) -> None:
            for r in range(rounds):
                await flow(tg, users[i], chats[i], i * 10 + r, timer, timeout, spec["think"])

        harness = _LagProbe() if spec.get("trace") else None
        harness_done = asyncio.Event()
        probing = asyncio.create_task(harness.run(harness_done)) if harness else None
        await asyncio.gather(*(one(i) for i in range(k)))
        wall = time.perf_counter() - t0
        if probing is not None and harness is not None:
            harness_done.set()
            await probing
            lag_to = os.environ.get("BENCH_LAG")
            if lag_to:
                with open(f"{lag_to}.harness.{os.getpid()}", "w") as out:  # noqa: ASYNC230
                    out.write(harness.report())
        gc.enable()
        bot_cpu = await bot.ask("cpu")
        calls = tg.requests[calls_before:]
        proxy.calm()  # the flooded chat's pending sends may finish: a quick shutdown
        if victim_task is not None:
            victim_task.cancel()
            with contextlib.suppress(BaseException):
                await victim_task
        bg_edits = sum(
            1
            for c in calls
            if c.method.lower() == "editmessagetext"
            and int(c.params.get("chat_id", 0) or 0) >= WATCH_USER_BASE
        )
        stopped = await bot.ask("stop", BOT_STOP_BOUND)
    completed = len(timer.steps["confirm"] if kind != "echo" else timer.steps[STEPS[-1]])
    ours_calls = [
        c
        for c in calls
        if int(c.params.get("chat_id", 0) or 0) in ours
        or (c.method.lower() == "answercallbackquery")
    ]
    per_step = {s: _pcts(timer.steps[s]) for s in STEPS}
    all_steps = [v for s in STEPS for v in timer.steps[s]]
    return {
        "kind": kind,
        "k": k,
        "n": n,
        "completed": completed,
        "failures": dict(timer.failures),
        "wall": wall,
        "per_step": per_step,
        "p95_step": {step: _rank(sorted(timer.steps[step]), 0.95) for step in STEPS},
        "all": _pcts(all_steps),
        "updates": len(all_steps),
        "bot_cpu": bot_cpu,
        "peak_rss_mb": stopped["peak_rss_mb"],
        "calls": len(ours_calls),
        "limited_calls": sum(1 for c in ours_calls if c.method.lower() not in RATE_EXEMPT),
        "bg_edits_per_s": bg_edits / wall if wall else 0.0,
        **_trace_summary(stopped["trace"], tg, timer),
        **({"harness_lag": harness.report().splitlines()[0]} if harness else {}),
    }


# ---------------------------------------------------------------- child: idle start-up probe


def _idle_child(kind: str, tg_url: str, token: str, navixy: str, key: str, db: str) -> None:
    if kind == "echo":
        _echo_app(tg_url, token).run_polling(close_loop=True)
        return
    os.environ.update(
        BOT_TOKEN=token,
        TELEGRAM_API_URL=tg_url,
        NAVIXY_API_URL=navixy,
        NAVIXY_API_KEY=key,
        DATABASE_PATH=db,
        ADMIN_IDS="1",
        INSTALLER_IDS="2",
        LOG_LEVEL="WARNING",
    )
    os.chdir(Path(db).parent)  # no .env from the repository
    from bot.__main__ import run  # what `python -m bot` runs (it decides what PTB loads)

    run([])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _bytecode() -> None:
    """Compile the bot's (and this bench's) modules first, as the image does (`compileall`
    at build). Without it, with PYTHONDONTWRITEBYTECODE set (the image sets it too), every
    start of an editable checkout compiles ~80 modules from source: ~0.1 s that production
    does not spend, counted against the bot only."""
    import compileall

    for folder in ("bot", "bench"):
        compileall.compile_dir(Path(ROOT) / folder, quiet=1)


async def _idle(kind: str, tmp: Path) -> dict[str, float]:
    from bot.sandbox import NavixySandbox
    from tests.fakes.telegram import FakeTelegram

    _bytecode()

    async with FakeTelegram() as tg, NavixySandbox() as sandbox:
        key = sandbox.new_api_key()
        db = tmp / f"idle-{kind}.db"
        t0 = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.load",
            "--idle-child",
            kind,
            tg.url,
            tg.token,
            sandbox.base_url,
            key,
            str(db),
            env={**os.environ, "PYTHONPATH": ROOT},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await tg.wait_until(
                lambda: tg.polls_waiting or tg.calls("getUpdates"), timeout=60, what="getUpdates"
            )
            startup = time.perf_counter() - t0
            rss0 = _rss_mb(proc.pid)
            await asyncio.sleep(2.0)  # idle on purpose: what the bot holds at rest
            rss = _rss_mb(proc.pid)
            settled = rss
            if kind != "echo":
                # Once polling is quiet the bot sets its menus, then imports what the first
                # search and phone number need (`bot.app.warm_up`): it holds those too.
                await tg.wait_until(
                    lambda: tg.calls("setMyCommands"), timeout=60, what="the command menus"
                )
                await asyncio.sleep(2.0)
                settled = _rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
    return {"startup": startup, "rss_first_poll": rss0, "rss_idle": rss, "rss_settled": settled}


# ---------------------------------------------------------------- parent: run and print


def _run_child(spec: dict[str, Any]) -> dict[str, Any]:
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "bench.load", "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if out.returncode != 0:
        raise SystemExit(f"scenario {spec} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _ms(v: float) -> str:
    return "-" if v != v else f"{v * 1000:.0f}"


def _ratio(a: float, b: float) -> str:
    return "-" if not b or a != a or b != b else f"{a / b:.2f}×"


def _per_update(r: dict[str, Any]) -> float:
    return float(r["bot_cpu"]) / max(1, int(r["updates"]))


def _per_registration(r: dict[str, Any]) -> float:
    return float(r["bot_cpu"]) / max(1, int(r["completed"]))


def _print_tables(
    echoes: dict[int, dict[str, Any]], runs: list[dict[str, Any]], idle: dict[str, Any]
) -> None:
    """One run's tables; every ratio is to the echo bot with the same K."""
    print("\n### Load: per-step latency p50 / p99 ms (ratio of p99 to the echo bot's reply p99)\n")
    names = [f"K={r['k']} N={r['n']}" for r in runs]
    ks = sorted(echoes)
    print("| step | " + " | ".join(f"echo (K={k})" for k in ks) + " | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * (len(ks) + len(runs)))
    for step in STEPS:
        cells = [f"{_ms(echoes[k]['all'][0])} / {_ms(echoes[k]['all'][1])}" for k in ks]
        for r in runs:
            p50, p99 = r["per_step"][step]
            cells.append(f"{_ms(p50)} / {_ms(p99)} ({_ratio(p99, echoes[r['k']]['all'][1])})")
        print(f"| {step} | " + " | ".join(cells) + " |")
    print("\n### Load: totals (ratio to the echo bot with the same K, same run)\n")
    print(
        "| metric | " + " | ".join(f"echo (K={k})" for k in ks) + " | " + " | ".join(names) + " |"
    )
    print("|---|" + "---:|" * (len(ks) + len(runs)))

    def echo_of(r: dict[str, Any]) -> dict[str, Any]:
        return echoes[int(r["k"])]

    def rps(r: dict[str, Any]) -> float:
        return float(r["completed"]) / float(r["wall"])

    rows: list[tuple[str, list[str], list[str]]] = [
        (
            "registrations done / failed steps",
            [f"{echoes[k]['completed']} / {sum(echoes[k]['failures'].values())}" for k in ks],
            [f"{r['completed']} / {sum(r['failures'].values())}" for r in runs],
        ),
        (
            "registrations (echo: 9-message rounds) per s",
            [f"{rps(echoes[k]):.1f}" for k in ks],
            [f"{rps(r):.1f} ({_ratio(rps(r), rps(echo_of(r)))})" for r in runs],
        ),
        (
            "CPU per update ms",
            [f"{_per_update(echoes[k]) * 1000:.2f}" for k in ks],
            [
                f"{_per_update(r) * 1000:.2f} ({_ratio(_per_update(r), _per_update(echo_of(r)))})"
                for r in runs
            ],
        ),
        (
            "CPU per registration ms (echo: 9 replies)",
            [f"{_per_registration(echoes[k]) * 1000:.1f}" for k in ks],
            [
                f"{_per_registration(r) * 1000:.1f} "
                f"({_ratio(_per_registration(r), _per_registration(echo_of(r)))})"
                for r in runs
            ],
        ),
        (
            "Bot API calls per registration (rate-limited)",
            [
                f"{echoes[k]['calls'] / max(1, echoes[k]['completed']):.1f} "
                f"({echoes[k]['limited_calls'] / max(1, echoes[k]['completed']):.1f})"
                for k in ks
            ],
            [
                f"{r['calls'] / max(1, r['completed']):.1f} "
                f"({r['limited_calls'] / max(1, r['completed']):.1f})"
                for r in runs
            ],
        ),
        (
            "background status edits per s",
            ["-" for _ in ks],
            [f"{r['bg_edits_per_s']:.1f}" for r in runs],
        ),
        (
            "peak RSS MB (the bot's process)",
            [f"{echoes[k]['peak_rss_mb']:.0f}" for k in ks],
            [
                f"{r['peak_rss_mb']:.0f} ({_ratio(r['peak_rss_mb'], echo_of(r)['peak_rss_mb'])})"
                for r in runs
            ],
        ),
    ]
    for name, echo_cells, cells in rows:
        print(f"| {name} | " + " | ".join(echo_cells) + " | " + " | ".join(cells) + " |")
    _print_idle(idle)


def _worst_step(
    run: dict[str, Any], base: dict[str, Any], *, p95: bool = False
) -> tuple[float, str]:
    """The largest ratio of a step's p99 (or p95) in `run` to the same in `base`, and the step."""

    def value(result: dict[str, Any], step: str) -> float:
        return float(result["p95_step"][step] if p95 else result["per_step"][step][1])

    worst = (0.0, "-")
    for step in STEPS:
        mine, theirs = value(run, step), value(base, step)
        if mine == mine and theirs == theirs and theirs > 0:
            worst = max(worst, (mine / theirs, step))
    return worst


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _print_targets(reps: list[tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]]) -> None:
    """The issue's targets in every repetition, and their median."""
    print("\n### Load: the targets in each run (echo and bot alternate), and the median\n")
    print("| target | " + " | ".join(f"run {i + 1}" for i in range(len(reps))) + " | median |")
    print("|---|" + "---:|" * (len(reps) + 1))
    rows: list[tuple[str, list[float], list[str]]] = []
    first = reps[0][1]
    for index, r0 in enumerate(first):
        k, n = r0["k"], r0["n"]
        ratios = [
            _per_registration(runs[index]) / _per_registration(echoes[k]) for echoes, runs in reps
        ]
        rows.append(
            (
                f"CPU per registration / 9 echo replies, K={k} N={n}",
                ratios,
                [f"{x:.2f}×" for x in ratios],
            )
        )
    for index, r0 in enumerate(first):
        k, n = r0["k"], r0["n"]
        base = next((i for i, r in enumerate(first) if r["k"] == k and r["n"] == 0), None)
        if n == 0 or base is None:
            continue
        for p95 in (False, True):
            worst = [_worst_step(runs[index], runs[base], p95=p95) for _, runs in reps]
            rows.append(
                (
                    f"worst step {'p95' if p95 else 'p99'}, N={n} / N=0, K={k}",
                    [w[0] for w in worst],
                    [f"{w[0]:.2f}× ({w[1]})" for w in worst],
                )
            )
        confirm = [runs[index]["per_step"]["confirm"][1] * 1000 for _, runs in reps]
        rows.append((f"confirm p99 ms, K={k} N={n}", confirm, [f"{c:.0f}" for c in confirm]))
    for name, values, cells in rows:
        median = _median(values)
        shown = f"{median:.0f}" if name.startswith("confirm") else f"{median:.2f}×"
        print(f"| {name} | " + " | ".join(cells) + f" | {shown} |")


def _print_replies(pairs: list[tuple[int, dict[str, Any], dict[str, Any]]]) -> None:
    """One row per run (echo and bot alternate), then the median ratio per K."""
    print("\n### Replies: /start (bot) vs a word (echo bot), each user 9 x rounds\n")
    print(
        "| K | run | replies | latency p50 / p99 ms echo | bot | CPU per reply ms echo | bot "
        "| ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    ratios: dict[int, list[float]] = {}
    for run, echo, bot in pairs:
        e_cpu, b_cpu = _per_update(echo), _per_update(bot)
        ratios.setdefault(int(bot["k"]), []).append(b_cpu / e_cpu if e_cpu else float("nan"))
        print(
            f"| {bot['k']} | {run} | {bot['updates']} | "
            f"{_ms(echo['all'][0])} / {_ms(echo['all'][1])} | "
            f"{_ms(bot['all'][0])} / {_ms(bot['all'][1])} | {e_cpu * 1000:.2f} | "
            f"{b_cpu * 1000:.2f} | {_ratio(b_cpu, e_cpu)} |"
        )
    if any(len(v) > 1 for v in ratios.values()):
        print("\n| K | CPU per reply ratio, median of the runs |\n|---:|---:|")
        for k, values in ratios.items():
            print(f"| {k} | {_median(values):.2f}× |")


def _print_trace(results: list[dict[str, Any]]) -> None:
    """Each scenario's slowest steps, in parts: to the bot (until the getUpdates carrying
    the action returned), queued (until the bot put the update in its queue), waited (until
    its handlers ran: the conversation's turn, a slot, the event loop), handler (until the
    bot started the send or edit the user saw; of it, how long the handlers awaited Navixy
    calls and SQLite), send (until the fake answered it), back
    (until the simulated user saw it), and how much of it the process spent collecting
    garbage; each part's median over all the steps; the full collections in the run."""
    print("\n### Trace: the slowest steps, in parts (ms)\n")
    print(
        "| scenario | step | total | to the bot | queued | waited | handler | of it Navixy "
        "| of it SQLite | send | back | of which garbage collection |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        if "slowest" not in r:
            continue
        name = f"{r['kind']} K={r['k']} N={r['n']}"
        parts = " | ".join(_ms(v) for v in r["parts_p50"])
        print(f"| {name} | median of each part | | {parts} |")
        if "harness_lag" in r:
            print(f"| {name} | the fake's loop woke late: {r['harness_lag']} | | | | | | | | | | |")
        count, longest, total = r["full_collections"]
        print(
            f"| {name} | full collections: {count}, longest {_ms(longest)}, "
            f"in all {_ms(total)} | | | | | | | | | | |"
        )
        for step, *values in r["slowest"]:
            print(f"| {name} | {step} | " + " | ".join(_ms(v) for v in values) + " |")


def _print_idle(idle: dict[str, Any]) -> None:
    print("\n### Idle: start-up and memory (own process, fake Telegram outside it)\n")
    print("| metric | echo | bot | ratio |")
    print("|---|---:|---:|---:|")
    for key, label in (
        ("startup", "start-up to first getUpdates s"),
        ("rss_first_poll", "RSS at first getUpdates MB"),
        ("rss_idle", "RSS idle (2 s later) MB"),
        ("rss_settled", "RSS idle, menus set and warmed up (bot: 2 s after its menus) MB"),
    ):
        e, b = idle["echo"][key], idle["bot"][key]
        print(f"| {label} | {e:.2f} | {b:.2f} | {_ratio(b, e)} |")


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["--child"]:
        print(json.dumps(asyncio.run(_scenario(json.loads(args_list[1])))))
        return 0
    if args_list[:1] == ["--idle-child"]:
        _idle_child(*args_list[1:7])
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__)
    parser.add_argument("--installers", default="10,50", help="K values (comma-separated)")
    parser.add_argument("--watched", default="0,1000", help="N values (comma-separated)")
    parser.add_argument("--rounds", type=int, default=2, help="registrations per installer")
    parser.add_argument(
        "--flood", type=int, default=10, help="retry_after of the 429 chat (0: none)"
    )
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean pause of an installer between steps, s"
    )
    parser.add_argument(
        "--idle-only", action="store_true", help="only the start-up and idle memory probe"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="bound of one step, s")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of every scenario (echo and bot alternate); the targets table gives "
        "each run's ratios and their median",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="also print each scenario's slowest steps, split into where the time went",
    )
    parser.add_argument(
        "--replies",
        default="",
        help="instead: K users (comma-separated) sending /start (bot) or a word (echo), "
        "9 x --rounds each; CPU per reply",
    )
    args = parser.parse_args(args_list)
    import tempfile

    ks = [int(x) for x in args.installers.split(",")]
    ns = [int(x) for x in args.watched.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        base = {
            "rounds": args.rounds,
            "timeout": args.timeout,
            "tmp": tmp,
            "flood": args.flood,
            "think": args.think,
            "trace": args.trace,
        }
        if args.idle_only:
            idle = {kind: asyncio.run(_idle(kind, Path(tmp))) for kind in ("echo", "bot")}
            _print_idle(idle)
            return 0
        if args.replies:
            pairs = []
            for run in range(1, args.repeat + 1):
                for k in (int(x) for x in args.replies.split(",")):
                    print(f"running replies K={k} (run {run}) ...", file=sys.stderr)
                    spec = {**base, "k": k, "n": 0, "flow": "replies"}
                    echo = _run_child({**spec, "kind": "echo"})
                    pairs.append((run, echo, _run_child(spec | {"kind": "bot"})))
            _print_replies(pairs)
            if args.trace:
                _print_trace([r for _, echo, bot in pairs for r in (echo, bot)])
            return 0
        reps = []
        for run in range(1, args.repeat + 1):
            echoes: dict[int, dict[str, Any]] = {}
            runs = []
            for k in ks:
                print(f"running echo K={k} (run {run}) ...", file=sys.stderr)
                echoes[k] = _run_child({**base, "kind": "echo", "k": k, "n": 0})
                for n in ns:
                    print(f"running K={k} N={n} (run {run}) ...", file=sys.stderr)
                    runs.append(_run_child({**base, "kind": "bot", "k": k, "n": n}))
            reps.append((echoes, runs))
        idle = {kind: asyncio.run(_idle(kind, Path(tmp))) for kind in ("echo", "bot")}
    _print_tables(*reps[0], idle)
    _print_targets(reps)
    if args.trace:
        _print_trace([r for echoes, runs in reps for r in [*echoes.values(), *runs]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
