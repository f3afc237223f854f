"""Barcode decoding with zxing-cpp, plus a deskew step for tilted 1-D barcodes.

zxing-cpp finds QR/DataMatrix codes at any angle, and 1-D codes (Code 128/39, EAN) only when
they lie within about +-10 degrees of horizontal or vertical. So when the plain pass misses,
`find_regions` locates barcode-like areas, their bar normal and long axis from the image
gradients, and `decode_region` cuts each one out as an upright strip (`strip`: the affine
`frame` maps the scan line to x and the bars to y, undoing rotation and perspective shear),
as long as the photo along the scan line so that the whole code is in it, then decodes the
small strip; further rounds upscale it across the bars and `deblur` it (blurred codes at
1.5-3 px per module), `normalize` its local contrast (glare) or both. `deskewed` turns the
whole photo the same way for one more zxing pass. This replaces a blind rotation sweep (many
full-image passes) with a few cheap strip passes.

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
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

from bot.photo.image import Gray

_F = zxingcpp.BarcodeFormat
# The first pass over the whole photo: what device labels carry, no inverted codes.
# (Code 128 for IMEIs, Code 39 on some vendors' labels, QR/DataMatrix for payloads.)
FAST_FORMATS = zxingcpp.BarcodeFormats([_F.Code128, _F.Code39, _F.QRCode, _F.DataMatrix])
# Crops of 1-D code regions: every linear format (a product code must be recognised as one)
STRIP_FORMATS = zxingcpp.BarcodeFormats(
    [_F.Code128, _F.Code39, _F.Code93, _F.EAN13, _F.EAN8, _F.UPCA, _F.UPCE]
)
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
    def decodable(self) -> bool:
        """Worth a strip: dense bars. A fragment of a big close-up code (wide bars split its
        mask) may be taller than long: the strip runs along its bar normal anyway."""
        return self.fill >= 0.5 and self.length >= 24 and self.height >= 8

    @property
    def small(self) -> bool:
        """A barcode-like area too short for an IMEI Code 128 at >= 2 px per module."""
        return self.barcode_like and self.length < SMALL_REGION_PX


def decode(
    image: Gray,
    *,
    formats: zxingcpp.BarcodeFormats = FORMATS,
    try_invert: bool = True,
    try_rotate: bool = True,
    try_downscale: bool = True,
) -> list[Decoded]:
    found = zxingcpp.read_barcodes(
        image,
        formats=formats,
        try_invert=try_invert,
        try_rotate=try_rotate,
        try_downscale=try_downscale,
    )
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


def frame(region: Region, angle: float | None = None) -> tuple[float, float, float, float]:
    """Unit vectors (ux, uy, bx, by): `u` along the scan line, `b` along the bars.

    Scanning along the code's long axis with `b` along the bars (not just perpendicular to
    `u`) undoes perspective shear as well as rotation: after the warp the bars are upright.
    """
    a = region.axis if angle is None else angle
    ux, uy = math.cos(a), math.sin(a)
    bx, by = -math.sin(region.normal), math.cos(region.normal)
    if ux * by - uy * bx < 0:  # keep the orientation (no mirror image)
        bx, by = -bx, -by
    if abs(ux * by - uy * bx) < 0.5:  # degenerate (bars almost along the scan line)
        bx, by = -uy, ux
    return ux, uy, bx, by


def warp(
    gray: Gray,
    centre: tuple[float, float],
    axes: tuple[float, float, float, float],
    span_u: tuple[float, float],
    span_b: tuple[float, float],
    zoom_u: float = 1.0,
    zoom_b: float = 1.0,
) -> Gray:
    """Cut out the parallelogram centre + s*u + t*b (s in span_u, t in span_b), upright."""
    ux, uy, bx, by = axes
    (s0, s1), (t0, t1) = span_u, span_b
    out_w = max(8, int((s1 - s0) * zoom_u))
    out_h = max(8, int((t1 - t0) * zoom_b))
    cx, cy = centre
    # output (X, Y) -> source: centre + u * (X / zoom_u + s0) + b * (Y / zoom_b + t0)
    matrix = np.array(
        [
            [ux / zoom_u, bx / zoom_b, cx + ux * s0 + bx * t0],
            [uy / zoom_u, by / zoom_b, cy + uy * s0 + by * t0],
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


def line_extent(gray: Gray, cx: float, cy: float, ux: float, uy: float) -> tuple[float, float]:
    """Where the line centre + s*u enters and leaves the image (s range)."""
    h, w = gray.shape
    lo, hi = -1e9, 1e9
    for pos, d, size in ((cx, ux, w), (cy, uy, h)):
        if abs(d) < 1e-9:
            continue
        a, b = (0 - pos) / d, (size - 1 - pos) / d
        lo, hi = max(lo, min(a, b)), min(hi, max(a, b))
    return (lo, hi) if lo < hi else (0.0, 0.0)


def strip(gray: Gray, region: Region, zoom: float = 1.0, angle: float | None = None) -> Gray:
    """A band across the whole photo along the region's scan line, bars upright.

    The band is as long as the photo allows, so a code found only in fragments (wide bars split
    the mask of a big close-up code) is still cut out whole; it is as tall as the region.
    """
    axes = frame(region, angle)
    s0, s1 = line_extent(gray, region.cx, region.cy, axes[0], axes[1])
    half = max(10.0, region.height * 0.5)
    return warp(gray, (region.cx, region.cy), axes, (s0, s1), (-half, half), zoom, 1.0)


def deskewed(gray: Gray, region: Region) -> tuple[Gray, npt.NDArray[np.float64]]:
    """The whole photo warped so that the region's code is upright, and the warp (2x3 matrix
    from output to photo px) to map positions back."""
    h, w = gray.shape
    ux, uy, bx, by = axes = frame(region)
    inv = np.linalg.inv(np.array([[ux, bx], [uy, by]]))
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64) - (w / 2, h / 2)
    st = corners @ inv.T
    (s0, t0), (s1, t1) = st.min(axis=0), st.max(axis=0)
    image = warp(gray, (w / 2, h / 2), axes, (s0, s1), (t0, t1))
    back = np.array(
        [[ux, bx, w / 2 + ux * s0 + bx * t0], [uy, by, h / 2 + uy * s0 + by * t0]],
        dtype=np.float64,
    )
    return image, back


def map_back(found: list[Decoded], back: npt.NDArray[np.float64]) -> list[Decoded]:
    out = []
    for d in found:
        quad = tuple(
            (
                float(back[0, 0] * x + back[0, 1] * y + back[0, 2]),
                float(back[1, 0] * x + back[1, 1] * y + back[1, 2]),
            )
            for x, y in d.quad
        )
        out.append(Decoded(d.text, d.format, quad))
    return out


def sharpen(image: Gray, sigma: float, amount: float) -> Gray:
    """Unsharp masking across the bars only: image + amount * (image - blur_x(image))."""
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=0.1)
    out = cv2.addWeighted(image, 1 + amount, blurred, -amount, 0)
    return np.asarray(out, dtype=np.uint8)


def deblur(upright: Gray) -> Gray:
    """For blurred, small codes (1.5-3 px per module): average along the bars (they are
    upright: the noise goes, the bar edges stay), then unsharp-mask across them twice."""
    smooth = np.asarray(cv2.blur(upright, (1, 9)), dtype=np.uint8)
    return sharpen(sharpen(smooth, 2.5, 2.0), 2.5, 2.0)


def decode_strip(image: Gray, *, try_invert: bool = False) -> list[Decoded]:
    """1-D codes in an upright strip (positions dropped: they refer to the strip)."""
    found = decode(
        image, formats=STRIP_FORMATS, try_invert=try_invert, try_rotate=False, try_downscale=False
    )
    return [Decoded(d.text, d.format) for d in found]


def normalize(upright: Gray, window: int = 31) -> Gray:
    """Local contrast across the bars (mean and spread over `window` px): bars half washed out
    by a reflection get the same contrast as the rest."""
    f = np.asarray(cv2.blur(upright, (1, 5)), dtype=np.float32)
    mean = _f32(cv2.blur(f, (window, 1)))
    spread = np.sqrt(np.maximum(_f32(cv2.blur((f - mean) ** 2, (window, 1))), 1.0))
    return np.asarray(np.clip((f - mean) / spread * 60 + 128, 0, 255), dtype=np.uint8)


def equalize_deblur(upright: Gray) -> Gray:
    """Contrast-limited equalisation in short tiles along the code, then `deblur`."""
    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(1, 16))
    return deblur(np.asarray(clahe.apply(upright), dtype=np.uint8))


# Rounds of strip decoding, cheapest first: each unread region gets round 1, then those still
# unread round 2, ... (zoom across the bars, the filter applied to the upright strip)
STRIP_ROUNDS: tuple[tuple[float, Callable[[Gray], Gray] | None], ...] = (
    (1.0, None),  # as it is (inverted too)
    (2.0, deblur),  # blurred small codes
    (1.0, normalize),  # glare: part of the code washed out
    (2.0, equalize_deblur),  # glare and blur together
)


def decode_region(gray: Gray, region: Region, round_: int) -> list[Decoded]:
    """Decode one region as a full-length strip, prepared as `STRIP_ROUNDS[round_]` says."""
    zoom, prepare = STRIP_ROUNDS[round_]
    upright = strip(gray, region, zoom=zoom)
    if prepare is None:
        return decode_strip(upright, try_invert=True)  # light bars on dark too
    return decode_strip(prepare(upright))
