"""Navixy error codes (docs/navixy-api.md §3) and the exception the handlers raise."""

from __future__ import annotations

from typing import Any

# code -> (description, HTTP status). HTTP status is 400 unless listed in the docs table.
ERROR_TABLE: dict[int, tuple[str, int]] = {
    1: ("Database error", 500),
    2: ("Service auth error", 403),
    3: ("Wrong hash", 400),
    4: ("User or API key not found or session ended", 400),
    5: ("Wrong request format", 400),
    6: ("Unexpected error", 500),
    7: ("Invalid parameters", 400),
    8: ("Queue service error, try again later", 503),
    9: ("Too large request", 412),
    11: ("Access denied", 403),
    12: ("Dealer not found", 400),
    13: ("Operation not permitted", 403),
    14: ("Database unavailable", 503),
    15: ("Too many requests (rate limit exceeded)", 429),
    101: ("Function disabled in demo mode", 403),
    102: ("Wrong login or password", 400),
    103: ("User not activated", 400),
    104: ("Logins limit exceeded", 400),
    105: ("Login attempts limit exceeded", 400),
    111: ("Wrong handler", 400),
    112: ("Wrong method", 400),
    201: ("Not found in database", 400),
    202: ("Too many points in zone", 400),
    203: ("Delete entity associated with", 400),
    204: ("Entity not found", 404),
    206: ("Login already in use", 400),
    207: ("Invalid captcha", 400),
    208: ("Device blocked", 403),
    209: ("Failed sending email", 400),
    210: ("Geocoding failed", 400),
    211: ("Requested time span is too big", 400),
    212: ("Requested limit is too big", 400),
    213: ("Cannot perform action: the device is offline", 400),
    214: ("Requested operation or parameters are not supported by the device", 400),
    215: ("External service error", 400),
    217: ("List contains nonexistent entities", 400),
    218: ("Malformed external service parameters", 400),
    219: ("Not allowed for clones of the device", 403),
    220: ("Unknown device model", 400),
    221: ("Device limit exceeded", 403),
    222: ("Plugin not found", 400),
    223: ("Phone number already in use", 400),
    224: ("Device ID already in use", 400),
    225: ("Not allowed for this legal type", 403),
    226: ("Wrong ICCID", 400),
    227: ("Wrong activation code", 400),
    228: ("Not supported by sensor", 400),
    229: ("Requested data is not ready yet", 404),
    230: ("Not supported for this entity type", 400),
    231: ("Entity type mismatch", 409),
    232: ("Input already in use", 400),
    233: ("No data file", 400),
    234: ("Invalid data format", 400),
    235: ("Missing calibration data", 400),
    236: ("Feature unavailable due to tariff restrictions", 402),
    237: ("Invalid tariff", 400),
    238: ("Changing tariff is not allowed", 403),
    239: ("New tariff does not exist", 404),
    240: ("Not allowed to change tariff too frequently", 403),
    241: ("Cannot change phone to bundled sim", 400),
    242: ("There were errors during content validation", 400),
    243: ("Device already connected", 400),
    244: ("Duplicate entity label", 400),
    245: ("New password must be different", 400),
    246: ("Invalid user ID", 400),
    247: ("Entity already exists", 409),
    248: ("Wrong password", 400),
    249: ("Operation available for clones only", 403),
    250: ("Not allowed for deleted devices", 403),
    251: ("Insufficient funds", 403),
    252: ("Device already corrupted", 400),
    253: ("Device has clones", 400),
    254: ("Cannot save file", 500),
    255: ("Invalid task state", 400),
    256: ("Location already actual", 400),
    257: ("Registration forbidden", 403),
    258: ("Bundle not found", 404),
    259: ("Payments count do not comply with summary", 400),
    260: ("Payments sum do not comply with summary", 400),
    261: ("Entity has external links", 403),
    262: ("Entries list is missing some entries or contains nonexistent entries", 400),
    263: ("No change needed, old and new values are the same", 400),
    264: ("Timeout not reached", 403),
    265: ("Already done", 403),
    266: ("Cannot perform action for the device in current status", 403),
    267: ("Too many entities", 400),
    268: ("Over quota", 402),
    269: ("Invalid file state", 400),
    270: ("Too many sensors of same type already exist", 400),
    271: ("File over max size", 413),
    272: ("Trackers must have same models", 400),
    273: ("Duplicate login", 400),
    274: ("Empty data file", 400),
    275: ("User is blocked", 403),
    276: ("Action is forbidden for received session type", 403),
    277: ("Security group has users", 409),
    278: ("Security group is a default one", 409),
    279: ("Invalid task period", 400),
    280: ("Invalid import request state", 400),
    281: ("This resource is closed", 400),
    282: ("Wrong authentication code", 400),
    284: ("Not enough points for the specified zone type", 400),
}

# register_retry / replace_retry use 242 for "device already connected" (docs §9).
DEVICE_ALREADY_CONNECTED = "Device already connected"


def http_status(code: int) -> int:
    return ERROR_TABLE.get(code, ("", 400))[1]


def description(code: int) -> str:
    return ERROR_TABLE.get(code, (f"Error {code}", 400))[0]


class ApiError(Exception):
    """A Navixy error answer: `{"success": false, "status": {...}}` (+ `errors` for 7)."""

    def __init__(
        self,
        code: int,
        text: str | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        self.code = code
        self.description = text if text is not None else description(code)
        self.errors = errors
        super().__init__(f"{code}: {self.description}")

    @property
    def http_status(self) -> int:
        return http_status(self.code)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "success": False,
            "status": {"code": self.code, "description": self.description},
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def invalid(parameter: str, error: str) -> ApiError:
    """Error 7 for one parameter."""
    return ApiError(7, errors=[{"parameter": parameter, "error": error}])
