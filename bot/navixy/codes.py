"""Navixy's status codes by name (docs/navixy-api.md §3), the way httpx names HTTP codes.

`NavixyError.code` stays a plain `int` (Navixy may answer a code this list does not
name); `NavixyError.kind` is the `NavixyCode` member when there is one. What a code
*means* for the bot (which question to ask again, whether to retry, which message)
is written once, in `bot.domain.navixy_outcomes`; this module only names the codes
and says which ones the client itself may retry (transport facts, not business rules).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = ["BUSY", "CREDENTIALS_REFUSED", "SERVER_ERROR", "NavixyCode"]


class NavixyCode(IntEnum):
    """Navixy API v2 status codes the bot acts on (or names in its messages)."""

    #: Not a Navixy code: no usable answer (`NavixyUnavailable`).
    UNAVAILABLE = 0
    DATABASE_ERROR = 1
    WRONG_HASH = 3
    SESSION_ENDED = 4
    UNEXPECTED_ERROR = 6
    INVALID_PARAMETERS = 7
    QUEUE_ERROR = 8
    ACCESS_DENIED = 11
    NOT_PERMITTED = 13
    DATABASE_UNAVAILABLE = 14
    TOO_MANY_REQUESTS = 15
    WRONG_LOGIN = 102
    NOT_FOUND = 201
    ENTITY_NOT_FOUND = 204
    DEVICE_BLOCKED = 208
    NOT_SUPPORTED_BY_DEVICE = 214
    NOT_FOR_CLONES = 219
    UNKNOWN_MODEL = 220
    DEVICE_LIMIT = 221
    PLUGIN_NOT_FOUND = 222
    PHONE_IN_USE = 223
    DEVICE_ID_IN_USE = 224
    LEGAL_TYPE = 225
    WRONG_ICCID = 226
    WRONG_ACTIVATION_CODE = 227
    ALREADY_CONNECTED = 242
    ALREADY_CONNECTED_OTHER = 243
    NO_BUNDLE = 258
    RETRY_TOO_SOON = 264
    #: "Action is forbidden for received session type": a login that needs a second factor.
    SECOND_FACTOR = 276

    @classmethod
    def of(cls, code: int) -> NavixyCode | None:
        """The member for `code`, or None for a code this list does not name."""
        try:
            return cls(code)
        except ValueError:
            return None


#: "Nothing was done, try again later": queue or database unavailable, rate limit.
BUSY: Final = frozenset(
    {NavixyCode.QUEUE_ERROR, NavixyCode.DATABASE_UNAVAILABLE, NavixyCode.TOO_MANY_REQUESTS}
)
#: 500s (database / unexpected error): a read may be repeated.
SERVER_ERROR: Final = frozenset({NavixyCode.DATABASE_ERROR, NavixyCode.UNEXPECTED_ERROR})
#: The bot's own credentials were refused.
CREDENTIALS_REFUSED: Final = frozenset(
    {
        NavixyCode.WRONG_HASH,
        NavixyCode.SESSION_ENDED,
        NavixyCode.ACCESS_DENIED,
        NavixyCode.WRONG_LOGIN,
    }
)
