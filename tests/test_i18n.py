"""The translation layer: catalogs complete, fallback to English, lookups by language code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.i18n import available_languages, gettext_for, translation

ROOT = Path(__file__).resolve().parent.parent


def test_catalogs_match_the_code() -> None:
    # Every string the code marks is in every catalog (English complete), none stale.
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "catalogs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_english_catalog_is_loaded_and_complete() -> None:
    assert "en" in available_languages()
    catalog = translation("en")
    _ = catalog.gettext
    assert _("Cancel") == "Cancel"
    # A GNUTranslations object means the .po file was actually read.
    assert type(catalog).__name__ == "GNUTranslations"


def test_unknown_language_falls_back_to_english() -> None:
    _ = gettext_for("xx-YY")
    assert _("Cancel") == "Cancel"
    assert gettext_for(None)("Cancel") == "Cancel"


def test_a_catalog_is_parsed_once_for_every_language_code_that_uses_it() -> None:
    # Telegram sends many codes (en-GB, pt-br, ...): each new one must not parse a .po
    # file again on the event loop.
    assert translation("qa-one") is translation("qb-two") is translation("en")
