"""bot/storage/model_cache.py against real files."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.navixy.models import Battery, Connection, DeviceModel
from bot.storage.db import Database
from bot.storage.model_cache import ModelCache

T = 10
SHIPPED = Path(__file__).resolve().parents[1] / "bot" / "sandbox" / "data" / "navixy-models.json"


def _models() -> list[DeviceModel]:
    return [
        DeviceModel(
            id=1,
            vendor="Teltonika",
            code="fmb920",
            name="FMB920 «Ω»",
            has_phone=True,
            battery=Battery(min_charge=3.5, max_charge=4.2),
            inputs=["ignition"],
            connection=[Connection(protocol="tcp", url="x.example:1")],
        ),
        DeviceModel(id=2, code="navixymobile", id_type="n_m", register=False),
    ]


async def test_empty_cache(db: Database) -> None:
    cache = ModelCache(db)
    async with asyncio.timeout(T):
        assert await cache.load() is None
        assert await cache.load_raw() is None


async def test_save_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await Database.open(path)
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    await ModelCache(db).save(_models(), fetched_at=when)
    await db.close()

    db = await Database.open(path)  # survives a reopen
    try:
        cached = await ModelCache(db).load()
        assert cached is not None
        assert cached.models == _models()
        assert cached.fetched_at == when
        raw = await ModelCache(db).load_raw()
        assert raw is not None and raw.models[0]["code"] == "fmb920"
    finally:
        await db.close()


async def test_save_replaces_atomically(db: Database) -> None:
    cache = ModelCache(db)
    before = datetime.now(UTC)
    await cache.save(_models())
    await cache.save(_models()[:1])
    cached = await cache.load()
    assert cached is not None
    assert [m.code for m in cached.models] == ["fmb920"]
    assert before - timedelta(seconds=1) <= cached.fetched_at <= datetime.now(UTC)
    with sqlite3.connect(db.path) as other:
        assert other.execute("SELECT count(*) FROM model_cache").fetchone()[0] == 1


async def test_shipped_model_list(db: Database) -> None:
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    items = data["list"] if isinstance(data, dict) else data
    models = [DeviceModel.model_validate(m) for m in items]
    assert len(models) > 10
    # the real list has about 1500 models
    models += [
        models[i % len(models)].model_copy(update={"id": 100_000 + i, "code": f"x{i}"})
        for i in range(1500)
    ]
    cache = ModelCache(db)
    async with asyncio.timeout(T):
        await cache.save(models)
        cached = await cache.load()
    assert cached is not None and cached.models == models


async def test_unreadable_cache_is_ignored(db: Database) -> None:
    await db.execute(
        "INSERT INTO model_cache (id, fetched_at, models) VALUES (1, ?, ?)",
        (datetime.now(UTC).isoformat(), json.dumps([{"id": "not an int"}])),
    )
    assert await ModelCache(db).load() is None
    await db.execute("UPDATE model_cache SET models = 'not json'")
    assert await ModelCache(db).load() is None
    await ModelCache(db).save(_models())
    assert await ModelCache(db).load() is not None
