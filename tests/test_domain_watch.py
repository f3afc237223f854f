"""bot/domain/watch.py: schedule, ladder, progress, summaries, checks, distance, outcomes."""

from __future__ import annotations

import pytest

from bot.domain.navixy_outcomes import RetryOutcome, classify_retry_error, ends_watch
from bot.domain.watch import (
    Check,
    CheckResult,
    Checks,
    Connection,
    DistanceVerdict,
    LadderFlags,
    Phase,
    Rung,
    WatchPolicy,
    distance_verdict,
    evaluate_checks,
    haversine_m,
    ladder_rungs,
    next_guided,
    poll_due,
    poll_interval,
    progress,
    progress_bar,
    seconds_between,
    start_check,
    summarize,
    tracker_server,
)
from bot.navixy.models import TrackerState

POLICY = WatchPolicy()
MIN = 60.0


# --- schedule -------------------------------------------------------------------------------


def test_policy_from_minutes() -> None:
    p = WatchPolicy.from_minutes(
        activation_minutes=15, max_hours=24, auto_retry_minutes=5, escalate_minutes=30
    )
    assert (p.auto_retry, p.activation, p.escalate, p.max_age) == (300, 900, 1800, 86400)
    assert p.poll_seconds == 15


@pytest.mark.parametrize(
    ("elapsed", "interval"),
    [(0, 15), (14 * MIN, 15), (15 * MIN, 60), (59 * MIN, 60), (2 * 3600, 300), (7 * 3600, 900)],
)
def test_poll_interval_slows_down_after_the_activation_window(
    elapsed: float, interval: float
) -> None:
    assert poll_interval(POLICY, Phase.WAITING, elapsed) == interval


def test_online_polls_every_tick_while_a_guided_check_runs() -> None:
    assert poll_interval(POLICY, Phase.ONLINE, 5 * 3600) == 15
    assert poll_interval(POLICY, Phase.ONLINE, 5 * 3600, check_running=True) == 0


def test_poll_due() -> None:
    assert poll_due(POLICY, Phase.WAITING, started_at=0, polled_at=None, now=0)
    assert not poll_due(POLICY, Phase.WAITING, started_at=0, polled_at=10, now=20)
    assert poll_due(POLICY, Phase.WAITING, started_at=0, polled_at=10, now=25)
    # Slow phase: one minute between polls.
    assert not poll_due(POLICY, Phase.WAITING, started_at=0, polled_at=1000, now=1030)
    assert poll_due(POLICY, Phase.WAITING, started_at=0, polled_at=1000, now=1060)
    # A retry restarts the fast polling.
    assert poll_due(POLICY, Phase.WAITING, started_at=0, polled_at=1000, now=1015, retried_at=990)


# --- ladder ---------------------------------------------------------------------------------


def test_ladder_fires_each_step_once_in_order() -> None:
    flags = LadderFlags()
    assert ladder_rungs(POLICY, 4 * MIN, flags) == []
    assert ladder_rungs(POLICY, 5 * MIN, flags) == [Rung.AUTO_RETRY]
    flags = LadderFlags(auto_retry_done=True)
    assert ladder_rungs(POLICY, 10 * MIN, flags) == []
    assert ladder_rungs(POLICY, 15 * MIN, flags) == [Rung.OPTIONS]
    flags = LadderFlags(auto_retry_done=True, options_sent=True)
    assert ladder_rungs(POLICY, 29 * MIN, flags) == []
    assert ladder_rungs(POLICY, 30 * MIN, flags) == [Rung.ESCALATE]
    flags = LadderFlags(True, True, True)
    assert ladder_rungs(POLICY, 23 * 3600, flags) == []
    assert ladder_rungs(POLICY, 24 * 3600, flags) == [Rung.EXPIRE]


def test_ladder_catches_up_after_an_outage() -> None:
    assert ladder_rungs(POLICY, 40 * MIN, LadderFlags()) == [
        Rung.AUTO_RETRY,
        Rung.OPTIONS,
        Rung.ESCALATE,
    ]
    assert ladder_rungs(POLICY, 25 * 3600, LadderFlags()) == [Rung.EXPIRE]


