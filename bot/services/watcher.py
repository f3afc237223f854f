"""Follow registered devices until they are online: one shared, bounded poller.

`Watcher.tick()` runs from ONE repeating job (every WATCH_TICK_SECONDS). Each tick reads
the active watches from SQLite (so watching survives restarts), polls the ones that are
due (`bot.domain.watch.poll_due`) in batches of `POLL_BATCH` ids per `tracker/get_states`
call (the API takes 2000; a smaller answer is parsed, applied and written in shorter
stretches, so an installer's update never waits behind a thousand devices' states),
applies what the devices report, and climbs the escalation ladder of the silent ones
(automatic `register_retry`, options, admins, the end).

Bounds: one `get_states` call per `POLL_BATCH` due watches per tick; at most
`max_actions_per_tick` `register_retry` calls per tick (the rest wait for the next
tick); after a failed poll (error 15, Navixy unavailable...) polling pauses with an
exponential backoff (poll interval doubling up to 5 min).

What the installer sees is done by a `WatchView` (bot/telegram/watch_view.py): the service
decides, the view renders and sends. Time comes from `clock` (Unix seconds in
production; tests share a fake clock with the Navixy stand-in).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from bot.domain.navixy_outcomes import RetryOutcome, classify_retry_error, ends_watch
from bot.domain.watch import (
    CONNECTED,
    DistanceVerdict,
    LastState,
    Phase,
    Rung,
    Watch,
    WatchPolicy,
    distance_verdict,
    evaluate_checks,
    haversine_m,
    ladder_rungs,
    next_guided,
    poll_due,
    start_check,
)
from bot.navixy.client import MAX_STATES, NavixyClient
from bot.navixy.errors import NavixyError, NavixyUnavailable
from bot.navixy.models import DeviceModel, TrackerState
from bot.pacing import Pacer
from bot.storage.watches import WatchStore

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
#: Trackers per `tracker/get_states` call of a round (at most the API's `MAX_STATES`).
POLL_BATCH = 250
#: Seconds a tick waits for a status message being sent before it goes on without it.
STARTING_WAIT = 10.0


class WatchView(Protocol):
    """How the watcher talks to the installer (implemented in bot/telegram/watch_view.py)."""

    async def post_status(self, watch: Watch, now: float, into: int | None = None) -> int | None:
        """Show the status message: edit message `into` (the result card) into it, else
        (or when that fails) send it; its message id, or None when neither worked."""
        ...

    async def update_status(self, watch: Watch, now: float) -> None: ...

    async def first_fix(self, watch: Watch, lat: float, lng: float) -> None: ...

    async def offer_options(self, watch: Watch, now: float) -> None: ...

    async def escalate(self, watch: Watch, admin_ids: Sequence[int], now: float) -> None: ...

    async def ended(self, watch: Watch, now: float) -> None: ...


@dataclass(frozen=True)
class Apn:
    name: str
    user: str = ""
    password: str = ""


@dataclass(frozen=True)
class RetryResult:
    outcome: RetryOutcome
    code: int | None = None
    description: str = ""


@dataclass(frozen=True)
class LocationCheck:
    watch: Watch
    metres: float
    near: bool
    fix_age: float | None


@dataclass
class _Batch:
    """What a poll changed: watches to save whole, and ids whose poll time alone moved."""

    changed: list[Watch] = field(default_factory=list)
    polled: list[int] = field(default_factory=list)


def _take_state(watch: Watch, state: TrackerState, user_time: str | None) -> bool:
    """Keep a polled state as the watch's latest; False if that changes nothing stored.

    A device that says the same again keeps its `LastState` (the same object: neither
    encoded nor written again)."""
    previous = watch.last_state
    if previous is not None and previous.says_the_same(state, user_time):
        return False
    watch.last_state = LastState(state, user_time)
    return True


class Watcher:
    def __init__(
        self,
        client: NavixyClient,
        store: WatchStore,
        policy: WatchPolicy,
        *,
        view: WatchView | None = None,
        clock: Callable[[], float] = time.time,
        admin_ids: Sequence[int] = (),
        max_actions_per_tick: int = 10,
        batch_size: int = POLL_BATCH,
    ) -> None:
        self._client = client
        self._store = store
        self.policy = policy
        self._view = view
        #: Seconds; replaceable (tests share a fake clock with the stand-in).
        self.clock = clock
        self._admin_ids = tuple(admin_ids)
        self._max_actions = max(1, max_actions_per_tick)
        self._batch = max(1, min(batch_size, MAX_STATES))
        self._lock = asyncio.Lock()
        #: Watches whose status message is being sent (set when its id is stored).
        self._starting: dict[int, asyncio.Event] = {}
        self._pause_until = 0.0
        self._backoff = 0.0
        self._commands_disabled: bool | None = None
        #: Counters (logs, tests): polls sent, failed polls (backoffs), retries sent.
        self.polls = 0
        self.backoffs = 0
        self.retries_sent = 0

    @property
    def store(self) -> WatchStore:
        return self._store

    def attach(self, view: WatchView) -> None:
        self._view = view

    @property
    def view(self) -> WatchView:
        if self._view is None:
            raise RuntimeError("Watcher has no view attached")
        return self._view

    # --- starting --------------------------------------------------------------------------

    async def commands_disabled(self) -> bool:
        """The dealer's "don't send activation commands" setting (`user/get_info`)."""
        if self._commands_disabled is None:
            try:
                info = await self._client.get_info()
            except NavixyError as exc:
                log.info("user/get_info failed (code %s): assuming commands are sent", exc.code)
                return False
            paas = info.get("paas_settings")
            self._commands_disabled = bool(
                isinstance(paas, dict) and paas.get("no_register_commands")
            )
        return self._commands_disabled

    async def needs_manual_config(self, model: DeviceModel | None) -> bool:
        """Will the installer have to configure the device by hand (no commands sent)?"""
        if model is not None and not model.has_auto_registration:
            return True
        return await self.commands_disabled()

    async def start(
        self,
        *,
        tracker_id: int,
        chat_id: int,
        user_id: int,
        label: str,
        model: str,
        user_name: str = "",
        lang: str | None = None,
        model_title: str | None = None,
        device_id: str | None = None,
        manual_config: bool = False,
        into: int | None = None,
    ) -> Watch:
        """Post the status message and store the watch.

        `into`: the message to turn into the status message (the registration's result
        card: one message instead of two), else a new one. A tracker already being watched
        keeps its watch and status message (a registration recovered at start-up, then
        confirmed again on the old card); one whose status message never got through
        gets it now. `status_message_id` stays None when it could not be shown.
        """
        existing = await self._store.get(tracker_id)
        if existing is not None and existing.status.active:
            if existing.status_message_id is None and tracker_id not in self._starting:
                await self._post_status(existing, into, store=False)
            return existing
        watch = Watch(
            tracker_id=tracker_id,
            chat_id=chat_id,
            user_id=user_id,
            label=label,
            model=model,
            started_at=self.clock(),
            user_name=user_name,
            lang=lang,
            model_title=model_title,
            device_id=device_id,
            manual_config=manual_config,
        )
        await self._post_status(watch, into, store=True)
        log.info("watching tracker %d (chat %d)", tracker_id, chat_id)
        return watch

    async def _post_status(self, watch: Watch, into: int | None, *, store: bool) -> None:
        tracker_id = watch.tracker_id
        started = self._starting[tracker_id] = asyncio.Event()
        try:
            if store:
                # Not under the round's lock: the result an installer waits for must not
                # wait for a round (it polls Navixy and yields while it holds the lock). A
                # round only saves the watches it read, and a tracker with an active watch
                # never gets here, so the new row is no one else's.
                await self._store.put(watch)
            # Sent without the lock (no one waits for a send under it); ticks and actions
            # wait for the message id outside the lock (`_started`).
            watch.status_message_id = await self.view.post_status(watch, self.clock(), into)
            if watch.status_message_id is not None:
                await self._store.set_status_message(watch)
        finally:
            started.set()
            if self._starting.get(tracker_id) is started:
                del self._starting[tracker_id]

    # --- the shared poller -----------------------------------------------------------------

    async def _started(self, tracker_id: int | None = None) -> None:
        """Wait (bounded, holding no lock) until the status messages being sent are stored."""
        events = list(self._starting.values()) if tracker_id is None else []
        if tracker_id is not None and tracker_id in self._starting:
            events = [self._starting[tracker_id]]
        for event in events:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), STARTING_WAIT)

    async def tick(self) -> None:
        """One round: poll what is due, apply, climb the ladder. Never raises Navixy errors."""
        await self._started()
        async with self._lock:
            now = self.clock()
            watches = await self._store.active()
            if not watches:
                return
            due = [w for w in watches if self._due(w, now)]
            if due and now >= self._pause_until:
                await self._poll(due, now)
            budget = self._max_actions
            pacer = Pacer()
            for watch in watches:
                if watch.status is Phase.WAITING:
                    budget = await self._climb(watch, now, budget)
                elif watch.status is Phase.ONLINE:
                    await self._online_timeout(watch, now)
                await pacer.step()

    def _due(self, watch: Watch, now: float) -> bool:
        return poll_due(
            self.policy,
            watch.status,
            started_at=watch.started_at,
            polled_at=watch.polled_at,
            retried_at=watch.last_retry_at if watch.retries else None,
            now=now,
            check_running=watch.checks.running is not None,
        )

    async def _poll(self, due: list[Watch], now: float) -> bool:
        """Poll `due` in batches; False after a failure (then polling backs off)."""
        pacer = Pacer()  # across the batches: answers in flight go before the next one
        for start in range(0, len(due), self._batch):
            chunk = due[start : start + self._batch]
            try:
                self.polls += 1
                snapshot = await self._client.poll_states([w.tracker_id for w in chunk])
            except NavixyError as exc:
                self._back_off(now, exc)
                return False
            self._backoff = 0.0
            gone = set(snapshot.blocked) | set(snapshot.not_exist)
            batch = _Batch()
            for watch in chunk:
                state = snapshot.states.get(watch.tracker_id)
                if state is not None:
                    await self._apply(watch, state, snapshot.user_time, now, batch)
                elif watch.tracker_id in gone:
                    log.info("tracker %d blocked or deleted: stop watching", watch.tracker_id)
                    await self._end(watch, Phase.GONE, now)
                await pacer.step()
            await self._store.save_many(batch.changed)
            await self._store.mark_polled(batch.polled, now)
            await pacer.step()
        return True

    def _back_off(self, now: float, exc: NavixyError) -> None:
        self.backoffs += 1
        self._backoff = min(max(self._backoff * 2, self.policy.poll_seconds), MAX_BACKOFF)
        self._pause_until = now + self._backoff
        kind = "unavailable" if isinstance(exc, NavixyUnavailable) else f"error {exc.code}"
        log.warning("watch poll failed (%s): pausing polls for %.0f s", kind, self._backoff)

    async def _apply(
        self,
        watch: Watch,
        state: TrackerState,
        user_time: str | None,
        now: float,
        batch: _Batch | None = None,
    ) -> None:
        """Apply a polled state; the watch is saved now, or added to `batch` (saved by the
        caller: a poll of 1000 devices is one write, not 1000, and a watch the poll did not
        change otherwise only has its poll time recorded)."""
        watch.polled_at = now
        changed = _take_state(watch, state, user_time)
        if watch.status is Phase.WAITING and state.connection_status in CONNECTED:
            watch.status = Phase.ONLINE
            watch.connected_at = now
            changed = True
            log.info("tracker %d is online after %.0f s", watch.tracker_id, now - watch.started_at)
        if watch.status is Phase.ONLINE:
            assert watch.last_state is not None
            summary = watch.last_state.summary()
            checks = evaluate_checks(self.policy, watch.checks, summary, now)
            if checks != watch.checks:
                watch.checks = checks
                changed = True
            if summary.has_fix and not watch.fix_sent:
                assert summary.lat is not None and summary.lng is not None
                watch.fix_sent = True
                changed = True
                await self.view.first_fix(watch, summary.lat, summary.lng)
            if watch.fix_sent and watch.checks.complete:
                await self._end(watch, Phase.DONE, now)
                return
        if batch is None:
            await self._store.save(watch)
        elif changed:
            batch.changed.append(watch)
        else:
            batch.polled.append(watch.tracker_id)
        await self.view.update_status(watch, now)

    async def _climb(self, watch: Watch, now: float, budget: int) -> int:
        """Fire the ladder's rungs due for a silent device; returns the remaining budget."""
        rungs = ladder_rungs(self.policy, now - watch.started_at, watch.flags)
        if not rungs:
            return budget
        for rung in rungs:
            if rung is Rung.EXPIRE:
                await self._end(watch, Phase.EXPIRED, now)
                return budget
            if rung is Rung.AUTO_RETRY:
                if budget <= 0:
                    continue  # next tick
                budget -= 1
                result = await self._retry(watch, None, now)
                watch.auto_retry_done = True
                log.info("tracker %d: automatic retry: %s", watch.tracker_id, result.outcome)
                if ends_watch(result.outcome):
                    await self._end(watch, Phase.GONE, now)
                    return budget
            elif rung is Rung.OPTIONS:
                watch.options_sent = True
                await self.view.offer_options(watch, now)
            elif rung is Rung.ESCALATE:
                watch.escalated = True
                await self.view.escalate(watch, self._admin_ids, now)
        await self._store.save(watch)
        await self.view.update_status(watch, now)
        return budget

    async def _online_timeout(self, watch: Watch, now: float) -> None:
        since = watch.connected_at if watch.connected_at is not None else watch.started_at
        if now - since >= self.policy.checks_window or now - watch.started_at >= (
            self.policy.max_age
        ):
            await self._end(watch, Phase.DONE, now)

    async def _end(self, watch: Watch, phase: Phase, now: float) -> None:
        watch.status = phase
        watch.ended_at = now
        await self._store.save(watch)
        await self.view.update_status(watch, now)
        await self.view.ended(watch, now)
        log.info("tracker %d: watch ended (%s)", watch.tracker_id, phase)

    async def _retry(self, watch: Watch, apn: Apn | None, now: float) -> RetryResult:
        kwargs: dict[str, str] = {}
        if apn is not None:
            kwargs = {"apn_name": apn.name, "apn_user": apn.user, "apn_password": apn.password}
        try:
            await self._client.register_retry(watch.tracker_id, **kwargs)
        except NavixyError as exc:
            unavailable = isinstance(exc, NavixyUnavailable)
            outcome = classify_retry_error(exc.code, unavailable=unavailable)
            result = RetryResult(outcome, None if unavailable else exc.code, exc.description)
        else:
            result = RetryResult(RetryOutcome.SENT)
            watch.retries += 1
            self.retries_sent += 1
            if apn is not None:
                watch.apn_changed = True
        watch.last_retry_at = now
        watch.last_retry_result = result.outcome.value
        if result.outcome is RetryOutcome.ALREADY_CONNECTED:
            watch.polled_at = None  # good news: look at once
        return result

    # --- actions from the chat ---------------------------------------------------------------

    async def get(self, tracker_id: int) -> Watch | None:
        return await self._store.get(tracker_id)

    async def pending(self, user_id: int | None) -> list[Watch]:
        return await self._store.pending(user_id)

    async def check_now(self, tracker_id: int) -> Watch | None:
        """Poll one device now (the "Check" buttons). Raises NavixyError if Navixy fails."""
        await self._started(tracker_id)
        async with self._lock:
            watch = await self._store.get(tracker_id)
            if watch is None or not watch.status.active:
                return watch
            now = self.clock()
            snapshot = await self._client.poll_states([tracker_id])
            state = snapshot.states.get(tracker_id)
            if state is not None:
                await self._apply(watch, state, snapshot.user_time, now)
            elif tracker_id in snapshot.blocked or tracker_id in snapshot.not_exist:
                await self._end(watch, Phase.GONE, now)
            return watch

    async def retry(self, tracker_id: int, apn: Apn | None = None) -> RetryResult | None:
        """`tracker/register_retry` from the chat (same APN, or `apn`). None: not watched."""
        await self._started(tracker_id)
        async with self._lock:
            watch = await self._store.get(tracker_id)
            if watch is None:
                return None
            now = self.clock()
            result = await self._retry(watch, apn, now)
            if watch.status is Phase.EXPIRED and result.outcome is RetryOutcome.SENT:
                # Retried after the end: watch again from now on.
                watch.status, watch.ended_at = Phase.WAITING, None
            if ends_watch(result.outcome) and watch.status.active:
                await self._end(watch, Phase.GONE, now)
                return result
            await self._store.save(watch)
            if watch.status.active:
                await self.view.update_status(watch, now)
        if result.outcome is RetryOutcome.ALREADY_CONNECTED:
            try:
                await self.check_now(tracker_id)
            except NavixyError as exc:
                log.info("check after 242 failed: %s", exc.code)
        return result

    async def stop(self, tracker_id: int, *, finished: bool = False) -> Watch | None:
        """The installer dismisses the watch (or finishes the checks)."""
        await self._started(tracker_id)
        async with self._lock:
            watch = await self._store.get(tracker_id)
            if watch is None or not watch.status.active:
                return watch
            await self._end(watch, Phase.DONE if finished else Phase.DISMISSED, self.clock())
            return watch

    async def start_guided_check(self, tracker_id: int) -> Watch | None:
        """Ask for the next guided step (ignition on, then off) and watch for it."""
        await self._started(tracker_id)
        async with self._lock:
            watch = await self._store.get(tracker_id)
            if watch is None or watch.status is not Phase.ONLINE:
                return watch
            check = next_guided(watch.checks)
            if check is None:
                return watch
            now = self.clock()
            watch.checks = start_check(watch.checks, check, now)
            await self._store.save(watch)
            await self.view.update_status(watch, now)
            return watch

    async def compare_location(
        self, chat_id: int, user_id: int, lat: float, lng: float
    ) -> LocationCheck | None:
        """Distance from the installer's shared location to the device's latest fix."""
        async with self._lock:
            watch = await self._store.latest_online_in_chat(chat_id, user_id)
            if watch is None or watch.last_state is None:
                return None
            summary = watch.last_state.summary()
            if summary.lat is None or summary.lng is None:
                return None
            metres = haversine_m(summary.lat, summary.lng, lat, lng)
            watch.checks = replace(watch.checks, distance_m=metres)
            await self._store.save(watch)
            if watch.status.active:
                await self.view.update_status(watch, self.clock())
            near = distance_verdict(metres) is DistanceVerdict.NEAR
            return LocationCheck(watch, metres, near, summary.fix_age)
