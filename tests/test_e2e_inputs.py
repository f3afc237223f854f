"""How many inputs (messages or taps) each registration path costs the installer.

The product promise is "fewer taps": these counts are asserted so that a change that
adds a step to a path shows up here.
"""

from __future__ import annotations

import pytest

from bot.app import App
from bot.domain.device_id import luhn_check_digit
from bot.sandbox import NavixySandbox
from tests.e2e import (
    ACTIVATION_CODES,
    IMEI,
    PHONE_DE,
    PLUGINS_NO_44,
    installer,
    register,
    to_imei_step,
)
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e_photo import label_photo

pytestmark = pytest.mark.e2e


async def test_device_with_manual_apn_and_skips(tg: FakeTelegram, bot: App) -> None:
    me = installer(tg)
    await me.send("/register", expect="Which device?")
    await me.send("fmb920", expect="Models matching")
    await me.tap("Teltonika FMB920", expect="IMEI")
    await me.send(IMEI, expect="Phone number")
    await me.send(PHONE_DE, expect="APN")
    await me.tap("Enter another APN", expect="APN name")
    await me.send("internet", expect="APN user name")
    await me.tap("Skip", expect="APN password")
    await me.tap("Skip", expect="Name for this tracker")
    await me.send("Truck 12", expect="Which group")
    await me.tap("No group", expect="Check and register")
    await register(me)
    assert tg.inputs[me.user.id] == 12


async def test_device_id_assigned_by_the_platform(tg: FakeTelegram, bot: App) -> None:
    me = installer(tg)
    await me.send("/register", expect="Which device?")
    await me.send("wondeproud tt1", expect="Models matching")
    await me.tap("WondeProud TT1", expect="Phone number")
    await me.send(PHONE_DE, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send("Bus 3", expect="Which group")
    await me.tap("Main office", expect="Check and register")
    assert "Tracker ID" in ((await register(me)).text or "")
    assert tg.inputs[me.user.id] == 8


async def test_mobile_app_without_invitations(tg: FakeTelegram, bot: App) -> None:
    me = installer(tg)
    await me.send("/register", expect="Which device?")
    await me.tap("📱 X-GPS mobile app", expect="Name for this tracker")
    await me.send("Courier Anna", expect="Which group")
    await me.tap("No group", expect="Phone number to text")
    await me.tap("Skip", expect="E-mail")
    await me.tap("Skip", expect="Check and register")
    assert "X-GPS Tracker app" in ((await register(me)).text or "")
    assert tg.inputs[me.user.id] == 7


@pytest.mark.parametrize("sandbox_kwargs", [{"plugins": PLUGINS_NO_44}])
async def test_device_with_activation_code(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    me = installer(tg)
    await to_imei_step(me)
    await me.send(IMEI, expect="Phone number")
    await me.send(PHONE_DE, expect="APN")
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send("AB 123 C", expect="Which group")
    await me.tap("Main office", expect="Activation code")
    await me.send(ACTIVATION_CODES[0], expect="Check and register")
    await register(me)
    assert tg.inputs[me.user.id] == 10


async def test_photo_first_with_a_known_tac(tg: FakeTelegram, bot: App) -> None:
    first = installer(tg, 101)
    await to_imei_step(first)
    await first.send(IMEI, expect="Phone number")
    await first.send(PHONE_DE, expect="APN")
    await first.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await first.send("Van 1", expect="Which group")
    await first.tap("No group", expect="Check and register")
    await register(first)

    me = installer(tg, 102)
    sibling = IMEI[:8] + "123456"
    sibling += luhn_check_digit(sibling)
    await tg.send_photo(me.user, me.chat, label_photo(sibling))
    offer = await tg.wait_for_message(me.chat, lambda m: sibling in (m.text or ""))
    await me.tap(f"Use {sibling}", expect="Which device?", on=offer)
    await me.tap("Same as before: Teltonika FMB140", expect="Phone number")
    await me.send("+49 171 2345678", expect="APN")  # another SIM: a phone is unique
    await me.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await me.send("Van 2", expect="Which group")
    await me.tap("No group", expect="Check and register")
    await register(me)
    assert tg.inputs[me.user.id] == 8
