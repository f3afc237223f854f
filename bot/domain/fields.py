"""Rules for the free-text registration fields (docs/navixy-api.md §5, §6.3).

Every check returns a `FieldCheck`: the normalised value, or the problem code.

Decisions:
* Lengths are counted in UTF-16 code units, as the Java backend does (an emoji counts 2).
* Labels: runs of whitespace (a pasted newline) become one space; then 1-60 printable
  characters without `<` and `>` (tracker/settings/update rejects them).
* APN user and password may be empty (value ""); the APN name may not.
* APN password: surrounding whitespace dropped (copy-paste), inner spaces kept; no control or
  format characters.
* Activation code: spaces and dashes are dropped; 3-20 ASCII digits.
* E-mail: pragmatic shape check (local@domain.tld, ASCII), at most 254 characters; the domain
  is lower-cased, the local part kept.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class FieldProblem(StrEnum):
    EMPTY = "empty"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    BAD_CHARACTERS = "bad_characters"
    BAD_FORMAT = "bad_format"  # e-mail shape


@dataclass(frozen=True)
class FieldCheck:
    value: str | None
    problem: FieldProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.value is not None


LABEL_MAX = 60
APN_MAX = 40
CODE_MIN = 3
CODE_MAX = 20
EMAIL_MAX = 254

_APN_CHARS = re.compile(r"[-a-zA-Z0-9_.@ ]*")
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_EMAIL = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


def _fail(problem: FieldProblem) -> FieldCheck:
    return FieldCheck(None, problem)


def _units(text: str) -> int:
    """Length in UTF-16 code units."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def check_label(raw: str) -> FieldCheck:
    value = " ".join(raw.split())
    if not value:
        return _fail(FieldProblem.EMPTY)
    if _units(value) > LABEL_MAX:
        return _fail(FieldProblem.TOO_LONG)
    if "<" in value or ">" in value or not value.isprintable():
        return _fail(FieldProblem.BAD_CHARACTERS)
    return FieldCheck(value, None)


def _check_apn_text(raw: str, *, allow_empty: bool) -> FieldCheck:
    value = raw.strip()
    if not value:
        return FieldCheck("", None) if allow_empty else _fail(FieldProblem.EMPTY)
    if len(value) > APN_MAX:
        return _fail(FieldProblem.TOO_LONG)
    if not _APN_CHARS.fullmatch(value):
        return _fail(FieldProblem.BAD_CHARACTERS)
    return FieldCheck(value, None)


def check_apn_name(raw: str) -> FieldCheck:
    return _check_apn_text(raw, allow_empty=False)


def check_apn_user(raw: str) -> FieldCheck:
    return _check_apn_text(raw, allow_empty=True)


def check_apn_password(raw: str) -> FieldCheck:
    value = raw.strip()
    if not value:
        return FieldCheck("", None)
    if _units(value) > APN_MAX:
        return _fail(FieldProblem.TOO_LONG)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        return _fail(FieldProblem.BAD_CHARACTERS)
    return FieldCheck(value, None)


def check_activation_code(raw: str) -> FieldCheck:
    text = unicodedata.normalize("NFKC", raw)
    value = "".join(ch for ch in text if not ch.isspace() and ch not in _DASHES)
    if not value:
        return _fail(FieldProblem.EMPTY)
    if not (value.isascii() and value.isdigit()):
        return _fail(FieldProblem.BAD_CHARACTERS)
    if len(value) < CODE_MIN:
        return _fail(FieldProblem.TOO_SHORT)
    if len(value) > CODE_MAX:
        return _fail(FieldProblem.TOO_LONG)
    return FieldCheck(value, None)


def check_email(raw: str) -> FieldCheck:
    value = unicodedata.normalize("NFKC", raw).strip().strip("<>")
    if value[:7].lower() == "mailto:":
        value = value[7:].strip()
    if not value:
        return _fail(FieldProblem.EMPTY)
    if len(value) > EMAIL_MAX:
        return _fail(FieldProblem.TOO_LONG)
    match = _EMAIL.fullmatch(value)
    if match is None or len(match["local"]) > 64:
        return _fail(FieldProblem.BAD_FORMAT)
    return FieldCheck(f"{match['local']}@{match['domain'].lower()}", None)
