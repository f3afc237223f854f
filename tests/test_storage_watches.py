"""bot/storage/watches.py against a real SQLite file (migration 2)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.watch import Check, CheckResult, Checks, LastState, Phase, Watch
from bot.navixy.models import TrackerState
from bot.storage.db import Database
from bot.storage.migrations import MIGRATIONS
from bot.storage.watches import WatchStore

T = 10


def watch(tracker_id: int = 1, **over: object) -> Watch:
    values: dict[str, object] = {
        "tracker_id": tracker_id,
        "chat_id": 100,
        "user_id": 100,
        "label": "AB 123 C",
        "model": "telfmb140",
        "started_at": 1000.0,
    }
    values.update(over)
    return Watch(**values)  # type: ignore[arg-type]


async def test_migration_adds_the_table(db: Database) -> None:
    assert db.schema_version == len(MIGRATIONS) >= 2
    row = await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'watches'")
    assert row is not None


async def test_round_trip_keeps_every_field(db: Database) -> None:
    store = WatchStore(db)
    checks = Checks(distance_m=42.0).with_result(Check.GSM, CheckResult.PASSED)
    w = watch(
        user_name="Ivan",
        lang="de",
        model_title="Teltonika FMB140",
        device_id="356938035643809",
        manual_config=True,
        status=Phase.ONLINE,
        status_message_id=7,
        polled_at=1015.0,
        connected_at=1010.0,
        fix_sent=True,
        last_state=LastState(
            TrackerState.model_validate({"connection_status": "active"}), "2022-08-31 13:47:13"
        ),
        retries=2,
        last_retry_at=1200.0,
        last_retry_result="sent",
        apn_changed=True,
        auto_retry_done=True,
        options_sent=True,
        escalated=True,
        checks=checks,
    )
    await store.put(w)
    assert await store.get(1) == w
    assert await store.get(2) is None


async def test_active_pending_and_latest_online(db: Database) -> None:
    store = WatchStore(db)
    await store.put(watch(1))
    await store.put(watch(2, user_id=101, chat_id=101))
    await store.put(watch(3, status=Phase.ONLINE, connected_at=5.0, fix_sent=True))
    await store.put(watch(4, status=Phase.DONE))
    await store.put(watch(5, status=Phase.ONLINE, connected_at=9.0, fix_sent=True))
    assert [w.tracker_id for w in await store.active()] == [1, 2, 3, 5]
    assert [w.tracker_id for w in await store.pending(100)] == [1]
    assert [w.tracker_id for w in await store.pending(None)] == [1, 2]
    latest = await store.latest_online_in_chat(100, 100)
    assert latest is not None and latest.tracker_id == 5
    assert await store.latest_online_in_chat(101, 101) is None


async def test_put_replaces_and_save_updates(db: Database) -> None:
    store = WatchStore(db)
    w = watch(1)
    await store.put(w)
    w.status = Phase.DISMISSED
    w.retries = 3
    await store.save(w)
    again = await store.get(1)
    assert again is not None and again.status is Phase.DISMISSED and again.retries == 3
    # A tracker registered again starts a fresh watch.
    await store.put(watch(1, started_at=5000.0))
    fresh = await store.get(1)
    assert fresh is not None and fresh.status is Phase.WAITING and fresh.started_at == 5000


async def test_status_is_checked_and_no_secret_column(db: Database) -> None:
    import sqlite3

    rows = await db.fetchall("PRAGMA table_info(watches)")
    names = {r["name"] for r in rows}
    assert not {n for n in names if "password" in n or "apn_user" in n}
    with pytest.raises(sqlite3.IntegrityError):
        await db.execute(
            "INSERT INTO watches (tracker_id, chat_id, user_id, label, model, started_at, "
            "status, updated_at) VALUES (9, 1, 1, 'x', 'm', 0, 'bogus', '')"
        )


async def test_unreadable_json_is_tolerated(db: Database) -> None:
    store = WatchStore(db)
    await store.put(watch(1))
    await db.execute("UPDATE watches SET last_state = 'nope', checks = '{' WHERE tracker_id = 1")
    w = await store.get(1)
    assert w is not None and w.last_state is None and w.checks == Checks()


async def test_active_reads_in_pages_so_others_get_the_connection_between_them(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick reads every active watch (1000s): in pages of `read_page` rows, each its own
    statement, so an installer's write waits for one page at most; by tracker id, each
    active row once, also when rows change between two pages."""
    store = WatchStore(db, read_page=5)
    for tracker_id in range(1, 31):
        ended = tracker_id % 4 == 0
        await store.put(watch(tracker_id, status=Phase.DONE if ended else Phase.WAITING))
    pages: list[list[int]] = []
    real_fetchall = db.fetchall

    async def fetchall(sql: str, params: Any = ()) -> list[Any]:
        rows = await real_fetchall(sql, params)
        pages.append([r["tracker_id"] for r in rows])
        if len(pages) == 1:  # someone else writes between two pages
            await store.save(watch(29, status=Phase.DISMISSED))
            await store.put(watch(40))
        return rows

    monkeypatch.setattr(db, "fetchall", fetchall)
    active = [w.tracker_id for w in await store.active()]

    expected = [i for i in range(1, 31) if i % 4 and i != 29] + [40]
    assert active == expected
    assert pages[0] == [1, 2, 3, 5, 6]
    assert all(len(page) <= 5 for page in pages)
    assert [i for page in pages for i in page] == expected
    assert len(pages) == 5  # 23 rows: four full pages and a short one
