"""Synthetic, labelled corpus of device-label photos for ``python -m bench photos``.

Each image is a rendered tracker label (white sticker with vendor/model text, an "IMEI" Code 128
of a Luhn-valid IMEI, often also S/N and ICCID Code 128 barcodes, sometimes a QR code carrying
``IMEI:...;SN:...``, and the printed digits) placed on a device body in a cluttered scene, then
put through a camera model (perspective, rotation, blur, noise, glare) and Telegram's photo
pipeline (long side resized to 1280 px, JPEG).

Tiers:
  easy      mild rotation (<= 8 deg, plus 90/180 turns), tilt <= 12 deg, large barcodes,
            close-ups (the code wider than half the frame) in 15 %
  medium    tilt 5-30 deg, rotation up to 35 deg, defocus sigma 0.3-1.2 px, motion blur 2-3 px
            in 15 %, a reflection somewhere on the label in 20 %, a finger in 10 %, close-ups
            in 20 %, JPEG q 70-88
  hard      tilt 10-40 deg, any rotation, defocus 0.5-1.5 px, motion blur 2-5 px in half,
            glare on the IMEI code in 40 %, fingers in 25 %, close-ups in 20 %, small codes
            (down to ~1.6 px per module before tilt: those below 2 are expected misses),
            JPEG q 40-65
  negative  labels that carry only S/N / ICCID codes (and sometimes a 15-digit serial that
            fails Luhn): a reader must not return any IMEI for these
  no_barcode  labels with printed text only (the IMEI digits too), shot like medium: the
            time a photo without any barcode costs

Barcodes are written with zxing-cpp's writer.  Output: ``DIR/<tier>/NNNN.jpg`` and
``DIR/truth.json`` ``{"easy/0001.jpg": {"imei": "356938035643809", "tier": "easy", ...}}``
(``imei`` is null for negatives).  Deterministic for a given ``--seed``.

    python -m bench.photo_corpus --out bench/out/photos --count 100 --seed 1
"""

from __future__ import annotations

import argparse
import dataclasses
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

from bot.domain.device_id import luhn_check_digit, luhn_valid

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


def _with_check_digit(body: str) -> str:
    return body + luhn_check_digit(body)


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
        if not luhn_valid(s) and s[0] != "0":
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


MODULE = 4  # label px per barcode module


@dataclass
class Label:
    image: Image.Image  # RGB
    imei_bar_width: int  # width of the main (IMEI or first) barcode in label pixels, no quiet zone
    main_rect: tuple[int, int, int, int]  # x, y, w, h of that barcode's bars (label pixels)

    @property
    def modules(self) -> int:
        return self.imei_bar_width // MODULE


def render_label(
    rng: random.Random,
    imei: str | None,
    serial: str,
    iccid: str | None,
    qr: str | None,
    barcodes: bool = True,
) -> Label:
    module = MODULE
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
    if not barcodes:  # printed text only: same layout, blank where the bars would be
        bars = [Image.new("L", b.size, 255) for b in bars]
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
    main_rect = (20 + 10 * module, y + 30, main_width, bar_h)
    for (caption, _content), bar in zip(blocks, bars, strict=True):
        draw.text((30, y), caption.split(":")[0], font=_font(26), fill=ink)
        label.paste(bar.convert("RGB"), (20, y + 30))
        draw.text((60, y + 32 + bar_h), caption.split(": ", 1)[1], font=_font(28), fill=ink)
        if caption.startswith("IMEI"):
            main_width = bar.width - 20 * module
            main_rect = (20 + 10 * module, y + 30, main_width, bar_h)
        y += bar_h + 95
    if qr_img is not None:
        label.paste(qr_img.convert("RGB"), (width - qr_img.width - 20, 140))
    draw.rectangle((4, 4, width - 5, height - 5), outline=(120, 120, 120), width=3)
    return Label(label, main_width, main_rect)


