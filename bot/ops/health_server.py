"""Liveness, readiness and metrics over HTTP (`HEALTH_PORT`; imported only when set).

- `/healthz`: the process is alive and its event loop answers (a heartbeat task beats
  every second; more than `STALL_SECONDS` late means the loop is stuck).
- `/readyz`: the database takes a write, Telegram answered within the last minute, and
  Navixy answered within the last minute or the model cache is fresh.
- `/metrics`: Prometheus text format (bot/ops/metrics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from aiohttp import web

from bot.ops.health import Readiness, Vitals

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, host: str, port: int, vitals: Vitals, readiness: Readiness) -> None:
        self._host, self._port = host, port
        self._vitals, self._readiness = vitals, readiness
        self._runner: web.AppRunner | None = None
        self._beat: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, self._host, self._port).start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._beat = asyncio.create_task(self._vitals.heartbeat(), name="health-heartbeat")
        log.info("health and metrics at %s (/healthz /readyz /metrics)", self.url)
        return self.url

    async def stop(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        if not self._vitals.loop_alive():
            return _json(503, {"status": "stalled"})
        uptime = time.monotonic() - self._vitals.started
        return _json(200, {"status": "ok", "uptime_seconds": round(uptime)})

    async def _readyz(self, request: web.Request) -> web.Response:
        problems = await self._readiness.problems()
        if problems:
            return _json(503, {"status": "not ready", "problems": problems})
        return _json(200, {"status": "ready"})

    async def _metrics(self, request: web.Request) -> web.Response:
        with contextlib.suppress(Exception):  # stale stored totals beat no metrics at all
            await self._readiness.refresh_store()
        return web.Response(
            body=self._vitals.metrics.render(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", charset="utf-8"
    )
