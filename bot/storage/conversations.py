"""The tables behind the bot's PTB persistence: user_data, chat_data, conversation states
(and bot_data), as JSON rows in SQLite.

`bot.telegram.persistence.SqlitePersistence` adapts this store to PTB's `BasePersistence`;
this module knows nothing of PTB. Only JSON data round-trips: dicts with str keys, lists,
str, int, float, bool, None (tuples come back as lists). Anything else raises a TypeError
naming the key, before anything is written.

All the writes queued in one loop turn go into one transaction (group commit): PTB starts
the writes of one `update_persistence()` together, so a conversation state and the
user_data it relies on are committed together.

A row that can't be read at start-up (not JSON, not an object, a key or state of the
wrong kind) is moved to the `quarantine` table and logged once: one bad row never stops
the bot for everyone, and nothing is lost for a later look.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import sqlite3
from collections.abc import Hashable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.storage.db import Database

log = logging.getLogger(__name__)

JSONDict = dict[Any, Any]
#: A conversation's key (chat id, user id, ...) and its state.
ConversationKey = tuple[int | str, ...]
ConversationState = int | str

_Op = tuple[str, tuple[Any, ...]]


class ConversationTables:
    """The PTB data tables on a `Database`.

    Either pass an open `db` (the caller closes it), or a `path`: the database is then
    opened on the first call (PTB reads everything in `Application.initialize()`, before
    `post_init`) and closed by `close()`. `await tables.database()` gives the database so
    that the journal and the model cache can share the connection.
    """

    def __init__(self, db: Database | None = None, *, path: str | Path | None = None) -> None:
        if (db is None) == (path is None):
            raise ValueError("ConversationTables needs exactly one of `db` and `path`")
        self._db = db
        self._path = Path(path) if path is not None else None
        self._owns_db = db is None
        self._open_lock = asyncio.Lock()
        self._pending: list[_Op] = []
        self._batch: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: What each row holds since our last commit to it (skips writing the same again).
        self._written: dict[Hashable, str] = {}

    # --- the database ----------------------------------------------------------------------

    async def database(self) -> Database:
        """The database (opened now if the persistence was given a path)."""
        if self._db is not None and not (self._owns_db and self._db.closed):
            return self._db
        async with self._open_lock:
            if self._db is None or self._db.closed:
                assert self._path is not None
                self._db = await Database.open(self._path)
            return self._db

    # --- reads (at start-up) ----------------------------------------------------

    async def user_data(self) -> dict[int, JSONDict]:
        db = await self.database()
        rows = await db.fetchall("SELECT user_id, data FROM ptb_user_data")
        out: dict[int, JSONDict] = {}
        for row in rows:
            try:
                out[int(row["user_id"])] = _load_dict(row["data"])
            except (ValueError, TypeError) as exc:
                await self._quarantine(
                    "ptb_user_data", "user_id = ?", (row["user_id"],), row["data"], exc
                )
        return out

    async def chat_data(self) -> dict[int, JSONDict]:
        db = await self.database()
        rows = await db.fetchall("SELECT chat_id, data FROM ptb_chat_data")
        out: dict[int, JSONDict] = {}
        for row in rows:
            try:
                out[int(row["chat_id"])] = _load_dict(row["data"])
            except (ValueError, TypeError) as exc:
                await self._quarantine(
                    "ptb_chat_data", "chat_id = ?", (row["chat_id"],), row["data"], exc
                )
        return out

    async def bot_data(self) -> JSONDict:
        db = await self.database()
        row = await db.fetchone("SELECT data FROM ptb_bot_data WHERE id = 1")
        if row is None:
            return {}
        try:
            return _load_dict(row["data"])
        except (ValueError, TypeError) as exc:
            await self._quarantine("ptb_bot_data", "id = ?", (1,), row["data"], exc)
            return {}

    async def conversations(self, name: str) -> dict[ConversationKey, ConversationState]:
        db = await self.database()
        rows = await db.fetchall("SELECT key, state FROM ptb_conversations WHERE name = ?", (name,))
        out: dict[ConversationKey, ConversationState] = {}
        for row in rows:
            try:
                key, state = _decode_key(row["key"]), json.loads(row["state"])
                if isinstance(state, bool) or not isinstance(state, int | str):
                    raise TypeError(f"state {state!r} is not an int or str")
            except (ValueError, TypeError) as exc:
                await self._quarantine(
                    "ptb_conversations",
                    "name = ? AND key = ?",
                    (name, row["key"]),
                    row["state"],
                    exc,
                )
                continue
            out[key] = state
        return out

    async def _quarantine(
        self,
        table: str,
        where: str,
        params: tuple[object, ...],
        data: object,
        problem: Exception,
    ) -> None:
        """Move an unreadable row to `quarantine` (one transaction) and log it once."""
        db = await self.database()
        reason = f"{type(problem).__name__}: {problem}"[:500]
        key = ", ".join(str(p) for p in params)
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO quarantine (source, row_key, data, reason, quarantined_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (table, key, None if data is None else str(data), reason, _now()),
            )
            await conn.execute(f"DELETE FROM {table} WHERE {where}", params)
        log.warning(
            "storage: unreadable row of %s (%s) moved to the quarantine table: %s",
            table,
            key,
            reason,
        )

    # --- writes -------------------------------------------

    async def put_user_data(self, user_id: int, data: JSONDict) -> None:
        payload = _dump_dict(data, f"user_data[{user_id}]")
        memo = ("user", user_id)
        if self._written.get(memo) == payload:
            return  # already committed (the state was saved before the question went out)
        await self._write(
            "INSERT INTO ptb_user_data (user_id, data, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET data = excluded.data,"
            " updated_at = excluded.updated_at",
            (user_id, payload, _now()),
            memo=(memo, payload),
        )

    async def put_chat_data(self, chat_id: int, data: JSONDict) -> None:
        payload = _dump_dict(data, f"chat_data[{chat_id}]")
        memo = ("chat", chat_id)
        if self._written.get(memo) == payload:
            return
        await self._write(
            "INSERT INTO ptb_chat_data (chat_id, data, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (chat_id) DO UPDATE SET data = excluded.data,"
            " updated_at = excluded.updated_at",
            (chat_id, payload, _now()),
            memo=(memo, payload),
        )

    async def put_bot_data(self, data: JSONDict) -> None:
        payload = _dump_dict(data, "bot_data")
        await self._write(
            "INSERT INTO ptb_bot_data (id, data, updated_at) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET data = excluded.data,"
            " updated_at = excluded.updated_at",
            (payload, _now()),
        )

    async def put_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        """Store a conversation's state (None: the conversation ended, its row goes)."""
        encoded_key = json.dumps(list(key))
        memo = ("conversation", name, encoded_key)
        if new_state is None:
            await self._write(
                "DELETE FROM ptb_conversations WHERE name = ? AND key = ?",
                (name, encoded_key),
                memo=(memo, None),
            )
            return
        if isinstance(new_state, bool) or not isinstance(new_state, int | str):
            raise TypeError(
                f"conversation {name!r} key {encoded_key}: state {new_state!r} "
                f"({type(new_state).__name__}) is not an int or str"
            )
        state = json.dumps(new_state)
        if self._written.get(memo) == state:
            return  # already committed by `commit_state` before the question was sent
        await self._write(
            "INSERT INTO ptb_conversations (name, key, state, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name, key) DO UPDATE SET state = excluded.state,"
            " updated_at = excluded.updated_at",
            (name, encoded_key, state, _now()),
            memo=(memo, state),
        )

    async def drop_user_data(self, user_id: int) -> None:
        await self._write(
            "DELETE FROM ptb_user_data WHERE user_id = ?",
            (user_id,),
            memo=(("user", user_id), None),
        )

    async def drop_chat_data(self, chat_id: int) -> None:
        await self._write(
            "DELETE FROM ptb_chat_data WHERE chat_id = ?",
            (chat_id,),
            memo=(("chat", chat_id), None),
        )

    async def close(self) -> None:
        """Wait for running writes; close the database if this persistence opened it."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=60)
        if self._owns_db and self._db is not None:
            await self._db.close()

    # --- group commit ----------------------------------------------------------------------

    async def _write(
        self,
        sql: str,
        params: tuple[Any, ...],
        *,
        memo: tuple[Hashable, str | None] | None = None,
    ) -> None:
        """Queue a statement; all statements queued in one loop turn share a transaction.

        PTB starts all writes of one `update_persistence()` with `asyncio.gather`; the
        commit task is created by the first of them and runs after the others queued.
        `memo` = (row, value): once committed, writing the same value to the row again is
        skipped (so an update whose state was saved before its question costs one write).
        """
        db = await self.database()
        self._pending.append((sql, params))
        batch = self._batch
        if batch is None:
            batch = self._batch = asyncio.get_running_loop().create_future()
            # Mark the exception as retrieved even if every waiter was cancelled.
            batch.add_done_callback(lambda f: f.cancelled() or f.exception())
            task = asyncio.create_task(self._commit(db, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if memo is not None:
            self._written.pop(memo[0], None)  # unknown until this commit is done
        await asyncio.shield(batch)
        if memo is not None:
            row, value = memo
            if value is None:
                self._written.pop(row, None)
            else:
                self._written[row] = value

    async def _commit(self, db: Database, batch: asyncio.Future[None]) -> None:
        ops, self._pending, self._batch = self._pending, [], None
        try:
            await db.run(functools.partial(_apply, ops))
        except asyncio.CancelledError:
            batch.cancel()
            raise
        except Exception as exc:
            batch.set_exception(exc)
        else:
            batch.set_result(None)


def _apply(ops: list[tuple[str, tuple[Any, ...]]], conn: sqlite3.Connection) -> None:
    for sql, params in ops:
        conn.execute(sql, params)


# --- JSON ------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _decode_key(raw: str) -> ConversationKey:
    value = json.loads(raw)
    if not isinstance(value, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    ):
        raise ValueError(f"conversation key {raw!r} is not a list of ints")
    return tuple(value)


def _load_dict(raw: str) -> JSONDict:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"stored data is a {type(value).__name__}, not a JSON object")
    return value


def _dump_dict(data: JSONDict, where: str) -> str:
    _check_json(data, where)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _check_json(value: object, where: str) -> None:
    """Raise TypeError (naming the key) for anything that does not round-trip through JSON."""
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{where}: {value!r} cannot be stored as JSON")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"{where}: key {key!r} is a {type(key).__name__}; only str keys survive "
                    f"JSON (use str({key!r}))"
                )
            _check_json(item, f"{where}[{key!r}]")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, f"{where}[{index}]")
        return
    raise TypeError(
        f"{where}: a {type(value).__name__} is not JSON data "
        f"(store dicts, lists, str, int, float, bool or None)"
    )
