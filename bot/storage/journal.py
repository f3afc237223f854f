"""The registration journal: one row per `tracker/register` attempt.

The row is committed (fsynced, see `Database.transaction(durable=True)`) with
status SENDING *before* the request is sent, so after any crash the bot knows
which attempts may have created a tracker (`unresolved()`). A draft can have at
most one SUCCESS (partial UNIQUE index).

Each row also keeps the `snapshot` taken before sending: the ids of the trackers
whose label matched, so that an unknown outcome is only ever settled with a
tracker that was not there before (never someone else's). Delivering the result
to the chat is its own durable step: a SUCCESS stays "delivery pending"
(`delivered_at` NULL) until Telegram confirmed the message (`mark_delivered`);
`undelivered()` lists what start-up and the periodic job deliver again.

No secrets are stored: no activation code, no APN credentials, no phone numbers.
Timestamps are UTC.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.domain.attempts import Attempt, AttemptStatus
from bot.storage.db import Database, StorageError

_TAC = re.compile(r"[0-9]{8}")

__all__ = [
    "Attempt",
    "AttemptNotFoundError",
    "AttemptStatus",
    "DuplicateSuccessError",
    "JournalError",
    "RegistrationJournal",
]

_COLUMNS = (
    "id, draft_id, user_id, chat_id, model, plugin_id, device_id, label, group_id, status, "
    "tracker_id, error_code, error_description, created_at, updated_at, snapshot,"
    " card_message_id, lang, user_name, delivered_at, assigned_device_id"
)


class JournalError(StorageError):
    """A journal update that would lose information (see the messages)."""


class AttemptNotFoundError(JournalError, LookupError):
    pass


class DuplicateSuccessError(JournalError):
    """The draft already has a successful attempt (with another attempt id)."""


class RegistrationJournal:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def begin(
        self,
        *,
        draft_id: str,
        user_id: int,
        chat_id: int,
        model: str,
        plugin_id: int,
        device_id: str | None,
        label: str,
        group_id: int,
        snapshot: Sequence[int] | None = None,
        card_message_id: int | None = None,
        lang: str | None = None,
        user_name: str = "",
    ) -> Attempt:
        """Record an attempt as SENDING; it is durable when this returns.

        `snapshot`: the trackers that matched before sending (see the module doc);
        `card_message_id`, `lang`, `user_name`: where and how to deliver the result.
        """
        now = _now()
        snap = json.dumps(sorted(set(snapshot))) if snapshot is not None else None
        row = (
            draft_id,
            user_id,
            chat_id,
            model,
            plugin_id,
            device_id,
            label,
            group_id,
            AttemptStatus.SENDING.value,
            now,
            now,
            snap,
            card_message_id,
            lang,
            user_name,
        )

        def insert(conn: sqlite3.Connection) -> Attempt:
            cursor = conn.execute(
                "INSERT INTO registration_attempts (draft_id, user_id, chat_id, model, plugin_id,"
                " device_id, label, group_id, status, created_at, updated_at, snapshot,"
                " card_message_id, lang, user_name)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            attempt_id = cursor.lastrowid
            assert attempt_id is not None
            return _get_required(conn, attempt_id)

        return await self._db.run(insert, durable=True)

    async def succeed(
        self, attempt_id: int, tracker_id: int, device_id: str | None = None
    ) -> Attempt:
        """Mark SUCCESS. Idempotent for the same tracker.

        Raises `DuplicateSuccessError` if another attempt of the draft already
        succeeded, `JournalError` if this attempt succeeded with another tracker.
        """

        def mark(conn: sqlite3.Connection) -> Attempt:
            current = _get_required(conn, attempt_id)
            if current.status is AttemptStatus.SUCCESS:
                if current.tracker_id == tracker_id:
                    return current
                raise JournalError(
                    f"attempt {attempt_id} already succeeded with tracker {current.tracker_id}, "
                    f"not {tracker_id}"
                )
            try:
                conn.execute(
                    "UPDATE registration_attempts SET status = ?, tracker_id = ?,"
                    " assigned_device_id = ?, error_code = NULL, error_description = NULL,"
                    " updated_at = ? WHERE id = ?",
                    (
                        AttemptStatus.SUCCESS.value,
                        tracker_id,
                        device_id or current.device_id,
                        _now(),
                        attempt_id,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                other = _fetch_one(
                    conn,
                    "WHERE draft_id = ? AND status = 'success'",
                    (current.draft_id,),
                )
                raise DuplicateSuccessError(
                    f"draft {current.draft_id} already has a successful attempt "
                    f"{other.id if other else '?'} (tracker "
                    f"{other.tracker_id if other else '?'}); attempt {attempt_id} not marked"
                ) from exc
            return _get_required(conn, attempt_id)

        return await self._db.run(mark, durable=True)

    async def fail(self, attempt_id: int, code: int, description: str) -> Attempt:
        """Mark FAILED (the request surely created nothing)."""
        return await self._settle(attempt_id, AttemptStatus.FAILED, code, description)

    async def mark_unknown(self, attempt_id: int, description: str) -> Attempt:
        """Mark UNKNOWN (the request may have been delivered; check before resending)."""
        return await self._settle(attempt_id, AttemptStatus.UNKNOWN, None, description)

    async def mark_delivered(self, attempt_id: int) -> Attempt:
        """Telegram confirmed the result message: delivery done (idempotent)."""

        def mark(conn: sqlite3.Connection) -> Attempt:
            current = _get_required(conn, attempt_id)
            if current.status is not AttemptStatus.SUCCESS:
                raise JournalError(f"attempt {attempt_id} is {current.status.value}, not a success")
            if current.delivered_at is not None:
                return current
            conn.execute(
                "UPDATE registration_attempts SET delivered_at = ? WHERE id = ?",
                (_now(), attempt_id),
            )
            return _get_required(conn, attempt_id)

        return await self._db.run(mark, durable=True)

    async def set_card(self, attempt_id: int, message_id: int) -> None:
        """The message that shows this attempt's result now (a resend replaced the card)."""
        await self._db.execute(
            "UPDATE registration_attempts SET card_message_id = ? WHERE id = ?",
            (message_id, attempt_id),
        )

    async def undelivered(self) -> list[Attempt]:
        """Successes whose result Telegram has not confirmed yet, oldest first."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM registration_attempts"
            " WHERE status = 'success' AND delivered_at IS NULL ORDER BY id"
        )
        return [_attempt(row) for row in rows]

    async def undelivered_like(
        self, *, user_id: int, chat_id: int, model: str, label: str, device_id: str | None
    ) -> Attempt | None:
        """An undelivered success of this installer in this chat for the same device.

        The installer never saw that result: a new registration of the same device is
        the same registration (for the X-GPS app: same model and label).
        """
        params: tuple[str, ...]
        if device_id:
            where, params = "device_id = ?", (device_id,)
        else:
            where, params = "device_id IS NULL AND model = ? AND label = ?", (model, label)
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM registration_attempts WHERE status = 'success'"
            f" AND delivered_at IS NULL AND user_id = ? AND chat_id = ? AND {where}"
            " ORDER BY id DESC LIMIT 1",
            (user_id, chat_id, *params),
        )
        return _attempt(row) if row is not None else None

    async def get(self, attempt_id: int) -> Attempt | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM registration_attempts WHERE id = ?", (attempt_id,)
        )
        return _attempt(row) if row is not None else None

    async def latest_for_draft(self, draft_id: str) -> Attempt | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM registration_attempts WHERE draft_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (draft_id,),
        )
        return _attempt(row) if row is not None else None

    async def for_draft(self, draft_id: str) -> list[Attempt]:
        """Every attempt of a draft, oldest first."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM registration_attempts WHERE draft_id = ? ORDER BY id",
            (draft_id,),
        )
        return [_attempt(row) for row in rows]

    async def success_for_draft(self, draft_id: str) -> Attempt | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM registration_attempts"
            " WHERE draft_id = ? AND status = 'success'",
            (draft_id,),
        )
        return _attempt(row) if row is not None else None

    async def unresolved(self) -> list[Attempt]:
        """Attempts left in SENDING or UNKNOWN (e.g. a crash during the request), oldest first."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM registration_attempts"
            " WHERE status IN ('sending', 'unknown') ORDER BY id"
        )
        return [_attempt(row) for row in rows]

    async def taken_tracker_ids(self, tracker_ids: Sequence[int]) -> set[int]:
        """Which of these trackers an earlier successful attempt already accounts for."""
        if not tracker_ids:
            return set()
        marks = ", ".join("?" for _ in tracker_ids)
        rows = await self._db.fetchall(
            "SELECT tracker_id FROM registration_attempts"
            f" WHERE status = 'success' AND tracker_id IN ({marks})",
            tuple(tracker_ids),
        )
        return {int(row["tracker_id"]) for row in rows}

    async def recent(self, limit: int = 20, *, user_id: int | None = None) -> list[Attempt]:
        """The newest attempts first (optionally of one user)."""
        if user_id is None:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM registration_attempts ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        else:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM registration_attempts WHERE user_id = ?"
                " ORDER BY id DESC LIMIT ?",
                (user_id, limit),
            )
        return [_attempt(row) for row in rows]

    async def models_for_tac(self, tac: str) -> list[tuple[str, int]]:
        """`(model code, successful registrations)` for devices whose ID starts with `tac`.

        Most frequent first; ties: the most recently used model first.
        """
        if not _TAC.fullmatch(tac):
            raise ValueError(f"a TAC is 8 digits, got {tac!r}")
        rows = await self._db.fetchall(
            "SELECT model, COUNT(*) AS n FROM registration_attempts"
            " WHERE status = 'success' AND substr(device_id, 1, 8) = ?"
            " GROUP BY model ORDER BY n DESC, MAX(id) DESC",
            (tac,),
        )
        return [(str(row["model"]), int(row["n"])) for row in rows]

    async def stats(self) -> dict[str, int]:
        """Attempt counts per status; every status is present (0 when none)."""
        rows = await self._db.fetchall(
            "SELECT status, COUNT(*) AS n FROM registration_attempts GROUP BY status"
        )
        counts = {status.value: 0 for status in AttemptStatus}
        counts.update({str(row["status"]): int(row["n"]) for row in rows})
        return counts

    async def _settle(
        self, attempt_id: int, status: AttemptStatus, code: int | None, description: str
    ) -> Attempt:

        def settle(conn: sqlite3.Connection) -> Attempt:
            current = _get_required(conn, attempt_id)
            if current.status is AttemptStatus.SUCCESS:
                # A success is final: the tracker exists, forgetting it would allow a duplicate.
                raise JournalError(
                    f"attempt {attempt_id} already succeeded (tracker {current.tracker_id});"
                    f" refusing to mark it {status.value}"
                )
            conn.execute(
                "UPDATE registration_attempts SET status = ?, error_code = ?,"
                " error_description = ?, updated_at = ? WHERE id = ?",
                (status.value, code, description, _now(), attempt_id),
            )
            return _get_required(conn, attempt_id)

        return await self._db.run(settle, durable=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        id=int(row["id"]),
        draft_id=str(row["draft_id"]),
        user_id=int(row["user_id"]),
        chat_id=int(row["chat_id"]),
        model=str(row["model"]),
        plugin_id=int(row["plugin_id"]),
        device_id=row["device_id"],
        label=str(row["label"]),
        group_id=int(row["group_id"]),
        status=AttemptStatus(row["status"]),
        tracker_id=row["tracker_id"],
        error_code=row["error_code"],
        error_description=row["error_description"],
        created_at=_parse_time(row["created_at"]),
        updated_at=_parse_time(row["updated_at"]),
        snapshot=_snapshot(row["snapshot"]),
        card_message_id=row["card_message_id"],
        lang=row["lang"],
        user_name=str(row["user_name"] or ""),
        delivered_at=_parse_time(row["delivered_at"]) if row["delivered_at"] else None,
        assigned_device_id=row["assigned_device_id"],
    )


def _snapshot(raw: str | None) -> frozenset[int] | None:
    if raw is None:
        return None
    try:
        return frozenset(int(i) for i in json.loads(raw))
    except (ValueError, TypeError):
        return None  # unreadable: treated as no snapshot


def _fetch_one(conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> Attempt | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM registration_attempts {where}", params).fetchone()
    return _attempt(row) if row is not None else None


def _get_required(conn: sqlite3.Connection, attempt_id: int) -> Attempt:
    attempt = _fetch_one(conn, "WHERE id = ?", (attempt_id,))
    if attempt is None:
        raise AttemptNotFoundError(f"no registration attempt {attempt_id}")
    return attempt
