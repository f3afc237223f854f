"""Heavy images within the limits (issue 8, item 5): each test injects the file that found it.

* a 145 KB, 24-megapixel float TIFF and a 56 KB 16-bit PNG cost ~480 MB each: now refused by
  the decoded-size budget before decoding, and a 16-bit PNG within it is scaled to 8 bits in
  strips (no float64 copy of the whole image);
* a noise PNG took 17 s (OCR twice on the whole frame): now the barcode path alone, bounded;
* two heavy images at once from one installer took both decode slots: now one at a time per
  installer, so someone else's photo is read meanwhile.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from bot.photo import PhotoProblem, read_device_ids, read_device_ids_async, shutdown_executor
from bot.photo.image import DECODE_BUDGET_BYTES, decoded_bytes

IMEI = "356938035643809"
ROOT = Path(__file__).resolve().parent.parent

# Decodes each file given on the command line in a fresh process and prints, per file, the
# problem and how far the peak RSS grew over the process's peak after a warm-up decode.
MEASURE = """
import json, resource, sys
from bot.photo import read_device_ids

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # MiB

read_device_ids(open(sys.argv[1], "rb").read())  # warm-up: imports, first-call set-up
base = peak()
out = []
for path in sys.argv[2:]:
    reading = read_device_ids(open(path, "rb").read())
    out.append([path, str(reading.problem), reading.candidates, peak() - base])
