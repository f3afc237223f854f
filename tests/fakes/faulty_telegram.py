"""A loopback proxy in front of `FakeTelegram` that injects Bot API faults.

The bot is pointed at the proxy (`TELEGRAM_API_URL=proxy.url`); every request is forwarded to
the fake unchanged, unless a fault applies. Faults act *before* the fake sees the request,
so a failed send or edit never reached the chat (Telegram's own behaviour for 429 and most
5xx); the fake's strict checks and bookkeeping stay untouched.

- `TgError(429, retry_after=1)`: Telegram's flood wait (PTB: RetryAfter).
- `TgError(500)` / `TgError(502)`: server errors (PTB: NetworkError).
- `TgDrop()`: the connection is cut (PTB: NetworkError).
- `TgHold()`: the request is held until the test releases it or the client goes away
  (a bot killed while waiting for Telegram).

`inject(method, fault, times, when=...)` queues faults for one method (`when` filters on the
decoded parameters, e.g. only sends whose text contains "Registered"); `randomize(rng, ...)`
injects at random from a seeded RNG. `injected` counts what was injected, by kind.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from tests.fakes.telegram import FakeTelegram

Params = Mapping[str, Any]


@dataclass(frozen=True)
class TgError:
    status: int
    retry_after: int | None = None


@dataclass(frozen=True)
class TgDrop:
    pass


@dataclass(frozen=True)
class TgHold:
    pass


TgFault = TgError | TgDrop | TgHold


@dataclass
class _Rule:
    method: str
    fault: TgFault
    times: int
    when: Callable[[Params], bool] | None


@dataclass
class _Random:
    rng: random.Random
    rates: dict[str, float]  # method (lower case) -> probability of a fault
    faults: list[TgFault]


class FaultyTelegram:
    def __init__(self, tg: FakeTelegram) -> None:
        self.tg = tg
        self.injected: Counter[str] = Counter()
        self.held = asyncio.Event()  # set when a TgHold caught a request
        self._rules: list[_Rule] = []
        self._random: _Random | None = None
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        assert self._url is not None, "not started"
        return self._url

    async def __aenter__(self) -> FaultyTelegram:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=0.2, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # --- test side ---------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        fault: TgFault,
        times: int = 1,
        when: Callable[[Params], bool] | None = None,
    ) -> None:
        self._rules.append(_Rule(method.lower(), fault, times, when))

    def randomize(
        self, rng: random.Random, rates: Mapping[str, float], faults: list[TgFault]
    ) -> None:
        self._random = _Random(rng, {k.lower(): v for k, v in rates.items()}, list(faults))

    def calm(self) -> None:
        """No more faults (queued or random); held requests are released."""
        self._rules.clear()
        self._random = None
        self._release.set()
        self._release = asyncio.Event()
        self.held.clear()

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    # --- proxy -------------------------------------------------------------------------------

    def _fault_for(self, method: str, params: Params) -> TgFault | None:
        for rule in self._rules:
            if rule.method == method and (rule.when is None or rule.when(params)):
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
                return rule.fault
        chance = self._random
        if chance is not None and chance.rng.random() < chance.rates.get(method, 0.0):
            return chance.rng.choice(chance.faults)
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        method = path.rsplit("/", 1)[-1].lower()
        body = await request.read()
        fault = self._fault_for(method, _decode(request.content_type, body))
        if fault is not None:
            self.injected[_kind(method, fault)] += 1
            if isinstance(fault, TgHold):
                self.held.set()
                await self._release.wait()
                fault = TgDrop()
            if isinstance(fault, TgDrop):
                if request.transport is not None:
                    request.transport.abort()
                raise web.HTTPInternalServerError()
            payload: dict[str, Any] = {
                "ok": False,
                "error_code": fault.status,
                "description": "Too Many Requests: retry after"
                if fault.status == 429
                else "Internal Server Error",
            }
            if fault.retry_after is not None:
                payload["parameters"] = {"retry_after": fault.retry_after}
            return web.json_response(payload, status=fault.status)
        assert self._session is not None
        headers = {"Content-Type": request.headers.get("Content-Type", "")}
        async with self._session.request(
            request.method, f"{self.tg.url}/{path}", data=body, headers=headers
        ) as upstream:
            data = await upstream.read()
            return web.Response(
                body=data,
                status=upstream.status,
                content_type=upstream.content_type,
            )


def _kind(method: str, fault: TgFault) -> str:
    if isinstance(fault, TgError):
        return f"{method} {fault.status}"
    return f"{method} {type(fault).__name__[2:].lower()}"


def _decode(content_type: str, body: bytes) -> dict[str, Any]:
    try:
        if content_type == "application/x-www-form-urlencoded":
            return dict(parse_qsl(body.decode()))
        if content_type.endswith("json") and body:
            value = json.loads(body)
            return value if isinstance(value, dict) else {}
    except (UnicodeDecodeError, ValueError):
        pass
    return {}
