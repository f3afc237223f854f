"""Why a barcode stayed unread, and where the label is (for reading printed digits).

`diagnose` looks at the biggest barcode-like area that no pass could decode (the IMEI-sized
candidate) and names the advice that fits:

* TOO_SMALL: the area is shorter than an IMEI Code 128 at `MIN_MODULE_PX` px per module (the
  limit below which zxing rarely reads it): come closer. Only this area counts, not the small
  S/N or SIM codes next to it, nor fragments of a big code;
* GLARE: part of the code is washed out: bright and flat where the rest of it has contrast, or
  a good share of it saturated;
* TOO_BLURRED: the bar edges are wider than about a module (defocus, a shaking hand);
* UNREADABLE: none of these (typically a steep angle, a finger or a crease): take it again
  straight on.

Thresholds were set on the tuning seed of `bench/photo_corpus.py`; see BENCHMARKS.md.
"""

from __future__ import annotations

import math

import numpy as np

from bot.photo.barcodes import IMEI_CODE128_MODULES, MIN_MODULE_PX, Region, frame, warp
from bot.photo.image import Gray, PhotoProblem

GLARE_FLAT = 0.3  # a stretch with < 30 % of the code's contrast ...
GLARE_BRIGHT = 200.0  # ... that is this bright (0-255) is washed out
GLARE_SATURATED = 0.12  # or this share of the code's pixels at >= 250
BLUR_EDGE_MODULES = 0.9  # an edge rise wider than this many modules: blurred
LABEL_LONG_SIDE = 1400  # the label crop for OCR is at most this long (px)


def diagnose(gray: Gray, region: Region) -> PhotoProblem:
    module = region.length / IMEI_CODE128_MODULES
    if module < MIN_MODULE_PX:
        return PhotoProblem.TOO_SMALL
    half_u, half_b = region.length / 2, max(3.0, region.height * 0.3)
    crop = warp(gray, (region.cx, region.cy), frame(region), (-half_u, half_u), (-half_b, half_b))
    rows = crop.astype(np.float32)
    profile = rows.mean(axis=0)
    lo, hi = (float(v) for v in np.percentile(profile, [3, 97]))
    contrast = hi - lo
    parts = np.array_split(profile, 8)
    spans = np.array([float(p.max() - p.min()) for p in parts])
    means = np.array([float(p.mean()) for p in parts])
    flat = (spans < GLARE_FLAT * spans.max()) & (means > GLARE_BRIGHT)
    if flat.any() or float((crop >= 250).mean()) > GLARE_SATURATED:
        return PhotoProblem.GLARE
    # edge width: contrast / steepest slope, on the sharpest of a few rows
    middle = rows[rows.shape[0] // 2 - 2 : rows.shape[0] // 2 + 3]
    slope = max(float(np.percentile(np.abs(np.diff(r)), 99)) for r in middle)
    edge_px = contrast / max(slope, 1e-3)
    if contrast < 40 or edge_px > BLUR_EDGE_MODULES * module:
        return PhotoProblem.TOO_BLURRED
    return PhotoProblem.UNREADABLE


def label_region(gray: Gray, regions: list[Region]) -> Gray:
    """The area around the barcodes (where the printed digits are), upright, bounded in size."""
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
    pad_u, pad_b = 0.15 * (s1 - s0), 0.6 * (t1 - t0) + main.height
    s0, s1, t0, t1 = s0 - pad_u, s1 + pad_u, t0 - pad_b, t1 + pad_b
    zoom = min(1.0, LABEL_LONG_SIDE / max(s1 - s0, t1 - t0, 1.0))
    return warp(gray, (main.cx, main.cy), axes, (s0, s1), (t0, t1), zoom, zoom)
