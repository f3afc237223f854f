"""bot/storage/db.py against real files."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.storage.db import (
    Database,
    DatabaseClosedError,
    MigrationError,
    SchemaTooNewError,
    split_statements,
)
from bot.storage.migrations import MIGRATIONS, SCHEMA_VERSION

T = 10  # seconds: bound for every await in these tests


async def _open(path: Path, **kwargs: object) -> Database:
    async with asyncio.timeout(T):
        return await Database.open(path, **kwargs)  # type: ignore[arg-type]


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(r[0]) for r in rows}


async def test_open_creates_directory_wal_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "bot.db"
    db = await _open(path)
    try:
        assert path.exists()
        assert db.path == path
        assert db.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        async with asyncio.timeout(T):
            mode = await db.fetchone("PRAGMA journal_mode")
            sync = await db.fetchone("PRAGMA synchronous")
            fks = await db.fetchone("PRAGMA foreign_keys")
            busy = await db.fetchone("PRAGMA busy_timeout")
        assert mode is not None and mode[0] == "wal"
        assert sync is not None and sync[0] == 1  # NORMAL
        assert fks is not None and fks[0] == 1
        assert busy is not None and busy[0] > 0
    finally:
        await db.close()
    # WAL is a property of the file: an independent connection sees it too.
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {
        "ptb_user_data",
        "ptb_chat_data",
        "ptb_bot_data",
        "ptb_conversations",
        "registration_attempts",
        "model_cache",
    } <= _tables(path)


async def test_reopen_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await _open(path)
    await db.execute("INSERT INTO ptb_bot_data (id, data, updated_at) VALUES (1, '{}', 'x')")
    await db.close()
    for _ in range(3):
        db = await _open(path)
        assert db.schema_version == SCHEMA_VERSION
        row = await db.fetchone("SELECT count(*) FROM ptb_bot_data")
        assert row is not None and row[0] == 1
        await db.close()


async def test_migrations_apply_in_order_and_only_once(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    v1 = ["CREATE TABLE a (x INTEGER);"]
    db = await _open(path, migrations=v1)
    assert db.schema_version == 1
    await db.execute("INSERT INTO a VALUES (1)")
    await db.close()

    v3 = [
        *v1,
        "ALTER TABLE a ADD COLUMN y TEXT; -- a comment; with a semicolon\nUPDATE a SET y = 'one';",
        """
        CREATE TABLE log (x INTEGER);
        CREATE TRIGGER a_log AFTER INSERT ON a BEGIN
            INSERT INTO log VALUES (new.x);
        END;
        """,
    ]
    db = await _open(path, migrations=v3)
    assert db.schema_version == 3
    await db.execute("INSERT INTO a (x, y) VALUES (2, 'two')")
    assert [tuple(r) for r in await db.fetchall("SELECT x, y FROM a ORDER BY x")] == [
        (1, "one"),
        (2, "two"),
    ]
    assert [tuple(r) for r in await db.fetchall("SELECT x FROM log")] == [(2,)]
    await db.close()


async def test_failed_migration_rolls_back_whole_step(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    bad = [
        "CREATE TABLE a (x INTEGER);",
        "CREATE TABLE b (x INTEGER); INSERT INTO nope VALUES (1);",
    ]
    with pytest.raises(MigrationError, match="version 2"):
        await _open(path, migrations=bad)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "a" in _tables(path)
    assert "b" not in _tables(path)  # rolled back with the failed step


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await _open(path)
    await db.close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(SchemaTooNewError, match=rf"schema version {SCHEMA_VERSION + 5}"):
        await _open(path)


async def test_transaction_commits_and_rolls_back(tmp_path: Path) -> None:
    db = await _open(tmp_path / "bot.db")
    try:
        await db.execute("CREATE TABLE t (x INTEGER)")
        async with asyncio.timeout(T), db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (1)")
            await conn.execute("INSERT INTO t VALUES (2)")
        with pytest.raises(RuntimeError, match="boom"):
            async with asyncio.timeout(T), db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (3)")
                raise RuntimeError("boom")
        rows = await db.fetchall("SELECT x FROM t ORDER BY x")
        assert [r["x"] for r in rows] == [1, 2]
        # the connection is usable (no transaction left open)
        await db.execute("INSERT INTO t VALUES (4)")
        assert (await db.fetchone("SELECT count(*) AS n FROM t"))["n"] == 3  # type: ignore[index]
    finally:
        await db.close()


async def test_cancelled_transaction_rolls_back(tmp_path: Path) -> None:
    db = await _open(tmp_path / "bot.db")
    try:
        await db.execute("CREATE TABLE t (x INTEGER)")
        inside = asyncio.Event()

        async def writer() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (1)")
                inside.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(writer())
        async with asyncio.timeout(T):
            await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(T):
                await task
        row = await db.fetchone("SELECT count(*) FROM t")
        assert row is not None and row[0] == 0
        await db.execute("INSERT INTO t VALUES (2)")
    finally:
        await db.close()


async def test_durable_transaction_restores_synchronous(tmp_path: Path) -> None:
    db = await _open(tmp_path / "bot.db")
    try:
        async with asyncio.timeout(T), db.transaction(durable=True) as conn:
            async with conn.execute("PRAGMA synchronous") as cur:
                row = await cur.fetchone()
            assert row is not None and row[0] == 2  # FULL inside
        after = await db.fetchone("PRAGMA synchronous")
        assert after is not None and after[0] == 1  # NORMAL again
    finally:
        await db.close()


async def test_run_is_one_transaction_in_the_connection_thread(tmp_path: Path) -> None:
    """`Database.run`: the function's statements commit together, or none of them."""
    db = await _open(tmp_path / "bot.db")
    try:
        await db.execute("CREATE TABLE t (x INTEGER UNIQUE)")

        def two(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT INTO t VALUES (1)")
            conn.execute("INSERT INTO t VALUES (2)")
            return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])

        def clash(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t VALUES (3)")
            conn.execute("INSERT INTO t VALUES (1)")  # UNIQUE: the 3 goes too

        def sync_level(conn: sqlite3.Connection) -> int:
            return int(conn.execute("PRAGMA synchronous").fetchone()[0])

        async with asyncio.timeout(T):
            assert await db.run(two) == 2
            with pytest.raises(sqlite3.IntegrityError):
                await db.run(clash)
            assert [r["x"] for r in await db.fetchall("SELECT x FROM t ORDER BY x")] == [1, 2]
            assert await db.run(sync_level, durable=True) == 2  # FULL inside
            assert await db.run(sync_level) == 1  # NORMAL again
            assert await db.fetchone("SELECT x FROM t WHERE x = 5") is None
    finally:
        await db.close()


async def test_a_cancelled_caller_of_run_leaves_a_whole_transaction(tmp_path: Path) -> None:
    db = await _open(tmp_path / "bot.db")
    try:
        await db.execute("CREATE TABLE t (x INTEGER)")
        started = threading.Event()
        go_on = threading.Event()

        def slow(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO t VALUES (1)")
            started.set()
            go_on.wait(T)
            conn.execute("INSERT INTO t VALUES (2)")

        task = asyncio.create_task(db.run(slow))
        async with asyncio.timeout(T):
            await asyncio.get_running_loop().run_in_executor(None, started.wait, T)
        task.cancel()
        go_on.set()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(T):
                await task
        rows = await db.fetchall("SELECT x FROM t ORDER BY x")  # queued after the trip
        assert [r["x"] for r in rows] == [1, 2]
    finally:
        await db.close()


async def test_statements_are_serialised(tmp_path: Path) -> None:
    """Concurrent transactions never interleave (one lock for statement + commit)."""
    db = await _open(tmp_path / "bot.db")
    try:
        await db.execute("CREATE TABLE t (n INTEGER)")
        await db.execute("INSERT INTO t VALUES (0)")

        async def bump() -> None:
            async with db.transaction() as conn:
                async with conn.execute("SELECT n FROM t") as cur:
                    row = await cur.fetchone()
                assert row is not None
                await asyncio.sleep(0)  # give the others a chance to interleave
                await conn.execute("UPDATE t SET n = ?", (row[0] + 1,))

        async with asyncio.timeout(T):
            await asyncio.gather(*(bump() for _ in range(50)))
        row = await db.fetchone("SELECT n FROM t")
        assert row is not None and row[0] == 50
    finally:
        await db.close()


async def test_close_is_idempotent_and_use_after_close_fails(tmp_path: Path) -> None:
    db = await _open(tmp_path / "bot.db")
    await db.close()
    await db.close()
    assert db.closed
    with pytest.raises(DatabaseClosedError):
        await db.fetchone("SELECT 1")


async def test_commit_is_visible_to_other_connections(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await _open(path)
    try:
        await db.execute("CREATE TABLE t (x TEXT)")
        await db.execute("INSERT INTO t VALUES (?)", ("hello",))
        with sqlite3.connect(path) as other:
            assert other.execute("SELECT x FROM t").fetchall() == [("hello",)]
    finally:
        await db.close()


def test_split_statements() -> None:
    script = """
    -- leading comment
    CREATE TABLE a (x TEXT DEFAULT ';');
    CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; SELECT 2; END;
    -- trailing comment
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[1].endswith("END;")
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE a (x TEXT)")
