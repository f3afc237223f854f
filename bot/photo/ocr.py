"""Optional OCR of the printed digits through the `tesseract` command-line tool.

Used only when it is installed (`shutil.which("tesseract")` at call time; it is not a
dependency), only after the barcodes gave no ID, and only on the label area the barcode pass
cut out (`PhotoReading.label_crop`: upright, at most ~1400 px), never on a whole photo. It is
bounded: one tesseract process at a time for the whole bot (`MAX_PROCESSES`), killed after
`TIMEOUT_S`. The bot does not wait for it before answering (see bot/telegram/photos.py): a
number found later comes as a follow-up suggestion. Only words recognised at or above
`MIN_CONFIDENCE` count; a low-confidence word breaks a digit run rather than joining its
neighbours. Results are suggestions the installer confirms against the label.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import re
import shutil

import cv2
import numpy as np

from bot.domain.device_id import IdRule, find_id_candidates
from bot.photo.image import Gray

log = logging.getLogger(__name__)

MIN_CONFIDENCE = 80.0  # tesseract word confidence, 0-100
TIMEOUT_S = 4.0  # per photo, waiting for the process slot included
MAX_PROCESSES = 1
_BREAK = " | "
_ICCID_IN_TEXT = re.compile(r"(?<!\d)89\d{17,18}(?!\d)")
_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def parse_tsv(tsv: str) -> list[str]:
    """Lines of confident words from `tesseract ... tsv` output."""
    lines: dict[tuple[str, str, str], list[str]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        try:
            conf = float(row.get("conf") or -1)
        except ValueError:
            conf = -1.0
        key = (row.get("block_num") or "", row.get("par_num") or "", row.get("line_num") or "")
        lines.setdefault(key, []).append(text if conf >= MIN_CONFIDENCE else _BREAK)
    return [" ".join(words) for words in lines.values()]


def _slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    for old in [k for k in _slots if k.is_closed()]:
        del _slots[old]
    return _slots.setdefault(loop, asyncio.Semaphore(MAX_PROCESSES))


async def _tesseract(exe: str, png: bytes) -> str | None:
    proc = await asyncio.create_subprocess_exec(
        exe,
        "stdin",
        "stdout",
        "--psm",
        "11",
        "tsv",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await proc.communicate(png)
    finally:
        if proc.returncode is None:  # cancelled (timeout): never leave it running
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    return out.decode("utf-8", "replace") if proc.returncode == 0 else None


async def read_printed_ids(crop: Gray, rule: IdRule, budget_s: float = TIMEOUT_S) -> list[str]:
    """IDs valid for `rule` in the printed text of an upright label crop; [] when tesseract is
    missing, fails or takes longer than `budget_s` seconds (then it is killed)."""
    exe = tesseract_path()
    if exe is None or crop.size == 0:
        return []
    found: list[str] = []
    try:
        async with asyncio.timeout(budget_s):
            # upright first; the label may be upside down (barcodes read either way)
            for image in (crop, np.ascontiguousarray(crop[::-1, ::-1])):
                ok, png = cv2.imencode(".png", image)
                if not ok:
                    return []
                async with _slot():
                    tsv = await _tesseract(exe, png.tobytes())
                for line in parse_tsv(tsv or ""):
                    line = _ICCID_IN_TEXT.sub(" ", line)  # a SIM number is never the ID
                    for value in find_id_candidates(rule, line):
                        if value not in found:
                            found.append(value)
                if found:
                    break
    except TimeoutError:
        log.info("OCR gave up after %.1f s", budget_s)
    except OSError as exc:
        log.info("OCR failed: %s", exc)
    return found
