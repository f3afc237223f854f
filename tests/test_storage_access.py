"""Roles, invites, requests and the audit trail on a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.services.access import AccessService, Joined, Requested
from bot.storage.db import Database
from bot.storage.migrations import MIGRATIONS

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def service(db: Database, clock: Clock) -> AccessService:
    return AccessService(
        db,
        admin_ids=[1],
        installer_ids=[100, 101],
        registrations_per_hour=30,
        clock=clock,
    )


async def test_env_ids_seed_once_and_a_revocation_survives_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    async with await Database.open(tmp_path / "bot.db") as db:
        assert db.schema_version == len(MIGRATIONS)
        access = service(db, clock)
        await access.start()
        assert access.role_of(1) == "admin" and access.role_of(100) == "installer"
        assert await access.revoke(1, 100) is not None
        assert await access.revoke(1, 1) is None  # an ADMIN_IDS admin stays
    async with await Database.open(tmp_path / "bot.db") as db:
        again = service(db, clock)
        await again.start()  # INSTALLER_IDS still lists 100
        assert again.role_of(100) is None
        assert again.role_of(101) == "installer"
        seeded = [e for e in await again.audit.latest(50) if e.action.value == "seeded"]
        assert len(seeded) == 3  # once each, not again at the restart


async def test_invites_count_down_and_expire(tmp_path: Path) -> None:
    clock = Clock()
    async with await Database.open(tmp_path / "bot.db") as db:
        access = service(db, clock)
        await access.start()
        invite = await access.create_invite(1, uses=2, days=1)
        assert await access.join(700, "A", invite.code) is Joined.JOINED
        assert await access.join(700, "A", invite.code) is Joined.ALREADY  # not used up
        assert await access.join(701, "B", "nonsense") is Joined.INVALID
        clock.now = T0 + timedelta(days=2)
        assert await access.join(702, "C", invite.code) is Joined.INVALID  # expired
        clock.now = T0
        assert await access.join(703, "D", invite.code) is Joined.JOINED
        assert await access.join(704, "E", invite.code) is Joined.INVALID  # used up
        member = access.roles.get(700)
        assert member is not None and member.granted_by == 1


async def test_requests_are_decided_once(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "bot.db") as db:
        access = service(db, Clock())
        await access.start()
        assert await access.request(800, "Zoe") is Requested.SENT
        assert await access.request(800, "Zoe") is Requested.PENDING
        assert await access.decide(1, 800, approve=False)
        assert not await access.decide(1, 800, approve=True)
        assert access.role_of(800) is None
        assert await access.request(800, "Zoe") is Requested.SENT  # may ask again
        assert await access.decide(1, 800, approve=True)
        assert access.role_of(800) == "installer"
        assert await access.request(800, "Zoe") is Requested.ALREADY


async def test_the_audit_table_is_append_only(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "bot.db") as db:
        access = service(db, Clock())
        await access.start()
        await access.promote(1, 100)
        assert access.admin_ids() == [1, 100]
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        for sql in ("UPDATE audit SET detail = 'x'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)
