"""Optional OCR fallback through the `tesseract` command-line tool.

Used only when it is installed (`shutil.which("tesseract")` at call time; it is not a
dependency), only when no barcode gave an ID, and only words recognised at or above
`MIN_CONFIDENCE` count; a low-confidence word breaks a digit run rather than joining its
neighbours. Results are suggestions: `PhotoReading.from_ocr` tells the UI to ask the installer
to confirm the number against the label.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import subprocess

import cv2
import numpy as np

from bot.domain.device_id import IdRule, find_id_candidates
from bot.photo.image import Gray

MIN_CONFIDENCE = 80.0  # tesseract word confidence, 0-100
TIMEOUT_S = 8.0
_BREAK = " | "


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def ocr_lines(gray: Gray, exe: str) -> list[str]:
    """Lines of confident words (TSV output of `tesseract stdin stdout --psm 11 tsv`)."""
    ok, png = cv2.imencode(".png", gray)
    if not ok:
        return []
    try:
        proc = subprocess.run(
            [exe, "stdin", "stdout", "--psm", "11", "tsv"],
            input=png.tobytes(),
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if proc.returncode != 0:
        return []
    return parse_tsv(proc.stdout.decode("utf-8", "replace"))


def parse_tsv(tsv: str) -> list[str]:
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


def ocr_candidates(gray: Gray, rule: IdRule, angle: float | None) -> list[str]:
    """IDs read as text. `angle` (radians): the label's text direction, from barcode regions."""
    exe = tesseract_path()
    if exe is None:
        return []
    image = gray
    if angle is not None and abs(math.degrees(angle)) > 2:
        h, w = gray.shape
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), math.degrees(angle), 1.0)
        image = np.asarray(
            cv2.warpAffine(gray, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE), dtype=np.uint8
        )
    found: list[str] = []
    for attempt in (image, np.ascontiguousarray(image[::-1, ::-1])):  # upright, upside down
        for line in ocr_lines(attempt, exe):
            for value in find_id_candidates(rule, line):
                if value not in found:
                    found.append(value)
        if found:
            break
    return found
