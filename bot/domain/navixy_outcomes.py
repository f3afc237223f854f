"""What each Navixy status code means for the bot: the ONE table.

`tracker/register` and `tracker/register_retry` answers are looked up here, by the
registrar (is the device ID taken?), the watcher (what did the retry do?), the
registration service (which question to ask again, which cache to refresh, whether to
choose the plugin again) and the texts (which message key to render). No other module
compares Navixy codes. The codes themselves are named in `bot.navixy.codes`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.domain.draft import PARAMETER_STEPS, Step
from bot.navixy.codes import NavixyCode

__all__ = [
    "CODES",
    "CodeMeaning",
    "Forget",
    "RegisterMessage",
    "RetryOutcome",
    "classify_retry_error",
    "ends_watch",
    "meaning",
    "step_to_ask_again",
]


class RegisterMessage(StrEnum):
    """Which message the installer gets for a refused `tracker/register` (texts render it)."""

    INVALID_VALUE = "invalid_value"
    NOT_PERMITTED = "not_permitted"
    GROUP_GONE = "group_gone"
    MODEL_UNKNOWN = "model_unknown"
    DEVICE_LIMIT = "device_limit"
    PLUGIN_REFUSED = "plugin_refused"
    PHONE_IN_USE = "phone_in_use"
    DEVICE_ID_IN_USE = "device_id_in_use"
    LEGAL_TYPE = "legal_type"
    WRONG_ICCID = "wrong_iccid"
    WRONG_CODE = "wrong_code"
    NO_BUNDLE = "no_bundle"
    CREDENTIALS = "credentials"
    BUSY = "busy"
    OTHER = "other"


class RetryOutcome(StrEnum):
    """What a `tracker/register_retry` did (stored in the watch; texts render it)."""

    SENT = "sent"
    ALREADY_CONNECTED = "already_connected"  # good news
    NOT_PERMITTED = "not_permitted"
    NOT_FOUND = "not_found"
    BLOCKED = "blocked"
    NO_GSM = "no_gsm"  # commands can't be sent; configure by hand
    CLONE = "clone"
    TOO_SOON = "too_soon"  # one retry per 120 s
    BUSY = "busy"
    UNAVAILABLE = "unavailable"  # no answer
    OTHER = "other"


class Forget(StrEnum):
    """A cached list that a refusal proves stale."""

    NOTHING = "nothing"
    GROUPS = "groups"
    PLUGINS = "plugins"


@dataclass(frozen=True)
class CodeMeaning:
    """One code's outcome. The defaults are those of a code this table does not name."""

    #: The message after a refused `tracker/register`.
    message: RegisterMessage = RegisterMessage.OTHER
    #: The draft's question to ask again (None: keep the answers, back to the card).
    ask_again: Step | None = None
    #: Error 7: the question to ask again comes from `errors[].parameter`.
    ask_from_errors: bool = False
    #: A cached list to drop before asking again.
    forget: Forget = Forget.NOTHING
    #: The plugin was refused: choose it again from a fresh list (none left: stop).
    choose_plugin_again: bool = False
    #: The device ID is taken: it exists on Navixy (maybe in this account, maybe ours).
    device_exists: bool = False
    #: The device ID is the problem: offer to change it (with Cancel) instead of the card.
    change_device_id: bool = False
    #: Nothing was done: the same request may simply be sent again later.
    try_later: bool = False
    #: The outcome of a refused `tracker/register_retry`.
    retry: RetryOutcome = RetryOutcome.OTHER


_CREDENTIALS = CodeMeaning(message=RegisterMessage.CREDENTIALS)
_BUSY = CodeMeaning(try_later=True, retry=RetryOutcome.BUSY)

