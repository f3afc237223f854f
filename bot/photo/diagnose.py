"""Why a barcode stayed unread, and where the label is (for reading printed digits).

`diagnose` looks at the biggest barcode-like area that no pass could decode (the IMEI-sized
candidate) and names the advice that fits:

* TOO_SMALL: the area is shorter than an IMEI Code 128 at `MIN_MODULE_PX` px per module (the
  limit below which zxing rarely reads it): come closer. Only this area counts, not the small
  S/N or SIM codes next to it, nor fragments of a big code;
* GLARE: along part of the code even the bars are bright (washed out by a reflection);
* TOO_BLURRED: the bar edges are wider than about a module (defocus, a shaking hand);
* UNREADABLE: none of these (typically a steep angle, a finger or a crease): take it again
  straight on.

Thresholds were set on the tuning seed of `bench/photo_corpus.py`; see BENCHMARKS.md.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from bot.photo.barcodes import (
    IMEI_CODE128_MODULES,
    MIN_MODULE_PX,
    Region,
    deskewed,
    frame,
    line_extent,
    warp,
)
from bot.photo.image import Gray
from bot.photo.kinds import PhotoProblem

GLARE_WASHED = 0.55  # a stretch whose bars are this far up from black to white ...
GLARE_BRIGHT = 200.0  # ... and this bright (0-255) is washed out by a reflection
BLUR_EDGE_MODULES = 0.9  # an edge rise wider than this many modules: blurred
LABEL_LONG_SIDE = 1400  # the label crop for OCR is at most this long (px)


def diagnose(gray: Gray, region: Region) -> PhotoProblem:
    axes = frame(region)
    s0, s1 = line_extent(gray, region.cx, region.cy, axes[0], axes[1])
    half_b = max(3.0, region.height * 0.3)
    band = warp(gray, (region.cx, region.cy), axes, (s0, s1), (-half_b, half_b))
    rows = band.astype(np.float32)
    profile = rows.mean(axis=0)
    lo, hi = code_span(profile, round(-s0), region.length)
    code = rows[:, lo:hi]
    part = profile[lo:hi]
    # glare: somewhere along the code even the bars are bright (washed out)
    black, white = (float(v) for v in np.percentile(part, [3, 97]))
    darkest = np.array([float(np.percentile(p, 10)) for p in np.array_split(part, 8)])
    brightest = np.array([float(np.percentile(p, 90)) for p in np.array_split(part, 8)])
    washed = (darkest > black + GLARE_WASHED * (white - black)) & (brightest > GLARE_BRIGHT)
    if washed.any():
        return PhotoProblem.GLARE
    module = (hi - lo) / IMEI_CODE128_MODULES
    if module < MIN_MODULE_PX:
        return PhotoProblem.TOO_SMALL
    # edge width: contrast / steepest slope, on the sharpest of a few rows
    contrast = float(np.percentile(part, 97) - np.percentile(part, 3))
    middle = code[max(0, code.shape[0] // 2 - 2) : code.shape[0] // 2 + 3]
    slope = max(float(np.percentile(np.abs(np.diff(r)), 99)) for r in middle)
    edge_px = contrast / max(slope, 1e-3)
    if contrast < 40 or edge_px > BLUR_EDGE_MODULES * module:
        return PhotoProblem.TOO_BLURRED
    return PhotoProblem.UNREADABLE


def code_span(profile: npt.NDArray[np.float32], centre: int, length: float) -> tuple[int, int]:
    """Where the bars are along a scan line through the code: the stretch around `centre`
    with local contrast, so a code seen only in fragments (or blurred) is measured whole."""
    n = len(profile)
    window = 15
    mean = np.convolve(profile, np.ones(window) / window, mode="same")
    var = np.convolve((profile - mean) ** 2, np.ones(window) / window, mode="same")
    local = np.sqrt(var)
    centre = min(max(centre, 0), n - 1)
    near = local[max(0, centre - int(length / 2)) : centre + int(length / 2) + 1]
    threshold = 0.3 * float(near.max()) if near.size else 0.0
    active = local > threshold
    gap_max = max(window * 2, int(length / 4))  # bridges a washed-out (glare) stretch
    lo = hi = centre
    gap = 0
    while lo > 0 and gap <= gap_max:
        lo -= 1
        gap = 0 if active[lo] else gap + 1
    lo += gap
    gap = 0
    while hi < n - 1 and gap <= gap_max:
        hi += 1
        gap = 0 if active[hi] else gap + 1
    hi -= gap
    lo, hi = max(0, lo - window // 2), min(n, hi + window // 2)
    # never shorter than the region itself
    half = int(length / 2)
    return min(lo, max(0, centre - half)), max(hi, min(n, centre + half))


def label_region(gray: Gray, regions: list[Region]) -> Gray:
    """The area around the barcodes (where the printed digits are), upright, bounded in size.

    Without a barcode-like region (a label with printed text only) the label's extent is not
    known: the whole photo, turned upright by the longest text-like region."""
    codes = [r for r in regions if r.barcode_like]
    if not codes:
        upright, _ = deskewed(gray, max(regions, key=lambda r: r.length))
        h, w = upright.shape
        zoom = min(1.0, LABEL_LONG_SIDE / max(h, w))
        if zoom >= 1.0:
            return upright
        size = (max(1, round(w * zoom)), max(1, round(h * zoom)))
        return np.asarray(cv2.resize(upright, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    regions = codes
    main = max(regions, key=lambda r: r.length)
    ux, uy, bx, by = axes = frame(main)
    inv = np.linalg.inv(np.array([[ux, bx], [uy, by]]))
    points = []
    for r in regions:
        rc, rs = math.cos(r.axis), math.sin(r.axis)
        for da, dc in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            x = r.cx + da * r.length / 2 * rc - dc * r.height / 2 * rs
            y = r.cy + da * r.length / 2 * rs + dc * r.height / 2 * rc
            points.append((x - main.cx, y - main.cy))
    st = np.array(points) @ inv.T
    (s0, t0), (s1, t1) = st.min(axis=0), st.max(axis=0)
    pad_u = 0.25 * (s1 - s0) + main.height
    pad_b = (t1 - t0) + 2 * main.height
    s0, s1, t0, t1 = s0 - pad_u, s1 + pad_u, t0 - pad_b, t1 + pad_b
    zoom = min(1.0, LABEL_LONG_SIDE / max(s1 - s0, t1 - t0, 1.0))
    return warp(gray, (main.cx, main.cy), axes, (s0, s1), (t0, t1), zoom, zoom)
