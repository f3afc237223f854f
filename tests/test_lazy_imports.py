"""What the idle bot does not load (issue 11: idle memory and start-up time).

A fresh interpreter starts the bot as `python -m bot` does (`bot.__main__.prepare`, then
the application built and initialised with its services, against the fake Telegram and
the Navixy stand-in) and reports which heavy packages it loaded: none of them until their
feature is used (the photo stack at the first photo, aiohttp only for the sandbox or the
health server, tornado only in webhook mode). rapidfuzz (search) and phonenumbers (phone
numbers) come with `bot.app.warm_up`, in a thread once the bot is quiet, not at start-up
and not in the first installer's step.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import NavixySandbox
from tests.e2e import ADMIN_ID
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.e2e  # a second interpreter, over loopback

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("cv2", "numpy", "zxingcpp", "PIL", "aiohttp", "tornado", "rapidfuzz", "phonenumbers")

CHILD = """
import asyncio, gc, json, sys
from bot.__main__ import prepare

prepare([])
collecting_at_start = gc.isenabled()
import bot.app
from bot.app import build_application
from bot.config import load_settings
from telegram.ext import _updater

async def started() -> None:
    bot.app._whole_process = True  # as `python -m bot` runs it
    app = build_application(load_settings())
    await app.initialize()
    await app.post_init(app)
    try:
        loaded = [m for m in sys.argv[1:] if sys.modules.get(m) is not None]
        collecting = [collecting_at_start, gc.isenabled(), gc.get_threshold()[2]]
        await bot.app.warm_up()  # what the bot does once quiet
        warm = [m for m in sys.argv[1:] if sys.modules.get(m) is not None]
        print(json.dumps({
            "loaded": loaded,
            "warm": warm,
            "webhooks": _updater.WEBHOOKS_AVAILABLE,
            "gc": collecting,
        }))
    finally:
        await app.shutdown()
        await app.post_shutdown(app)

asyncio.run(started())
"""


async def _started(
    tg: FakeTelegram, navixy: str, key: str, tmp: Path, **env: str
) -> dict[str, Any]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("NAVIXY_", "BOT_", "TELEGRAM_"))
    }
    clean.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.url,
        NAVIXY_API_URL=navixy,
        NAVIXY_API_KEY=key,
        DATABASE_PATH=str(tmp / "bot.db"),
        ADMIN_IDS=str(ADMIN_ID),
        LOG_LEVEL="WARNING",
        **env,
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        *HEAVY,
        env=clean,
        cwd=tmp,  # no .env from the repository
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode(errors="replace")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def test_the_idle_bot_loads_no_heavy_package(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    started = await _started(tg, sandbox.base_url, sandbox.new_api_key(), tmp_path)
    assert started == {
        "loaded": [],
        "warm": ["rapidfuzz", "phonenumbers"],
        "webhooks": False,
        "gc": [False, True, 100],
    }
    assert tg.calls("getMe")  # it did start against the fake


async def test_webhook_mode_still_gets_the_webhook_server(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    started = await _started(
        tg,
        sandbox.base_url,
        sandbox.new_api_key(),
        tmp_path,
        WEBHOOK_URL="https://bot.example.org/hook",
        WEBHOOK_SECRET="s3cret",
    )
    assert started["webhooks"] is True
    assert set(started["loaded"]) == {"tornado"}
