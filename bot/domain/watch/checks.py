"""Guided checks after the first connection: ignition on then off (confirmed by the
device's `ignition` flag), GSM level and roaming, board voltage. Each ends as passed,
failed or not reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from bot.domain.watch.schedule import WatchPolicy
from bot.domain.watch.state import StateSummary

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
