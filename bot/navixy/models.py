"""Typed views of the Navixy API v2 payloads the bot uses.

Navixy may leave out null fields and adds new fields over time, so every model
ignores unknown keys and gives missing optional fields a default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Battery(_Payload):
    min_charge: float | None = None
    low_charge: float | None = None
    max_charge: float | None = None


class Connection(_Payload):
    protocol: str | None = None
    transport: str | None = None
    url: str | None = None
    description: str | None = None


class DeviceModel(_Payload):
    """One entry of `tracker/list_models`."""

    id: int
    vendor: str = ""
    code: str
    parent_code: str | None = None
    type: str | None = None
    name: str = ""
    id_type: str = "imei"
    has_phone: bool = False
    has_apn_settings: bool = False
    # `register` in the API; renamed because BaseModel has no business owning that name.
    registrable: bool = Field(default=True, alias="register")
    has_auto_registration: bool = False
    check_bundle: bool = False
    port: int | None = None
    battery: Battery | None = None
    gsm_level: bool = False
    gsm_network: bool = False
    gsm_roaming: bool = False
    inputs: list[str] = Field(default_factory=list)
    state_fields: list[str] = Field(default_factory=list)
    connection: list[Connection] = Field(default_factory=list)

    @property
    def title(self) -> str:
        """The model as installers know it, e.g. "Teltonika FMB140" (the vendor only once)."""
        name = self.name or self.code
        if self.vendor and not name.lower().startswith(self.vendor.lower()):
            name = f"{self.vendor} {name}"
        return name

    @property
    def is_mobile_app(self) -> bool:
        return self.code.startswith(("mobile_unknown", "navixymobile", "iosnavixytracker"))


class PluginFilter(_Payload):
    exclusion: bool = True
    values: list[str] = Field(default_factory=list)


class Plugin(_Payload):
    """One entry of `plugin/list`."""

    id: int
    type: str
    module: str | None = None
    ui_module: str | None = None
    filter: PluginFilter = Field(default_factory=PluginFilter)


class TrackerGroup(_Payload):
    """One entry of `tracker/group/list` (group 0, "no group", is never listed)."""

    id: int
    title: str
    color: str | None = None


class ApnSettings(_Payload):
    """`apn_settings/read` value: the operator's APN for a SIM phone number."""

    name: str = ""
    user: str = ""
    password: str = ""
    operator_name: str | None = None


class TrackerSource(_Payload):
    id: int
    device_id: str
    model: str
    blocked: bool = False
    tariff_id: int | None = None
    phone: str | None = None
    status_listing_id: int | None = None
    creation_date: str | None = None
    tariff_end_date: str | None = None


class Tracker(_Payload):
    """A tracker object (`tracker/register`, `tracker/list`, `tracker/register_retry`)."""

    id: int
    label: str
    group_id: int = 0
    clone: bool = False
    source: TrackerSource


ConnectionStatus = Literal[
    "signal_lost", "just_registered", "just_replaced", "offline", "idle", "active"
]


class Location(_Payload):
    lat: float
    lng: float


class GpsState(_Payload):
    updated: str | None = None
    signal_level: int | None = None
    location: Location | None = None
    heading: int | None = None
    speed: float | None = None
    alt: float | None = None
    precision: int | None = None
    gsm_lbs: bool | None = None


class GsmState(_Payload):
    updated: str | None = None
    signal_level: int | None = None
    network_name: str | None = None
    roaming: bool | None = None


class TrackerState(_Payload):
    """`tracker/get_state` state."""

    source_id: int | None = None
    gps: GpsState | None = None
    connection_status: str = "just_registered"
    movement_status: str | None = None
    ignition: bool | None = None
    ignition_update: str | None = None
    gsm: GsmState | None = None
    last_update: str | None = None
    battery_level: int | None = None
    battery_update: str | None = None
    inputs: list[bool] = Field(default_factory=list)
    outputs: list[bool] = Field(default_factory=list)
    additional: dict[str, dict[str, object]] = Field(default_factory=dict)


class RegisterRequest(BaseModel):
    """Parameters of `tracker/register`. None fields are not sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    group_id: int
    plugin_id: int
    model: str
    device_id: str | None = None
    phone: str | None = None
    apn_name: str | None = None
    apn_user: str | None = None
    apn_password: str | None = None
    activation_code: str | None = None
    notification_phone: str | None = None
    notification_email: str | None = None
    send_register_commands: bool | None = None

    def params(self) -> dict[str, object]:
        return self.model_dump(exclude_none=True)


class FieldError(_Payload):
    """One item of the `errors[]` array of error 7."""

    parameter: str = ""
    error: str = ""
