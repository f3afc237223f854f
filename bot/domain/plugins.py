"""Which registration plugin to use for a model (docs/navixy-api.md §5 and §7 step 3).

Plugins are chosen by id, never by module name:
* hardware: 44 (activation code optional) if it applies to the model, else 37 (code required);
* the mobile app (`DeviceModel.is_mobile_app`): 35 (code optional), else 68 (code required).
Other registration plugins (bundled SIM, ...) need fields the bot doesn't collect: never chosen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.navixy.models import DeviceModel, Plugin

REGISTRATION_TYPE = "tracker_register"

HARDWARE_CODE_OPTIONAL = 44
HARDWARE_CODE_REQUIRED = 37
MOBILE_CODE_OPTIONAL = 35
MOBILE_CODE_REQUIRED = 68

HARDWARE_PLUGINS = (HARDWARE_CODE_OPTIONAL, HARDWARE_CODE_REQUIRED)  # in order of preference
MOBILE_PLUGINS = (MOBILE_CODE_OPTIONAL, MOBILE_CODE_REQUIRED)


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return None


def _matches(pattern: str, code: str) -> bool:
    """Whole-code match (Java `String.matches`); a pattern Python can't compile never matches."""
    compiled = _compile(pattern)
    return compiled is not None and compiled.fullmatch(code) is not None


def plugin_applies(plugin: Plugin, model_code: str) -> bool:
    """Filter semantics: `exclusion: true` = every model except the matched ones (empty list =
    all models); `exclusion: false` = only the matched ones."""
    matched = any(_matches(pattern, model_code) for pattern in plugin.filter.values)
    return not matched if plugin.filter.exclusion else matched


def choose_plugin(plugins: Sequence[Plugin], model: DeviceModel) -> Plugin | None:
    """The registration plugin for the model, or None when none of ours applies."""
    usable: dict[int, Plugin] = {}
    for plugin in plugins:
        if plugin.type == REGISTRATION_TYPE and plugin_applies(plugin, model.code):
            usable.setdefault(plugin.id, plugin)
    preference = MOBILE_PLUGINS if model.is_mobile_app else HARDWARE_PLUGINS
    for plugin_id in preference:
        if plugin_id in usable:
            return usable[plugin_id]
    return None


def requires_activation_code(plugin_id: int) -> bool:
    return plugin_id in (HARDWARE_CODE_REQUIRED, MOBILE_CODE_REQUIRED)


def accepts_activation_code(plugin_id: int) -> bool:
    return plugin_id in HARDWARE_PLUGINS + MOBILE_PLUGINS


def is_mobile_plugin(plugin_id: int) -> bool:
    return plugin_id in MOBILE_PLUGINS