print(json.dumps(out))
"""


def _imei_bars(module: int, height: int) -> np.ndarray:
    code = zxingcpp.create_barcode(IMEI, zxingcpp.BarcodeFormat.Code128)
    row = np.asarray(code.to_image(scale=1, add_quiet_zones=True))[0]
    return np.tile(np.repeat(row, module), (height, 1))


def _save(img: Image.Image, path: Path, fmt: str, **options: object) -> Path:
    img.save(path, fmt, **options)
    return path


@pytest.fixture(scope="module")
def heavy_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("heavy")
    small = np.full((240, 320), 220, np.uint8)
    files = {"warmup": _save(Image.fromarray(small), d / "warm.png", "PNG")}
    # 24 MP float TIFF, deflate: a few hundred KB on disk, 96 MB as float32
    files["float_tiff"] = _save(
        Image.fromarray(np.zeros((4000, 6000), np.float32), "F"),
        d / "float.tif",
        "TIFF",
        compression="tiff_adobe_deflate",
    )
    # 24 MP 16-bit PNG: tens of KB on disk, 48 MB as I;16
    big16 = Image.new("I;16", (6000, 4000), 30000)
    files["png16_big"] = _save(big16, d / "big16.png", "PNG")
    # 12 MP 16-bit PNG with the IMEI code (within the budget): read, in 8 bits
    label = np.full((3000, 4000), 60000, np.uint16)
    bars = _imei_bars(module=8, height=400).astype(np.uint16) * 235  # 0 or 59925
    label[1300 : 1300 + bars.shape[0], 500 : 500 + bars.shape[1]] = bars
    files["png16_label"] = _save(Image.fromarray(label), d / "label16.png", "PNG")
    return files


def test_decoded_size_budget_counts_mode_times_pixels() -> None:
    assert decoded_bytes("F", 6000, 4000) > DECODE_BUDGET_BYTES  # 24 MP float
    assert decoded_bytes("I;16", 6000, 4000) > DECODE_BUDGET_BYTES  # 24 MP 16-bit
    assert decoded_bytes("I;16", 4000, 3000) <= DECODE_BUDGET_BYTES  # 12 MP 16-bit
    assert decoded_bytes("RGB", 4000, 3000) <= DECODE_BUDGET_BYTES  # a 12 MP colour PNG
    assert decoded_bytes("L", 1280, 960) < DECODE_BUDGET_BYTES // 20  # a Telegram photo


def test_heavy_files_are_refused_or_read_within_the_memory_budget(
    heavy_files: dict[str, Path],
) -> None:
    assert heavy_files["float_tiff"].stat().st_size < 1_000_000
    assert heavy_files["png16_big"].stat().st_size < 200_000
    order = ["warmup", "float_tiff", "png16_big", "png16_label"]
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, *(str(heavy_files[k]) for k in order)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    results = {
        Path(p).name: (problem, ids, growth) for p, problem, ids, growth in json.loads(proc.stdout)
    }
    problem, _, growth_tiff = results["float.tif"]
    assert problem == PhotoProblem.TOO_MANY_PIXELS
    problem, _, growth_png = results["big16.png"]
    assert problem == PhotoProblem.TOO_MANY_PIXELS
    problem, ids, growth_label = results["label16.png"]
    assert ids == [IMEI]
    # Refused files cost (almost) nothing; a 12 MP 16-bit file decodes in well under the
    # budget's 80 MB (it used to cost ~480 MB through float64 copies).
    assert growth_tiff < 20 and growth_png < 20
    assert growth_label < DECODE_BUDGET_BYTES / 2**20


def test_sixteen_bit_and_float_images_keep_their_contrast() -> None:
    """16-bit and float images are stretched to their own range, in strips."""
    bars = _imei_bars(module=4, height=120).astype(np.float32)
    canvas = np.full((400, bars.shape[1] + 200), 255.0, np.float32)
    canvas[140:260, 100:-100] = bars
    for arr, mode in ((canvas * 0.001 + 5.0, "F"), ((canvas * 40).astype(np.uint16), "I;16")):
        out = io.BytesIO()
        Image.fromarray(arr).save(out, "TIFF")
        assert read_device_ids(out.getvalue()).candidates == [IMEI], mode


def _noise_png(seed: int, size: tuple[int, int] = (2048, 1536)) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_noise_png_is_bounded() -> None:
    """The fault: 17 s for a noise PNG (OCR twice over the whole frame, every region). Now
    only the barcode path runs, bounded; OCR is a later step on a label area, and noise has
    none. (Speed targets are in the benchmark; this only guards against the fault.)"""
    data = _noise_png(1)
    started = time.thread_time()
    reading = read_device_ids(data)
    assert time.thread_time() - started < 3.0
    assert reading.candidates == [] and not reading.from_ocr
    assert reading.problem in (PhotoProblem.NO_BARCODE, PhotoProblem.UNREADABLE)


async def test_one_installers_heavy_files_never_take_every_decode_slot() -> None:
    """Two heavy images at once from one installer, then a label photo from another: the label
    is read while the first installer's files wait their turn (one at a time each)."""
    heavy = [_noise_png(2), _noise_png(3)]
    label = np.full((480, 640), 235, np.uint8)
    bars = _imei_bars(module=3, height=120)
    label[180:300, 40 : 40 + bars.shape[1]] = bars
    light = io.BytesIO()
    Image.fromarray(label).save(light, "PNG")
    finished: list[str] = []

    async def read(name: str, data: bytes, user: int) -> None:
        reading = await read_device_ids_async(data, None, user)
        finished.append(name)
        if name == "label":
            assert reading.candidates == [IMEI]

    try:
        first = [asyncio.create_task(read(f"heavy{i}", d, 1)) for i, d in enumerate(heavy)]
        await asyncio.sleep(0)  # both heavy files are queued before the label arrives
        other = asyncio.create_task(read("label", light.getvalue(), 2))
        await asyncio.wait_for(asyncio.gather(*first, other), timeout=30)
    finally:
        shutdown_executor()
    assert finished[0] == "label", finished


async def test_a_burst_of_photos_from_one_installer_is_capped() -> None:
    data = _noise_png(4, (640, 480))
    try:
        readings = await asyncio.wait_for(
            asyncio.gather(*(read_device_ids_async(data, None, 7) for _ in range(6))), timeout=30
        )
    finally:
        shutdown_executor()
    problems = [r.problem for r in readings]
    assert problems.count(PhotoProblem.BUSY) == 2  # one decoding + three waiting, the rest
    assert all(p is not PhotoProblem.BUSY for p in problems[:4])
