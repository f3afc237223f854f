"""Device IDs: the `id_type` rules of `tracker/list_models` and checking what installers type.

Pure functions, no I/O. Problems are reported as `IdProblem` codes; the UI words them.

Decisions (see docs/navixy-api.md §4):
* `imei`: exactly 15 digits with a valid Luhn check digit. The API accepts 15-16 digits for a
  few models (FM4200: `[0-9]{15,16}`), but a 16-digit number on a label is an IMEISV (14 IMEI
  digits + a 2-digit software version, no check digit), and trackers report the 15-digit IMEI.
  So 16 digits are refused with `WRONG_LENGTH`, except when the input says it is an IMEISV
  (`IMEISV: ...`): then it is converted to its IMEI (first 14 digits + computed check digit).
* `meid`: 14 hexadecimal characters, returned upper-case.
* `id,N`: exactly N digits.
* `ascii,MIN,MAX`: Latin letters, digits and hyphens; MAX is capped at 32 (the API enforces 32).
* `N,M`: made by the platform (`GENERATED`); the installer is never asked. `check_device_id`
  still validates such an ID (N digits starting with M) for completeness.
* anything else: the general API rule `^[0-9a-zA-Z-]{1,64}$`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

ASCII_MAX_ENFORCED = 32
GENERAL_MAX = 64


class IdKind(StrEnum):
    IMEI = "imei"
    MEID = "meid"
    DIGITS = "digits"
    ASCII = "ascii"
    GENERATED = "generated"


@dataclass(frozen=True)
class IdRule:
    kind: IdKind
    min_len: int
    max_len: int
    prefix: str = ""

    @property
    def asks_user(self) -> bool:
        """False when the platform makes the ID (`N,M`): send no `device_id`."""
        return self.kind is not IdKind.GENERATED


class IdProblem(StrEnum):
    EMPTY = "empty"
    BAD_CHARACTERS = "bad_characters"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    WRONG_LENGTH = "wrong_length"  # IMEI only: 16 digits (an IMEISV) where 15 are needed
    BAD_CHECKSUM = "bad_checksum"


@dataclass(frozen=True)
class IdCheck:
    value: str | None
    problem: IdProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.value is not None


IMEI_RULE = IdRule(IdKind.IMEI, 15, 15)
MEID_RULE = IdRule(IdKind.MEID, 14, 14)
GENERAL_RULE = IdRule(IdKind.ASCII, 1, GENERAL_MAX)


def parse_id_type(id_type: str) -> IdRule:
    """The rule for a model's `id_type`; unknown formats get the general API rule."""
    text = "".join(id_type.split()).lower()
    if text == "imei":
        return IMEI_RULE
    if text == "meid":
        return MEID_RULE
    parts = text.split(",")
    if len(parts) == 2 and parts[0] == "id" and parts[1].isdecimal():
        n = int(parts[1])
        if 1 <= n <= GENERAL_MAX:
            return IdRule(IdKind.DIGITS, n, n)
    if len(parts) == 3 and parts[0] == "ascii" and parts[1].isdecimal() and parts[2].isdecimal():
        high = min(int(parts[2]), ASCII_MAX_ENFORCED)
        low = min(max(int(parts[1]), 1), high)
        if high >= 1:
            return IdRule(IdKind.ASCII, low, high)
    if len(parts) == 2 and parts[0].isdecimal() and parts[1].isdecimal():
        n = int(parts[0])
        if 1 <= n <= GENERAL_MAX and len(parts[1]) <= n:
            return IdRule(IdKind.GENERATED, n, n, prefix=parts[1])
    return GENERAL_RULE


def is_imei(digits: str) -> bool:
    """15 ASCII digits whose last one is the Luhn check digit: exactly an IMEI, as printed."""
    return len(digits) == IMEI_RULE.min_len and luhn_valid(digits)


def luhn_valid(digits: str) -> bool:
    """True for a non-empty ASCII digit string whose last digit is its Luhn check digit."""
    if not digits or not (digits.isascii() and digits.isdigit()):
        return False
    return (_luhn_sum(digits[:-1]) + int(digits[-1])) % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The Luhn check digit to append to `body` (ASCII digits)."""
    return str((10 - _luhn_sum(body) % 10) % 10)


def _luhn_sum(body: str) -> int:
    """Luhn sum of `body` as if a check digit followed it."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total


def imei_from_imeisv(imeisv: str) -> str:
    """The 15-digit IMEI of a 16-digit IMEISV (TAC + serial, then a new check digit)."""
    body = imeisv[:14]
    return body + luhn_check_digit(body)


