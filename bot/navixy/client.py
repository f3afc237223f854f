"""The Navixy API v2 client: one `httpx.AsyncClient`, typed calls, safe retries.

Every call is a JSON POST to `<base_url>/<resource>/<action>` with the credential in
the `Authorization: NVX <hash>` header (never in the body or the query). Answers are
unwrapped from Navixy's envelope: `success: false` raises `NavixyError`; no usable
answer raises `NavixyUnavailable`, whose `maybe_delivered` tells whether the request
may have been acted on.

Only read calls are retried (with exponential backoff). `register` and
`register_retry` are sent exactly once: the caller journals them and resolves an
unknown outcome itself. The one exception is error 4 (session ended) on a
login/password session: nothing was done, so the call is repeated once after a new
`user/auth`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx
from pydantic import SecretStr, TypeAdapter, ValidationError

from bot.navixy.codes import BUSY, SERVER_ERROR, NavixyCode
from bot.navixy.errors import NavixyError, NavixyUnavailable
from bot.navixy.models import (
    ApnSettings,
    DeviceModel,
    FieldError,
    Plugin,
    RegisterRequest,
    Tracker,
    TrackerGroup,
    TrackerState,
)
from bot.pacing import Pacer
from bot.tls import client_context

__all__ = ["MAX_STATES", "NavixyClient", "StatesSnapshot"]

log = logging.getLogger("bot.navixy")

_T = TypeVar("_T")

_MAX_DELAY: Final = 10.0
# Request parameters whose values never reach a log line.
_SECRET_PARAMS: Final = frozenset({"hash", "password", "activation_code", "apn_password"})

_MODELS: Final = TypeAdapter(list[DeviceModel])
_PLUGINS: Final = TypeAdapter(list[Plugin])
_GROUPS: Final = TypeAdapter(list[TrackerGroup])
_TRACKERS: Final = TypeAdapter(list[Tracker])
_STATES: Final = TypeAdapter(dict[int, TrackerState])
_STATE: Final = TypeAdapter(TrackerState)
#: One `tracker id: state` item of a `get_states` answer (as `_STATES` takes each).
_STATE_ITEM: Final = TypeAdapter(tuple[int, TrackerState])
_TRACKER: Final = TypeAdapter(Tracker)
_APN: Final = TypeAdapter(ApnSettings)

_RetryPolicy = Callable[[NavixyError], bool]

#: `tracker/get_states` takes at most this many ids.
MAX_STATES: Final = 2000


@dataclass(frozen=True)
class StatesSnapshot:
    """One `tracker/get_states` answer: states by tracker id, at the account's `user_time`."""

    user_time: str | None
    states: dict[int, TrackerState]
    blocked: tuple[int, ...]
    not_exist: tuple[int, ...]


def _ints(raw: object) -> list[int]:
    if not isinstance(raw, list):
        return []
    return [v for v in raw if isinstance(v, int) and not isinstance(v, bool)]


def _retry_read(exc: NavixyError) -> bool:
    """Reads are idempotent: retry anything transient."""
    if isinstance(exc, NavixyUnavailable):
        return True
    return exc.code in BUSY or exc.code in SERVER_ERROR


def _retry_auth(exc: NavixyError) -> bool:
    """Login only when surely not done: each success opens one more session."""
    if isinstance(exc, NavixyUnavailable):
        return not exc.maybe_delivered
    return exc.code in BUSY


def _secret_value(value: str | SecretStr | None) -> str | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value or None


def _redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret (3+ characters) replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _as_list(values: Sequence[_T], name: str) -> list[_T]:
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of values, not a string")
    return list(values)


# Told of every HTTP exchange: (action, "ok" | error code | "unavailable", seconds).
CallObserver = Callable[[str, str, float], None]


