"""The cached `tracker/list_models` answer: one row, replaced atomically."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.navixy.models import DeviceModel
from bot.storage.db import Database

log = logging.getLogger(__name__)

_MODELS = TypeAdapter(list[DeviceModel])


@dataclass
class CachedModels:
    models: list[DeviceModel]
    fetched_at: datetime


@dataclass
class CachedRaw:
    """The stored JSON, parsed but not validated."""

    models: list[dict[str, Any]]
    fetched_at: datetime


class ModelCache:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def load(self) -> CachedModels | None:
        """The cached models, or None when there is no (readable) cache."""
        raw = await self.load_raw()
        if raw is None:
            return None
        try:
            models = _MODELS.validate_python(raw.models)
        except ValidationError as exc:
            # E.g. a model schema change: treat as no cache, the next save replaces it.
            log.warning("model cache unreadable, ignoring it: %s", exc.errors()[:3])
            return None
        return CachedModels(models=models, fetched_at=raw.fetched_at)

    async def load_raw(self) -> CachedRaw | None:
        row = await self._db.fetchone("SELECT fetched_at, models FROM model_cache WHERE id = 1")
        if row is None:
            return None
        try:
            models = json.loads(row["models"])
            fetched_at = datetime.fromisoformat(row["fetched_at"])
        except ValueError as exc:
            log.warning("model cache unreadable, ignoring it: %s", exc)
            return None
        if not isinstance(models, list):
            log.warning("model cache unreadable, ignoring it: not a list")
            return None
        if fetched_at.tzinfo is None:
            fetched_at = fetched_at.replace(tzinfo=UTC)
        return CachedRaw(models=models, fetched_at=fetched_at)

    async def save(
        self, models: Sequence[DeviceModel], *, fetched_at: datetime | None = None
    ) -> None:
        """Replace the cache with `models` (fetched now, unless `fetched_at` is given)."""
        when = (fetched_at or datetime.now(UTC)).astimezone(UTC)
        payload = json.dumps(
            [model.model_dump(mode="json", by_alias=True) for model in models],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        await self._db.execute(
            "INSERT OR REPLACE INTO model_cache (id, fetched_at, models) VALUES (1, ?, ?)",
            (when.isoformat(timespec="microseconds"), payload),
        )