def test_progress() -> None:
    p = progress(POLICY, 0)
    assert (p.filled, p.percent, p.overdue) == (0, 0, False)
    p = progress(POLICY, 7.5 * MIN)
    assert (p.filled, p.percent) == (5, 50)
    assert progress_bar(p) == "▓▓▓▓▓░░░░░"
    p = progress(POLICY, 20 * MIN)
    assert (p.filled, p.percent, p.overdue) == (10, 100, True)


# --- state summary --------------------------------------------------------------------------

ONLINE = {
    "gps": {
        "updated": "2022-08-31 13:47:09",
        "signal_level": 100,
        "location": {"lat": 42.82769, "lng": -78.2629},
    },
    "connection_status": "active",
    "ignition": False,
    "gsm": {"updated": "2022-08-31 13:47:09", "signal_level": 80, "roaming": False},
    "last_update": "2022-08-31 13:47:09",
    "battery_level": 97,
    "additional": {"board_voltage": {"value": "12.6", "updated": "2022-08-31 13:47:09"}},
}
JUST_REGISTERED = {
    "gps": {"updated": None, "location": None},
    "connection_status": "just_registered",
    "gsm": None,
    "last_update": None,
}


def state(**over: object) -> TrackerState:
    return TrackerState.model_validate({**ONLINE, **over})


def test_summary_of_an_online_device() -> None:
    s = summarize(state(), "2022-08-31 13:49:09")
    assert s.connection is Connection.ACTIVE and s.connected and s.has_fix
    assert (s.lat, s.lng) == (42.82769, -78.2629)
    assert s.fix_age == 120
    assert (s.gsm_level, s.roaming, s.board_voltage, s.battery_level, s.ignition) == (
        80,
        False,
        12.6,
        97,
        False,
    )


def test_summary_of_a_just_registered_device_reports_nothing() -> None:
    s = summarize(TrackerState.model_validate(JUST_REGISTERED), "2022-08-31 13:49:09")
    assert s.connection is Connection.WAITING and not s.connected and not s.has_fix
    assert s.fix_age is None and s.gsm_level is None and s.board_voltage is None
    assert s.ignition is None


def test_summary_idle_without_fix_and_unknown_status() -> None:
    s = summarize(state(connection_status="idle", gps={"updated": None, "location": None}))
    assert s.connected and not s.has_fix
    s = summarize(state(connection_status="brand_new"))
    assert s.connection is Connection.UNKNOWN and not s.connected


def test_seconds_between_reads_both_formats() -> None:
    assert seconds_between("2022-08-31 13:47:09", "2022-08-31T13:48:09") == 60
    assert seconds_between(None, "2022-08-31 13:47:09") is None
    assert seconds_between("garbage", "2022-08-31 13:47:09") is None


# --- checks ---------------------------------------------------------------------------------


def test_automatic_checks_pass_on_a_healthy_device() -> None:
    checks = evaluate_checks(POLICY, Checks(), summarize(state()), now=0)
    assert checks.result(Check.GSM) is CheckResult.PASSED
    assert checks.result(Check.ROAMING) is CheckResult.PASSED
    assert checks.result(Check.VOLTAGE) is CheckResult.PASSED
    assert checks.result(Check.IGNITION_ON) is CheckResult.PENDING
    assert not checks.complete


def test_automatic_checks_fail_and_not_reported() -> None:
    weak = state(
        gsm={"signal_level": 10, "roaming": True},
        additional={"board_voltage": {"value": "4.1"}},
    )
    checks = evaluate_checks(POLICY, Checks(), summarize(weak), now=0)
    assert checks.result(Check.GSM) is CheckResult.FAILED
    assert checks.result(Check.ROAMING) is CheckResult.FAILED
    assert checks.result(Check.VOLTAGE) is CheckResult.FAILED
    bare = state(gsm=None, additional={}, ignition=None)
    checks = evaluate_checks(POLICY, Checks(), summarize(bare), now=0)
    for check in Check:
        assert checks.result(check) is CheckResult.NOT_REPORTED
    assert checks.complete


