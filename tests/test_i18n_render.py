"""Every message in every language, rendered with sample values and sent through the strict
fake Telegram: no entity-parse error, nothing over Telegram's limits.

Two passes per language:
- every catalog entry (each plural form) with its placeholders filled, sent the way its
  English text is sent (HTML, or escaped plain text);
- the message functions (bot/telegram/texts.py, watch_texts.py) with realistic values, as
  the handlers send them: messages, buttons with the callback data they really carry,
  callback-query alerts, the command menu.
"""

from __future__ import annotations

import asyncio
import string
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.domain.attempts import Attempt, AttemptStatus
from bot.domain.device_id import IdKind, IdProblem, IdRule
from bot.domain.draft import Draft, Step
from bot.domain.fields import FieldProblem
from bot.domain.navixy_outcomes import RetryOutcome
from bot.domain.phone import PhoneProblem
from bot.domain.watch import (
    Check,
    CheckResult,
    Connection,
    Phase,
    StateSummary,
    Watch,
    WatchPolicy,
)
from bot.i18n import LANGUAGE_NAMES, Translator, available_languages, locales_dir, translator
from bot.navixy.errors import NavixyError
from bot.navixy.models import DeviceModel, FieldError
from bot.photo import CodeKind, PhotoProblem
from bot.services.access import Action, AuditEntry
from bot.services.crews import Crew
from bot.services.reports import Found, Period, Stats, Status
from bot.telegram import admin_texts as at
from bot.telegram import crew_texts as ct
from bot.telegram import menus, texts
from bot.telegram import watch_texts as wt
from bot.telegram.admin import REQUEST
from bot.telegram.callback import (
    AdminButton,
    CrewButton,
    DraftButton,
    LanguageButton,
    WatchButton,
)
from tests.fakes.telegram import FakeTelegram

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from catalogs import html_problem

LANGUAGES = available_languages()
MAX_TEXT = 4096
MAX_BUTTON = 64  # characters: Telegram cuts longer labels on a phone
MAX_ALERT = 200  # answerCallbackQuery text
MAX_COMMAND_DESCRIPTION = 256
NOW = 1_800_000_000.0

#: Sample values for placeholders: long, and with characters HTML must escape.
SAMPLES = {
    "tracker_id": 123456789,
    "device_id": "356938035643809",
    "example": "356938035643809",
    "label": "Van <7> & Co — AB 123 C",
    "model": "Teltonika FMB140",
    "title": "Teltonika FMB140 <LTE>",
    "query": "fmb <14> & x",
    "user_id": 987654321,
    "operator": "Deutsche Telekom",
    "apn": "internet.telekom",
    "server": "tracker.example.com",
    "port": 47776,
    "code": 258,
    "details": "device_id: not on file",
    "language": "Русский",
    "seen": "a SIM card number (ICCID)",
    "installer": "Ivan",
    "tried": "automatic retry: sent",
    "r": "sent",
    "user": "gdata",
    "password": "••••",
    "elapsed": "1 h 5 min",
    "age": "5 min ago",
    "d": "2.5 km",
    "hours": "1 h",
    "minutes": "5 min",
    "value": "not reported",
    "level": 71,
    "v": "12.6",
    "vendor": "Teltonika",
    "min": 4,
    "n": 21,
    "link": "https://t.me/installer_test_bot?start=AbC-123_xyz",
    "until": "27.11.2026, 16:30",
    "name": "Ivan <Petrov> & Co",
    "admin": "Anna <admin>",
    "when": "27.11.2026, 16:30",
    "actor": 987654321,
    "action": "registered a device",
    "subject": 123456789,
    "detail": "tracker=123456789 model=fmb140 label=Van <7>",
    "version": "0.1.0",
    "ms": 1234,
    "account": "installer@example.com",
    "count": 21,
    "size": "12.5",
    "command": "/stats",
    "total": 21,
    "ok": 19,
    "rate": 90,
    "group": "Main <office>",
    "lead": "Boris <lead>",
    "who": "Ivan <Petrov>",
}


