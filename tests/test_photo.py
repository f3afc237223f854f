"""Reading device IDs from label photos (bot/photo): images are generated here, small and fast."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from bot.domain.device_id import parse_id_type
from bot.photo import (
    CodeKind,
    PhotoProblem,
    read_device_ids,
    read_device_ids_async,
    shutdown_executor,
)
from bot.photo.barcodes import decode
from bot.photo.image import MAX_FILE_BYTES
from bot.photo.ocr import read_printed_ids

IMEI = "356938035643809"
IMEI2 = "490154203237518"
ICCID = "89441000303030303030"
SERIAL_15 = "356938035643808"  # 15 digits, fails Luhn: a serial, never an IMEI
MEID = "A10000009296F2"

Z = zxingcpp.BarcodeFormat


def bars(content: str, module: int = 3, height: int = 80, fmt: Any = Z.Code128) -> Image.Image:
    code = zxingcpp.create_barcode(content, fmt)
    row = np.asarray(code.to_image(scale=1, add_quiet_zones=True))[0]
    return Image.fromarray(np.tile(np.repeat(row, module), (height, 1)), "L")


def qr(content: str, module: int = 4) -> Image.Image:
    code = zxingcpp.create_barcode(content, Z.QRCode)
    return Image.fromarray(np.asarray(code.to_image(scale=module, add_quiet_zones=True)), "L")


def label(*codes: Image.Image) -> Image.Image:
    width = max(c.width for c in codes) + 40
    height = sum(c.height + 40 for c in codes) + 60
    img = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(img)
    draw.text((20, 10), "ACME GPS T-100  12-24V", fill=20)
    y = 40
    for code in codes:
        img.paste(code, (20, y))
        y += code.height + 40
    return img


def photo(
    lab: Image.Image, angle: float = 0.0, size: tuple[int, int] = (1280, 960), scale: float = 1.0
) -> Image.Image:
    """The label on a dark device in a gray scene, rotated by `angle` degrees."""
    w, h = size
    scene = np.full((h, w), 110, np.uint8)
    src = np.asarray(lab)
    if scale != 1.0:
        src = cv2.resize(src, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    lh, lw = src.shape
    body = np.full((lh + 60, lw + 60), 35, np.uint8)
    body[30 : 30 + lh, 30 : 30 + lw] = src
    bh, bw = body.shape
    matrix = cv2.getRotationMatrix2D((bw / 2, bh / 2), angle, 1.0)
    matrix[:, 2] += [w / 2 - bw / 2, h / 2 - bh / 2]
    mask = cv2.warpAffine(np.full_like(body, 255), matrix, (w, h))
    warped = cv2.warpAffine(body, matrix, (w, h), flags=cv2.INTER_LINEAR)
    scene = np.where(mask > 127, warped, scene).astype(np.uint8)
    return Image.fromarray(cv2.GaussianBlur(scene, (0, 0), 0.6))


def jpeg(img: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


# --------------------------------------------------------------------------- choosing the ID
def test_imei_label_with_serial_and_iccid() -> None:
    data = jpeg(photo(label(bars("SN" + "20240117"), bars(IMEI), bars(ICCID))))
    reading = read_device_ids(data)
    assert reading.candidates == [IMEI]
    assert reading.problem is None and not reading.from_ocr
    kinds = {s.text: s.kind for s in reading.seen}
    assert kinds[IMEI] is CodeKind.IMEI
    assert kinds.get(ICCID, CodeKind.ICCID) is CodeKind.ICCID
    assert all(s.format == "Code128" for s in reading.seen)
    assert reading.elapsed_ms > 0


def test_iccid_and_luhn_failing_serial_are_not_imeis() -> None:
    data = jpeg(photo(label(bars(SERIAL_15), bars(ICCID))))
    reading = read_device_ids(data)
    assert reading.candidates == []
    assert reading.problem is PhotoProblem.NO_MATCHING_ID
    assert {(s.text, s.kind) for s in reading.seen} == {
        (SERIAL_15, CodeKind.SERIAL),
        (ICCID, CodeKind.ICCID),
    }
    # an ICCID is not a device ID even when the rule's length would fit it
    assert read_device_ids(data, parse_id_type("id,20")).candidates == []
    assert read_device_ids(data, parse_id_type("ascii,4,20")).candidates == [SERIAL_15]


def test_qr_payload_with_text() -> None:
    data = png(photo(label(qr(f"IMEI:{IMEI};SN:TK2024A0012345;ICCID:{ICCID}"))))
    reading = read_device_ids(data)
    assert reading.candidates == [IMEI]
    assert reading.seen[0].format == "QRCode" and reading.seen[0].kind is CodeKind.IMEI
    ascii_reading = read_device_ids(data, parse_id_type("ascii,6,20"))
    assert IMEI in ascii_reading.candidates and "TK2024A0012345" in ascii_reading.candidates
    assert ICCID not in ascii_reading.candidates


def test_two_imeis_agreeing_codes_rank_first() -> None:
    data = png(photo(label(bars(IMEI2), bars(IMEI), qr(f"IMEI:{IMEI}"))))
    reading = read_device_ids(data)
    assert reading.candidates == [IMEI, IMEI2]  # IMEI is in two codes


def test_meid_digits_and_ascii_rules() -> None:
    meid_photo = png(photo(label(bars(MEID))))
    assert read_device_ids(meid_photo, parse_id_type("meid")).candidates == [MEID]
    imei_reading = read_device_ids(meid_photo)
    assert imei_reading.candidates == []
    assert imei_reading.problem is PhotoProblem.NO_MATCHING_ID
    assert imei_reading.seen[0].kind is CodeKind.MEID

    digits_photo = png(photo(label(bars("0123456789"), bars(ICCID))))
    assert read_device_ids(digits_photo, parse_id_type("id,10")).candidates == ["0123456789"]
    assert read_device_ids(digits_photo, parse_id_type("id,12")).candidates == []

    ascii_photo = png(photo(label(bars("TK-2024-A17", fmt=Z.Code39), bars(ICCID))))
    reading = read_device_ids(ascii_photo, parse_id_type("ascii,4,16"))
    assert reading.candidates == ["TK-2024-A17"]


def test_ean_product_code_is_never_a_device_id() -> None:
    data = png(photo(label(bars("4006381333931", fmt=Z.EAN13))))
    reading = read_device_ids(data, parse_id_type("id,13"))
    assert reading.candidates == []
    assert reading.seen[0].kind is CodeKind.OTHER


# --------------------------------------------------------------------------- geometry
def test_rotated_label_read_after_deskew() -> None:
    img = photo(label(bars(IMEI), bars("SN20240117")), angle=30)
    data = jpeg(img)
    gray = np.asarray(img)
    assert IMEI not in [d.text for d in decode(gray)]  # zxing alone misses the 30 deg code
    reading = read_device_ids(data)
    assert reading.candidates == [IMEI]


def test_too_small_barcode_is_reported() -> None:
    # the IMEI Code 128 is ~150 px wide in a 1280 px photo: ~1.1 px per module
    img = photo(label(bars(IMEI, module=3)), angle=20, scale=0.37)
    reading = read_device_ids(jpeg(img, 80))
    assert reading.candidates == []
    assert reading.problem is PhotoProblem.TOO_SMALL


def test_no_barcode() -> None:
    img = Image.new("L", (640, 480), 200)
    ImageDraw.Draw(img).text((20, 20), "just a wall", fill=0)
    reading = read_device_ids(jpeg(img))
    assert (reading.candidates, reading.seen) == ([], [])
    assert reading.problem is PhotoProblem.NO_BARCODE


# --------------------------------------------------------------------------- strange input
def test_not_an_image_and_empty() -> None:
    assert read_device_ids(b"%PDF-1.7 hello").problem is PhotoProblem.NOT_AN_IMAGE
    assert read_device_ids(b"").problem is PhotoProblem.NOT_AN_IMAGE


def test_corrupt_jpeg() -> None:
    data = jpeg(photo(label(bars(IMEI))))
    reading = read_device_ids(data[: len(data) // 2])
    assert reading.problem is PhotoProblem.CORRUPT
    assert reading.candidates == []


def test_file_too_large() -> None:
    reading = read_device_ids(b"\xff\xd8\xff" + bytes(MAX_FILE_BYTES))
    assert reading.problem is PhotoProblem.TOO_LARGE_FILE


def _png_with_size(width: int, height: int) -> bytes:
    """A valid small PNG whose header claims width x height (a decompression bomb)."""
    raw = zlib.compress(b"\x00" * (1 + 1) * 1)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_huge_dimensions_are_refused_before_decoding() -> None:
    assert read_device_ids(_png_with_size(40_000, 40_000)).problem is PhotoProblem.TOO_MANY_PIXELS
    assert read_device_ids(_png_with_size(6_000, 5_000)).problem is PhotoProblem.TOO_MANY_PIXELS


def test_large_jpeg_is_downscaled_while_decoding() -> None:
    # 35 MP phone-style JPEG: decoded in draft mode at 1/4 scale, the big barcode still reads
    big = Image.new("L", (7000, 5000), 235)
    big.paste(bars(IMEI, module=14, height=500), (1500, 2000))
    reading = read_device_ids(jpeg(big, 80))
    assert reading.candidates == [IMEI]


def test_animated_gif_and_webp() -> None:
    frames = [photo(label(bars(IMEI)), size=(320, 240)).convert("P") for _ in range(2)]
    frames[1] = Image.new("P", (320, 240), 3)
    for fmt in ("GIF", "WEBP"):
        out = io.BytesIO()
        frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
        assert read_device_ids(out.getvalue()).problem is PhotoProblem.ANIMATED, fmt


# --------------------------------------------------------------------------- async + OCR
async def test_async_wrapper_runs_off_the_loop() -> None:
    data = jpeg(photo(label(bars(IMEI)), angle=25))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        readings = await asyncio.wait_for(
            asyncio.gather(*(read_device_ids_async(data) for _ in range(4))), timeout=20
        )
    finally:
        task.cancel()
    assert all(r.candidates == [IMEI] for r in readings)
    assert ticks > 4  # the loop kept running while photos were decoded
    shutdown_executor()


FAKE_TESSERACT = """#!/bin/sh
cat > /dev/null
printf 'level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\t'
printf 'left\\ttop\\twidth\\theight\\tconf\\ttext\\n'
printf '5\\t1\\t1\\t1\\t1\\t1\\t0\\t0\\t10\\t10\\t96.5\\tIMEI:\\n'
printf '5\\t1\\t1\\t1\\t1\\t2\\t0\\t0\\t10\\t10\\t91.0\\t%s\\n' "{imei}"
printf '5\\t1\\t1\\t1\\t2\\t1\\t0\\t0\\t10\\t10\\t40.0\\t{weak}\\n'
"""


def _fake_tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    exe = tmp_path / "tesseract"
    exe.write_text(FAKE_TESSERACT.format(imei=IMEI, weak=IMEI2))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    assert os.access(exe, os.X_OK)
    monkeypatch.setenv("PATH", str(tmp_path))
    return exe


async def test_ocr_only_when_installed_and_confident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crop = np.full((200, 400), 200, np.uint8)
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract here yet
    assert await read_printed_ids(crop, parse_id_type("imei")) == []
    _fake_tesseract(tmp_path, monkeypatch)
    # IMEI2 was read with low confidence: ignored
    assert await read_printed_ids(crop, parse_id_type("imei")) == [IMEI]


async def test_ocr_is_killed_at_its_time_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = _fake_tesseract(tmp_path, monkeypatch)
    pid_file = tmp_path / "pid"
    exe.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 30\n")
    started = time.monotonic()
    assert await read_printed_ids(np.zeros((50, 50), np.uint8), parse_id_type("imei"), 0.5) == []
    assert time.monotonic() - started < 5  # bounded: the 30 s process did not hold us
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # and it is gone, not left running


def test_barcode_reader_never_runs_ocr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OCR is not on the barcode path: a photo without an ID returns at once, with the label
    area cut out (upright) for a later, bounded OCR step."""
    exe = _fake_tesseract(tmp_path, monkeypatch)
    marker = tmp_path / "ran"
    exe.write_text(f"#!/bin/sh\ntouch {marker}\n")
    img = photo(label(bars(SERIAL_15), bars(ICCID)), angle=25)
    reading = read_device_ids(jpeg(img))
    assert reading.candidates == [] and not reading.from_ocr
    assert not marker.exists()
    assert reading.label_crop is not None
    assert max(reading.label_crop.shape) <= 1400  # the label area, not the whole photo
    # the crop holds the codes, upright: zxing reads them without any turning
    found = decode(reading.label_crop, try_rotate=False)
    assert {d.text for d in found} == {SERIAL_15, ICCID}


