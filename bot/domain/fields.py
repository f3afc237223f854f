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


_WORD = re.compile(r"[^\W_]+")


def _plate_window(words: list[str]) -> bool:
    compact = "".join(words)
    return (
        4 <= len(compact) <= 10
        and any(ch.isdigit() for ch in words[-1])
        and any(ch.isalpha() for ch in compact)
        and all(len(w) <= 3 for w in words if w.isalpha())
    )


def suggest_label_from_plate(text: str) -> str | None:
    """A label suggestion from a vehicle plate in text (e.g. OCR of a photo), or None.

    A plate is 1-3 words joined by single spaces/dashes, 4-10 letters and digits in all, with
    letters somewhere and a digit in its last word ("T571TO", "B-AB 1234", "А123ВС 77").
    Letter-only words longer than 3 are taken as ordinary words. The first plate found wins.
    """
    text = unicodedata.normalize("NFKC", text)
    spans = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    for i in range(len(spans)):
        best: int | None = None
        for j in range(i, min(i + 3, len(spans))):
            if j > i:
                gap = text[spans[j - 1][1] : spans[j][0]]
                if gap not in (" ", "-"):
                    break
            if _plate_window([w for _, _, w in spans[i : j + 1]]):
                best = j
        if best is not None:
            return text[spans[i][0] : spans[best][1]].upper()
    return None
