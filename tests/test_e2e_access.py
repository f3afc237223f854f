"""Roles and access managed in the chat: invites, requests, approval, revocation, the
hourly limit, admin-only commands. The real bot against the fake Telegram and the Navixy
stand-in, with a real SQLite file."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from bot.app import App
from bot.sandbox.faults import DropBeforeCommit
from bot.sandbox.server import NavixySandbox
from tests.e2e import (
    ADMIN_ID,
    IMEI,
    IMEI_2,
    PHONE_DE,
    Installer,
    catalog_ready,
    command_menus_set,
    installer,
    make_settings,
    running_bot,
)
from tests.fakes.telegram import FakeTelegram

ADMIN_COMMANDS = (
    "/invite",
    "/users",
    "/revoke 100",
    "/promote 100",
    "/audit",
    "/status",
    "/recent",
    f"/find {IMEI}",
    "/stats week",
    "/export month",
)


def admin(tg: FakeTelegram) -> Installer:
    return installer(tg, ADMIN_ID, name="Alice")


async def test_an_invite_link_makes_a_stranger_an_installer_once(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    boss = admin(tg)
    made = await boss.send("/invite 1 2", expect="Invite link for 1 installer")
    link = re.search(r"https://t\.me/installer_test_bot\?start=([A-Za-z0-9_-]+)", made.text or "")
    assert link is not None
    code = link.group(1)

    newcomer = installer(tg, 700, name="Nina")
    await newcomer.send(f"/start {code}", expect="Welcome! You can register devices now")
    await newcomer.send("/register", expect="Which device?")

    # One use only: the next stranger is told, and offered to ask for access instead.
    late = installer(tg, 701, name="Oleg")
    refused = await late.send(f"/start {code}", expect="expired or was used up")
    assert refused.button_texts() == ["🙋 Request access"]
    audit = await boss.send("/audit", expect="audit entr")
    assert "invite created" in (audit.text or "")
    assert "joined by invite" in (audit.text or "")
    assert sandbox.calls_to("tracker/register") == []


async def test_a_stranger_requests_access_and_an_admin_approves(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    boss = admin(tg)
    await boss.send("/start")  # the admin has talked to the bot: it may write to them
    stranger = installer(tg, 702, name="Pavel")
    refusal = await stranger.send("hello", expect="not on this bot's list")
    await stranger.tap(
        "🙋 Request access", on=refusal, expect="went to the admins", new_message=False
    )
    ask = await tg.wait_for_message(boss.chat, lambda m: "asks for access" in (m.text or ""))
    assert "Pavel" in (ask.text or "") and "702" in (ask.text or "")

    await boss.tap("✅ Approve", on=ask, expect="Approved by Alice", new_message=False)
    await tg.wait_for_message(stranger.chat, lambda m: "gave you access" in (m.text or ""))
    await stranger.send("/register", expect="Which device?")
    # Approving twice (another admin, a double tap) changes nothing.
    query = await tg.press(boss.user, boss.chat, ask.message_id, "a|ok|702", forged=True)
    assert "Already decided" in ((await tg.wait_for_callback_answer(query))["text"] or "")
    asks = [m for m in tg.messages(boss.chat) if "asks for access" in (m.text or "")]
    assert len(asks) == 1


async def test_revoke_mid_registration_ends_it_politely(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    boss = admin(tg)
    me = installer(tg, 100, name="Ivan")
    await me.send("/register", expect="Which device?")
    await me.send("fmb140", expect="Models matching")
    await me.tap("Teltonika FMB140", expect="IMEI")

    await boss.send("/revoke 100", expect="can no longer use the bot")
    await tg.wait_for_message(me.chat, lambda m: "withdrew your access" in (m.text or ""))
    # The open registration is gone: the IMEI is refused like any stranger's message.
    await me.send(IMEI, expect="not on this bot's list")
    users = await boss.send("/users", expect="installers:")
    assert "Ivan" not in (users.text or "")
    assert sandbox.calls_to("tracker/register") == []


async def test_a_non_admin_gets_one_refusal_per_admin_command_and_no_navixy_call(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg, 100)
    before = len(sandbox.calls)
    for command in ADMIN_COMMANDS:
        await me.send(command, expect="Only admins can use this command.")
    await tg.wait_idle()
    assert len(tg.messages(me.chat)) == len(ADMIN_COMMANDS)
    assert len(sandbox.calls) == before


async def test_the_hourly_limit_stops_the_next_registration_and_tells_the_admins(
    tg: FakeTelegram, sandbox: NavixySandbox, tmp_path: Path
) -> None:
    key = sandbox.new_api_key()
    settings = make_settings(
        tg, sandbox.base_url, key, tmp_path / "bot.db", registrations_per_hour=1
    )
    async with running_bot(settings) as app:
        await catalog_ready(app)
        boss = admin(tg)
        await boss.send("/start")
        me = installer(tg, 100, name="Ivan")
        for imei, label, phone in ((IMEI, "Van 1", PHONE_DE), (IMEI_2, "Van 2", "+49 170 7654321")):
            await me.send("/register", expect="Which device?")
            await me.send("fmb140", expect="Models matching")
            await me.tap("Teltonika FMB140", expect="IMEI")
            await me.send(imei, expect="Phone number")
            await me.send(phone, expect="APN")
            await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
            await me.send(label, expect="Which group")
            card = await me.tap("Main office", expect="Check and register")
            if label == "Van 1":
                await me.tap("✅ Register", on=card, expect="Registered", new_message=False)
            else:
                await me.tap("✅ Register", on=card, expect="the limit")
        told = await tg.wait_for_message(boss.chat, lambda m: "hit the limit" in (m.text or ""))
        assert "Ivan" in (told.text or "")
        assert [c.params["label"] for c in sandbox.calls_to("tracker/register")] == ["Van 1"]
    # The audit trail has the registration and the hit; it refuses to be rewritten.
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        actions = [row[0] for row in conn.execute("SELECT action FROM audit ORDER BY id")]
        assert "registered" in actions and "rate_limited" in actions
        try:
            conn.execute("DELETE FROM audit")
        except sqlite3.DatabaseError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError("the audit table accepted a DELETE")


async def register_one(me: Installer, label: str = "Van 9") -> None:
    await me.send("/register", expect="Which device?")
    await me.send("fmb140", expect="Models matching")
    await me.tap("Teltonika FMB140", expect="IMEI")
    await me.send(IMEI, expect="Phone number")
    await me.send(PHONE_DE, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send(label, expect="Which group")
    card = await me.tap("Main office", expect="Check and register")
    await me.tap("✅ Register", on=card, expect="Registered", new_message=False)


async def test_admin_reports_after_a_registration(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg, 100, name="Ivan")
    await register_one(me, "Van =9")  # a label a spreadsheet would run as a formula
    tracker = sandbox.calls_to("tracker/register")[0]
    boss = admin(tg)

    status = await boss.send("/status", expect="Status")
    text = status.text or ""
    assert "Navixy: answers in" in text and "Models cached:" in text
    assert "Registration errors in the last hour: 0" in text

    recent = await boss.send("/recent", expect="Latest registrations")
    assert "Van =9" in (recent.text or "") and "✅" in (recent.text or "")

    before = len(sandbox.calls_to("tracker/get_states"))
    found = await boss.send(f"/find {IMEI}", expect="Van =9")
    assert "Online" in (found.text or "") or "GPS" in (found.text or "")
    assert len(sandbox.calls_to("tracker/get_states")) == before + 1
    await boss.send("/find nothing-like-it", expect="Nothing in the journal")

    stats = await boss.send("/stats day", expect="Registrations in the last 24 hours")
    assert "registered: 1 (100 %)" in (stats.text or "")

    await tg.send_text(boss.user, boss.chat, "/export week")
    exported = await tg.wait_for_message(boss.chat, lambda m: m.kind == "document")
    assert exported.caption == "The journal: 1 registration attempt."
    document = exported.raw["document"]
    assert document["file_name"].startswith("journal-week-")
    rows = tg.file_bytes(document["file_id"]).decode("utf-8-sig").splitlines()
    assert rows[0].startswith("id,created_at,user_id,user_name,chat_id,model")
    assert len(rows) == 2
    assert ",'=9," not in rows[1] and "'Van =9" not in rows[1]  # only a leading = is quoted
    assert "Van =9" in rows[1] and IMEI in rows[1] and "success" in rows[1]
    assert tracker.params["label"] == "Van =9"
    assert "6045325592" not in "\n".join(rows)  # no activation code or other secret
    # Every Bot API call is a JSON body (bot/telegram/request.py), but the upload: multipart.
    bodies = {(call.method, call.body) for call in tg.requests}
    assert ("sendDocument", "multipart") in bodies
    assert {body for method, body in bodies if method != "sendDocument"} == {"json"}


async def test_status_while_navixy_is_down(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    sandbox.inject("user/get_info", DropBeforeCommit(), times=20)
    boss = admin(tg)
    status = await boss.send("/status", expect="Status", timeout=30.0)
    assert "Navixy: not reachable" in (status.text or "")
    assert "Models cached:" in (status.text or "")  # the rest still answers


async def test_admins_get_their_command_menu_in_every_language(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    installer_menu = ["register", "cancel", "pending", "language", "help"]
    await command_menus_set(tg, admin_ids=(ADMIN_ID,))
    assert tg.my_commands() == installer_menu
    admin_menu = tg.my_commands("chat", chat_id=ADMIN_ID)
    assert admin_menu[:5] == installer_menu
    assert {"status", "recent", "find", "stats", "export", "users", "invite", "crew"} <= set(
        admin_menu
    )
    for code in ("ru", "es", "pt", "tr", "ar"):
        assert tg.my_commands("chat", code, chat_id=ADMIN_ID) == admin_menu
    key = next(k for k in tg.commands if '"chat_id": 1' in k[0] and k[1] == "ru")
    assert any(c["description"] == "Состояние бота и Navixy" for c in tg.commands[key])
    assert tg.my_commands("chat", chat_id=100) == []  # installers keep the default menu

    boss = admin(tg)
    await boss.send("/promote 100", expect="is an admin now")
    await tg.wait_idle()
    assert tg.my_commands("chat", chat_id=100) == admin_menu
    await boss.send("/revoke 100", expect="can no longer use the bot")
    await tg.wait_idle()
    assert tg.my_commands("chat", chat_id=100) == []
