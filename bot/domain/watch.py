"""Watching a freshly registered device until it is online: the pure rules.

No I/O here. Times are seconds (floats) of one clock; "elapsed" is measured from the
moment the watch started (right after `tracker/register`).

* The poll schedule: every `poll_seconds` (15 s) during the activation window, then
  slower (1 min up to 1 h, 5 min up to 6 h, 15 min after that). Once the device is
  connected: every `poll_seconds`, and every tick while a guided check waits for the
  device (the installer is turning the key right now).
* The escalation ladder while the device stays silent: one automatic
  `tracker/register_retry` at 5 min, the options and checklist at 15 min, a message to
  the admins at 30 min, and the end of the watch at 24 h. Each step fires once.
* A state summary: what the device reports and what it does not (None = not reported).
* Guided checks: ignition on then off (confirmed by the device's `ignition` flag), GSM
  level and roaming, board voltage. Each ends as passed, failed or not reported.
* Distance between the device's fix and the installer's shared location (haversine), and
  the verdict: more than a few hundred metres means a wrong IMEI, a wrong vehicle or a
  stale buffered point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.navixy.models import TrackerState

# --- policy ---------------------------------------------------------------------------------

#: connection_status values that mean "the device is connected" (docs §6.6).
CONNECTED = frozenset({"active", "idle"})


@dataclass(frozen=True)
class WatchPolicy:
    """Thresholds (seconds). Defaults follow the issue: 5 / 15 / 30 min, 24 h."""

    auto_retry: float = 5 * 60
    activation: float = 15 * 60
    escalate: float = 30 * 60
    max_age: float = 24 * 3600
    poll_seconds: float = 15.0
    #: After the first connection, how long the bot keeps following the checks.
    checks_window: float = 30 * 60
    #: How long a guided check (ignition on/off) waits for the device.
    check_timeout: float = 3 * 60

    @classmethod
    def from_minutes(
        cls,
        *,
        activation_minutes: float,
        max_hours: float,
        auto_retry_minutes: float,
        escalate_minutes: float,
        poll_seconds: float = 15.0,
    ) -> WatchPolicy:
        return cls(
            auto_retry=auto_retry_minutes * 60,
            activation=activation_minutes * 60,
            escalate=escalate_minutes * 60,
            max_age=max_hours * 3600,
            poll_seconds=poll_seconds,
        )


class Phase(StrEnum):
    """The stored `status` of a watch."""

    WAITING = "waiting"  # registered, never connected yet
    ONLINE = "online"  # connected at least once; following the checks
    DONE = "done"  # finished after success
    DISMISSED = "dismissed"  # the installer stopped it
    EXPIRED = "expired"  # never came online within the maximum
    GONE = "gone"  # the tracker no longer exists / is blocked

    @property
    def active(self) -> bool:
        return self in (Phase.WAITING, Phase.ONLINE)


ACTIVE_PHASES = (Phase.WAITING, Phase.ONLINE)


def poll_interval(
    policy: WatchPolicy, phase: Phase, elapsed: float, *, check_running: bool = False
) -> float:
    """Seconds between two polls of one device."""
    if phase is Phase.ONLINE:
        return 0.0 if check_running else policy.poll_seconds
    if elapsed < policy.activation:
        return policy.poll_seconds
    if elapsed < 3600:
        return max(policy.poll_seconds, 60.0)
    if elapsed < 6 * 3600:
        return max(policy.poll_seconds, 300.0)
    return max(policy.poll_seconds, 900.0)


def poll_due(
    policy: WatchPolicy,
    phase: Phase,
    *,
    started_at: float,
    polled_at: float | None,
    now: float,
    retried_at: float | None = None,
    check_running: bool = False,
) -> bool:
    """Is a poll due? A successful retry restarts the fast polling (the device may come)."""
    if polled_at is None:
        return True
    elapsed = now - started_at
    if retried_at is not None:
        elapsed = min(elapsed, now - retried_at)
    interval = poll_interval(policy, phase, elapsed, check_running=check_running)
    # A little slack so that a poll due "at" the tick is not pushed to the next one.
    return now - polled_at >= interval - 0.5


class Step(StrEnum):
    """Rungs of the escalation ladder (while the device stays silent)."""

    AUTO_RETRY = "auto_retry"
    OPTIONS = "options"
    ESCALATE = "escalate"
    EXPIRE = "expire"


@dataclass(frozen=True)
class LadderFlags:
    auto_retry_done: bool = False
    options_sent: bool = False
    escalated: bool = False


def ladder_steps(policy: WatchPolicy, elapsed: float, flags: LadderFlags) -> list[Step]:
    """The steps due now (in order) that have not fired yet. EXPIRE ends the watch."""
    if elapsed >= policy.max_age:
        return [Step.EXPIRE]
    steps: list[Step] = []
    if elapsed >= policy.auto_retry and not flags.auto_retry_done:
        steps.append(Step.AUTO_RETRY)
    if elapsed >= policy.activation and not flags.options_sent:
        steps.append(Step.OPTIONS)
    if elapsed >= policy.escalate and not flags.escalated:
        steps.append(Step.ESCALATE)
    return steps


# --- progress -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    filled: int  # cells of `width`
    width: int
    percent: int
    overdue: bool  # past the activation window


def progress(policy: WatchPolicy, elapsed: float, width: int = 10) -> Progress:
    total = max(policy.activation, 1.0)
    fraction = min(max(elapsed / total, 0.0), 1.0)
    filled = int(fraction * width)
    return Progress(filled, width, int(fraction * 100), elapsed >= policy.activation)


#: Waiting times (minutes) at which the status message shows a new time. In between a
#: person would not notice a change, so the message is not edited for the time alone.
WAIT_MARKS_MINUTES = (0, 1, 2, 5, 10, 15, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 1080)
#: A status message whose facts did not change is edited at most once in this many seconds.
ROUTINE_EDIT_SECONDS = 60.0


def shown_elapsed(elapsed: float) -> float:
    """The waiting time a status message shows: the last mark reached (seconds)."""
    minutes = max(elapsed, 0.0) / 60.0
    mark = max(m for m in WAIT_MARKS_MINUTES if m <= minutes)
    return mark * 60.0


def progress_bar(p: Progress) -> str:
    return "▓" * p.filled + "░" * (p.width - p.filled)


def whole_minutes(seconds: float) -> int:
    return max(int(seconds // 60), 0)


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


def summarize(state: TrackerState, user_time: str | None = None) -> StateSummary:
    try:
        connection = Connection(state.connection_status)
    except ValueError:
        connection = Connection.UNKNOWN
    gps = state.gps
    location = gps.location if gps is not None else None
    has_fix = gps is not None and gps.updated is not None and location is not None
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


# --- guided checks --------------------------------------------------------------------------


class CheckResult(StrEnum):
    PENDING = "pending"
    RUNNING = "running"  # the installer was asked to act; waiting for the device
    PASSED = "passed"
    FAILED = "failed"
    NOT_REPORTED = "not_reported"

    @property
    def decided(self) -> bool:
        return self in (CheckResult.PASSED, CheckResult.FAILED, CheckResult.NOT_REPORTED)


class Check(StrEnum):
    IGNITION_ON = "ignition_on"
    IGNITION_OFF = "ignition_off"
    GSM = "gsm"
    ROAMING = "roaming"
    VOLTAGE = "voltage"


CHECK_ORDER = (Check.IGNITION_ON, Check.IGNITION_OFF, Check.GSM, Check.ROAMING, Check.VOLTAGE)
GUIDED = (Check.IGNITION_ON, Check.IGNITION_OFF)

#: GSM signal (percent) below this is too weak for a reliable connection.
GSM_MIN_LEVEL = 25
#: A board voltage in this range means the device is on vehicle power (12 V or 24 V).
VOLTAGE_RANGE = (9.0, 32.0)


@dataclass(frozen=True)
class Checks:
    """Results of the checks plus the guided step in progress (JSON-able)."""

    results: Mapping[Check, CheckResult] = field(default_factory=dict)
    running: Check | None = None
    running_since: float | None = None
    distance_m: float | None = None

    def result(self, check: Check) -> CheckResult:
        return self.results.get(check, CheckResult.PENDING)

    def with_result(self, check: Check, result: CheckResult) -> Checks:
        results = dict(self.results)
        results[check] = result
        running = None if self.running is check and result.decided else self.running
        since = None if running is None else self.running_since
        return replace(self, results=results, running=running, running_since=since)

    @property
    def complete(self) -> bool:
        return all(self.result(c).decided for c in CHECK_ORDER)

    def to_json(self) -> dict[str, Any]:
        return {
            "results": {k.value: v.value for k, v in self.results.items()},
            "running": self.running.value if self.running else None,
            "running_since": self.running_since,
            "distance_m": self.distance_m,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> Checks:
        if not raw:
            return cls()
        results: dict[Check, CheckResult] = {}
        for key, value in dict(raw.get("results") or {}).items():
            try:
                results[Check(key)] = CheckResult(value)
            except ValueError:
                continue
        running: Check | None = None
        try:
            running = Check(raw["running"]) if raw.get("running") else None
        except ValueError:
            running = None
        since = raw.get("running_since")
        distance = raw.get("distance_m")
        return cls(
            results=results,
            running=running,
            running_since=float(since) if isinstance(since, int | float) else None,
            distance_m=float(distance) if isinstance(distance, int | float) else None,
        )


def start_check(checks: Checks, check: Check, now: float) -> Checks:
    """The installer is asked to act for `check` (ignition on or off)."""
    results = dict(checks.results)
    results[check] = CheckResult.RUNNING
    return replace(checks, results=results, running=check, running_since=now)


def next_guided(checks: Checks) -> Check | None:
    """The guided check to offer next (ignition on, then off), or None."""
    for check in GUIDED:
        if not checks.result(check).decided:
            return check
    return None


def evaluate_checks(
    policy: WatchPolicy, checks: Checks, summary: StateSummary, now: float
) -> Checks:
    """Update the results from what the device reports now. Needs a connected device."""
    if not summary.connected:
        return _timeout_running(policy, checks, now)
    # Automatic checks: decided by the first report, then kept current.
    if summary.gsm_level is None:
        gsm = CheckResult.NOT_REPORTED
    else:
        gsm = CheckResult.PASSED if summary.gsm_level >= GSM_MIN_LEVEL else CheckResult.FAILED
    checks = checks.with_result(Check.GSM, gsm)
    if summary.roaming is None:
        roaming = CheckResult.NOT_REPORTED
    else:
        roaming = CheckResult.FAILED if summary.roaming else CheckResult.PASSED
    checks = checks.with_result(Check.ROAMING, roaming)
    if summary.board_voltage is None:
        voltage = CheckResult.NOT_REPORTED
    else:
        low, high = VOLTAGE_RANGE
        ok = low <= summary.board_voltage <= high
        voltage = CheckResult.PASSED if ok else CheckResult.FAILED
    checks = checks.with_result(Check.VOLTAGE, voltage)
    # Guided: ignition.
    if summary.ignition is None:
        for check in GUIDED:
            if not checks.result(check).decided:
                checks = checks.with_result(check, CheckResult.NOT_REPORTED)
        return checks
    running = checks.running
    if running is Check.IGNITION_ON and summary.ignition:
        return checks.with_result(Check.IGNITION_ON, CheckResult.PASSED)
    if running is Check.IGNITION_OFF and not summary.ignition:
        return checks.with_result(Check.IGNITION_OFF, CheckResult.PASSED)
    return _timeout_running(policy, checks, now)


def _timeout_running(policy: WatchPolicy, checks: Checks, now: float) -> Checks:
    running, since = checks.running, checks.running_since
    if running is not None and since is not None and now - since >= policy.check_timeout:
        return checks.with_result(running, CheckResult.FAILED)
    return checks


# --- distance -------------------------------------------------------------------------------

EARTH_RADIUS_M = 6_371_008.8
#: More than this between the device's fix and the installer: something is wrong.
NEAR_METRES = 300.0


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


class DistanceVerdict(StrEnum):
    NEAR = "near"
    FAR = "far"


def distance_verdict(metres: float) -> DistanceVerdict:
    return DistanceVerdict.NEAR if metres <= NEAR_METRES else DistanceVerdict.FAR


# --- register_retry outcomes ----------------------------------------------------------------


class RetryOutcome(StrEnum):
    SENT = "sent"
    ALREADY_CONNECTED = "already_connected"  # 242 / 243: good news
    NOT_PERMITTED = "not_permitted"  # 13
    NOT_FOUND = "not_found"  # 201 / 204
    BLOCKED = "blocked"  # 208
    NO_GSM = "no_gsm"  # 214: commands can't be sent; configure by hand
    CLONE = "clone"  # 219
    TOO_SOON = "too_soon"  # 264: one retry per 120 s
    BUSY = "busy"  # 8 / 14 / 15
    UNAVAILABLE = "unavailable"  # no answer
    OTHER = "other"


_RETRY_CODES: dict[int, RetryOutcome] = {
    13: RetryOutcome.NOT_PERMITTED,
    201: RetryOutcome.NOT_FOUND,
    204: RetryOutcome.NOT_FOUND,
    208: RetryOutcome.BLOCKED,
    214: RetryOutcome.NO_GSM,
    219: RetryOutcome.CLONE,
    242: RetryOutcome.ALREADY_CONNECTED,
    243: RetryOutcome.ALREADY_CONNECTED,
    264: RetryOutcome.TOO_SOON,
    8: RetryOutcome.BUSY,
    14: RetryOutcome.BUSY,
    15: RetryOutcome.BUSY,
}


def classify_retry_error(code: int, *, unavailable: bool = False) -> RetryOutcome:
    if unavailable:
        return RetryOutcome.UNAVAILABLE
    return _RETRY_CODES.get(code, RetryOutcome.OTHER)


def ends_watch(outcome: RetryOutcome) -> bool:
    """Outcomes after which watching makes no sense (the tracker is gone or blocked)."""
    return outcome in (RetryOutcome.NOT_FOUND, RetryOutcome.BLOCKED)


# --- manual configuration -------------------------------------------------------------------


def tracker_server(api_url: str) -> str | None:
    """Where devices send their data, from the API URL (docs §1); None = unknown."""
    url = api_url.lower()
    if "api.us.navixy.com" in url:
        return "tracker.us.navixy.com"
    if "navixy.com" in url or url == "sandbox" or "127.0.0.1" in url or "localhost" in url:
        return "tracker.navixy.com"
    return None
