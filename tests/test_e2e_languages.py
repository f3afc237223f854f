"""End-to-end: the installer's language (the real bot, fake Telegram, Navixy stand-in, SQLite).

The same registration in Russian, Arabic and Portuguese (Telegram language codes `ru`,
`ar`, `pt`), plural forms with real input, `/language`, and messages the bot sends on
its own (watch status, admin escalation) in the language of the person they go to.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.navixy.client import NavixyClient
from bot.navixy.models import RegisterRequest
from bot.sandbox import DeviceScript, NavixySandbox
from bot.storage.db import Database
from bot.storage.journal import RegistrationJournal
from bot.telegram.context import SERVICES_KEY, Services
from tests.e2e import (
    ADMIN_ID,
    IMEI,
    PHONE_DE,
    Installer,
    command_menus_set,
    installer,
    make_settings,
    running_bot,
)
from tests.e2e import catalog_ready as _catalog_ready
from tests.fakes.telegram import FakeTelegram
from tests.helpers import FakeClock

pytestmark = pytest.mark.e2e

FSI, PDI = "\u2068", "\u2069"
MIN = 60.0


@dataclass(frozen=True)
class Script:
    """What the installer sees in one language, step by step."""

    code: str  # Telegram's language_code
    ask_model: str
    matches: str
    ask_imei: str
    ask_phone: str
    apn_button: str
    ask_label: str
    ask_group: str
    no_group: str
    card: str
    card_rows: tuple[str, ...]
    card_buttons: tuple[str, ...]
    done: str
    tracker_row: str  # with {id}
    waiting: str
    status_buttons: tuple[str, ...]


RU = Script(
    code="ru",
    ask_model="Какое устройство? Введите часть названия производителя, модели или код",
    matches="Модели по запросу «fmb140»: выберите.",
    ask_imei="Пришлите IMEI: 15 цифр, например 356938035643809.",
    ask_phone="Номер SIM-карты в устройстве в международном формате",
    apn_button="Deutsche Telekom: internet.telekom",
    ask_label="Название трекера, как оно будет в Navixy",
    ask_group="В какую группу добавить трекер?",
    no_group="Без группы",
    card="Проверьте и зарегистрируйте:",
    card_rows=(
        "Модель: Teltonika FMB140",
        f"ID устройства: {IMEI}",
        "Номер SIM: +49 170 1234567",
        "APN: internet.telekom",
        "Название: AB 123 C",
        "Группа: Main office",
    ),
    card_buttons=("✅ Зарегистрировать", "✏️ Изменить", "Отмена"),
    done="✅ Зарегистрировано.",
    tracker_row="ID трекера: {id}",
    waiting="⏳ Ждём первого выхода на связь: 0 мин",
    status_buttons=("🔄 Проверить сейчас", "✖ Не следить"),
)

AR = Script(
    code="ar",
    ask_model="أي جهاز؟ اكتب جزءًا من اسم الشركة أو الطراز أو الرمز",
    matches=f"الطرازات المطابقة لـ «{FSI}fmb140{PDI}»: اختر واحدًا.",
    ask_imei=f"أرسل IMEI: \u200f15 رقمًا، مثل {FSI}356938035643809{PDI}.",
    ask_phone="رقم هاتف شريحة SIM داخل الجهاز",
    apn_button=f"استخدم {FSI}Deutsche Telekom{PDI}: {FSI}internet.telekom{PDI}",
    ask_label="اسم جهاز التتبع كما سيظهر في Navixy",
    ask_group="إلى أي مجموعة يُضاف جهاز التتبع؟",
    no_group="بدون مجموعة",
    card="راجِع ثم سجّل:",
    card_rows=(
        f"الطراز: {FSI}Teltonika FMB140{PDI}",
        f"معرّف الجهاز: {FSI}{IMEI}{PDI}",
        f"رقم الشريحة: {FSI}+49 170 1234567{PDI}",
        f"APN: {FSI}internet.telekom{PDI}",
        f"الاسم: {FSI}AB 123 C{PDI}",
        f"المجموعة: {FSI}Main office{PDI}",
    ),
    card_buttons=("✅ تسجيل", "✏️ تعديل", "إلغاء"),
    done="✅ تم التسجيل.",
    tracker_row=f"رقم جهاز التتبع: {FSI}{{id}}{PDI}",
    waiting=f"⏳ بانتظار أول اتصال: {FSI}0 د{PDI}",
    status_buttons=("🔄 تحقّق الآن", "✖ إيقاف المتابعة"),
)

PT = Script(
    code="pt",  # Telegram sends the bare language: the Brazilian catalog answers
    ask_model="Qual equipamento? Digite parte da marca, do modelo ou do código",
    matches="Modelos para “fmb140”: escolha um.",
    ask_imei="Envie o IMEI: 15 dígitos, ex.: 356938035643809.",
    ask_phone="Número do chip que está no equipamento, em formato internacional",
    apn_button="Usar Deutsche Telekom: internet.telekom",
    ask_label="Nome do rastreador, como vai aparecer no Navixy",
    ask_group="Em qual grupo o rastreador vai ficar?",
    no_group="Sem grupo",
    card="Confira e cadastre:",
    card_rows=(
        "Modelo: Teltonika FMB140",
        f"ID do equipamento: {IMEI}",
        "Número do chip: +49 170 1234567",
        "APN: internet.telekom",
        "Nome: AB 123 C",
        "Grupo: Main office",
    ),
    card_buttons=("✅ Cadastrar", "✏️ Editar", "Cancelar"),
    done="✅ Cadastrado.",
    tracker_row="ID do rastreador: {id}",
    waiting="⏳ Esperando a primeira conexão: 0 min",
    status_buttons=("🔄 Verificar agora", "✖ Parar de acompanhar"),
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox_kwargs(clock: FakeClock) -> dict[str, Any]:
    return {"clock": clock}


@pytest.fixture
async def app(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[App]:
    settings = make_settings(
        tg, sandbox.base_url, sandbox.new_api_key(), tmp_path / "bot.db", watch_tick_seconds=3600
    )
    async with running_bot(settings) as application:
        await _catalog_ready(application)
        services(application).watcher.clock = clock
        yield application


def services(app: App) -> Services:
    svc: Services = app.bot_data[SERVICES_KEY]
    return svc


@pytest.mark.parametrize("script", [RU, AR, PT], ids=["ru", "ar", "pt"])
async def test_the_same_registration_in_the_installers_language(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, script: Script
) -> None:
    me = installer(tg, lang=script.code)
    question = await me.send("/register", expect=script.ask_model)
    assert (
        question.button_texts()[-1]
        == {
            "ru": "📱 Приложение X-GPS",
            "ar": "📱 تطبيق X-GPS للجوال",
            "pt": "📱 App X-GPS no celular",
        }[script.code]
    )
    await me.send("fmb140", expect=script.matches)
    await me.tap("Teltonika FMB140", expect=script.ask_imei)
    await me.send(IMEI, expect=script.ask_phone)
    apn = await me.send(PHONE_DE, expect="APN")
    assert script.apn_button in apn.button_texts()
    await me.tap(script.apn_button, expect=script.ask_label)
    group = await me.send("AB 123 C", expect=script.ask_group)
    assert group.button_texts()[0] == "Main office"
    assert group.button_texts()[-1] == script.no_group
    card = await me.tap("Main office", expect=script.card)
    for row in script.card_rows:
        assert row in (card.text or ""), row
    assert card.button_texts() == list(script.card_buttons)

    done = await me.tap(script.card_buttons[0], expect=script.done, on=card, new_message=False)
    (tracker,) = sandbox.trackers.values()
    assert script.tracker_row.format(id=tracker.id) in (done.text or "")
    status = done  # the result card is the watch's status message
    assert script.waiting in (status.text or "")
    assert status.button_texts() == list(script.status_buttons)
    assert not tg.errors


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "ru",
            {
                1: "вы прислали 1 цифру.",
                2: "вы прислали 2 цифры.",
                5: "вы прислали 5 цифр.",
                21: "вы прислали 21 цифру.",
            },
        ),
        (
            "ar",
            {
                1: "أرسلت رقمًا واحدًا فقط.",
                2: "أرسلت رقمين فقط.",
                5: f"أرسلت {FSI}5{PDI} أرقام.",
                21: f"أرسلت {FSI}21{PDI} رقمًا.",
            },
        ),
        (
            "en",
            {
                1: "you sent 1 digit.",
                2: "you sent 2 digits.",
                5: "you sent 5 digits.",
                21: "you sent 21 digits.",
            },
        ),
    ],
)
async def test_a_count_meets_a_noun_in_the_right_plural_form(
    tg: FakeTelegram, app: App, code: str, expected: dict[int, str]
) -> None:
    me = installer(tg, lang=code)
    await me.send("/register")
    await me.send("fmb140")
    await me.tap("Teltonika FMB140")
    for n, words in expected.items():
        answer = await me.send("356938035643809123456"[:n], expect=words)
        assert "IMEI" in (answer.text or "")
    assert not tg.errors


async def test_language_command_changes_the_language_and_it_is_kept(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    settings = make_settings(tg, sandbox.base_url, sandbox.new_api_key(), tmp_path / "bot.db")
    me = installer(tg, lang="en")
    async with running_bot(settings) as app:
        await _catalog_ready(app)
        menu = await me.send("/language", expect="Which language should I use with you?")
        assert menu.button_texts() == [
            "العربية",
            "✅ English",
            "Español",
            "Português (Brasil)",
            "Русский",
            "Türkçe",
            "✅ As my Telegram app",
        ]
        done = await me.tap("Türkçe", expect="Tamam", new_message=False)
        assert "Türkçe" in (done.text or "") and done.buttons() == []
        await me.send("/register", expect="Hangi cihaz?")
        # In a private chat the command menu follows the choice too.
        scoped = [
            c
            for c in tg.calls("setMyCommands")
            if c.ok and (c.params.get("scope") or {}).get("chat_id") == me.chat.id
        ]
        assert "Botun dilini değiştir" in str(scoped[-1].params)
    with sqlite3.connect(settings.database_path) as db:
        assert db.execute("SELECT chosen, telegram FROM user_languages").fetchall() == [
            ("tr", "en")
        ]
    # After a restart: still Turkish, although the Telegram app says English.
    async with running_bot(settings) as app:
        await _catalog_ready(app)
        await me.send("/cancel", expect="İptal")
        menu = await me.send("/language", expect="Sizinle hangi dilde")
        await me.tap("Telegram uygulamamdaki gibi", on=menu, expect="English", new_message=False)
        await me.send("/help", expect="Hi! I register GPS trackers")
    assert not tg.errors


async def test_background_messages_speak_the_language_of_whom_they_go_to(
    tg: FakeTelegram, sandbox: NavixySandbox, app: App, clock: FakeClock
) -> None:
    """The admin escalation in the admin's language, the watch in the installer's current one."""
    sandbox.script_device(IMEI, DeviceScript(online_after=None))
    admin = tg.user(ADMIN_ID, "Ana", language_code="es")
    admin_chat = tg.private_chat(admin)
    await tg.send_text(admin, admin_chat, "/start")  # the admin talked to the bot once
    await tg.wait_for_message(admin_chat, lambda m: "Registro rastreadores" in (m.text or ""))

    me = installer(tg, lang="ru")
    await me.send("/register", expect=RU.ask_model)
    await me.send("fmb140", expect=RU.matches)
    await me.tap("Teltonika FMB140", expect=RU.ask_imei)
    await me.send(IMEI, expect=RU.ask_phone)
    await me.send(PHONE_DE, expect="APN")
    await me.tap(RU.apn_button, expect=RU.ask_label)
    await me.send("AB 123 C", expect=RU.ask_group)
    card = await me.tap("Main office", expect=RU.card)
    status = await me.tap(RU.card_buttons[0], expect=RU.done, on=card, new_message=False)

    clock.now += 21 * MIN
    await services(app).watcher.tick()
    edited = await tg.wait_for_edit(
        me.chat,
        status.message_id,
        lambda m: "активация отправлена повторно" in (m.text or "").lower(),
    )
    assert "Активация отправлена повторно 1 раз." in (edited.text or "")

    # The installer switches to Portuguese: the same watch goes on in Portuguese.
    menu = await me.send("/language", expect="На каком языке вам писать?")
    await me.tap("Português (Brasil)", on=menu, expect="Pronto", new_message=False)
    clock.now += 10 * MIN
    await services(app).watcher.tick()
    alert = await tg.wait_for_message(admin_chat, lambda m: "🚨" in (m.text or ""))
    assert "🚨 Sin conexión tras 31 min" in (alert.text or "")
    assert "Instalador: Ivan" in (alert.text or "")
    assert "1 reintento enviado" in (alert.text or "")
    told = await tg.wait_for_message(me.chat, lambda m: "administradores" in (m.text or ""))
    assert told.text == "Avisei os administradores que este equipamento continua sem comunicar."
    assert not tg.errors


async def test_a_group_answers_each_member_in_their_own_language(
    tg: FakeTelegram, app: App
) -> None:
    nour = tg.user(100, "Nour", language_code="ar")
    olga = tg.user(101, "Olga", language_code="ru")
    crew = tg.group_chat(-100321, members=[nour, olga])
    a = Installer(tg, nour, crew, timeout=15.0)
    b = Installer(tg, olga, crew, timeout=15.0)
    to_nour = await a.send("/register", expect="أي جهاز؟")
    to_olga = await b.send("/register", expect="Какое устройство?")
    # The Latin name first is isolated: the Arabic message stays right-to-left.
    assert (to_nour.text or "").startswith(f"{FSI}Nour{PDI}, أي جهاز؟")
    assert (to_olga.text or "").startswith("Olga, Какое устройство?")
    assert a.mentions_me(to_nour) and b.mentions_me(to_olga)
    assert not tg.errors


async def test_a_registration_recovered_at_start_up_is_announced_in_the_installers_language(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    settings = make_settings(tg, sandbox.base_url, sandbox.new_api_key(), tmp_path / "bot.db")
    me = installer(tg, lang="tr")
    async with running_bot(settings) as app:
        await _catalog_ready(app)
        await me.send("/start", expect="Merhaba!")
    # What a process that crashed mid-request left: a journaled attempt Navixy carried out.
    request = RegisterRequest(
        label="AB 123 C",
        group_id=129301,
        plugin_id=44,
        model="telfmb140",
        device_id=IMEI,
        phone="491701234567",
        apn_name="internet.telekom",
    )
    async with await Database.open(settings.database_path) as db:
        await RegistrationJournal(db).begin(
            draft_id="0123456789ab",
            user_id=me.user.id,
            chat_id=me.chat.id,
            model=request.model,
            plugin_id=request.plugin_id,
            device_id=request.device_id,
            label=request.label,
            group_id=request.group_id,
        )
    key = settings.navixy_api_key.get_secret_value() if settings.navixy_api_key else None
    async with NavixyClient(sandbox.base_url, api_key=key) as client:
        created = await client.register(request)

    async with running_bot(settings):
        notice = await tg.wait_for_message(me.chat, lambda m: "Kaydedildi" in (m.text or ""))
        assert f"Takip cihazı ID: {created.id}" in (notice.text or "")
        # The result is the watch's status message: one message, no second one.
        assert "İlk bağlantı bekleniyor" in (notice.text or "")
    assert not tg.errors


async def test_inline_search_and_command_menu_are_translated(tg: FakeTelegram, app: App) -> None:
    me = installer(tg, lang="ru")
    results = await me.tg.inline_query(me.user, "fmb140")
    assert results[0]["title"] == "Teltonika FMB140"
    assert results[0]["description"] == "Teltonika · код telfmb140"
    assert tg.last_inline_answer is not None and tg.last_inline_answer["is_personal"] in (
        True,
        "true",
    )
    stranger = tg.user(666, "Mallory", language_code="es-419")
    await tg.inline_query(stranger, "fmb")
    answer = tg.last_inline_answer
    assert answer is not None and "Sin acceso" in str(answer["button"])
    # setMyCommands per language, once polling runs; Telegram takes two-letter codes (pt,
    # not pt_BR).
    await command_menus_set(tg)
    assert tg.my_commands(language_code="pt") == tg.my_commands()
    menus = {
        c.params.get("language_code"): str(c.params["commands"])
        for c in tg.calls("setMyCommands")
        if c.ok
    }
    assert set(menus) == {None, "ar", "es", "pt", "ru", "tr"}
    assert "Сменить язык бота" in menus["ru"] and "Mudar o idioma do bot" in menus["pt"]
    assert not tg.errors


async def test_a_message_quoting_angle_brackets_reaches_the_installer(
    tg: FakeTelegram, app: App
) -> None:
    """The label rule names "<" and ">": sent as HTML, they must be escaped (they were not)."""
    me = installer(tg, lang="ru")
    await me.send("/register", expect=RU.ask_model)
    await me.send("fmb140", expect=RU.matches)
    await me.tap("Teltonika FMB140", expect=RU.ask_imei)
    await me.send(IMEI, expect=RU.ask_phone)
    await me.send(PHONE_DE, expect="APN")
    await me.tap(RU.apn_button, expect=RU.ask_label)
    rule = await me.send("AB <123>", expect="без < и >")
    assert RU.ask_label in (rule.text or "")
    assert not tg.errors
