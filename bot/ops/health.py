"""What the health endpoints report on (bot/ops/health_server.py serves them): when
Telegram and Navixy last answered, whether the event loop beats, the readiness checks."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

from bot.ops.metrics import Metrics
from bot.telegram.request import BotApiRequest

log = logging.getLogger(__name__)

STALL_SECONDS = 10.0
FRESH_SECONDS = 60.0


@dataclass
class Vitals:
    """What the process last heard from the outside world (monotonic seconds)."""

    metrics: Metrics = field(default_factory=Metrics)
    started: float = field(default_factory=time.monotonic)
    telegram_ok: float | None = None
    polled_ok: float | None = None
    navixy_ok: float | None = None
    beat: float = field(default_factory=time.monotonic)
    #: Set when a getUpdates first comes back empty: polling runs and no update waits
    #: (cosmetic start-up work waits for this, not to delay the first poll or answers).
    quiet: asyncio.Event = field(default_factory=asyncio.Event)

    def telegram_answered(self) -> None:
        self.telegram_ok = time.monotonic()

    def observe_navixy(self, method: str, result: str, seconds: float) -> None:
        self.metrics.observe_navixy(method, result, seconds)
        if result != "unavailable":
            self.navixy_ok = time.monotonic()

    @staticmethod
    def _recent(stamp: float | None, within: float = FRESH_SECONDS) -> bool:
        return stamp is not None and time.monotonic() - stamp <= within

    def polled_since(self, stamp: float) -> bool:
        return self.polled_ok is not None and self.polled_ok > stamp

    def loop_alive(self) -> bool:
        return time.monotonic() - self.beat <= STALL_SECONDS

    def telegram_recent(self) -> bool:
        return self._recent(self.telegram_ok)

    def navixy_recent(self) -> bool:
        return self._recent(self.navixy_ok)

    async def heartbeat(self) -> None:
        while True:
            self.beat = time.monotonic()
            await asyncio.sleep(1.0)


def observe_photo(vitals: Vitals | None, seconds: float) -> None:
    if vitals is not None:
        vitals.metrics.photo_seconds.observe(seconds)


class ObservedRequest(BotApiRequest):
    """The Bot API request, counting every call and noting when Telegram answered."""

    __slots__ = ("_vitals",)

    def __init__(self, vitals: Vitals, *, connection_pool_size: int) -> None:
        super().__init__(connection_pool_size=connection_pool_size)
        self._vitals = vitals

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        try:
            code, payload = await super().do_request(
                url,
                method,
                request_data=request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except Exception:
            self._vitals.metrics.observe_telegram(name, "network")
            raise
        self._vitals.metrics.observe_telegram(name, str(code))
        if code < 500:
            self._vitals.telegram_answered()
        if code == 200 and name == "getUpdates":
            self._vitals.polled_ok = time.monotonic()
            if not self._vitals.quiet.is_set() and _no_updates(payload):
                self._vitals.quiet.set()
        return code, payload


def _no_updates(payload: bytes) -> bool:
    """Is this getUpdates answer an empty list? (Small answers only: a list of updates is
    never parsed twice.)"""
    if len(payload) > 64:
        return False
    try:
        return bool(json.loads(payload).get("result") == [])
    except (ValueError, AttributeError):
        return False


@dataclass
class Readiness:
    """The checks behind /readyz; each returns None when fine, else a short reason."""

    vitals: Vitals
    database_writable: Callable[[], Awaitable[None]]
    catalog_fresh: Callable[[], bool]
    refresh_store: Callable[[], Awaitable[None]]

    async def problems(self) -> list[str]:
        found = []
        try:
            await asyncio.wait_for(self.database_writable(), timeout=5)
        except Exception as exc:
            found.append(f"database not writable: {type(exc).__name__}: {exc}")
        if not self.vitals.telegram_recent():
            found.append("no answer from Telegram in the last minute")
        if not (self.vitals.navixy_recent() or self.catalog_fresh()):
            found.append("no answer from Navixy in the last minute and the model cache is stale")
        return found