# --- normalising what was typed -------------------------------------------------------------

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_EDGE_JUNK = " \t\r\n.,;:!?\"'`«»“”„‘’()[]{}<>*#№_/\\|"
# Cyrillic letters that look like Latin ones (a Russian keyboard user typing an MEID or ID).
_HOMOGLYPHS = str.maketrans(
    "АВСЕНКМОРТХаеорсхукіІјЈѕЅ",
    "ABCEHKMOPTXaeopcxykiIjJsS",
)
_LABEL = re.compile(
    r"^\s*(?:imei\s*/\s*s/?n|imei\s*sv|imeisv|imei|meid|s/?n|id|device\s*id)\s*(?:[:#=№.-]\s*|\s+)?",
    re.IGNORECASE,
)
_LABEL_WITH_COLON = re.compile(
    r"^\s*(?:imei\s*/\s*s/?n|imei\s*sv|imeisv|imei|meid|s/?n|id|device\s*id)\s*[:#=№]\s*",
    re.IGNORECASE,
)
_IMEISV_LABEL = re.compile(r"^\s*imei\s*sv", re.IGNORECASE)


def _ascii_digits(text: str) -> str:
    """NFKC (full-width letters/digits) plus any Unicode decimal digit mapped to 0-9."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    out = []
    for ch in text:
        if not ch.isascii() and ch.isdecimal():
            out.append(str(unicodedata.decimal(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _strip_label(text: str, kind: IdKind) -> tuple[str, bool]:
    """Remove a leading `IMEI:`-style label. Returns (rest, said_imeisv)."""
    said_sv = bool(_IMEISV_LABEL.match(text))
    # For free-form IDs a bare word could be part of the ID: only strip `label:` forms there.
    pattern = _LABEL_WITH_COLON if kind in (IdKind.ASCII,) else _LABEL
    match = pattern.match(text)
    if match is None:
        return text, False
    rest = text[match.end() :]
    if kind is IdKind.ASCII and not rest.strip():
        return text, False
    return rest, said_sv


def check_device_id(rule: IdRule, raw: str) -> IdCheck:
    """Normalise and check a typed device ID against the model's rule."""
    text = _ascii_digits(raw).strip()
    text = text.strip(_EDGE_JUNK)
    if not text:
        return IdCheck(None, IdProblem.EMPTY)
    text, said_sv = _strip_label(text, rule.kind)
    text = text.strip(_EDGE_JUNK)
    if not text:
        return IdCheck(None, IdProblem.EMPTY)
    if rule.kind is IdKind.ASCII:
        return _check_ascii(rule, text)
    compact = "".join(ch for ch in text if not ch.isspace() and ch not in _DASHES)
    if rule.kind is IdKind.MEID:
        return _check_meid(rule, compact.translate(_HOMOGLYPHS).upper())
    if not (compact.isascii() and compact.isdigit()):
        return IdCheck(None, IdProblem.BAD_CHARACTERS)
    if rule.kind is IdKind.IMEI:
        return _check_imei(compact, said_sv)
    return _check_digits(rule, compact)


def _length_problem(rule: IdRule, value: str) -> IdProblem | None:
    if len(value) < rule.min_len:
        return IdProblem.TOO_SHORT
    if len(value) > rule.max_len:
        return IdProblem.TOO_LONG
    return None


def _check_imei(digits: str, said_sv: bool) -> IdCheck:
    if len(digits) == 16:
        if said_sv:
            return IdCheck(imei_from_imeisv(digits), None)
        return IdCheck(None, IdProblem.WRONG_LENGTH)
    problem = _length_problem(IMEI_RULE, digits)
    if problem is not None:
        return IdCheck(None, problem)
    if not luhn_valid(digits):
        return IdCheck(None, IdProblem.BAD_CHECKSUM)
    return IdCheck(digits, None)


def _check_meid(rule: IdRule, value: str) -> IdCheck:
    if not re.fullmatch(r"[0-9A-F]+", value):
        return IdCheck(None, IdProblem.BAD_CHARACTERS)
    problem = _length_problem(rule, value)
    return IdCheck(None, problem) if problem else IdCheck(value, None)


def _check_digits(rule: IdRule, digits: str) -> IdCheck:
    problem = _length_problem(rule, digits)
    if problem is not None:
        return IdCheck(None, problem)
    if rule.prefix and not digits.startswith(rule.prefix):
        return IdCheck(None, IdProblem.BAD_CHARACTERS)
    return IdCheck(digits, None)


def _check_ascii(rule: IdRule, text: str) -> IdCheck:
    value = text.translate(_HOMOGLYPHS)
    value = "".join("-" if ch in _DASHES else ch for ch in value)
    if not re.fullmatch(r"[0-9A-Za-z-]+", value):
        return IdCheck(None, IdProblem.BAD_CHARACTERS)
    problem = _length_problem(rule, value)
    return IdCheck(None, problem) if problem else IdCheck(value, None)


