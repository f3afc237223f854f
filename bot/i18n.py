"""The translation layer: gettext catalogs from `locales/<lang>/LC_MESSAGES/bot.po`.

Catalogs are read from the `.po` files with Babel at first use (no compiled `.mo`
files to keep in sync). A language code (Telegram's `language_code`, or the one the
user picked with /language) is resolved to a catalog with fallbacks (`pt` -> `pt_BR`,
`es-419` -> `es`, unknown -> `en`); a message missing from a catalog falls back to the
English source text.

`Translator` is what message functions receive as `_`: calling it translates one
message (`_("Cancel")`), `_.ngettext(singular, plural, n)` picks the plural form the
language needs, and `_.number()` / `_.decimal()` / `_.datetime()` format values the way
the language writes them (Babel, CLDR data). For right-to-left languages `_.isolate()`
wraps a left-to-right run (IMEI, phone number, label, tracker ID) in Unicode isolates so
it stays readable inside the sentence.
"""

from __future__ import annotations

import gettext
import io
import logging
import os
import re
from collections.abc import Sequence
from datetime import datetime as _datetime
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

DOMAIN = "bot"
DEFAULT_LANGUAGE = "en"

#: Unicode bidi isolates (UAX #9): first-strong, left-to-right, and the closing mark.
FSI = "\u2068"
LRI = "\u2066"
PDI = "\u2069"
RLM = "\u200f"

#: A language code only names its base language ("pt") or a region the catalogs don't
#: have ("es-419", "pt-PT"): the catalog used for it, when it is not simply the base.
PREFERRED_VARIANT = {"pt": "pt_BR"}

#: The names of the languages as the /language buttons show them (in the language itself).
LANGUAGE_NAMES = {
    "en": "English",
    "ru": "Русский",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
    "tr": "Türkçe",
    "ar": "العربية",
}


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message


def locales_dir() -> Path:
    override = os.environ.get("LOCALES_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "locales"


@cache
def _available(root: Path) -> tuple[str, ...]:
    if not root.is_dir():
        return ()
    return tuple(
        sorted(p.name for p in root.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file())
    )


def available_languages() -> list[str]:
    """The catalog names, e.g. `['ar', 'en', 'es', 'pt_BR', 'ru', 'tr']`."""
    return list(_available(locales_dir()))


def resolve_language(code: str | None) -> str:
    """The catalog for a language code (`ru`, `pt-br`, `es-419`, `PT`...), `en` if none fits."""
    if not code:
        return DEFAULT_LANGUAGE
    wanted = code.strip().replace("-", "_").lower()
    languages = available_languages()
    by_lower = {lang.lower(): lang for lang in languages}
    if wanted in by_lower:
        return by_lower[wanted]
    base = wanted.split("_", 1)[0]
    if base in by_lower:
        return by_lower[base]
    variant = PREFERRED_VARIANT.get(base)
    if variant is not None and variant in languages:
        return variant
    same_base = [lang for lang in languages if lang.split("_", 1)[0].lower() == base]
    if same_base:
        return same_base[0]
    return DEFAULT_LANGUAGE


def telegram_language_code(language: str) -> str:
    """The code Telegram's setMyCommands takes for a catalog (two letters: `pt_BR` -> `pt`)."""
    return language.split("_", 1)[0].lower()


@lru_cache(maxsize=64)
def translation(language: str) -> gettext.NullTranslations:
    """The catalog for a language code like `ru`, `pt-br` or `en`, English as fallback."""
    resolved = resolve_language(language)
    for candidate in (resolved, DEFAULT_LANGUAGE):
        po_path = locales_dir() / candidate / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po_path.is_file():
            return _load(po_path)
    return gettext.NullTranslations()


_PLACEHOLDER_IN_CODE = re.compile(r"<code>\{\w+\}</code>|\{\w+\}")


class Translator:
    """One language: messages, plural forms, number/date formatting and bidi isolation."""

    __slots__ = ("_catalog", "_locale", "_rtl", "language")

    def __init__(self, language: str) -> None:
        self.language = resolve_language(language)
        self._catalog = translation(self.language)
        self._locale: Locale | None = None
        self._rtl: bool | None = None

    @property
    def locale(self) -> Locale:
        """The language's CLDR data (about 1 MB, 4 MB for the first): read at first use, so
        the command menus of every language (messages only) don't load it."""
        if self._locale is None:
            self._locale = Locale.parse(self.language)
        return self._locale

    @property
    def rtl(self) -> bool:
        if self._rtl is None:
            self._rtl = self.locale.character_order == "right-to-left"
        return self._rtl

    def __call__(self, message: str) -> str:
        return self._catalog.gettext(message)

    def gettext(self, message: str) -> str:
        return self._catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog.ngettext(singular, plural, n)

    def number(self, n: int) -> str:
        """A count as the language writes it (`1 234` in Russian, `1.234` in Spanish)."""
        return format_decimal(n, locale=self.locale)

    def decimal(self, value: float, digits: int = 1) -> str:
        """A measurement with `digits` decimals (`12,3` in Russian, `12.3` in English)."""
        pattern = "0." + "0" * digits if digits > 0 else "0"
        return format_decimal(value, format=pattern, locale=self.locale)

    def join(self, items: Sequence[str]) -> str:
        """`a, b and c` as the language joins a list."""
        return format_list(items, locale=self.locale)

    def datetime(self, when: _datetime) -> str:
        """A date and time, short, as the language writes it."""
        return format_datetime(when, format="short", locale=self.locale)

    @property
    def mark(self) -> str:
        """What a line starts with so that it runs right to left even when its first word
        is Latin ("APN: ...") or a value: RIGHT-TO-LEFT MARK in RTL languages, else nothing."""
        return RLM if self.rtl else ""

    def isolate(self, text: str) -> str:
        """In a right-to-left language, keep `text` (an ID, a number, a label) in one run.

        First-strong isolate: a label typed in Arabic stays right-to-left, an IMEI or
        `AB 123 C` left-to-right; either way it cannot reorder the sentence around it.
        """
        if not self.rtl or not text:
            return text
        return f"{FSI}{text}{PDI}"

    def isolate_placeholders(self, template: str) -> str:
        """Wrap every `{name}` (or a whole `<code>{name}</code>`) of a template in isolates."""
        if not self.rtl:
            return template
        return _PLACEHOLDER_IN_CODE.sub(lambda m: f"{FSI}{m.group(0)}{PDI}", template)


#: What message functions take as `_` (a `Translator` is called like gettext).
Gettext = Translator


@lru_cache(maxsize=64)
def translator(language: str | None) -> Translator:
    """The `Translator` for a language code; English for None or an unknown code."""
    return Translator(language or DEFAULT_LANGUAGE)


def gettext_for(language: str | None) -> Translator:
    """Same as `translator` (the name the handlers use)."""
    return translator(language)


@cache
def _load(po_path: Path) -> gettext.NullTranslations:
    """Parse one catalog, once: every language code that falls back to it shares it."""
    with po_path.open("rb") as fh:
        catalog = read_po(fh)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    log.debug("loaded %d messages from %s", len(catalog), po_path)
    return gettext.GNUTranslations(buffer)
