"""SIM and notification phone numbers: international input to Navixy's digits-only form.

Navixy wants `^[0-9]{8,20}$`: country code and number, no `+` (docs/navixy-api.md §5).

Decisions:
* The input is always read as international: a leading `+` or `00` is optional, so
  `491701234567`, `+49 170 1234567` and `0049 (170) 123-45-67` are the same number.
  A national number without its country code (`0170 1234567`) is not guessed.
* The number must pass `phonenumbers.is_valid_number`. Only when the library has no validity
  metadata for the country (no national number pattern) does `is_possible_number` decide.
  Note: some M2M/IoT SIM ranges are missing from libphonenumber and fail as INVALID.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

# phonenumbers is not imported with the bot (~20 ms of start-up): `bot.app.warm_up` imports
# it in a thread once the bot is quiet, else the first phone step does.

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212./()\[\]]+")
_NAVIXY_FORMAT = re.compile(r"[0-9]{8,20}")


class PhoneProblem(StrEnum):
    EMPTY = "empty"
    NOT_A_NUMBER = "not_a_number"
    INVALID = "invalid"


@dataclass(frozen=True)
class PhoneCheck:
    value: str | None
    problem: PhoneProblem | None
    region: str | None = None  # ISO country ("DE"); None if unknown or non-geographic

    @property
    def ok(self) -> bool:
        return self.problem is None and self.value is not None


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(
        str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text
    )


def check_phone(raw: str) -> PhoneCheck:
    """Check an international phone number; the value is its digits without `+`."""
    text = _ascii(raw).strip().strip(",;:")
    if not text:
        return PhoneCheck(None, PhoneProblem.EMPTY)
    text = _SEPARATORS.sub("", text)
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    else:
        digits = text
    if not digits or not (digits.isascii() and digits.isdigit()):
        return PhoneCheck(None, PhoneProblem.NOT_A_NUMBER)
    import phonenumbers
    from phonenumbers import NumberParseException

    try:
        number = phonenumbers.parse("+" + digits, None)
    except NumberParseException:
        # The input is digits, so the library's complaint is a length or country code one.
        return PhoneCheck(None, PhoneProblem.INVALID)
    if not _acceptable(number):
        return PhoneCheck(None, PhoneProblem.INVALID)
    value = f"{number.country_code}{phonenumbers.national_significant_number(number)}"
    if not _NAVIXY_FORMAT.fullmatch(value):
        return PhoneCheck(None, PhoneProblem.INVALID)
    region = phonenumbers.region_code_for_number(number)
    return PhoneCheck(value, None, region if region and region not in ("ZZ", "001") else None)


def _acceptable(number: PhoneNumber) -> bool:
    import phonenumbers

    if phonenumbers.is_valid_number(number):
        return True
    if _has_validity_metadata(number.country_code or 0):
        return False
    return bool(phonenumbers.is_possible_number(number))


def _has_validity_metadata(country_code: int) -> bool:
    """Whether libphonenumber knows the country's number patterns (all did in 9.0.x)."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    return (
        metadata is not None
        and metadata.general_desc is not None
        and metadata.general_desc.national_number_pattern is not None
    )


def format_phone(digits: str) -> str:
    """International display form of Navixy digits: "491701234567" -> "+49 170 1234567"."""
    digits = "".join(ch for ch in digits if ch.isdigit())
    if not digits:
        return ""
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat

    try:
        number = phonenumbers.parse("+" + digits, None)
    except NumberParseException:
        return "+" + digits
    if not phonenumbers.is_possible_number(number):
        return "+" + digits
    return str(phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL))


def preload() -> None:
    """Import what reading a phone number needs (phonenumbers), ahead of the first number;
    `bot.app` calls it in a thread soon after start."""
    import phonenumbers  # noqa: F401