#: Navixy code -> outcome (docs/navixy-api.md §3).
CODES: dict[NavixyCode, CodeMeaning] = {
    NavixyCode.WRONG_HASH: _CREDENTIALS,
    NavixyCode.SESSION_ENDED: _CREDENTIALS,
    NavixyCode.ACCESS_DENIED: _CREDENTIALS,
    NavixyCode.WRONG_LOGIN: _CREDENTIALS,
    NavixyCode.INVALID_PARAMETERS: CodeMeaning(
        message=RegisterMessage.INVALID_VALUE, ask_from_errors=True
    ),
    NavixyCode.QUEUE_ERROR: _BUSY,
    NavixyCode.DATABASE_UNAVAILABLE: _BUSY,
    NavixyCode.TOO_MANY_REQUESTS: CodeMeaning(
        message=RegisterMessage.BUSY, try_later=True, retry=RetryOutcome.BUSY
    ),
    NavixyCode.NOT_PERMITTED: CodeMeaning(
        message=RegisterMessage.NOT_PERMITTED, retry=RetryOutcome.NOT_PERMITTED
    ),
    NavixyCode.NOT_FOUND: CodeMeaning(retry=RetryOutcome.NOT_FOUND),
    NavixyCode.ENTITY_NOT_FOUND: CodeMeaning(
        message=RegisterMessage.GROUP_GONE,
        ask_again=Step.GROUP,
        forget=Forget.GROUPS,
        retry=RetryOutcome.NOT_FOUND,
    ),
    NavixyCode.DEVICE_BLOCKED: CodeMeaning(retry=RetryOutcome.BLOCKED),
    NavixyCode.NOT_SUPPORTED_BY_DEVICE: CodeMeaning(retry=RetryOutcome.NO_GSM),
    NavixyCode.NOT_FOR_CLONES: CodeMeaning(retry=RetryOutcome.CLONE),
    NavixyCode.UNKNOWN_MODEL: CodeMeaning(
        message=RegisterMessage.MODEL_UNKNOWN, ask_again=Step.MODEL
    ),
    NavixyCode.DEVICE_LIMIT: CodeMeaning(message=RegisterMessage.DEVICE_LIMIT),
    NavixyCode.PLUGIN_NOT_FOUND: CodeMeaning(
        message=RegisterMessage.PLUGIN_REFUSED, forget=Forget.PLUGINS, choose_plugin_again=True
    ),
    NavixyCode.PHONE_IN_USE: CodeMeaning(
        message=RegisterMessage.PHONE_IN_USE, ask_again=Step.PHONE
    ),
    NavixyCode.DEVICE_ID_IN_USE: CodeMeaning(
        message=RegisterMessage.DEVICE_ID_IN_USE, device_exists=True, change_device_id=True
    ),
    NavixyCode.LEGAL_TYPE: CodeMeaning(message=RegisterMessage.LEGAL_TYPE),
    NavixyCode.WRONG_ICCID: CodeMeaning(message=RegisterMessage.WRONG_ICCID),
    NavixyCode.WRONG_ACTIVATION_CODE: CodeMeaning(
        message=RegisterMessage.WRONG_CODE, ask_again=Step.CODE
    ),
    NavixyCode.ALREADY_CONNECTED: CodeMeaning(retry=RetryOutcome.ALREADY_CONNECTED),
    NavixyCode.ALREADY_CONNECTED_OTHER: CodeMeaning(retry=RetryOutcome.ALREADY_CONNECTED),
    NavixyCode.NO_BUNDLE: CodeMeaning(message=RegisterMessage.NO_BUNDLE, change_device_id=True),
    NavixyCode.RETRY_TOO_SOON: CodeMeaning(retry=RetryOutcome.TOO_SOON),
}

_UNNAMED = CodeMeaning()


def meaning(code: int) -> CodeMeaning:
    """The outcome of a Navixy code (the defaults for a code the table does not name)."""
    named = NavixyCode.of(code)
    return _UNNAMED if named is None else CODES.get(named, _UNNAMED)


def step_to_ask_again(code: int, parameters: Iterable[str] = ()) -> Step | None:
    """The question to ask again after a refused registration (None: none)."""
    outcome = meaning(code)
    if outcome.ask_from_errors:
        return next((PARAMETER_STEPS[p] for p in parameters if p in PARAMETER_STEPS), None)
    return outcome.ask_again


def classify_retry_error(code: int, *, unavailable: bool = False) -> RetryOutcome:
    """What a refused (or unanswered) `tracker/register_retry` means."""
    if unavailable:
        return RetryOutcome.UNAVAILABLE
    return meaning(code).retry


def ends_watch(outcome: RetryOutcome) -> bool:
    """Outcomes after which watching makes no sense (the tracker is gone or blocked)."""
    return outcome in (RetryOutcome.NOT_FOUND, RetryOutcome.BLOCKED)
