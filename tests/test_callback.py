"""The one callback-data codec: the wire formats stay those already in chats."""

from __future__ import annotations

import re

import pytest

from bot.domain.draft import Draft
from bot.telegram.callback import (
    CallbackTooLong,
    DraftButton,
    LanguageButton,
    StartButton,
    WatchButton,
)


def test_draft_buttons_round_trip() -> None:
    draft = Draft.start(1, 2)
    data = DraftButton.data(draft, "model:fmb140")
    assert data == f"{draft.id}|model:fmb140"
    assert DraftButton.unpack(data) == DraftButton(draft.id, "model:fmb140")
    assert DraftButton.action_of(data) == "model:fmb140"
    assert re.match(DraftButton.pattern(action="model:"), data)
    assert not re.match(DraftButton.pattern(action="mobile$"), data)


def test_watch_buttons_round_trip() -> None:
    data = WatchButton.data(123456, "check")
    assert data == "w|123456|check"
    assert WatchButton.unpack(data) == WatchButton(123456, "check")
    assert re.match(WatchButton.pattern(), data)
    assert WatchButton.unpack("w|x|check") is None
    assert WatchButton.unpack("0123456789ab|check") is None


def test_language_and_start() -> None:
    assert LanguageButton("pt_BR").pack() == "lang:pt_BR"
    assert re.match(LanguageButton.pattern(), "lang:auto")
    assert StartButton().pack() == "start:register"
    assert re.match(StartButton.pattern(), "start:register")


def test_64_bytes() -> None:
    draft = Draft.start(1, 2)
    too_long = DraftButton(draft.id, "model:" + "ü" * 30)
    assert not too_long.fits()
    with pytest.raises(CallbackTooLong):
        too_long.pack()


def test_unknown_field_in_pattern() -> None:
    with pytest.raises(ValueError, match="no field"):
        DraftButton.pattern(nonsense="x")