# --------------------------------------------------------------------------- scene + camera
@dataclass(frozen=True)
class TierSpec:
    rotation: float  # max |deg| of the in-plane rotation (plus 90/180 turns unless any_angle)
    any_angle: bool
    bar_px: tuple[float, float]  # IMEI code width in the final 1280 px image (normal shots)
    closeup: float  # probability of a close-up: the code wider than half the frame
    tilt: tuple[float, float]  # perspective tilt of the label plane, degrees
    blur: tuple[float, float]  # defocus: gaussian sigma, final px
    motion: float  # probability of motion blur
    motion_px: tuple[int, int]  # its length, final px
    noise: tuple[float, float]
    glare: float  # probability of a hot spot (a reflection) on the label
    glare_on_code: bool  # centred on the IMEI code (else anywhere on the label)
    glare_gain: tuple[float, float]  # its peak brightness added (0-255 scale)
    finger: float  # probability of a finger over part of the label
    jpeg: tuple[int, int]


SPECS = {
    "easy": TierSpec(
        8,
        False,
        (380, 620),
        0.15,
        (0, 12),
        (0.0, 0.6),
        0.0,
        (2, 2),
        (0, 3),
        0.0,
        False,
        (0, 0),
        0.0,
        (85, 93),
    ),
    "medium": TierSpec(
        35,
        False,
        (280, 560),
        0.2,
        (5, 30),
        (0.3, 1.2),
        0.15,
        (2, 3),
        (2, 6),
        0.2,
        False,
        (60, 160),
        0.1,
        (70, 88),
    ),
    "hard": TierSpec(
        180,
        True,
        (220, 480),
        0.2,
        (10, 40),
        (0.5, 1.5),
        0.5,
        (2, 5),
        (4, 9),
        0.4,
        True,
        (120, 260),
        0.25,
        (40, 65),
    ),
    "negative": TierSpec(
        30,
        False,
        (280, 560),
        0.15,
        (0, 30),
        (0.2, 1.2),
        0.15,
        (2, 4),
        (1, 5),
        0.15,
        True,
        (120, 260),
        0.1,
        (70, 90),
    ),
}
FOCAL = 1.3  # camera distance to the label, in frame long sides (a phone's ~50 deg view)


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


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues: rotation by `angle` (radians) about the unit vector `axis`."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation: np.ndarray = np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)
    return rotation


@dataclass
class Pose:
    hom: np.ndarray  # label px -> canvas px (supersampled)
    angle: float  # in-plane rotation, degrees
    tilt: float  # tilt of the label plane, degrees
    closeup: bool


def _pose(
    rng: random.Random, spec: TierSpec, label: Label, bar_px: float, cw: int, ch: int, closeup: bool
) -> Pose:
    """A camera looking at the tilted, rotated label; the IMEI code always fully in frame."""
    lh, lw = label.image.height, label.image.width
    if spec.any_angle:
        angle = rng.uniform(-180, 180)
    else:
        angle = rng.uniform(-spec.rotation, spec.rotation) + rng.choice((0, 0, 90, 180, -90))
    tilt = rng.uniform(*spec.tilt)
    direction = rng.uniform(0, 2 * math.pi)
    rot3 = _rotation(np.array([math.cos(direction), math.sin(direction), 0.0]), math.radians(tilt))
    a = math.radians(angle)
    spin = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rot3 = spin @ rot3
    mx, my, mw, mh = label.main_rect
    centre = np.array([mx + mw / 2, my + mh / 2])
    scale = bar_px * SUPERSAMPLE / label.imei_bar_width
    dist = FOCAL * max(cw, ch)

    def project(points: np.ndarray) -> np.ndarray:
        flat = np.c_[(points - centre) * scale, np.zeros(len(points))]
        xyz = flat @ rot3.T
        projected: np.ndarray = xyz[:, :2] * (dist / (dist + xyz[:, 2:3]))
        return projected

    corners = np.array([[0, 0], [lw, 0], [lw, lh], [0, lh]], dtype=np.float64)
    code = np.array([[mx, my], [mx + mw, my], [mx + mw, my + mh], [mx, my + mh]], np.float64)
    pts, code_pts = project(corners), project(code)
    # what must be inside the frame: the whole label, or for a close-up only the code
    must = code_pts if closeup else pts
    margin = 0.03 * max(cw, ch)
    span = must.max(axis=0) - must.min(axis=0)
    room = np.array([cw, ch]) - 2 * margin
    if (span > room).any():  # does not fit: move the camera back
        shrink = 0.98 * float(min(room[0] / span[0], room[1] / span[1]))
        pts, code_pts, must, span = pts * shrink, code_pts * shrink, must * shrink, span * shrink
    free = room - span
    jitter = np.array([rng.uniform(0, free[0]), rng.uniform(0, free[1])])
    offset = -must.min(axis=0) + margin + jitter
    dst = (pts + offset).astype(np.float32)
    hom = np.asarray(cv2.getPerspectiveTransform(corners.astype(np.float32), dst))
    return Pose(hom, angle, tilt, closeup)


