"""Who may use the bot: roles, invites and access requests (migration 5).

Roles are held in memory (one short row per person), so the access gate, which runs for
every update, reads them without a query; writes go through to SQLite at once. A user
with `revoked_at` set has no role: the row is kept so that a revoked user seeded from
INSTALLER_IDS stays revoked after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.storage.db import Database

Role = Literal["admin", "installer"]
RequestStatus = Literal["pending", "approved", "rejected"]

#: `last_seen_at` is written at most this often per user (it is shown in /users only).
SEEN_WRITE_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class Member:
    user_id: int
    role: Role
    name: str
    granted_by: int | None  # None: from ADMIN_IDS/INSTALLER_IDS
    granted_at: datetime
    revoked_at: datetime | None = None
    last_seen_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class AccessRequest:
    user_id: int
    name: str
    requested_at: datetime
    status: RequestStatus


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class RoleStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._rows: dict[int, Member] = {}
        self._seen_written: dict[int, datetime] = {}

    async def load(self) -> None:
        rows = await self._db.fetchall(
            "SELECT user_id, role, name, granted_by, granted_at, revoked_at, last_seen_at "
            "FROM roles"
        )
        self._rows = {
            r["user_id"]: Member(
                r["user_id"],
                r["role"],
                r["name"],
                r["granted_by"],
                datetime.fromisoformat(r["granted_at"]),
                _time(r["revoked_at"]),
                _time(r["last_seen_at"]),
            )
            for r in rows
        }

    def get(self, user_id: int) -> Member | None:
        return self._rows.get(user_id)

    def role_of(self, user_id: int) -> Role | None:
        member = self._rows.get(user_id)
        return member.role if member is not None and member.active else None

    def members(self, role: Role | None = None) -> list[Member]:
        """Active members (of one role), oldest grant first."""
        found = [m for m in self._rows.values() if m.active and role in (None, m.role)]
        return sorted(found, key=lambda m: (m.granted_at, m.user_id))

    async def seed(self, ids: Iterable[int], role: Role, now: datetime) -> list[int]:
        """Insert environment ids never seen before; returns the ones inserted."""
        added = []
        for user_id in ids:
            if user_id in self._rows:
                continue
            await self._write(Member(user_id, role, "", None, now))
            added.append(user_id)
        return added

    async def grant(
        self, user_id: int, role: Role, *, by: int | None, name: str, now: datetime
    ) -> None:
        await self._write(Member(user_id, role, name, by, now))

    async def revoke(self, user_id: int, *, by: int, now: datetime) -> Member | None:
        """Withdraw the user's role; the member as they were, None if they had none."""
        member = self._rows.get(user_id)
        if member is None or not member.active:
            return None
        await self._db.execute(
            "UPDATE roles SET revoked_by = ?, revoked_at = ? WHERE user_id = ?",
            (by, _iso(now), user_id),
        )
        self._rows[user_id] = replace(member, revoked_at=now)
        return member

    async def seen(self, user_id: int, name: str, now: datetime) -> None:
        """Note the member's activity (and current name); written at most every 5 min."""
        member = self._rows.get(user_id)
        if member is None:
            return
        self._rows[user_id] = member = replace(member, last_seen_at=now, name=name or member.name)
        last = self._seen_written.get(user_id)
        if last is not None and now - last < SEEN_WRITE_INTERVAL:
            return
        self._seen_written[user_id] = now
        await self._db.execute(
            "UPDATE roles SET last_seen_at = ?, name = ? WHERE user_id = ?",
            (_iso(now), member.name, user_id),
        )

    async def _write(self, member: Member) -> None:
        await self._db.execute(
            "INSERT INTO roles (user_id, role, name, granted_by, granted_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            "role = excluded.role, name = excluded.name, granted_by = excluded.granted_by, "
            "granted_at = excluded.granted_at, revoked_by = NULL, revoked_at = NULL",
            (member.user_id, member.role, member.name, member.granted_by, _iso(member.granted_at)),
        )
        old = self._rows.get(member.user_id)
        self._rows[member.user_id] = replace(member, last_seen_at=old.last_seen_at if old else None)


class InviteStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, code: str, *, by: int, now: datetime, expires_at: datetime, uses: int
    ) -> None:
        await self._db.execute(
            "INSERT INTO invites (code, created_by, created_at, expires_at, uses_left) "
            "VALUES (?, ?, ?, ?, ?)",
            (code, by, _iso(now), _iso(expires_at), uses),
        )

    async def use(self, code: str, now: datetime) -> int | None:
        """Take one use of a live invite (atomically); its creator, None if there is none."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE invites SET uses_left = uses_left - 1 "
                "WHERE code = ? AND uses_left > 0 AND expires_at > ?",
                (code, _iso(now)),
            )
            if cursor.rowcount != 1:
                return None
            cursor = await conn.execute("SELECT created_by FROM invites WHERE code = ?", (code,))
            row = await cursor.fetchone()
        return None if row is None else int(row[0])


class RequestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, user_id: int) -> AccessRequest | None:
        row = await self._db.fetchone(
            "SELECT user_id, name, requested_at, status FROM access_requests WHERE user_id = ?",
            (user_id,),
        )
        if row is None:
            return None
        return AccessRequest(
            row["user_id"], row["name"], datetime.fromisoformat(row["requested_at"]), row["status"]
        )

    async def open(self, user_id: int, name: str, now: datetime) -> None:
        """A new pending request (replacing a decided one)."""
        await self._db.execute(
            "INSERT INTO access_requests (user_id, name, requested_at, status) "
            "VALUES (?, ?, ?, 'pending') ON CONFLICT (user_id) DO UPDATE SET "
            "name = excluded.name, requested_at = excluded.requested_at, status = 'pending', "
            "decided_by = NULL, decided_at = NULL",
            (user_id, name, _iso(now)),
        )

    async def decide(self, user_id: int, status: RequestStatus, *, by: int, now: datetime) -> bool:
        """Approve or reject a pending request; False if it was not pending (decided twice)."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ? "
                "WHERE user_id = ? AND status = 'pending'",
                (status, by, _iso(now), user_id),
            )
            return cursor.rowcount == 1


async def registrations_since(db: Database, user_id: int, since: datetime) -> int:
    """Registrations the user sent to Navixy since `since` (one per draft, any outcome
    but a refusal: a refused attempt creates and bills nothing)."""
    row = await db.fetchone(
        "SELECT COUNT(DISTINCT draft_id) FROM registration_attempts "
        "WHERE user_id = ? AND created_at >= ? AND status <> 'failed'",
        (user_id, since.astimezone(UTC).isoformat(timespec="microseconds")),
    )
    return int(row[0]) if row is not None else 0