class Recording(Translator):
    """A Translator that notes which messages were asked for."""

    __slots__ = ("seen",)

    def __init__(self, language: str) -> None:
        super().__init__(language)
        self.seen: set[str] = set()

    def __call__(self, message: str) -> str:
        self.seen.add(message)
        return super().__call__(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        self.seen.add(singular)
        return super().ngettext(singular, plural, n)


@pytest.fixture
async def tg_bot() -> AsyncIterator[tuple[FakeTelegram, Bot, int]]:
    async with FakeTelegram() as tg:
        user = tg.user(42, "Ivan")
        chat = tg.private_chat(user, started=True)
        bot = Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
        async with bot:
            yield tg, bot, chat.id


def _fill(template: str) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    return template.format(**{k: escape(str(SAMPLES[k])) for k in names})


def _entries(language: str) -> Iterator[tuple[str, str, bool]]:
    """(msgid, translated text with values, is HTML) for every form of every entry."""
    path = locales_dir() / language / "LC_MESSAGES" / "bot.po"
    with path.open("rb") as fh:
        catalog = read_po(fh)
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        is_html = html_problem(ids[-1]) is None
        for text in strings:
            filled = _fill(str(text or ids[0]))
            yield str(ids[0]), filled if is_html else escape(filled), is_html


async def _send_all(bot: Bot, chat_id: int, items: list[tuple[str, str]]) -> list[str]:
    """Send each (what, text) as HTML; returns the failures."""
    failures: list[str] = []

    async def one(what: str, text: str) -> None:
        if len(text) > MAX_TEXT:
            failures.append(f"{what}: {len(text)} characters")
            return
        try:
            await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
        except BadRequest as exc:
            failures.append(f"{what}: {exc.message}")

    for start in range(0, len(items), 32):
        await asyncio.gather(*(one(w, t) for w, t in items[start : start + 32]))
    return failures


@pytest.mark.e2e  # through the fake Bot API server
@pytest.mark.parametrize("language", LANGUAGES)
async def test_every_catalog_entry_is_valid_telegram_html(
    tg_bot: tuple[FakeTelegram, Bot, int], language: str
) -> None:
    _, bot, chat_id = tg_bot
    items = [(f"{language} {msgid[:50]!r}", text) for msgid, text, _ in _entries(language)]
    assert len(items) > 200
    assert await _send_all(bot, chat_id, items) == []


# --- the message functions, with realistic values ---------------------------------------------


def _draft(**changes: object) -> Draft:
    base = Draft(
        id="0123456789ab",
        chat_id=42,
        user_id=42,
        model_code="fmb140",
        model_title="Teltonika FMB140",
        id_type="imei",
        has_phone=True,
        has_apn=True,
        plugin_id=44,
        code_required=True,
        device_id="356938035643809",
        phone="+491701234567",
        apn_name="internet.telekom",
        apn_user="gdata",
        apn_password="secret-pw",
        label="Van <7> & Co",
        group_id=1,
        group_title="Main office",
        activation_code="123456",
    )
    return base.model_copy(update=changes)


def _watch(**changes: object) -> Watch:
    watch = Watch(
        tracker_id=123456789,
        chat_id=42,
        user_id=42,
        label="Van <7> & Co",
        model="fmb140",
        started_at=NOW - 21 * 60,
        user_name="Ivan <admin>",
        model_title="Teltonika FMB140",
        device_id="356938035643809",
        retries=2,
        last_retry_result="sent",
        auto_retry_done=True,
        apn_changed=True,
    )
    for key, value in changes.items():
        setattr(watch, key, value)
    return watch


RULES = [
    IdRule(IdKind.IMEI, 15, 15),
    IdRule(IdKind.MEID, 14, 14),
    IdRule(IdKind.DIGITS, 10, 10),
    IdRule(IdKind.DIGITS, 1, 1),
    IdRule(IdKind.ASCII, 4, 21),
]
POLICY = WatchPolicy.from_minutes(
    activation_minutes=15, max_hours=24, auto_retry_minutes=5, escalate_minutes=30, poll_seconds=30
)
MODEL = DeviceModel.model_validate(
    {"id": 1, "vendor": "Teltonika", "code": "fmb140", "name": "FMB140", "port": 47776}
)


def _messages(_: Translator) -> Iterator[str]:
    """Every message function with sample values (what the handlers send as HTML)."""
    yield from (
        texts.welcome(_),
        texts.not_allowed(_, 987654321),
        texts.cancelled(_),
        texts.cancelled_unconfirmed(_),
        texts.idle_hint(_),
        texts.unknown_command(_),
        texts.edit_not_read(_),
        *(texts.type_hint(_, step) for step in Step),
        texts.secret_stays_visible(_),
        texts.secret_not_deleted(_),
        texts.registration_checking(_),
        texts.registration_not_created(_),
        texts.registration_not_found_yet(_),
        texts.registration_never_created(_, str(SAMPLES["label"])),
        texts.nothing_to_cancel(_),
        texts.internal_error(_),
        texts.use_buttons(_),
        texts.ask_model(_) + "\n" + texts.mobile_app_hint(_) + "\n" + texts.skip_hint(_),
        texts.pick_model(_, "fmb <14> & x"),
        texts.no_model_match(_, "fmb <14> & x"),
        texts.catalog_unavailable(_),
        texts.model_chosen(_, "Teltonika FMB140 <LTE>"),
        texts.device_id_not_for_model(_, "356938035643809", "CalAmp LMU-2630 <LTE>"),
        texts.model_unknown(_),
        texts.no_plugin(_, "Teltonika FMB140 <LTE>"),
        texts.plugins_unavailable(_),
        texts.ask_phone(_),
        texts.apn_found(_, "Deutsche Telekom", "internet.telekom"),
        texts.ask_apn_name(_, looked_up=True),
        texts.ask_apn_name(_, looked_up=False),
        texts.ask_apn_user(_),
        texts.ask_apn_password(_),
        texts.ask_label(_),
        texts.ask_group(_),
        texts.groups_unavailable(_),
        texts.ask_code(_),
        texts.ask_notify_phone(_),
        texts.ask_notify_email(_),
        texts.summary(_, _draft()),
        texts.summary(
            _,
            _draft(
                mobile=True,
                notification_phone="+491701234567",
                notification_email="a@b.example",
                asks_device_id=False,
            ),
        ),
        texts.summary(
            _,
            _draft(
                asks_device_id=False,
                device_id=None,
                group_title=None,
                apn_name=None,
                apn_user=None,
                apn_password=None,
            ),
        ),
        texts.pick_field(_),
        texts.registering(_),
        texts.registered(
            _,
            tracker_id=123456789,
            label="Van <7>",
            model="FMB140",
            device_id="356938035643809",
            mobile=True,
        ),
        texts.no_answer(_),
        texts.no_answer_unchecked(_),
        texts.no_answer_pending(_),
        texts.photo_found_one(_, "356938035643809", from_ocr=True),
        texts.photo_found_one(_, "356938035643809", from_ocr=False),
        texts.photo_found_many(_),
        texts.photo_seen(_, list(CodeKind)),
        texts.photo_not_now(_),
        texts.photo_tips(_),
        texts.pick_language(_),
        texts.language_set(_, LANGUAGE_NAMES["ar"]),
    )
    for rule in RULES:
        yield texts.ask_device_id(_, rule)
        for problem in IdProblem:
            for raw in ("", "3", "35", "35693", "356938035643809123456"):
                yield texts.bad_device_id(_, rule, problem, raw)
    for phone_problem in PhoneProblem:
        yield texts.bad_phone(_, phone_problem)
    for field_problem in FieldProblem:
        for step in Step:
            yield texts.bad_field(_, field_problem, step)
    errors = (FieldError(parameter="device_id", error="device <not> on file & gone"),)
    for code in (7, 13, 204, 220, 221, 222, 223, 224, 225, 226, 227, 258, 3, 4, 11, 102, 15, 999):
        error = NavixyError(code, "Some <raw> English & text", errors if code == 7 else ())
        yield texts.register_error(_, error)
        yield texts.register_error(_, error, existing_label="Van <7>", existing_id=5)
    for problem_ in PhotoProblem:
        yield texts.photo_problem(_, problem_)
    # --- the watch
    watch = _watch()
    summary = StateSummary(
        connection=Connection.ACTIVE,
        connected=True,
        has_fix=True,
        fix_age=21 * 60,
        gsm_level=71,
        roaming=True,
        board_voltage=12.63,
        battery_level=88,
        ignition=True,
        cell_position=True,
    )
    yield wt.heading(_, watch)
    yield "\n".join(wt.state_lines(_, summary))
    for age in (None, 30, 60, 120, 300, 21 * 60, 3600, 2 * 3600, 5 * 3600, 21 * 3600):
        yield "\n".join(
            wt.state_lines(
                _,
                StateSummary(
                    connection=Connection.IDLE,
                    connected=True,
                    has_fix=age is not None,
                    fix_age=age,
                    gsm_level=None,
                    ignition=False,
                ),
            )
        )
    fix_unknown_age = StateSummary(connection=Connection.ACTIVE, connected=True, has_fix=True)
    yield "\n".join(wt.state_lines(_, fix_unknown_age))
    for value in Connection:
        yield wt.connection(_, value)
    for check in Check:
        for result in CheckResult:
            yield wt.check_line(_, check, result)
        yield wt.guided_prompt(_, check)
    yield wt.distance_line(_, 12.0, True)
    yield wt.distance_line(_, 2500.0, False)
    for minutes in (0, 1, 2, 5, 21, 59, 61, 125, 24 * 60):
        w = _watch(started_at=NOW - minutes * 60)
        yield "\n".join(wt.waiting_lines(_, w, POLICY, NOW))
        yield wt.options(_, w, POLICY, NOW)
        yield wt.escalation(_, w, NOW)
    for retries in (0, 1, 2, 5, 21):
        for outcome in RetryOutcome:
            yield wt.retry_note(_, _watch(retries=retries, last_retry_result=outcome.value)) or "-"
            yield wt.escalation(
                _,
                _watch(
                    retries=retries, last_retry_result=outcome.value, auto_retry_done=retries == 0
                ),
                NOW,
            )
    for outcome in RetryOutcome:
        for apn in (True, False):
            yield wt.retry_result(_, outcome, code=258, apn=apn)
    for phase in Phase:
        yield wt.ended_line(_, phase) or "-"
    for server in ("tracker.example.com", None):
        for model in (MODEL, None):
            for disabled in (True, False):
                yield wt.manual_config(_, model, server, commands_disabled=disabled)
    yield wt.online_card(_, watch, can_request_location=True)
    cases: list[tuple[float, bool, float | None]] = [
        (12.0, True, None),
        (2500.0, False, 900.0),
        (800.0, False, None),
    ]
    for metres, near, fix_age in cases:
        yield wt.distance_verdict(_, metres, near, fix_age)
    yield wt.no_location_to_compare(_)
    yield wt.tips(_)
    yield wt.installer_escalated(_)
    yield wt.ask_apn_name(_)
    yield wt.ask_apn_user(_)
    yield wt.ask_apn_password(_)
    yield wt.bad_apn(_)
    yield wt.pending_list(_, [], NOW)
    yield wt.pending_list(_, [_watch(), _watch(tracker_id=5, label="Truck 2")], NOW)
    yield wt.checked(_)
    yield from _crew_messages(_)


def _buttons(_: Translator) -> Iterator[tuple[str, str]]:
    """(label, the callback data it really carries)."""
    draft = _draft()
    card = DraftButton.data(draft, "register")
    long_id = 123456789012345678  # 18 digits: the longest a watch callback allows
    yield from (
        (texts.button_register(_), card),
        (texts.button_edit(_), card),
        (texts.button_cancel(_), card),
        (texts.button_back(_), card),
        (texts.button_retry(_), card),
        (texts.button_skip(_), card),
        (texts.button_search(_), card),
        (texts.button_mobile_app(_), card),
        (texts.button_no_group(_), card),
        (texts.button_other_apn(_), card),
        (texts.button_start_register(_), "start:register"),
        (texts.button_change_device_id(_), card),
        (texts.button_type_instead(_), card),
        (texts.button_use_id(_, "356938035643809"), DraftButton.data(draft, "id:356938035643809")),
        (
            texts.button_same_model(_, "Teltonika FMB140"),
            DraftButton.data(draft, "model:" + "x" * 40),
        ),
        (texts.use_apn_button(_, "Deutsche Telekom", "internet.telekom"), card),
        (texts.button_language_auto(_), LanguageButton("auto").pack()),
        (wt.button_check(_), WatchButton.data(long_id, "check")),
        (wt.button_check_again(_), WatchButton.data(long_id, "check")),
        (wt.button_retry(_), WatchButton.data(long_id, "retry")),
        (wt.button_apn(_), WatchButton.data(long_id, "apn")),
        (wt.button_stop(_), WatchButton.data(long_id, "stop")),
        (wt.button_finish(_), WatchButton.data(long_id, "fin")),
        (wt.button_skip(_), WatchButton.data(long_id, "skip")),
        (
            wt.button_pending_check(_, "A label of forty characters, or longer!"),
            WatchButton.data(long_id, "p"),
        ),
        (wt.button_pending_retry(_), WatchButton.data(long_id, "retry")),
        (wt.share_location_button(_), "-"),
    )
    for check in Check:
        yield wt.button_ignition(_, check), WatchButton.data(long_id, "ign")
    for step in Step:
        yield texts.field_name(_, step), DraftButton.data(draft, f"field:{step.value}")
    for language in LANGUAGES:
        yield LANGUAGE_NAMES.get(language, language), LanguageButton(language).pack()
    yield from _crew_buttons(_)


def _alerts(_: Translator) -> Iterator[str]:
    yield texts.stale_button(_)
    yield texts.already_registered_card(_, 123456789)
    yield texts.inline_not_allowed(_)
    yield texts.inline_description(_, "Teltonika", "fmb140")
    yield wt.not_yours(_)
    yield wt.not_watched(_)
    yield wt.navixy_busy(_)
    yield from _crew_alerts(_)


@pytest.mark.e2e  # through the fake Bot API server
@pytest.mark.parametrize("language", LANGUAGES)
async def test_every_message_function_renders_and_sends(
    tg_bot: tuple[FakeTelegram, Bot, int], language: str
) -> None:
    tg, bot, chat_id = tg_bot
    _ = Recording(language)
    messages = list(_messages(_))
    failures = await _send_all(
        bot, chat_id, [(f"{language} #{i}", m) for i, m in enumerate(messages)]
    )
    assert failures == []

    buttons = list(_buttons(_))
    for label, data in buttons:
        assert 0 < len(label) <= MAX_BUTTON, (language, label)
        assert len(data.encode()) <= 64, data
    rows = [
        [InlineKeyboardButton(label, callback_data=data)] for label, data in buttons if data != "-"
    ]
    for start in range(0, len(rows), 50):
        await bot.send_message(
            chat_id, "buttons", reply_markup=InlineKeyboardMarkup(rows[start : start + 50])
        )
    for alert in _alerts(_):
        assert 0 < len(alert) <= MAX_ALERT, (language, alert)

    commands = [BotCommand(name, text) for name, text in texts.commands(_)]
    for command in commands:
        assert 0 < len(command.description) <= MAX_COMMAND_DESCRIPTION
    await bot.set_my_commands(commands, language_code=language.split("_")[0])
    assert not tg.errors, tg.errors[-1].error


def test_the_samples_reach_every_message() -> None:
    """The function samples above ask for every message in the catalogs (none forgotten)."""
    _ = Recording("en")
    list(_messages(_))
    list(_buttons(_))
    list(_alerts(_))
    texts.commands(_)
    with (locales_dir() / "bot.pot").open("rb") as fh:
        catalog = read_po(fh)
    every = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}
    assert sorted(every - _.seen) == []


