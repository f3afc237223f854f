"""The stand-in's records: trackers, recorded calls, and device states over time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.faults import DeviceScript

TARIFF_ID = 12163

# connection_status values that count as "connected" (register_retry answers 242).
CONNECTED = ("active", "idle")


@dataclass
class SandboxCall:
    """One request the stand-in received.

    `params` are the parameters as sent (without `hash`): typed values for JSON bodies, text
    for the form and GET styles. `http_status` is 0 and `response` None when the connection
    was dropped; `response` is None for a `RawHttp` fault. `style` is "json", "form" or
    "query"; `credential_via` is "header", "body" or "query".
    """

    action: str
    params: dict[str, Any]
    credential: str | None
    http_status: int
    response: dict[str, Any] | None
    style: str = "json"
    credential_via: str | None = None


@dataclass
class SandboxTracker:
    """A tracker of the sandbox account. Mutable: tests may set `blocked` or `clone`."""

    id: int
    label: str
    group_id: int
    model: str
    device_id: str
    phone: str | None
    apn_name: str | None
    apn_user: str | None
    apn_password: str | None
    plugin_id: int
    created_at: float
    retries: int = 0
    blocked: bool = False
    clone: bool = False
    source_id: int = 0
    activation_code: str | None = None
    notification_phone: str | None = None
    notification_email: str | None = None
    send_register_commands: bool | None = None
    last_retry_at: float | None = None
    creation_date: str = ""
    tariff_end_date: str = ""
    script: DeviceScript = field(default_factory=DeviceScript)

    def to_json(self, *, tag_bindings: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "group_id": self.group_id,
            "source": {
                "id": self.source_id,
                "device_id": self.device_id,
                "model": self.model,
                "blocked": self.blocked,
                "tariff_id": TARIFF_ID,
                "phone": self.phone,
                "status_listing_id": None,
                "creation_date": self.creation_date,
                "tariff_end_date": self.tariff_end_date,
            },
            "clone": self.clone,
        }
        if tag_bindings:
            body["tag_bindings"] = []
        return body

    def connected_at(self) -> float | None:
        """Clock time the device (first) connects under its script; None = not scheduled."""
        script = self.script
        if script.online_after is None:
            return None
        base = self.last_retry_at if script.needs_retry else self.created_at
        if base is None:
            return None
        return base + script.online_after

    def connection_status(self, now: float) -> str:
        connected = self.connected_at()
        if connected is None or now < connected:
            return "just_registered"
        offline_after = self.script.offline_after
        if offline_after is not None and now >= connected + offline_after:
            return "offline"
        return "active" if self.script.gps_fix else "idle"

    def state(self, now: float, stamp: Callable[[float], str]) -> dict[str, Any]:
        """The `tracker/get_state` state object (docs §8.8) at clock time `now`."""
        status = self.connection_status(now)
        script = self.script
        connected = self.connected_at()
        if status == "just_registered" or connected is None:
            return {
                "source_id": self.source_id,
                "gps": {
                    "updated": None,
                    "signal_level": None,
                    "location": None,
                    "heading": 0,
                    "speed": 0,
                    "alt": 0,
                },
                "connection_status": "just_registered",
                "movement_status": "parked",
                "movement_status_update": None,
                "ignition": None,
                "ignition_update": None,
                "gsm": None,
                "last_update": None,
                "battery_level": None,
                "battery_update": None,
                "inputs": [],
                "inputs_update": None,
                "outputs": [],
                "outputs_update": None,
                "additional": {},
                "actual_track_update": None,
            }
        # The device sends continuously while connected; its last packet is "now" or the
        # moment it went offline.
        last = now
        if status == "offline" and script.offline_after is not None:
            last = connected + script.offline_after
        last_s = stamp(last)
        first_s = stamp(connected)
        lat, lng = script.location
        gps: dict[str, Any] = {
            "updated": last_s if script.gps_fix else None,
            "signal_level": 100 if script.gps_fix else 0,
            "location": {"lat": lat, "lng": lng} if script.gps_fix else None,
            "heading": 0,
            "speed": 0,
            "alt": 0,
        }
        gsm: dict[str, Any] | None = None
        if script.gsm_level is not None:
            gsm = {
                "updated": last_s,
                "signal_level": script.gsm_level,
                "network_name": "Sandbox Mobile",
                "roaming": False,
            }
        additional: dict[str, Any] = {}
        if script.board_voltage is not None:
            additional["board_voltage"] = {"value": str(script.board_voltage), "updated": last_s}
        return {
            "source_id": self.source_id,
            "gps": gps,
            "connection_status": status,
            "movement_status": "parked",
            "movement_status_update": first_s,
            "ignition": script.ignition,
            "ignition_update": first_s if script.ignition is not None else None,
            "gsm": gsm,
            "last_update": last_s,
            "battery_level": 100,
            "battery_update": last_s,
            "inputs": [False, False],
            "inputs_update": last_s,
            "outputs": [False],
            "outputs_update": last_s,
            "additional": additional,
            "actual_track_update": first_s,
        }
