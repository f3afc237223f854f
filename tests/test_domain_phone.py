"""Phone numbers: international input to Navixy digits, and back for display."""

from __future__ import annotations

import phonenumbers
import pytest

from bot.domain import phone
from bot.domain.phone import PhoneCheck, PhoneProblem, check_phone, format_phone


@pytest.mark.parametrize(
    "raw",
    [
        "+49 170 1234567",
        "+491701234567",
        "491701234567",
        "0049 170 1234567",
        "+49 (170) 123-45-67",
        "+49.170.123.4567",
        " +49 170 1234567 ",
        "＋４９ １７０ １２３４５６７",  # full-width
    ],
)
def test_german_mobile_in_many_spellings(raw: str) -> None:
    assert check_phone(raw) == PhoneCheck("491701234567", None, "DE")


@pytest.mark.parametrize(
    ("raw", "value", "region"),
    [
        ("+7 (912) 345-67-89", "79123456789", "RU"),
        ("+1 650 253 0000", "16502530000", "US"),
        ("+44 20 7946 0958", "442079460958", "GB"),
        ("+39 02 1234 5678", "390212345678", "IT"),  # Italian leading zero kept
        ("+971 50 123 4567", "971501234567", "AE"),
    ],
)
def test_other_countries(raw: str, value: str, region: str) -> None:
    check = check_phone(raw)
    assert check.ok
    assert (check.value, check.region) == (value, region)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", PhoneProblem.EMPTY),
        ("   ", PhoneProblem.EMPTY),
        ("hello", PhoneProblem.NOT_A_NUMBER),
        ("+49 170 CALL-ME", PhoneProblem.NOT_A_NUMBER),
        ("+", PhoneProblem.NOT_A_NUMBER),
        ("12", PhoneProblem.INVALID),
        ("+999 123456789", PhoneProblem.INVALID),  # no such country code
        ("+7 912 345 67 8", PhoneProblem.INVALID),  # a digit short
        ("0170 1234567", PhoneProblem.INVALID),  # national form: no country code
        ("+49 170 1234567 8901 2345 6789", PhoneProblem.INVALID),
    ],
)
def test_problems(raw: str, problem: PhoneProblem) -> None:
    check = check_phone(raw)
    assert check.problem is problem
    assert check.value is None
    assert not check.ok


def test_value_matches_navixy_format() -> None:
    for raw in ("+49 170 1234567", "+1 650 253 0000", "+7 912 345 67 89"):
        value = check_phone(raw).value
        assert value is not None and value.isdigit() and 8 <= len(value) <= 20


def test_possible_number_decides_only_without_validity_metadata(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(phonenumbers, "is_valid_number", lambda number: False)
    # Metadata present: is_valid_number's "no" stands.
    assert check_phone("+49 170 1234567").problem is PhoneProblem.INVALID
    # Metadata missing: a possible number is accepted.
    assert phone._has_validity_metadata(49)
    monkeypatch.setattr(phone, "_has_validity_metadata", lambda country_code: False)
    assert check_phone("+49 170 1234567").value == "491701234567"


def test_format_phone() -> None:
    assert format_phone("491701234567") == "+49 170 1234567"
    assert format_phone("79123456789") == "+7 912 345-67-89"
    assert format_phone("12") == "+12"
    assert format_phone("") == ""
    assert format_phone("+49 170 1234567") == "+49 170 1234567"
