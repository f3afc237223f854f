"""Long loops that share the event loop with the handlers: yield every few milliseconds.

Background work over many items (the watcher's round over 1000 watches, reading them
back from SQLite) runs on the same event loop as the installers' updates. A loop whose
steps never suspend holds the loop for its whole length, and an installer's update waits
behind it. `Pacer` measures the work since the last yield and, once a slice is used up,
gives the loop a turn (`await asyncio.sleep(0)`): everything ready runs before the loop
goes on, so an update waits at most about one slice.

A handler awaits several times while it answers (SQLite, Navixy, the send), and a plain turn
would let the long loop run a slice at each of those awaits. So while updates are being
answered (`answering()`, entered by the update processor) a pacer that used up its slice
waits for them, up to `ANSWER_WAIT`, before it goes on: an answer meets at most about one
slice of background work, and the long loop still advances (a stuck or flood-waiting answer
only slows it down).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable, Iterator

#: Seconds of work between two yields.
SLICE_SECONDS = 0.004
#: How long a pacer waits, at most, for the updates being answered before its next slice.
ANSWER_WAIT = 0.010


class _Answers:
    """The updates being answered on one event loop."""

    def __init__(self) -> None:
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()


_answers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Answers] = (
    weakref.WeakKeyDictionary()
)


@contextlib.contextmanager
def answering() -> Iterator[None]:
    """Around the handling of one update: long loops give way to it (see the module)."""
    loop = asyncio.get_running_loop()
    answers = _answers.get(loop)
    if answers is None:
        answers = _answers[loop] = _Answers()
    answers.count += 1
    answers.idle.clear()
    try:
        yield
    finally:
        answers.count -= 1
        if answers.count == 0:
            answers.idle.set()


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
        answers = _answers.get(asyncio.get_running_loop())
        if answers is not None and answers.count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answers.idle.wait(), ANSWER_WAIT)
        self._mark = self._clock()
