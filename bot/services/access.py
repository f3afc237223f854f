"""Access decisions: who is admin or installer, invites, requests, revocation, the hourly
registration limit. Handlers ask this service and say what it decided.

ADMIN_IDS admins are admins whatever the store says (an admin can't be locked out by a
revocation); INSTALLER_IDS only seed the store once, so revoking one of them sticks.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from bot.storage.access import (
    InviteStore,
    Member,
    RequestStatus,
    RequestStore,
    Role,
    RoleStore,
    registrations_since,
)
from bot.storage.audit import Action, AuditEntry, AuditLog
from bot.storage.db import Database

# Types the handlers render, re-exported so bot/telegram/ never imports bot.storage.
__all__ = ["AccessService", "Action", "AuditEntry"]

MAX_INVITE_USES = 100
MAX_INVITE_DAYS = 30


class Joined(Enum):
    JOINED = "joined"
    ALREADY = "already"  # had a role already: the invite is not used up
    INVALID = "invalid"  # unknown, expired or used up


class Requested(Enum):
    SENT = "sent"  # admins are to be asked
    PENDING = "pending"  # asked before and not decided yet
    ALREADY = "already"  # has a role


@dataclass(frozen=True)
class Invite:
    code: str
    uses: int
    expires_at: datetime


@dataclass(frozen=True)
class Limit:
    allowed: bool
    used: int
    limit: int


class AccessService:
    def __init__(
        self,
        db: Database,
        *,
        admin_ids: Sequence[int],
        installer_ids: Sequence[int],
        registrations_per_hour: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self.roles = RoleStore(db)
        self.invites = InviteStore(db)
        self.requests = RequestStore(db)
        self.audit = AuditLog(db)
        self._env_admins = frozenset(admin_ids)
        self._env_installers = tuple(installer_ids)
        self.registrations_per_hour = registrations_per_hour
        self._now = clock

    async def start(self) -> None:
        """Load the roles and seed the environment's ids (each audited once)."""
        await self.roles.load()
        now = self._now()
        seeds: list[tuple[Role, Sequence[int]]] = [
            ("admin", sorted(self._env_admins)),
            ("installer", self._env_installers),
        ]
        for role, ids in seeds:
            for user_id in await self.roles.seed(ids, role, now):
                await self.audit.append(Action.SEEDED, actor=None, subject=user_id, detail=role)

    # --- who is who ---------------------------------------------------------------------

    def role_of(self, user_id: int) -> Role | None:
        if user_id in self._env_admins:
            return "admin"
        return self.roles.role_of(user_id)

    def is_admin(self, user_id: int) -> bool:
        return self.role_of(user_id) == "admin"

    def admin_ids(self) -> list[int]:
        found = set(self._env_admins) | {m.user_id for m in self.roles.members("admin")}
        return sorted(found)

    def installers(self) -> list[Member]:
        return self.roles.members("installer")

    async def seen(self, user_id: int, name: str) -> None:
        await self.roles.seen(user_id, name, self._now())

    # --- joining ------------------------------------------------------------------------

    async def create_invite(self, admin_id: int, *, uses: int = 1, days: float = 7) -> Invite:
        uses = max(1, min(uses, MAX_INVITE_USES))
        days = max(1 / 24, min(days, MAX_INVITE_DAYS))
        now = self._now()
        code = secrets.token_urlsafe(12)  # 16 characters of [A-Za-z0-9_-]: a start parameter
        expires = now + timedelta(days=days)
        await self.invites.create(code, by=admin_id, now=now, expires_at=expires, uses=uses)
        await self.audit.append(
            Action.INVITE_CREATED, actor=admin_id, detail=f"uses={uses} until={expires:%F %H:%M}"
        )
        return Invite(code, uses, expires)

    async def join(self, user_id: int, name: str, code: str) -> Joined:
        if self.role_of(user_id) is not None:
            return Joined.ALREADY
        inviter = await self.invites.use(code, self._now())
        if inviter is None:
            return Joined.INVALID
        await self.roles.grant(user_id, "installer", by=inviter, name=name, now=self._now())
        await self.audit.append(Action.JOINED, actor=inviter, subject=user_id, detail=name)
        return Joined.JOINED

    async def request(self, user_id: int, name: str) -> Requested:
        if self.role_of(user_id) is not None:
            return Requested.ALREADY
        old = await self.requests.get(user_id)
        if old is not None and old.status == "pending":
            return Requested.PENDING
        await self.requests.open(user_id, name, self._now())
        await self.audit.append(Action.REQUESTED, actor=user_id, subject=user_id, detail=name)
        return Requested.SENT

    async def decide(self, admin_id: int, user_id: int, *, approve: bool) -> bool:
        """False when the request was decided already (by another admin, or twice)."""
        status: RequestStatus = "approved" if approve else "rejected"
        if not await self.requests.decide(user_id, status, by=admin_id, now=self._now()):
            return False
        if approve:
            request = await self.requests.get(user_id)
            name = request.name if request is not None else ""
            await self.roles.grant(user_id, "installer", by=admin_id, name=name, now=self._now())
        action = Action.APPROVED if approve else Action.REJECTED
        await self.audit.append(action, actor=admin_id, subject=user_id)
        return True

    async def promote(self, admin_id: int, user_id: int) -> bool:
        if self.role_of(user_id) == "admin":
            return False
        member = self.roles.get(user_id)
        name = member.name if member is not None else ""
        await self.roles.grant(user_id, "admin", by=admin_id, name=name, now=self._now())
        await self.audit.append(Action.GRANTED, actor=admin_id, subject=user_id, detail="admin")
        return True

    async def revoke(self, admin_id: int, user_id: int) -> Member | None:
        """Withdraw a role (never an ADMIN_IDS admin's); the member, None if nothing to do."""
        if user_id in self._env_admins:
            return None
        member = await self.roles.revoke(user_id, by=admin_id, now=self._now())
        if member is not None:
            await self.audit.append(Action.REVOKED, actor=admin_id, subject=user_id)
        return member

    # --- the registration limit -------------------------------------------------------

    async def may_register(self, user_id: int) -> Limit:
        since = self._now() - timedelta(hours=1)
        used = await registrations_since(self._db, user_id, since)
        limit = self.registrations_per_hour
        allowed = used < limit
        if not allowed:
            await self.audit.append(
                Action.RATE_LIMITED, actor=user_id, subject=user_id, detail=f"{used}/{limit}"
            )
        return Limit(allowed, used, limit)

    async def registered(self, user_id: int, tracker_id: int, label: str, model: str) -> None:
        await self.audit.append(
            Action.REGISTERED,
            actor=user_id,
            subject=user_id,
            detail=f"tracker={tracker_id} model={model} label={label}",
        )