def test_arabic_keeps_ids_and_labels_in_their_own_direction() -> None:
    _ = translator("ar")
    card = texts.registered(
        _,
        tracker_id=123456789,
        label="AB 123 C",
        model="FMB140",
        device_id="356938035643809",
        mobile=False,
    )
    assert "\u2068123456789\u2069" in card
    assert "\u2068AB 123 C\u2069" in card
    assert "\u2068356938035643809\u2069" in card
    summary = texts.summary(_, _draft())
    assert "\u2068+49 170 1234567\u2069" in summary
    found = texts.photo_found_one(_, "356938035643809", from_ocr=False)
    assert "\u2068<code>356938035643809</code>\u2069" in found  # copying the code copies digits
    # Left-to-right languages get no invisible characters.
    english = texts.registered(
        translator("en"), tracker_id=1, label="x", model="m", device_id=None, mobile=False
    )
    assert "\u2068" not in english and "\u2069" not in english


# --- crews and admins (bot/telegram/admin_texts.py) ---------------------------------------


def _crew_messages(_: Translator) -> Iterator[str]:
    when = datetime.fromtimestamp(NOW, UTC)
    name = "Ivan <Petrov> & Co"
    yield at.admin_only(_)
    for uses in (1, 2, 5, 21, 100):
        yield at.invite_created(_, "https://t.me/installer_test_bot?start=AbC-123_xyz", uses, when)
    yield at.invite_usage(_)
    yield at.joined(_)
    yield at.invite_invalid(_)
    yield at.request_sent(_)
    yield at.request_pending(_)
    request = at.request_for_admins(_, name, 987654321)
    yield request
    yield at.request_approved_by(_, request, name)
    yield at.request_rejected_by(_, request, name)
    yield at.access_approved(_)
    yield at.access_rejected(_)
    for n in (0, 1, 2, 5, 21):
        yield at.users_title(_, n)
        yield at.audit_title(_, n)
        yield at.rate_limited(_, n)
        yield at.rate_limited_admins(_, name, 987654321, n)
    yield at.user_line(_, name, 987654321, None)
    yield at.user_line(_, name, 987654321, when)
    yield at.revoke_usage(_)
    yield at.revoked(_, name, 987654321)
    yield at.revoke_nothing(_, 987654321)
    yield at.revoked_notice(_)
    yield at.promote_usage(_)
    yield at.promoted(_, 987654321)
    yield at.audit_empty(_)
    for action in Action:
        yield at.audit_line(_, AuditEntry(1, when, 1, action, 987654321, "label=<Van> & Co"))
    yield from _report_messages(_, when)


