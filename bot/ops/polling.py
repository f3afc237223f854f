"""Errors that belong to no update (getUpdates, background jobs): one line each, never a
traceback, repeats summarised; a second poller on the same token ends this process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram.error import Conflict, NetworkError, TimedOut

from bot.navixy.errors import NavixyError

log = logging.getLogger("bot.polling")

CONFLICT_EXIT_SECONDS = 60.0
REPEAT_SECONDS = 60.0


class RepeatLimiter:
    """Lets one line per key through every `every` seconds; counts what it held back."""

    def __init__(self, every: float = REPEAT_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._every, self._clock = every, clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, key: str) -> tuple[bool, int]:
        """(log it now?, how many were held back since the last line)."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            self._held[key] = self._held.get(key, 0) + 1
            return False, 0
        self._last[key] = now
        return True, self._held.pop(key, 0)


class BackgroundErrors:
    """An error handler registered before the generic one: handles `update is None`."""

    def __init__(
        self,
        stop: Callable[[], None],
        telegram_answered_since: Callable[[float], bool],
        *,
        conflict_exit_seconds: float = CONFLICT_EXIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stop = stop
        self._answered_since = telegram_answered_since
        self._conflict_exit = conflict_exit_seconds
        self._clock = clock
        self._limiter = RepeatLimiter(clock=clock)
        self._conflict_since: float | None = None
        self.exit_code = 0

    def __call__(self, error: BaseException) -> bool:
        """True if the error was handled (logged here); False leaves it to the next handler."""
        if isinstance(error, Conflict):
            self._conflict()
        elif isinstance(error, NetworkError | TimedOut):
            self._warn("telegram", "Telegram did not answer while polling: %s", error.message)
        elif isinstance(error, NavixyError):
            self._warn(f"navixy-{error.code}", "Navixy call in the background failed: %s", error)
        else:
            return False
        return True

    def _warn(self, key: str, message: str, detail: object) -> None:
        ok, held = self._limiter.allow(key)
        if ok:
            suffix = f" ({held} more like it in the last minute)" if held else ""
            log.warning(message + suffix, detail)

    def _conflict(self) -> None:
        now = self._clock()
        if self._conflict_since is not None and self._answered_since(self._conflict_since):
            self._conflict_since = None  # polling worked in between: a new episode
        if self._conflict_since is None:
            self._conflict_since = now
            log.error(
                "another instance is polling this bot token (Telegram: 409 Conflict); "
                "exiting if it goes on for %.0f s",
                self._conflict_exit,
            )
            return
        if now - self._conflict_since >= self._conflict_exit and self.exit_code == 0:
            log.error(
                "another instance kept polling this bot token for %.0f s: exiting (1) so that "
                "only one runs",
                now - self._conflict_since,
            )
            self.exit_code = 1
            self._stop()


class LastPollAtShutdown(logging.Filter):
    """On PTB's `telegram.ext.Updater` logger: when Telegram does not answer the last
    getUpdates at shutdown, PTB logs an ERROR with a traceback. It is a network problem
    like any failed poll: one WARNING line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, NetworkError) and "one more time" in str(record.msg):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = (
                "Telegram did not answer the last poll at shutdown (updates it fetched may "
                "come again after the restart): %s"
            )
            record.args = (error.message,)
            record.exc_info, record.exc_text = None, None
        return True


def quiet_lost_polls(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's exception handler (`python -m bot`). A getUpdates that fails while
    the bot stops leaves PTB's polling task with an exception nobody reads: asyncio would log
    an ERROR with a traceback at exit. It is the same network problem: one WARNING line."""
    error = context.get("exception")
    task = context.get("future")
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    if isinstance(error, NetworkError) and "Updater" in getattr(coro, "__qualname__", ""):
        log.warning("Telegram did not answer a poll while the bot stopped: %s", error.message)
        return
    loop.default_exception_handler(context)
