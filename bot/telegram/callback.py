"""Callback data: the ONE codec every inline keyboard of the bot uses.

In the spirit of aiogram's `CallbackData` factory: a button's data is a frozen
dataclass whose class knows its prefix, its separator and a regex per field. The
codec packs it (`"<prefix><field>|<field>..."`, at most Telegram's 64 bytes: a longer
one raises `CallbackTooLong`, or use `fits()` to leave the button out), unpacks it
(None for data that is not of this kind), and writes the pattern a
`CallbackQueryHandler` matches.

The wire formats are those the bot has always sent, so buttons already in chats keep
working across an upgrade:

| class | data | example |
|---|---|---|
| `DraftButton` | `<draft id>\\|<action>` | `3f2a9c0d1e4b\\|model:fmb140` |
| `WatchButton` | `w\\|<tracker id>\\|<action>` | `w\\|123456\\|check` |
| `LanguageButton` | `lang:<language>` | `lang:pt_BR` |
| `StartButton` | `start:<action>` | `start:register` |
| `AdminButton` | `a\\|<action>\\|<value>` | `a\\|ok\\|702` (approve user 702) |
| `CrewButton` | `c\\|<action>\\|<value>` | `c\\|g\\|129301` (the crew's tracker group) |
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from bot.domain.draft import Draft

__all__ = [
    "MAX_BYTES",
    "AdminButton",
    "CallbackData",
    "CallbackTooLong",
    "CrewButton",
    "DraftButton",
    "LanguageButton",
    "StartButton",
    "WatchButton",
]

#: Telegram's limit for `callback_data`, in bytes (UTF-8).
MAX_BYTES = 64


class CallbackTooLong(ValueError):
    """The packed data would not fit Telegram's 64 bytes."""


@dataclasses.dataclass(frozen=True)
class CallbackData:
    """Base of every kind of button data (subclasses are frozen dataclasses)."""

    #: What every data of this kind starts with ("" when the first field says it).
    prefix: ClassVar[str] = ""
    sep: ClassVar[str] = "|"
    #: A regex per field (for `pattern()`); a field not named matches anything.
    field_patterns: ClassVar[dict[str, str]] = {}

    def pack(self) -> str:
        data = self.prefix + self.sep.join(str(getattr(self, f.name)) for f in self._fields())
        if len(data.encode()) > MAX_BYTES:
            raise CallbackTooLong(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
        return data

    def fits(self) -> bool:
        try:
            self.pack()
        except CallbackTooLong:
            return False
        return True

    @classmethod
    def unpack(cls, data: str | None) -> Self | None:
        """The button's data, or None when `data` is not of this kind."""
        if data is None or not data.startswith(cls.prefix):
            return None
        fields = cls._fields()
        parts = data[len(cls.prefix) :].split(cls.sep, len(fields) - 1)
        if len(parts) != len(fields):
            return None
        values: dict[str, Any] = {}
        for field, part in zip(fields, parts, strict=True):
            if field.type in (int, "int"):
                try:
                    values[field.name] = int(part)
                except ValueError:
                    return None
            else:
                values[field.name] = part
        return cls(**values)

    @classmethod
    def pattern(cls, **fields: str) -> str:
        """The regex a `CallbackQueryHandler` matches (anchored at the start only).

        `fields` overrides a field's regex, e.g. `DraftButton.pattern(action="model:")`;
        end it with `$` to anchor the whole data.
        """
        names = [f.name for f in cls._fields()]
        unknown = set(fields) - set(names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field {sorted(unknown)}")
        regexes = [fields.get(n, cls.field_patterns.get(n, ".*")) for n in names]
        return "^" + re.escape(cls.prefix) + re.escape(cls.sep).join(regexes)

    @classmethod
    def _fields(cls) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(cls)


@dataclasses.dataclass(frozen=True)
class DraftButton(CallbackData):
    """A button of the registration conversation: it belongs to one draft."""

    field_patterns: ClassVar[dict[str, str]] = {"draft_id": "[0-9a-f]{12}"}

    draft_id: str
    action: str

    @classmethod
    def data(cls, draft: Draft, action: str) -> str:
        """The packed data of `action` on a button of `draft`."""
        return cls(draft.id, action).pack()

    @classmethod
    def action_of(cls, data: str | None) -> str:
        """The action of a draft button's data ("" when `data` is not one)."""
        button = cls.unpack(data)
        return button.action if button is not None else ""


@dataclasses.dataclass(frozen=True)
class WatchButton(CallbackData):
    """A button of a device watch (status message, options, /pending)."""

    prefix: ClassVar[str] = "w|"
    field_patterns: ClassVar[dict[str, str]] = {
        "tracker_id": "[0-9]{1,18}",
        "action": "[a-z]{1,8}$",
    }

    tracker_id: int
    action: str

    @classmethod
    def data(cls, tracker_id: int, action: str) -> str:
        """The packed data of `action` on a button of the watch of `tracker_id`."""
        return cls(tracker_id, action).pack()


@dataclasses.dataclass(frozen=True)
class LanguageButton(CallbackData):
    """A language of /language ("auto": follow the Telegram app)."""

    prefix: ClassVar[str] = "lang:"
    field_patterns: ClassVar[dict[str, str]] = {"language": "([A-Za-z_]{2,8})$"}

    language: str


@dataclasses.dataclass(frozen=True)
class StartButton(CallbackData):
    """The Register button outside a registration."""

    prefix: ClassVar[str] = "start:"
    field_patterns: ClassVar[dict[str, str]] = {"action": "register$"}

    action: str = "register"


@dataclasses.dataclass(frozen=True)
class AdminButton(CallbackData):
    """Access management and admin reports: request access (`req`), approve (`ok`) or
    reject (`no`) a user, pages of the audit (`au`), users (`us`) and recent (`re`) lists."""

    prefix: ClassVar[str] = "a|"
    field_patterns: ClassVar[dict[str, str]] = {"action": "[a-z]{2,3}", "value": "[0-9]*$"}

    action: str
    value: str = ""


@dataclasses.dataclass(frozen=True)
class CrewButton(CallbackData):
    """The /crew card: pick the tracker group (`grp`, then `g`), the language (`lng`, then
    `l`), or unlink (`off`)."""

    prefix: ClassVar[str] = "c|"
    field_patterns: ClassVar[dict[str, str]] = {"action": "[a-z]{1,3}", "value": "[\\w-]*$"}

    action: str
    value: str = ""
