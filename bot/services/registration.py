"""The registration conversation's service: what the handlers ask, decided here.

Handlers render; this service decides, from the domain's rules and tables (the Navixy
code table in `bot.domain.navixy_outcomes`, the plugin choice, the TAC rule) and the
stores behind it. It never sends anything to the chat.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from bot.domain.attempts import AttemptStatus
from bot.domain.device_id import type_allocation_code
from bot.domain.draft import Draft, Step
from bot.domain.navixy_outcomes import Forget, meaning, step_to_ask_again
from bot.domain.plugins import choose_plugin, requires_activation_code
from bot.navixy.client import NavixyClient
from bot.navixy.errors import NavixyError
from bot.navixy.models import ApnSettings, DeviceModel
from bot.services.catalog import Catalog
from bot.storage.journal import RegistrationJournal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovery:
    """What follows a refused `tracker/register` (the draft is already changed to match)."""

    #: The question to ask again (the draft forgot its answer).
    ask_again: Step | None = None
    #: No registration method is left for the model: the registration ends.
    stop: bool = False
    #: Offer to change the device ID (with Cancel) instead of the summary card's buttons.
    change_device_id: bool = False


class Registration:
    def __init__(
        self, catalog: Catalog, journal: RegistrationJournal, client: NavixyClient
    ) -> None:
        self._catalog = catalog
        self._journal = journal
        self._client = client

    async def outcome_unconfirmed(self, draft_id: str) -> bool:
        """True when the draft's last attempt never got Navixy's answer (it may exist)."""
        last = await self._journal.latest_for_draft(draft_id)
        return last is not None and last.status in (AttemptStatus.SENDING, AttemptStatus.UNKNOWN)

    async def registered_tracker(self, draft_id: str) -> int | None:
        """The tracker the draft's successful attempt created, if there is one."""
        done = await self._journal.success_for_draft(draft_id)
        return done.tracker_id if done is not None else None

    async def model_for_known_tac(self, device_id: str | None) -> DeviceModel | None:
        """The model this bot registered most often with the IMEI's TAC (photo first)."""
        tac = type_allocation_code(device_id)
        if tac is None:
            return None
        for code, _count in await self._journal.models_for_tac(tac):
            model = self._catalog.model(code)
            if model is not None:
                return model
        return None

    async def look_up_apn(self, phone: str) -> ApnSettings | None:
        """The SIM operator's APN by the phone number; None when unknown or not answered."""
        try:
            return await self._client.read_apn(phone)
        except NavixyError as exc:
            log.info("APN lookup failed: code %s", exc.code)
            return None

    async def recover(self, draft: Draft, error: NavixyError) -> Recovery:
        """Apply the code table's outcome of a refusal to `draft` and say what comes next."""
        outcome = meaning(error.code)
        if outcome.forget is Forget.GROUPS:
            self._catalog.forget_groups()
        elif outcome.forget is Forget.PLUGINS:
            self._catalog.forget_plugins()
        if outcome.choose_plugin_again:
            model = self._catalog.model(draft.model_code or "")
            plugin = None
            with contextlib.suppress(NavixyError):
                plugin = choose_plugin(await self._catalog.plugins(), model) if model else None
            if plugin is None:
                return Recovery(stop=True)
            draft.plugin_id = plugin.id
            draft.code_required = requires_activation_code(plugin.id)
        step = step_to_ask_again(error.code, [e.parameter for e in error.errors])
        if step is not None:
            draft.forget(step)
            return Recovery(ask_again=step)
        return Recovery(change_device_id=outcome.change_device_id and draft.asks_device_id)
