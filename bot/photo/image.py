"""Loading untrusted image bytes safely into a bounded grayscale array.

Order of checks (cheapest first, nothing is decoded before its size is known):
1. byte size (`MAX_FILE_BYTES`, Telegram's bot download limit is 20 MB anyway);
2. `Image.open` parses only the header: unknown data -> NOT_AN_IMAGE;
3. declared dimensions against `MAX_JPEG_PIXELS` / `MAX_OTHER_PIXELS` -> TOO_MANY_PIXELS
   (Pillow's own `DecompressionBombError`, raised above 2 x `Image.MAX_IMAGE_PIXELS`, is mapped
   to the same code; the global `MAX_IMAGE_PIXELS` is not modified);
4. animation (GIF/WebP/APNG with more than one frame) -> ANIMATED;
5. the decoded-size budget: what decoding will allocate, pixels x bytes per pixel of the mode
   the decoder produces (after JPEG draft reduction) plus the 8-bit grey copy, must stay within
   `DECODE_BUDGET_BYTES`, else TOO_MANY_PIXELS. A file's byte size says nothing here: a
   145 KB float TIFF or a 56 KB 16-bit PNG can declare 24 megapixels (96 / 48 MB decoded);
6. decoding: JPEG is decoded in "draft" mode straight to grayscale at 1/2, 1/4 or 1/8 scale in
   the DCT domain, so a 48 MP phone photo never exists in memory at full size; other formats
   are decoded fully (hence the budget) and converted to 8-bit grey at once; 16-bit and float
   images are scaled to 8 bits in strips (`STRIP_ROWS`), never as one float64 copy. Any
   decoder error (truncated file, broken stream) -> CORRUPT;
7. the result is downscaled (INTER_AREA) to at most `WORK_LONG_SIDE` px on the long side.

So one decode holds at most about `DECODE_BUDGET_BYTES` (plus small strips), and at most
`MAX_CONCURRENT_DECODES` decodes run at once (reader.py).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from bot.photo.kinds import PhotoProblem

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_JPEG_PIXELS = 64_000_000  # decoded in draft mode at reduced scale: memory stays small
MAX_OTHER_PIXELS = 24_000_000  # PNG/WebP/...: decoded at full size, so a lower limit
WORK_LONG_SIDE = 2048  # Telegram photos are 1280 px; files get some extra resolution
DECODE_BUDGET_BYTES = 80 * 1024 * 1024  # decoded image + grey copies, per decode
STRIP_ROWS = 256
# bytes per pixel of what Pillow's decoder produces, per mode (unknown modes count as 4)
MODE_BYTES = {
    "1": 1,
    "L": 1,
    "P": 1,
    "LA": 2,
    "PA": 2,
    "La": 2,
    "I;16": 2,
    "I;16B": 2,
    "I;16L": 2,
    "I;16N": 2,
    "RGB": 3,
    "YCbCr": 3,
    "LAB": 3,
    "HSV": 3,
    "RGBA": 4,
    "RGBa": 4,
    "RGBX": 4,
    "CMYK": 4,
    "I": 4,
    "F": 4,
}
HIGH_DEPTH_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
ALPHA_MODES = frozenset({"LA", "PA", "La", "RGBA", "RGBa"})
GRAY_COPY_BYTES = 2  # the 8-bit grey image Pillow makes and numpy's copy of it
ALPHA_EXTRA_BYTES = 4  # transparency flattened on grey + alpha (see `_decode`)
Image.init()  # register every plugin now: `Image.open(formats=...)` needs them registered
ALLOWED_FORMATS = tuple(
    f for f in ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF") if f in Image.OPEN
)
ANIMATABLE = {"GIF", "WEBP", "PNG"}  # MPO (multi-picture JPEG from phones) is not animation

Gray = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Loaded:
    gray: Gray | None
    problem: PhotoProblem | None
    original_size: tuple[int, int] = (0, 0)


def load_gray(data: bytes) -> Loaded:
    """Bytes -> bounded grayscale image, or the reason why not. Never raises for bad input."""
    if len(data) > MAX_FILE_BYTES:
        return Loaded(None, PhotoProblem.TOO_LARGE_FILE)
    if not data:
        return Loaded(None, PhotoProblem.NOT_AN_IMAGE)
    try:
        img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError:
        return Loaded(None, PhotoProblem.TOO_MANY_PIXELS)
    except (UnidentifiedImageError, ValueError, TypeError):
        return Loaded(None, PhotoProblem.NOT_AN_IMAGE)
    except Exception:  # a known format whose header is broken (SyntaxError, struct.error, ...)
        return Loaded(None, PhotoProblem.CORRUPT)
    with img:
        width, height = img.size
        fmt = img.format or ""
        limit = MAX_JPEG_PIXELS if fmt in ("JPEG", "MPO") else MAX_OTHER_PIXELS
        if width <= 0 or height <= 0:
            return Loaded(None, PhotoProblem.CORRUPT)
        if width * height > limit:
            return Loaded(None, PhotoProblem.TOO_MANY_PIXELS, (width, height))
        if fmt in ANIMATABLE and getattr(img, "n_frames", 1) > 1:
            return Loaded(None, PhotoProblem.ANIMATED, (width, height))
        if fmt in ("JPEG", "MPO"):
            try:
                _draft(img, width, height)  # header only: sets the reduced size and mode
            except Exception:
                return Loaded(None, PhotoProblem.CORRUPT, (width, height))
        if decoded_bytes(img.mode, *img.size) > DECODE_BUDGET_BYTES:
            return Loaded(None, PhotoProblem.TOO_MANY_PIXELS, (width, height))
        try:
            gray = _decode(img)
        except Image.DecompressionBombError:
            return Loaded(None, PhotoProblem.TOO_MANY_PIXELS, (width, height))
        except Exception:  # truncated/broken stream; Pillow raises OSError, ValueError, ...
            return Loaded(None, PhotoProblem.CORRUPT, (width, height))
    return Loaded(gray, None, (width, height))


def decoded_bytes(mode: str, width: int, height: int) -> int:
    """Memory a decode of this size and mode takes: the decoded image plus its grey copies."""
    per_pixel = MODE_BYTES.get(mode, 4) + GRAY_COPY_BYTES
    if mode in ALPHA_MODES or mode == "P":  # a palette may carry transparency
        per_pixel += ALPHA_EXTRA_BYTES
    return width * height * per_pixel


def _draft(img: Image.Image, width: int, height: int) -> None:
    long_side = max(width, height)
    if long_side > WORK_LONG_SIDE:
        scale = WORK_LONG_SIDE / long_side
        # draft picks the largest DCT reduction that keeps the image >= the requested size
        img.draft("L", (max(1, int(width * scale)), max(1, int(height * scale))))
    else:
        img.draft("L", (width, height))  # straight to grey: no RGB buffer


def _high_depth_to_gray(img: Image.Image) -> Gray:
    """16-bit / 32-bit int / float image -> 8 bits, stretched to its own range, in strips."""
    extrema = img.getextrema()  # one band: (low, high)
    low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("non-finite pixel values")
    span = high - low or 1.0
    width, height = img.size
    gray: Gray = np.empty((height, width), dtype=np.uint8)
    for top in range(0, height, STRIP_ROWS):
        bottom = min(height, top + STRIP_ROWS)
        strip = np.array(img.crop((0, top, width, bottom)), dtype=np.float32)
        strip -= low
        strip *= 255.0 / span
        np.clip(strip, 0, 255, out=strip)
        gray[top:bottom] = strip.astype(np.uint8)
    return gray


def _decode(img: Image.Image) -> Gray:
    img.load()
    if img.mode in HIGH_DEPTH_MODES:
        gray = _high_depth_to_gray(img)
    else:
        transparent = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            img.mode == "P" and "transparency" in img.info
        )
        if transparent:
            # transparent pixels over white, like a viewer shows them; done on grey + alpha
            # (2 bytes per pixel), not on RGBA composites
            la = np.asarray(img.convert("LA"), dtype=np.uint8)
            gray = np.empty(la.shape[:2], dtype=np.uint8)
            for top in range(0, la.shape[0], STRIP_ROWS):
                part = la[top : top + STRIP_ROWS].astype(np.uint32)
                luma, alpha = part[..., 0], part[..., 1]
                mixed = (luma * alpha + 255 * (255 - alpha) + 127) // 255
                gray[top : top + STRIP_ROWS] = mixed.astype(np.uint8)
            del la
        else:
            gray = np.asarray(img.convert("L") if img.mode != "L" else img, dtype=np.uint8)
    h, w = gray.shape[:2]
    if max(h, w) > WORK_LONG_SIDE:
        scale = WORK_LONG_SIDE / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        gray = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return np.ascontiguousarray(gray)
