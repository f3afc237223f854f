"""The bot's PTB persistence (bot/telegram/persistence.py on bot/storage/conversations.py):
a real PTB Application on a real SQLite file.

No network: the Bot API is an `httpx.MockTransport` that answers getMe.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.storage.conversations import ConversationTables
from bot.storage.db import Database, DatabaseClosedError
from bot.telegram.persistence import (
    WRITE_THROUGH_GROUP,
    SqlitePersistence,
    write_through_handler,
)

T = 10  # seconds: bound for every await in these tests


def sqlite_persistence(
    db: Database | None = None, *, path: str | Path | None = None, **options: Any
) -> SqlitePersistence:
    """The bot's persistence on the SQLite tables (as `bot.app` wires it)."""
    return SqlitePersistence(ConversationTables(db, path=path), **options)


ROOT = Path(__file__).resolve().parents[1]

CHAT_ID = -100123
USER_ID = 42
KEY = json.dumps([CHAT_ID, USER_ID])
NAME = "register"
ASK_NAME = 1  # an int state
ASK_COLOR = "ask_color"  # a str state

Ctx = ContextTypes.DEFAULT_TYPE


# --- a tiny persistent conversation ----------------------------------------------------------


async def _start(update: Update, context: Ctx) -> int:
    assert context.user_data is not None and context.chat_data is not None
    context.user_data["draft"] = {"chat": str(CHAT_ID), "steps": ["start"]}
    context.chat_data["starts"] = context.chat_data.get("starts", 0) + 1
    return ASK_NAME


async def _name(update: Update, context: Ctx) -> str:
    assert context.user_data is not None and update.effective_message is not None
    context.user_data["draft"]["name"] = update.effective_message.text
    context.user_data["draft"]["steps"].append("name")
    return ASK_COLOR


async def _color(update: Update, context: Ctx) -> int:
    assert context.user_data is not None and update.effective_message is not None
    draft = context.user_data.pop("draft")
    draft["color"] = update.effective_message.text
    draft["steps"].append("color")
    context.user_data["done"] = draft
    return ConversationHandler.END


def _bot_request() -> HTTPXRequest:
    def answer(request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        if method == "getMe":
            me = {"id": 1, "is_bot": True, "first_name": "Bot", "username": "test_bot"}
            return httpx.Response(200, json={"ok": True, "result": me})
        return httpx.Response(400, json={"ok": False, "error_code": 400, "description": method})

    return HTTPXRequest(httpx_kwargs={"transport": httpx.MockTransport(answer)})


def build_app(
    persistence: SqlitePersistence, *, write_through: bool = True
) -> Application[Any, Any, Any, Any, Any, Any]:
    text = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    app = (
        ApplicationBuilder()
        .token("123:TEST")
        .request(_bot_request())
        .get_updates_request(_bot_request())
        .persistence(persistence)
        .build()
    )
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", _start)],
            states={
                ASK_NAME: [MessageHandler(text, _name)],
                ASK_COLOR: [MessageHandler(text, _color)],
            },
            fallbacks=[],
            name=NAME,
            persistent=True,
        )
    )
    if write_through:
        app.add_handler(write_through_handler(), group=WRITE_THROUGH_GROUP)
    return app


def message(update_id: int, text: str) -> dict[str, Any]:
    entities = []
    if text.startswith("/"):
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": CHAT_ID, "type": "supergroup", "title": "Installers"},
            "from": {"id": USER_ID, "is_bot": False, "first_name": "Ivan"},
            "text": text,
            "entities": entities,
        },
    }


async def feed(app: Application[Any, Any, Any, Any, Any, Any], *texts: str) -> None:
    for i, text in enumerate(texts):
        async with asyncio.timeout(T):
            await app.process_update(Update.de_json(message(1000 + i, text), app.bot))


def read_file(
    path: Path,
) -> tuple[dict[tuple[str, str], Any], dict[str, Any], dict[int, Any]]:
    """An independent sqlite3 connection: what another process (or the next run) sees."""
    conn = sqlite3.connect(path)
    try:
        conversations = {
            (str(n), str(k)): json.loads(s)
            for n, k, s in conn.execute("SELECT name, key, state FROM ptb_conversations")
        }
        users = {
            str(u): json.loads(d)
            for u, d in conn.execute("SELECT user_id, data FROM ptb_user_data")
        }
        chats = {
            int(c): json.loads(d)
            for c, d in conn.execute("SELECT chat_id, data FROM ptb_chat_data")
        }
    finally:
        conn.close()
    return conversations, users, chats