# --------------------------------------------------------------------------- the installer's text
def test_each_failure_reason_has_its_own_advice() -> None:
    from bot.i18n import gettext_for
    from bot.telegram import texts

    _ = gettext_for("en")
    reasons = [
        PhotoProblem.TOO_SMALL,
        PhotoProblem.TOO_BLURRED,
        PhotoProblem.GLARE,
        PhotoProblem.UNREADABLE,
        PhotoProblem.NO_BARCODE,
        PhotoProblem.NO_MATCHING_ID,
        PhotoProblem.BUSY,
    ]
    notes = {p: texts.photo_failure(_, p, []) for p in reasons}
    assert len(set(notes.values())) == len(notes)  # no two reasons share a message
    assert "Come closer" in notes[PhotoProblem.TOO_SMALL]
    assert "Hold the phone still" in notes[PhotoProblem.TOO_BLURRED]
    assert "reflection" in notes[PhotoProblem.GLARE]
    assert "straight over the label" in notes[PhotoProblem.UNREADABLE]
    assert "could not find a readable barcode" in notes[PhotoProblem.NO_BARCODE]
    # only a SIM / serial number: said so, with where the right code is
    sim = texts.photo_failure(_, PhotoProblem.NO_MATCHING_ID, [CodeKind.ICCID, CodeKind.SERIAL])
    assert "a SIM card number (ICCID) and a serial number, but not the ID" in sim
    assert "Tips:" in sim
    # a SIM code read and the IMEI-sized code blurred: both facts
    both = texts.photo_failure(_, PhotoProblem.TOO_BLURRED, [CodeKind.ICCID])
    assert "SIM card number" in both and "blurred" in both


def test_diagnosis_names_what_to_change() -> None:
    """The unread IMEI-sized code decides the advice; small S/N codes do not make it 'too small'."""
    imei_code = bars(IMEI, module=3, height=90)
    sharp = np.asarray(photo(label(imei_code, bars("SN1"))))
    # defocused far beyond a module: blurred, not too small
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3.5)
    reading = read_device_ids(jpeg(Image.fromarray(blurred)))
    assert reading.candidates == [] and reading.problem is PhotoProblem.TOO_BLURRED
    # a reflection washing out the left half of the code
    h, w = sharp.shape
    yy, xx = np.mgrid[0:h, 0:w]
    spot = np.exp(-(((xx - w * 0.42) ** 2 + (yy - h * 0.4) ** 2) / (2 * 90.0**2)))
    glared = np.clip(sharp + spot * 400, 0, 255).astype(np.uint8)
    reading = read_device_ids(jpeg(Image.fromarray(glared)))
    assert reading.candidates == [] and reading.problem is PhotoProblem.GLARE
