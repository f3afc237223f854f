"""Group chats linked as crews with /crew, and their members (held in memory; writes go
through at once)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.storage.db import Database


@dataclass(frozen=True)
class Crew:
    chat_id: int
    title: str
    group_id: int | None = None  # default Navixy tracker group (None: ask; 0: no group)
    group_title: str | None = None
    language: str | None = None  # the crew chat's language (None: each member's own)
    lead_id: int | None = None
    lead_name: str | None = None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


class CrewStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._crews: dict[int, Crew] = {}
        self._members: dict[int, set[int]] = {}

    async def load(self) -> None:
        rows = await self._db.fetchall(
            "SELECT chat_id, title, group_id, language, lead_id, lead_name FROM crews"
        )
        self._crews = {
            r["chat_id"]: Crew(
                r["chat_id"],
                r["title"],
                r["group_id"],
                None,
                r["language"],
                r["lead_id"],
                r["lead_name"],
            )
            for r in rows
        }
        self._members = {}
        for r in await self._db.fetchall("SELECT chat_id, user_id FROM crew_members"):
            self._members.setdefault(r["chat_id"], set()).add(r["user_id"])

    def get(self, chat_id: int) -> Crew | None:
        return self._crews.get(chat_id)

    def all(self) -> list[Crew]:
        return list(self._crews.values())

    def crews_of(self, user_id: int) -> list[Crew]:
        return [c for c in self._crews.values() if user_id in self._members.get(c.chat_id, ())]

    async def link(self, chat_id: int, title: str, *, by: int, now: datetime) -> Crew:
        await self._db.execute(
            "INSERT INTO crews (chat_id, title, linked_by, linked_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET title = excluded.title",
            (chat_id, title, by, _iso(now)),
        )
        crew = self._crews.get(chat_id)
        crew = replace(crew, title=title) if crew is not None else Crew(chat_id, title)
        self._crews[chat_id] = crew
        return crew

    async def update(self, crew: Crew) -> None:
        await self._db.execute(
            "UPDATE crews SET group_id = ?, language = ?, lead_id = ?, lead_name = ? "
            "WHERE chat_id = ?",
            (crew.group_id, crew.language, crew.lead_id, crew.lead_name, crew.chat_id),
        )
        self._crews[crew.chat_id] = crew

    async def unlink(self, chat_id: int) -> None:
        await self._db.execute("DELETE FROM crews WHERE chat_id = ?", (chat_id,))
        await self._db.execute("DELETE FROM crew_members WHERE chat_id = ?", (chat_id,))
        self._crews.pop(chat_id, None)
        self._members.pop(chat_id, None)

    async def member_seen(self, chat_id: int, user_id: int, now: datetime) -> None:
        if chat_id not in self._crews or user_id in self._members.get(chat_id, ()):
            return
        await self._db.execute(
            "INSERT OR IGNORE INTO crew_members (chat_id, user_id, seen_at) VALUES (?, ?, ?)",
            (chat_id, user_id, _iso(now)),
        )
        self._members.setdefault(chat_id, set()).add(user_id)
