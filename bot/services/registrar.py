"""Registration with the journal: one device, one tracker, always.

Every attempt is journaled before `tracker/register` is sent, together with a
snapshot of the trackers whose label matches (taken with `tracker/list` just
before). When the outcome is unknown (timeout, dropped connection, a 5xx after
sending), the tracker list is checked before anything is sent again, and only a
tracker that provably comes from this registration settles it: same label and
model (and device ID, when the installer gave one), not in the snapshot of the
draft's first attempt that may have reached Navixy, not already journaled for
another attempt, and not created before that attempt (Navixy gives the creation
day). Anything else is someone else's tracker, even with the same label: the
installer is told that Navixy did not confirm. A 224 that follows an unknown
outcome is resolved the same way, since the tracker may be our own.

An installer who never saw a result (delivery pending, see the journal) and
registers the same device again gets that result, not a second tracker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.domain.navixy_outcomes import meaning
from bot.navixy.client import NavixyClient
from bot.navixy.errors import NavixyError, NavixyUnavailable
from bot.navixy.models import RegisterRequest, Tracker
from bot.storage.journal import Attempt, AttemptStatus, RegistrationJournal

log = logging.getLogger(__name__)

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
    # The journal row of the success (its delivery is journaled there).
    attempt_id: int | None = None


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
    # True when the request may have reached Navixy (no confirmation) and the account was
    # checked: `settled` then says whether "not created" is final (Retry sends again at once)
    # or Navixy may still be working on it.
    unconfirmed: bool = False
    settled: bool = False


Outcome = Registered | Rejected | NoAnswer
#: Called once when Navixy did not confirm, before the account is checked.
OnUnconfirmed = Callable[[], Awaitable[None]]


class Registrar:
    def __init__(self, client: NavixyClient, journal: RegistrationJournal) -> None:
        self._client = client
        self._journal = journal
        self._locks: dict[str, asyncio.Lock] = {}

    async def register(
        self,
        draft_id: str,
        request: RegisterRequest,
        *,
        user_id: int,
        chat_id: int,
        card_message_id: int | None = None,
        lang: str | None = None,
        user_name: str = "",
        on_unconfirmed: OnUnconfirmed | None = None,
    ) -> Outcome:
        if len(self._locks) > 1000:
            # Drafts are short-lived; drop the locks nobody holds.
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        lock = self._locks.setdefault(draft_id, asyncio.Lock())
        async with lock:
            return await self._register(
                draft_id,
                request,
                _Recipient(user_id, chat_id, card_message_id, lang, user_name),
                on_unconfirmed,
            )

    async def _register(
        self,
        draft_id: str,
        request: RegisterRequest,
        to: _Recipient,
        on_unconfirmed: OnUnconfirmed | None,
    ) -> Outcome:
        user_id, chat_id = to.user_id, to.chat_id
        earlier = await self._journal.for_draft(draft_id)
        done = next((a for a in earlier if a.status is AttemptStatus.SUCCESS), None)
        if done is not None and done.tracker_id is not None:
            return _registered(done, done.tracker_id, _device_id(done), recovered=True)
        unseen = await self._journal.undelivered_like(
            user_id=user_id,
            chat_id=chat_id,
            model=request.model,
            label=request.label,
            device_id=request.device_id,
        )
        if unseen is not None and unseen.tracker_id is not None:
            # The installer never saw that result: this is the same registration again.
            log.info("draft %s: attempt %d's result was never delivered", draft_id, unseen.id)
            return _registered(unseen, unseen.tracker_id, _device_id(unseen), recovered=True)

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

        # What the account holds before sending: a tracker in this snapshot can never be the
        # result of this attempt. No snapshot, no request (Navixy is hardly reachable then).
        try:
            before = await self._client.list_trackers([request.label])
        except NavixyError as exc:
            return NoAnswer(exc.description, checked=True)
        attempt = await self._journal.begin(
            draft_id=draft_id,
            user_id=user_id,
            chat_id=chat_id,
            model=request.model,
            plugin_id=request.plugin_id,
            device_id=request.device_id,
            label=request.label,
            group_id=request.group_id,
            snapshot=[t.id for t in before],
            card_message_id=to.card_message_id,
            lang=to.lang,
            user_name=to.user_name,
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
            if on_unconfirmed is not None:
                await on_unconfirmed()
            # After a timeout or a dropped connection, not finding the tracker right now
            # proves nothing: Navixy may still be working on the request, so the attempt
            # stays UNKNOWN and Retry looks again before sending (no 224 would stop a
            # duplicate for models whose device ID the platform assigns). A 5xx carrying
            # a Navixy answer is final: not found means not created.
            final = not isinstance(exc, NavixyUnavailable)
            resolved = await self.resolve(attempt, settle=final)
            if isinstance(resolved, Registered):
                return resolved
            if isinstance(resolved, NoAnswer):
                return NoAnswer(exc.description, checked=False, unconfirmed=True)
            return NoAnswer(exc.description, checked=True, unconfirmed=True, settled=final)
        await self._journal.succeed(attempt.id, tracker.id, tracker.source.device_id)
        return Registered(
            tracker.id,
            tracker.label,
            tracker.source.model,
            tracker.source.device_id,
            attempt_id=attempt.id,
        )

    async def _rejected(
        self, attempt: Attempt, request: RegisterRequest, exc: NavixyError, *, maybe_ours: bool
    ) -> Outcome:
        device_exists = meaning(exc.code).device_exists
        if device_exists and maybe_ours:
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
        if device_exists and request.device_id:
            existing = await self._find_quietly(request.device_id)
        return Rejected(exc, existing)

    async def resolve(
        self, attempt: Attempt, *, settle: bool = True
    ) -> Registered | NoAnswer | None:
        """Settle an attempt whose outcome is unknown by looking for its tracker.

        Returns Registered when found (journal updated), None when not found (the
        attempt is marked failed; with `settle=False` it is left as it is, for a
        request that may still be in progress), NoAnswer when Navixy could not be asked.
        """
        # The draft's first attempt that may have reached Navixy: a tracker of this draft was
        # created after it was sent, so it is not in that attempt's snapshot.
        drafts = await self._journal.for_draft(attempt.draft_id)
        first = next((a for a in drafts if a.id == attempt.id or _maybe_delivered(a)), attempt)
        try:
            tracker = await self._find(
                attempt.label,
                attempt.device_id,
                attempt.model,
                before=first.snapshot or frozenset(),
                since=first.created_at,
            )
        except NavixyError as exc:
            return NoAnswer(exc.description, checked=False)
        if tracker is None:
            if settle:
                await self._journal.fail(attempt.id, 0, NOT_CREATED)
            return None
        await self._journal.succeed(attempt.id, tracker.id, tracker.source.device_id)
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

    async def _find(
        self,
        label: str,
        device_id: str | None,
        model: str,
        *,
        before: frozenset[int],
        since: datetime,
    ) -> Tracker | None:
        """The tracker this registration created, if one provably exists (see the module doc)."""
        trackers = await self._client.list_trackers([label])
        matches = [
            t
            for t in trackers
            if t.label == label
            and t.source.model == model
            and (device_id is None or t.source.device_id == device_id)
            and t.id not in before
            and not _created_before(t, since)
        ]
        taken = await self._journal.taken_tracker_ids([t.id for t in matches])
        matches = [t for t in matches if t.id not in taken]
        if len(matches) > 1 and device_id is None:
            # Two new look-alikes since the attempt was sent: which one is ours can't be
            # proven. The oldest is the likeliest; the journal keeps either from being
            # claimed twice.
            log.warning("%d new trackers match label and model; taking the oldest", len(matches))
        return min(matches, key=lambda t: t.id) if matches else None

    async def _find_quietly(self, device_id: str) -> Tracker | None:
        """The tracker of this account that has the device ID (for the 224 message)."""
        try:
            trackers = await self._client.list_trackers()
        except NavixyError:
            return None
        return next((t for t in trackers if t.source.device_id == device_id), None)


@dataclass(frozen=True)
class _Recipient:
    """Who gets the result, and where (journaled with the attempt)."""

    user_id: int
    chat_id: int
    card_message_id: int | None
    lang: str | None
    user_name: str


def _created_before(tracker: Tracker, sent: datetime) -> bool:
    """Did Navixy create the tracker before the attempt was sent?

    Navixy gives the creation day only, in the account's time zone: a tracker counts as
    older only when its day is before the day of sending in every time zone.
    """
    raw = tracker.source.creation_date
    if not raw:
        return False
    try:
        created = date.fromisoformat(raw[:10])
    except ValueError:
        return False
    return created < (sent - timedelta(days=1)).date()


def _device_id(attempt: Attempt) -> str | None:
    return attempt.assigned_device_id or attempt.device_id


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
    return Registered(
        tracker_id,
        attempt.label,
        attempt.model,
        device_id,
        recovered=recovered,
        attempt_id=attempt.id,
    )