def _report_messages(_: Translator, when: datetime) -> Iterator[str]:
    for ms, error, age in ((42.0, None, 3600.0 * 30), (None, 4, None), (None, 0, 59.0)):
        yield at.status(
            _,
            Status(
                version="0.1.0",
                uptime=3600 * 49 + 65,
                navixy_ms=ms,
                navixy_error=error,
                account="installer@example.com",
                models=1520,
                models_age=age,
                database_bytes=12_500_000,
                waiting=21,
                errors_last_hour=2,
            ),
        )
    attempts = [
        Attempt(
            id=i,
            draft_id="0123456789ab",
            user_id=42,
            chat_id=-100123,
            model="telfmb140",
            plugin_id=44,
            device_id="356938035643809",
            label="Van <7> & Co",
            group_id=0,
            status=status,
            tracker_id=123456789 if status is AttemptStatus.SUCCESS else None,
            error_code=7 if status is AttemptStatus.FAILED else None,
            error_description="Invalid parameters" if status is AttemptStatus.FAILED else None,
            created_at=when,
            updated_at=when,
            user_name="Ivan <admin>",
        )
        for i, status in enumerate(AttemptStatus)
    ]
    yield at.recent_title(_) + "\n" + "\n".join(at.attempt_line(_, a) for a in attempts)
    yield at.recent_empty(_)
    yield at.find_usage(_)
    yield at.find_nothing(_, "fmb <14> & x")
    state = StateSummary(
        connection=Connection.ACTIVE,
        connected=True,
        has_fix=True,
        fix_age=30.0,
        cell_position=False,
        gsm_level=71,
        roaming=False,
        board_voltage=12.6,
        battery_level=90,
        ignition=True,
    )
    found = [Found(attempts[1], state), Found(attempts[1], None), Found(attempts[2], None)]
    yield at.found(_, found, True)
    yield at.found(_, found, False)
    yield at.period_usage(_, "/export")
    for period in Period:
        for total in (0, 21):
            yield at.stats(
                _,
                Stats(
                    period=period,
                    total=total,
                    succeeded=min(total, 19),
                    per_day=[(when.date(), 21)],
                    per_installer=[("Ivan <admin>", 21)],
                    median_connect=None if period is Period.DAY else 125.0,
                    top_errors=[(7, "Invalid parameters <x>", 2)],
                ),
            )
    for n in (0, 1, 2, 5, 21):
        yield at.export_caption(_, n)
    yield from _crew_chat_messages(_)
    for _name, description in menus.admin_commands(_):
        assert 0 < len(description) <= MAX_COMMAND_DESCRIPTION
        yield description


