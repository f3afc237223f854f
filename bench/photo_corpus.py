"""Synthetic, labelled corpus of device-label photos for ``python -m bench photos``.

Each image is a rendered tracker label (white sticker with vendor/model text, an "IMEI" Code 128
of a Luhn-valid IMEI, often also S/N and ICCID Code 128 barcodes, sometimes a QR code carrying
``IMEI:...;SN:...``, and the printed digits) placed on a device body in a cluttered scene, then
put through a camera model (perspective, rotation, blur, noise, glare) and Telegram's photo
pipeline (long side resized to 1280 px, JPEG).

Tiers:
  easy      mild rotation (<= 8 deg, plus 90/180 turns), little perspective, large barcodes
  medium    perspective, rotation up to 35 deg, defocus blur, noise, JPEG q 70-88
  hard      strong perspective, any rotation, motion blur, glare, JPEG q 35-65, small barcodes
            (some IMEI barcodes end up below 2 px per module: those are expected misses)
  negative  labels that carry only S/N / ICCID codes (and sometimes a 15-digit serial that
            fails Luhn): a reader must not return any IMEI for these

Barcodes are written with zxing-cpp's writer.  Output: ``DIR/<tier>/NNNN.jpg`` and
``DIR/truth.json`` ``{"easy/0001.jpg": {"imei": "356938035643809", "tier": "easy", ...}}``
(``imei`` is null for negatives).  Deterministic for a given ``--seed``.

    python -m bench.photo_corpus --out bench/out/photos --count 100 --seed 1
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

TIERS = ("easy", "medium", "hard")
TELEGRAM_LONG_SIDE = 1280
SUPERSAMPLE = 2  # scenes are composed at 2x and downscaled, like a camera sensor + resize

VENDORS = (
    ("TELTONIKA", "FMB920"),
    ("TELTONIKA", "FMC130"),
    ("Queclink", "GV300W"),
    ("Concox", "GT06N"),
    ("Ruptela", "FM-Eco4 light+"),
    ("Jimi IoT", "JM-VL03"),
    ("Meitrack", "T366G"),
    ("Suntech", "ST4340"),
    ("Galileosky", "7.0 Lite"),
    ("Navtelecom", "SMART S-2435"),
)
TACS = ("35693803", "86123405", "35209900", "35345678", "86459504", "01234500", "35882307")


# --------------------------------------------------------------------------- identifiers
def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _with_check_digit(body: str) -> str:
    for d in "0123456789":
        if _luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


def make_imei(rng: random.Random) -> str:
    tac = rng.choice(TACS)
    return _with_check_digit(tac + "".join(rng.choice("0123456789") for _ in range(6)))


def make_iccid(rng: random.Random) -> str:
    body = "89" + rng.choice(("44", "7", "49", "31", "1", "86")) + rng.choice(("10", "01", "02"))
    length = rng.choice((19, 20))
    while len(body) < length - 1:
        body += rng.choice("0123456789")
    return _with_check_digit(body) if length == 19 else body + rng.choice("0123456789")


def make_serial(rng: random.Random) -> str:
    style = rng.random()
    if style < 0.4:
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        head = "".join(rng.choice(letters) for _ in range(2))
        return head + "".join(rng.choice("0123456789") for _ in range(rng.randint(8, 11)))
    if style < 0.7:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(10, 12)))
    # 15-digit serial that fails Luhn: looks like an IMEI, must never be taken for one
    while True:
        s = "".join(rng.choice("0123456789") for _ in range(15))
        if not _luhn_ok(s) and s[0] != "0":
            return s


# --------------------------------------------------------------------------- label rendering
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _linear(content: str, module: int, height: int) -> Image.Image:
    bc = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.Code128)
    row = np.asarray(bc.to_image(scale=1, add_quiet_zones=False))[0]
    row = np.repeat(row, module)
    quiet = np.full(10 * module, 255, dtype=np.uint8)
    row = np.concatenate([quiet, row, quiet])
    return Image.fromarray(np.tile(row, (height, 1)), "L")


def _qr(content: str, module: int) -> Image.Image:
    bc = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.QRCode)
    img = np.asarray(bc.to_image(scale=module, add_quiet_zones=True))
    return Image.fromarray(np.ascontiguousarray(img), "L")


@dataclass
class Label:
    image: Image.Image  # RGB
    imei_bar_width: int  # width of the main (IMEI or first) barcode in label pixels, no quiet zone


def render_label(
    rng: random.Random, imei: str | None, serial: str, iccid: str | None, qr: str | None
) -> Label:
    module = 4
    bar_h = rng.randint(70, 110)
    blocks: list[tuple[str, str]] = []
    if imei is not None:
        content = ("IMEI" + imei) if rng.random() < 0.1 else imei
        blocks.append(("IMEI: " + imei, content))
    blocks.append(("S/N: " + serial, serial))
    if iccid is not None:
        blocks.append(("ICCID: " + iccid, iccid))
    if rng.random() < 0.3:
        rng.shuffle(blocks)

    vendor, model = rng.choice(VENDORS)
    big, small = _font(44), _font(30)
    bars = [_linear(content, module, bar_h) for _, content in blocks]
    qr_img = _qr(qr, 5) if qr else None
    width = max(b.width for b in bars) + 40 + ((qr_img.width + 20) if qr_img else 0)
    width = max(width, 700)
    height = 30 + 60 + 40 + sum(bar_h + 95 for _ in bars) + 30
    if qr_img is not None:
        height = max(height, 160 + qr_img.height)
    paper = tuple(rng.randint(236, 255) for _ in range(3))
    label = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(label)
    ink = (rng.randint(0, 40),) * 3
    draw.text((30, 25), vendor, font=big, fill=ink)
    draw.text((30 + int(draw.textlength(vendor + "  ", font=big)), 35), model, font=small, fill=ink)
    draw.text((30, 85), "GPS tracker  12-24V  Made in China  CE", font=_font(22), fill=ink)
    y = 130
    main_width = bars[0].width - 20 * module
    for (caption, _content), bar in zip(blocks, bars, strict=True):
        draw.text((30, y), caption.split(":")[0], font=_font(26), fill=ink)
        label.paste(bar.convert("RGB"), (20, y + 30))
        draw.text((60, y + 32 + bar_h), caption.split(": ", 1)[1], font=_font(28), fill=ink)
        if caption.startswith("IMEI"):
            main_width = bar.width - 20 * module
        y += bar_h + 95
    if qr_img is not None:
        label.paste(qr_img.convert("RGB"), (width - qr_img.width - 20, 140))
    draw.rectangle((4, 4, width - 5, height - 5), outline=(120, 120, 120), width=3)
    return Label(label, main_width)


# --------------------------------------------------------------------------- scene + camera
@dataclass(frozen=True)
class TierSpec:
    rotation: float  # max |deg| of the free rotation
    any_angle: bool
    bar_px: tuple[float, float]  # IMEI barcode width in the final 1280 px image
    perspective: tuple[float, float]  # corner jitter, fraction of label size
    blur: tuple[float, float]  # gaussian sigma (final px)
    motion: float  # probability of motion blur
    noise: tuple[float, float]
    glare: float  # probability
    jpeg: tuple[int, int]


SPECS = {
    "easy": TierSpec(8, False, (380, 620), (0.0, 0.03), (0.0, 0.5), 0.0, (0, 3), 0.0, (85, 93)),
    "medium": TierSpec(
        35, False, (300, 520), (0.03, 0.10), (0.4, 1.0), 0.1, (2, 6), 0.15, (70, 88)
    ),
    "hard": TierSpec(180, True, (230, 460), (0.06, 0.16), (0.3, 0.9), 0.15, (4, 9), 0.5, (35, 65)),
    "negative": TierSpec(
        30, False, (300, 520), (0.0, 0.08), (0.2, 0.9), 0.1, (1, 5), 0.1, (70, 90)
    ),
}


def _background(rng: random.Random, w: int, h: int) -> np.ndarray:
    nprng = np.random.default_rng(rng.randrange(2**32))
    base = np.array([rng.randint(40, 200) for _ in range(3)], dtype=np.float32)
    low = nprng.normal(0, 1, (max(2, h // 160), max(2, w // 160), 3)).astype(np.float32)
    low = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC) * rng.uniform(10, 35)
    img = base + low
    # clutter: wires, edges of other objects
    for _ in range(rng.randint(2, 7)):
        color = tuple(float(rng.randint(0, 255)) for _ in range(3))
        p1 = (rng.randint(0, w), rng.randint(0, h))
        p2 = (rng.randint(0, w), rng.randint(0, h))
        cv2.line(img, p1, p2, color, rng.randint(4, 30), lineType=cv2.LINE_AA)
    return img


def _homography(
    rng: random.Random, spec: TierSpec, lw: int, lh: int, scale: float, cw: int, ch: int
) -> tuple[np.ndarray, float]:
    if spec.any_angle:
        angle = rng.uniform(-180, 180)
    else:
        angle = rng.uniform(-spec.rotation, spec.rotation) + rng.choice((0, 0, 90, 180, -90))
    src = np.array([[0, 0], [lw, 0], [lw, lh], [0, lh]], dtype=np.float32)
    pts = (src - [lw / 2, lh / 2]) * scale
    jitter = rng.uniform(*spec.perspective)
    size = max(lw, lh) * scale
    pts = pts + np.array(
        [[rng.uniform(-1, 1) * jitter * size, rng.uniform(-1, 1) * jitter * size] for _ in range(4)]
    )
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    pts = pts @ rot.T
    span = pts.max(axis=0) - pts.min(axis=0)
    free = np.array([cw, ch]) - span
    shrink = 1.0
    if (free < 0).any():  # does not fit: shrink to fit with a margin
        shrink = 0.95 * min(cw / span[0], ch / span[1])
        pts = pts * shrink
        span = span * shrink
        free = np.array([cw, ch]) - span
    offset = -pts.min(axis=0) + np.array([rng.uniform(0, free[0]), rng.uniform(0, free[1])])
    dst = (pts + offset).astype(np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, dst)), shrink


def render_scene(rng: random.Random, label: Label, tier: str) -> tuple[bytes, dict[str, Any]]:
    spec = SPECS[tier]
    portrait = rng.random() < 0.5
    fw, fh = (960, 1280) if portrait else (1280, rng.choice((960, 720)))
    cw, ch = fw * SUPERSAMPLE, fh * SUPERSAMPLE
    img = _background(rng, cw, ch)

    lab = np.asarray(label.image, dtype=np.float32)
    lh, lw = lab.shape[:2]
    bar_px = rng.uniform(*spec.bar_px)
    target_bar = bar_px * SUPERSAMPLE
    scale = target_bar / label.imei_bar_width
    hom, shrink = _homography(rng, spec, lw, lh, scale, cw, ch)
    bar_px *= shrink

    # device body: a dark plastic box a bit larger than the label
    body_src = np.array(
        [
            [-0.15 * lw, -0.2 * lh],
            [1.15 * lw, -0.2 * lh],
            [1.15 * lw, 1.2 * lh],
            [-0.15 * lw, 1.2 * lh],
        ],
        dtype=np.float32,
    ).reshape(-1, 1, 2)
    body = cv2.perspectiveTransform(body_src, hom).astype(np.int32)
    shade = float(rng.randint(15, 70))
    cv2.fillPoly(img, [body], (shade, shade, shade + rng.randint(0, 10)), lineType=cv2.LINE_AA)

    warped = cv2.warpPerspective(lab, hom, (cw, ch), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(
        np.ones((lh, lw), np.float32), hom, (cw, ch), flags=cv2.INTER_LINEAR
    )[..., None]
    img = img * (1 - mask) + warped * mask

    # lighting: a smooth gradient across the frame, sometimes glare (a saturated hot spot)
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    gx, gy = rng.uniform(-0.35, 0.35), rng.uniform(-0.35, 0.35)
    light = 1 + gx * (xx / cw - 0.5) + gy * (yy / ch - 0.5)
    img = img * light[..., None] * rng.uniform(0.75, 1.1)
    glared = rng.random() < spec.glare
    if glared:
        corners = cv2.perspectiveTransform(
            np.array([[[0, 0]], [[lw, lh]]], np.float32), hom
        ).reshape(-1, 2)
        t = rng.random()
        cx, cy = corners[0] * (1 - t) + corners[1] * t
        r = rng.uniform(0.04, 0.12) * max(cw, ch)
        glare = np.exp(-(((xx - cx) ** 2 + ((yy - cy) * rng.uniform(0.5, 2)) ** 2) / (2 * r * r)))
        img = img + glare[..., None] * rng.uniform(120, 260)
    del xx, yy

    img = np.clip(img, 0, 255).astype(np.uint8)
    img = cv2.resize(img, (fw, fh), interpolation=cv2.INTER_AREA)  # Telegram: 1280 long side
    sigma = rng.uniform(*spec.blur)
    if sigma > 0.05:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    motion = rng.random() < spec.motion
    if motion:
        n = rng.randint(3, 6)
        kernel = np.zeros((n, n), np.float32)
        kernel[n // 2, :] = 1.0 / n
        rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kernel = np.asarray(cv2.warpAffine(kernel, rot, (n, n)), dtype=np.float32)
        kernel /= max(float(kernel.sum()), 1e-6)
        img = cv2.filter2D(img, -1, kernel)
    nprng = np.random.default_rng(rng.randrange(2**32))
    noise = nprng.normal(0, rng.uniform(*spec.noise), img.shape)
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)

    out = io.BytesIO()
    rgb = Image.fromarray(img[..., ::-1].copy(), "RGB")
    quality = rng.randint(*spec.jpeg)
    rgb.save(out, "JPEG", quality=quality)
    meta = {
        "bar_px": round(bar_px),
        "glare": glared,
        "blur": round(sigma, 2),
        "motion": motion,
        "jpeg": quality,
    }
    return out.getvalue(), meta


# --------------------------------------------------------------------------- corpus
def make_sample(rng: random.Random, tier: str) -> tuple[bytes, dict[str, Any]]:
    serial = make_serial(rng)
    if tier == "negative":
        imei = None
        iccid = make_iccid(rng) if rng.random() < 0.8 else None
        qr = f"SN:{serial};ICCID:{iccid}" if (iccid and rng.random() < 0.3) else None
    else:
        imei = make_imei(rng)
        iccid = make_iccid(rng) if rng.random() < 0.6 else None
        qr = f"IMEI:{imei};SN:{serial}" if rng.random() < 0.3 else None
    label = render_label(rng, imei, serial, iccid, qr)
    data, meta = render_scene(rng, label, tier)
    truth: dict[str, Any] = {"imei": imei, "tier": tier, "serial": serial, "iccid": iccid, **meta}
    if qr:
        truth["qr"] = qr
    return data, truth


def generate(out: Path, count: int, seed: int, negatives: int | None = None) -> dict[str, Any]:
    """Write ``count`` images per tier plus ``negatives`` (default count // 2) and truth.json."""
    negatives = max(1, count // 2) if negatives is None else negatives
    truth: dict[str, Any] = {}
    plan = [(tier, count) for tier in TIERS] + [("negative", negatives)]
    for tier, n in plan:
        (out / tier).mkdir(parents=True, exist_ok=True)
        for i in range(1, n + 1):
            rng = random.Random(f"{seed}:{tier}:{i}")
            data, info = make_sample(rng, tier)
            name = f"{tier}/{i:04d}.jpg"
            (out / name).write_bytes(data)
            truth[name] = info
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.photo_corpus", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--count", type=int, default=100, help="images per tier")
    parser.add_argument("--negatives", type=int, default=None, help="default: count // 2")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    truth = generate(args.out, args.count, args.seed, args.negatives)
    print(f"wrote {len(truth)} images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
