"""Helpers shared by the tests (fixtures are in conftest.py; the chat driver in e2e.py)."""

from __future__ import annotations


class FakeClock:
    """A clock the test moves: `clock()` is the time, `advance()` moves it on."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
