"""The one exception hierarchy of the Navixy client."""

from __future__ import annotations

from collections.abc import Sequence

from bot.navixy.codes import NavixyCode
from bot.navixy.models import FieldError


class NavixyError(Exception):
    """Navixy answered with `success: false`, or could not be reached.

    `code` is Navixy's status code (see docs/navixy-api.md §3); `errors` is the
    `errors[]` list that error 7 carries. Transport failures use the subclass
    `NavixyUnavailable` with `code == 0`.
    """

    def __init__(
        self,
        code: int,
        description: str,
        errors: Sequence[FieldError] = (),
        http_status: int | None = None,
    ) -> None:
        super().__init__(f"Navixy error {code}: {description}")
        self.code = int(code)
        self.description = description
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.http_status = http_status

    @property
    def kind(self) -> NavixyCode | None:
        """`code` as a `NavixyCode`, or None when the list does not name it."""
        return NavixyCode.of(self.code)


class NavixyUnavailable(NavixyError):
    """No usable answer: connection refused, timeout, dropped connection, 5xx.

    `maybe_delivered` is True when the request may have reached Navixy and been
    acted on (the outcome is unknown); False when it surely was not (connect
    failed). Callers of non-idempotent calls must check before re-sending.
    """

    def __init__(
        self,
        description: str,
        *,
        maybe_delivered: bool,
        code: int = 0,
        http_status: int | None = None,
    ) -> None:
        super().__init__(code, description, http_status=http_status)
        self.maybe_delivered = maybe_delivered