def _code_geometry(label: Label, hom: np.ndarray, fw: int, fh: int) -> dict[str, Any]:
    """Where the IMEI code ended up: px per module, share of the frame, angle off upright."""
    mx, my, mw, mh = label.main_rect
    mid = np.array([[[mx, my + mh / 2]], [[mx + mw, my + mh / 2]]], np.float32)
    (x0, y0), (x1, y1) = cv2.perspectiveTransform(mid, hom).reshape(-1, 2) / SUPERSAMPLE
    length = math.hypot(x1 - x0, y1 - y0)
    direction = math.degrees(math.atan2(y1 - y0, x1 - x0))
    off = abs((direction + 45) % 90 - 45)  # 0..45 from the nearest axis
    along_frame = fw if abs(x1 - x0) >= abs(y1 - y0) else fh
    return {
        "px_per_module": round(length / label.modules, 2),
        "code_frac": round(length / along_frame, 3),
        "off_axis": round(off, 1),
        "bar_px": round(length),
    }


def _finger(rng: random.Random, img: np.ndarray, hom: np.ndarray, lw: int, lh: int) -> None:
    """A blurred, skin-coloured finger from the frame edge onto the label's border."""
    ch, cw = img.shape[:2]
    side = rng.randrange(4)
    t = rng.uniform(0.15, 0.85)
    edge = [(t * lw, 0), (lw, t * lh), (t * lw, lh), (0, t * lh)][side]
    inward = [(0, 1), (-1, 0), (0, -1), (1, 0)][side]
    depth = rng.uniform(0.02, 0.15) * min(lw, lh)
    tip_l = np.array([[[edge[0] + inward[0] * depth, edge[1] + inward[1] * depth]]], np.float32)
    tip = cv2.perspectiveTransform(tip_l, hom).reshape(2)
    out_l = np.array([[[edge[0] - inward[0] * lw, edge[1] - inward[1] * lh]]], np.float32)
    base = cv2.perspectiveTransform(out_l, hom).reshape(2)
    width = rng.uniform(0.05, 0.09) * max(cw, ch)
    mask: np.ndarray = np.zeros((ch, cw), np.float32)
    p0 = (round(float(tip[0])), round(float(tip[1])))
    p1 = (round(float(base[0])), round(float(base[1])))
    cv2.line(mask, p0, p1, 1.0, round(width), lineType=cv2.LINE_AA)
    cv2.circle(mask, p0, round(width / 2), 1.0, -1, lineType=cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), width * 0.08)[..., None]
    bgr = (rng.randint(90, 150), rng.randint(120, 170), rng.randint(170, 230))
    skin = np.array(bgr, np.float32)
    img *= 1 - mask
    img += mask * skin


