"""Long loops that share the event loop with the handlers: yield every few milliseconds.

Background work over many items (the watcher's round over 1000 watches, reading them
back from SQLite) runs on the same event loop as the installers' updates. A loop whose
steps never suspend holds the loop for its whole length, and an installer's update waits
behind it. `Pacer` measures the work since the last yield and, once a slice is used up,
gives the loop a turn (`await asyncio.sleep(0)`): everything ready runs before the loop
goes on, so an update waits at most about one slice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Seconds of work between two yields.
SLICE_SECONDS = 0.004


class Pacer:
    """`await pacer.step()` between items: a turn for everyone else every `slice_seconds`."""

    __slots__ = ("_clock", "_mark", "_slice", "yields")

    def __init__(
        self,
        slice_seconds: float = SLICE_SECONDS,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._slice = slice_seconds
        self._clock = clock
        self._mark = clock()
        #: How many times the loop was given a turn (tests, logs).
        self.yields = 0

    async def step(self) -> None:
        now = self._clock()
        if now - self._mark < self._slice:
            return
        await asyncio.sleep(0)
        self.yields += 1
        self._mark = self._clock()
