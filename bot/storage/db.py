"""One SQLite file, one aiosqlite connection, WAL, versioned migrations.

Every statement and commit goes through one `asyncio.Lock`, so a transaction
never sees another coroutine's half-done work and `BEGIN` never nests.

Durability (decided here, used by the other storage modules):
- `journal_mode=WAL`, `synchronous=NORMAL` for the connection. A commit has
  reached the OS when `commit()` returns, so it survives the *process* being
  killed (`kill -9`, OOM killer, a crash): persistence writes and the model
  cache use this. Only an OS crash or power cut can lose the last commits
  (never corrupts the file).
- `transaction(durable=True)` switches to `synchronous=FULL` for that one
  transaction: the WAL is fsynced before `commit()` returns, so the commit
  survives a power cut too. The registration journal uses it: its rows decide
  whether a tracker may exist, and cost only a few fsyncs per registration.

The connection is opened in autocommit mode (`isolation_level=None`); transactions
are explicit `BEGIN IMMEDIATE ... COMMIT`.

Trips to the connection's thread: each awaited aiosqlite call is one (~65 us of CPU
across the two threads, measured), and a transaction written statement by statement
took 3-8 of them. `run()` does a whole transaction (a plain function of the sqlite3
connection) in one trip; `fetchone()` is one trip too. `transaction()` remains for
work that must await something between its statements.

Single process only: the bot is the only writer (PTB cannot share conversations
between processes anyway). Other processes may read the file (WAL allows it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.storage.migrations import MIGRATIONS

log = logging.getLogger(__name__)

#: Seconds to wait for the connection lock (or a single statement) before giving up.
DEFAULT_TIMEOUT = 30.0
#: How long SQLite itself waits for a lock held by another connection.
BUSY_TIMEOUT_MS = 5000

Params = Sequence[Any] | dict[str, Any]
_T = TypeVar("_T")


class StorageError(RuntimeError):
    """Base class for storage errors."""


class SchemaTooNewError(StorageError):
    """The database was written by a newer version of the bot."""


class MigrationError(StorageError):
    """A migration script failed; the database stays at the previous version."""


class DatabaseClosedError(StorageError):
    """The database was used after `close()`."""


class Database:
    """An open SQLite database. Create it with `await Database.open(path)`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, *, op_timeout: float) -> None:
        self._conn: aiosqlite.Connection | None = conn
        self.path = path
        self._timeout = op_timeout
        self._lock = asyncio.Lock()
        self._schema_version = 0

    # --- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        op_timeout: float = DEFAULT_TIMEOUT,
        migrations: Sequence[str] = MIGRATIONS,
    ) -> Database:
        """Open (creating the file and its directory) and migrate the database.

        Raises `SchemaTooNewError` when the file's schema is newer than `migrations`,
        `MigrationError` when a migration fails.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = aiosqlite.connect(path, isolation_level=None)
        # aiosqlite's worker thread is not a daemon: a connection that is never closed
        # (a bug, or an exception during shutdown) would hang the interpreter at exit.
        # A daemon thread lets the process exit; WAL keeps the file consistent.
        conn._thread.daemon = True
        async with asyncio.timeout(op_timeout):
            await conn
        db = cls(conn, path, op_timeout=op_timeout)
        try:
            async with asyncio.timeout(op_timeout):
                await db._configure()
            await db._migrate(migrations)
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        """Close the connection (idempotent). Waits for a running transaction to end."""
        if self._conn is None:
            return
        async with self._locked():
            conn, self._conn = self._conn, None
            if conn is not None:
                async with asyncio.timeout(self._timeout):
                    await conn.close()

    @property
    def closed(self) -> bool:
        return self._conn is None

    @property
    def schema_version(self) -> int:
        """`PRAGMA user_version` after the migrations ran."""
        return self._schema_version

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- statements --------------------------------------------------------------------------

    async def execute(self, sql: str, params: Params = ()) -> None:
        """Run one statement in its own transaction and commit it."""
        await self.run(lambda conn: conn.execute(sql, params).close())

    async def run(self, work: Callable[[sqlite3.Connection], _T], *, durable: bool = False) -> _T:
        """`work(conn)` as one transaction in the connection's thread: one trip.

        `work` is plain synchronous code on the sqlite3 connection (it runs in another
        thread: statements and pure computation only). It commits when `work` returns,
        rolls back when it raises (the exception is re-raised here). `durable` as in
        `transaction()`. A cancelled caller does not stop it: the transaction still ends
        whole (committed or rolled back) in the thread.
        """
        async with self._locked():
            conn = self._require()
            # aiosqlite has no public call for "run this in your thread"; its
            # `_execute` and `_conn` are stable across the versions the lock allows.
            trip = conn._execute(_in_transaction, conn._conn, work, durable)  # type: ignore[no-untyped-call]
            result: _T = await self._run(trip)
            return result

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._locked():
            conn = self._require()
            async with asyncio.timeout(self._timeout):
                rows = await conn.execute_fetchall(sql, params)
            return list(rows)

    @asynccontextmanager
    async def transaction(self, *, durable: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """`BEGIN IMMEDIATE` ... `COMMIT` (or `ROLLBACK` on any exception).

        Holds the connection lock for the whole block: do not call other `Database`
        methods inside it (they would wait for the lock), use the yielded connection.
        `durable=True` fsyncs the commit (`synchronous=FULL` for this transaction).
        """
        async with self._locked():
            conn = self._require()
            if durable:
                await self._run(conn.execute("PRAGMA synchronous = FULL"))
            try:
                await self._run(conn.execute("BEGIN IMMEDIATE"))
                try:
                    yield conn
                    await self._run(conn.commit())
                except BaseException:
                    # Shielded so that a cancellation cannot leave the transaction open.
                    # sqlite3's rollback() is a no-op when no transaction is open.
                    await asyncio.shield(conn.rollback())
                    raise
            finally:
                if durable:
                    await asyncio.shield(conn.execute("PRAGMA synchronous = NORMAL"))

    # --- internals ---------------------------------------------------------------------------

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self._timeout):
                await self._lock.acquire()
        except TimeoutError:
            raise TimeoutError(
                f"database {self.path}: connection busy for more than {self._timeout} s"
            ) from None
        try:
            yield
        finally:
            self._lock.release()

    def _require(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise DatabaseClosedError(f"database {self.path} is closed")
        return self._conn

    async def _run(self, awaitable: Awaitable[_T]) -> _T:
        async with asyncio.timeout(self._timeout):
            return await awaitable

    async def _configure(self) -> None:
        conn = self._require()
        conn.row_factory = sqlite3.Row
        async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
            row = await cursor.fetchone()
        mode = str(row[0]).lower() if row is not None else "?"
        if mode != "wal":
            log.warning("database %s: journal_mode is %s, WAL is not available", self.path, mode)
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    async def _user_version(self, conn: aiosqlite.Connection) -> int:
        async with conn.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row is not None else 0

    async def _migrate(self, migrations: Sequence[str]) -> None:
        target = len(migrations)
        while True:
            async with self.transaction() as conn:
                # Read inside BEGIN IMMEDIATE: another process migrating the same file
                # cannot slip in between the check and the scripts.
                current = await self._run(self._user_version(conn))
                if current > target:
                    raise SchemaTooNewError(
                        f"database {self.path} has schema version {current}, but this version "
                        f"of the bot only knows versions up to {target}: upgrade the bot or "
                        f"use another database file"
                    )
                if current == target:
                    self._schema_version = current
                    return
                version = current + 1
                try:
                    for statement in split_statements(migrations[current]):
                        await self._run(conn.execute(statement))
                    await self._run(conn.execute(f"PRAGMA user_version = {version:d}"))
                except sqlite3.Error as exc:
                    raise MigrationError(
                        f"database {self.path}: migration to version {version} failed: {exc}"
                    ) from exc
            log.info("database %s: migrated to schema version %d", self.path, version)


def _in_transaction(
    conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], _T], durable: bool
) -> _T:
    """`Database.run`'s transaction, in the connection's thread."""
    if durable:
        conn.execute("PRAGMA synchronous = FULL")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    finally:
        if durable:
            conn.execute("PRAGMA synchronous = NORMAL")
    return result


async def storage_problem(path: str | Path, migrations: Sequence[str] = MIGRATIONS) -> str | None:
    """One line saying why the bot can't use its database, or None when it can.

    Run at start-up, before anything is served: a read-only file or directory (else a whole
    conversation would run and fail at Register), an unreadable or corrupt file, a schema
    written by a newer bot, a failing migration. Opens (and migrates) the database once.
    """
    path = Path(path)
    problem = _file_problem(path)
    if problem is not None:
        return problem
    try:
        if path.exists():
            problem = _sqlite_problem(path, len(migrations))
            if problem is not None:
                return problem
        db = await Database.open(path, migrations=migrations)
        await db.close()
    except (SchemaTooNewError, MigrationError) as exc:
        return str(exc)
    except (sqlite3.Error, OSError, TimeoutError) as exc:
        return f"database {path} can't be used: {exc}"
    return None


def _file_problem(path: Path) -> str | None:
    """Is the directory writable (WAL needs its -wal and -shm files) and the file too?"""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the database directory {folder}: {exc.strerror}"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"the database directory {folder} is not writable ({exc.strerror})"
    if path.exists():
        if not path.is_file():
            return f"database {path} is not a file"
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            return f"the database file {path} is not writable ({exc.strerror})"
        os.close(fd)
    return None


def _sqlite_problem(path: Path, known: int) -> str | None:
    """A corrupt file, or one of a newer schema, read without changing anything."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        return f"database {path} can't be opened: {exc}"
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        check = conn.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.DatabaseError as exc:
        return f"database {path} is damaged or not an SQLite database ({exc})"
    finally:
        conn.close()
    if check is None or str(check[0]) != "ok":
        detail = check[0] if check is not None else "no answer"
        return f"database {path} is damaged ({detail}): restore it from a backup"
    if version > known:
        return (
            f"database {path} has schema version {version}, but this version of the bot "
            f"only knows versions up to {known}: upgrade the bot or use another database file"
        )
    return None


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (trigger bodies included)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement:
                statements.append(statement)
            buffer = ""
    rest = "\n".join(
        line for line in buffer.splitlines() if line.strip() and not line.strip().startswith("--")
    )
    if rest.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {rest[:80]!r}")
    return statements