def render_scene(
    rng: random.Random, label: Label, tier: str | TierSpec
) -> tuple[bytes, dict[str, Any]]:
    spec = SPECS[tier] if isinstance(tier, str) else tier
    portrait = rng.random() < 0.5
    fw, fh = (960, 1280) if portrait else (1280, rng.choice((960, 720)))
    cw, ch = fw * SUPERSAMPLE, fh * SUPERSAMPLE
    img = _background(rng, cw, ch)

    lab = np.asarray(label.image, dtype=np.float32)
    lh, lw = lab.shape[:2]
    closeup = rng.random() < spec.closeup
    bar_px = rng.uniform(0.55, 0.9) * max(fw, fh) if closeup else rng.uniform(*spec.bar_px)
    pose = _pose(rng, spec, label, bar_px, cw, ch, closeup)
    hom = pose.hom

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
    body = cv2.perspectiveTransform(body_src, hom)
    body = np.clip(body, -4 * max(cw, ch), 5 * max(cw, ch)).astype(np.int32)
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
        mx, my, mw, mh = label.main_rect
        if spec.glare_on_code:  # along the IMEI code
            ends = np.array([[[mx - mw * 0.2, my + mh / 2]], [[mx + mw * 1.2, my + mh / 2]]])
        else:  # along the label's diagonal
            ends = np.array([[[0, 0]], [[lw, lh]]])
        ends = ends.astype(np.float32)
        p0, p1 = cv2.perspectiveTransform(ends, hom).reshape(-1, 2)
        t = rng.random()
        cx, cy = p0 * (1 - t) + p1 * t
        r = rng.uniform(0.03, 0.09) * max(cw, ch)
        glare = np.exp(-(((xx - cx) ** 2 + ((yy - cy) * rng.uniform(0.5, 2)) ** 2) / (2 * r * r)))
        img = img + glare[..., None] * rng.uniform(*spec.glare_gain)
    del xx, yy
    fingered = rng.random() < spec.finger
    if fingered:
        _finger(rng, img, hom, lw, lh)

    img = np.clip(img, 0, 255).astype(np.uint8)
    img = cv2.resize(img, (fw, fh), interpolation=cv2.INTER_AREA)  # Telegram: 1280 long side
    sigma = rng.uniform(*spec.blur)
    if sigma > 0.05:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    motion = 0
    if rng.random() < spec.motion:
        motion = rng.randint(*spec.motion_px)
        n = motion + 2 - motion % 2  # odd kernel, the streak centred
        kernel = np.zeros((n + 2, n + 2), np.float32)
        c = (n + 1) / 2
        cv2.line(kernel, (round(c - motion / 2), round(c)), (round(c + motion / 2), round(c)), 1.0)
        rot = cv2.getRotationMatrix2D((c, c), rng.uniform(0, 180), 1.0)
        kernel = np.asarray(cv2.warpAffine(kernel, rot, kernel.shape[::-1]), dtype=np.float32)
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
        **_code_geometry(label, hom, fw, fh),
        "rotation": round(pose.angle, 1),
        "tilt": round(pose.tilt, 1),
        "closeup": closeup,
        "glare": glared,
        "finger": fingered,
        "blur": round(sigma, 2),
        "motion": motion,
        "jpeg": quality,
    }
    return out.getvalue(), meta


# --------------------------------------------------------------------------- corpus
def make_sample(rng: random.Random, tier: str) -> tuple[bytes, dict[str, Any]]:
    serial = make_serial(rng)
    imei: str | None
    if tier == "no_barcode":  # a label with printed text only (IMEI digits included)
        imei = make_imei(rng)
        label = render_label(rng, imei, serial, None, None, barcodes=False)
        data, meta = render_scene(rng, label, "medium")
        return data, {"imei": None, "printed_imei": imei, "tier": tier, "serial": serial, **meta}
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


def label_photo(
    seed: int, imei: str, tier: str = "medium", **conditions: Any
) -> tuple[bytes, dict[str, Any]]:
    """One photo of a label with `imei` (plus S/N and ICCID codes) under chosen conditions,
    e.g. ``closeup=1.0``, ``tilt=(35, 35)``, ``blur=(1.2, 1.2)``, ``glare=0.0`` (fields of
    `TierSpec`, over the tier's): for tests. Returns the JPEG and its truth fields."""
    rng = random.Random(f"label-photo:{seed}")
    spec = dataclasses.replace(SPECS[tier], **conditions)
    label = render_label(rng, imei, make_serial(rng), make_iccid(rng), None)
    return render_scene(rng, label, spec)


def generate(out: Path, count: int, seed: int, negatives: int | None = None) -> dict[str, Any]:
    """Write ``count`` images per tier, ``negatives`` (default count // 2) labels without an
    IMEI code, ``count // 4`` labels without any barcode, and truth.json."""
    negatives = max(1, count // 2) if negatives is None else negatives
    truth: dict[str, Any] = {}
    plan = [(tier, count) for tier in TIERS] + [
        ("negative", negatives),
        ("no_barcode", max(1, count // 4)),
    ]
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
