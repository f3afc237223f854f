"""A registration attempt: one `tracker/register` request, as the journal keeps it.

The entity of `bot.storage.journal` (which stores it) and of the services and the chat
that read it. Plain data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AttemptStatus(StrEnum):
    SENDING = "sending"
    SUCCESS = "success"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Attempt:
    id: int
    draft_id: str
    user_id: int
    chat_id: int
    model: str
    plugin_id: int
    device_id: str | None
    label: str
    group_id: int
    status: AttemptStatus
    tracker_id: int | None
    error_code: int | None
    error_description: str | None
    created_at: datetime
    updated_at: datetime
    # Tracker ids whose label matched before the request was sent (None: not taken).
    snapshot: frozenset[int] | None = None
    card_message_id: int | None = None
    lang: str | None = None
    user_name: str = ""
    delivered_at: datetime | None = None
    # The device ID of the tracker (set on success; Navixy assigns it for the X-GPS app).
    assigned_device_id: str | None = None

    @property
    def delivery_pending(self) -> bool:
        return self.status is AttemptStatus.SUCCESS and self.delivered_at is None
