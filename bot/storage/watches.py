"""Watches of registered devices (one row per tracker), so that watching survives restarts.

The poller reads the active rows on every tick: the database, not memory, says what
is being watched. `last_state` is the latest `get_state` answer (no secrets in it);
`checks` is `bot.domain.watch.Checks` as JSON. No APN credentials are ever stored.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.domain.watch import ACTIVE_PHASES, Checks, LadderFlags, Phase
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
    #: {"user_time": ..., "state": {...}} of the latest answer, or None.
    last_state: dict[str, Any] | None = None
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

    def _values(self) -> list[Any]:
        return [
            self.tracker_id,
            self.chat_id,
            self.user_id,
            self.user_name,
            self.lang,
            self.label,
            self.model,
            self.model_title,
            self.device_id,
            int(self.manual_config),
            self.started_at,
            self.status.value,
            self.status_message_id,
            self.polled_at,
            self.connected_at,
            int(self.fix_sent),
            json.dumps(self.last_state) if self.last_state is not None else None,
            self.retries,
            self.last_retry_at,
            self.last_retry_result,
            int(self.apn_changed),
            int(self.auto_retry_done),
            int(self.options_sent),
            int(self.escalated),
            json.dumps(self.checks.to_json()),
            self.ended_at,
            self.shown_digest,
            self.shown_at,
        ]


def _from_row(row: sqlite3.Row) -> Watch:
    try:
        last_state = json.loads(row["last_state"]) if row["last_state"] else None
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
        last_state=last_state if isinstance(last_state, dict) else None,
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
        await self._db.execute(_UPSERT, [*watch._values(), _now()])

    async def save_many(self, watches: list[Watch]) -> None:
        """Save several watches in one transaction."""
        if not watches:
            return
        stamp = _now()
        async with self._db.transaction() as conn:
            await conn.executemany(_UPSERT, [[*w._values(), stamp] for w in watches])

    async def save(self, watch: Watch) -> None:
        await self.put(watch)

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
