"""Wiring: builds the Telegram Application and its services from the settings."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import warnings
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
)
from telegram.warnings import PTBUserWarning

from bot.config import Settings, SettingsError, load_settings
from bot.domain import phone, search
from bot.domain.watch import WatchPolicy
from bot.i18n import available_languages, gettext_for, telegram_language_code
from bot.logs import current_update, setup_logging
from bot.navixy.client import NavixyClient
from bot.ops import startup
from bot.ops.health import ObservedRequest, Readiness, Vitals
from bot.ops.instance import AlreadyRunning, InstanceLock
from bot.ops.polling import BackgroundErrors, LastPollAtShutdown, quiet_lost_polls
from bot.services.access import AccessService
from bot.services.catalog import Catalog
from bot.services.crews import CrewService
from bot.services.languages import Languages
from bot.services.registrar import Registered, Registrar
from bot.services.registration import Registration
from bot.services.reports import Reports
from bot.services.watcher import Watcher
from bot.storage import stats
from bot.storage.conversations import ConversationTables
from bot.storage.db import Database, storage_problem
from bot.storage.journal import AttemptStatus, RegistrationJournal
from bot.storage.model_cache import ModelCache
from bot.storage.watches import WatchStore
from bot.telegram import admin, crew, language, menus, texts
from bot.telegram.common import Context, services
from bot.telegram.context import AnyApp, BotContext, Services
from bot.telegram.conversation import build_conversation
from bot.telegram.delivery import ResultDelivery
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
from bot.telegram.outbox import background, close_outbox
from bot.telegram.persistence import SqlitePersistence, write_through_handler
from bot.telegram.processing import PerConversationProcessor
from bot.telegram.watch import WatchChat
from bot.telegram.watch_view import TelegramWatchView

log = logging.getLogger(__name__)

App = Application[Any, Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any]
SANDBOX_KEY = "sandbox"
HEALTH_KEY = "health"
BACKGROUND_ERRORS_KEY = "background_errors"
RESOLVE_EVERY_SECONDS = 60.0
#: The command menus wait at most this long for a getUpdates without updates (PTB's long
#: poll lasts 10 s when nobody writes).
MENUS_AFTER = 15.0

# The registration conversation has button steps; with per_message=False PTB warns that
# buttons are tracked per chat and user, which is exactly what this bot wants.
warnings.filterwarnings(
    "ignore", message=".*will not be tracked for every message.*", category=PTBUserWarning
)


#: Set by `python -m bot` (`_run`): the bot owns the process, so it may freeze the garbage
#: collector's view of what start-up made. Tests start many bots in one process: theirs
#: would stay frozen (never collected) after they stop.
_whole_process = False

#: Generation-1 collections between two full ones (`gc.set_threshold`'s third value).
FULL_COLLECTION_EVERY = 100


def build_application(settings: Settings) -> App:
    """The bot exactly as production runs it (tests build it with this too)."""
    api = settings.telegram_api_url
    vitals = Vitals()

    tables = ConversationTables(path=settings.database_path)
    persistence = SqlitePersistence(tables)

    async def post_init(app: App) -> None:
        # One SQLite connection for conversations, journal and model cache.
        await _start_services(app, settings, await tables.database())
        if settings.health_port is not None:
            await _start_health(app, settings, vitals)
        if _whole_process:
            asyncio.get_running_loop().set_exception_handler(quiet_lost_polls)
            # Start-up is done (`python -m bot` turned the collector off for it): what it
            # made lives as long as the process, so no collection needs to walk it again.
            gc.freeze()
            # A full collection walks every watch's state (8-24 ms at 1000 watched, the
            # event loop and every answer stopped): 10x fewer of them than CPython's
            # default (10). Young objects are still collected as often as before.
            gc.set_threshold(*gc.get_threshold()[:2], FULL_COLLECTION_EVERY)
            gc.enable()

    app: App = (
        ApplicationBuilder()
        .token(settings.bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        # PTB's own defaults (256 connections; 1 for getUpdates), observed for health/metrics.
        .request(ObservedRequest(vitals, connection_pool_size=256))
        .get_updates_request(ObservedRequest(vitals, connection_pool_size=1))
        .persistence(persistence)
        .concurrent_updates(PerConversationProcessor(64))
        # Handlers and jobs get a BotContext: typed access to the services in bot_data.
        .context_types(ContextTypes(context=BotContext))
        # No `Defaults`: every send names its parse mode (HTML), and without them PTB does
        # not re-check every call's arguments against them.
        # No PTB rate limiter: every send goes through the outbox (bot/telegram/outbox.py),
        # which keeps Telegram's limits per chat and lets a 429 pause only its chat.
        .post_init(post_init)
        .post_shutdown(_stop_services)
        .build()
    )
    BotContext.of(app).vitals = vitals
    background = BackgroundErrors(
        stop=app.stop_running,
        telegram_answered_since=vitals.polled_since,
        conflict_exit_seconds=settings.telegram_conflict_exit_seconds,
    )
    app.bot_data[BACKGROUND_ERRORS_KEY] = background

    async def on_background_error(update: object, context: Context) -> None:
        # getUpdates and job errors (update is None): one line, no traceback.
        if update is None and context.error is not None and background(context.error):
            raise ApplicationHandlerStop

    async def note_update(update: Update, context: Context) -> None:
        user = update.effective_user
        current_update.set((update.update_id, user.id if user else None))
        vitals.metrics.observe_update(_update_kind(update))

    app.add_error_handler(on_background_error)
    app.add_handler(TypeHandler(Update, note_update), group=-2)
    app.add_handler(TypeHandler(Update, access_gate), group=-1)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    for handler, group in language.handlers():  # /language, and each user's language first
        app.add_handler(handler, group=group)
    for handler, group in crew.handlers():  # crew chats, roles and admin commands
        app.add_handler(handler, group=group)
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
        from bot.sandbox import NavixySandbox  # aiohttp and the model file: only in sandbox mode

        sandbox = NavixySandbox()
        api_key = sandbox.new_api_key()
        url = await sandbox.start()
        app.bot_data[SANDBOX_KEY] = sandbox
        log.warning("Navixy SANDBOX at %s: registrations are not real", url)
    typed = BotContext.of(app)
    vitals = typed.vitals
    client = NavixyClient(
        url,
        api_key=api_key,
        login=settings.navixy_login,
        password=settings.navixy_password,
        timeout=settings.navixy_timeout_seconds,
        observer=vitals.observe_navixy,
    )
    journal = RegistrationJournal(db)
    typed.languages = await Languages.load(db)
    access = AccessService(
        db,
        admin_ids=settings.admin_ids,
        installer_ids=settings.installer_ids,
        registrations_per_hour=settings.registrations_per_hour,
    )
    await access.start()
    typed.access = access
    catalog = Catalog(client, ModelCache(db), refresh_hours=settings.model_refresh_hours)
    typed.reports = Reports(db, client, catalog, started=vitals.started)
    crews = CrewService(db, access.audit)
    await crews.start()
    typed.crews = crews
    speaker = crew.CrewAnnouncer(app.bot, crews, typed.languages.language_of)
    typed.announcer = speaker
    watcher = _build_watcher(app, settings, client, catalog, db, speaker)
    app.bot_data[RESOURCES_KEY] = Resources(db=db, client=client, journal=journal)
    svc = Services(
        settings=settings,
        catalog=catalog,
        registrar=Registrar(client, journal),
        registration=Registration(catalog, journal, client),
        watcher=watcher,
    )
    typed.services = svc
    typed.delivery = ResultDelivery(
        app.bot,
        journal,
        catalog,
        watcher,
        language_of=language.language_store(app).language_of,
    )
    await catalog.load_cache()
    # Navixy may be down: start serving (from the cache) and refresh in the background,
    # once the application runs.
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is required"
    app.job_queue.run_once(_refresh_catalog, when=0, name="catalog-refresh-now")
    # At start-up (a crash mid-request, or before a result reached the chat), then every
    # minute (a late answer after a timeout, a result Telegram did not take).
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
    # The command menus are cosmetic: set once polling runs, not before it.
    polling = not settings.uses_webhook
    app.job_queue.run_once(_command_menus, when=0, data=polling, name="command-menus")


def _build_watcher(
    app: App,
    settings: Settings,
    client: NavixyClient,
    catalog: Catalog,
    db: Database,
    speaker: crew.CrewAnnouncer,
) -> Watcher:
    policy = WatchPolicy.from_minutes(
        activation_minutes=settings.watch_activation_minutes,
        max_hours=settings.watch_max_hours,
        auto_retry_minutes=settings.watch_auto_retry_minutes,
        escalate_minutes=settings.watch_escalate_minutes,
        poll_seconds=settings.watch_poll_seconds,
    )
    watcher = Watcher(client, WatchStore(db), policy, admin_ids=settings.admin_ids)
    view = TelegramWatchView(
        app.bot,
        catalog,
        policy,
        api_url=settings.navixy_api_url,
        language_of=language.language_store(app).language_of,
        crew_online=speaker.online,
        crew_silent=speaker.silent,
        admins=admin.access_of(app).admin_ids,
        record_shown=watcher.store.set_status_message,
    )
    watcher.attach(view)
    return watcher


async def _watch_tick(context: Context) -> None:
    with background():  # status edits and notices wait behind every interactive answer
        await services(context).watcher.tick()


async def _command_menus(context: Context) -> None:
    """Set the menus once a getUpdates comes back empty (at once in webhook mode): reading
    every language's catalog takes CPU that neither the first poll nor the answers to the
    first updates should wait for. Then `warm_up`, and freeze what start-up made."""
    polling = context.job.data if context.job is not None else False
    if polling:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(BotContext.of(context).vitals.quiet.wait(), MENUS_AFTER)
    await _set_commands(context.application)
    await warm_up()
    # Start-up is over and the bot is quiet: what lives now (PTB, pydantic's schemas, the
    # model catalogue and its index, the catalogs: ~130k objects) lives as long as the
    # process. Frozen, a full garbage collection no longer walks it (it stalled the event
    # loop 60-120 ms, answers included; 24-62 ms frozen).
    if _whole_process:
        gc.collect()
        gc.freeze()


async def warm_up() -> None:
    """Import what the first search (rapidfuzz) and the first phone number (phonenumbers)
    need, in a thread: imported by the step that first needs them, they held the event
    loop, and every installer's answer, for 20-50 ms. In a thread the loop keeps its turns
    (the GIL changes hands every 5 ms). Not at start-up: that would delay the first
    getUpdates; the idle bot holds them (+5 MB)."""
    await asyncio.to_thread(_preload)


def _preload() -> None:
    phone.preload()
    search.preload()


async def _set_commands(app: AnyApp) -> None:
    """The command menu, in English by default and in every language with a catalog;
    all the calls at once (each menu is its own language and scope)."""
    calls = []
    for lang in [None, *(lang for lang in available_languages() if lang != "en")]:
        commands = [BotCommand(name, text) for name, text in texts.commands(gettext_for(lang))]
        code = telegram_language_code(lang) if lang else None
        calls.append(app.bot.set_my_commands(commands, language_code=code))
        await asyncio.sleep(0)  # a catalog read is ~10 ms: let updates in between
    menus_for_languages = len(calls)
    # Admins: their commands too (set_admin_menu logs its own failures).
    calls += [menus.set_admin_menu(app.bot, a) for a in BotContext.of(app).access.admin_ids()]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, TelegramError):
            raise outcome
    failed = [o for o in outcomes if isinstance(o, TelegramError)]
    if failed:  # one line: when Telegram is down, every language's menu fails alike
        log.warning(
            "%d of %d command menus not set (the next start tries again): %s",
            len(failed),
            menus_for_languages,
            failed[0],
        )


async def _refresh_catalog(context: Context) -> None:
    await services(context).catalog.refresh_if_stale()


async def _resolve_unresolved(context: Context) -> None:
    """Settle registrations left with an unknown outcome; deliver every result not delivered.

    A tracker found for an open attempt makes it a journaled success whose delivery is
    pending, so both cases end in `deliver_pending` (which also starts the watch).
    """
    with background():
        await _resolve(context)


async def _resolve(context: Context) -> None:
    svc = services(context)
    delivery = BotContext.of(context).delivery
    for attempt, outcome in await svc.registrar.resolve_unresolved():
        if isinstance(outcome, Registered):
            log.info("attempt %d: tracker %d found after all", attempt.id, outcome.tracker_id)
        elif outcome is None:
            journal: RegistrationJournal = context.bot_data[RESOURCES_KEY].journal
            settled = await journal.get(attempt.id)
            if settled is not None and settled.status is AttemptStatus.FAILED:
                await delivery.tell_not_created(settled)
    await delivery.deliver_pending()


async def _start_health(app: App, settings: Settings, vitals: Vitals) -> None:
    svc = services_of(app)
    db = resources_of(app).db

    async def refresh_store() -> None:
        vitals.metrics.store(
            await stats.registrations_by_status(db),
            await stats.active_watches_by_status(db),
        )

    readiness = Readiness(
        vitals,
        database_writable=lambda: stats.check_writable(db),
        catalog_fresh=svc.catalog.is_fresh,
        refresh_store=refresh_store,
    )
    from bot.ops.health_server import HealthServer  # aiohttp only when asked for

    assert settings.health_port is not None
    server = HealthServer(settings.health_host, settings.health_port, vitals, readiness)
    await server.start()
    app.bot_data[HEALTH_KEY] = server


def services_of(app: App) -> Services:
    return BotContext.of(app).services


@dataclass(frozen=True)
class Resources:
    """What the wiring owns and closes, and handlers never see (they get `Services`)."""

    db: Database
    client: NavixyClient
    journal: RegistrationJournal


#: `bot_data` key of the `Resources` (tests reach the database through it).
RESOURCES_KEY = "resources"


def resources_of(app: App) -> Resources:
    resources: Resources = app.bot_data[RESOURCES_KEY]
    return resources


def _update_kind(update: Update) -> str:
    for kind in ("message", "edited_message", "callback_query", "inline_query"):
        if getattr(update, kind) is not None:
            return kind
    return "other"


async def _stop_services(app: App) -> None:
    health = app.bot_data.get(HEALTH_KEY)
    if health is not None:
        await health.stop()
    resources: Resources | None = app.bot_data.get(RESOURCES_KEY)
    if resources is not None:
        await resources.client.aclose()
        await resources.db.close()
    sandbox = app.bot_data.get(SANDBOX_KEY)
    if sandbox is not None:
        await sandbox.stop()
    await close_outbox(app.bot)
    # Let a photo decode in progress finish (about a second at worst), off the loop; no
    # photo read yet: the reader was never imported.
    reader = sys.modules.get("bot.photo.reader")
    if reader is not None:
        await asyncio.to_thread(reader.shutdown_executor)


def configure_logging(settings: Settings) -> None:
    """The process's logging, from LOG_LEVEL and LOG_FORMAT; known secret values are redacted.

    LOG_LEVEL=DEBUG applies to the bot's own loggers only. The libraries' DEBUG output
    dumps whole updates and Bot API parameters (PTB) and SQL parameters (aiosqlite):
    the installers' messages, with APN passwords and activation codes, and the stored
    drafts. No filter can recognise those, so the libraries stay at INFO.
    """
    secrets = [settings.bot_token.get_secret_value()]
    for secret in (settings.navixy_api_key, settings.navixy_password, settings.webhook_secret):
        if secret:
            secrets.append(secret.get_secret_value())
    setup_logging(settings.log_level, secrets, json_lines=settings.log_format == "json")
    updater_log = logging.getLogger("telegram.ext.Updater")
    if not any(isinstance(f, LastPollAtShutdown) for f in updater_log.filters):
        updater_log.addFilter(LastPollAtShutdown())
    if settings.log_level == "DEBUG":
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("bot").setLevel(logging.DEBUG)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["backup"]:
        from bot.ops.backup import main as backup_main

        return backup_main(args[1:])
    try:
        settings = load_settings()
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"configuration error: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings)
    lock = InstanceLock(settings.database_path)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(
            f"startup error: another instance uses {settings.database_path} ({exc.holder}); "
            "stop it first",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        print(
            f"startup error: cannot write beside the database {settings.database_path}: "
            f"{exc.strerror} (the folder must be writable by the bot's user)",
            file=sys.stderr,
        )
        return 1
    try:
        return _run(settings)
    finally:
        lock.release()


async def _preflight(settings: Settings) -> tuple[str | None, list[startup.Finding]]:
    """The database's check (exit 1) and the network checks, at once; a storage problem
    cancels the network checks (it is the one line to show)."""
    checks = asyncio.ensure_future(startup.check(settings))
    try:
        storage = await storage_problem(settings.database_path)
        if storage is None:
            return None, await checks
        return storage, []
    finally:
        if not checks.done():
            checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checks


def _run(settings: Settings) -> int:
    storage, findings = asyncio.run(_preflight(settings))
    if storage is not None:
        print(f"startup error: {storage}", file=sys.stderr)
        return 1
    for finding in findings:
        if finding.exit_code:
            print(f"startup error: {finding.text}", file=sys.stderr)
        else:
            logging.getLogger("bot.startup").log(finding.level, finding.text)
    failed = [f.exit_code for f in findings if f.exit_code]
    if failed:
        return failed[0]
    global _whole_process
    _whole_process = True
    app = build_application(settings)
    log.info("starting; database %s", settings.database_path)
    if settings.uses_webhook:
        assert settings.webhook_url is not None and settings.webhook_secret is not None
        log.info("webhook mode: Telegram posts to %s", settings.webhook_url)
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=_webhook_path(settings.webhook_url),
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    background: BackgroundErrors = app.bot_data[BACKGROUND_ERRORS_KEY]
    return background.exit_code


def _webhook_path(url: str) -> str:
    """The path part of WEBHOOK_URL: the proxy forwards it unchanged."""
    from urllib.parse import urlsplit

    return urlsplit(url).path.lstrip("/")
