"""The registration conversation's service: what the handlers ask, decided here.

Handlers render; this service decides, from the domain's rules and tables (the Navixy
code table in `bot.domain.navixy_outcomes`, the plugin choice, the TAC rule) and the
stores behind it. It never sends anything to the chat.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from bot.domain.draft import Draft, Step
from bot.domain.navixy_outcomes import Forget, meaning, step_to_ask_again
from bot.domain.plugins import choose_plugin, requires_activation_code
from bot.navixy.errors import NavixyError
from bot.services.catalog import Catalog

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
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

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
