"""Wiring: builds the Telegram Application and its services from the settings."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC
from typing import Any

from telegram import Bot, BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
)

from bot.config import Settings, SettingsError, load_settings
from bot.domain.watch import WatchPolicy
from bot.i18n import available_languages, gettext_for
from bot.logs import setup_logging
from bot.navixy.client import NavixyClient
from bot.photo import shutdown_executor
from bot.sandbox import NavixySandbox
from bot.services.catalog import Catalog
from bot.services.registrar import Registered, Registrar
from bot.services.watcher import Watcher
from bot.storage.db import Database
from bot.storage.journal import Attempt, RegistrationJournal
from bot.storage.model_cache import ModelCache
from bot.storage.persistence import SqlitePersistence, write_through_handler
from bot.storage.watches import WatchStore
from bot.telegram import texts
from bot.telegram.common import SERVICES_KEY, Context, Services, services
from bot.telegram.conversation import build_conversation
from bot.telegram.misc import (
    UNHANDLED,
    access_gate,
    cancel_outside,
    help_command,
    inline_search,
    on_error,
    stale_callback,
    start,
    unhandled_message,
)
from bot.telegram.processing import PerConversationProcessor
from bot.telegram.watch import TelegramWatchView, WatchChat

log = logging.getLogger(__name__)

App = Application[Any, Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any]
SANDBOX_KEY = "sandbox"
RESOLVE_EVERY_SECONDS = 60.0


def build_application(settings: Settings) -> App:
    """The bot exactly as production runs it (tests build it with this too)."""
    api = settings.telegram_api_url

    persistence = SqlitePersistence(path=settings.database_path)

    async def post_init(app: App) -> None:
        # One SQLite connection for conversations, journal and model cache.
        await _start_services(app, settings, await persistence.database())

    app: App = (
        ApplicationBuilder()
        .token(settings.bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .persistence(persistence)
        .concurrent_updates(PerConversationProcessor(64))
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=UTC))
        .rate_limiter(AIORateLimiter(max_retries=2))
        .post_init(post_init)
        .post_shutdown(_stop_services)
        .build()
    )
    app.add_handler(TypeHandler(Update, access_gate), group=-1)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    # Before the registration conversation: its fallback answers any button while a
    # registration is open, and the watch's buttons must work then too.
    for handler in WatchChat().handlers():
        app.add_handler(handler)
    app.add_handler(build_conversation())
    app.add_handler(CommandHandler("cancel", cancel_outside))
    app.add_handler(InlineQueryHandler(inline_search))
    app.add_handler(CallbackQueryHandler(stale_callback))
    # Last: whatever nothing else took still gets an answer (a hint and the Register button).
    app.add_handler(MessageHandler(UNHANDLED, unhandled_message))
    app.add_handler(write_through_handler(), group=100)
    app.add_error_handler(on_error)
    return app


async def _start_services(app: App, settings: Settings, db: Database) -> None:
    url = settings.navixy_api_url
    api_key = settings.navixy_api_key.get_secret_value() if settings.navixy_api_key else None
    if settings.use_sandbox:
        sandbox = NavixySandbox()
        api_key = sandbox.new_api_key()
        url = await sandbox.start()
        app.bot_data[SANDBOX_KEY] = sandbox
        log.warning("Navixy SANDBOX at %s: registrations are not real", url)
    client = NavixyClient(
        url,
        api_key=api_key,
        login=settings.navixy_login,
        password=settings.navixy_password,
        timeout=settings.navixy_timeout_seconds,
    )
    journal = RegistrationJournal(db)
    catalog = Catalog(client, ModelCache(db), refresh_hours=settings.model_refresh_hours)
    watcher = _build_watcher(app, settings, client, catalog, db)
    svc = Services(
        settings=settings,
        db=db,
        client=client,
        catalog=catalog,
        journal=journal,
        registrar=Registrar(client, journal),
        watcher=watcher,
    )
    app.bot_data[SERVICES_KEY] = svc
    await catalog.load_cache()
    # Navixy may be down: start serving (from the cache) and refresh in the background,
    # once the application runs.
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is required"
    app.job_queue.run_once(_refresh_catalog, when=0, name="catalog-refresh-now")
    # At start-up (a crash mid-request), then every minute (a late answer after a timeout).
    # (run_repeating can't start at once: APScheduler skips a first run "now".)
    app.job_queue.run_once(_resolve_unresolved, when=0, name="journal-resolve-now")
    app.job_queue.run_repeating(
        _resolve_unresolved, interval=RESOLVE_EVERY_SECONDS, name="journal-resolve"
    )
    # ONE shared poller for every watched device; the watches themselves are in SQLite,
    # so after a restart this job simply picks them up again.
    app.job_queue.run_repeating(
        _watch_tick,
        interval=settings.watch_tick_seconds,
        first=settings.watch_tick_seconds,
        name="watch-poll",
        job_kwargs={"max_instances": 1, "coalesce": True},
    )
    period = settings.model_refresh_hours * 3600
    app.job_queue.run_repeating(
        _refresh_catalog, interval=period, first=period, name="catalog-refresh"
    )
    await _set_commands(app)


def _build_watcher(
    app: App, settings: Settings, client: NavixyClient, catalog: Catalog, db: Database
) -> Watcher:
    policy = WatchPolicy.from_minutes(
        activation_minutes=settings.watch_activation_minutes,
        max_hours=settings.watch_max_hours,
        auto_retry_minutes=settings.watch_auto_retry_minutes,
        escalate_minutes=settings.watch_escalate_minutes,
        poll_seconds=settings.watch_poll_seconds,
    )
    watcher = Watcher(client, WatchStore(db), policy, admin_ids=settings.admin_ids)
    watcher.attach(TelegramWatchView(app.bot, catalog, policy, api_url=settings.navixy_api_url))
    return watcher


async def _watch_tick(context: Context) -> None:
    await services(context).watcher.tick()


async def _set_commands(app: App) -> None:
    """The command menu, in English by default and in every language with a catalog."""
    for language in [None, *(lang for lang in available_languages() if lang != "en")]:
        commands = [BotCommand(name, text) for name, text in texts.commands(gettext_for(language))]
        await app.bot.set_my_commands(commands, language_code=language)


async def _refresh_catalog(context: Context) -> None:
    await services(context).catalog.refresh_if_stale()


async def _resolve_unresolved(context: Context) -> None:
    """Settle registrations a crash left with an unknown outcome, and tell the installer."""
    for attempt, outcome in await services(context).registrar.resolve_unresolved():
        if isinstance(outcome, Registered):
            _ = gettext_for(None)
            text = texts.registered(
                _,
                tracker_id=outcome.tracker_id,
                label=outcome.label,
                model=outcome.model,
                device_id=outcome.device_id,
                mobile=False,
            )
            try:
                await context.bot.send_message(attempt.chat_id, text)
            except Exception:
                log.info("could not notify chat %s about attempt %d", attempt.chat_id, attempt.id)
            await _watch_recovered(context, attempt, outcome)


async def _watch_recovered(context: Context, attempt: Attempt, outcome: Registered) -> None:
    """A registration recovered at start-up is followed until online, like any other."""
    svc = services(context)
    model = svc.catalog.model(outcome.model)
    if model is not None and model.is_mobile_app:
        return
    try:
        manual = await svc.watcher.needs_manual_config(model)
        await svc.watcher.start(
            tracker_id=outcome.tracker_id,
            chat_id=attempt.chat_id,
            user_id=attempt.user_id,
            label=outcome.label,
            model=outcome.model,
            device_id=outcome.device_id,
            manual_config=manual,
        )
    except Exception:
        # Watching is a help: it must never break start-up.
        log.exception("could not start watching tracker %d", outcome.tracker_id)


async def _stop_services(app: App) -> None:
    svc: Services | None = app.bot_data.get(SERVICES_KEY)
    if svc is not None:
        await svc.client.aclose()
        await svc.db.close()
    sandbox: NavixySandbox | None = app.bot_data.get(SANDBOX_KEY)
    if sandbox is not None:
        await sandbox.stop()
    # Let a photo decode in progress finish (about a second at worst), off the loop.
    await asyncio.to_thread(shutdown_executor)


def configure_logging(settings: Settings) -> None:
    """The process's logging, from LOG_LEVEL; known secret values are redacted.

    LOG_LEVEL=DEBUG applies to the bot's own loggers only. The libraries' DEBUG output
    dumps whole updates and Bot API parameters (PTB) and SQL parameters (aiosqlite):
    the installers' messages, with APN passwords and activation codes, and the stored
    drafts. No filter can recognise those, so the libraries stay at INFO.
    """
    secrets = [settings.bot_token.get_secret_value()]
    if settings.navixy_api_key:
        secrets.append(settings.navixy_api_key.get_secret_value())
    if settings.navixy_password:
        secrets.append(settings.navixy_password.get_secret_value())
    setup_logging(settings.log_level, secrets)
    if settings.log_level == "DEBUG":
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("bot").setLevel(logging.DEBUG)


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"configuration error: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings)
    app = build_application(settings)
    log.info("starting; database %s", settings.database_path)
    failure = asyncio.run(_telegram_problem(settings))
    if failure is not None:
        exit_code, message = failure
        print(f"startup error: {message}", file=sys.stderr)
        return exit_code
    app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


async def _telegram_problem(settings: Settings) -> tuple[int, str] | None:
    """One getMe before starting, so a wrong token or URL is one clear line, not a traceback."""
    api = settings.telegram_api_url
    bot: Bot = Bot(
        settings.bot_token.get_secret_value(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
    )
    try:
        async with bot:
            pass  # initialize() calls getMe
    except InvalidToken:
        return 2, "Telegram refused BOT_TOKEN (check it with @BotFather)"
    except (NetworkError, TimedOut) as exc:
        return 1, f"cannot reach Telegram at {api}: {exc.message}"
    return None
