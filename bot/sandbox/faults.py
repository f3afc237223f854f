"""Faults to inject into the stand-in, and the scripted behaviour of devices."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ErrorFault:
    """Answer with this Navixy error instead of handling the call.

    The HTTP status follows the docs' error table; `description` defaults to the table's text.
    """

    code: int
    description: str | None = None
    errors: list[dict[str, str]] | None = None


@dataclass(frozen=True)
class DropAfterCommit:
    """Handle the call fully (e.g. create the tracker), then abort the TCP connection."""


@dataclass(frozen=True)
class DropBeforeCommit:
    """Abort the TCP connection without doing anything."""


@dataclass(frozen=True)
class Delay:
    """Sleep this long before handling the call (to trigger client timeouts)."""

    seconds: float


@dataclass(frozen=True, eq=False)
class Hold:
    """Hold the call until the test calls `release()`, then handle it (a late commit).

    Like `Delay`, but the test decides when, instead of a clock: no real multi-second waits,
    and no race with a client timeout on a loaded machine.
    """

    _released: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def release(self) -> None:
        self._released.set()

    async def wait(self) -> None:
        await self._released.wait()


@dataclass(frozen=True)
class RawHttp:
    """Answer with a raw, non-Navixy HTTP response (e.g. a proxy's 502 page)."""

    status: int
    body: str = "<html>Bad Gateway</html>"


Fault = ErrorFault | DropAfterCommit | DropBeforeCommit | Delay | Hold | RawHttp


@dataclass(frozen=True)
class DeviceScript:
    """How a registered device behaves over (sandbox clock) time.

    `online_after`: seconds after registration (or, with `needs_retry`, after the latest
    successful `tracker/register_retry`) when the device connects; None = never.
    `gps_fix`: False = it connects but never gets a fix (status `idle`, `gps.updated` null).
    `offline_after`: seconds after connecting when it goes `offline`; None = stays connected.
    """

    online_after: float | None = 30.0
    needs_retry: bool = False
    gps_fix: bool = True
    offline_after: float | None = None
    location: tuple[float, float] = (52.5200, 13.4050)
    ignition: bool | None = False
    board_voltage: float | None = 12.6
    gsm_level: int | None = 80
