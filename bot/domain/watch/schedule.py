"""The watch's schedule: the policy (thresholds), the phases, when to poll, the
escalation ladder (`Rung`) and the progress bar. Pure: times are seconds of one clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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


class Rung(StrEnum):
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


def ladder_rungs(policy: WatchPolicy, elapsed: float, flags: LadderFlags) -> list[Rung]:
    """The rungs due now (in order) that have not fired yet. EXPIRE ends the watch."""
    if elapsed >= policy.max_age:
        return [Rung.EXPIRE]
    rungs: list[Rung] = []
    if elapsed >= policy.auto_retry and not flags.auto_retry_done:
        rungs.append(Rung.AUTO_RETRY)
    if elapsed >= policy.activation and not flags.options_sent:
        rungs.append(Rung.OPTIONS)
    if elapsed >= policy.escalate and not flags.escalated:
        rungs.append(Rung.ESCALATE)
    return rungs


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
