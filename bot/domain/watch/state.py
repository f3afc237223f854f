"""What the device reports: a `get_state` answer summarised in the installer's terms,
and the watch's typed `LastState` (the latest answer, as stored).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.domain.watch.schedule import CONNECTED
from bot.navixy.models import TrackerState

# --- what the device reports ----------------------------------------------------------------

NAVIXY_TIME = "%Y-%m-%d %H:%M:%S"


def parse_navixy_time(value: str | None) -> datetime | None:
    """`yyyy-MM-dd HH:mm:ss` (the user's time zone) or ISO 8601; None if unreadable."""
    if not value:
        return None
    try:
        return datetime.strptime(value, NAVIXY_TIME)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=None)


def seconds_between(earlier: str | None, later: str | None) -> float | None:
    """Seconds from `earlier` to `later` (both Navixy times in the same zone)."""
    a, b = parse_navixy_time(earlier), parse_navixy_time(later)
    if a is None or b is None:
        return None
    return max((b - a).total_seconds(), 0.0)


class Connection(StrEnum):
    WAITING = "just_registered"
    REPLACED = "just_replaced"
    ACTIVE = "active"
    IDLE = "idle"
    OFFLINE = "offline"
    SIGNAL_LOST = "signal_lost"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StateSummary:
    """What a `get_state` answer says, in the installer's terms. None = not reported."""

    connection: Connection
    connected: bool
    has_fix: bool
    lat: float | None = None
    lng: float | None = None
    fix_age: float | None = None  # seconds before the answer's user_time
    gsm_level: int | None = None
    roaming: bool | None = None
    network: str | None = None
    board_voltage: float | None = None
    battery_level: int | None = None
    ignition: bool | None = None
    cell_position: bool = False  # position from cell towers (gps.gsm_lbs)


def _voltage(additional: Mapping[str, Mapping[str, object]]) -> float | None:
    for key in ("board_voltage", "power_voltage", "external_voltage"):
        item = additional.get(key)
        if item is None:
            continue
        try:
            value = float(str(item.get("value")))
        except ValueError:
            continue
        if math.isfinite(value):
            return value
    return None


def reports_fix(state: TrackerState) -> bool:
    """Does the state carry a GPS fix (a position and when it was taken)?"""
    gps = state.gps
    return gps is not None and gps.updated is not None and gps.location is not None


def summarize(state: TrackerState, user_time: str | None = None) -> StateSummary:
    try:
        connection = Connection(state.connection_status)
    except ValueError:
        connection = Connection.UNKNOWN
    gps = state.gps
    location = gps.location if gps is not None else None
    has_fix = reports_fix(state)
    gsm = state.gsm
    return StateSummary(
        connection=connection,
        connected=state.connection_status in CONNECTED,
        has_fix=has_fix,
        lat=location.lat if has_fix and location is not None else None,
        lng=location.lng if has_fix and location is not None else None,
        fix_age=seconds_between(gps.updated, user_time) if has_fix and gps is not None else None,
        gsm_level=gsm.signal_level if gsm is not None else None,
        roaming=gsm.roaming if gsm is not None else None,
        network=gsm.network_name if gsm is not None else None,
        board_voltage=_voltage(state.additional),
        battery_level=state.battery_level,
        ignition=state.ignition,
        cell_position=bool(gps is not None and gps.gsm_lbs),
    )


@dataclass(frozen=True)
class LastState:
    """The latest `get_state` answer of a watched device, at the account's `user_time`."""

    state: TrackerState
    user_time: str | None = None

    def summary(self) -> StateSummary:
        return summarize(self.state, self.user_time)

    def says_the_same(self, state: TrackerState, user_time: str | None) -> bool:
        """Would a new answer tell nothing new? The `user_time` only dates a GPS fix, so
        without a fix a new `user_time` alone is no news."""
        if self.user_time != user_time and reports_fix(state):
            return False
        return self.state == state

    def to_json(self) -> dict[str, Any]:
        return {"user_time": self.user_time, "state": self.state.model_dump(mode="json")}

    @classmethod
    def from_json(cls, raw: object) -> LastState | None:
        """The stored form back (None for anything unreadable: the next poll refills it)."""
        if not isinstance(raw, dict):
            return None
        try:
            state = TrackerState.model_validate(raw.get("state") or {})
        except ValueError:
            return None
        user_time = raw.get("user_time")
        return cls(state, user_time if isinstance(user_time, str) else None)
