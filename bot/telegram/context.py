"""The bot's `CallbackContext`: typed access to what the wiring keeps in `bot_data`.

As in PTB's `examples/contexttypesbot.py`: `bot/app.py` builds the application with
`ContextTypes(context=BotContext)`, so every handler and job gets a `BotContext` and reads
`context.services`, `context.access`, ... instead of `bot_data["..."]`. The `bot_data` keys
and the casts live here and nowhere else; the wiring sets the same properties
(`BotContext.of(app).services = ...`), so mypy checks both sides.

The small accessors the handlers already use (`common.services(context)`,
`admin.access(context)`, `delivery.result_delivery(context)`, `language.store(context)`,
`crew.crews(context)`, `admin_reports.reports(context)`) delegate to these properties.

This module imports only the layers below `bot/telegram` (config, ops, services, domain),
so any handler module may import it. The two objects built in `bot/telegram` itself are
named by the protocols they are used through (`Deliveries`, `Announcer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, cast

from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.domain.attempts import Attempt
from bot.ops.health import Vitals
from bot.services.access import AccessService
from bot.services.catalog import Catalog
from bot.services.crews import CrewService
from bot.services.languages import Languages
from bot.services.registrar import Registrar
from bot.services.registration import Registration
from bot.services.reports import Reports
from bot.services.watcher import Watcher

#: The `bot_data` keys (tests reach the services through `SERVICES_KEY` too).
SERVICES_KEY = "services"
ACCESS_KEY = "access"
REPORTS_KEY = "reports"
CREWS_KEY = "crews"
ANNOUNCER_KEY = "crew_announcer"
LANGUAGES_KEY = "languages"
DELIVERY_KEY = "delivery"
VITALS_KEY = "vitals"


@dataclass
class Services:
    """What handlers may ask: services only (no database, no Navixy client, no store)."""

    settings: Settings
    catalog: Catalog
    registrar: Registrar
    registration: Registration
    watcher: Watcher


class Deliveries(Protocol):
    """Showing journaled successes in the chat (`bot.telegram.delivery.ResultDelivery`)."""

    async def deliver(
        self, attempt_id: int, *, card: int | None = None, again: bool = False
    ) -> bool: ...

    async def deliver_pending(self) -> tuple[int, int]: ...

    async def tell_not_created(self, attempt: Attempt) -> None: ...


class Announcer(Protocol):
    """The crew chats' registration line (`bot.telegram.crew.CrewAnnouncer`)."""

    async def registered(
        self, user_id: int, who: str, chat_id: int, tracker_id: int, label: str, model: str
    ) -> None: ...


AnyApp = Application[Any, Any, Any, Any, Any, Any]


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context every handler and job of the bot gets (see the module docstring)."""

    @classmethod
    def of(cls, source: CallbackContext[Any, Any, Any, Any] | AnyApp) -> BotContext:
        """This context for a handler's context (of any type) or for the application."""
        if isinstance(source, BotContext):
            return source
        app: Any = source.application if isinstance(source, CallbackContext) else source
        return cls(app)

    # Set in post_init (bot/app.py) before the first update; read by every handler.

    @property
    def services(self) -> Services:
        return cast(Services, self.bot_data[SERVICES_KEY])

    @services.setter
    def services(self, value: Services) -> None:
        self.bot_data[SERVICES_KEY] = value

    @property
    def access(self) -> AccessService:
        return cast(AccessService, self.bot_data[ACCESS_KEY])

    @access.setter
    def access(self, value: AccessService) -> None:
        self.bot_data[ACCESS_KEY] = value

    @property
    def reports(self) -> Reports:
        return cast(Reports, self.bot_data[REPORTS_KEY])

    @reports.setter
    def reports(self, value: Reports) -> None:
        self.bot_data[REPORTS_KEY] = value

    @property
    def crews(self) -> CrewService:
        return cast(CrewService, self.bot_data[CREWS_KEY])

    @crews.setter
    def crews(self, value: CrewService) -> None:
        self.bot_data[CREWS_KEY] = value

    @property
    def languages(self) -> Languages:
        return cast(Languages, self.bot_data[LANGUAGES_KEY])

    @languages.setter
    def languages(self, value: Languages) -> None:
        self.bot_data[LANGUAGES_KEY] = value

    @property
    def delivery(self) -> Deliveries:
        return cast(Deliveries, self.bot_data[DELIVERY_KEY])

    @delivery.setter
    def delivery(self, value: Deliveries) -> None:
        self.bot_data[DELIVERY_KEY] = value

    @property
    def announcer(self) -> Announcer | None:
        return cast(Announcer | None, self.bot_data.get(ANNOUNCER_KEY))

    @announcer.setter
    def announcer(self, value: Announcer) -> None:
        self.bot_data[ANNOUNCER_KEY] = value

    # Set when the application is built (before post_init).

    @property
    def vitals(self) -> Vitals:
        return cast(Vitals, self.bot_data[VITALS_KEY])

    @vitals.setter
    def vitals(self, value: Vitals) -> None:
        self.bot_data[VITALS_KEY] = value

    # The handlers that run before everything (the -4/-3 groups) tolerate an application
    # whose services are not set (yet): None instead of a KeyError.

    @property
    def access_or_none(self) -> AccessService | None:
        return cast(AccessService | None, self.bot_data.get(ACCESS_KEY))

    @property
    def crews_or_none(self) -> CrewService | None:
        return cast(CrewService | None, self.bot_data.get(CREWS_KEY))

    @property
    def languages_or_none(self) -> Languages | None:
        return cast(Languages | None, self.bot_data.get(LANGUAGES_KEY))

    @property
    def vitals_or_none(self) -> Vitals | None:
        return cast(Vitals | None, self.bot_data.get(VITALS_KEY))