def test_guided_ignition_on_then_off() -> None:
    checks = evaluate_checks(POLICY, Checks(), summarize(state()), now=0)
    assert next_guided(checks) is Check.IGNITION_ON
    checks = start_check(checks, Check.IGNITION_ON, now=10)
    assert checks.result(Check.IGNITION_ON) is CheckResult.RUNNING
    # Still off: keeps waiting.
    checks = evaluate_checks(POLICY, checks, summarize(state(ignition=False)), now=20)
    assert checks.running is Check.IGNITION_ON
    checks = evaluate_checks(POLICY, checks, summarize(state(ignition=True)), now=30)
    assert checks.result(Check.IGNITION_ON) is CheckResult.PASSED and checks.running is None
    assert next_guided(checks) is Check.IGNITION_OFF
    checks = start_check(checks, Check.IGNITION_OFF, now=40)
    checks = evaluate_checks(POLICY, checks, summarize(state(ignition=False)), now=50)
    assert checks.result(Check.IGNITION_OFF) is CheckResult.PASSED
    assert next_guided(checks) is None
    assert checks.complete


def test_guided_check_times_out_as_failed() -> None:
    checks = start_check(Checks(), Check.IGNITION_ON, now=0)
    checks = evaluate_checks(POLICY, checks, summarize(state(ignition=False)), now=100)
    assert checks.running is Check.IGNITION_ON
    later = POLICY.check_timeout + 1
    checks = evaluate_checks(POLICY, checks, summarize(state(ignition=False)), now=later)
    assert checks.result(Check.IGNITION_ON) is CheckResult.FAILED and checks.running is None


def test_checks_round_trip_through_json() -> None:
    checks = start_check(Checks(distance_m=12.5), Check.IGNITION_ON, now=3.0)
    checks = checks.with_result(Check.GSM, CheckResult.PASSED)
    assert Checks.from_json(checks.to_json()) == checks
    assert Checks.from_json(None) == Checks()
    assert Checks.from_json({"results": {"bogus": "passed", "gsm": "nonsense"}}) == Checks()


# --- distance -------------------------------------------------------------------------------


def test_haversine() -> None:
    assert haversine_m(52.52, 13.405, 52.52, 13.405) == 0
    # One degree of latitude is about 111.2 km.
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-3)
    # Berlin - Paris about 878 km.
    assert haversine_m(52.5200, 13.4050, 48.8566, 2.3522) == pytest.approx(878_000, rel=0.01)


def test_distance_verdict() -> None:
    assert distance_verdict(40) is DistanceVerdict.NEAR
    assert distance_verdict(300) is DistanceVerdict.NEAR
    assert distance_verdict(301) is DistanceVerdict.FAR


# --- register_retry outcomes, server ----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (13, RetryOutcome.NOT_PERMITTED),
        (201, RetryOutcome.NOT_FOUND),
        (204, RetryOutcome.NOT_FOUND),
        (208, RetryOutcome.BLOCKED),
        (214, RetryOutcome.NO_GSM),
        (219, RetryOutcome.CLONE),
        (242, RetryOutcome.ALREADY_CONNECTED),
        (243, RetryOutcome.ALREADY_CONNECTED),
        (264, RetryOutcome.TOO_SOON),
        (15, RetryOutcome.BUSY),
        (999, RetryOutcome.OTHER),
    ],
)
def test_retry_errors(code: int, outcome: RetryOutcome) -> None:
    assert classify_retry_error(code) is outcome


def test_retry_unavailable_and_which_outcomes_end_the_watch() -> None:
    assert classify_retry_error(0, unavailable=True) is RetryOutcome.UNAVAILABLE
    assert ends_watch(RetryOutcome.NOT_FOUND) and ends_watch(RetryOutcome.BLOCKED)
    assert not ends_watch(RetryOutcome.NO_GSM) and not ends_watch(RetryOutcome.SENT)


def test_tracker_server() -> None:
    assert tracker_server("https://api.eu.navixy.com/v2") == "tracker.navixy.com"
    assert tracker_server("https://api.us.navixy.com/v2") == "tracker.us.navixy.com"
    assert tracker_server("https://api.example.org/v2") is None
