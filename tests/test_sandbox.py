"""The Navixy stand-in, driven over real loopback HTTP with plain httpx."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.sandbox import (
    Delay,
    DeviceScript,
    DropAfterCommit,
    DropBeforeCommit,
    ErrorFault,
    Hold,
    NavixySandbox,
    RawHttp,
)
from tests.helpers import FakeClock

# The loopback stand-in servers themselves, over real HTTP.
pytestmark = pytest.mark.e2e

KEY = "a6aa75587e5c59c32d347da438505fc3"
OTHER_KEY = "b6aa75587e5c59c32d347da438505fc3"
LOGIN = "installer@example.com"
PASSWORD = "s3cret-pass"
CODE = "123123123"
IMEI = "986575154632586"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def rate_clock() -> FakeClock:
    return FakeClock(1000.0)


def make_sandbox(clock: FakeClock, rate_clock: FakeClock, **kwargs: Any) -> NavixySandbox:
    options: dict[str, Any] = {
        "api_keys": [KEY, OTHER_KEY],
        "users": {LOGIN: PASSWORD},
        "activation_codes": [CODE, "6045325592"],
        "clock": clock,
        "rate_clock": rate_clock,
    }
    options.update(kwargs)
    return NavixySandbox(**options)


@pytest.fixture
async def sandbox(clock: FakeClock, rate_clock: FakeClock) -> AsyncIterator[NavixySandbox]:
    async with make_sandbox(clock, rate_clock) as sb:
        yield sb


@pytest.fixture
async def client(sandbox: NavixySandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=sandbox.base_url, headers={"Authorization": f"NVX {KEY}"}, timeout=5.0
    ) as c:
        yield c


async def post(client: httpx.AsyncClient, action: str, **params: Any) -> tuple[int, Any]:
    response = await client.post(action, json=params)
    return response.status_code, response.json()


def error(code: int, description: str, **extra: Any) -> dict[str, Any]:
    return {"success": False, "status": {"code": code, "description": description}, **extra}


def reg(**overrides: Any) -> dict[str, Any]:
    """The §8.1 register request, with overrides (None removes a parameter)."""
    params: dict[str, Any] = {
        "label": "T571TO",
        "group_id": 0,
        "plugin_id": 44,
        "model": "telfmb140",
        "phone": "999999999969",
        "device_id": IMEI,
        "apn_name": "internet",
        "apn_user": "user",
        "apn_password": "passwd",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


async def register_tracker(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    status, body = await post(client, "tracker/register", **reg(**overrides))
    assert status == 200, body
    tracker: dict[str, Any] = body["value"]
    return tracker


# --------------------------------------------------------------------------- transport


async def test_base_url_and_lifecycle(clock: FakeClock, rate_clock: FakeClock) -> None:
    sb = make_sandbox(clock, rate_clock)
    with pytest.raises(RuntimeError):
        _ = sb.base_url
    url = await sb.start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v2", url)
    assert sb.base_url == url
    await sb.stop()
    async with httpx.AsyncClient(timeout=2.0) as c:
        with pytest.raises(httpx.ConnectError):
            await c.post(f"{url}/plugin/list", json={"hash": KEY})


async def test_three_request_styles(sandbox: NavixySandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=5.0) as c:
        r_json = await c.post(
            "tracker/list_models",
            json={"codes": ["navixy_ngp"]},
            headers={"Authorization": f"NVX {KEY}"},
        )
        r_form = await c.post("tracker/list_models", data={"hash": KEY, "codes": '["navixy_ngp"]'})
        r_get = await c.get("tracker/list_models", params={"hash": KEY, "codes": '["navixy_ngp"]'})
    for response in (r_json, r_form, r_get):
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["success"] is True
        assert [m["code"] for m in body["list"]] == ["navixy_ngp"]
    calls = sandbox.calls_to("tracker/list_models")
    assert [(c.style, c.credential_via, c.credential) for c in calls] == [
        ("json", "header", KEY),
        ("form", "body", KEY),
        ("query", "query", KEY),
    ]
    assert calls[0].params == {"codes": ["navixy_ngp"]}
    assert calls[1].params == {"codes": '["navixy_ngp"]'}


async def test_form_style_coerces_ints(client: httpx.AsyncClient, sandbox: NavixySandbox) -> None:
    form = {k: str(v) for k, v in reg().items()}
    response = await client.post("tracker/register", data=form)
    assert response.status_code == 200, response.text
    assert response.json()["value"]["group_id"] == 0
    bad = await client.post("tracker/register", data={**form, "group_id": "zero"})
    assert bad.status_code == 400
    assert bad.json() == error(
        7, "Invalid parameters", errors=[{"parameter": "group_id", "error": "must be an integer"}]
    )


async def test_json_is_strictly_typed(client: httpx.AsyncClient) -> None:
    status, body = await post(client, "tracker/register", **reg(group_id="0", label=5))
    assert status == 400
    assert body == error(
        7,
        "Invalid parameters",
        errors=[
            {"parameter": "label", "error": "must be a string"},
            {"parameter": "group_id", "error": "must be an integer"},
        ],
    )


async def test_unknown_action_wrong_method_bad_json(client: httpx.AsyncClient) -> None:
    status, body = await post(client, "tracker/frobnicate")
    assert (status, body) == (400, error(111, "Wrong handler"))
    response = await client.put("plugin/list", json={})
    assert (response.status_code, response.json()) == (400, error(112, "Wrong method"))
    response = await client.post(
        "plugin/list", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (400, error(5, "Wrong request format"))
    response = await client.post(
        "plugin/list", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert response.json() == error(5, "Wrong request format")


# --------------------------------------------------------------------------- auth


async def test_credential_errors(sandbox: NavixySandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=5.0) as c:
        missing = await c.post("plugin/list", json={})
        unknown = await c.post("plugin/list", json={}, headers={"Authorization": "NVX " + "0" * 32})
        malformed = await c.post("plugin/list", json={}, headers={"Authorization": "NVX abc"})
        two_spaces = await c.post("plugin/list", json={}, headers={"Authorization": f"NVX  {KEY}"})
        bearer = await c.post("plugin/list", json={}, headers={"Authorization": f"Bearer {KEY}"})
        bad_body = await c.post("plugin/list", json={"hash": "zz" * 16})
    not_found = error(4, "User or API key not found or session ended")
    wrong = error(3, "Wrong hash")
    assert (missing.status_code, missing.json()) == (400, not_found)
    assert (unknown.status_code, unknown.json()) == (400, not_found)
    assert (malformed.status_code, malformed.json()) == (400, wrong)
    assert two_spaces.json() == wrong
    assert bearer.json() == wrong
    assert bad_body.json() == wrong


async def test_user_auth_sessions(sandbox: NavixySandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=5.0) as c:
        ok = await c.post("user/auth", json={"login": LOGIN, "password": PASSWORD})
        assert ok.status_code == 200
        body = ok.json()
        assert body["success"] is True and body["type"] == "authenticated"
        session = body["hash"]
        assert re.fullmatch(r"[0-9a-f]{32}", session)

        wrong = await c.post("user/auth", json={"login": LOGIN, "password": "nope"})
        assert (wrong.status_code, wrong.json()) == (400, error(102, "Wrong login or password"))
        missing = await c.post("user/auth", json={"login": LOGIN})
        assert missing.json() == error(
            7,
            "Invalid parameters",
            errors=[{"parameter": "password", "error": "required parameter is missing"}],
        )

        headers = {"Authorization": f"NVX {session}"}
        info = await c.post("user/get_info", json={}, headers=headers)
        assert info.status_code == 200
        info_body = info.json()
        assert info_body["user_info"]["legal_type"] == "legal_entity"
        assert info_body["privileges"] == {"rights": ["tracker_configure", "tracker_register"]}

        sandbox.expire_sessions()
        expired = await c.post("plugin/list", json={}, headers=headers)
        assert expired.json() == error(4, "User or API key not found or session ended")
        # API keys survive.
        still = await c.post("plugin/list", json={}, headers={"Authorization": f"NVX {KEY}"})
        assert still.status_code == 200
        new_key = sandbox.new_api_key()
        assert re.fullmatch(r"[0-9a-f]{32}", new_key)
        fresh = await c.post("plugin/list", json={}, headers={"Authorization": f"NVX {new_key}"})
        assert fresh.status_code == 200


# --------------------------------------------------------------------------- catalogue


async def test_list_models_plugins_groups(client: httpx.AsyncClient) -> None:
    status, body = await post(client, "tracker/list_models")
    assert status == 200 and len(body["list"]) == 77
    status, body = await post(client, "tracker/list_models", codes=["telfmb140", "nope"])
    assert [m["code"] for m in body["list"]] == ["telfmb140"]
    status, body = await post(client, "tracker/list_models", codes="telfmb140")
    assert status == 400 and body["status"]["code"] == 7

    status, body = await post(client, "plugin/list")
    assert status == 200
    assert [(p["id"], p["type"]) for p in body["list"]] == [
        (4, "tracker_report"),
        (44, "tracker_register"),
        (37, "tracker_register"),
        (35, "tracker_register"),
        (68, "tracker_register"),
    ]
    assert body["list"][3]["filter"] == {"exclusion": False, "values": ["mobile_unknown.*"]}

    status, body = await post(client, "tracker/group/list")
    assert body == {
        "success": True,
        "list": [
            {"id": 129301, "title": "Main office", "color": "FF6DDC"},
            {"id": 129302, "title": "Vans", "color": "3C8DBC"},
        ],
    }


async def test_apn_settings_read(client: httpx.AsyncClient) -> None:
    status, body = await post(client, "apn_settings/read", phone="491701234567")
    assert (status, body) == (
        200,
        {
            "success": True,
            "value": {
                "name": "internet.telekom",
                "user": "",
                "password": "",
                "operator_name": "Deutsche Telekom",
            },
        },
    )
    status, body = await post(client, "apn_settings/read", phone="491721234567")
    assert body["value"]["operator_name"] == "Vodafone DE"  # longest prefix wins
    status, body = await post(client, "apn_settings/read", phone="79161234567")
    assert body["value"] == {
        "name": "internet.mts.ru",
        "user": "mts",
        "password": "mts",
        "operator_name": "MTS",
    }
    status, body = await post(client, "apn_settings/read", phone="35512345678")
    assert (status, body) == (400, error(201, "Not found in database"))
    status, body = await post(client, "apn_settings/read", phone="+491701234567")
    assert (status, body) == (
        400,
        error(
            7,
            "Invalid parameters",
            errors=[{"parameter": "phone", "error": 'must match "^[0-9]{8,20}$"'}],
        ),
    )


# --------------------------------------------------------------------------- register


async def test_register_success(
    client: httpx.AsyncClient, sandbox: NavixySandbox, clock: FakeClock
) -> None:
    status, body = await post(client, "tracker/register", **reg())
    assert status == 200
    value = body["value"]
    today = value["source"]["creation_date"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", today)
    assert body == {
        "success": True,
        "value": {
            "id": value["id"],
            "label": "T571TO",
            "group_id": 0,
            "source": {
                "id": value["source"]["id"],
                "device_id": IMEI,
                "model": "telfmb140",
                "blocked": False,
                "tariff_id": 12163,
                "phone": "999999999969",
                "status_listing_id": None,
                "creation_date": today,
                "tariff_end_date": value["source"]["tariff_end_date"],
            },
            "clone": False,
        },
    }
    tracker = sandbox.trackers[value["id"]]
    assert (tracker.label, tracker.device_id, tracker.plugin_id) == ("T571TO", IMEI, 44)
    assert (tracker.apn_name, tracker.apn_user, tracker.apn_password) == (
        "internet",
        "user",
        "passwd",
    )
    assert tracker.created_at == clock.now
    assert tracker.source_id == value["source"]["id"]
    call = sandbox.calls_to("tracker/register")[0]
    assert (call.http_status, call.response) == (200, body)
    assert call.params == reg()

    status, listed = await post(client, "tracker/list")
    assert listed["list"] == [{**value, "tag_bindings": []}]
    status, read = await post(client, "tracker/read", tracker_id=value["id"])
    assert read == {"success": True, "value": value}


async def test_register_plugin_37_consumes_code(
    client: httpx.AsyncClient, sandbox: NavixySandbox
) -> None:
    # §8.2, with a model that may be registered.
    params = reg(
        label="Courier",
        plugin_id=37,
        model="qlgv55lite",
        phone="79123122312",
        activation_code=CODE,
        device_id="123451234512346",
    )
    status, body = await post(client, "tracker/register", **params)
    assert status == 200, body
    assert sandbox.trackers[body["value"]["id"]].activation_code == CODE
    again = {**params, "device_id": "123451234512347", "phone": "79123122313"}
    status, body = await post(client, "tracker/register", **again)
    assert (status, body) == (400, error(227, "Wrong activation code"))


async def test_register_mobile_app(client: httpx.AsyncClient) -> None:
    mobile = {"label": "Andrew", "group_id": 0, "model": "mobile_unknown_xgps"}
    status, body = await post(
        client, "tracker/register", **mobile, plugin_id=35, notification_phone="999877459965"
    )
    assert status == 200, body
    assert re.fullmatch(r"1\d{11}", body["value"]["source"]["device_id"])
    assert body["value"]["source"]["phone"] is None
    status, body = await post(client, "tracker/register", **mobile, plugin_id=68)
    assert body == error(
        7,
        "Invalid parameters",
        errors=[{"parameter": "activation_code", "error": "required parameter is missing"}],
    )
    status, body = await post(
        client, "tracker/register", **mobile, plugin_id=68, activation_code="6045325592"
    )
    assert status == 200
    status, body = await post(
        client, "tracker/register", **mobile, plugin_id=35, device_id="123456789012"
    )
    assert body["errors"] == [
        {
            "parameter": "device_id",
            "error": "must not be set: the platform assigns it for this model",
        }
    ]
    status, body = await post(
        client, "tracker/register", **mobile, plugin_id=35, phone="4917012345"
    )
    assert body["errors"] == [{"parameter": "phone", "error": "not supported for the mobile app"}]


async def test_register_generated_n_m_id(client: httpx.AsyncClient) -> None:
    value = await register_tracker(client, model="tt1_wp", device_id=None)  # id_type "10,2"
    assert re.fullmatch(r"2\d{9}", value["source"]["device_id"])


GENERAL = 'must match "^[0-9a-zA-Z\\-]{1,64}$"'


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        (
            {"label": None, "group_id": None},
            [
                {"parameter": "label", "error": "required parameter is missing"},
                {"parameter": "group_id", "error": "required parameter is missing"},
            ],
        ),
        ({"label": ""}, [{"parameter": "label", "error": "must be 1-60 printable characters"}]),
        (
            {"label": "x" * 61},
            [{"parameter": "label", "error": "must be 1-60 printable characters"}],
        ),
        ({"label": "a\tb"}, [{"parameter": "label", "error": "must be 1-60 printable characters"}]),
        ({"model": None}, [{"parameter": "model", "error": "required parameter is missing"}]),
        ({"plugin_id": "44"}, [{"parameter": "plugin_id", "error": "must be an integer"}]),
        (
            {"device_id": None},
            [{"parameter": "device_id", "error": "required parameter is missing"}],
        ),
        ({"device_id": "35693803564380_"}, [{"parameter": "device_id", "error": GENERAL}]),
        ({"device_id": "3569 3803 5643 809"}, [{"parameter": "device_id", "error": GENERAL}]),
        ({"device_id": "x" * 65}, [{"parameter": "device_id", "error": GENERAL}]),
        (
            {"device_id": "35693803564380"},
            [{"parameter": "device_id", "error": "must consist of 15-16 digits"}],
        ),
        (
            {"device_id": "35693803564380A"},
            [{"parameter": "device_id", "error": "must consist of 15-16 digits"}],
        ),
        (
            {"model": "navixy_ngp", "device_id": "a" * 33, "phone": None},
            [
                {
                    "parameter": "device_id",
                    "error": "must consist of 6-32 alphanumeric symbols or hyphens",
                }
            ],
        ),
        (
            {"model": "navixy_ngp", "device_id": "abc12", "phone": None},
            [
                {
                    "parameter": "device_id",
                    "error": "must consist of 6-32 alphanumeric symbols or hyphens",
                }
            ],
        ),
        (
            {"model": "box", "device_id": "1234567"},
            [{"parameter": "device_id", "error": "must consist of 8 digits"}],
        ),
        (
            {"model": "calamp_lmu2630", "device_id": "A10000009296FG"},
            [{"parameter": "device_id", "error": "must consist of 14 hexadecimal digits"}],
        ),
        ({"phone": None}, [{"parameter": "phone", "error": "required parameter is missing"}]),
        ({"phone": "+4917012345"}, [{"parameter": "phone", "error": 'must match "^[0-9]{8,20}$"'}]),
        ({"phone": "1234567"}, [{"parameter": "phone", "error": 'must match "^[0-9]{8,20}$"'}]),
        (
            {"apn_name": "inter,net"},
            [{"parameter": "apn_name", "error": 'must match "^[-a-zA-Z0-9_.@ ]{0,40}$"'}],
        ),
        (
            {"apn_user": "u" * 41},
            [{"parameter": "apn_user", "error": 'must match "^[-a-zA-Z0-9_.@ ]{0,40}$"'}],
        ),
        (
            {"apn_password": "pa\nss"},
            [
                {
                    "parameter": "apn_password",
                    "error": "must be at most 40 characters without control characters",
                }
            ],
        ),
        (
            {"activation_code": "12"},
            [{"parameter": "activation_code", "error": 'must match "^[0-9]{3,20}$"'}],
        ),
        (
            {"plugin_id": 37},
            [{"parameter": "activation_code", "error": "required parameter is missing"}],
        ),
        (
            {"notification_email": "not-an-email"},
            [{"parameter": "notification_email", "error": "must be a valid email address"}],
        ),
        (
            {"notification_phone": "12ab"},
            [{"parameter": "notification_phone", "error": 'must match "^[0-9]{8,20}$"'}],
        ),
    ],
)
async def test_register_invalid_parameters(
    client: httpx.AsyncClient,
    sandbox: NavixySandbox,
    overrides: dict[str, Any],
    errors: list[dict[str, str]],
) -> None:
    status, body = await post(client, "tracker/register", **reg(**overrides))
    assert (status, body) == (400, error(7, "Invalid parameters", errors=errors))
    assert sandbox.trackers == {}


async def test_register_accepts_other_id_types(client: httpx.AsyncClient) -> None:
    await register_tracker(client, device_id="3569380356438091")  # 16-digit IMEI
    await register_tracker(client, model="box", device_id="12345678", phone="4917000001")
    await register_tracker(
        client, model="calamp_lmu2630", device_id="A10000009296F2", phone="4917000002"
    )
    await register_tracker(client, model="navixy_ngp", device_id="fleet-sensor-0042", phone=None)
    await register_tracker(client, model="navixy_ngp", device_id="a" * 32, phone=None)


@pytest.mark.parametrize(
    ("overrides", "code", "http", "text"),
    [
        ({"group_id": 5}, 204, 404, "Entity not found"),
        ({"model": "no_such_model"}, 220, 400, "Unknown device model"),
        ({"model": "gv55lite"}, 220, 400, "Unknown device model"),  # register: false
        ({"plugin_id": 99}, 222, 400, "Plugin not found"),
        ({"plugin_id": 4}, 222, 400, "Plugin not found"),  # a report plugin
        ({"plugin_id": 35}, 222, 400, "Plugin not found"),  # mobile-only plugin
        ({"model": "mobile_unknown_xgps", "device_id": None}, 222, 400, "Plugin not found"),
        ({"activation_code": "999999999"}, 227, 400, "Wrong activation code"),
    ],
)
async def test_register_entity_errors(
    client: httpx.AsyncClient, overrides: dict[str, Any], code: int, http: int, text: str
) -> None:
    status, body = await post(client, "tracker/register", **reg(**overrides))
    assert (status, body) == (http, error(code, text))


async def test_register_group(client: httpx.AsyncClient) -> None:
    value = await register_tracker(client, group_id=129302)
    assert value["group_id"] == 129302


async def test_register_duplicates(client: httpx.AsyncClient, sandbox: NavixySandbox) -> None:
    await register_tracker(client)
    status, body = await post(client, "tracker/register", **reg(phone="4917000009"))
    assert (status, body) == (400, error(224, "Device ID already in use"))
    status, body = await post(client, "tracker/register", **reg(device_id="356938035643809"))
    assert (status, body) == (400, error(223, "Phone number already in use"))

    sandbox.preregister("356938035643817")
    status, body = await post(
        client, "tracker/register", **reg(device_id="356938035643817", phone="4917000010")
    )
    assert (status, body) == (400, error(224, "Device ID already in use"))
    status, listed = await post(client, "tracker/list")
    assert [t["source"]["device_id"] for t in listed["list"]] == [IMEI]


async def test_register_account_limits(clock: FakeClock, rate_clock: FakeClock) -> None:
    async with (
        make_sandbox(clock, rate_clock, device_limit=1) as limited,
        make_sandbox(clock, rate_clock, legal_type_allowed=False) as legal,
        make_sandbox(clock, rate_clock, rights=["tracker_configure"]) as norights,
        httpx.AsyncClient(headers={"Authorization": f"NVX {KEY}"}, timeout=5.0) as c,
    ):
        ok = await c.post(f"{limited.base_url}/tracker/register", json=reg())
        assert ok.status_code == 200
        over = await c.post(
            f"{limited.base_url}/tracker/register",
            json=reg(device_id="356938035643809", phone="4917000001"),
        )
        assert (over.status_code, over.json()) == (403, error(221, "Device limit exceeded"))
        r = await c.post(f"{legal.base_url}/tracker/register", json=reg())
        assert (r.status_code, r.json()) == (403, error(225, "Not allowed for this legal type"))
        r = await c.post(f"{norights.base_url}/tracker/register", json=reg())
        assert (r.status_code, r.json()) == (403, error(13, "Operation not permitted"))


# --------------------------------------------------------------------------- list / read


async def test_tracker_list_labels_contains(client: httpx.AsyncClient) -> None:
    for i, label in enumerate(["aa1", "bb2", "cc3"]):
        await register_tracker(
            client, label=label, device_id=f"35693803564380{i}", phone=f"491700000{i}"
        )
    status, body = await post(client, "tracker/list", labels=["aa", "b"])
    assert [t["label"] for t in body["list"]] == ["aa1", "bb2"]
    response = await client.get("tracker/list", params={"labels": '["c3"]'})
    assert [t["label"] for t in response.json()["list"]] == ["cc3"]
    for labels in ([], [""], ["x" * 61], ["a", "a"], [None], ["a"] * 1025):
        status, body = await post(client, "tracker/list", labels=labels)
        assert status == 400 and body["status"]["code"] == 7, labels
        assert body["errors"][0]["parameter"] == "labels"


async def test_tracker_read_unknown(client: httpx.AsyncClient) -> None:
    status, body = await post(client, "tracker/read", tracker_id=1)
    assert (status, body) == (400, error(201, "Not found in database"))


# --------------------------------------------------------------------------- states


async def state_of(client: httpx.AsyncClient, tracker_id: int) -> dict[str, Any]:
    status, body = await post(client, "tracker/get_state", tracker_id=tracker_id)
    assert status == 200, body
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", body["user_time"])
    state: dict[str, Any] = body["state"]
    return state


async def test_get_state_default_script(client: httpx.AsyncClient, clock: FakeClock) -> None:
    tracker_id = (await register_tracker(client))["id"]
    state = await state_of(client, tracker_id)
    assert state["connection_status"] == "just_registered"
    assert state["gps"]["updated"] is None and state["last_update"] is None
    clock.advance(29.9)
    assert (await state_of(client, tracker_id))["connection_status"] == "just_registered"
    clock.advance(0.1)
    state = await state_of(client, tracker_id)
    assert state["connection_status"] == "active"
    assert state["gps"]["location"] == {"lat": 52.52, "lng": 13.405}
    assert state["gps"]["updated"] == state["last_update"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", state["last_update"])
    assert state["ignition"] is False
    assert state["gsm"]["signal_level"] == 80
    assert state["additional"]["board_voltage"]["value"] == "12.6"
    assert state["source_id"] > 0


async def test_get_state_scripts(
    client: httpx.AsyncClient, sandbox: NavixySandbox, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=5, gps_fix=False, offline_after=60))
    tracker_id = (await register_tracker(client))["id"]
    clock.advance(5)
    state = await state_of(client, tracker_id)
    assert state["connection_status"] == "idle"
    assert state["gps"]["updated"] is None and state["last_update"] is not None
    clock.advance(60)
    state = await state_of(client, tracker_id)
    assert state["connection_status"] == "offline"
    last = state["last_update"]
    clock.advance(100)
    assert (await state_of(client, tracker_id))["last_update"] == last

    never = "356938035643809"
    sandbox.script_device(never, DeviceScript(online_after=None))
    other = (await register_tracker(client, device_id=never, phone="4917000001"))["id"]
    clock.advance(10_000)
    assert (await state_of(client, other))["connection_status"] == "just_registered"

    sandbox.trackers[other].blocked = True
    status, body = await post(client, "tracker/get_state", tracker_id=other)
    assert (status, body) == (403, error(208, "Device blocked"))
    status, body = await post(client, "tracker/get_state", tracker_id=42)
    assert (status, body) == (400, error(201, "Not found in database"))


async def test_needs_retry_and_register_retry(
    client: httpx.AsyncClient, sandbox: NavixySandbox, clock: FakeClock
) -> None:
    sandbox.script_device(IMEI, DeviceScript(online_after=20, needs_retry=True))
    value = await register_tracker(client)
    tracker_id = value["id"]
    clock.advance(600)
    assert (await state_of(client, tracker_id))["connection_status"] == "just_registered"

    status, body = await post(
        client,
        "tracker/register_retry",
        tracker_id=tracker_id,
        apn_name="fast.tmobile.com",
        apn_user="tmobile",
        apn_password="tmobile",
    )
    assert status == 200
    assert body == {"success": True, "value": {**value, "tag_bindings": []}}
    tracker = sandbox.trackers[tracker_id]
    assert (tracker.retries, tracker.apn_name, tracker.apn_user) == (
        1,
        "fast.tmobile.com",
        "tmobile",
    )
    clock.advance(19)
    assert (await state_of(client, tracker_id))["connection_status"] == "just_registered"
    clock.advance(1)
    assert (await state_of(client, tracker_id))["connection_status"] == "active"

    status, body = await post(client, "tracker/register_retry", device_id=IMEI)
    assert (status, body) == (400, error(242, "Device already connected"))
    assert tracker.retries == 1


async def test_register_retry_errors(client: httpx.AsyncClient, sandbox: NavixySandbox) -> None:
    status, body = await post(client, "tracker/register_retry")
    assert body == error(
        7,
        "Invalid parameters",
        errors=[{"parameter": "tracker_id", "error": "required parameter is missing"}],
    )
    status, body = await post(client, "tracker/register_retry", tracker_id=1)
    assert (status, body) == (400, error(201, "Not found in database"))

    tracker_id = (await register_tracker(client))["id"]
    status, body = await post(
        client, "tracker/register_retry", tracker_id=tracker_id, apn_name="a,b"
    )
    assert body["status"]["code"] == 7

    sandbox.trackers[tracker_id].clone = True
    status, body = await post(client, "tracker/register_retry", tracker_id=tracker_id)
    assert (status, body) == (403, error(219, "Not allowed for clones of the device"))
    sandbox.trackers[tracker_id].blocked = True
    status, body = await post(client, "tracker/register_retry", tracker_id=tracker_id)
    assert (status, body) == (403, error(208, "Device blocked"))

    ngp = (await register_tracker(client, model="navixy_ngp", device_id="fleet-1", phone=None))[
        "id"
    ]
    status, body = await post(client, "tracker/register_retry", tracker_id=ngp)
    assert (status, body) == (
        400,
        error(214, "Requested operation or parameters are not supported by the device"),
    )
    app = await register_tracker(
        client,
        model="mobile_unknown_xgps",
        plugin_id=35,
        device_id=None,
        phone=None,
        apn_name=None,
        apn_user=None,
        apn_password=None,
    )
    status, body = await post(client, "tracker/register_retry", tracker_id=app["id"])
    assert (status, body) == (403, error(13, "Operation not permitted"))


async def test_get_states(
    client: httpx.AsyncClient, sandbox: NavixySandbox, clock: FakeClock
) -> None:
    first = (await register_tracker(client))["id"]
    second = (await register_tracker(client, device_id="356938035643809", phone="4917000001"))["id"]
    sandbox.trackers[second].blocked = True
    clock.advance(30)
    status, body = await post(client, "tracker/get_states", trackers=[first, second, 7])
    assert status == 200
    assert list(body["states"]) == [str(first)]
    assert body["states"][str(first)]["connection_status"] == "active"
    assert body["blocked"] == [second]
    assert body["not_exist"] == [7]
    response = await client.get("tracker/get_states", params={"trackers": f"[{first}]"})
    assert list(response.json()["states"]) == [str(first)]
    status, body = await post(client, "tracker/get_states", trackers=list(range(2001)))
    assert (status, body["status"]["code"]) == (400, 7)
    status, body = await post(client, "tracker/get_states", trackers=["x"])
    assert (status, body["status"]["code"]) == (400, 7)


# --------------------------------------------------------------------------- faults


async def test_error_fault(client: httpx.AsyncClient, sandbox: NavixySandbox) -> None:
    sandbox.inject("tracker/register", ErrorFault(221))
    sandbox.inject(
        "tracker/register", ErrorFault(7, "Invalid parameters", [{"parameter": "x", "error": "y"}])
    )
    status, body = await post(client, "tracker/register", **reg())
    assert (status, body) == (403, error(221, "Device limit exceeded"))
    status, body = await post(client, "tracker/register", **reg())
    assert (status, body) == (
        400,
        error(7, "Invalid parameters", errors=[{"parameter": "x", "error": "y"}]),
    )
    assert sandbox.trackers == {}
    status, body = await post(client, "tracker/register", **reg())
    assert status == 200
    sandbox.inject("tracker/register_retry", ErrorFault(242))
    status, body = await post(client, "tracker/register_retry", tracker_id=body["value"]["id"])
    assert body == error(242, "Device already connected")
    sandbox.inject("plugin/list", ErrorFault(8, "Queue is full"), times=2)
    for _ in range(2):
        r = await client.post("plugin/list", json={})
        assert (r.status_code, r.json()) == (503, error(8, "Queue is full"))
    assert (await client.post("plugin/list", json={})).status_code == 200


async def test_drop_after_commit(client: httpx.AsyncClient, sandbox: NavixySandbox) -> None:
    sandbox.inject("tracker/register", DropAfterCommit())
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await client.post("tracker/register", json=reg())
    assert [t.device_id for t in sandbox.trackers.values()] == [IMEI]
    call = sandbox.calls_to("tracker/register")[0]
    assert (call.http_status, call.response) == (0, None)
    _, body = await post(client, "tracker/list", labels=["T571TO"])
    assert [t["source"]["device_id"] for t in body["list"]] == [IMEI]
    _, body = await post(client, "tracker/register", **reg())
    assert body == error(224, "Device ID already in use")


async def test_drop_before_commit(client: httpx.AsyncClient, sandbox: NavixySandbox) -> None:
    sandbox.inject("tracker/register", DropBeforeCommit())
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await client.post("tracker/register", json=reg())
    assert sandbox.trackers == {}
    call = sandbox.calls_to("tracker/register")[0]
    assert (call.http_status, call.params, call.credential) == (0, reg(), KEY)
    await register_tracker(client)


async def test_delay_then_commit(client: httpx.AsyncClient, sandbox: NavixySandbox) -> None:
    sandbox.inject("tracker/register", Delay(0.5))
    with pytest.raises(httpx.ReadTimeout):
        await client.post("tracker/register", json=reg(), timeout=0.1)
    # The server still handles the request after its delay: the outcome was unknown.
    async with asyncio.timeout(5):
        [call] = await sandbox.wait_for_calls("tracker/register")
    assert call.http_status == 200
    assert [t.device_id for t in sandbox.trackers.values()] == [IMEI]
    sandbox.inject("plugin/list", Delay(0.05))
    assert (await client.post("plugin/list", json={})).status_code == 200


async def test_hold_until_released(client: httpx.AsyncClient, sandbox: NavixySandbox) -> None:
    late = Hold()
    sandbox.inject("tracker/register", late)
    with pytest.raises(httpx.ReadTimeout):
        await client.post("tracker/register", json=reg(), timeout=0.1)
    assert not sandbox.trackers  # held: nothing done yet
    late.release()
    async with asyncio.timeout(5):
        [call] = await sandbox.wait_for_calls("tracker/register")
    assert call.http_status == 200
    assert [t.device_id for t in sandbox.trackers.values()] == [IMEI]


async def test_raw_http(client: httpx.AsyncClient, sandbox: NavixySandbox) -> None:
    sandbox.inject("tracker/list", RawHttp(502))
    response = await client.post("tracker/list", json={})
    assert response.status_code == 502
    assert response.text == "<html>Bad Gateway</html>"
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert sandbox.calls_to("tracker/list")[0].http_status == 502
    assert (await client.post("tracker/list", json={})).status_code == 200


async def test_stop_with_a_pending_delay(clock: FakeClock, rate_clock: FakeClock) -> None:
    sb = make_sandbox(clock, rate_clock)
    await sb.start()
    sb.inject("plugin/list", Delay(30))
    async with httpx.AsyncClient(headers={"Authorization": f"NVX {KEY}"}, timeout=0.2) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.post(f"{sb.base_url}/plugin/list", json={})
    async with asyncio.timeout(5):
        await sb.stop()


# --------------------------------------------------------------------------- rate limit


async def test_rate_limit_per_credential(
    client: httpx.AsyncClient, sandbox: NavixySandbox, rate_clock: FakeClock
) -> None:
    for _ in range(50):
        assert (await client.post("plugin/list", json={})).status_code == 200
        rate_clock.advance(0.001)
    over = await client.post("plugin/list", json={})
    assert (over.status_code, over.json()) == (
        429,
        error(15, "Too many requests (rate limit exceeded)"),
    )
    other = await client.post("plugin/list", json={}, headers={"Authorization": f"NVX {OTHER_KEY}"})
    assert other.status_code == 200
    rate_clock.advance(0.96)  # the first hits leave the 1 s window
    assert (await client.post("plugin/list", json={})).status_code == 200


async def test_rate_limit_real_clock() -> None:
    async with (
        NavixySandbox(api_keys=[KEY], rate_limit_per_second=3) as sb,
        httpx.AsyncClient(headers={"Authorization": f"NVX {KEY}"}, timeout=5.0) as c,
    ):
        codes = [
            (await c.post(f"{sb.base_url}/plugin/list", json={})).status_code for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]


# --------------------------------------------------------------------------- secrets


async def test_logs_hold_no_secrets(
    client: httpx.AsyncClient, sandbox: NavixySandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=5.0) as c:
        auth = await c.post("user/auth", json={"login": LOGIN, "password": PASSWORD})
        session = auth.json()["hash"]
        await c.get("plugin/list", params={"hash": session})
    await register_tracker(client, plugin_id=37, activation_code=CODE, apn_password="topsecret")
    assert sandbox.calls_to("tracker/register")
    # Only the server side's logs (the test's own httpx client logs its URLs).
    text = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("bot.", "aiohttp"))
    )
    assert "registered tracker" in text
    for secret in (KEY, PASSWORD, session, CODE, "topsecret"):
        assert secret not in text


# --------------------------------------------------------------------------- bot payload models


async def test_responses_parse_with_the_bot_models(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    from bot.navixy.models import (
        ApnSettings,
        DeviceModel,
        Plugin,
        Tracker,
        TrackerGroup,
        TrackerState,
    )

    _, models = await post(client, "tracker/list_models")
    assert len([DeviceModel.model_validate(m) for m in models["list"]]) == 77
    _, plugins = await post(client, "plugin/list")
    assert [Plugin.model_validate(p).id for p in plugins["list"]] == [4, 44, 37, 35, 68]
    _, groups = await post(client, "tracker/group/list")
    assert TrackerGroup.model_validate(groups["list"][0]).title == "Main office"
    _, apn = await post(client, "apn_settings/read", phone="491701234567")
    assert ApnSettings.model_validate(apn["value"]).name == "internet.telekom"
    tracker = Tracker.model_validate(await register_tracker(client))
    assert tracker.source.device_id == IMEI
    state = TrackerState.model_validate(await state_of(client, tracker.id))
    assert state.connection_status == "just_registered" and state.gps is not None
    clock.advance(30)
    state = TrackerState.model_validate(await state_of(client, tracker.id))
    assert state.connection_status == "active"
    assert state.gps is not None and state.gps.location is not None
