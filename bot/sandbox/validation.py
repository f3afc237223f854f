"""Field rules of `tracker/register` (docs §4 id_type, §5 field formats, §6.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEVICE_ID_GENERAL = re.compile(r"[0-9a-zA-Z\-]{1,64}")
DEVICE_ID_GENERAL_ERROR = r'must match "^[0-9a-zA-Z\-]{1,64}$"'
PHONE = re.compile(r"[0-9]{8,20}")
PHONE_ERROR = 'must match "^[0-9]{8,20}$"'
APN_TEXT = re.compile(r"[-a-zA-Z0-9_.@ ]{0,40}")
APN_TEXT_ERROR = 'must match "^[-a-zA-Z0-9_.@ ]{0,40}$"'
APN_PASSWORD_ERROR = "must be at most 40 characters without control characters"
ACTIVATION_CODE = re.compile(r"[0-9]{3,20}")
ACTIVATION_CODE_ERROR = 'must match "^[0-9]{3,20}$"'
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
EMAIL_ERROR = "must be a valid email address"
LABEL_ERROR = "must be 1-60 printable characters"
# The platform caps `ascii,MIN,MAX` IDs at 32 characters whatever MAX says (docs §4).
ASCII_ID_CAP = 32

MOBILE_PREFIXES = ("mobile_unknown", "navixymobile", "iosnavixytracker")


def label_ok(label: str) -> bool:
    return 1 <= len(label) <= 60 and label.isprintable()


def apn_password_ok(password: str) -> bool:
    return len(password) <= 40 and all(ch.isprintable() for ch in password)


def email_ok(email: str) -> bool:
    return len(email) <= 254 and EMAIL.fullmatch(email) is not None


def is_mobile_model(code: str) -> bool:
    return code.startswith(MOBILE_PREFIXES)


@dataclass(frozen=True)
class IdRule:
    """How a model's `device_id` must look, parsed from its `id_type`.

    `generated` rules (`N,M`) mean the platform makes the ID: `length` digits starting
    with `prefix`. Otherwise `pattern` is the stage-2 check and `error` its message.
    """

    generated: bool
    pattern: re.Pattern[str] | None = None
    error: str = ""
    length: int = 0
    prefix: str = ""

    def check(self, device_id: str) -> str | None:
        """The stage-2 error text for `device_id`, or None if it is fine."""
        if self.pattern is None or self.pattern.fullmatch(device_id):
            return None
        return self.error


def id_rule(id_type: str) -> IdRule:
    parts = [p.strip() for p in id_type.split(",")]
    kind = parts[0]
    if kind == "imei":
        return IdRule(False, re.compile(r"[0-9]{15,16}"), "must consist of 15-16 digits")
    if kind == "meid":
        return IdRule(
            False, re.compile(r"[0-9a-fA-F]{14}"), "must consist of 14 hexadecimal digits"
        )
    if kind == "id" and len(parts) == 2 and parts[1].isdigit():
        n = int(parts[1])
        return IdRule(False, re.compile(f"[0-9]{{{n}}}"), f"must consist of {n} digits")
    if kind == "ascii" and len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        low, high = int(parts[1]), min(int(parts[2]), ASCII_ID_CAP)
        return IdRule(
            False,
            re.compile(f"[0-9a-zA-Z\\-]{{{low},{high}}}"),
            f"must consist of {low}-{high} alphanumeric symbols or hyphens",
        )
    if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
        return IdRule(True, length=int(parts[0]), prefix=parts[1])
    # Unknown id_type: only the general check applies.
    return IdRule(False)
