"""The translation layer: gettext catalogs from `locales/<lang>/LC_MESSAGES/bot.po`.

Catalogs are read from the `.po` files with Babel at first use (no compiled `.mo`
files to keep in sync). The installer's Telegram `language_code` picks the
catalog; anything missing falls back to the English source text.
"""

from __future__ import annotations

import gettext
import io
import logging
import os
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

DOMAIN = "bot"
DEFAULT_LANGUAGE = "en"

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message


def locales_dir() -> Path:
    override = os.environ.get("LOCALES_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "locales"


def available_languages() -> list[str]:
    root = locales_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").is_file())


@lru_cache(maxsize=32)
def translation(language: str) -> gettext.NullTranslations:
    """The catalog for a language code like `ru`, `pt-br` or `en`, English as fallback."""
    for candidate in _candidates(language):
        po_path = locales_dir() / candidate / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po_path.is_file():
            return _load(po_path)
    return gettext.NullTranslations()


def gettext_for(language: str | None) -> Gettext:
    return translation((language or DEFAULT_LANGUAGE).lower()).gettext


def _candidates(language: str) -> list[str]:
    language = language.replace("-", "_").lower()
    base = language.split("_", 1)[0]
    out = [language]
    if base != language:
        out.append(base)
    if DEFAULT_LANGUAGE not in out:
        out.append(DEFAULT_LANGUAGE)
    return out


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
