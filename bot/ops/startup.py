"""Checks before the bot starts, each one clear sentence: what is wrong and what to do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TimedOut

from bot.config import Settings
from bot.navixy.client import NavixyClient
from bot.navixy.codes import NavixyCode
from bot.navixy.errors import NavixyError, NavixyUnavailable
from bot.telegram.request import BotApiRequest

log = logging.getLogger("bot.startup")


@dataclass(frozen=True)
class Finding:
    level: int  # logging.ERROR, WARNING or INFO
    text: str
    exit_code: int = 0  # non-zero: refuse to start


NO_USERS = (
    "nobody may use the bot yet: ADMIN_IDS and INSTALLER_IDS are empty. Send the bot any "
    "message from Telegram: it answers with your user id; put it in ADMIN_IDS and restart"
)
INLINE_OFF = (
    "inline mode is off for this bot: the 'Search all models' button and '@bot <model>' "
    "will not work (typed search and its buttons still do). Turn it on in @BotFather: "
    "/setinline, pick the bot, enter a placeholder such as 'model name'"
)
PRIVACY_ON = (
    "group privacy mode is on (BotFather's default): in group chats the bot sees commands "
    "and replies to its own messages only, so installers answer its questions with the "
    "reply box it opens. Nothing to do unless crews report unanswered messages"
)


async def check(settings: Settings) -> list[Finding]:
    """Telegram's and Navixy's checks run at once (start-up waits for the slower one only);
    Navixy's findings count only when Telegram's passed, as if run one after the other."""
    found: list[Finding] = []
    if not settings.admin_ids and not settings.installer_ids:
        found.append(Finding(logging.WARNING, NO_USERS))
    navixy = None if settings.use_sandbox else asyncio.ensure_future(_check_navixy(settings))
    try:
        telegram = await _check_telegram(settings)
        found += telegram
        if navixy is not None and not any(f.exit_code for f in telegram):
            found += await navixy
    finally:
        if navixy is not None and not navixy.done():
            navixy.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await navixy
    return found


async def _check_telegram(settings: Settings) -> list[Finding]:
    """One getMe, so a wrong token or URL is one clear line, not a traceback."""
    api = settings.telegram_api_url
    bot: Bot = Bot(
        settings.bot_token.get_secret_value(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=BotApiRequest(connection_pool_size=1),
        get_updates_request=BotApiRequest(connection_pool_size=1),
    )
    try:
        async with bot:  # initialize() calls getMe
            me = bot.bot
    except InvalidToken:
        return [Finding(logging.ERROR, "Telegram refused BOT_TOKEN (check it with @BotFather)", 2)]
    except (NetworkError, TimedOut) as exc:
        return [Finding(logging.ERROR, f"cannot reach Telegram at {api}: {exc.message}", 1)]
    found = []
    if not me.supports_inline_queries:
        found.append(Finding(logging.WARNING, INLINE_OFF))
    if not me.can_read_all_group_messages:
        found.append(Finding(logging.INFO, PRIVACY_ON))
    return found


async def _check_navixy(settings: Settings) -> list[Finding]:
    """The credentials must be able to list the models: nothing can be registered otherwise."""
    client = NavixyClient(
        settings.navixy_api_url,
        api_key=settings.navixy_api_key,
        login=settings.navixy_login,
        password=settings.navixy_password,
        timeout=settings.navixy_timeout_seconds,
        read_retries=0,
    )
    try:
        async with client:
            await client.list_models()
    except NavixyUnavailable as exc:
        return [
            Finding(
                logging.WARNING,
                f"Navixy did not answer at {settings.navixy_api_url} ({exc.description}): "
                "starting anyway, with the model list from the cache",
            )
        ]
    except NavixyError as exc:
        if exc.kind is NavixyCode.TOO_MANY_REQUESTS:  # says nothing about the credentials
            return []
        return [
            Finding(
                logging.ERROR,
                f"Navixy refused to list the device models with these credentials "
                f"(error {exc.code}: {exc.description}): check NAVIXY_API_KEY (or "
                "NAVIXY_LOGIN/NAVIXY_PASSWORD) and NAVIXY_API_URL (the account's region)",
                2,
            )
        ]
    return []
