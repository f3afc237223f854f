"""Watching a freshly registered device until it is online: the pure rules, by topic.

`schedule` (policy, phases, polls, the escalation ladder's `Rung`s, progress), `state`
(what the device reports; the typed `LastState`), `checks` (guided checks), `geometry`
(distance, where devices send data) and `entity` (`Watch`). Import from here.

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

from bot.domain.watch.checks import (
    CHECK_ORDER,
    GSM_MIN_LEVEL,
    GUIDED,
    VOLTAGE_RANGE,
    Check,
    CheckResult,
    Checks,
    evaluate_checks,
    next_guided,
    start_check,
)
from bot.domain.watch.entity import (
    Watch,
)
from bot.domain.watch.geometry import (
    EARTH_RADIUS_M,
    NEAR_METRES,
    DistanceVerdict,
    distance_verdict,
    haversine_m,
    tracker_server,
)
from bot.domain.watch.schedule import (
    ACTIVE_PHASES,
    CONNECTED,
    ROUTINE_EDIT_SECONDS,
    WAIT_MARKS_MINUTES,
    LadderFlags,
    Phase,
    Progress,
    Rung,
    WatchPolicy,
    ladder_rungs,
    poll_due,
    poll_interval,
    progress,
    progress_bar,
    shown_elapsed,
    whole_minutes,
)
from bot.domain.watch.state import (
    NAVIXY_TIME,
    Connection,
    LastState,
    StateSummary,
    parse_navixy_time,
    reports_fix,
    seconds_between,
    summarize,
)

__all__ = [
    "ACTIVE_PHASES",
    "CHECK_ORDER",
    "CONNECTED",
    "EARTH_RADIUS_M",
    "GSM_MIN_LEVEL",
    "GUIDED",
    "NAVIXY_TIME",
    "NEAR_METRES",
    "ROUTINE_EDIT_SECONDS",
    "VOLTAGE_RANGE",
    "WAIT_MARKS_MINUTES",
    "Check",
    "CheckResult",
    "Checks",
    "Connection",
    "DistanceVerdict",
    "LadderFlags",
    "LastState",
    "Phase",
    "Progress",
    "Rung",
    "StateSummary",
    "Watch",
    "WatchPolicy",
    "distance_verdict",
    "evaluate_checks",
    "haversine_m",
    "ladder_rungs",
    "next_guided",
    "parse_navixy_time",
    "poll_due",
    "poll_interval",
    "progress",
    "progress_bar",
    "reports_fix",
    "seconds_between",
    "shown_elapsed",
    "start_check",
    "summarize",
    "tracker_server",
    "whole_minutes",
]
