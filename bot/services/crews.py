"""Crew chats: linking a group with /crew, its settings, and who hears about what.

A crew's language is published to `user_language` (the hook every message in the chat
reads); the group default applies to registrations in the crew chat itself; a crew
member's registration elsewhere (a private chat) is announced in the crew chat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from bot.storage.audit import Action, AuditLog
from bot.storage.crews import Crew, CrewStore
from bot.storage.db import Database
from bot.telegram.user_language import set_crew_languages

# Types the handlers render, re-exported so bot/telegram/ never imports bot.storage.
__all__ = ["Crew", "CrewService"]


class CrewService:
    def __init__(
        self, db: Database, audit: AuditLog, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = CrewStore(db)
        self._audit = audit
        self._now = clock or (lambda: datetime.now(UTC))

    async def start(self) -> None:
        await self.store.load()
        self._publish()

    def _publish(self) -> None:
        set_crew_languages({c.chat_id: c.language for c in self.store.all() if c.language})

    def get(self, chat_id: int) -> Crew | None:
        return self.store.get(chat_id)

    async def link(self, admin_id: int, chat_id: int, title: str) -> Crew:
        known = self.store.get(chat_id) is not None
        crew = await self.store.link(chat_id, title, by=admin_id, now=self._now())
        if not known:
            await self._audit.append(
                Action.CREW_LINKED, actor=admin_id, subject=chat_id, detail=title
            )
        return crew

    async def change(self, crew: Crew, **changes: object) -> Crew:
        crew = replace(crew, **changes)  # type: ignore[arg-type]
        await self.store.update(crew)
        self._publish()
        return crew

    async def unlink(self, chat_id: int) -> None:
        await self.store.unlink(chat_id)
        self._publish()

    async def member_seen(self, chat_id: int, user_id: int) -> None:
        await self.store.member_seen(chat_id, user_id, self._now())

    def announce_to(self, user_id: int, chat_id: int) -> list[Crew]:
        """Crew chats to tell about a registration `user_id` made in `chat_id`: their
        crews, except the chat itself (the card and the watch are already there)."""
        return [c for c in self.store.crews_of(user_id) if c.chat_id != chat_id]

    def watching(self, user_id: int, chat_id: int) -> list[Crew]:
        """Crew chats that follow a watched device: its chat if a crew, and the user's."""
        crews = {c.chat_id: c for c in self.store.crews_of(user_id)}
        own = self.store.get(chat_id)
        if own is not None:
            crews[chat_id] = own
        return list(crews.values())
