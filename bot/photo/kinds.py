"""The photo reader's result types, without the imaging stack (OpenCV, numpy, zxing-cpp).

Handlers and texts import these at start-up; `bot.photo.reader` (and with it the imaging
stack) is imported only when the first photo is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # The same alias as bot.photo.image.Gray, spelled here so this light module imports
    # nothing of the photo stack (and no cycle with bot.photo.image).
    import numpy as np
    import numpy.typing as npt

    Gray = npt.NDArray[np.uint8]


class PhotoProblem(StrEnum):
    NOT_AN_IMAGE = "not_an_image"
    CORRUPT = "corrupt"
    TOO_LARGE_FILE = "too_large_file"
    TOO_MANY_PIXELS = "too_many_pixels"
    ANIMATED = "animated"
    NO_BARCODE = "no_barcode"
    TOO_SMALL = "too_small"  # the IMEI-sized code is under ~2 px per module: come closer
    TOO_BLURRED = "too_blurred"  # bar edges wider than a module: hold still, let it focus
    GLARE = "glare"  # part of the code washed out by a reflection
    UNREADABLE = "unreadable"  # a code is there but none of the above: take it straight on
    NO_MATCHING_ID = "no_matching_id"  # codes read, none is an ID for the rule
    BUSY = "busy"  # this installer already has photos waiting: not decoded


class CodeKind(StrEnum):
    """What a decoded value looks like."""

    IMEI = "imei"  # 15 digits, Luhn-valid (or a payload that carries one)
    MEID = "meid"  # 14 hex characters
    ICCID = "iccid"  # SIM card number: 19-20 digits starting 89
    SERIAL = "serial"  # another short identifier (S/N, part number)
    OTHER = "other"  # product codes (EAN/UPC), URLs, free text


@dataclass(frozen=True)
class SeenCode:
    text: str
    format: str  # zxing-cpp format name: "Code128", "QRCode", "EAN13", ...
    kind: CodeKind


@dataclass(frozen=True)
class PhotoReading:
    candidates: list[str]  # device IDs valid for the rule, best first, deduplicated
    seen: list[SeenCode]
    problem: PhotoProblem | None
    from_ocr: bool
    elapsed_ms: float
    # the label area, upright (grey), for reading printed digits when no barcode gave an ID
    # (only when `tesseract` is installed)
    label_crop: Gray | None = field(default=None, compare=False, repr=False)
