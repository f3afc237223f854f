"""Reading device IDs from a photo of a tracker label or box.

`read_device_ids(data, rule)` is synchronous, pure CPU and never raises for bad input; the
bot awaits `read_device_ids_async`, which runs it in a small dedicated thread pool.

Pipeline, barcodes only (stops as soon as an ID valid for the rule is found):
1. `image.load_gray`: size/format/pixel/animation checks, the decoded-size budget, 8-bit grey;
2. zxing-cpp on the whole photo with the formats labels use (Code 128/39, QR, DataMatrix), no
   inverted codes: most photos end here (~10 ms);
3. `barcodes.find_regions`: barcode-like areas with their bar angle and shear; each unread one
   is cut out as an upright strip as long as the photo (a big close-up code found only in
   fragments is still cut out whole), then in further rounds (`STRIP_ROUNDS`) upscaled 2x
   across the bars and deblurred, contrast-normalised against glare, or both;
4. the whole photo turned and unsheared so that the biggest unread code is upright, once.
Steps 3-4 stop after `REGION_BUDGET_S` of CPU, so a photo costs at most ~0.25 s.
OCR is not part of it: when no ID was found, `PhotoReading.label_crop` holds the label area,
upright, for `ocr.read_printed_ids` (bounded, async; the bot does not wait for it).

Choosing: every decoded text is classified (`CodeKind`) and offered to the domain rules
(`check_device_id` for a whole 1-D barcode text, `find_id_candidates` for QR/free-text
payloads). ICCIDs (19-20 digits starting 89) and retail product codes (EAN/UPC: the same on
every unit) are never candidates. An ID seen in more barcodes ranks first (the IMEI Code 128
and the QR copy agree), then the order zxing found them in.

Problems: image problems from `load_gray`; otherwise, when no candidate was found and a
barcode-like area stayed unread, `diagnose.diagnose` of the biggest one (the IMEI-sized
candidate): TOO_SMALL (< ~2 px per module), GLARE, TOO_BLURRED or UNREADABLE; else
NO_MATCHING_ID if something was decoded (see `seen`: only a SIM or serial number), else
NO_BARCODE. Small S/N or SIM codes next to a readable IMEI never make a photo "too small".

Thread vs process: decoding is in C/C++ (libjpeg in Pillow, OpenCV, zxing-cpp), which all
release the GIL while they work, so two decoding threads use two cores (measured: see
`BENCHMARKS.md`), without the pickling, start-up and ~100 MB per-process cost of a process pool,
and without forking a process that runs an asyncio loop. `cv2.setNumThreads(1)` keeps OpenCV
from starting its own worker threads per call, so at most `MAX_CONCURRENT_DECODES` cores are
busy with photos and the event loop thread stays responsive.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2

from bot.domain.device_id import (
    IMEI_RULE,
    IdRule,
    check_device_id,
    find_id_candidates,
    is_imei,
)
from bot.photo.barcodes import (
    FAST_FORMATS,
    LINEAR_FORMATS,
    PRODUCT_FORMATS,
    STRIP_ROUNDS,
    Decoded,
    Region,
    decode,
    decode_region,
    deskewed,
    find_regions,
    map_back,
)
from bot.photo.diagnose import diagnose, label_region
from bot.photo.image import Gray, load_gray
from bot.photo.kinds import CodeKind, PhotoProblem, PhotoReading, SeenCode
from bot.photo.ocr import tesseract_path

__all__ = [
    "MAX_CONCURRENT_DECODES",
    "CodeKind",
    "PhotoProblem",
    "PhotoReading",
    "SeenCode",
    "classify_code",
    "read_device_ids",
    "read_device_ids_async",
    "shutdown_executor",
]

MAX_CONCURRENT_DECODES = 2  # decode threads for the whole bot
MAX_WAITING_PER_USER = 3  # one decoding + this many queued per installer
DESKEW_MIN = math.radians(4)  # the whole photo is turned for a code further off than this
REGION_BUDGET_S = 0.15  # CPU seconds after which no further region is decoded

cv2.setNumThreads(1)


_ICCID = re.compile(r"89\d{17,18}")
_HEX14 = re.compile(r"[0-9A-Fa-f]{14}")
_SERIAL = re.compile(r"(?:S/?N\s*[:#]?\s*)?[0-9A-Za-z][0-9A-Za-z/._-]{2,31}", re.IGNORECASE)
_ICCID_IN_TEXT = re.compile(r"(?<!\d)89\d{17,18}(?!\d)")


def _compact(text: str) -> str:
    return re.sub(r"[\s-]", "", text.strip())


def _is_iccid(value: str) -> bool:
    return bool(_ICCID.fullmatch(_compact(value)))


def classify_code(text: str, fmt: str) -> CodeKind:
    """What a decoded barcode value looks like (not which rule it satisfies)."""
    if fmt in PRODUCT_FORMATS:
        return CodeKind.OTHER
    compact = _compact(text)
    if compact.isascii() and compact.isdigit():
        if is_imei(compact):
            return CodeKind.IMEI
        if _ICCID.fullmatch(compact):
            return CodeKind.ICCID
        if len(compact) == 14 and compact.startswith("99"):
            return CodeKind.MEID
        return CodeKind.SERIAL
    if _HEX14.fullmatch(compact) and any(ch.isalpha() for ch in compact):
        return CodeKind.MEID
    if find_id_candidates(IMEI_RULE, text):  # "IMEI356938035643809", "IMEI:...;SN:..."
        return CodeKind.IMEI
    if _SERIAL.fullmatch(text.strip()) and any(ch.isdigit() for ch in text):
        return CodeKind.SERIAL
    return CodeKind.OTHER


@dataclass
class _Tally:
    seen: list[SeenCode] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    first: dict[str, int] = field(default_factory=dict)

    def add(self, rule: IdRule, found: list[Decoded]) -> None:
        for d in found:
            code = SeenCode(d.text, d.format, classify_code(d.text, d.format))
            if code in self.seen:
                continue
            self.seen.append(code)
            for value in _values_for(rule, code):
                self.hits[value] = self.hits.get(value, 0) + 1
                self.first.setdefault(value, len(self.first))

    def candidates(self) -> list[str]:
        return sorted(self.hits, key=lambda v: (-self.hits[v], self.first[v]))


def _values_for(rule: IdRule, code: SeenCode) -> list[str]:
    if code.kind is CodeKind.ICCID or code.format in PRODUCT_FORMATS:
        return []
    values: list[str] = []
    if code.format in LINEAR_FORMATS:  # a 1-D code usually holds exactly one identifier
        check = check_device_id(rule, code.text)
        if check.ok and check.value is not None:
            values.append(check.value)
    text = _ICCID_IN_TEXT.sub(" ", code.text)  # an ICCID in a payload is never the device ID
    for value in find_id_candidates(rule, text):
        if value not in values:
            values.append(value)
    return [v for v in values if not _is_iccid(v)]


def read_device_ids(data: bytes, rule: IdRule | None = None) -> PhotoReading:
    """Device IDs valid for `rule` (IMEI when None) read from a label photo. Never raises.

    Barcodes only: printed digits (OCR) are read separately, later and bounded
    (`ocr.read_printed_ids`, on `PhotoReading.label_crop`).
    """
    started = time.perf_counter()
    rule = rule if rule is not None else IMEI_RULE
    loaded = load_gray(data)
    if loaded.gray is None:
        return PhotoReading(
            [], [], loaded.problem or PhotoProblem.CORRUPT, False, _ms_since(started)
        )
    tally, problem, label = _read_gray(loaded.gray, rule)
    candidates = tally.candidates()
    return PhotoReading(
        candidates=candidates,
        seen=list(tally.seen),
        problem=None if candidates else problem,
        from_ocr=False,
        elapsed_ms=_ms_since(started),
        label_crop=None if candidates else label,
    )


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _off_axis(angle: float) -> float:
    """Radians from the nearest image axis (0 .. pi/4)."""
    return abs((angle + math.pi / 4) % (math.pi / 2) - math.pi / 4)


def _read_gray(gray: Gray, rule: IdRule) -> tuple[_Tally, PhotoProblem, Gray | None]:
    """The barcode path. Stops at the first pass that yields an ID valid for the rule."""
    cpu_start = time.thread_time()
    tally = _Tally()
    # 1. the whole photo, the formats labels use, no inverted codes: most photos end here
    read = decode(gray, formats=FAST_FORMATS, try_invert=False)
    tally.add(rule, read)
    if tally.hits:
        return tally, PhotoProblem.NO_BARCODE, None

    regions = [r for r in find_regions(gray) if r.decodable]  # biggest first

    def unread() -> list[Region]:
        return [r for r in regions if not any(d.contains(r.cx, r.cy) for d in read)]

    # 2. each unread region as a strip as long as the photo, bars upright (cheap); then, for
    #    those still unread, the same strips upscaled across the bars and deblurred, with
    #    local contrast normalised (glare), both (`STRIP_ROUNDS`)
    failed = unread()
    for round_ in range(len(STRIP_ROUNDS)):
        still: list[Region] = []
        for region in failed:
            if time.thread_time() - cpu_start > REGION_BUDGET_S:
                still.append(region)  # out of time: counts as unread
                continue
            found = decode_region(gray, region, round_)
            tally.add(rule, found)
            if tally.hits:
                return tally, PhotoProblem.NO_BARCODE, None
            if not found:
                still.append(region)
        failed = still
        if not failed:
            break

    # 3. the whole photo turned (and unsheared) so that the biggest unread code is upright:
    #    zxing reads 1-D codes only within ~10 degrees of an axis, and finds codes the
    #    region finder missed next to it
    if failed and time.thread_time() - cpu_start < REGION_BUDGET_S:
        main = failed[0]
        if _off_axis(main.axis) > DESKEW_MIN or abs(main.axis - main.normal) > DESKEW_MIN:
            image, back = deskewed(gray, main)
            found = map_back(
                decode(image, formats=FAST_FORMATS, try_invert=False, try_rotate=False), back
            )
            tally.add(rule, found)
            if tally.hits:
                return tally, PhotoProblem.NO_BARCODE, None
            failed = [r for r in failed if not any(d.contains(r.cx, r.cy) for d in found)]

    # the label area for OCR, cut out only when an OCR tool is there to read it
    label = label_region(gray, regions) if regions and tesseract_path() else None
    codes = [r for r in failed if r.barcode_like]  # (not text, not a lone edge)
    if codes:
        return tally, diagnose(gray, max(codes, key=lambda r: r.length)), label
    return tally, PhotoProblem.NO_MATCHING_ID if tally.seen else PhotoProblem.NO_BARCODE, label


# --------------------------------------------------------------------------- async wrapper
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=MAX_CONCURRENT_DECODES, thread_name_prefix="photo-decode"
            )
        return _executor


@dataclass
class _Turns:
    """One installer's photos decode one after another (a lock), at most `MAX_WAITING_PER_USER`
    waiting: so one person's burst of heavy files holds one decode slot, never all of them."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


