"""One outbound scheduler for every rate-limited Bot API call of the bot.

The send layer (`bot/telegram/common.py`: `send`, `edit_text` and the watch's map pin) runs
its calls through `outbox_for(bot).run(chat_id, call)` instead of calling Telegram at once:

- **Per-chat queues** with Telegram's limits: about one message a second in a private chat
  (short bursts allowed), 20 a minute in a group, about 30 a second overall. One call per
  chat is in flight at a time, so a chat sees its messages in the order they were queued.
  In a private chat the answers to the person go at once (their own pace bounds them; they
  still use the chat's budget, so background work there waits); a group's limit holds all.
- **Interactive before background**: a call made while answering an update is interactive;
  one made under `background()` (the watch poller, the delivery job) waits until no
  interactive call is ready, background calls together use at most
  `Limits.background_share` of the overall rate, and only the overall budget's spare: they
  leave `Limits.interactive_reserve` calls of it for the answers that may come next.
  Chats with an answer waiting are kept apart from background-only ones, so picking the
  next call does not walk a thousand queued status edits.
- **A 429 pauses only its chat**: `retry_after` holds that chat's queue (the call is retried
  after it, within the caller's `patience`); other chats go on. A 429 on a call without a
  chat pauses everything, as Telegram asked.
- **Coalescing**: a background edit of a message that already has one waiting replaces it
  (only the newest text is sent; both callers get its result). An interactive edit of the
  message drops the background edits still waiting for it (they would show older text).

- **Idle chats are forgotten**: a chat with nothing queued, no flood pause ahead and its
  budget refilled is dropped from the table (it would be created the same again), so the
  outbox does not grow with every chat the bot ever talked to.

Nothing here holds a lock across a call; callers wait only for their own call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any, TypeVar

from telegram import Bot
from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)
T = TypeVar("T")


#: The outbox looks for idle chats to forget once it tracks this many (then at twice as
#: many as remained).
SWEEP_AT_LEAST = 1024


class Priority(IntEnum):
    INTERACTIVE = 0
    BACKGROUND = 1


_priority: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "outbox_priority", default=Priority.INTERACTIVE
)


@contextlib.contextmanager
def background() -> Iterator[None]:
    """Calls made inside (and in tasks started inside) are background work."""
    token = _priority.set(Priority.BACKGROUND)
    try:
        yield
    finally:
        _priority.reset(token)


def current_priority() -> Priority:
    return _priority.get()


@dataclass(frozen=True)
class Limits:
    """Telegram's published limits (core.telegram.org/bots/faq) and our share for
    background work."""

    overall_per_second: float = 30.0
    overall_burst: float = 30.0
    private_per_second: float = 1.0
    private_burst: float = 10.0
    group_per_minute: float = 20.0
    group_burst: float = 20.0
    background_share: float = 0.3
    #: Calls of the overall burst that background work leaves untouched.
    interactive_reserve: float = 5.0


class _Bucket:
    """A token bucket: `rate` tokens a second, at most `capacity`."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity = rate, max(1.0, capacity)
        self.tokens, self.stamp = self.capacity, now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait(self, now: float, tokens: float = 1.0) -> float:
        """Seconds until `tokens` are available (0: now)."""
        self._refill(now)
        return 0.0 if self.tokens >= tokens else (tokens - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens = max(self.tokens - 1.0, -self.capacity)


@dataclass(eq=False)
class _Job:
    call: Callable[[], Awaitable[Any]]
    priority: Priority
    key: Hashable | None
    patience: float
    context: contextvars.Context
    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    flood_waited: float = 0.0


@dataclass(eq=False)
class _Chat:
    chat_id: int | None
    bucket: _Bucket | None
    queues: tuple[deque[_Job], deque[_Job]] = field(default_factory=lambda: (deque(), deque()))
    busy: bool = False
    paused_until: float = 0.0

    def empty(self) -> bool:
        return not self.queues[0] and not self.queues[1]


class Outbox:
    def __init__(
        self, limits: Limits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or Limits()
        self.clock = clock
        now = clock()
        lim = self.limits
        self._overall = _Bucket(lim.overall_per_second, lim.overall_burst, now)
        share = lim.overall_per_second * lim.background_share
        self._background = _Bucket(share, max(1.0, lim.overall_burst * lim.background_share), now)
        # Background work leaves this many calls of the overall budget to the answers.
        self._reserve = max(0.0, min(lim.interactive_reserve, self._overall.capacity - 1.0))
        self._chats: dict[int | None, _Chat] = {}
        self._sweep_at = SWEEP_AT_LEAST
        # Chats with queued jobs, in turn order; and those with an interactive job queued.
        self._waiting: dict[int | None, None] = {}
        self._answers: dict[int | None, None] = {}
        self._paused_until = 0.0  # everything (a 429 without a chat)
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self.loop = asyncio.get_running_loop()
        #: Counters (tests, logs): calls made by priority, 429s seen, edits coalesced.
        self.sent = [0, 0]
        self.floods = 0
        self.coalesced = 0
        #: (priority, chat_id) of each call as it started, newest last (bounded).
        self.log: deque[tuple[Priority, int | None]] = deque(maxlen=10_000)
        # Told the key of every interactive call submitted with one (see `on_interactive`).
        self._interactive_listeners: list[Callable[[Hashable], None]] = []

    def on_interactive(self, listener: Callable[[Hashable], None]) -> None:
        """Call `listener(key)` whenever an interactive call with a key is submitted: a
        sender that holds background calls back before they reach the queue (the watch's
        status edits) drops the ones the answer makes stale, as the queue itself does."""
        if listener not in self._interactive_listeners:
            self._interactive_listeners.append(listener)

    # --- the caller's side ---------------------------------------------------------------------

    def submit(
        self,
        chat_id: int | None,
        call: Callable[[], Awaitable[T]],
        *,
        priority: Priority | None = None,
        key: Hashable | None = None,
        patience: float = 60.0,
    ) -> asyncio.Future[T]:
        """Queue `call` for `chat_id`; the future gets its result (or its error).

        `key` names what the call changes (an edit: the message): background calls with
        the same key coalesce, an interactive one drops the background ones waiting.
        `patience`: seconds of flood waits (429) the call may sit out before its
        RetryAfter is raised to the caller.
        """
        prio = current_priority() if priority is None else priority
        future: asyncio.Future[T] = self.loop.create_future()
        chat = self._chat(chat_id)
        if key is not None and prio is Priority.INTERACTIVE:
            for listener in self._interactive_listeners:
                listener(key)
        if key is not None:
            waiting = chat.queues[Priority.BACKGROUND]
            for job in list(waiting):
                if job.key != key:
                    continue
                if prio is Priority.BACKGROUND:
                    job.call, job.context = call, contextvars.copy_context()
                    job.futures.append(future)
                    self.coalesced += 1
                    return future
                waiting.remove(job)  # older text: the interactive edit shows newer
                self.coalesced += 1
                new = _Job(call, prio, key, patience, contextvars.copy_context(), [future])
                new.futures.extend(job.futures)
                return self._enqueue(chat, new, future)
        job = _Job(call, prio, key, patience, contextvars.copy_context(), [future])
        return self._enqueue(chat, job, future)

    async def run(
        self,
        chat_id: int | None,
        call: Callable[[], Awaitable[T]],
        *,
        priority: Priority | None = None,
        key: Hashable | None = None,
        patience: float = 60.0,
    ) -> T:
        """`submit` and wait for the result."""
        return await self.submit(chat_id, call, priority=priority, key=key, patience=patience)

    def clock_moved(self) -> None:
        """Look at the queues again now: for a clock that jumps (the tests' fake clock); with
        the real clock the outbox wakes itself when the next call may go."""
        self._wake.set()

    def queued(self, chat_id: int | None = None) -> int:
        """Calls waiting (in one chat, or everywhere)."""
        chats = self._chats.values() if chat_id is None else [self._chat(chat_id)]
        return sum(len(c.queues[0]) + len(c.queues[1]) for c in chats)

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for chat in self._chats.values():
            for queue in chat.queues:
                for job in queue:
                    for future in job.futures:
                        future.cancel()
                queue.clear()

    # --- scheduling ------------------------------------------------------------------------------

    @property
    def tracked_chats(self) -> int:
        """Chats the outbox keeps state for (queues, budgets, flood pauses)."""
        return len(self._chats)

    def _chat(self, chat_id: int | None) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            lim, now = self.limits, self.clock()
            if len(self._chats) >= self._sweep_at:
                self._forget_idle(now)
            bucket: _Bucket | None
            if chat_id is None:
                bucket = None
            elif chat_id < 0:
                bucket = _Bucket(lim.group_per_minute / 60.0, lim.group_burst, now)
            else:
                bucket = _Bucket(lim.private_per_second, lim.private_burst, now)
            chat = self._chats[chat_id] = _Chat(chat_id, bucket)
        return chat

    def _forget_idle(self, now: float) -> None:
        """Drop the chats that a new `_Chat` would equal (nothing queued or in flight, no
        flood pause ahead, the budget refilled), so a bot that has talked to 10,000 chats
        does not keep 10,000 queues. Swept when the table has doubled: amortised O(1)."""
        for chat_id in [cid for cid, chat in self._chats.items() if _idle(chat, now)]:
            del self._chats[chat_id]
        self._sweep_at = max(SWEEP_AT_LEAST, 2 * len(self._chats))

    def _enqueue(self, chat: _Chat, job: _Job, future: asyncio.Future[T]) -> asyncio.Future[T]:
        if self._pump is None or self._pump.done():
            # Also for an answer that starts at once: a 429 puts it back in the queue.
            self._pump = self.loop.create_task(self._pump_loop(), name="outbox")
        first_answer = not self._answers  # no other chat's answer is waiting its turn
        chat.queues[job.priority].append(job)
        self._waiting.setdefault(chat.chat_id, None)
        if job.priority is Priority.INTERACTIVE:
            self._answers.setdefault(chat.chat_id, None)
            # The pump would start this very call next: start it now, without a trip
            # through the pump (two loop turns per answer). The pump sees the tokens taken.
            if first_answer and len(chat.queues[job.priority]) == 1 and self._may_answer(chat):
                self._start(chat, job.priority, self.clock())
                return future
        self._wake.set()
        return future

    async def _pump_loop(self) -> None:
        while True:
            self._wake.clear()
            delay = self._dispatch()
            if delay == 0.0:
                await asyncio.sleep(0)  # let the calls just started run
                continue
            # asyncio.timeout, not wait_for: no task per wait (the pump waits after each call).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def _dispatch(self) -> float | None:
        """Start the next call that may go now; seconds until one may (None: wait for news)."""
        now = self.clock()
        if now < self._paused_until:
            return self._paused_until - now
        wait = self._overall.wait(now)
        if wait > 0:
            return wait
        soonest: float | None = None
        for chat_id in self._answers:
            chat = self._chats[chat_id]
            delay = self._delay(chat, now, Priority.INTERACTIVE)
            if delay == 0.0:
                return self._start(chat, Priority.INTERACTIVE, now)
            if delay is not None:
                soonest = _min(soonest, delay)
        if len(self._waiting) > len(self._answers) or any(
            self._chats[c].queues[Priority.BACKGROUND] for c in self._answers
        ):
            budget = max(self._background.wait(now), self._overall.wait(now, 1.0 + self._reserve))
            if budget > 0:
                return _min(soonest, budget)
            for chat_id in self._waiting:
                chat = self._chats[chat_id]
                if not chat.queues[Priority.BACKGROUND] or chat.queues[Priority.INTERACTIVE]:
                    continue  # nothing in the background, or its answer goes first
                delay = self._delay(chat, now, Priority.BACKGROUND)
                if delay == 0.0:
                    return self._start(chat, Priority.BACKGROUND, now)
                if delay is not None:
                    soonest = _min(soonest, delay)
        return soonest

    def _may_answer(self, chat: _Chat) -> bool:
        """May `chat`'s next answer start right now (as `_dispatch` would decide)?"""
        now = self.clock()
        return (
            now >= self._paused_until
            and self._overall.wait(now) == 0.0
            and self._delay(chat, now, Priority.INTERACTIVE) == 0.0
        )

    def _delay(self, chat: _Chat, now: float, prio: Priority) -> float | None:
        """Seconds until `chat` may make its next call (0: now; None: after its call in flight)."""
        if chat.busy:
            return None
        if now < chat.paused_until:
            return chat.paused_until - now
        if chat.bucket is None:
            return 0.0
        # A person's own pace bounds the answers in a private chat: they go at once (still
        # counted, so background work there waits); a group's limit is hard.
        if prio is Priority.INTERACTIVE and chat.chat_id is not None and chat.chat_id > 0:
            return 0.0
        return chat.bucket.wait(now)

    def _start(self, chat: _Chat, prio: Priority, now: float) -> float:
        if prio is Priority.BACKGROUND:
            self._background.take(now)
        self._overall.take(now)
        if chat.bucket is not None:
            chat.bucket.take(now)
        job = chat.queues[prio].popleft()
        # Round robin: this chat goes to the back of the turn order.
        self._waiting.pop(chat.chat_id, None)
        self._answers.pop(chat.chat_id, None)
        if not chat.empty():
            self._waiting[chat.chat_id] = None
        if chat.queues[Priority.INTERACTIVE]:
            self._answers[chat.chat_id] = None
        chat.busy = True
        self.sent[prio] += 1
        self.log.append((prio, chat.chat_id))
        task = self.loop.create_task(self._execute(chat, job), context=job.context)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return 0.0

    async def _execute(self, chat: _Chat, job: _Job) -> None:
        try:
            result = await job.call()
        except RetryAfter as exc:
            wait = retry_after_seconds(exc) + 0.1
            self.floods += 1
            now = self.clock()
            if chat.chat_id is None:
                self._paused_until = max(self._paused_until, now + wait)
            else:
                chat.paused_until = max(chat.paused_until, now + wait)
            log.info("flood control in chat %s: its queue waits %.1f s", chat.chat_id, wait)
            if job.flood_waited + wait > job.patience:
                _settle(job, error=exc)
            else:
                job.flood_waited += wait
                chat.queues[job.priority].appendleft(job)
        except BaseException as exc:  # the caller gets it
            _settle(job, error=exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            _settle(job, result=result)
        finally:
            chat.busy = False
            if chat.empty():
                self._waiting.pop(chat.chat_id, None)
            else:
                self._waiting.setdefault(chat.chat_id, None)
            if chat.queues[Priority.INTERACTIVE]:
                self._answers.setdefault(chat.chat_id, None)
            else:
                self._answers.pop(chat.chat_id, None)
            self._wake.set()


def _idle(chat: _Chat, now: float) -> bool:
    bucket = chat.bucket
    return (
        chat.empty()
        and not chat.busy
        and chat.paused_until <= now
        and (bucket is None or bucket.wait(now, bucket.capacity) == 0.0)
    )


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _settle(job: _Job, *, result: Any = None, error: BaseException | None = None) -> None:
    for future in job.futures:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that the int will become a timedelta: either is fine here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: float | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


_outboxes: dict[int, tuple[Bot, Outbox]] = {}


def edit_key(chat_id: int, message_id: int) -> Hashable:
    """The `key` of every call that edits this message (what `submit` coalesces and what
    an interactive edit makes stale)."""
    return ("edit", chat_id, message_id)


def outbox_for(bot: Bot) -> Outbox:
    """The bot's outbox on the running event loop (made on first use)."""
    loop = asyncio.get_running_loop()
    entry = _outboxes.get(id(bot))
    if entry is None or entry[0] is not bot or entry[1].loop is not loop:
        for key, (_, old) in list(_outboxes.items()):
            if old.loop.is_closed():
                del _outboxes[key]
        entry = (bot, Outbox())
        _outboxes[id(bot)] = entry
    return entry[1]


def set_outbox(bot: Bot, outbox: Outbox) -> None:
    """Use `outbox` for `bot` (tests: other limits or a controllable clock)."""
    _outboxes[id(bot)] = (bot, outbox)


async def close_outbox(bot: Bot) -> None:
    entry = _outboxes.pop(id(bot), None)
    if entry is not None:
        await entry[1].close()
