"""The translation layer: catalogs complete, fallback to English, lookups by language code."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import (
    available_languages,
    gettext_for,
    locales_dir,
    resolve_language,
    telegram_language_code,
    translation,
    translator,
)
from bot.navixy.errors import NavixyError
from bot.telegram import texts
from bot.telegram import watch_texts as wt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import catalogs  # noqa: E402


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


# --- language choice, plural forms, formatting ------------------------------------------------


@pytest.mark.parametrize(
    ("code", "catalog"),
    [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("pt", "pt_BR"),
        ("pt-br", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("es", "es"),
        ("es-419", "es"),
        ("es-MX", "es"),
        ("TR", "tr"),
        ("ar-SA", "ar"),
        ("en-GB", "en"),
        ("de", "en"),
        ("xx-YY", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_a_telegram_language_code_picks_a_catalog(code: str | None, catalog: str) -> None:
    assert resolve_language(code) == catalog
    assert translator(code).language == catalog


def test_the_six_languages_are_there() -> None:
    assert available_languages() == ["ar", "en", "es", "pt_BR", "ru", "tr"]
    assert [telegram_language_code(lang) for lang in available_languages()] == [
        "ar",
        "en",
        "es",
        "pt",
        "ru",
        "tr",
    ]


@pytest.mark.parametrize(
    ("language", "header"),
    [
        ("en", "nplurals=2; plural=(n != 1);"),
        ("es", "nplurals=2; plural=(n != 1);"),
        ("pt_BR", "nplurals=2; plural=(n > 1);"),
        ("tr", "nplurals=2; plural=(n != 1);"),
        (
            "ru",
            "nplurals=3; plural=n % 10 == 1 && n % 100 != 11 ? 0 : n % 10 >= 2 && n % 10 <= 4 "
            "&& (n % 100 < 12 || n % 100 > 14) ? 1 : 2;",
        ),
        (
            "ar",
            "nplurals=6; plural=(n == 0 ? 0 : n == 1 ? 1 : n == 2 ? 2 : n % 100 >= 3 && "
            "n % 100 <= 10 ? 3 : n % 100 >= 11 && n % 100 <= 99 ? 4 : 5);",
        ),
    ],
)
def test_plural_forms_headers(language: str, header: str) -> None:
    catalog = catalogs.read(locales_dir() / language / "LC_MESSAGES" / "bot.po")
    assert catalog.plural_forms == header


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["1 minute ago", "2 minutes ago", "5 minutes ago", "21 minutes ago"]),
        ("ru", ["1 минуту назад", "2 минуты назад", "5 минут назад", "21 минуту назад"]),
        ("pt_BR", ["há 1 minuto", "há 2 minutos", "há 5 minutos", "há 21 minutos"]),
        ("es", ["hace 1 minuto", "hace 2 minutos", "hace 5 minutos", "hace 21 minutos"]),
        ("tr", ["1 dakika önce", "2 dakika önce", "5 dakika önce", "21 dakika önce"]),
        ("ar", ["منذ دقيقة واحدة", "منذ دقيقتين", "منذ 5 دقائق", "منذ 21 دقيقة"]),
    ],
)
def test_plural_forms_for_1_2_5_21(language: str, expected: list[str]) -> None:
    _ = translator(language)
    got = [_.ngettext("{n} minute ago", "{n} minutes ago", n).format(n=n) for n in (1, 2, 5, 21)]
    assert got == expected


def test_arabic_uses_all_six_forms() -> None:
    _ = translator("ar")
    got = [wt.retries_text(_, n) for n in (0, 1, 2, 3, 11, 100)]
    assert len(set(got)) == 6
    assert got[1] == "🔁 أُعيد إرسال التفعيل مرة واحدة."
    assert got[3] == "🔁 أُعيد إرسال التفعيل 3 مرات."


def test_numbers_and_durations_follow_the_language() -> None:
    assert translator("ru").number(12345) == "12\xa0345"
    assert translator("es").number(12345) == "12.345"
    assert translator("en").number(12345) == "12,345"
    assert translator("ru").decimal(12.63) == "12,6"
    assert translator("pt").decimal(12.63) == "12,6"
    assert translator("en").decimal(12.63) == "12.6"
    assert wt._minutes(translator("ru"), 3 * 3600 + 21 * 60) == "3 ч 21 мин"
    assert wt._minutes(translator("tr"), 65 * 60) == "1 sa 5 dk"
    assert translator("de").datetime(datetime(2026, 11, 27, 15, 30)) == "11/27/26, 3:30\u202fPM"
    assert translator("ru").datetime(datetime(2026, 11, 27, 15, 30)) == "27.11.2026, 15:30"
    assert translator("es").join(["un IMEI", "un MEID"]) == "un IMEI y un MEID"


def test_unmapped_navixy_error_is_translated_with_navixy_text_quoted() -> None:
    error = NavixyError(999, "Something <odd> happened")
    text = texts.register_error(translator("ru"), error)
    assert text == (
        "Navixy отклонил регистрацию (ошибка 999).\nОтвет Navixy:\n"
        "<blockquote>Something &lt;odd&gt; happened</blockquote>"
    )
    arabic = texts.register_error(translator("ar"), error)
    assert "\u2068999\u2069" in arabic
    assert "<blockquote>\u2068Something &lt;odd&gt; happened\u2069</blockquote>" in arabic


# --- the catalog checks (scripts/catalogs.py --check) -----------------------------------------


def _problems(msgid: str | tuple[str, str], msgstr: str | tuple[str, ...], **kw: Any) -> list[str]:
    catalog = catalogs.new_catalog(kw.pop("language", "ru"))
    catalog.add(msgid, msgstr, **kw)
    single = catalogs.single_value_forms(catalog.plural_expr, catalog.num_plurals)
    message = catalog[msgid[0] if isinstance(msgid, tuple) else msgid]
    rtl = catalog.locale is not None and catalog.locale.character_order == "right-to-left"
    problems: list[str] = catalogs.problems(message, catalog.num_plurals, single, rtl=rtl)
    return problems


def test_check_accepts_a_good_translation() -> None:
    assert _problems("Model: <b>{title}</b>", "Модель: <b>{title}</b>") == []


@pytest.mark.parametrize(
    ("msgstr", "problem"),
    [
        ("", "untranslated"),
        ("Модель: <b>{name}</b>", "placeholders differ (missing: title; unknown: name)"),
        ("Модель: <b></b>", "placeholders differ (missing: title; unknown: -)"),
        ("Модель: <b>{title} {n}</b>", "placeholders differ (missing: -; unknown: n)"),
        ("Модель: <b>{title}</b> {", "broken braces"),
        ("Модель: <b>{title}", "HTML: <b> is not closed"),
        ("Модель: <b>{title}</i>", "HTML: unbalanced </i>"),
        ("Модель: <strong2>{title}</strong2>", "HTML: unknown tag <strong2>"),
        ("Модель: <i>{title}</i>", "HTML: other tags than the English text"),
        ("Модель < 5: <b>{title}</b>", "HTML: bare '<'"),
        ("Модель & Co: <b>{title}</b>", "HTML: bare '&'"),
    ],
)
def test_check_rejects(msgstr: str, problem: str) -> None:
    found = _problems("Model: <b>{title}</b>", msgstr)
    assert any(p.startswith(problem) for p in found), found


def test_check_rejects_a_fuzzy_entry() -> None:
    assert _problems("Cancel", "Отмена", flags={"fuzzy"}) == ["fuzzy"]


def test_check_wants_every_plural_form() -> None:
    ids = ("{n} minute ago", "{n} minutes ago")
    good = ("{n} минуту назад", "{n} минуты назад", "{n} минут назад")
    assert _problems(ids, good) == []
    assert _problems(ids, good[:2]) == ["has 2 plural forms, the language needs 3"]
    assert _problems(ids, (good[0], "", good[2])) == ["untranslated"]
    # Russian's first form is used for 1, 21, 31...: it must show the number.
    assert _problems(ids, ("минуту назад", *good[1:])) != []
    # Arabic's forms for 0, 1 and 2 are used by one number each: they may leave it out.
    arabic = ("الآن", "منذ دقيقة", "منذ دقيقتين", "منذ {n} دقائق", "منذ {n} دقيقة", "منذ {n} دقيقة")
    assert _problems(ids, arabic, language="ar") == []
    assert _problems(ids, (*arabic[:3], "منذ دقائق", *arabic[4:]), language="ar") != []


def test_plain_text_messages_are_checked_for_placeholders_only() -> None:
    # The English text is not HTML (the code escapes it): "<" is fine in the translation.
    assert _problems("Without < and >.", "Без < и >.") == []


def test_an_edited_english_text_keeps_the_old_translation_as_a_fuzzy_draft() -> None:
    old = catalogs.new_catalog("ru")
    old.add("Which group should the tracker go to?", "В какую группу добавить трекер?")
    old.add("Cancel", "Отмена")
    template = catalogs.new_catalog("en")
    template.add("Which group should this tracker go to?")
    template.add("Cancel")
    template.add("Something entirely new")
    edited = template["Which group should this tracker go to?"]
    draft = catalogs._edited_from(old, template, edited)
    assert draft is not None and draft.string == "В какую группу добавить трекер?"
    # Still in the code ("Cancel") or too different: no draft.
    assert catalogs._edited_from(old, template, template["Something entirely new"]) is None


def test_check_wants_arabic_lines_to_start_right_to_left() -> None:
    assert _problems("Navixy is busy.", "Navixy مشغول.", language="ar") == [
        "right-to-left: a line starts with a left-to-right word"
    ]
    assert _problems("Navixy is busy.", "خادم Navixy مشغول.", language="ar") == []
    assert _problems("Navixy is busy.", "\u200fNavixy مشغول.", language="ar") == []
    # A value first is fine (the code isolates it); so is an untranslatable term.
    assert _problems("{label} is online.", "{label} متصل.", language="ar") == []
    assert _problems("IMEI", "IMEI", language="ar") == []
    assert _problems("Hi.\n/help shows this.", "مرحبًا.\n/help يعرض هذا.", language="ar") != []
