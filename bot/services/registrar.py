"""Registration with the journal: one device, one tracker, always.

Every attempt is journaled before `tracker/register` is sent. When the outcome is
unknown (timeout, dropped connection, a 5xx after sending), the tracker list is
checked for the device before anything is sent again; a 224 that follows an
unknown outcome is resolved the same way, since the tracker may be our own.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.navixy.client import NavixyClient
from bot.navixy.errors import NavixyError, NavixyUnavailable
from bot.navixy.models import RegisterRequest, Tracker
from bot.storage.journal import Attempt, AttemptStatus, RegistrationJournal

log = logging.getLogger(__name__)

DEVICE_ID_IN_USE = 224
# An attempt with an unknown outcome is settled as "not created" only once it is this old:
# before that, Navixy may still be working on the request.
SETTLE_AFTER = timedelta(seconds=90)
_OPEN = (AttemptStatus.SENDING, AttemptStatus.UNKNOWN)
# The journal's description of an attempt settled as "not created" by a tracker/list lookup
# after an unknown outcome: a late commit of it can still surface (as a 224).
NOT_CREATED = "not created (checked tracker/list)"


@dataclass(frozen=True)
class Registered:
    tracker_id: int
    label: str
    model: str
    device_id: str | None
    # True when the tracker was found after an unknown outcome or an earlier success.
    recovered: bool = False


@dataclass(frozen=True)
class Rejected:
    error: NavixyError
    # For 224: the tracker in this account that already has the device ID, if any.
    existing: Tracker | None = None


@dataclass(frozen=True)
class NoAnswer:
    """Navixy did not answer and no tracker exists (or it could not be checked)."""

    description: str
    checked: bool
    # True when an earlier attempt may still be in progress at Navixy: retry a bit later.
    pending: bool = False


Outcome = Registered | Rejected | NoAnswer


class Registrar:
    def __init__(self, client: NavixyClient, journal: RegistrationJournal) -> None:
        self._client = client
        self._journal = journal
        self._locks: dict[str, asyncio.Lock] = {}

    async def register(
        self, draft_id: str, request: RegisterRequest, *, user_id: int, chat_id: int
    ) -> Outcome:
        if len(self._locks) > 1000:
            # Drafts are short-lived; drop the locks nobody holds.
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        lock = self._locks.setdefault(draft_id, asyncio.Lock())
        async with lock:
            return await self._register(draft_id, request, user_id=user_id, chat_id=chat_id)

    async def _register(
        self, draft_id: str, request: RegisterRequest, *, user_id: int, chat_id: int
    ) -> Outcome:
        earlier = await self._journal.for_draft(draft_id)
        done = next((a for a in earlier if a.status is AttemptStatus.SUCCESS), None)
        if done is not None and done.tracker_id is not None:
            return _registered(done, done.tracker_id, done.device_id, recovered=True)

        previous = earlier[-1] if earlier else None
        had_unknown = previous is not None and previous.status in (
            AttemptStatus.SENDING,
            AttemptStatus.UNKNOWN,
        )
        if previous is not None and had_unknown:
            # A platform-assigned ID has no 224 to stop a duplicate: while the unknown
            # attempt is recent, Navixy may still be creating it, so don't send again yet.
            young = _age(previous) < SETTLE_AFTER
            wait = request.device_id is None and young
            resolved = await self.resolve(previous, settle=not wait)
            if isinstance(resolved, (Registered, NoAnswer)):
                return resolved
            if wait:
                return NoAnswer(previous.error_description or "", checked=True, pending=True)

        attempt = await self._journal.begin(
            draft_id=draft_id,
            user_id=user_id,
            chat_id=chat_id,
            model=request.model,
            plugin_id=request.plugin_id,
            device_id=request.device_id,
            label=request.label,
            group_id=request.group_id,
        )
        try:
            tracker = await self._client.register(request)
        except NavixyError as exc:
            if isinstance(exc, NavixyUnavailable) and not exc.maybe_delivered:
                await self._journal.fail(attempt.id, exc.code, exc.description)
                return NoAnswer(exc.description, checked=True)
            if not _outcome_unknown(exc):
                maybe_ours = any(_maybe_delivered(a) for a in earlier)
                return await self._rejected(attempt, request, exc, maybe_ours=maybe_ours)
            await self._journal.mark_unknown(attempt.id, exc.description)
            log.warning("register attempt %d: outcome unknown (%s)", attempt.id, exc.description)
            # Not finding the tracker right now proves nothing: after a timeout Navixy may
            # still be working on the request. The attempt stays UNKNOWN, so that Retry
            # looks again before sending (no 224 would stop a duplicate for models whose
            # device ID the platform assigns).
            resolved = await self.resolve(attempt, settle=False)
            if isinstance(resolved, Registered):
                return resolved
            return NoAnswer(exc.description, checked=not isinstance(resolved, NoAnswer))
        await self._journal.succeed(attempt.id, tracker.id)
        return Registered(tracker.id, tracker.label, tracker.source.model, tracker.source.device_id)

    async def _rejected(
        self, attempt: Attempt, request: RegisterRequest, exc: NavixyError, *, maybe_ours: bool
    ) -> Outcome:
        if exc.code == DEVICE_ID_IN_USE and maybe_ours:
            # An earlier attempt of this draft, whose outcome was unknown, may have created
            # it after all. (After definite refusals only, the device is someone else's.)
            await self._journal.mark_unknown(attempt.id, exc.description)
            resolved = await self.resolve(attempt)
            if isinstance(resolved, Registered):
                return resolved
            if isinstance(resolved, NoAnswer):
                return resolved
        else:
            await self._journal.fail(attempt.id, exc.code, exc.description)
        existing = None
        if exc.code == DEVICE_ID_IN_USE and request.device_id:
            existing = await self._find_quietly(None, request.device_id, request.model)
        return Rejected(exc, existing)

    async def resolve(
        self, attempt: Attempt, *, settle: bool = True
    ) -> Registered | NoAnswer | None:
        """Settle an attempt whose outcome is unknown by looking for its tracker.

        Returns Registered when found (journal updated), None when not found (the
        attempt is marked failed; with `settle=False` it is left as it is, for a
        request that may still be in progress), NoAnswer when Navixy could not be asked.
        """
        try:
            tracker = await self._find(attempt.label, attempt.device_id, attempt.model)
        except NavixyError as exc:
            return NoAnswer(exc.description, checked=False)
        if tracker is None:
            if settle:
                await self._journal.fail(attempt.id, 0, NOT_CREATED)
            return None
        await self._journal.succeed(attempt.id, tracker.id)
        log.info("register attempt %d resolved: tracker %d exists", attempt.id, tracker.id)
        return _registered(attempt, tracker.id, tracker.source.device_id, recovered=True)

    async def resolve_unresolved(self) -> list[tuple[Attempt, Registered | NoAnswer | None]]:
        """Look for the trackers of attempts left in SENDING or UNKNOWN.

        Runs at start-up (a crash during the request) and then periodically, so that a
        late-created tracker is announced even if the installer cancelled or never
        tapped Retry. Attempts younger than SETTLE_AFTER are only looked for, not yet
        settled as "not created"; a draft whose registration is running is skipped.
        """
        out: list[tuple[Attempt, Registered | NoAnswer | None]] = []
        for attempt in await self._journal.unresolved():
            lock = self._locks.setdefault(attempt.draft_id, asyncio.Lock())
            if lock.locked():
                continue
            async with lock:
                current = await self._journal.get(attempt.id)
                if current is None or current.status not in _OPEN:
                    continue
                settle = _age(current) >= SETTLE_AFTER
                out.append((current, await self.resolve(current, settle=settle)))
        return out

    async def _find(self, label: str | None, device_id: str | None, model: str) -> Tracker | None:
        trackers = await self._client.list_trackers([label] if label else None)
        if device_id:
            matches = [t for t in trackers if t.source.device_id == device_id]
        else:
            # Platform-assigned IDs (mobile app, N,M models): match label and model, leaving
            # out trackers earlier registrations already account for.
            matches = [t for t in trackers if t.label == label and t.source.model == model]
            taken = await self._journal.taken_tracker_ids([t.id for t in matches])
            matches = [t for t in matches if t.id not in taken]
        return max(matches, key=lambda t: t.id) if matches else None

    async def _find_quietly(self, label: str | None, device_id: str, model: str) -> Tracker | None:
        try:
            return await self._find(label, device_id, model)
        except NavixyError:
            return None


def _age(attempt: Attempt) -> timedelta:
    return datetime.now(UTC) - attempt.updated_at


def _maybe_delivered(attempt: Attempt) -> bool:
    """Could this attempt have created a tracker? Its outcome was unknown at some point."""
    if attempt.status in (AttemptStatus.SENDING, AttemptStatus.UNKNOWN):
        return True
    return attempt.status is AttemptStatus.FAILED and attempt.error_description == NOT_CREATED


def _outcome_unknown(exc: NavixyError) -> bool:
    """Was the call possibly carried out? (dropped connection, timeout, any 5xx)"""
    if isinstance(exc, NavixyUnavailable):
        return exc.maybe_delivered
    return exc.http_status is not None and exc.http_status >= 500


def _registered(
    attempt: Attempt, tracker_id: int, device_id: str | None, *, recovered: bool
) -> Registered:
    return Registered(tracker_id, attempt.label, attempt.model, device_id, recovered=recovered)
