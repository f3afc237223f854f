"""bot/storage/journal.py against real files."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage.db import Database
from bot.storage.journal import (
    Attempt,
    AttemptNotFoundError,
    AttemptStatus,
    DuplicateSuccessError,
    JournalError,
    RegistrationJournal,
)

T = 10  # seconds: bound for every await in these tests
ROOT = Path(__file__).resolve().parents[1]


async def _begin(
    journal: RegistrationJournal,
    draft_id: str = "d1",
    *,
    device_id: str | None = "356938035643809",
    model: str = "fmb920",
    user_id: int = 7,
) -> Attempt:
    async with asyncio.timeout(T):
        return await journal.begin(
            draft_id=draft_id,
            user_id=user_id,
            chat_id=-100,
            model=model,
            plugin_id=44,
            device_id=device_id,
            label="Truck 12",
            group_id=3,
        )


def _rows(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


async def test_begin_is_committed_before_the_call(db: Database) -> None:
    journal = RegistrationJournal(db)
    before = datetime.now(UTC)
    attempt = await _begin(journal)

    # What the registrar does next is the HTTP call; at this point another
    # connection (or the bot after a crash) must already see the attempt.
    rows = _rows(db.path, "SELECT id, status, draft_id FROM registration_attempts")
    assert rows == [(attempt.id, "sending", "d1")]

    assert attempt.status is AttemptStatus.SENDING
    assert attempt.tracker_id is None and attempt.error_code is None
    assert attempt.draft_id == "d1" and attempt.model == "fmb920" and attempt.plugin_id == 44
    assert attempt.device_id == "356938035643809" and attempt.label == "Truck 12"
    assert attempt.group_id == 3 and attempt.user_id == 7 and attempt.chat_id == -100
    assert attempt.created_at.tzinfo is not None
    assert attempt.created_at.utcoffset() == timedelta(0)
    assert before <= attempt.created_at <= datetime.now(UTC)
    assert attempt.created_at == attempt.updated_at


async def test_no_secret_columns(db: Database) -> None:
    columns = {r[1] for r in _rows(db.path, "PRAGMA table_info(registration_attempts)")}
    for secret in ("activation_code", "apn_password", "apn_user", "phone", "password"):
        assert secret not in columns


async def test_succeed_fail_unknown(db: Database) -> None:
    journal = RegistrationJournal(db)
    a = await _begin(journal, "d1")
    done = await journal.succeed(a.id, 501)
    assert done.status is AttemptStatus.SUCCESS and done.tracker_id == 501
    assert done.updated_at >= done.created_at
    assert await journal.succeed(a.id, 501) == done  # idempotent

    b = await _begin(journal, "d2")
    failed = await journal.fail(b.id, 7, "invalid parameters")
    assert (failed.status, failed.error_code, failed.error_description) == (
        AttemptStatus.FAILED,
        7,
        "invalid parameters",
    )

    c = await _begin(journal, "d3")
    unknown = await journal.mark_unknown(c.id, "read timeout")
    assert unknown.status is AttemptStatus.UNKNOWN
    assert unknown.error_code is None and unknown.error_description == "read timeout"
    # the unknown one is found to exist after all
    resolved = await journal.succeed(c.id, 777)
    assert resolved.status is AttemptStatus.SUCCESS and resolved.error_description is None

    assert await journal.get(a.id) == done
    assert await journal.get(99999) is None
    with pytest.raises(AttemptNotFoundError):
        await journal.fail(99999, 1, "x")


async def test_success_is_final(db: Database) -> None:
    journal = RegistrationJournal(db)
    a = await _begin(journal)
    await journal.succeed(a.id, 501)
    with pytest.raises(JournalError):
        await journal.fail(a.id, 1, "late error")
    with pytest.raises(JournalError):
        await journal.mark_unknown(a.id, "late timeout")
    with pytest.raises(JournalError):
        await journal.succeed(a.id, 502)
    assert (await journal.get(a.id)) is not None
    assert (await journal.get(a.id)).tracker_id == 501  # type: ignore[union-attr]


async def test_one_success_per_draft(db: Database) -> None:
    journal = RegistrationJournal(db)
    first = await _begin(journal, "d1")
    second = await _begin(journal, "d1")
    await journal.succeed(first.id, 501)
    with pytest.raises(DuplicateSuccessError, match="d1"):
        await journal.succeed(second.id, 502)
    assert (await journal.get(second.id)).status is AttemptStatus.SENDING  # type: ignore[union-attr]
    # the partial unique index holds even for raw SQL
    with pytest.raises(sqlite3.IntegrityError):
        await db.execute(
            "UPDATE registration_attempts SET status = 'success', tracker_id = 9 WHERE id = ?",
            (second.id,),
        )
    # other drafts are unaffected, failures may repeat
    await journal.fail(second.id, 224, "device in use")
    other = await _begin(journal, "d2")
    await journal.succeed(other.id, 503)
    success = await journal.success_for_draft("d1")
    assert success is not None and success.id == first.id
    assert await journal.success_for_draft("nope") is None


async def test_latest_for_draft(db: Database) -> None:
    journal = RegistrationJournal(db)
    assert await journal.latest_for_draft("d1") is None
    a = await _begin(journal, "d1")
    await _begin(journal, "d2")
    await journal.fail(a.id, 1, "x")
    b = await _begin(journal, "d1")
    latest = await journal.latest_for_draft("d1")
    assert latest is not None and latest.id == b.id
    assert [x.id for x in await journal.for_draft("d1")] == [a.id, b.id]
    assert await journal.for_draft("nope") == []


async def test_unresolved_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await Database.open(path)
    journal = RegistrationJournal(db)
    sending = await _begin(journal, "d1")
    unknown = await _begin(journal, "d2")
    await journal.mark_unknown(unknown.id, "timeout")
    ok = await _begin(journal, "d3")
    await journal.succeed(ok.id, 1)
    failed = await _begin(journal, "d4")
    await journal.fail(failed.id, 1, "x")
    # Simulate a crash: a second connection opens while the first was never closed.
    db2 = await Database.open(path)
    try:
        found = await RegistrationJournal(db2).unresolved()
        assert [(a.id, a.status) for a in found] == [
            (sending.id, AttemptStatus.SENDING),
            (unknown.id, AttemptStatus.UNKNOWN),
        ]
    finally:
        await db2.close()
        await db.close()


async def test_recent_and_stats(db: Database) -> None:
    journal = RegistrationJournal(db)
    assert await journal.stats() == {"sending": 0, "success": 0, "failed": 0, "unknown": 0}
    ids = []
    for i in range(5):
        a = await _begin(journal, f"d{i}", user_id=7 if i % 2 == 0 else 8)
        ids.append(a.id)
    await journal.succeed(ids[0], 1)
    await journal.fail(ids[1], 1, "x")
    await journal.mark_unknown(ids[2], "y")
    assert [a.id for a in await journal.recent()] == ids[::-1]
    assert [a.id for a in await journal.recent(2)] == ids[:-3:-1]
    assert [a.id for a in await journal.recent(user_id=8)] == [ids[3], ids[1]]
    assert await journal.stats() == {"sending": 2, "success": 1, "failed": 1, "unknown": 1}


async def test_models_for_tac(db: Database) -> None:
    journal = RegistrationJournal(db)

    async def ok(draft: str, model: str, device_id: str | None) -> None:
        a = await _begin(journal, draft, model=model, device_id=device_id)
        await journal.succeed(a.id, hash(draft) % 10_000 + 1)

    await ok("a", "fmb920", "35693803564380")
    await ok("b", "fmb920", "35693803000001")
    await ok("c", "fmb120", "35693803000002")
    await ok("d", "fmb130", "35693803000003")
    await ok("e", "gt06", "86123456000000")  # other TAC
    await ok("f", "navixymobile", None)  # no device id
    failed = await _begin(journal, "g", model="fmb130", device_id="35693803000004")
    await journal.fail(failed.id, 1, "x")  # failures do not count
    # fmb920 twice; fmb120 and fmb130 once each, the most recent first
    assert await journal.models_for_tac("35693803") == [
        ("fmb920", 2),
        ("fmb130", 1),
        ("fmb120", 1),
    ]
    assert await journal.models_for_tac("00000000") == []
    with pytest.raises(ValueError, match="8 digits"):
        await journal.models_for_tac("3569")


CHILD = """
import asyncio, sys
from bot.storage.db import Database
from bot.storage.journal import RegistrationJournal

async def main() -> None:
    db = await Database.open(sys.argv[1])
    journal = RegistrationJournal(db)
    attempt = await journal.begin(
        draft_id="crash", user_id=1, chat_id=1, model="fmb920", plugin_id=44,
        device_id="356938035643809", label="Van", group_id=0,
    )
    print("SENDING", attempt.id, flush=True)
    await asyncio.Event().wait()  # "the HTTP call" never returns: we get killed here

asyncio.run(main())
"""


async def test_attempt_survives_kill_9(tmp_path: Path) -> None:
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
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = await proc.stdout.readline()
        assert line.startswith(b"SENDING"), line
        attempt_id = int(line.split()[1])
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        async with asyncio.timeout(T):
            await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    async with asyncio.timeout(T):
        db = await Database.open(path)
    try:
        unresolved = await RegistrationJournal(db).unresolved()
        assert [(a.id, a.draft_id, a.status) for a in unresolved] == [
            (attempt_id, "crash", AttemptStatus.SENDING)
        ]
    finally:
        await db.close()
