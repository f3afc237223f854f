"""Barcode decoding with zxing-cpp, plus a deskew step for tilted 1-D barcodes.

zxing-cpp finds QR/DataMatrix codes at any angle, and 1-D codes (Code 128/39, EAN) only when
they lie within about +-10 degrees of horizontal or vertical. So when the plain pass misses,
`find_regions` locates barcode-like areas and their angle from the image gradients, and
`decode_regions` cuts each one out already rotated to horizontal (optionally upscaled) and
decodes the small crop. This replaces a blind rotation sweep (many full-image passes) with a
few cheap crop passes.

Region finding (on a copy scaled to <= 800 px):
* structure tensor of Sobel gradients over a 7x7 window: energy and coherence. A barcode is an
  area of strong gradients that all point the same way (coherence close to 1) and of many
  edges (Canny edge density): text has mixed directions, a single edge (label border, wire)
  has low edge density;
* connected components of that mask; per component a magnitude-weighted histogram of the
  gradient angle gives the bar normal (its peak, refined by a local mean), and
  `cv2.minAreaRect` of the pixels near that angle gives the barcode's long axis. The two differ
  under perspective shear (bars no longer perpendicular to the code's axis); scanning along the
  long axis crosses every bar even when the bars lean, so that angle is tried first.

OpenCV's own barcode detector is not used: it misreads Code 128 as EAN-8, and we only need
OpenCV's image operations to find regions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from bot.photo.image import Gray

_F = zxingcpp.BarcodeFormat
FORMATS = zxingcpp.BarcodeFormats(
    [
        _F.Code128,
        _F.Code39,
        _F.Code93,
        _F.EAN13,
        _F.EAN8,
        _F.UPCA,
        _F.UPCE,
        _F.QRCode,
        _F.DataMatrix,
        _F.PDF417,
        _F.Aztec,
    ]
)
LINEAR_FORMATS = frozenset({"Code128", "Code39", "Code93", "EAN13", "EAN8", "UPCA", "UPCE"})
PRODUCT_FORMATS = frozenset({"EAN13", "EAN8", "UPCA", "UPCE"})  # same on every unit of a model

ANALYSIS_LONG_SIDE = 800
MAX_REGIONS = 6
# An IMEI in Code 128 (code set C) is 134 modules wide without quiet zones. Below ~2 px per
# module zxing rarely decodes it: a region shorter than this (work-image px) is "too small".
IMEI_CODE128_MODULES = 134
MIN_MODULE_PX = 2.0
SMALL_REGION_PX = IMEI_CODE128_MODULES * MIN_MODULE_PX * 1.05

Float = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Decoded:
    text: str
    format: str  # zxing-cpp format name, e.g. "Code128", "QRCode"
    quad: tuple[tuple[float, float], ...] = ()  # corners in the decoded image, if known

    def contains(self, x: float, y: float) -> bool:
        if len(self.quad) != 4:
            return False
        contour = np.array(self.quad, dtype=np.float32).reshape(-1, 1, 2)
        return bool(cv2.pointPolygonTest(contour, (x, y), False) >= 0)


@dataclass(frozen=True)
class Region:
    cx: float  # centre, work-image px
    cy: float
    axis: float  # radians: scan direction along the barcode's long axis
    normal: float  # radians: gradient direction (perpendicular to the bars)
    length: float  # extent along `axis`, work-image px
    height: float  # extent across
    weight: int  # number of supporting pixels (analysis scale)
    fill: float  # supporting pixels / (length x height): ~0.9 for a barcode, low for text

    @property
    def barcode_like(self) -> bool:
        """Dense, longer than a few modules, and as long as a 1-D code is (not a lone edge)."""
        return (
            self.fill >= 0.6
            and self.length >= 60
            and 0.08 * self.length <= self.height <= 1.2 * self.length
        )

    @property
    def small(self) -> bool:
        """A barcode-like area too short for an IMEI Code 128 at >= 2 px per module."""
        return self.barcode_like and self.length < SMALL_REGION_PX


def decode(image: Gray, *, try_invert: bool = True) -> list[Decoded]:
    found = zxingcpp.read_barcodes(image, formats=FORMATS, try_invert=try_invert)
    out = []
    for b in found:
        if not (b.valid and b.text):
            continue
        p = b.position
        corners = (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
        out.append(Decoded(b.text, b.format.name, tuple((float(q.x), float(q.y)) for q in corners)))
    return out


def _f32(array: object) -> Float:
    return np.asarray(array, dtype=np.float32)


def find_regions(gray: Gray) -> list[Region]:
    """Barcode-like areas, biggest first (at most `MAX_REGIONS`)."""
    h, w = gray.shape
    scale = min(1.0, ANALYSIS_LONG_SIDE / max(h, w))
    small = gray
    if scale < 1.0:
        small = np.asarray(
            cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA),
            dtype=np.uint8,
        )
        scale = small.shape[1] / w
    f = small.astype(np.float32)
    gx = _f32(cv2.Sobel(f, cv2.CV_32F, 1, 0, ksize=3))
    gy = _f32(cv2.Sobel(f, cv2.CV_32F, 0, 1, ksize=3))
    win = (7, 7)
    jxx = _f32(cv2.boxFilter(gx * gx, -1, win))
    jyy = _f32(cv2.boxFilter(gy * gy, -1, win))
    jxy = _f32(cv2.boxFilter(gx * gy, -1, win))
    energy = jxx + jyy
    diff = jxx - jyy
    coherence = np.sqrt(diff * diff + 4 * jxy * jxy) / (energy + 1e-3)
    magnitude = np.sqrt(energy)
    threshold = max(30.0, float(np.percentile(magnitude, 85)) * 0.6)
    edges = cv2.Canny(small, 40, 120)
    density = _f32(cv2.boxFilter((edges > 0).astype(np.float32), -1, (11, 11)))
    strong = (coherence > 0.55) & (magnitude > threshold) & (density > 0.18)
    mask = strong.astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    )
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    order = sorted(range(1, count), key=lambda i: -int(stats[i, cv2.CC_STAT_AREA]))
    regions: list[Region] = []
    for i in order:
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < 120:  # sorted by area: the rest are smaller still
            break
        if max(bw, bh) < 25:
            continue
        region = _measure(
            labels[y : y + bh, x : x + bw] == i,
            x,
            y,
            jxx[y : y + bh, x : x + bw],
            jyy[y : y + bh, x : x + bw],
            jxy[y : y + bh, x : x + bw],
            magnitude[y : y + bh, x : x + bw] * coherence[y : y + bh, x : x + bw],
            scale,
        )
        if region is not None:
            regions.append(region)
            if len(regions) >= 3 * MAX_REGIONS:
                break
    merged = _merge_collinear(regions)
    merged.sort(key=lambda r: -r.length * r.height * r.fill)
    return merged[:MAX_REGIONS]


def _merge_collinear(regions: list[Region]) -> list[Region]:
    """Join pieces of one barcode: wide bars/spaces can split its mask along the scan line."""
    regions = list(regions)
    changed = True
    while changed:
        changed = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                joined = _join(regions[i], regions[j])
                if joined is not None:
                    regions[i] = joined
                    del regions[j]
                    changed = True
                    break
            if changed:
                break
    return regions


def _join(a: Region, b: Region) -> Region | None:
    turn = (a.axis - b.axis + math.pi / 2) % math.pi - math.pi / 2
    if abs(turn) > math.radians(5):
        return None
    c, s = math.cos(a.axis), math.sin(a.axis)
    dx, dy = b.cx - a.cx, b.cy - a.cy
    along, across = dx * c + dy * s, -dx * s + dy * c
    tall = max(a.height, b.height)
    gap = abs(along) - (a.length + b.length) / 2
    if abs(across) > 0.35 * tall or gap > 0.6 * tall:
        return None
    lo = min(-a.length / 2, along - b.length / 2)
    hi = max(a.length / 2, along + b.length / 2)
    mid = (lo + hi) / 2
    total = a.weight + b.weight
    return Region(
        cx=a.cx + mid * c,
        cy=a.cy + mid * s,
        axis=a.axis,
        normal=a.normal,
        length=hi - lo,
        height=tall,
        weight=total,
        fill=(a.fill * a.weight + b.fill * b.weight) / max(total, 1),
    )


def _measure(
    inside: npt.NDArray[np.bool_],
    x0: int,
    y0: int,
    jxx: Float,
    jyy: Float,
    jxy: Float,
    weight: Float,
    scale: float,
) -> Region | None:
    ys, xs = np.nonzero(inside)
    orient = 0.5 * np.arctan2(2 * jxy[ys, xs], jxx[ys, xs] - jyy[ys, xs])
    wts = weight[ys, xs]
    hist, _ = np.histogram(orient, bins=90, range=(-math.pi / 2, math.pi / 2), weights=wts)
    hist = hist + np.roll(hist, 1) + np.roll(hist, -1)
    peak = (int(np.argmax(hist)) + 0.5) * math.pi / 90 - math.pi / 2
    delta = (orient - peak + math.pi / 2) % math.pi - math.pi / 2
    near = np.abs(delta) < math.radians(6)
    if int(near.sum()) < 50:
        return None
    normal = peak + float(np.average(delta[near], weights=wts[near] + 1e-6))
    pts = np.stack([xs[near] + x0, ys[near] + y0], axis=1).astype(np.float32)
    (_, _), (rw, rh), angle = cv2.minAreaRect(pts)
    long_axis = math.radians(angle if rw >= rh else angle + 90)
    shear = (long_axis - normal + math.pi / 2) % math.pi - math.pi / 2
    axis = normal
    if max(rw, rh) > 1.6 * min(rw, rh) and abs(shear) < math.radians(30):
        axis = normal + shear
    c, s = math.cos(axis), math.sin(axis)
    along = pts @ np.array([c, s], dtype=np.float32)
    across = pts @ np.array([-s, c], dtype=np.float32)
    a0, a1 = (float(v) for v in np.percentile(along, [1, 99]))
    c0, c1 = (float(v) for v in np.percentile(across, [1, 99]))
    ma, mc = (a0 + a1) / 2, (c0 + c1) / 2
    fill = float(near.sum()) / max(1.0, (a1 - a0) * (c1 - c0))
    if a1 - a0 < 30 * scale or fill < 0.25:  # a lone edge or a sparse merge of things
        return None
    return Region(
        cx=(ma * c - mc * s) / scale,
        cy=(ma * s + mc * c) / scale,
        axis=axis,
        normal=normal,
        length=(a1 - a0) / scale,
        height=(c1 - c0) / scale,
        weight=int(near.sum()),
        fill=fill,
    )


def crop_region(gray: Gray, region: Region, angle: float, zoom: float) -> Gray:
    """The region rotated so that `angle` becomes horizontal, with quiet-zone margins, zoomed."""
    c, s = math.cos(angle), math.sin(angle)
    length, height = region.length, region.height
    # when cutting along the bar normal of a sheared code, the code's extent grows
    skew = abs(math.sin(angle - region.axis))
    half_a = length / 2 * (1 + 0.3) + 16 + height * skew / 2
    half_c = height / 2 * 1.15 + 6 + length * skew / 2
    out_w = max(8, int(2 * half_a * zoom))
    out_h = max(8, int(2 * half_c * zoom))
    # output (u, v) -> source: centre + R(angle) @ ((u, v) / zoom - half)
    ox, oy = -half_a, -half_c
    matrix = np.array(
        [
            [c / zoom, -s / zoom, region.cx + ox * c - oy * s],
            [s / zoom, c / zoom, region.cy + ox * s + oy * c],
        ],
        dtype=np.float32,
    )
    out = cv2.warpAffine(
        gray,
        matrix,
        (out_w, out_h),
        flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(out, dtype=np.uint8)


def decode_region(gray: Gray, region: Region) -> list[Decoded]:
    """Decode one region: along its long axis first, then along the bar normal."""
    zoom = min(3.0, max(1.0, 480.0 / max(region.length, 1.0)))
    angles = [region.axis]
    if abs(region.axis - region.normal) > math.radians(2.5):
        angles.append(region.normal)
    for angle in angles:
        found = decode(crop_region(gray, region, angle, zoom), try_invert=False)
        if found:  # positions refer to the crop: drop them
            return [Decoded(d.text, d.format) for d in found]
    return []
