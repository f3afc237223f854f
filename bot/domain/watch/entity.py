"""A watched device: the entity the watcher changes, the store keeps and the chat shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.watch.checks import Checks
from bot.domain.watch.schedule import LadderFlags, Phase
from bot.domain.watch.state import LastState


@dataclass
class Watch:
    """One watched tracker. Mutable: the watcher changes it and saves it back."""

    tracker_id: int
    chat_id: int
    user_id: int
    label: str
    model: str
    started_at: float
    user_name: str = ""
    lang: str | None = None
    model_title: str | None = None
    device_id: str | None = None
    manual_config: bool = False
    status: Phase = Phase.WAITING
    status_message_id: int | None = None
    polled_at: float | None = None
    connected_at: float | None = None
    fix_sent: bool = False
    #: The latest `get_state` answer, or None.
    last_state: LastState | None = None
    retries: int = 0
    last_retry_at: float | None = None
    last_retry_result: str | None = None
    apn_changed: bool = False
    auto_retry_done: bool = False
    options_sent: bool = False
    escalated: bool = False
    checks: Checks = field(default_factory=Checks)
    ended_at: float | None = None
    #: What the status message last showed (a digest of text and buttons) and when.
    shown_digest: str | None = None
    shown_at: float | None = None

    @property
    def title(self) -> str:
        return self.model_title or self.model

    @property
    def flags(self) -> LadderFlags:
        return LadderFlags(self.auto_retry_done, self.options_sent, self.escalated)
