"""The model catalogue and plugin list, served from memory.

The model list is large and changes rarely: it is cached in SQLite, searched in
memory, and refreshed in the background. A Navixy outage at start-up still lets
the bot serve from the cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.domain.search import ModelIndex, SearchHit
from bot.navixy.client import NavixyClient
from bot.navixy.errors import NavixyError
from bot.navixy.models import DeviceModel, Plugin, TrackerGroup
from bot.storage.model_cache import ModelCache

log = logging.getLogger(__name__)

PLUGINS_TTL = 3600.0
GROUPS_TTL = 300.0


class CatalogUnavailable(Exception):
    """No model list: Navixy unreachable and nothing cached yet."""


class Catalog:
    def __init__(self, client: NavixyClient, cache: ModelCache, *, refresh_hours: float) -> None:
        self._client = client
        self._cache = cache
        self._refresh_every = timedelta(hours=refresh_hours)
        self._index = ModelIndex.build([])
        self._fetched_at: datetime | None = None
        self._plugins: list[Plugin] | None = None
        self._plugins_at = 0.0
        self._groups: list[TrackerGroup] | None = None
        self._groups_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def index(self) -> ModelIndex:
        return self._index

    @property
    def fetched_at(self) -> datetime | None:
        return self._fetched_at

    @property
    def ready(self) -> bool:
        return self._fetched_at is not None

    def search(self, query: str, limit: int = 8) -> list[SearchHit]:
        return self._index.search(query, limit=limit)

    def model(self, code: str) -> DeviceModel | None:
        return self._index.get(code)

    async def load_cache(self) -> bool:
        """Serve the cached list (if any) at once; True if there was one."""
        cached = await self._cache.load()
        if cached is None:
            return False
        await self._install(cached.models, cached.fetched_at)
        log.info("model catalogue: %d models from cache", len(cached.models))
        return True

    async def refresh_if_stale(self) -> None:
        """Fetch from Navixy when there is no list or it is older than the refresh period."""
        if self.is_fresh():
            return
        try:
            await self.refresh(unless=self.is_fresh)
        except NavixyError as exc:
            if self.ready:
                log.warning("model refresh failed, serving the cache: %s", exc.description)
            else:
                log.error("model catalogue unavailable: %s", exc.description)

    def is_fresh(self) -> bool:
        if self._fetched_at is None:
            return False
        return datetime.now(UTC) - self._fetched_at < self._refresh_every

    async def refresh(self, *, unless: Callable[[], bool] | None = None) -> None:
        """Fetch the model list. `unless` is re-checked under the lock, so callers who
        waited for a refresh already in progress don't fetch the list a second time."""
        async with self._lock:
            if unless is not None and unless():
                return
            models = await self._client.list_models()
            await self._cache.save(models)
            await self._install(models, datetime.now(UTC))
            log.info("model catalogue refreshed: %d models", len(models))

    async def ensure(self) -> None:
        """Make sure a model list is loaded (try Navixy once more if it is not)."""
        if self.ready:
            return
        try:
            await self.refresh(unless=lambda: self.ready)
        except NavixyError as exc:
            raise CatalogUnavailable(exc.description) from exc

    async def plugins(self) -> list[Plugin]:
        now = time.monotonic()
        if self._plugins is None or now - self._plugins_at > PLUGINS_TTL:
            try:
                self._plugins = await self._client.list_plugins()
                self._plugins_at = now
            except NavixyError:
                if self._plugins is None:
                    raise
                log.warning(
                    "plugin/list failed, using the list from %.0f s ago", now - self._plugins_at
                )
        return self._plugins

    def forget_plugins(self) -> None:
        self._plugins = None

    async def groups(self) -> list[TrackerGroup]:
        now = time.monotonic()
        if self._groups is None or now - self._groups_at > GROUPS_TTL:
            try:
                self._groups = await self._client.list_groups()
                self._groups_at = now
            except NavixyError:
                if self._groups is None:
                    raise
        return self._groups

    def forget_groups(self) -> None:
        self._groups = None

    async def _install(self, models: list[DeviceModel], fetched_at: datetime) -> None:
        # Building the index takes a fraction of a second: keep it off the event loop.
        self._index = await asyncio.to_thread(ModelIndex.build, models)
        self._fetched_at = fetched_at
