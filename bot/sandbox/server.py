"""NavixySandbox: a loopback stand-in for the Navixy API v2 (aiohttp).

It serves the calls the bot uses with the envelopes, error codes and HTTP statuses of
docs/navixy-api.md, keeps one account's trackers in memory, simulates devices coming
online over an injectable clock, and can inject faults (errors, dropped connections,
delays, raw proxy pages). Nothing secret is logged: no passwords, hashes or codes.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import importlib.resources
import json
import logging
import random
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.navixy.codes import NavixyCode
from bot.sandbox.errors import DEVICE_ALREADY_CONNECTED, ApiError
from bot.sandbox.faults import (
    Delay,
    DeviceScript,
    DropAfterCommit,
    DropBeforeCommit,
    ErrorFault,
    Fault,
    Hold,
    RawHttp,
)
from bot.sandbox.params import REQUIRED, Params
from bot.sandbox.state import CONNECTED, SandboxCall, SandboxTracker
from bot.sandbox.validation import (
    ACTIVATION_CODE,
    ACTIVATION_CODE_ERROR,
    APN_PASSWORD_ERROR,
    APN_TEXT,
    APN_TEXT_ERROR,
    DEVICE_ID_GENERAL,
    DEVICE_ID_GENERAL_ERROR,
    EMAIL_ERROR,
    LABEL_ERROR,
    PHONE,
    PHONE_ERROR,
    apn_password_ok,
    email_ok,
    id_rule,
    is_mobile_model,
    label_ok,
)

log = logging.getLogger(__name__)

HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_AUTH_HEADER = re.compile(r"NVX (\S+)")

# Plugin semantics by id (docs §5): phone required for hardware plugins, code mandatory.
PHONE_PLUGINS = frozenset({44, 37, 28})
CODE_REQUIRED_PLUGINS = frozenset({37, 68})
MOBILE_PLUGINS = frozenset({35, 68})

MAX_STATES = 2000
MAX_LABELS = 1024
TARIFF_DAYS = 14
FIRST_TRACKER_ID = 833389
FIRST_SOURCE_ID = 526383

_FILTER_ALL_BUT_MOBILE: dict[str, Any] = {
    "exclusion": True,
    "values": ["navixymobile.*", "mobile_unknown.*", "iosnavixytracker.*"],
}
_FILTER_MOBILE_ONLY: dict[str, Any] = {"exclusion": False, "values": ["mobile_unknown.*"]}

DEFAULT_PLUGINS: list[dict[str, Any]] = [
    {
        "id": 4,
        "type": "tracker_report",
        "module": "com.navixy.plugin.tracker.report.trip",
        "ui_module": "Trip",
        "filter": {"exclusion": True, "values": []},
    },
    {
        "id": 44,
        "type": "tracker_register",
        "module": "<unpublished>",
        "ui_module": "<unpublished>",
        "filter": _FILTER_ALL_BUT_MOBILE,
    },
    {
        "id": 37,
        "type": "tracker_register",
        "module": "<unpublished>",
        "ui_module": "<unpublished>",
        "filter": _FILTER_ALL_BUT_MOBILE,
    },
    {
        "id": 35,
        "type": "tracker_register",
        "module": "<unpublished>",
        "ui_module": "<unpublished>",
        "filter": _FILTER_MOBILE_ONLY,
    },
    {
        "id": 68,
        "type": "tracker_register",
        "module": "<unpublished>",
        "ui_module": "<unpublished>",
        "filter": _FILTER_MOBILE_ONLY,
    },
]

DEFAULT_GROUPS: list[dict[str, Any]] = [
    {"id": 129301, "title": "Main office", "color": "FF6DDC"},
    {"id": 129302, "title": "Vans", "color": "3C8DBC"},
]


def _apn(name: str, user: str, password: str, operator: str) -> dict[str, str]:
    return {"name": name, "user": user, "password": password, "operator_name": operator}


# Phone prefix (country code + mobile prefix, no "+") -> APN; the longest prefix wins.
DEFAULT_APN_BY_PREFIX: dict[str, dict[str, str]] = {
    "4915": _apn("internet.telekom", "", "", "Deutsche Telekom"),
    "4917": _apn("internet.telekom", "", "", "Deutsche Telekom"),
    "49172": _apn("web.vodafone.de", "", "", "Vodafone DE"),
    "49173": _apn("web.vodafone.de", "", "", "Vodafone DE"),
    "49174": _apn("web.vodafone.de", "", "", "Vodafone DE"),
    "49176": _apn("internet", "", "", "O2 Germany"),
    "49179": _apn("internet", "", "", "O2 Germany"),
    "7916": _apn("internet.mts.ru", "mts", "mts", "MTS"),
    "7903": _apn("internet.beeline.ru", "beeline", "beeline", "Beeline"),
    "7926": _apn("internet", "gdata", "gdata", "MegaFon"),
    "4477": _apn("everywhere", "eesecure", "secure", "EE"),
    "4478": _apn("wap.vodafone.co.uk", "wap", "wap", "Vodafone UK"),
    "1206": _apn("fast.t-mobile.com", "", "", "T-Mobile US"),
}


def load_default_models() -> list[dict[str, Any]]:
    """The shipped `tracker/list_models` list (77 real models)."""
    text = (
        importlib.resources.files("bot.sandbox")
        .joinpath("data/navixy-models.json")
        .read_text(encoding="utf-8")
    )
    body = json.loads(text)
    models: list[dict[str, Any]] = body["list"]
    return models


def _plugin_accepts(plugin: Mapping[str, Any], model_code: str) -> bool:
    flt = plugin.get("filter") or {}
    exclusion = bool(flt.get("exclusion", True))
    values: list[str] = list(flt.get("values") or [])
    matched = any(re.fullmatch(pattern, model_code) for pattern in values)
    return not matched if exclusion else matched


class _Drop(Exception):
    """Abort the connection without an HTTP response."""


Handler = Callable[["_Ctx"], dict[str, Any]]


class _Ctx:
    def __init__(self, params: Params, credential: str | None, now: float) -> None:
        self.params = params
        self.credential = credential
        self.now = now


class NavixySandbox:
    """A Navixy API v2 stand-in on 127.0.0.1. Use `async with NavixySandbox(...) as sb:`."""

    def __init__(
        self,
        *,
        models: list[dict[str, Any]] | None = None,
        plugins: list[dict[str, Any]] | None = None,
        groups: list[dict[str, Any]] | None = None,
        api_keys: Iterable[str] = (),
        users: Mapping[str, str] | None = None,
        activation_codes: Iterable[str] = (),
        apn_by_prefix: Mapping[str, dict[str, str]] | None = None,
        rights: Iterable[str] = ("tracker_register", "tracker_configure"),
        device_limit: int | None = None,
        legal_type_allowed: bool = True,
        rate_limit_per_second: int = 50,
        default_script: DeviceScript | None = None,
        clock: Callable[[], float] = time.monotonic,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._models = copy.deepcopy(models) if models is not None else load_default_models()
        self._models_by_code = {m["code"]: m for m in self._models}
        self._plugins = copy.deepcopy(plugins if plugins is not None else DEFAULT_PLUGINS)
        self._groups = copy.deepcopy(groups if groups is not None else DEFAULT_GROUPS)
        self._api_keys: set[str] = set()
        for key in api_keys:
            if not HEX32.fullmatch(key):
                raise ValueError("API keys are 32 hex characters")
            self._api_keys.add(key)
        self._users = dict(users or {})
        self._sessions: set[str] = set()
        self._codes: set[str] = set(activation_codes)
        self._used_codes: set[str] = set()
        self._apn = dict(apn_by_prefix if apn_by_prefix is not None else DEFAULT_APN_BY_PREFIX)
        self._rights = frozenset(rights)
        self._device_limit = device_limit
        self._legal_type_allowed = legal_type_allowed
        self._rate_limit = rate_limit_per_second
        self._default_script = default_script or DeviceScript()
        self._clock = clock
        self._rate_clock = rate_clock
        self._t0 = clock()
        self._wall0 = datetime.now(UTC)

        self.calls: list[SandboxCall] = []
        # Requests read, by action (before any fault acts): a request that arrived but is
        # held by a Delay shows here, not yet in `calls`.
        self.arrivals: collections.Counter[str] = collections.Counter()
        self._arrived = asyncio.Event()
        # Faults handed out by `_take_fault`, by kind (for fault-suite reports).
        self.faults_used: collections.Counter[str] = collections.Counter()
        self.trackers: dict[int, SandboxTracker] = {}
        self._other_accounts: dict[str, str] = {}  # device_id (upper) -> model
        self._scripts: dict[str, DeviceScript] = {}  # device_id (upper) -> script
        self._faults: dict[str, collections.deque[Fault]] = {}
        self._hits: dict[str, collections.deque[float]] = {}
        self._next_tracker_id = FIRST_TRACKER_ID
        self._next_source_id = FIRST_SOURCE_ID
        self._random = random.Random()
        self._recorded = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._handlers: dict[str, Handler] = {
            "user/auth": self._user_auth,
            "user/get_info": self._user_get_info,
            "tracker/list_models": self._list_models,
            "plugin/list": self._plugin_list,
            "tracker/group/list": self._group_list,
            "apn_settings/read": self._apn_read,
            "tracker/register": self._register,
            "tracker/register_retry": self._register_retry,
            "tracker/list": self._tracker_list,
            "tracker/read": self._tracker_read,
            "tracker/get_state": self._get_state,
            "tracker/get_states": self._get_states,
        }

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("NavixySandbox is not started")
        return self._base_url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError("NavixySandbox is already started")
        app = web.Application()
        app.router.add_route("*", "/v2/{action:.*}", self._handle)
        # No access log: query strings may carry a hash.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._base_url = f"http://{bound_host}:{bound_port}/v2"
        log.info("Navixy sandbox listening on %s", self._base_url)
        return self._base_url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> NavixySandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ test helpers

    def calls_to(self, action: str) -> list[SandboxCall]:
        action = action.strip("/")
        return [call for call in self.calls if call.action == action]

    async def wait_for_calls(self, action: str, count: int = 1) -> list[SandboxCall]:
        """Wait until `count` calls of `action` have been answered (or dropped).

        Calls are recorded once handled, so this also waits out a `Delay` fault.
        Bound it: `async with asyncio.timeout(5): await sandbox.wait_for_calls(...)`.
        """
        while len(calls := self.calls_to(action)) < count:
            await self._recorded.wait()
        return calls

    async def wait_for_arrivals(self, action: str, count: int = 1) -> None:
        """Wait until `count` requests of `action` have been read (a Delay may still hold them).

        Bound it: `async with asyncio.timeout(5): await sandbox.wait_for_arrivals(...)`.
        """
        while self.arrivals[action.strip("/")] < count:
            await self._arrived.wait()

    def inject(self, action: str, fault: Fault, times: int = 1) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        queue = self._faults.setdefault(action.strip("/"), collections.deque())
        queue.extend([fault] * times)

    def preregister(self, device_id: str, model: str = "telfmb140") -> None:
        self._other_accounts[device_id.upper()] = model

    def script_device(self, device_id: str, script: DeviceScript) -> None:
        self._scripts[device_id.upper()] = script
        for tracker in self.trackers.values():
            if tracker.device_id.upper() == device_id.upper():
                tracker.script = script

    def add_silent_trackers(
        self, device_ids: Iterable[str], *, model: str = "telfmb140", label: str = "W"
    ) -> list[int]:
        """Trackers already in the account that never come online (labels "W 0", "W 1"...),
        for load tests and benches that watch many devices; their ids."""
        ids = []
        for i, device_id in enumerate(device_ids):
            tracker = self._create_tracker(
                label=f"{label} {i}",
                group_id=0,
                model=model,
                device_id=device_id,
                phone=None,
                apn=(None, None, None),
                plugin_id=44,
                now=self.now(),
            )
            tracker.script = DeviceScript(online_after=None)
            ids.append(tracker.id)
        return ids

    def new_api_key(self) -> str:
        key = secrets.token_hex(16)
        self._api_keys.add(key)
        return key

    def new_activation_code(self) -> str:
        """Create and accept a random, unused 10-digit activation code."""
        while True:
            code = "".join(self._random.choice("0123456789") for _ in range(10))
            if code not in self._codes and code not in self._used_codes:
                self._codes.add(code)
                return code

    def expire_sessions(self) -> None:
        """Forget every session hash from `user/auth` (API keys stay valid)."""
        self._sessions.clear()

    def now(self) -> float:
        return self._clock()

    def stamp(self, at: float) -> str:
        """`yyyy-MM-dd HH:mm:ss` (UTC, the sandbox user's time zone) of clock time `at`."""
        wall = self._wall0 + timedelta(seconds=at - self._t0)
        return wall.strftime("%Y-%m-%d %H:%M:%S")

    # ------------------------------------------------------------------ HTTP layer

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"].strip("/")
        call = SandboxCall(action=action, params={}, credential=None, http_status=0, response=None)
        try:
            return await self._serve(request, action, call)
        except _Drop:
            call.http_status, call.response = 0, None
            self._record(call, request.method)
            transport = request.transport
            if transport is not None:
                transport.abort()
            # The connection is gone; aiohttp cannot send this.
            raise web.HTTPInternalServerError() from None

    async def _serve(
        self, request: web.Request, action: str, call: SandboxCall
    ) -> web.StreamResponse:
        fault = self._take_fault(action)
        # Read the request first, also for faults: the call records what was sent, and a
        # client that gives up during a Delay must not make the body unreadable.
        parsed: frozenset[str] | ApiError
        try:
            parsed = await self._parse(request, call)
        except ApiError as err:
            parsed = err
        self.arrivals[action] += 1
        self._arrived.set()
        self._arrived = asyncio.Event()
        if isinstance(fault, DropBeforeCommit):
            raise _Drop
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        if isinstance(fault, Hold):
            await fault.wait()
        if isinstance(fault, RawHttp):
            call.http_status = fault.status
            self._record(call, request.method)
            return web.Response(status=fault.status, text=fault.body, content_type="text/html")

        try:
            body = self._respond(request, action, call, fault, parsed)
            status = 200
        except ApiError as err:
            body, status = err.body(), err.http_status
        call.http_status, call.response = status, body
        if isinstance(fault, DropAfterCommit):
            raise _Drop
        self._record(call, request.method)
        return web.json_response(body, status=status)

    async def _parse(self, request: web.Request, call: SandboxCall) -> frozenset[str]:
        """Fill the call's style, credential and params; return the typed (JSON) keys."""
        style, query, body, typed = await self._read_params(request)
        credential, via = self._credential(request, query, body)
        call.style, call.credential, call.credential_via = style, credential, via
        call.params = {k: v for k, v in {**query, **body}.items() if k != "hash"}
        return frozenset(body) if typed else frozenset()

    def _respond(
        self,
        request: web.Request,
        action: str,
        call: SandboxCall,
        fault: Fault | None,
        parsed: frozenset[str] | ApiError,
    ) -> dict[str, Any]:
        handler = self._handlers.get(action)
        if handler is None:
            raise ApiError(111)
        if request.method not in ("GET", "POST"):
            raise ApiError(112)
        if isinstance(parsed, ApiError):
            raise parsed
        if isinstance(fault, ErrorFault):
            text = fault.description
            retry = action == "tracker/register_retry"
            if text is None and retry and NavixyCode.of(fault.code) is NavixyCode.ALREADY_CONNECTED:
                text = DEVICE_ALREADY_CONNECTED
            raise ApiError(fault.code, text, fault.errors)
        credential = call.credential
        self._check_rate(credential if credential is not None else f"ip:{request.remote}")
        if action != "user/auth":
            self._authenticate(credential)
        params = Params(call.params, parsed)
        result = handler(_Ctx(params, credential, self._clock()))
        return {"success": True, **result}

    async def _read_params(
        self, request: web.Request
    ) -> tuple[str, dict[str, Any], dict[str, Any], bool]:
        """(style, query params, body params, body is typed JSON)."""
        query: dict[str, Any] = dict(request.query)
        if request.method not in ("POST", "PUT", "PATCH"):
            return "query", query, {}, False
        content_type = request.content_type
        data = await request.read()
        if content_type.endswith("json"):
            try:
                body = json.loads(data) if data.strip() else {}
            except ValueError:
                raise ApiError(5) from None
            if not isinstance(body, dict):
                raise ApiError(5)
            return "json", query, body, True
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            return "form", query, fields, False
        if not data:
            return "form", query, {}, False
        raise ApiError(5)

    @staticmethod
    def _credential(
        request: web.Request, query: Mapping[str, Any], body: Mapping[str, Any]
    ) -> tuple[str | None, str | None]:
        # Lookup order of the 2020 docs: body, then query, then header.
        if body.get("hash") is not None:
            return str(body["hash"]), "body"
        if query.get("hash") is not None:
            return str(query["hash"]), "query"
        header = request.headers.get("Authorization")
        if header is not None:
            match = _AUTH_HEADER.fullmatch(header)
            # A header that is not exactly "NVX <hash>" counts as a malformed hash.
            return (match.group(1) if match else header), "header"
        return None, None

    def _authenticate(self, credential: str | None) -> None:
        if credential is None:
            raise ApiError(4)
        if not HEX32.fullmatch(credential):
            raise ApiError(3)
        if credential not in self._api_keys and credential not in self._sessions:
            raise ApiError(4)

    def _check_rate(self, key: str) -> None:
        now = self._rate_clock()
        hits = self._hits.setdefault(key, collections.deque())
        while hits and hits[0] <= now - 1.0:
            hits.popleft()
        if len(hits) >= self._rate_limit:
            raise ApiError(15)
        hits.append(now)

    def _take_fault(self, action: str) -> Fault | None:
        queue = self._faults.get(action)
        if not queue:
            return None
        fault = queue.popleft()
        kind = type(fault).__name__
        if isinstance(fault, ErrorFault):
            kind = f"ErrorFault({fault.code})"
        self.faults_used[f"{action} {kind}"] += 1
        return fault

    def _record(self, call: SandboxCall, method: str) -> None:
        self.calls.append(call)
        self._recorded.set()
        self._recorded = asyncio.Event()
        code = call.response["status"]["code"] if call.response and call.http_status != 200 else ""
        log.debug("sandbox %s %s -> HTTP %s %s", method, call.action, call.http_status, code)

    # ------------------------------------------------------------------ account calls

    def _require_right(self, right: str) -> None:
        if right not in self._rights and "admin" not in self._rights:
            raise ApiError(13)

    def _user_auth(self, ctx: _Ctx) -> dict[str, Any]:
        p = ctx.params
        login = p.string("login", required=True)
        password = p.string("password", required=True)
        p.integer("dealer_id")
        if password is not None and not (1 <= len(password) <= 40 and password.isprintable()):
            p.error("password", "must be 1-40 printable characters")
        p.raise_errors()
        if login is None or self._users.get(login) != password:
            raise ApiError(102)
        session = secrets.token_hex(16)
        self._sessions.add(session)
        return {"type": "authenticated", "hash": session}

    def _user_get_info(self, ctx: _Ctx) -> dict[str, Any]:
        info: dict[str, Any] = {
            "paas_id": 7,
            "paas_settings": {
                "tracker_model_filter": {"exclusion": True, "values": []},
                "no_register_commands": False,
            },
            "user_info": {
                "id": 43568,
                "login": next(iter(self._users), "sandbox@example.com"),
                "title": "Sandbox Installer",
                "phone": "491701234567",
                "locale": "en_US",
                "demo": False,
                "verified": True,
                "legal_type": "legal_entity",
                "time_zone": "UTC",
                "measurement_system": "metric",
            },
            "features": ["tracking"],
            "tariff_restrictions": {"allowed_maps": ["osm"]},
        }
        if "admin" not in self._rights:
            # A sub-user: only they carry `master` and `privileges`.
            info["master"] = {"id": 1234, "title": "Sandbox Dealer Account"}
            info["privileges"] = {"rights": sorted(self._rights)}
        return info

    def _list_models(self, ctx: _Ctx) -> dict[str, Any]:
        p = ctx.params
        codes = p.str_array("codes")
        p.boolean("compact_view")
        p.boolean("compact_index")
        p.raise_errors()
        if codes is None:
            models = self._models
        else:
            wanted = set(codes)
            models = [m for m in self._models if m["code"] in wanted]
        return {"list": copy.deepcopy(models)}

    def _plugin_list(self, ctx: _Ctx) -> dict[str, Any]:
        return {"list": copy.deepcopy(self._plugins)}

    def _group_list(self, ctx: _Ctx) -> dict[str, Any]:
        return {"list": copy.deepcopy(self._groups)}

    def _apn_read(self, ctx: _Ctx) -> dict[str, Any]:
        p = ctx.params
        phone = p.string("phone", required=True)
        if phone is not None and not PHONE.fullmatch(phone):
            p.error("phone", PHONE_ERROR)
        p.raise_errors()
        assert phone is not None
        best = max(
            (prefix for prefix in self._apn if phone.startswith(prefix)), key=len, default=None
        )
        if best is None:
            raise ApiError(201)
        return {"value": dict(self._apn[best])}

    # ------------------------------------------------------------------ registration

    def _check_apn(self, p: Params) -> tuple[str | None, str | None, str | None]:
        apn_name = p.string("apn_name")
        apn_user = p.string("apn_user")
        apn_password = p.string("apn_password")
        for name, value in (("apn_name", apn_name), ("apn_user", apn_user)):
            if value is not None and not APN_TEXT.fullmatch(value):
                p.error(name, APN_TEXT_ERROR)
        if apn_password is not None and not apn_password_ok(apn_password):
            p.error("apn_password", APN_PASSWORD_ERROR)
        return apn_name, apn_user, apn_password

    def _register(self, ctx: _Ctx) -> dict[str, Any]:
        p = ctx.params
        # 1. Types, presence and formats that do not depend on the model.
        label = p.string("label", required=True)
        group_id = p.integer("group_id", required=True)
        model_code = p.string("model", required=True)
        plugin_id = p.integer("plugin_id", required=True)
        device_id = p.string("device_id")
        phone = p.string("phone")
        apn_name, apn_user, apn_password = self._check_apn(p)
        code = p.string("activation_code")
        notification_phone = p.string("notification_phone")
        notification_email = p.string("notification_email")
        send_commands = p.boolean("send_register_commands")
        if label is not None and not label_ok(label):
            p.error("label", LABEL_ERROR)
        if device_id is not None and not DEVICE_ID_GENERAL.fullmatch(device_id):
            p.error("device_id", DEVICE_ID_GENERAL_ERROR)
        if phone is not None and not PHONE.fullmatch(phone):
            p.error("phone", PHONE_ERROR)
        if code is not None and not ACTIVATION_CODE.fullmatch(code):
            p.error("activation_code", ACTIVATION_CODE_ERROR)
        if notification_phone is not None and not PHONE.fullmatch(notification_phone):
            p.error("notification_phone", PHONE_ERROR)
        if notification_email is not None and not email_ok(notification_email):
            p.error("notification_email", EMAIL_ERROR)
        p.raise_errors()
        assert label is not None and group_id is not None
        assert model_code is not None and plugin_id is not None

        # 2. Rights, then the referenced entities.
        self._require_right("tracker_register")
        model = self._models_by_code.get(model_code)
        if model is None or not model.get("register", True):
            raise ApiError(220)
        plugin = next((pl for pl in self._plugins if pl.get("id") == plugin_id), None)
        if (
            plugin is None
            or plugin.get("type") != "tracker_register"
            or not _plugin_accepts(plugin, model_code)
        ):
            raise ApiError(222)
        if group_id != 0 and not any(g.get("id") == group_id for g in self._groups):
            raise ApiError(204)

        # 3. Model- and plugin-dependent parameters.
        rule = id_rule(str(model.get("id_type", "imei")))
        mobile = is_mobile_model(model_code) or plugin_id in MOBILE_PLUGINS
        if rule.generated:
            if device_id is not None:
                p.error("device_id", "must not be set: the platform assigns it for this model")
        elif device_id is None:
            p.error("device_id", REQUIRED)
        else:
            problem = rule.check(device_id)
            if problem is not None:
                p.error("device_id", problem)
        if mobile:
            for name in ("phone", "apn_name", "apn_user", "apn_password"):
                if p.has(name):
                    p.error(name, "not supported for the mobile app")
        elif phone is None and plugin_id in PHONE_PLUGINS and model.get("has_phone", False):
            p.error("phone", REQUIRED)
        if code is None and plugin_id in CODE_REQUIRED_PLUGINS:
            p.error("activation_code", REQUIRED)
        p.raise_errors()

        # 4. Account and platform state.
        if not self._legal_type_allowed:
            raise ApiError(225)
        if self._device_limit is not None and len(self.trackers) >= self._device_limit:
            raise ApiError(221)
        if device_id is not None and self._device_in_use(device_id):
            raise ApiError(224)
        if phone is not None and any(t.phone == phone for t in self.trackers.values()):
            raise ApiError(223)
        if code is not None and code not in self._codes:
            raise ApiError(227)

        # 5. Commit.
        if device_id is None:
            device_id = self._generate_device_id(rule.length, rule.prefix)
        if code is not None:
            self._codes.discard(code)
            self._used_codes.add(code)
        tracker = self._create_tracker(
            label=label,
            group_id=group_id,
            model=model_code,
            device_id=device_id,
            phone=phone,
            apn=(apn_name, apn_user, apn_password),
            plugin_id=plugin_id,
            now=ctx.now,
        )
        tracker.activation_code = code
        tracker.notification_phone = notification_phone
        tracker.notification_email = notification_email
        tracker.send_register_commands = send_commands
        log.info("sandbox registered tracker %s (model %s)", tracker.id, model_code)
        return {"value": tracker.to_json()}

    def _device_in_use(self, device_id: str) -> bool:
        key = device_id.upper()
        if key in self._other_accounts:
            return True
        return any(t.device_id.upper() == key for t in self.trackers.values())

    def _generate_device_id(self, length: int, prefix: str) -> str:
        length = max(length, len(prefix) + 1)
        while True:
            rest = "".join(self._random.choice("0123456789") for _ in range(length - len(prefix)))
            candidate = prefix + rest
            if not self._device_in_use(candidate):
                return candidate

    def _create_tracker(
        self,
        *,
        label: str,
        group_id: int,
        model: str,
        device_id: str,
        phone: str | None,
        apn: tuple[str | None, str | None, str | None],
        plugin_id: int,
        now: float,
    ) -> SandboxTracker:
        tracker_id, self._next_tracker_id = self._next_tracker_id, self._next_tracker_id + 1
        source_id, self._next_source_id = self._next_source_id, self._next_source_id + 1
        created = self._wall0 + timedelta(seconds=now - self._t0)
        tracker = SandboxTracker(
            id=tracker_id,
            label=label,
            group_id=group_id,
            model=model,
            device_id=device_id,
            phone=phone,
            apn_name=apn[0],
            apn_user=apn[1],
            apn_password=apn[2],
            plugin_id=plugin_id,
            created_at=now,
            source_id=source_id,
            creation_date=created.strftime("%Y-%m-%d"),
            tariff_end_date=(created + timedelta(days=TARIFF_DAYS)).strftime("%Y-%m-%d"),
            script=self._scripts.get(device_id.upper(), self._default_script),
        )
        self.trackers[tracker_id] = tracker
        return tracker

    def _register_retry(self, ctx: _Ctx) -> dict[str, Any]:
        p = ctx.params
        tracker_id = p.integer("tracker_id")
        device_id = p.string("device_id")
        apn_name, apn_user, apn_password = self._check_apn(p)
        p.boolean("send_register_commands")
        if tracker_id is None and device_id is None and not p.errors:
            p.error("tracker_id", REQUIRED)
        p.raise_errors()
        self._require_right("tracker_register")
        tracker: SandboxTracker | None
        if tracker_id is not None:
            tracker = self.trackers.get(tracker_id)
        else:
            assert device_id is not None
            tracker = next(
                (t for t in self.trackers.values() if t.device_id.upper() == device_id.upper()),
                None,
            )
        if tracker is None:
            raise ApiError(201)
        if tracker.blocked:
            raise ApiError(208)
        if tracker.clone:
            raise ApiError(219)
        if is_mobile_model(tracker.model):
            raise ApiError(13)
        model = self._models_by_code.get(tracker.model, {})
        if not model.get("has_phone", False):
            raise ApiError(214)
        if tracker.connection_status(ctx.now) in CONNECTED:
            raise ApiError(242, DEVICE_ALREADY_CONNECTED)
        tracker.retries += 1
        tracker.last_retry_at = ctx.now
        if apn_name is not None:
            tracker.apn_name = apn_name
        if apn_user is not None:
            tracker.apn_user = apn_user
        if apn_password is not None:
            tracker.apn_password = apn_password
        return {"value": tracker.to_json(tag_bindings=True)}

    # ------------------------------------------------------------------ tracker reads

    def _tracker_list(self, ctx: _Ctx) -> dict[str, Any]:
        p = ctx.params
        labels = p.array("labels")
        if labels is not None:
            if not 1 <= len(labels) <= MAX_LABELS:
                p.error("labels", f"must contain 1-{MAX_LABELS} items")
            elif not all(isinstance(item, str) and 1 <= len(item) <= 60 for item in labels):
                p.error("labels", "items must be strings of 1-60 characters")
            elif len(set(labels)) != len(labels):
                p.error("labels", "items must be unique")
        p.raise_errors()
        trackers = sorted(self.trackers.values(), key=lambda t: t.id)
        if labels is not None:
            trackers = [t for t in trackers if any(item in t.label for item in labels)]
        return {"list": [t.to_json(tag_bindings=True) for t in trackers]}

    def _tracker_by_id(self, p: Params) -> SandboxTracker:
        tracker_id = p.integer("tracker_id", required=True)
        p.raise_errors()
        assert tracker_id is not None
        tracker = self.trackers.get(tracker_id)
        if tracker is None:
            raise ApiError(201)
        return tracker

    def _tracker_read(self, ctx: _Ctx) -> dict[str, Any]:
        return {"value": self._tracker_by_id(ctx.params).to_json()}

    def _get_state(self, ctx: _Ctx) -> dict[str, Any]:
        tracker = self._tracker_by_id(ctx.params)
        if tracker.blocked:
            raise ApiError(208)
        return {"user_time": self.stamp(ctx.now), "state": tracker.state(ctx.now, self.stamp)}

    def _get_states(self, ctx: _Ctx) -> dict[str, Any]:
        p = ctx.params
        ids = p.int_array("trackers")
        p.boolean("list_blocked")
        p.boolean("allow_not_exist")
        if ids is not None and len(ids) > MAX_STATES:
            p.error("trackers", f"must contain at most {MAX_STATES} items")
        p.raise_errors()
        if ids is None:
            ids = sorted(self.trackers)
        states: dict[str, Any] = {}
        blocked: list[int] = []
        not_exist: list[int] = []
        for tracker_id in dict.fromkeys(ids):
            tracker = self.trackers.get(tracker_id)
            if tracker is None:
                not_exist.append(tracker_id)
            elif tracker.blocked:
                blocked.append(tracker_id)
            else:
                states[str(tracker_id)] = tracker.state(ctx.now, self.stamp)
        return {
            "user_time": self.stamp(ctx.now),
            "states": states,
            "blocked": blocked,
            "not_exist": not_exist,
        }


__all__ = [
    "DEFAULT_APN_BY_PREFIX",
    "DEFAULT_GROUPS",
    "DEFAULT_PLUGINS",
    "NavixySandbox",
    "load_default_models",
]