# --- examples and free text -----------------------------------------------------------------

EXAMPLE_IMEI = "356938035643809"
EXAMPLE_MEID = "A10000009296F2"
_EXAMPLE_ASCII = "fleet-sensor-0042"


def example_id(rule: IdRule) -> str:
    """A valid example ID for the rule (to show in a prompt)."""
    if rule.kind is IdKind.IMEI:
        return EXAMPLE_IMEI
    if rule.kind is IdKind.MEID:
        return EXAMPLE_MEID
    if rule.kind in (IdKind.DIGITS, IdKind.GENERATED):
        body = ("1234567890" * (rule.max_len // 10 + 1))[: rule.max_len]
        return (rule.prefix + body)[: rule.max_len]
    text = _EXAMPLE_ASCII[: rule.max_len]
    if text.endswith("-"):
        text = text[:-1] + "0"
    if len(text) < rule.min_len:
        text = (text + "-" + "0123456789" * 7)[: rule.min_len]
        if text.endswith("-"):
            text = text[:-1] + "9"
    return text


_RUN = re.compile(r"[0-9]+(?:[ \-][0-9]+)*")
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{14}(?![0-9A-Za-z])")
_ASCII_TOKEN = re.compile(r"(?<![0-9A-Za-z-])[0-9A-Za-z][0-9A-Za-z-]*(?![0-9A-Za-z-])")
_LABEL_BEFORE = re.compile(r"(?:imei\s*sv|imeisv|imei|meid|id|s/?n)\s*[:#=№]?\s*$", re.IGNORECASE)
_LABEL_WORDS = {"IMEI", "IMEISV", "MEID", "SN", "ID", "ICCID", "IMSI", "MAC", "MODEL", "S-N"}


def find_id_candidates(rule: IdRule, text: str) -> list[str]:
    """Device IDs for the rule found in free text (a QR payload, OCR text), labelled ones first.

    A digit run is only taken whole: never a part of a longer run (so an ICCID, 19-20 digits,
    never yields an IMEI). Groups joined by single spaces/dashes ("35 693803 564380 9") count as
    one run. A run glued to letters is skipped unless the letters are a label (`IMEI356...`).
    `GENERATED` IDs are made by the platform: nothing is searched for them. For free-form
    (ASCII) rules only tokens containing a digit are offered.
    """
    if not rule.asks_user:
        return []
    norm = _ascii_digits(text)
    found: list[tuple[bool, int, str]] = []
    if rule.kind in (IdKind.IMEI, IdKind.DIGITS):
        for match in _RUN.finditer(norm):
            start, end = match.span()
            before = norm[:start]
            if end < len(norm) and norm[end].isalpha():
                continue
            labelled = bool(_LABEL_BEFORE.search(before[-12:]))
            if before and before[-1].isalpha() and not labelled:
                continue
            pieces = re.split(r"[ \-]", match.group())
            options = [match.group()]
            if len(pieces) > 1:
                options += pieces
            for option in options:
                digits = option.replace(" ", "").replace("-", "")
                sv = False
                if rule.kind is IdKind.IMEI and len(digits) == 16:
                    sv = bool(re.search(r"imei\s*sv\s*[:#=]?\s*$", before[-12:], re.IGNORECASE))
                    if not sv:
                        continue
                raw = ("IMEISV " if sv else "") + digits
                check = check_device_id(rule, raw)
                if check.value is not None:
                    found.append((labelled, start, check.value))
    elif rule.kind is IdKind.MEID:
        for match in _HEX_TOKEN.finditer(norm):
            labelled = bool(_LABEL_BEFORE.search(norm[: match.start()][-12:]))
            check = check_device_id(rule, match.group())
            if check.value is not None:
                found.append((labelled, match.start(), check.value))
    else:
        for match in _ASCII_TOKEN.finditer(norm):
            token = match.group()
            if token.upper() in _LABEL_WORDS or not any(ch.isdigit() for ch in token):
                continue
            labelled = bool(_LABEL_BEFORE.search(norm[: match.start()][-12:]))
            check = check_device_id(rule, token)
            if check.value is not None:
                found.append((labelled, match.start(), check.value))
    found.sort(key=lambda item: (not item[0], item[1]))
    out: list[str] = []
    for _, _, value in found:
        if value not in out:
            out.append(value)
    return out


def type_allocation_code(device_id: str | None) -> str | None:
    """The 8-digit TAC (the model's part) of a 15-digit IMEI; None for anything else.

    Devices with the same TAC are the same model: the model registered most often with a
    TAC is offered first when a registration starts from an IMEI.
    """
    if device_id is None or len(device_id) != 15 or not device_id.isdigit():
        return None
    return device_id[:8]
