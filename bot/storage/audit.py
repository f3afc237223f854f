"""The append-only audit trail (table `audit`; triggers refuse UPDATE and DELETE).

Actions: role changes, invites, access requests and their decisions, revocations,
registrations, crew links. `detail` is short plain text with no secrets (never an
activation code, password or API key: the callers pass labels, models, tracker ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.storage.db import Database


class Action(StrEnum):
    SEEDED = "seeded"  # a role from ADMIN_IDS/INSTALLER_IDS
    GRANTED = "granted"  # a role given by an admin (promotion)
    INVITE_CREATED = "invite_created"
    JOINED = "joined"  # a stranger became an installer through an invite
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"
    REGISTERED = "registered"
    RATE_LIMITED = "rate_limited"
    CREW_LINKED = "crew_linked"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    action: Action
    subject_id: int | None
    detail: str


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self,
        action: Action,
        *,
        actor: int | None,
        subject: int | None = None,
        detail: str = "",
        now: datetime | None = None,
    ) -> None:
        at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
        await self._db.execute(
            "INSERT INTO audit (at, actor_id, action, subject_id, detail) VALUES (?, ?, ?, ?, ?)",
            (at, actor, action.value, subject, detail[:200]),
        )

    async def latest(self, limit: int, offset: int = 0) -> list[AuditEntry]:
        rows = await self._db.fetchall(
            "SELECT id, at, actor_id, action, subject_id, detail FROM audit "
            "ORDER BY id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [
            AuditEntry(
                r["id"],
                datetime.fromisoformat(r["at"]),
                r["actor_id"],
                Action(r["action"]),
                r["subject_id"],
                r["detail"],
            )
            for r in rows
        ]

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM audit")
        return int(row[0]) if row is not None else 0
