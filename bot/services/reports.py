"""What the admin commands report: /status, /recent, /find, /stats, /export.

Reads the journal and the watches (bot/storage/reports.py), asks Navixy only where the
report needs its current view (/status: one `user/get_info`; /find: `get_states` of the
trackers found), and returns data; the wording is bot/telegram/admin_texts.py's.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from importlib import metadata

from bot.domain.attempts import Attempt, AttemptStatus
from bot.domain.watch import StateSummary, summarize
from bot.navixy.client import NavixyClient
from bot.navixy.errors import NavixyError
from bot.services.catalog import Catalog
from bot.storage import reports
from bot.storage.db import Database


class Period(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def span(self) -> timedelta:
        return {Period.DAY: timedelta(days=1), Period.WEEK: timedelta(days=7)}.get(
            self, timedelta(days=30)
        )

    @classmethod
    def parse(cls, text: str | None, default: Period) -> Period | None:
        if not text:
            return default
        try:
            return cls(text.strip().lower())
        except ValueError:
            return None


@dataclass(frozen=True)
class Status:
    version: str
    uptime: float  # seconds
    navixy_ms: float | None  # None: not reachable
    navixy_error: int | None  # its error code when it answered with an error (0: no answer)
    account: str | None
    models: int
    models_age: float | None  # seconds since the model list was fetched
    database_bytes: int
    waiting: int  # registered devices not online yet
    errors_last_hour: int


@dataclass(frozen=True)
class Found:
    attempt: Attempt
    state: StateSummary | None  # Navixy's current state (None: none, or Navixy down)


@dataclass(frozen=True)
class Stats:
    period: Period
    total: int
    succeeded: int
    per_day: list[tuple[date, int]]
    per_installer: list[tuple[str, int]]
    median_connect: float | None  # seconds from registration to the first connection
    top_errors: list[tuple[int, str, int]]  # (code, description, count)

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.total if self.total else None


def _version() -> str:
    try:
        return metadata.version("installer-bot")
    except metadata.PackageNotFoundError:
        return "dev"


class Reports:
    def __init__(
        self,
        db: Database,
        client: NavixyClient,
        catalog: Catalog,
        *,
        started: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._client = client
        self._catalog = catalog
        self._started = started
        self._now = clock

    async def status(self) -> Status:
        now = self._now()
        began = time.monotonic()
        ms: float | None = None
        error: int | None = None
        account: str | None = None
        try:
            info = await self._client.get_info()
            ms = (time.monotonic() - began) * 1000
            user = info.get("user_info")
            if isinstance(user, dict) and user.get("login"):
                account = str(user["login"])
        except NavixyError as exc:
            error = exc.code
        fetched = self._catalog.fetched_at
        return Status(
            version=_version(),
            uptime=time.monotonic() - self._started,
            navixy_ms=ms,
            navixy_error=error,
            account=account,
            models=len(self._catalog.index.models) if self._catalog.ready else 0,
            models_age=(now - fetched).total_seconds() if fetched is not None else None,
            database_bytes=await reports.database_bytes(self._db),
            waiting=await reports.waiting_devices(self._db),
            errors_last_hour=await reports.errors_since(self._db, now - timedelta(hours=1)),
        )

    async def recent(self, limit: int, offset: int = 0) -> tuple[list[Attempt], int]:
        return await reports.recent(self._db, limit, offset), await reports.count_attempts(self._db)

    async def find(self, query: str) -> tuple[list[Found], bool]:
        """The journal's records for `query` with Navixy's state of each tracker; the flag
        is False when Navixy could not be asked (the records are still shown)."""
        attempts = await reports.find(self._db, query)
        trackers = sorted({a.tracker_id for a in attempts if a.tracker_id is not None})
        states = {}
        reachable = True
        if trackers:
            try:
                states = await self._client.get_states(trackers)
            except NavixyError:
                reachable = False
        found = [
            Found(a, summarize(states[a.tracker_id]) if a.tracker_id in states else None)
            for a in attempts
        ]
        return found, reachable

    async def stats(self, period: Period) -> Stats:
        start = self._now() - period.span
        attempts = await reports.since(self._db, start)
        # One registration per draft: its last attempt decides.
        last: dict[str, Attempt] = {}
        for attempt in attempts:
            last[attempt.draft_id] = attempt
        done = list(last.values())
        ok = [a for a in done if a.status is AttemptStatus.SUCCESS]
        per_day = Counter(a.created_at.astimezone(UTC).date() for a in done)
        per_user = Counter(a.user_name or str(a.user_id) for a in done)
        errors = Counter(
            (a.error_code or 0, a.error_description or "")
            for a in attempts
            if a.status is AttemptStatus.FAILED
        )
        return Stats(
            period=period,
            total=len(done),
            succeeded=len(ok),
            per_day=sorted(per_day.items()),
            per_installer=per_user.most_common(10),
            median_connect=await reports.median_connect_seconds(self._db, start),
            top_errors=[(code, text, n) for (code, text), n in errors.most_common(3)],
        )

    async def export_csv(self, period: Period) -> tuple[bytes, int]:
        """The journal of the period as CSV (UTF-8 with BOM, for spreadsheets)."""
        attempts = await reports.since(self._db, self._now() - period.span)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(reports.EXPORT_COLUMNS)
        for a in attempts:
            writer.writerow(
                [
                    a.id,
                    a.created_at.astimezone(UTC).isoformat(timespec="seconds"),
                    a.user_id,
                    a.user_name,
                    a.chat_id,
                    a.model,
                    a.plugin_id,
                    a.device_id or a.assigned_device_id or "",
                    _cell(a.label),
                    a.group_id,
                    a.status.value,
                    a.tracker_id or "",
                    a.error_code or "",
                    _cell(a.error_description or ""),
                ]
            )
        return ("\ufeff" + out.getvalue()).encode(), len(attempts)


def _cell(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