# --- write-through with a real Application ---------------------------------------------------


async def test_write_through_survives_without_shutdown(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.db"
    first = build_app(sqlite_persistence(path=path))  # update_interval 60: no timed write
    async with asyncio.timeout(T):
        await first.initialize()
    try:
        await feed(first, "/start", "Van 12")

        # No flush, no shutdown: the rows are in the file already.
        conversations, users, chats = read_file(path)
        assert conversations == {(NAME, KEY): ASK_COLOR}
        assert users == {
            str(USER_ID): {
                "draft": {"chat": str(CHAT_ID), "steps": ["start", "name"], "name": "Van 12"}
            }
        }
        assert chats == {CHAT_ID: {"starts": 1}}

        # A new Application on the same file (the first one "crashed": never shut down).
        second = build_app(sqlite_persistence(path=path))
        async with asyncio.timeout(T), second:
            assert second.user_data[USER_ID]["draft"]["name"] == "Van 12"
            await feed(second, "blue")  # only handled in state ASK_COLOR
            assert second.user_data[USER_ID]["done"] == {
                "chat": str(CHAT_ID),
                "steps": ["start", "name", "color"],
                "name": "Van 12",
                "color": "blue",
            }
            conversations, users, _ = read_file(path)
            assert conversations == {}  # END deletes the row
            assert "draft" not in users[str(USER_ID)]
            assert users[str(USER_ID)]["done"]["color"] == "blue"
    finally:
        async with asyncio.timeout(T):
            await first.shutdown()


async def test_without_write_through_ptb_batches(tmp_path: Path) -> None:
    """The reason for write_through_handler: PTB alone writes only every 60 s / at shutdown."""
    path = tmp_path / "bot.db"
    app = build_app(sqlite_persistence(path=path), write_through=False)
    async with asyncio.timeout(T), app:
        await feed(app, "/start")
        assert read_file(path)[0] == {}
    # shutdown() ran update_persistence() and flush()
    assert read_file(path)[0] == {(NAME, KEY): ASK_NAME}


async def test_conversation_resumes_in_int_state(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    app = build_app(sqlite_persistence(path=path))
    async with asyncio.timeout(T), app:
        await feed(app, "/start")
    app = build_app(sqlite_persistence(path=path))
    async with asyncio.timeout(T), app:
        await feed(app, "Truck", "red")
        assert app.user_data[USER_ID]["done"]["name"] == "Truck"


async def test_shared_database_and_flush(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    tables = ConversationTables(path=path)
    app = build_app(SqlitePersistence(tables))
    async with asyncio.timeout(T), app:
        # opened in initialize(), before post_init: the journal can share it
        db = await tables.database()
        assert db is await tables.database()
        assert db.path == path
        await feed(app, "/start")
    assert db.closed  # flush() closed the database it opened itself

    # re-initialising the same Application opens it again
    async with asyncio.timeout(T), app:
        assert not (await tables.database()).closed
        assert app.user_data[USER_ID]["draft"]["steps"] == ["start"]

    external = await Database.open(tmp_path / "other.db")
    try:
        app = build_app(sqlite_persistence(external))
        async with asyncio.timeout(T), app:
            await feed(app, "/start")
        assert not external.closed  # not ours to close
        row = await external.fetchone("SELECT state FROM ptb_conversations")
        assert row is not None and json.loads(row["state"]) == ASK_NAME
    finally:
        await external.close()


async def test_bot_data_not_stored_by_default(tmp_path: Path) -> None:
    """bot_data may hold service objects: PTB never deep-copies or writes it."""
    path = tmp_path / "bot.db"

    class Service:
        def __deepcopy__(self, memo: object) -> Any:
            raise TypeError("services must not be deep-copied")

    persistence = sqlite_persistence(path=path)
    assert persistence.store_data.bot_data is False
    app = build_app(persistence)
    async with asyncio.timeout(T), app:
        app.bot_data["services"] = Service()
        errors: list[object] = []

        async def on_error(update: object, context: Ctx) -> None:
            errors.append(context.error)

        app.add_error_handler(on_error)
        await feed(app, "/start")
        assert errors == []
    assert read_file(path)[0] == {(NAME, KEY): ASK_NAME}
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM ptb_bot_data").fetchone()[0] == 0


async def test_bot_data_stored_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    app = build_app(sqlite_persistence(path=path, store_bot_data=True))
    async with asyncio.timeout(T), app:
        app.bot_data["catalog"] = {"version": 2}
        await feed(app, "/start")
        with sqlite3.connect(path) as conn:
            row = conn.execute("SELECT data FROM ptb_bot_data").fetchone()
        assert json.loads(row[0]) == {"catalog": {"version": 2}}
    app = build_app(sqlite_persistence(path=path, store_bot_data=True))
    async with asyncio.timeout(T), app:
        assert app.bot_data == {"catalog": {"version": 2}}


# --- the persistence API directly --------------------------------------------------------------


async def test_round_trip_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    p = sqlite_persistence(path=path, store_bot_data=True)
    async with asyncio.timeout(T):
        assert await p.get_user_data() == {}
        assert await p.get_chat_data() == {}
        assert await p.get_bot_data() == {}
        assert await p.get_callback_data() is None
        assert await p.get_conversations(NAME) == {}

        await p.update_user_data(1, {"a": [1, 2.5, None, True], "b": {"c": "ü"}})
        await p.update_user_data(2, {})
        await p.update_chat_data(-5, {"x": 1})
        await p.update_bot_data({"version": 3})
        await p.update_conversation(NAME, (-5, 1), 3)
        await p.update_conversation(NAME, (-5, 2), "state_b")
        await p.update_conversation("other", (-5, 1), 9)
        await p.update_conversation(NAME, (-5, 3), 4)
        await p.update_conversation(NAME, (-5, 3), None)  # ended: deleted
        await p.update_user_data(1, {"a": "replaced"})
        await p.flush()

    p = sqlite_persistence(path=path)
    async with asyncio.timeout(T):
        assert await p.get_user_data() == {1: {"a": "replaced"}, 2: {}}
        assert await p.get_chat_data() == {-5: {"x": 1}}
        assert await p.get_bot_data() == {"version": 3}
        conversations = await p.get_conversations(NAME)
        assert conversations == {(-5, 1): 3, (-5, 2): "state_b"}
        assert all(isinstance(k, tuple) for k in conversations)
        assert await p.get_conversations("other") == {(-5, 1): 9}

        await p.drop_user_data(1)
        await p.drop_chat_data(-5)
        await p.refresh_user_data(2, {})
        await p.refresh_chat_data(-5, {})
        await p.refresh_bot_data({})
        assert await p.get_user_data() == {2: {}}
        assert await p.get_chat_data() == {}
        await p.flush()


async def test_non_json_data_raises_naming_the_key(tmp_path: Path) -> None:
    p = sqlite_persistence(path=tmp_path / "bot.db")
    try:
        async with asyncio.timeout(T):
            with pytest.raises(TypeError, match=r"user_data\[5\]\['drafts'\]\['x'\]: a set"):
                await p.update_user_data(5, {"drafts": {"x": {1, 2}}})
            with pytest.raises(TypeError, match=r"chat_data\[-1\]: key 7 is a int"):
                await p.update_chat_data(-1, {7: "int keys would come back as str"})
            with pytest.raises(TypeError, match=r"bot_data\['f'\]: nan"):
                await p.update_bot_data({"f": float("nan")})
            with pytest.raises(TypeError, match=r"conversation 'register' key \[1, 2\]"):
                await p.update_conversation(NAME, (1, 2), object())
            # nothing was written, and the persistence still works
            await p.update_user_data(5, {"ok": True})
            assert await p.get_user_data() == {5: {"ok": True}}
    finally:
        await p.flush()


async def test_one_update_persistence_run_is_one_transaction(tmp_path: Path) -> None:
    """PTB runs the writes of one update_persistence() concurrently; they commit together."""
    db = await Database.open(tmp_path / "bot.db")
    try:
        p = sqlite_persistence(db)
        async with asyncio.timeout(T):
            results = await asyncio.gather(
                p.update_user_data(1, {"n": 1}),
                p.update_chat_data(2, {"n": 2}),
                p.update_conversation(NAME, (2, 1), 1),
                return_exceptions=True,
            )
        assert list(results) == [None, None, None]

        await db.execute("DROP TABLE ptb_chat_data")  # make one statement of the batch fail
        async with asyncio.timeout(T):
            results = await asyncio.gather(
                p.update_user_data(1, {"n": 100}),
                p.update_chat_data(2, {"n": 200}),
                p.update_conversation(NAME, (2, 1), 2),
                return_exceptions=True,
            )
        assert all(isinstance(r, sqlite3.OperationalError) for r in results)
        # all or nothing: the user_data and the state are the old ones
        assert await p.get_user_data() == {1: {"n": 1}}
        assert await p.get_conversations(NAME) == {(2, 1): 1}
    finally:
        await db.close()


async def test_constructor_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ConversationTables()
    db = await Database.open(tmp_path / "bot.db")
    try:
        with pytest.raises(ValueError, match="exactly one"):
            ConversationTables(db, path=tmp_path / "bot.db")
        tables = ConversationTables(db)
        p = SqlitePersistence(tables, update_interval=5)
        assert p.update_interval == 5
        assert p.store_data.callback_data is False
        assert p.store_data.user_data and p.store_data.chat_data
        assert not p.store_data.bot_data
        assert sqlite_persistence(db, store_bot_data=True).store_data.bot_data
        assert await tables.database() is db
        await p.flush()
        assert not db.closed
    finally:
        await db.close()
    with pytest.raises(DatabaseClosedError):
        await p.get_user_data()


# --- kill -9 ---------------------------------------------------------------------------------

CHILD = """
import asyncio, sys
from tests.test_storage_persistence import build_app, feed, sqlite_persistence

async def main() -> None:
    app = build_app(sqlite_persistence(path=sys.argv[1]))
    async with app:
        await feed(app, "/start", "Van 7")
        print("PROCESSED", flush=True)
        await asyncio.Event().wait()  # waiting for the next update: killed here

asyncio.run(main())
"""


@pytest.mark.e2e  # a real process, killed
async def test_state_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(path),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        async with asyncio.timeout(30):
            line = await proc.stdout.readline()
        if line.strip() != b"PROCESSED":
            async with asyncio.timeout(T):
                err = await proc.stderr.read()
            pytest.fail(f"child did not process the updates: {line!r} {err.decode()[-2000:]}")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        async with asyncio.timeout(T):
            await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    conversations, users, _ = read_file(path)
    assert conversations == {(NAME, KEY): ASK_COLOR}
    assert users[str(USER_ID)]["draft"]["name"] == "Van 7"

    app = build_app(sqlite_persistence(path=path))
    async with asyncio.timeout(T), app:
        await feed(app, "green")
        assert app.user_data[USER_ID]["done"]["color"] == "green"
        assert app.user_data[USER_ID]["done"]["name"] == "Van 7"


async def test_the_same_value_is_not_written_twice(tmp_path: Path) -> None:
    """State saved before a question and again by the write-through after the update:
    the second, identical write is skipped (one transaction per update); a change is not."""
    path = tmp_path / "bot.db"
    persistence = sqlite_persistence(path=path)
    key = (CHAT_ID, USER_ID)
    try:
        await persistence.update_user_data(USER_ID, {"draft": {"n": 1}})
        await persistence.update_conversation(NAME, key, ASK_COLOR)

        def stamps() -> tuple[str, str]:
            with sqlite3.connect(path) as conn:
                (user,) = conn.execute("SELECT updated_at FROM ptb_user_data").fetchone()
                (conv,) = conn.execute("SELECT updated_at FROM ptb_conversations").fetchone()
            return user, conv

        first = stamps()
        await persistence.update_user_data(USER_ID, {"draft": {"n": 1}})
        await persistence.update_conversation(NAME, key, ASK_COLOR)
        assert stamps() == first  # nothing was written
        await persistence.update_user_data(USER_ID, {"draft": {"n": 2}})
        assert stamps()[0] != first[0]
        _, users, _ = read_file(path)
        assert users == {str(USER_ID): {"draft": {"n": 2}}}
    finally:
        await persistence.flush()
