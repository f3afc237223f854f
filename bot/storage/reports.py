"""Read-only queries over the journal and the watches for the admin commands (/recent,
/find, /stats, /export, /status). No secrets are stored in these tables to begin with."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

from bot.storage.db import Database
from bot.storage.journal import _COLUMNS, Attempt, _attempt

EXPORT_COLUMNS = (
    "id",
    "created_at",
    "user_id",
    "user_name",
    "chat_id",
    "model",
    "plugin_id",
    "device_id",
    "label",
    "group_id",
    "status",
    "tracker_id",
    "error_code",
    "error_description",
)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


async def recent(db: Database, limit: int, offset: int = 0) -> list[Attempt]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM registration_attempts ORDER BY id DESC LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return [_attempt(r) for r in rows]


async def count_attempts(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM registration_attempts")
    return int(row[0]) if row is not None else 0


async def find(db: Database, query: str, limit: int = 10) -> list[Attempt]:
    """Attempts whose device ID or tracker ID is `query`, or whose label contains it."""
    text = query.strip()
    tracker = int(text) if text.isdigit() and len(text) < 12 else -1
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM registration_attempts "
        "WHERE device_id = ? OR assigned_device_id = ? OR tracker_id = ? "
        "OR label LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?",
        (text, text, tracker, like, limit),
    )
    return [_attempt(r) for r in rows]


async def since(db: Database, start: datetime) -> list[Attempt]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM registration_attempts WHERE created_at >= ? ORDER BY id",
        (_iso(start),),
    )
    return [_attempt(r) for r in rows]


async def errors_since(db: Database, start: datetime) -> int:
    row = await db.fetchone(
        "SELECT COUNT(*) FROM registration_attempts "
        "WHERE created_at >= ? AND status IN ('failed', 'unknown')",
        (_iso(start),),
    )
    return int(row[0]) if row is not None else 0


async def waiting_devices(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM watches WHERE status = 'waiting'")
    return int(row[0]) if row is not None else 0


async def median_connect_seconds(db: Database, start: datetime) -> float | None:
    """Median time from registration to the first connection, of devices watched since."""
    rows = await db.fetchall(
        "SELECT connected_at - started_at FROM watches "
        "WHERE connected_at IS NOT NULL AND started_at >= ?",
        (start.timestamp(),),
    )
    values = [float(r[0]) for r in rows if r[0] is not None and r[0] >= 0]
    return statistics.median(values) if values else None


async def database_bytes(db: Database) -> int:
    row = await db.fetchone(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
    )
    return int(row[0]) if row is not None else 0
