"""NavixyClient: envelopes, retries, auth and logging (httpx.MockTransport), and the
transport failures against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.navixy import NavixyClient, NavixyError, NavixyUnavailable
from bot.navixy.models import FieldError, RegisterRequest
from bot.sandbox import DropAfterCommit, NavixySandbox

KEY = "0123456789abcdef0123456789abcdef"
HASH_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
HASH_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
LOGIN = "installer@example.com"
PASSWORD = "pa55-w0rd-secret"
BASE = "http://navixy.test/v2"

TRACKER = {
    "id": 833389,
    "label": "T571TO",
    "group_id": 0,
    "clone": False,
    "source": {
        "id": 526383,
        "device_id": "986575154632586",
        "model": "telfmb140",
        "blocked": False,
        "tariff_id": 12163,
        "phone": "999999999969",
        "status_listing_id": None,
        "creation_date": "2021-06-03",
        "tariff_end_date": "2021-06-17",
    },
}
STATE = {
    "source_id": 545139,
    "gps": {"updated": None, "signal_level": 100, "location": {"lat": 42.8, "lng": -78.2}},
    "connection_status": "just_registered",
    "last_update": None,
}
MODEL = {
    "id": 2450,
    "vendor": "Navixy",
    "code": "navixy_ngp",
    "name": "Navixy Generic Protocol",
    "id_type": "ascii,6,64",
    "register": True,
    "unknown_new_field": {"x": 1},
}

Reply = httpx.Response | Exception | Callable[[httpx.Request], Awaitable[httpx.Response]]


def ok(**payload: Any) -> httpx.Response:
    return httpx.Response(200, json={"success": True, **payload})


def fail(code: int, description: str = "error", status: int = 400, **extra: Any) -> httpx.Response:
    body = {"success": False, "status": {"code": code, "description": description}, **extra}
    return httpx.Response(status, json=body)


class Navixy:
    """A scripted MockTransport: replies per action, in order; records every request."""

    def __init__(self, **replies: Reply | list[Reply]) -> None:
        self.replies: dict[str, list[Reply]] = {
            action.replace("__", "/"): list(r) if isinstance(r, list) else [r]
            for action, r in replies.items()
        }
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        action = request.url.path.removeprefix("/v2/")
        queue = self.replies.get(action)
        if not queue:
            return httpx.Response(404, text=f"no reply scripted for {action}")
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return await reply(request)

    def calls(self, action: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == f"/v2/{action}"]

    def actions(self) -> list[str]:
        return [r.url.path.removeprefix("/v2/") for r in self.requests]


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def auth_header(request: httpx.Request) -> str | None:
    value: str | None = request.headers.get("Authorization")
    return value


def client(navixy: Navixy, **kwargs: Any) -> NavixyClient:
    kwargs.setdefault("backoff", 0.0)
    if "login" not in kwargs:
        kwargs.setdefault("api_key", KEY)
    return NavixyClient(BASE, transport=navixy.transport, **kwargs)


def login_client(navixy: Navixy, **kwargs: Any) -> NavixyClient:
    return client(navixy, login=LOGIN, password=SecretStr(PASSWORD), **kwargs)


def register_request(**overrides: Any) -> RegisterRequest:
    fields: dict[str, Any] = {
        "label": "Courier",
        "group_id": 0,
        "plugin_id": 37,
        "model": "qlgv55lite",
        "device_id": "123451234512346",
        "phone": "79123122312",
        "apn_name": "fast.tmobile.com",
        "apn_user": "tmobile",
        "apn_password": "apn-s3cret-pw",
        "activation_code": "987654321",
    }
    return RegisterRequest(**(fields | overrides))


# -- requests and envelopes ------------------------------------------------------


async def test_list_models_request_shape_and_parsing() -> None:
    navixy = Navixy(tracker__list_models=ok(list=[MODEL]))
    async with NavixyClient(BASE + "/", api_key=SecretStr(KEY), transport=navixy.transport) as nc:
        models = await nc.list_models(["navixy_ngp"])
    assert [m.code for m in models] == ["navixy_ngp"]
    assert models[0].id_type == "ascii,6,64"
    (request,) = navixy.requests
    assert request.method == "POST"
    assert str(request.url) == "http://navixy.test/v2/tracker/list_models"
    assert request.headers["Content-Type"] == "application/json"
    assert auth_header(request) == f"NVX {KEY}"
    assert body(request) == {"codes": ["navixy_ngp"]}
    assert request.url.query == b""


async def test_list_models_without_codes_sends_empty_body() -> None:
    navixy = Navixy(tracker__list_models=ok(list=[MODEL, MODEL | {"id": 1, "code": "x"}]))
    async with client(navixy) as nc:
        assert len(await nc.list_models()) == 2
        assert await nc.list_models([]) == []
    assert [body(r) for r in navixy.requests] == [{}]


async def test_plugins_groups_info() -> None:
    plugin = {"id": 44, "type": "tracker_register", "filter": {"exclusion": True, "values": []}}
    navixy = Navixy(
        plugin__list=ok(list=[plugin]),
        tracker__group__list=ok(list=[{"id": 129301, "title": "test", "color": "FF6DDC"}]),
        user__get_info=ok(paas_id=7, user_info={"id": 1, "login": "demo@navixy.com"}),
    )
    async with client(navixy) as nc:
        plugins = await nc.list_plugins()
        groups = await nc.list_groups()
        info = await nc.get_info()
    assert plugins[0].id == 44 and plugins[0].filter.exclusion
    assert groups[0].title == "test"
    assert info == {"paas_id": 7, "user_info": {"id": 1, "login": "demo@navixy.com"}}
    assert navixy.actions() == ["plugin/list", "tracker/group/list", "user/get_info"]
    assert all(body(r) == {} and auth_header(r) == f"NVX {KEY}" for r in navixy.requests)


async def test_read_apn_found_unknown_and_other_errors() -> None:
    value = {"name": "internet", "user": "", "password": "", "operator_name": "Telekom"}
    navixy = Navixy(
        apn_settings__read=[ok(value=value), fail(201, "Not found in database"), fail(208)]
    )
    async with client(navixy) as nc:
        apn = await nc.read_apn("491701234567")
        assert apn is not None and apn.name == "internet" and apn.operator_name == "Telekom"
        assert await nc.read_apn("10000000000") is None
        with pytest.raises(NavixyError) as info:
            await nc.read_apn("10000000001")
    assert info.value.code == 208
    assert [body(r) for r in navixy.requests] == [
        {"phone": "491701234567"},
        {"phone": "10000000000"},
        {"phone": "10000000001"},
    ]


async def test_register_sends_exactly_the_request_fields() -> None:
    navixy = Navixy(tracker__register=ok(value=TRACKER))
    request = register_request(send_register_commands=True)
    async with client(navixy) as nc:
        tracker = await nc.register(request)
    assert tracker.id == 833389 and tracker.source.device_id == "986575154632586"
    (sent,) = navixy.requests
    assert body(sent) == request.params()
    assert "hash" not in body(sent) and sent.url.query == b""
    assert auth_header(sent) == f"NVX {KEY}"


async def test_error_envelope_with_field_errors() -> None:
    errors = [
        {"parameter": "device_id", "error": "must consist of 6-32 alphanumeric symbols"},
        "garbage",
    ]
    navixy = Navixy(tracker__register=fail(7, "Invalid parameters", errors=errors))
    async with client(navixy) as nc:
        with pytest.raises(NavixyError) as info:
            await nc.register(register_request())
    exc = info.value
    assert type(exc) is NavixyError
    assert (exc.code, exc.description, exc.http_status) == (7, "Invalid parameters", 400)
    assert exc.errors == (
        FieldError(parameter="device_id", error="must consist of 6-32 alphanumeric symbols"),
    )


async def test_register_retry_sends_only_given_apn_fields() -> None:
    navixy = Navixy(
        tracker__register_retry=[ok(value=TRACKER), fail(242, "Device already connected")]
    )
    async with client(navixy) as nc:
        tracker = await nc.register_retry(833389, apn_name="internet", apn_password="")
        assert tracker.id == 833389
        with pytest.raises(NavixyError) as info:
            await nc.register_retry(833389)
    assert info.value.code == 242
    assert [body(r) for r in navixy.requests] == [
        {"tracker_id": 833389, "apn_name": "internet", "apn_password": ""},
        {"tracker_id": 833389},
    ]


async def test_list_trackers_with_and_without_labels() -> None:
    navixy = Navixy(tracker__list=ok(list=[TRACKER | {"tag_bindings": []}]))
    async with client(navixy) as nc:
        assert [t.label for t in await nc.list_trackers(["T571", "Courier"])] == ["T571TO"]
        assert len(await nc.list_trackers()) == 1
        assert await nc.list_trackers([]) == []
        with pytest.raises(TypeError):
            await nc.list_trackers("T571")
    assert [body(r) for r in navixy.requests] == [{"labels": ["T571", "Courier"]}, {}]


async def test_get_state_and_get_states() -> None:
    navixy = Navixy(
        tracker__get_state=ok(user_time="2022-08-31 13:47:13", state=STATE),
        tracker__get_states=ok(
            user_time="2022-08-31 13:47:13",
            states={"1": STATE, "2": STATE | {"connection_status": "active"}},
            blocked=[],
            not_exist=[3],
        ),
    )
    async with client(navixy) as nc:
        state = await nc.get_state(1)
        states = await nc.get_states([1, 2, 3])
        assert await nc.get_states([]) == {}
    assert state.connection_status == "just_registered" and state.gps is not None
    assert {k: v.connection_status for k, v in states.items()} == {
        1: "just_registered",
        2: "active",
    }
    assert body(navixy.calls("tracker/get_state")[0]) == {"tracker_id": 1}
    sent = body(navixy.calls("tracker/get_states")[0])
    assert sent["trackers"] == [1, 2, 3]
    assert len(navixy.requests) == 2


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(503, json={"message": "busy"}),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(400, json={"success": False, "status": "broken"}),
    ],
    ids=["200-html", "502-html", "503-json-no-envelope", "200-json-list", "no-status-code"],
)
async def test_no_navixy_envelope_is_unavailable_maybe_delivered(reply: httpx.Response) -> None:
    navixy = Navixy(tracker__register=reply)
    async with client(navixy) as nc:
        with pytest.raises(NavixyUnavailable) as info:
            await nc.register(register_request())
    assert info.value.maybe_delivered is True
    assert info.value.code == 0
    assert info.value.http_status == reply.status_code
    assert len(navixy.requests) == 1


async def test_unexpected_payload_is_unavailable() -> None:
    navixy = Navixy(tracker__register=ok(value={"id": "not-a-number"}))
    async with client(navixy) as nc:
        with pytest.raises(NavixyUnavailable) as info:
            await nc.register(register_request())
    assert info.value.maybe_delivered is True


async def test_constructor_needs_a_credential() -> None:
    with pytest.raises(ValueError, match="api_key"):
        NavixyClient(BASE)
    with pytest.raises(ValueError):
        NavixyClient(BASE, login=LOGIN)
    with pytest.raises(ValueError):
        NavixyClient(BASE, api_key=SecretStr(""))


# -- transport errors and retries ----------------------------------------------------


@pytest.mark.parametrize(
    ("error", "maybe_delivered"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("connect timed out"), False),
        (httpx.PoolTimeout("pool timed out"), False),
        (httpx.ReadTimeout("read timed out"), True),
        (httpx.WriteTimeout("write timed out"), True),
        (httpx.ReadError("reset"), True),
        (httpx.RemoteProtocolError("server disconnected"), True),
        (httpx.WriteError("broken pipe"), True),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
async def test_register_transport_errors_are_never_retried(
    error: Exception, maybe_delivered: bool
) -> None:
    navixy = Navixy(tracker__register=error)
    async with client(navixy, read_retries=3) as nc:
        with pytest.raises(NavixyUnavailable) as info:
            await nc.register(register_request())
    assert info.value.maybe_delivered is maybe_delivered
    assert info.value.code == 0
    assert len(navixy.requests) == 1


@pytest.mark.parametrize(
    "reply",
    [
        fail(15, "Too many requests (rate limit exceeded)", 429),
        fail(8, "Queue service error", 503),
        fail(1, "Database error", 500),
    ],
    ids=["429", "8", "500"],
)
async def test_register_and_register_retry_never_retry_busy_errors(
    reply: httpx.Response,
) -> None:
    navixy = Navixy(tracker__register=reply, tracker__register_retry=reply)
    async with client(navixy, read_retries=3) as nc:
        with pytest.raises(NavixyError):
            await nc.register(register_request())
        with pytest.raises(NavixyError):
            await nc.register_retry(1)
    assert navixy.actions() == ["tracker/register", "tracker/register_retry"]


@pytest.mark.parametrize(
    "first",
    [
        fail(15, "Too many requests", 429),
        fail(8, "Queue service error", 503),
        fail(14, "Database unavailable", 503),
        fail(1, "Database error", 500),
        fail(6, "Unexpected error", 500),
        httpx.Response(502, text="bad gateway"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["15", "8", "14", "1", "6", "502", "connect", "read-timeout"],
)
async def test_read_calls_retry_transient_failures(first: Reply) -> None:
    navixy = Navixy(tracker__list=[first, ok(list=[TRACKER])])
    async with client(navixy, read_retries=3) as nc:
        trackers = await nc.list_trackers(["T571TO"])
    assert [t.id for t in trackers] == [833389]
    assert len(navixy.requests) == 2
    assert all(body(r) == {"labels": ["T571TO"]} for r in navixy.requests)


async def test_read_retries_are_bounded() -> None:
    navixy = Navixy(tracker__get_state=fail(15, "Too many requests", 429))
    async with client(navixy, read_retries=2) as nc:
        with pytest.raises(NavixyError) as info:
            await nc.get_state(1)
    assert (info.value.code, info.value.http_status) == (15, 429)
    assert len(navixy.requests) == 3


async def test_read_retries_zero_means_one_attempt() -> None:
    navixy = Navixy(plugin__list=httpx.ConnectError("refused"))
    async with client(navixy, read_retries=0) as nc:
        with pytest.raises(NavixyUnavailable):
            await nc.list_plugins()
    assert len(navixy.requests) == 1


@pytest.mark.parametrize("code", [3, 7, 13, 201, 208])
async def test_read_calls_do_not_retry_real_errors(code: int) -> None:
    navixy = Navixy(tracker__get_state=fail(code))
    async with client(navixy, read_retries=3) as nc:
        with pytest.raises(NavixyError) as info:
            await nc.get_state(1)
    assert info.value.code == code
    assert len(navixy.requests) == 1


async def test_backoff_grows_exponentially(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []
    original = NavixyClient._delay

    def recorded(self: NavixyClient, attempt: int) -> float:
        delays.append(original(self, attempt))
        return delays[-1]

    monkeypatch.setattr(NavixyClient, "_delay", recorded)
    navixy = Navixy(tracker__group__list=[fail(8), fail(8), fail(8), ok(list=[])])
    async with client(navixy, read_retries=3, backoff=0.01) as nc:
        assert await nc.list_groups() == []
    assert len(delays) == 3
    for delay, base in zip(delays, [0.01, 0.02, 0.04], strict=True):
        assert base <= delay <= base * 1.1 + 0.005


# -- authentication -----------------------------------------------------------


async def test_login_authenticates_lazily_once_for_concurrent_calls() -> None:
    async def slow_auth(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return ok(type="authenticated", hash=HASH_A)

    navixy = Navixy(user__auth=slow_auth, tracker__group__list=ok(list=[]))
    nc = login_client(navixy)
    assert navixy.requests == []  # nothing sent before the first call
    async with nc:
        await asyncio.gather(*(nc.list_groups() for _ in range(5)))
        await nc.list_groups()
    (auth,) = navixy.calls("user/auth")
    assert body(auth) == {"login": LOGIN, "password": PASSWORD}
    assert auth_header(auth) is None
    groups = navixy.calls("tracker/group/list")
    assert len(groups) == 6
    assert {auth_header(r) for r in groups} == {f"NVX {HASH_A}"}
    assert all(body(r) == {} for r in groups)


@pytest.mark.parametrize("action", ["tracker/list", "tracker/register"])
async def test_session_ended_logs_in_again_once_and_repeats(action: str) -> None:
    navixy = Navixy(
        user__auth=[ok(type="authenticated", hash=HASH_A), ok(type="authenticated", hash=HASH_B)],
        tracker__list=[fail(4, "session ended"), ok(list=[TRACKER])],
        tracker__register=[fail(4, "session ended"), ok(value=TRACKER)],
    )
    async with login_client(navixy) as nc:
        if action == "tracker/list":
            await nc.list_trackers()
        else:
            await nc.register(register_request())
    assert navixy.actions() == ["user/auth", action, "user/auth", action]
    first, second = navixy.calls(action)
    assert (auth_header(first), auth_header(second)) == (f"NVX {HASH_A}", f"NVX {HASH_B}")
    assert body(first) == body(second)


async def test_session_ended_twice_gives_up() -> None:
    navixy = Navixy(
        user__auth=[ok(type="authenticated", hash=HASH_A), ok(type="authenticated", hash=HASH_B)],
        tracker__register=fail(4, "session ended"),
    )
    async with login_client(navixy) as nc:
        with pytest.raises(NavixyError) as info:
            await nc.register(register_request())
    assert info.value.code == 4
    assert navixy.actions() == ["user/auth", "tracker/register"] * 2


async def test_api_key_session_ended_is_not_retried() -> None:
    navixy = Navixy(tracker__list=fail(4, "session ended"))
    async with client(navixy) as nc:
        with pytest.raises(NavixyError) as info:
            await nc.list_trackers()
    assert info.value.code == 4
    assert navixy.actions() == ["tracker/list"]


async def test_wrong_hash_is_not_retried_nor_relogged() -> None:
    navixy = Navixy(
        user__auth=ok(type="authenticated", hash=HASH_A), tracker__list=fail(3, "Wrong hash")
    )
    async with login_client(navixy) as nc:
        with pytest.raises(NavixyError) as info:
            await nc.list_trackers()
    assert info.value.code == 3
    assert navixy.actions() == ["user/auth", "tracker/list"]


async def test_second_factor_is_refused_clearly() -> None:
    navixy = Navixy(
        user__auth=ok(type="second_factor_required", factor_type="email", hash=HASH_A),
        tracker__list=ok(list=[]),
    )
    async with login_client(navixy) as nc:
        with pytest.raises(NavixyError) as info:
            await nc.list_trackers()
    assert not isinstance(info.value, NavixyUnavailable)
    assert "two-factor" in info.value.description and "API key" in info.value.description
    assert navixy.actions() == ["user/auth"]


async def test_wrong_password_error_is_raised_and_call_not_sent() -> None:
    navixy = Navixy(user__auth=fail(102, "Wrong login or password"), tracker__list=ok(list=[]))
    async with login_client(navixy, read_retries=3) as nc:
        with pytest.raises(NavixyError) as info:
            await nc.list_trackers()
    assert info.value.code == 102
    assert navixy.actions() == ["user/auth"]


async def test_auth_retries_connect_errors_then_register_is_sent_once() -> None:
    navixy = Navixy(
        user__auth=[httpx.ConnectError("refused"), ok(type="authenticated", hash=HASH_A)],
        tracker__register=ok(value=TRACKER),
    )
    async with login_client(navixy, read_retries=2) as nc:
        await nc.register(register_request())
    assert navixy.actions() == ["user/auth", "user/auth", "tracker/register"]


@pytest.mark.parametrize(
    ("error", "auth_attempts"),
    [(httpx.ConnectError("refused"), 3), (httpx.ReadTimeout("slow"), 1)],
    ids=["connect", "read-timeout"],
)
async def test_failed_login_means_register_surely_not_delivered(
    error: Exception, auth_attempts: int
) -> None:
    navixy = Navixy(user__auth=error, tracker__register=ok(value=TRACKER))
    async with login_client(navixy, read_retries=2) as nc:
        with pytest.raises(NavixyUnavailable) as info:
            await nc.register(register_request())
    assert info.value.maybe_delivered is False
    assert info.value.description.startswith("user/auth: ")
    assert navixy.actions() == ["user/auth"] * auth_attempts


async def test_login_without_hash_is_unavailable() -> None:
    navixy = Navixy(user__auth=ok(type="authenticated"))
    async with login_client(navixy) as nc:
        with pytest.raises(NavixyUnavailable) as info:
            await nc.list_groups()
    assert info.value.maybe_delivered is False


# -- logging ----------------------------------------------------------------------


async def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx/httpcore included
    request = register_request()
    secrets = [PASSWORD, HASH_A, HASH_B, "987654321", "apn-s3cret-pw"]
    echo = f"activation code 987654321 with {HASH_B} rejected"
    navixy = Navixy(
        user__auth=[ok(type="authenticated", hash=HASH_A), ok(type="authenticated", hash=HASH_B)],
        tracker__register=[
            fail(4, "session ended"),
            fail(227, echo),
            httpx.ReadTimeout(f"timed out sending {PASSWORD}"),
            ok(value=TRACKER),
        ],
        tracker__register_retry=fail(242, "Device already connected"),
        tracker__list=[fail(15, "Too many requests", 429), ok(list=[TRACKER])],
    )
    async with login_client(navixy, read_retries=1) as nc:
        with pytest.raises(NavixyError) as wrong_code:
            await nc.register(request)
        with pytest.raises(NavixyUnavailable) as timeout:
            await nc.register(request)
        await nc.register(request)
        with pytest.raises(NavixyError):
            await nc.register_retry(833389, apn_password="apn-s3cret-pw")
        await nc.list_trackers()
    assert wrong_code.value.code == 227
    assert wrong_code.value.description == "activation code *** with *** rejected"
    assert PASSWORD not in str(timeout.value)
    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "tracker/register" in caplog.text  # the outcomes were logged...
    assert "227" in caplog.text and "maybe delivered" in caplog.text
    for secret in secrets:
        assert secret not in text  # ...without a secret


# -- against a real HTTP server on the loopback -------------------------------------


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackServer:
    """An aiohttp server on 127.0.0.1:<free port> answering every `/v2/...` POST."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.hits = 0
        self.release = asyncio.Event()  # set at teardown to let slow handlers finish
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        return await self.handler(request)

    async def __aenter__(self) -> LoopbackServer:
        app = web.Application()
        app.router.add_post("/v2/{action:.*}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/v2"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def make_server() -> AsyncIterator[Callable[[Handler], Awaitable[LoopbackServer]]]:
    servers: list[LoopbackServer] = []

    async def make(handler: Handler) -> LoopbackServer:
        server = LoopbackServer(handler)
        servers.append(server)
        return await server.__aenter__()

    yield make
    for server in servers:
        await server.__aexit__()


MakeServer = Callable[[Handler], Awaitable[LoopbackServer]]


async def test_real_server_round_trip(make_server: MakeServer) -> None:
    seen: list[tuple[str, str | None, Any]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append((request.path, request.headers.get("Authorization"), await request.json()))
        if request.path.endswith("/tracker/register"):
            return web.json_response({"success": True, "value": TRACKER})
        return web.json_response(
            {"success": False, "status": {"code": 224, "description": "Device ID already in use"}},
            status=400,
        )

    server = await make_server(handler)
    async with NavixyClient(server.base_url + "/", api_key=KEY, timeout=5) as nc:
        tracker = await nc.register(register_request())
        with pytest.raises(NavixyError) as info:
            await nc.register_retry(1)
    assert tracker.id == 833389
    assert (info.value.code, info.value.http_status) == (224, 400)
    assert seen[0] == ("/v2/tracker/register", f"NVX {KEY}", register_request().params())


async def test_real_server_dropping_the_connection_maybe_delivered(
    make_server: MakeServer,
) -> None:
    async def drop(request: web.Request) -> web.StreamResponse:
        await request.read()
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    server = await make_server(drop)
    async with NavixyClient(server.base_url, api_key=KEY, timeout=5, backoff=0) as nc:
        with pytest.raises(NavixyUnavailable) as info:
            await nc.register(register_request())
        assert info.value.maybe_delivered is True
        assert server.hits == 1  # never re-sent
        with pytest.raises(NavixyUnavailable):
            await nc.list_groups()
    assert server.hits == 1 + 4  # a read is retried read_retries (3) times


async def test_real_closed_port_not_delivered() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on `port` any more.
    async with NavixyClient(f"http://127.0.0.1:{port}/v2", api_key=KEY, timeout=5) as nc:
        with pytest.raises(NavixyUnavailable) as info:
            await nc.register(register_request())
    assert info.value.maybe_delivered is False


async def test_real_slow_server_times_out_maybe_delivered(make_server: MakeServer) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await request.read()
        await asyncio.wait_for(server.release.wait(), 10)
        return web.json_response({"success": True, "list": []})

    server = await make_server(slow)
    async with NavixyClient(server.base_url, api_key=KEY, timeout=0.2) as nc:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(NavixyUnavailable) as info:
            await nc.register(register_request())
        elapsed = loop.time() - started
    assert info.value.maybe_delivered is True
    assert "ReadTimeout" in info.value.description
    assert elapsed < 2
    assert server.hits == 1


async def test_real_server_html_error_page(make_server: MakeServer) -> None:
    async def gateway(request: web.Request) -> web.StreamResponse:
        return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")

    server = await make_server(gateway)
    async with NavixyClient(server.base_url, api_key=KEY, timeout=5, read_retries=1) as nc:
        with pytest.raises(NavixyUnavailable) as info:
            await nc.list_models()
    assert (info.value.maybe_delivered, info.value.http_status) == (True, 502)
    assert server.hits == 2


# -- against the Navixy stand-in (bot/sandbox) ------------------------------------

SANDBOX_KEY = "fedcba9876543210fedcba9876543210"


@pytest.fixture
async def sandbox() -> AsyncIterator[NavixySandbox]:
    async with NavixySandbox(api_keys=[SANDBOX_KEY], users={LOGIN: PASSWORD}) as sb:
        yield sb


def hardware_request(**overrides: Any) -> RegisterRequest:
    fields: dict[str, Any] = {
        "label": "Van 7",
        "group_id": 129302,
        "plugin_id": 44,
        "model": "telfmb140",
        "device_id": "356938035643809",
        "phone": "491701234567",
        "apn_name": "internet.telekom",
        "apn_user": "",
        "apn_password": "",
    }
    return RegisterRequest(**(fields | overrides))


async def test_sandbox_catalogue(sandbox: NavixySandbox) -> None:
    async with NavixyClient(sandbox.base_url, api_key=SANDBOX_KEY, timeout=5) as nc:
        models = await nc.list_models()
        (fmb140,) = await nc.list_models(["telfmb140"])
        plugins = await nc.list_plugins()
        groups = await nc.list_groups()
        apn = await nc.read_apn("491701234567")
        info = await nc.get_info()
    assert len(models) == 77
    assert fmb140.id_type == "imei" and fmb140.has_phone
    assert {p.id for p in plugins if p.type == "tracker_register"} >= {44, 37, 35, 68}
    assert [g.id for g in groups] == [129301, 129302]
    assert apn is not None and apn.name == "internet.telekom"
    assert "user_info" in info


async def test_sandbox_register_round_trip(sandbox: NavixySandbox) -> None:
    async with NavixyClient(sandbox.base_url, api_key=SANDBOX_KEY, timeout=5) as nc:
        tracker = await nc.register(hardware_request())
        (listed,) = await nc.list_trackers(["Van"])
        state = await nc.get_state(tracker.id)
        states = await nc.get_states([tracker.id, 999])
        with pytest.raises(NavixyError) as again:
            await nc.register(hardware_request(label="Van 8"))
    assert listed == tracker
    assert (tracker.label, tracker.group_id, tracker.source.model) == ("Van 7", 129302, "telfmb140")
    assert tracker.source.device_id == "356938035643809"
    assert state.connection_status == "just_registered"
    assert list(states) == [tracker.id]
    assert again.value.code == 224
    (call,) = sandbox.calls_to("tracker/register")[:1]
    assert call.credential_via == "header" and "hash" not in call.params


async def test_sandbox_login_session_survives_expiry(sandbox: NavixySandbox) -> None:
    async with NavixyClient(sandbox.base_url, login=LOGIN, password=PASSWORD, timeout=5) as nc:
        assert await nc.list_trackers() == []
        sandbox.expire_sessions()
        assert await nc.list_trackers() == []
    actions = [c.action for c in sandbox.calls]
    assert actions == ["user/auth", "tracker/list", "tracker/list", "user/auth", "tracker/list"]
    assert sandbox.calls[2].response is not None
    assert sandbox.calls[2].response["status"]["code"] == 4
    assert len({c.credential for c in sandbox.calls_to("tracker/list")}) == 2


async def test_sandbox_dropped_after_commit(sandbox: NavixySandbox) -> None:
    sandbox.inject("tracker/register", DropAfterCommit())
    async with NavixyClient(sandbox.base_url, api_key=SANDBOX_KEY, timeout=5) as nc:
        with pytest.raises(NavixyUnavailable) as info:
            await nc.register(hardware_request())
        trackers = await nc.list_trackers(["Van 7"])
    assert info.value.maybe_delivered is True
    assert [t.source.device_id for t in trackers] == ["356938035643809"]
    assert len(sandbox.calls_to("tracker/register")) == 1
