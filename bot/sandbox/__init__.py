"""The Navixy API v2 stand-in: a loopback aiohttp server for tests and `NAVIXY_API_URL=sandbox`."""

from bot.sandbox.faults import (
    Delay,
    DeviceScript,
    DropAfterCommit,
    DropBeforeCommit,
    ErrorFault,
    Fault,
    Hold,
    RawHttp,
)
from bot.sandbox.server import (
    DEFAULT_APN_BY_PREFIX,
    DEFAULT_GROUPS,
    DEFAULT_PLUGINS,
    NavixySandbox,
    load_default_models,
)
from bot.sandbox.state import SandboxCall, SandboxTracker

__all__ = [
    "DEFAULT_APN_BY_PREFIX",
    "DEFAULT_GROUPS",
    "DEFAULT_PLUGINS",
    "Delay",
    "DeviceScript",
    "DropAfterCommit",
    "DropBeforeCommit",
    "ErrorFault",
    "Fault",
    "Hold",
    "NavixySandbox",
    "RawHttp",
    "SandboxCall",
    "SandboxTracker",
    "load_default_models",
]
