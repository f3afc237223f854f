"""Watches of registered devices (one row per tracker), so that watching survives restarts.

The poller reads the active rows on every tick: the database, not memory, says what
is being watched. `last_state` is the latest `get_state` answer (no secrets in it);
`checks` is `bot.domain.watch.Checks` as JSON. No APN credentials are ever stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from bot.domain.watch.checks import Checks
from bot.domain.watch.entity import Watch
from bot.domain.watch.schedule import ACTIVE_PHASES, Phase
from bot.domain.watch.state import LastState
from bot.pacing import Pacer
from bot.storage.db import Database

_V = TypeVar("_V")

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


class _JsonColumn(Generic[_V]):
    """One JSON column, per tracker: the text read or written last and its parsed
    (immutable) value, so an unchanged text is neither decoded nor validated again and a
    value written unchanged is not encoded again."""

    __slots__ = ("_decode", "_encode", "known")

    def __init__(self, encode: Callable[[_V], Any], decode: Callable[[Any], _V | None]) -> None:
        self._encode, self._decode = encode, decode
        self.known: dict[int, tuple[str, _V]] = {}

    def text(self, tracker_id: int, value: _V) -> str:
        known = self.known.get(tracker_id)
        if known is not None and known[1] is value:
            return known[0]
        text = json.dumps(self._encode(value))
        self.known[tracker_id] = (text, value)
        return text

    def value(self, tracker_id: int, text: str) -> _V | None:
        """The parsed value (None: unreadable, not remembered)."""
        known = self.known.get(tracker_id)
        if known is not None and known[0] == text:
            return known[1]
        try:
            value = self._decode(json.loads(text))
        except ValueError:
            return None
        if value is not None:
            self.known[tracker_id] = (text, value)
        return value


class _ParsedJson:
    """The watches' JSON columns (`last_state`, `checks`) as last read or written.

    A poll of 1000 watches reads 1000 rows back on every tick; most of these texts are the
    same as last time (written or read by this store).
    """

    __slots__ = ("checks", "states")

    def __init__(self) -> None:
        self.states = _JsonColumn(LastState.to_json, LastState.from_json)
        self.checks = _JsonColumn(Checks.to_json, Checks.from_json)

    def state_text(self, tracker_id: int, state: LastState | None) -> str | None:
        return None if state is None else self.states.text(tracker_id, state)

    def checks_text(self, tracker_id: int, checks: Checks) -> str:
        return self.checks.text(tracker_id, checks)

    def state(self, tracker_id: int, text: str | None) -> LastState | None:
        return self.states.value(tracker_id, text) if text else None

    def checks_of(self, tracker_id: int, text: str | None) -> Checks:
        checks = self.checks.value(tracker_id, text) if text else None
        return checks if checks is not None else Checks()

    def keep_only(self, tracker_ids: set[int]) -> None:
        for table in (self.states.known, self.checks.known):
            for stale in [t for t in table if t not in tracker_ids]:
                del table[stale]


def _values(watch: Watch, parsed: _ParsedJson) -> list[Any]:
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
        parsed.state_text(watch.tracker_id, watch.last_state),
        watch.retries,
        watch.last_retry_at,
        watch.last_retry_result,
        int(watch.apn_changed),
        int(watch.auto_retry_done),
        int(watch.options_sent),
        int(watch.escalated),
        parsed.checks_text(watch.tracker_id, watch.checks),
        watch.ended_at,
        watch.shown_digest,
        watch.shown_at,
    ]


def _from_row(row: sqlite3.Row, parsed: _ParsedJson) -> Watch:
    tracker_id = int(row["tracker_id"])
    return Watch(
        tracker_id=tracker_id,
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
        last_state=parsed.state(tracker_id, row["last_state"]),
        retries=int(row["retries"]),
        last_retry_at=row["last_retry_at"],
        last_retry_result=row["last_retry_result"],
        apn_changed=bool(row["apn_changed"]),
        auto_retry_done=bool(row["auto_retry_done"]),
        options_sent=bool(row["options_sent"]),
        escalated=bool(row["escalated"]),
        checks=parsed.checks_of(tracker_id, row["checks"]),
        ended_at=row["ended_at"],
        shown_digest=row["shown_digest"],
        shown_at=row["shown_at"],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_ACTIVE = "(" + ", ".join(f"'{p.value}'" for p in ACTIVE_PHASES) + ")"


#: Rows per read of `WatchStore.active()`: the connection is free for others between pages.
READ_PAGE = 250


class WatchStore:
    def __init__(self, db: Database, *, read_page: int = READ_PAGE) -> None:
        self._db = db
        self._parsed = _ParsedJson()
        self._page = max(1, read_page)

    async def put(self, watch: Watch) -> None:
        """Insert, or replace the row of the same tracker (a tracker registered again)."""
        await self._db.execute(_UPSERT, [*_values(watch, self._parsed), _now()])

    async def save(self, watch: Watch) -> None:
        await self.put(watch)

    async def save_many(self, watches: list[Watch]) -> None:
        """Save several watches in one transaction."""
        if not watches:
            return
        stamp = _now()
        rows = []
        pacer = Pacer()
        for watch in watches:
            rows.append([*_values(watch, self._parsed), stamp])
            await pacer.step()
        async with self._db.transaction() as conn:
            await conn.executemany(_UPSERT, rows)

    async def mark_polled(self, tracker_ids: list[int], polled_at: float) -> None:
        """Record a poll that changed nothing else (one statement for the whole batch)."""
        if not tracker_ids:
            return
        await self._db.execute(
            "UPDATE watches SET polled_at = ?, updated_at = ? "
            "WHERE tracker_id IN (SELECT value FROM json_each(?))",
            [polled_at, _now(), json.dumps(tracker_ids)],
        )

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
        return _from_row(row, self._parsed) if row is not None else None

    async def active(self) -> list[Watch]:
        """The watches being watched, by tracker id (read on every tick: in pages of
        `read_page` rows, so that an installer's write waits for one page, not for a
        thousand rows; paced; what did not change since the last read is not parsed again).
        """
        watches: list[Watch] = []
        pacer = Pacer()
        after = -1
        while True:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM watches WHERE status IN {_ACTIVE} AND tracker_id > ? "
                "ORDER BY tracker_id LIMIT ?",
                [after, self._page],
            )
            for row in rows:
                watches.append(_from_row(row, self._parsed))
                await pacer.step()
            if len(rows) < self._page:
                break
            after = watches[-1].tracker_id
        self._parsed.keep_only({w.tracker_id for w in watches})
        return watches

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
        return [_from_row(r, self._parsed) for r in rows]

    async def latest_online_in_chat(self, chat_id: int, user_id: int) -> Watch | None:
        """The user's most recently connected watch in a chat (for a shared location)."""
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM watches WHERE chat_id = ? AND user_id = ? "
            "AND connected_at IS NOT NULL AND fix_sent = 1 "
            "ORDER BY connected_at DESC LIMIT 1",
            [chat_id, user_id],
        )
        return _from_row(row, self._parsed) if row is not None else None
