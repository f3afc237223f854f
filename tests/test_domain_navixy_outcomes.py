"""The one table from Navixy codes to what the bot does."""

from __future__ import annotations

import pytest

from bot.domain.draft import Step
from bot.domain.navixy_outcomes import (
    CODES,
    RegisterMessage,
    RetryOutcome,
    meaning,
    step_to_ask_again,
)
from bot.navixy.codes import BUSY, NavixyCode
from bot.navixy.errors import NavixyError


@pytest.mark.parametrize(
    ("code", "step"),
    [
        (NavixyCode.ENTITY_NOT_FOUND, Step.GROUP),
        (NavixyCode.UNKNOWN_MODEL, Step.MODEL),
        (NavixyCode.PHONE_IN_USE, Step.PHONE),
        (NavixyCode.WRONG_ACTIVATION_CODE, Step.CODE),
        (NavixyCode.DEVICE_ID_IN_USE, None),
        (NavixyCode.PLUGIN_NOT_FOUND, None),
        (999, None),
    ],
)
def test_step_to_ask_again(code: int, step: Step | None) -> None:
    assert step_to_ask_again(code) is step


def test_invalid_parameters_ask_the_first_known_field() -> None:
    assert step_to_ask_again(7, ["nonsense", "label", "phone"]) is Step.LABEL
    assert step_to_ask_again(7, ["nonsense"]) is None


def test_unnamed_codes_get_the_defaults() -> None:
    outcome = meaning(12345)
    assert outcome.message is RegisterMessage.OTHER
    assert outcome.retry is RetryOutcome.OTHER
    assert not outcome.device_exists and not outcome.try_later


def test_device_id_problems() -> None:
    assert meaning(224).device_exists and meaning(224).change_device_id
    assert meaning(258).change_device_id and not meaning(258).device_exists


def test_busy_codes_are_worth_trying_later() -> None:
    assert all(CODES[code].try_later for code in BUSY)
    assert all(meaning(code).retry is RetryOutcome.BUSY for code in BUSY)


def test_errors_name_their_code() -> None:
    assert NavixyError(224, "in use").kind is NavixyCode.DEVICE_ID_IN_USE
    assert NavixyError(12345, "?").kind is None
    assert NavixyError(NavixyCode.SECOND_FACTOR, "2fa").code == 276
