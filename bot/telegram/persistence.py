"""PTB persistence for the bot: user_data, chat_data, conversation states (and bot_data).

`SqlitePersistence` adapts a store of JSON rows (`bot.storage.conversations.
ConversationTables`, wired in `bot.app`) to PTB's `BasePersistence`, using PTB's public
API only. callback_data is not stored.

PTB writes in batches every `update_interval` seconds (and at shutdown). For
write-through, add `write_through_handler()` in a late group: after each update it
writes the update's user/chat data and the conversation states, so a `kill -9` between
two updates loses nothing. The store commits all the writes of one
`update_persistence()` run in one transaction.

Not covered by write-through (written at the next update or interval):
- handlers that raise `ApplicationHandlerStop` (later groups do not run);
- `block=False` callbacks: until the task finishes PTB persists the old state.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BasePersistence, CallbackContext, PersistenceInput, TypeHandler

__all__ = [
    "WRITE_THROUGH_GROUP",
    "PersistenceStore",
    "SqlitePersistence",
    "write_through_handler",
]

#: The handler group for `write_through_handler()`: after every other group.
WRITE_THROUGH_GROUP = 100

JSONDict = dict[Any, Any]
# PTB's own shapes (`BasePersistence`'s documented signatures), spelled out here.
ConversationKey = tuple[int | str, ...]
ConversationDict = MutableMapping[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]


class PersistenceStore(Protocol):
    """What the persistence needs of its storage (see `ConversationTables`)."""

    async def user_data(self) -> dict[int, JSONDict]: ...

    async def chat_data(self) -> dict[int, JSONDict]: ...

    async def bot_data(self) -> JSONDict: ...

    async def conversations(self, name: str) -> dict[ConversationKey, int | str]: ...

    async def put_user_data(self, user_id: int, data: JSONDict) -> None: ...

    async def put_chat_data(self, chat_id: int, data: JSONDict) -> None: ...

    async def put_bot_data(self, data: JSONDict) -> None: ...

    async def put_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None: ...

    async def drop_user_data(self, user_id: int) -> None: ...

    async def drop_chat_data(self, chat_id: int) -> None: ...

    async def close(self) -> None: ...


class SqlitePersistence(BasePersistence[JSONDict, JSONDict, JSONDict]):
    """`BasePersistence` on a `PersistenceStore`; `flush()` (in `Application.shutdown()`)
    closes the store.

    bot_data is NOT stored by default (`store_bot_data=False`): the bot keeps service
    objects there (`Services`, `Resources`: the database, the HTTP client), and PTB
    deep-copies bot_data before every write, which fails for them (a TypeError before
    *anything* is written, and `shutdown()` then raises before `flush()`). Pass
    `store_bot_data=True` only when bot_data holds JSON data alone.
    """

    def __init__(
        self,
        store: PersistenceStore,
        *,
        update_interval: float = 60,
        store_bot_data: bool = False,
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=store_bot_data, chat_data=True, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self.store = store

    # --- reads (Application.initialize) ----------------------------------------------------

    async def get_user_data(self) -> dict[int, JSONDict]:
        return await self.store.user_data()

    async def get_chat_data(self) -> dict[int, JSONDict]:
        return await self.store.chat_data()

    async def get_bot_data(self) -> JSONDict:
        return await self.store.bot_data()

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        return dict(await self.store.conversations(name))

    # --- writes (Application.update_persistence) -------------------------------------------

    async def update_user_data(self, user_id: int, data: JSONDict) -> None:
        await self.store.put_user_data(user_id, data)

    async def update_chat_data(self, chat_id: int, data: JSONDict) -> None:
        await self.store.put_chat_data(chat_id, data)

    async def update_bot_data(self, data: JSONDict) -> None:
        await self.store.put_bot_data(data)

    async def update_callback_data(self, data: CDCData) -> None:
        """Never called: callback_data is not stored."""

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        await self.store.put_conversation(name, key, new_state)

    async def drop_user_data(self, user_id: int) -> None:
        await self.store.drop_user_data(user_id)

    async def drop_chat_data(self, chat_id: int) -> None:
        await self.store.drop_chat_data(chat_id)

    # Single process: the database never changes behind our back, nothing to refresh.

    async def refresh_user_data(self, user_id: int, user_data: JSONDict) -> None:
        pass

    async def refresh_chat_data(self, chat_id: int, chat_data: JSONDict) -> None:
        pass

    async def refresh_bot_data(self, bot_data: JSONDict) -> None:
        pass

    async def flush(self) -> None:
        """Wait for running writes; close the store's database if it opened it."""
        await self.store.close()


def write_through_handler() -> TypeHandler[Update, Any, None]:
    """A handler for `application.add_handler(handler, group=WRITE_THROUGH_GROUP)`.

    After every update it marks the update's user and chat for persistence and runs
    `application.update_persistence()`, so the new conversation state and the
    user/chat data are committed before the next update is processed.
    """
    return TypeHandler(Update, _write_through)


async def _write_through(update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
    application = context.application
    if application.persistence is None:
        return
    chat = update.effective_chat
    user = update.effective_user
    application.mark_data_for_update_persistence(
        chat_ids=chat.id if chat is not None else None,
        user_ids=user.id if user is not None else None,
    )
    await application.update_persistence()