_turns: dict[tuple[asyncio.AbstractEventLoop, Hashable], _Turns] = {}


async def read_device_ids_async(
    data: bytes, rule: IdRule | None = None, user: Hashable | None = None
) -> PhotoReading:
    """`read_device_ids` off the event loop: at most `MAX_CONCURRENT_DECODES` run at once, and
    at most one per `user` (their further photos wait their turn; beyond
    `MAX_WAITING_PER_USER` waiting, a photo is answered BUSY without being decoded).

    If the caller is cancelled, the decode in progress still finishes in its thread (bounded by
    the decoded-size budget and `REGION_BUDGET_S`), and the user's turn ends only then.
    """
    loop = asyncio.get_running_loop()
    if user is None:
        return await loop.run_in_executor(_get_executor(), read_device_ids, data, rule)
    key = (loop, user)
    turns = _turns.setdefault(key, _Turns())
    if turns.users > MAX_WAITING_PER_USER:
        return PhotoReading([], [], PhotoProblem.BUSY, False, 0.0)
    turns.users += 1

    def leave() -> None:
        turns.users -= 1
        if turns.users == 0 and _turns.get(key) is turns:
            del _turns[key]

    try:
        await turns.lock.acquire()
    except BaseException:
        leave()
        raise
    try:
        future = loop.run_in_executor(_get_executor(), read_device_ids, data, rule)
    except BaseException:
        turns.lock.release()
        leave()
        raise

    def done(_: object) -> None:
        turns.lock.release()
        leave()

    future.add_done_callback(done)
    return await asyncio.shield(future)


def shutdown_executor() -> None:
    """Stop the decode threads (application shutdown, tests). A later call makes a new pool."""
    global _executor
    with _executor_lock:
        pool, _executor = _executor, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
