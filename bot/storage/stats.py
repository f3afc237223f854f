"""Counts over the journal and the watches, for metrics and readiness."""

from __future__ import annotations

from bot.storage.db import Database


async def registrations_by_status(db: Database) -> list[tuple[str, int]]:
    rows = await db.fetchall(
        "SELECT status, count(*) AS n FROM registration_attempts GROUP BY status"
    )
    return [(str(row["status"]), int(row["n"])) for row in rows]


async def active_watches_by_status(db: Database) -> list[tuple[str, int]]:
    rows = await db.fetchall(
        "SELECT status, count(*) AS n FROM watches"
        " WHERE status IN ('waiting', 'online') GROUP BY status"
    )
    return [(str(row["status"]), int(row["n"])) for row in rows]


async def check_writable(db: Database) -> None:
    """A real write (the schema version, rewritten unchanged): raises if the file cannot
    be written, the disk is full or another writer holds the lock past the timeout."""
    async with db.transaction() as conn:
        await conn.execute(f"PRAGMA user_version = {db.schema_version:d}")
