"""Loading untrusted image bytes safely into a bounded grayscale array.

Order of checks (cheapest first, nothing is decoded before its size is known):
1. byte size (`MAX_FILE_BYTES`, Telegram's bot download limit is 20 MB anyway);
2. `Image.open` parses only the header: unknown data -> NOT_AN_IMAGE;
3. declared dimensions against `MAX_JPEG_PIXELS` / `MAX_OTHER_PIXELS` -> TOO_MANY_PIXELS
   (Pillow's own `DecompressionBombError`, raised above 2 x `Image.MAX_IMAGE_PIXELS`, is mapped
   to the same code; the global `MAX_IMAGE_PIXELS` is not modified);
4. animation (GIF/WebP/APNG with more than one frame) -> ANIMATED;
5. decoding: JPEG is decoded in "draft" mode straight to grayscale at 1/2, 1/4 or 1/8 scale in
   the DCT domain, so a 48 MP phone photo never exists in memory at full size; other formats
   are decoded fully (hence their lower pixel limit) and converted to L. Any decoder error
   (truncated file, broken stream) -> CORRUPT;
6. the result is downscaled (INTER_AREA) to at most `WORK_LONG_SIDE` px on the long side.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_JPEG_PIXELS = 64_000_000  # decoded in draft mode at reduced scale: memory stays small
MAX_OTHER_PIXELS = 24_000_000  # PNG/WebP/...: decoded at full size, so a lower limit
WORK_LONG_SIDE = 2048  # Telegram photos are 1280 px; files get some extra resolution
Image.init()  # register every plugin now: `Image.open(formats=...)` needs them registered
ALLOWED_FORMATS = tuple(
    f for f in ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF") if f in Image.OPEN
)
ANIMATABLE = {"GIF", "WEBP", "PNG"}  # MPO (multi-picture JPEG from phones) is not animation

Gray = npt.NDArray[np.uint8]


class PhotoProblem(StrEnum):
    NOT_AN_IMAGE = "not_an_image"
    CORRUPT = "corrupt"
    TOO_LARGE_FILE = "too_large_file"
    TOO_MANY_PIXELS = "too_many_pixels"
    ANIMATED = "animated"
    NO_BARCODE = "no_barcode"
    TOO_SMALL = "too_small"
    NO_MATCHING_ID = "no_matching_id"


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
        try:
            gray = _decode(img, width, height)
        except Image.DecompressionBombError:
            return Loaded(None, PhotoProblem.TOO_MANY_PIXELS, (width, height))
        except Exception:  # truncated/broken stream; Pillow raises OSError, ValueError, ...
            return Loaded(None, PhotoProblem.CORRUPT, (width, height))
    return Loaded(gray, None, (width, height))


def _decode(img: Image.Image, width: int, height: int) -> Gray:
    long_side = max(width, height)
    if img.format in ("JPEG", "MPO") and long_side > WORK_LONG_SIDE:
        scale = WORK_LONG_SIDE / long_side
        # draft picks the largest DCT reduction that keeps the image >= the requested size
        img.draft("L", (max(1, int(width * scale)), max(1, int(height * scale))))
    img.load()
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        span = float(arr.max() - arr.min()) or 1.0
        gray: Gray = ((arr - arr.min()) * (255.0 / span)).astype(np.uint8)
    else:
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            # transparent pixels over white, like a viewer shows them
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        gray = np.asarray(img.convert("L"), dtype=np.uint8)
    h, w = gray.shape[:2]
    if max(h, w) > WORK_LONG_SIDE:
        scale = WORK_LONG_SIDE / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        gray = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return np.ascontiguousarray(gray)
