"""Which language an update is answered in (no handler code here; see language.py).

`remember_language` (bot/telegram/language.py) runs first for every update: it records
the user's Telegram `language_code` and puts the language to answer in here, for
`bot.telegram.common.tr`. Order: the language the user picked with /language, else the
one their Telegram app reports, else English (`bot.i18n.resolve_language` maps `pt` to
`pt_BR`, `es-419` to `es`, anything unknown to `en`).

Group chats answer each member in their own language: a question addressed to one
member is read by that member. `crew_language` is the hook for a language set for the
whole group chat (set with /crew): when it returns a code, that wins in the group.
"""

from __future__ import annotations

from contextvars import ContextVar

from telegram import Update

#: (update_id, language code) of the update being handled in this task.
_current: ContextVar[tuple[int, str | None] | None] = ContextVar("update_language", default=None)


#: chat id -> the language set with /crew for a whole group chat (bot/services/crews.py).
_crew_languages: dict[int, str] = {}


def crew_language(chat_id: int) -> str | None:
    """The language set for a whole group chat with /crew (None: each member's own)."""
    return _crew_languages.get(chat_id)


def set_crew_languages(languages: dict[int, str]) -> None:
    """Replace the crews' languages (at start-up and after each /crew change)."""
    _crew_languages.clear()
    _crew_languages.update(languages)


def set_update_language(update: Update, language: str | None) -> None:
    _current.set((update.update_id, language))


def language_for(update: Update) -> str | None:
    """The language code to answer this update in (None: English)."""
    chat = update.effective_chat
    if chat is not None and chat.id < 0:
        crew = crew_language(chat.id)
        if crew:
            return crew
    current = _current.get()
    if current is not None and current[0] == update.update_id:
        return current[1]
    user = update.effective_user
    return user.language_code if user else None