def _crew_chat_messages(_: Translator) -> Iterator[str]:
    for group_id, language, lead in (
        (None, None, None),
        (0, "ar", "Boris <lead>"),
        (5, "ru", None),
    ):
        crew = Crew(-100123, "Crew <North> & Co", group_id, "Main <office>", language)
        yield ct.crew_card(_, crew, lead)
    yield ct.crew_only_in_groups(_)
    yield ct.crew_unlinked(_)
    yield ct.pick_crew_group(_)
    yield ct.registered_line(_, "Ivan <Petrov>", "Teltonika FMB140", "Van <7> & Co", 123456789)
    yield ct.online_line(_, "Van <7> & Co", 123456789)
    for minutes in (1, 2, 5, 21, 125):
        yield ct.silent_line(_, "Ivan <Petrov>", "Van <7> & Co", 123456789, minutes)


def _crew_buttons(_: Translator) -> Iterator[tuple[str, str]]:
    yield at.button_request_access(_), REQUEST
    yield at.button_approve(_), AdminButton("ok", "123456789012345678").pack()
    yield at.button_reject(_), AdminButton("no", "123456789012345678").pack()
    yield at.button_older(_), AdminButton("au", "100000").pack()
    yield at.button_newer(_), AdminButton("us", "100000").pack()
    yield ct.button_crew_group(_), CrewButton("grp").pack()
    yield ct.button_crew_language(_), CrewButton("lng").pack()
    yield ct.button_crew_unlink(_), CrewButton("off").pack()
    yield ct.button_crew_ask(_), CrewButton("g", "-1").pack()
    yield ct.button_crew_members_language(_), CrewButton("l", "auto").pack()


def _crew_alerts(_: Translator) -> Iterator[str]:
    yield at.admin_only(_)
    yield at.request_pending(_)
    yield at.request_decided_already(_)