class NavixyClient:
    """Async client for the Navixy API v2 calls the bot needs.

    Give either `api_key` (used as-is) or `login` and `password` (a session hash is
    obtained with `user/auth` on first use). `timeout` bounds each phase of one HTTP
    exchange (connect, write, read); one whole attempt is bounded by twice that.
    Read calls are retried up to `read_retries` times after the first attempt, waiting
    `backoff * 2**n` seconds (plus up to 10 % jitter, at most 10 s) in between.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | SecretStr | None = None,
        login: str | None = None,
        password: str | SecretStr | None = None,
        timeout: float = 15.0,
        read_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self._observer = observer
        self._base_url = base_url.strip().rstrip("/")
        self._hash = _secret_value(api_key)
        self._login = login or None
        self._password = _secret_value(password)
        if self._hash is None and (self._login is None or self._password is None):
            raise ValueError("NavixyClient needs api_key, or login and password")
        self._uses_login = self._hash is None
        self._auth_lock = asyncio.Lock()
        self._read_retries = max(0, read_retries)
        self._backoff = max(0.0, backoff)
        self._deadline = 2 * timeout
        #: The states of the last `get_states` answers as received and as parsed, by the
        #: answer's key: a state that comes again unchanged is not validated again.
        self._states_seen: dict[str, tuple[object, int, TrackerState]] = {}
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "installer-bot"},
            verify=client_context(),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the API ---------------------------------------------------------------

    async def list_models(self, codes: Sequence[str] | None = None) -> list[DeviceModel]:
        """`tracker/list_models`: all models, or only `codes` (unknown codes are absent)."""
        params: dict[str, object] = {}
        if codes is not None:
            params["codes"] = _as_list(codes, "codes")
            if not params["codes"]:
                return []
        body = await self._call("tracker/list_models", params, retry=_retry_read)
        return self._parse(_MODELS, body, "list", "tracker/list_models")

    async def list_plugins(self) -> list[Plugin]:
        body = await self._call("plugin/list", {}, retry=_retry_read)
        return self._parse(_PLUGINS, body, "list", "plugin/list")

    async def list_groups(self) -> list[TrackerGroup]:
        body = await self._call("tracker/group/list", {}, retry=_retry_read)
        return self._parse(_GROUPS, body, "list", "tracker/group/list")

    async def read_apn(self, phone: str) -> ApnSettings | None:
        """`apn_settings/read`: the operator's APN, or None when the number is unknown (201)."""
        try:
            body = await self._call("apn_settings/read", {"phone": phone}, retry=_retry_read)
        except NavixyError as exc:
            if exc.kind is NavixyCode.NOT_FOUND:
                return None
            raise
        return self._parse(_APN, body, "value", "apn_settings/read")

    async def register(self, request: RegisterRequest) -> Tracker:
        """`tracker/register`, sent exactly once (never retried)."""
        body = await self._call("tracker/register", request.params(), retry=None)
        return self._parse(_TRACKER, body, "value", "tracker/register")

    async def register_retry(
        self,
        tracker_id: int,
        *,
        apn_name: str | None = None,
        apn_user: str | None = None,
        apn_password: str | None = None,
    ) -> Tracker:
        """`tracker/register_retry`, sent exactly once; 242/243 mean "already connected"."""
        params: dict[str, object] = {"tracker_id": tracker_id}
        apn = {"apn_name": apn_name, "apn_user": apn_user, "apn_password": apn_password}
        params.update({k: v for k, v in apn.items() if v is not None})
        body = await self._call("tracker/register_retry", params, retry=None)
        return self._parse(_TRACKER, body, "value", "tracker/register_retry")

    async def list_trackers(self, labels: Sequence[str] | None = None) -> list[Tracker]:
        """`tracker/list`: all trackers, or those whose label contains any of `labels`."""
        params: dict[str, object] = {}
        if labels is not None:
            params["labels"] = _as_list(labels, "labels")
            if not params["labels"]:
                return []
        body = await self._call("tracker/list", params, retry=_retry_read)
        return self._parse(_TRACKERS, body, "list", "tracker/list")

    async def get_state(self, tracker_id: int) -> TrackerState:
        body = await self._call("tracker/get_state", {"tracker_id": tracker_id}, retry=_retry_read)
        return self._parse(_STATE, body, "state", "tracker/get_state")

    async def get_states(self, tracker_ids: Sequence[int]) -> dict[int, TrackerState]:
        """`tracker/get_states`; unknown and blocked trackers are left out of the result."""
        return (await self.poll_states(tracker_ids)).states

    async def poll_states(self, tracker_ids: Sequence[int]) -> StatesSnapshot:
        """`tracker/get_states` with the answer's `user_time` and the blocked/unknown ids.

        At most 2000 ids per call (the API's limit); the caller batches.
        """
        ids = _as_list(tracker_ids, "tracker_ids")
        if not ids:
            return StatesSnapshot(None, {}, (), ())
        if len(ids) > MAX_STATES:
            raise ValueError(f"at most {MAX_STATES} trackers per get_states call")
        params: dict[str, object] = {
            "trackers": ids,
            "allow_not_exist": True,
            "list_blocked": True,
        }
        body = await self._call("tracker/get_states", params, retry=_retry_read)
        states = await self._parse_states(body)
        user_time = body.get("user_time")
        return StatesSnapshot(
            user_time if isinstance(user_time, str) else None,
            states,
            tuple(_ints(body.get("blocked"))),
            tuple(_ints(body.get("not_exist"))),
        )

    async def _parse_states(self, body: Mapping[str, Any]) -> dict[int, TrackerState]:
        """The `states` of a `get_states` answer (1000s of them): a state seen unchanged in
        the last answers is taken as parsed then; the others are validated one by one, the
        event loop getting a turn every few ms. Anything malformed: as `_parse`."""
        raw = body.get("states")
        if not isinstance(raw, dict):
            return self._parse(_STATES, body, "states", "tracker/get_states")
        seen = self._states_seen
        if len(seen) > 4 * MAX_STATES:
            seen.clear()
        states: dict[int, TrackerState] = {}
        pacer = Pacer()
        for key, value in raw.items():
            known = seen.get(key)
            if known is None or known[0] != value:
                item = self._parse(
                    _STATE_ITEM, {"states": (key, value)}, "states", "tracker/get_states"
                )
                known = seen[key] = (value, *item)
            states[known[1]] = known[2]
            await pacer.step()
        return states

    async def get_info(self) -> dict[str, Any]:
        """`user/get_info`, raw (without the `success` flag)."""
        body = await self._call("user/get_info", {}, retry=_retry_read)
        return {k: v for k, v in body.items() if k != "success"}

    # -- plumbing --------------------------------------------------------------

    async def _call(
        self, action: str, params: Mapping[str, object], *, retry: _RetryPolicy | None
    ) -> dict[str, Any]:
        """One API call with the credential; repeated once after a new login on error 4."""
        token = await self._credential()
        try:
            return await self._send_with_retries(action, params, token, retry)
        except NavixyError as exc:
            if not self._uses_login or exc.kind is not NavixyCode.SESSION_ENDED:
                raise
            log.info("%s: session ended, logging in again", action)
        token = await self._credential(stale=token)
        return await self._send_with_retries(action, params, token, retry)

    async def _credential(self, stale: str | None = None) -> str:
        """The API key or session hash; logs in (once for all callers) when needed."""
        if self._hash is not None and self._hash != stale:
            return self._hash
        async with self._auth_lock:
            if self._hash is None or self._hash == stale:
                self._hash = None
                try:
                    self._hash = await self._authenticate()
                except NavixyUnavailable as exc:
                    # The call itself was never sent.
                    raise NavixyUnavailable(
                        f"user/auth: {exc.description}",
                        maybe_delivered=False,
                        code=exc.code,
                        http_status=exc.http_status,
                    ) from exc
            return self._hash

    async def _authenticate(self) -> str:
        assert self._login is not None and self._password is not None
        params = {"login": self._login, "password": self._password}
        body = await self._send_with_retries("user/auth", params, None, _retry_auth)
        if body.get("type") == "second_factor_required":
            raise NavixyError(
                NavixyCode.SECOND_FACTOR,
                "this account requires two-factor authentication, which the bot "
                "does not support: use an API key instead",
            )
        token = body.get("hash")
        if not isinstance(token, str) or not token:
            raise NavixyUnavailable("answer carries no session hash", maybe_delivered=True)
        log.info("user/auth: logged in as a new session")
        return token

    async def _send_with_retries(
        self,
        action: str,
        params: Mapping[str, object],
        token: str | None,
        retry: _RetryPolicy | None,
    ) -> dict[str, Any]:
        attempts = 1 + (self._read_retries if retry is not None else 0)
        for attempt in range(1, attempts + 1):
            try:
                return await self._send(action, params, token)
            except NavixyError as exc:
                if attempt >= attempts or retry is None or not retry(exc):
                    raise
                delay = self._delay(attempt)
                log.info(
                    "%s: retry %d/%d in %.2f s (code %d)",
                    action,
                    attempt,
                    attempts - 1,
                    delay,
                    exc.code,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int) -> float:
        base = self._backoff * 2.0 ** (attempt - 1)
        return min(_MAX_DELAY, base + random.uniform(0, base / 10))

    async def _send(
        self, action: str, params: Mapping[str, object], token: str | None
    ) -> dict[str, Any]:
        """One HTTP exchange, unwrapped from the envelope."""
        secrets = [token, self._password, self._hash]
        secrets += [str(v) for k, v in params.items() if k in _SECRET_PARAMS and v is not None]
        headers = {"Authorization": f"NVX {token}"} if token is not None else {}
        started = time.monotonic()
        try:
            response = await self._post(action, params, headers)
            body = _unwrap(action, response)
        except NavixyError as exc:
            exc.description = _redact(exc.description, secrets)
            exc.args = (f"Navixy error {exc.code}: {exc.description}",)
            self._log_failure(action, exc, started)
            result = "unavailable" if isinstance(exc, NavixyUnavailable) else str(exc.code)
            self._observe(action, result, started)
            raise
        log.debug("%s: ok in %.0f ms", action, (time.monotonic() - started) * 1000)
        self._observe(action, "ok", started)
        return body

    def _observe(self, action: str, result: str, started: float) -> None:
        if self._observer is not None:
            self._observer(action, result, time.monotonic() - started)

    async def _post(
        self, action: str, params: Mapping[str, object], headers: Mapping[str, str]
    ) -> httpx.Response:
        url = f"{self._base_url}/{action}"
        try:
            async with asyncio.timeout(self._deadline):
                return await self._http.post(url, json=dict(params), headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NavixyUnavailable(_describe(exc), maybe_delivered=False) from exc
        except httpx.HTTPError as exc:
            raise NavixyUnavailable(_describe(exc), maybe_delivered=True) from exc
        except TimeoutError as exc:
            raise NavixyUnavailable(
                f"no answer within {self._deadline:g} s", maybe_delivered=True
            ) from exc

    @staticmethod
    def _log_failure(action: str, exc: NavixyError, started: float) -> None:
        elapsed = (time.monotonic() - started) * 1000
        if isinstance(exc, NavixyUnavailable):
            log.warning(
                "%s: unavailable after %.0f ms (maybe delivered: %s): %s",
                action,
                elapsed,
                exc.maybe_delivered,
                exc.description,
            )
        else:
            log.info(
                "%s: error %d (HTTP %s) in %.0f ms: %s",
                action,
                exc.code,
                exc.http_status,
                elapsed,
                exc.description,
            )

    @staticmethod
    def _parse(adapter: TypeAdapter[_T], body: Mapping[str, Any], key: str, action: str) -> _T:
        try:
            return adapter.validate_python(body.get(key))
        except ValidationError as exc:
            log.warning("%s: unexpected %r payload (%d problems)", action, key, exc.error_count())
            raise NavixyUnavailable(
                f"{action}: unexpected answer (bad {key!r})", maybe_delivered=True
            ) from exc


def _describe(exc: httpx.HTTPError) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _unwrap(action: str, response: httpx.Response) -> dict[str, Any]:
    """The envelope's body on `success: true`; otherwise the matching exception."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        raise NavixyUnavailable(
            f"{action}: HTTP {status} without a Navixy answer",
            maybe_delivered=True,
            http_status=status,
        )
    if body["success"]:
        return body
    error = body.get("status")
    code = error.get("code") if isinstance(error, dict) else None
    if not isinstance(error, dict) or not isinstance(code, int) or isinstance(code, bool):
        raise NavixyUnavailable(
            f"{action}: HTTP {status}, error without a status code",
            maybe_delivered=True,
            http_status=status,
        )
    description = str(error.get("description") or "")
    raise NavixyError(code, description, _field_errors(body.get("errors")), status)


def _field_errors(raw: object) -> list[FieldError]:
    """The well-formed items of an `errors[]` array (error 7)."""
    if not isinstance(raw, list):
        return []
    errors: list[FieldError] = []
    for item in raw:
        try:
            errors.append(FieldError.model_validate(item))
        except ValidationError:
            continue
    return errors
