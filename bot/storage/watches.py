"""Watches of registered devices (one row per tracker), so that watching survives restarts.

The poller reads the active rows on every tick: the database, not memory, says what
is being watched. `last_state` is the latest `get_state` answer (no secrets in it);
`checks` is `bot.domain.watch.Checks` as JSON. No APN credentials are ever stored.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from bot.domain.watch.checks import Checks
from bot.domain.watch.entity import Watch
from bot.domain.watch.schedule import ACTIVE_PHASES, Phase
from bot.domain.watch.state import LastState
from bot.storage.db import Database

_COLUMNS = (
    "tracker_id, chat_id, user_id, user_name, lang, label, model, model_title, device_id, "
    "manual_config, started_at, status, status_message_id, polled_at, connected_at, fix_sent, "
    "last_state, retries, last_retry_at, last_retry_result, apn_changed, auto_retry_done, "
    "options_sent, escalated, checks, ended_at, shown_digest, shown_at"
)
_NAMES = [c.strip() for c in _COLUMNS.split(",")]
# Insert, or replace the row of the same tracker. The status message is recorded by
# `set_status_message` once sent: a copy of the watch read before that (a tick meanwhile)
# must not erase it.
_UPSERT = (
    f"INSERT INTO watches ({_COLUMNS}, updated_at) VALUES ({', '.join('?' for _ in _NAMES)}, ?) "
    "ON CONFLICT (tracker_id) DO UPDATE SET "
    + ", ".join(
        f"{n} = COALESCE(excluded.{n}, {n})" if n == "status_message_id" else f"{n} = excluded.{n}"
        for n in _NAMES
        if n != "tracker_id"
    )
    + ", updated_at = excluded.updated_at"
)


def _values(watch: Watch) -> list[Any]:
    return [
        watch.tracker_id,
        watch.chat_id,
        watch.user_id,
        watch.user_name,
        watch.lang,
        watch.label,
        watch.model,
        watch.model_title,
        watch.device_id,
        int(watch.manual_config),
        watch.started_at,
        watch.status.value,
        watch.status_message_id,
        watch.polled_at,
        watch.connected_at,
        int(watch.fix_sent),
        json.dumps(watch.last_state.to_json()) if watch.last_state is not None else None,
        watch.retries,
        watch.last_retry_at,
        watch.last_retry_result,
        int(watch.apn_changed),
        int(watch.auto_retry_done),
        int(watch.options_sent),
        int(watch.escalated),
        json.dumps(watch.checks.to_json()),
        watch.ended_at,
        watch.shown_digest,
        watch.shown_at,
    ]


def _from_row(row: sqlite3.Row) -> Watch:
    try:
        last_state = LastState.from_json(json.loads(row["last_state"] or "null"))
    except ValueError:
        last_state = None
    try:
        checks = Checks.from_json(json.loads(row["checks"] or "{}"))
    except ValueError:
        checks = Checks()
    return Watch(
        tracker_id=int(row["tracker_id"]),
        chat_id=int(row["chat_id"]),
        user_id=int(row["user_id"]),
        user_name=row["user_name"] or "",
        lang=row["lang"],
        label=row["label"],
        model=row["model"],
        model_title=row["model_title"],
        device_id=row["device_id"],
        manual_config=bool(row["manual_config"]),
        started_at=float(row["started_at"]),
        status=Phase(row["status"]),
        status_message_id=row["status_message_id"],
        polled_at=row["polled_at"],
        connected_at=row["connected_at"],
        fix_sent=bool(row["fix_sent"]),
        last_state=last_state,
        retries=int(row["retries"]),
        last_retry_at=row["last_retry_at"],
        last_retry_result=row["last_retry_result"],
        apn_changed=bool(row["apn_changed"]),
        auto_retry_done=bool(row["auto_retry_done"]),
        options_sent=bool(row["options_sent"]),
        escalated=bool(row["escalated"]),
        checks=checks,
        ended_at=row["ended_at"],
        shown_digest=row["shown_digest"],
        shown_at=row["shown_at"],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_ACTIVE = "(" + ", ".join(f"'{p.value}'" for p in ACTIVE_PHASES) + ")"


class WatchStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, watch: Watch) -> None:
        """Insert, or replace the row of the same tracker (a tracker registered again)."""
        await self._db.execute(_UPSERT, [*_values(watch), _now()])

    async def save(self, watch: Watch) -> None:
        await self.put(watch)

    async def save_many(self, watches: list[Watch]) -> None:
        """Save several watches in one transaction."""
        if not watches:
            return
        stamp = _now()
        async with self._db.transaction() as conn:
            await conn.executemany(_UPSERT, [[*_values(w), stamp] for w in watches])

    async def set_status_message(self, watch: Watch) -> None:
        """Record the status message of a stored watch (sent after the watch was stored)
        and what it shows."""
        await self._db.execute(
            "UPDATE watches SET status_message_id = ?, shown_digest = ?, shown_at = ?, "
            "updated_at = ? WHERE tracker_id = ?",
            [watch.status_message_id, watch.shown_digest, watch.shown_at, _now(), watch.tracker_id],
        )

    async def get(self, tracker_id: int) -> Watch | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM watches WHERE tracker_id = ?", [tracker_id]
        )
        return _from_row(row) if row is not None else None

    async def active(self) -> list[Watch]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM watches WHERE status IN {_ACTIVE} ORDER BY tracker_id"
        )
        return [_from_row(r) for r in rows]

    async def pending(self, user_id: int | None = None) -> list[Watch]:
        """Registered but never online yet (status waiting); all users when None."""
        if user_id is None:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM watches WHERE status = ? ORDER BY started_at",
                [Phase.WAITING.value],
            )
        else:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM watches WHERE status = ? AND user_id = ? "
                "ORDER BY started_at",
                [Phase.WAITING.value, user_id],
            )
        return [_from_row(r) for r in rows]

    async def latest_online_in_chat(self, chat_id: int, user_id: int) -> Watch | None:
        """The user's most recently connected watch in a chat (for a shared location)."""
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM watches WHERE chat_id = ? AND user_id = ? "
            "AND connected_at IS NOT NULL AND fix_sent = 1 "
            "ORDER BY connected_at DESC LIMIT 1",
            [chat_id, user_id],
        )
        return _from_row(row) if row is not None else None
