"""End-to-end: a photo of the label through the fake Telegram server (getFile + download)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from bot.app import App
from bot.sandbox import NavixySandbox
from tests.e2e import IMEI, Installer, to_imei_step
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.e2e

ICCID = "8949226123456789012"


def label_photo(*codes: str, size: tuple[int, int] = (1280, 960)) -> bytes:
    """A white label with a Code 128 barcode per value, as a JPEG like Telegram's."""
    canvas = Image.new("L", size, 200)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((140, 100, size[0] - 140, size[1] - 100), fill=255)
    y = 160
    for value in codes:
        barcode = zxingcpp.create_barcode(value, zxingcpp.BarcodeFormat.Code128)
        image = zxingcpp.write_barcode_to_image(barcode, scale=4, add_quiet_zones=True)
        bar = Image.fromarray(np.asarray(image)).convert("L")
        bar = bar.resize((bar.width, 120))
        canvas.paste(bar, ((size[0] - bar.width) // 2, y))
        draw.text(((size[0] - bar.width) // 2, y + 125), value, fill=0)
        y += 260
    out = io.BytesIO()
    canvas.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def me(tg: FakeTelegram) -> Installer:
    user = tg.user(101, "Olga")
    return Installer(tg, user, tg.private_chat(user))


async def test_photo_at_device_id_step_registers(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    inst = me(tg)
    await to_imei_step(inst)
    after = inst.last().message_id
    await tg.send_photo(inst.user, inst.chat, label_photo(IMEI, ICCID))
    offer = await tg.wait_for_message(inst.chat, lambda m: IMEI in (m.text or ""), after=after)
    # The ICCID barcode on the same label is never offered as the device ID.
    assert offer.button_texts() == [f"Use {IMEI}", "⌨️ Type it instead"]
    assert tg.calls("getFile")
    await inst.tap(f"Use {IMEI}", expect="Phone number", on=offer)
    await inst.send("+49 170 1234567", expect="APN")
    await inst.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await inst.send("Van 7", expect="Which group")
    card = await inst.tap("No group", expect="Check and register")
    await inst.tap("✅ Register", expect="Registered", on=card, new_message=False)
    (call,) = sandbox.calls_to("tracker/register")
    assert call.params["device_id"] == IMEI
    assert not tg.errors


async def test_photo_without_imei_explains_and_reasks(tg: FakeTelegram, bot: App) -> None:
    inst = me(tg)
    await inst.send("/register", expect="Which device?")
    await inst.send("fmb920", expect="Models matching")
    await inst.tap("Teltonika FMB920", expect="IMEI")
    after = inst.last().message_id
    await tg.send_photo(inst.user, inst.chat, label_photo(ICCID))
    reply = await tg.wait_for_message(inst.chat, after=after)
    assert "SIM card number (ICCID)" in (reply.text or "")
    assert "IMEI" in (reply.text or "")  # the question is asked again
    # Typing the digits still works after a failed photo.
    await inst.send(IMEI, expect="Phone number")


async def test_not_an_image_gets_a_clear_message(tg: FakeTelegram, bot: App) -> None:
    inst = me(tg)
    await inst.send("/register", expect="Which device?")
    await inst.send("fmb920", expect="Models matching")
    await inst.tap("Teltonika FMB920", expect="IMEI")
    after = inst.last().message_id
    await tg.send_document(
        inst.user,
        inst.chat,
        b"%PDF-1.4 not a photo",
        file_name="label.pdf",
        mime_type="application/pdf",
    )
    reply = await tg.wait_for_message(inst.chat, after=after)
    assert "not a photo I can read" in (reply.text or "")


async def test_photo_first_starts_a_registration(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    inst = me(tg)
    await tg.send_photo(inst.user, inst.chat, label_photo(IMEI))
    offer = await tg.wait_for_message(inst.chat, lambda m: IMEI in (m.text or ""))
    await inst.tap(f"Use {IMEI}", expect="Which device?", on=offer)
    await inst.send("fmb140", expect="Models matching")
    # The IMEI is already known: the next question is the phone, not the IMEI.
    await inst.tap("Teltonika FMB140", expect="Phone number")


async def test_photo_first_id_that_does_not_fit_the_model_is_said_before_the_id_question(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    """An IMEI read from a photo at idle, then a model whose id_type (MEID) rejects it: the
    installer is told, in the message that asks for the right ID."""
    inst = me(tg)
    await tg.send_photo(inst.user, inst.chat, label_photo(IMEI))
    offer = await tg.wait_for_message(inst.chat, lambda m: IMEI in (m.text or ""))
    await inst.tap(f"Use {IMEI}", expect="Which device?", on=offer)
    await inst.send("lmu-2630", expect="Models matching")
    question = await inst.tap("CalAmp LMU-2630", expect="Send the MEID")
    text = question.text or ""
    sentence = f"The ID {IMEI} is not valid for CalAmp LMU-2630; send the right one."
    # The models list became the model chosen, the note, then the question (one edit).
    assert text.startswith(f"Model: CalAmp LMU-2630\n\n{sentence}")
    assert text.index(sentence) < text.index("Send the MEID: 14 hexadecimal characters")
    # The ID was dropped: the MEID typed now is taken, and the next question comes.
    await inst.send("A1000012345678", expect="Phone number")
    assert not tg.errors


async def test_photo_first_offers_the_model_of_the_same_tac(
    tg: FakeTelegram, sandbox: NavixySandbox, bot: App
) -> None:
    from bot.domain.device_id import luhn_check_digit

    inst = me(tg)
    await to_imei_step(inst)
    await inst.send(IMEI, expect="Phone number")
    await inst.send("+49 170 1234567", expect="APN")
    await inst.tap("Use Deutsche Telekom: internet.telekom", expect="Name for this tracker")
    await inst.send("Van 1", expect="Which group")
    card = await inst.tap("No group", expect="Check and register")
    await inst.tap("✅ Register", expect="Registered", on=card, new_message=False)

    sibling = IMEI[:8] + "123456"
    sibling += luhn_check_digit(sibling)
    await tg.send_photo(inst.user, inst.chat, label_photo(sibling))
    offer = await tg.wait_for_message(inst.chat, lambda m: sibling in (m.text or ""))
    question = await inst.tap(f"Use {sibling}", expect="Which device?", on=offer)
    assert question.button_texts()[0] == "Same as before: Teltonika FMB140"
    await inst.tap("Same as before: Teltonika FMB140", expect="Phone number", on=question)


# --------------------------------------------------------------------------- real phone shots
# Label photos from the benchmark's camera model (bench/photo_corpus.py): a rendered label on
# a device in a cluttered scene, perspective, blur, noise, Telegram's 1280 px JPEG.
SHOTS: dict[str, dict[str, Any]] = {
    # the IMEI code wider than half the frame (the label itself cut off by the frame)
    "close-up": {"closeup": 1.0, "glare": 0.0, "finger": 0.0, "motion": 0.0},
    # the label plane tilted 35-38 degrees away from the camera
    "tilted": {
        "tilt": (35, 38),
        "closeup": 0.0,
        "bar_px": (420, 480),
        "glare": 0.0,
        "finger": 0.0,
        "motion": 0.0,
    },
    # defocused (gaussian sigma 1.2-1.3 px) at ~2.5-2.8 px per module
    "blurred": {
        "blur": (1.2, 1.3),
        "tilt": (5, 10),
        "closeup": 0.0,
        "bar_px": (330, 380),
        "glare": 0.0,
        "finger": 0.0,
        "motion": 0.0,
    },
}


async def test_close_up_tilted_and_blurred_labels_offer_the_imei(
    tg: FakeTelegram, bot: App
) -> None:
    from bench.photo_corpus import label_photo

    inst = me(tg)
    await to_imei_step(inst)
    for seed, (shot, conditions) in enumerate(SHOTS.items()):
        data, truth = label_photo(seed, IMEI, **conditions)
        if shot == "close-up":
            assert truth["code_frac"] > 0.5
        elif shot == "tilted":
            assert truth["tilt"] >= 35
        else:
            assert truth["blur"] >= 1.2
        after = inst.last().message_id
        await tg.send_photo(inst.user, inst.chat, data)
        offer = await tg.wait_for_message(inst.chat, after=after)
        assert offer.button_texts() == [f"Use {IMEI}", "⌨️ Type it instead"], shot
        if shot != "blurred":
            await inst.tap("⌨️ Type it instead", expect="IMEI", on=offer)
    await inst.tap(f"Use {IMEI}", expect="Phone number", on=offer)
    assert not tg.errors


async def test_blurred_code_gets_advice_to_hold_still(tg: FakeTelegram, bot: App) -> None:
    import cv2

    inst = me(tg)
    await to_imei_step(inst)
    sharp = np.asarray(Image.open(io.BytesIO(label_photo(IMEI))).convert("L"))
    blurred = cv2.GaussianBlur(sharp, (0, 0), 5.0)
    out = io.BytesIO()
    Image.fromarray(blurred).save(out, "JPEG", quality=85)
    after = inst.last().message_id
    await tg.send_photo(inst.user, inst.chat, out.getvalue())
    reply = await tg.wait_for_message(inst.chat, after=after)
    assert "blurred" in (reply.text or "")
    assert "Hold the phone still" in (reply.text or "")
    assert "IMEI" in (reply.text or "")  # and the question is asked again


async def test_printed_digits_come_as_a_follow_up_when_ocr_is_slow(
    tg: FakeTelegram, bot: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No barcode gives the IMEI: the answer comes at once (not after OCR), and the number
    the (slow) OCR finds later is offered in a follow-up message."""
    exe = tmp_path / "tesseract"
    gate = tmp_path / "go"
    exe.write_text(
        "#!/bin/sh\ncat > /dev/null\n"
        f"while [ ! -e {gate} ]; do sleep 0.05; done\n"
        "printf 'level\\tblock_num\\tpar_num\\tline_num\\tconf\\ttext\\n'\n"
        f"printf '5\\t1\\t1\\t1\\t95\\t{IMEI}\\n'\n"
    )
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ.get('PATH', '')}")
    inst = me(tg)
    await to_imei_step(inst)
    after = inst.last().message_id
    await tg.send_photo(inst.user, inst.chat, label_photo("SN20240117", ICCID))
    reply = await tg.wait_for_message(inst.chat, after=after)
    assert "SIM card number (ICCID)" in (reply.text or "")  # answered while OCR still runs
    gate.touch()
    offer = await tg.wait_for_message(
        inst.chat, lambda m: IMEI in (m.text or ""), after=reply.message_id
    )
    assert "printed digits" in (offer.text or "")
    await inst.tap(f"Use {IMEI}", expect="Phone number", on=offer)


# --------------------------------------------------------------------------- heavy files
def _noise_png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (1536, 2048), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


async def test_heavy_files_from_one_installer_do_not_hold_up_another(
    tg: FakeTelegram, bot: App
) -> None:
    """Issue 8: two heavy images at once took both decode slots. Olga sends two noise PNGs as
    files; Anna's label photo, sent after them, is answered before Olga's second file."""
    anna_user = tg.user(102, "Anna")
    olga, anna = me(tg), Installer(tg, anna_user, tg.private_chat(anna_user))
    await to_imei_step(olga)
    await to_imei_step(anna)
    olga_after, anna_after = olga.last().message_id, anna.last().message_id
    for seed in (1, 2):
        await tg.send_document(
            olga.user, olga.chat, _noise_png(seed), file_name=f"n{seed}.png", mime_type="image/png"
        )
    await tg.send_photo(anna.user, anna.chat, label_photo(IMEI))
    offer = await tg.wait_for_message(
        anna.chat, lambda m: IMEI in (m.text or ""), after=anna_after, timeout=20
    )
    assert offer.button_texts()[0] == f"Use {IMEI}"
    replies = [m for m in tg.messages(olga.chat) if m.message_id > olga_after]
    assert len(replies) < 2  # Olga's second file is still waiting for her first
    # and both of Olga's files are answered in the end
    first = await tg.wait_for_message(olga.chat, after=olga_after, timeout=20)
    await tg.wait_for_message(olga.chat, after=first.message_id, timeout=20)


async def test_float_tiff_of_24_megapixels_is_refused_without_decoding(
    tg: FakeTelegram, bot: App
) -> None:
    """Issue 8: a 145 KB, 24-megapixel float TIFF cost ~480 MB. Refused by its decoded size."""
    out = io.BytesIO()
    Image.fromarray(np.zeros((4000, 6000), np.float32)).save(
        out, "TIFF", compression="tiff_adobe_deflate"
    )
    inst = me(tg)
    await to_imei_step(inst)
    after = inst.last().message_id
    await tg.send_document(
        inst.user, inst.chat, out.getvalue(), file_name="label.tif", mime_type="image/tiff"
    )
    reply = await tg.wait_for_message(inst.chat, after=after)
    assert "too large" in (reply.text or "")
