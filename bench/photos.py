"""Benchmark of `bot.photo.read_device_ids` on a labelled photo corpus.

    python -m bench photos --corpus bench/out/photos [--generate 100] [--seed 1] [--verbose]

Reads ``DIR/truth.json`` (``{"easy/0001.jpg": {"imei": "...", "tier": "easy"}}``, paths
relative to DIR, ``imei`` null for negatives, ``tier`` optional) and prints one row per tier:

* recall: the IMEI is the first candidate;
* wrong ID: an image (positive or negative) for which any candidate is not the true IMEI;
* neg. accepted: negatives that got any candidate (also counted in "wrong ID"); for labels
  without barcodes (``printed_imei`` in the truth), their printed IMEI is not wrong;
* median / p95 CPU ms: `read_device_ids` CPU time of the decoding thread
  (`time.thread_time`: images are decoded sequentially on one thread, OpenCV runs single
  threaded), after one warm-up decode; CPU time rather than wall time so that other load on a
  shared machine does not count. The wall-time median is printed too;
* peak RSS: growth of the process's peak resident set size (``resource.getrusage``
  ``ru_maxrss``) over the run. `tracemalloc` sees only Python allocations, not the
  OpenCV/zxing-cpp/libjpeg buffers, so RSS is what counts. `ru_maxrss` only grows, so this is
  the worst single image (decodes are sequential) plus whatever the allocator keeps.

A second table gives IMEI recall per photo condition, over the medium and hard photos (all
positives with ``--conditions all``), from the generator's truth fields when present: px per
module, code width as a share of the frame, angle off upright, perspective tilt, defocus,
motion blur, glare, finger.

``--generate N`` first creates the corpus (N images per tier, N // 2 negatives) when DIR has no
truth.json, with `bench.photo_corpus`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TierStats:
    images: int = 0
    positives: int = 0
    hits: int = 0
    wrong: int = 0
    negatives: int = 0
    neg_accepted: int = 0
    times: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    ocr_walls: list[float] = field(default_factory=list)
    ocr_cpus: list[float] = field(default_factory=list)
    ocr_right: int = 0
    ocr_wrong: int = 0
    problems: Counter[str] = field(default_factory=Counter)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "-"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    corpus: Path, verbose: bool = False, only: str | None = None, ocr: bool = False
) -> tuple[dict[str, TierStats], dict[str, Any]]:
    from bot.domain.device_id import parse_id_type
    from bot.photo import read_device_ids

    rule = parse_id_type("imei")
    if ocr:
        from bot.photo.ocr import read_printed_ids

    truth: dict[str, dict[str, Any]] = json.loads((corpus / "truth.json").read_text())
    names = sorted(n for n in truth if only is None or n.startswith(only))
    if names:  # warm-up: imports, zxing/OpenCV first-call set-up
        read_device_ids((corpus / names[0]).read_bytes())
    rss_before = _maxrss_mib()
    tiers: dict[str, TierStats] = {}
    outcomes: list[tuple[dict[str, Any], bool, float]] = []
    for name in names:
        info = truth[name]
        data = (corpus / name).read_bytes()
        start, cpu_start = time.perf_counter(), time.thread_time()
        children = _children_cpu()
        reading = read_device_ids(data)
        # this thread, plus any subprocess it waited for (an OCR tool)
        cpu = (time.thread_time() - cpu_start + _children_cpu() - children) * 1000.0
        elapsed = (time.perf_counter() - start) * 1000.0
        imei = info.get("imei")
        printed = info.get("printed_imei")  # a label without barcodes: its printed digits
        st = tiers.setdefault(str(info.get("tier") or "all"), TierStats())
        st.images += 1
        st.times.append(cpu)
        st.walls.append(elapsed)
        st.problems[str(reading.problem or "ok")] += 1
        wrong = any(c not in (imei, printed) for c in reading.candidates)
        st.wrong += wrong
        if imei:
            st.positives += 1
            hit = bool(reading.candidates) and reading.candidates[0] == imei
            st.hits += hit
            outcomes.append((info, hit, cpu))
        else:
            st.negatives += 1
            st.neg_accepted += wrong
        crop = getattr(reading, "label_crop", None)
        if ocr and not reading.candidates and crop is not None:
            ocr_started, children = time.perf_counter(), _children_cpu()
            found = asyncio.run(read_printed_ids(crop, rule))
            st.ocr_walls.append((time.perf_counter() - ocr_started) * 1000.0)
            st.ocr_cpus.append((_children_cpu() - children) * 1000.0)
            st.ocr_right += bool(found) and found[0] in (imei, printed)
            st.ocr_wrong += any(c not in (imei, printed) for c in found)
        if verbose and (wrong or (imei and imei not in reading.candidates)):
            seen = [(s.text, s.format) for s in reading.seen]
            facts = {k: info[k] for k in CONDITION_KEYS if k in info}
            print(
                f"  {name}: truth={imei} got={reading.candidates} {reading.problem} {seen}"
                f" {facts} {cpu:.0f} ms"
            )
    rss_after = _maxrss_mib()
    meta = {"rss_start_mib": rss_before, "rss_peak_mib": rss_after, "outcomes": outcomes}
    return tiers, meta


def render(tiers: dict[str, TierStats], meta: dict[str, Any]) -> str:
    order = ["easy", "medium", "hard", "negative", "no_barcode"]
    keys = [k for k in order if k in tiers] + sorted(k for k in tiers if k not in order)
    rows = [
        "| tier | images | IMEI recall | wrong ID | negatives accepted | CPU median ms"
        " | CPU p95 ms | wall median ms | problems reported |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    total = TierStats()
    for key in keys:
        st = tiers[key]
        problems = ", ".join(f"{k} {v}" for k, v in st.problems.most_common())
        rows.append(
            f"| {key} | {st.images} | {_pct(st.hits, st.positives)} | {_pct(st.wrong, st.images)}"
            f" | {st.neg_accepted}/{st.negatives} | {statistics.median(st.times):.0f}"
            f" | {_p95(st.times):.0f} | {statistics.median(st.walls):.0f} | {problems} |"
        )
        total.images += st.images
        total.positives += st.positives
        total.hits += st.hits
        total.wrong += st.wrong
        total.negatives += st.negatives
        total.neg_accepted += st.neg_accepted
        total.times += st.times
        total.walls += st.walls
    if len(keys) > 1:
        rows.append(
            f"| **all** | {total.images} | {_pct(total.hits, total.positives)}"
            f" | {_pct(total.wrong, total.images)} | {total.neg_accepted}/{total.negatives}"
            f" | {statistics.median(total.times):.0f} | {_p95(total.times):.0f}"
            f" | {statistics.median(total.walls):.0f} | |"
        )
    ocr_rows = [
        f"| {key} | {len(st.ocr_walls)} | {st.ocr_right} | {st.ocr_wrong}"
        f" | {statistics.median(st.ocr_walls):.0f} | {max(st.ocr_walls):.0f}"
        f" | {statistics.median(st.ocr_cpus):.0f} |"
        for key in keys
        if (st := tiers[key]).ocr_walls
    ]
    if ocr_rows:
        rows += [
            "",
            "OCR after the barcodes (`ocr.read_printed_ids` on the label area of photos without"
            " an ID; off the answer path, not in the times above):",
            "",
            "| tier | OCR runs | right ID | wrong ID | median wall ms | max wall ms"
            " | median tesseract CPU ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *ocr_rows,
        ]
    growth = meta["rss_peak_mib"] - meta["rss_start_mib"]
    rows.append("")
    rows.append(
        f"Peak RSS {meta['rss_peak_mib']:.0f} MiB (after warm-up {meta['rss_start_mib']:.0f} MiB,"
        f" growth over the run {growth:.0f} MiB)."
    )
    return "\n".join(rows)


CONDITION_KEYS = (
    "px_per_module",
    "code_frac",
    "off_axis",
    "tilt",
    "blur",
    "motion",
    "glare",
    "finger",
)
# (label, truth key, bucket edges or None for a yes/no field, bucket names or None)
CONDITIONS: tuple[tuple[str, str, tuple[float, ...] | None, tuple[str, ...] | None], ...] = (
    ("px per module", "px_per_module", (1.5, 2.0, 2.5, 3.0, 4.0), None),
    ("code width / frame", "code_frac", (0.25, 0.5), None),
    ("off upright, deg", "off_axis", (5.0, 10.0), None),
    ("perspective tilt, deg", "tilt", (15.0, 30.0), None),
    ("defocus sigma, px", "blur", (0.5, 1.0), None),
    ("motion blur, px", "motion", (1.0, 3.0), ("none", "2", "3-5")),
    ("glare", "glare", None, None),
    ("finger", "finger", None, None),
)


def _bucket(value: float, edges: tuple[float, ...]) -> tuple[int, str]:
    def num(x: float) -> str:
        return f"{x:g}"

    for i, edge in enumerate(edges):
        if value < edge:
            return i, (f"< {num(edge)}" if i == 0 else f"{num(edges[i - 1])}-{num(edge)}")
    return len(edges), f">= {num(edges[-1])}"


def render_conditions(meta: dict[str, Any], tiers: tuple[str, ...] | None) -> str:
    """IMEI recall per photo condition (rows: condition buckets)."""
    outcomes = [o for o in meta["outcomes"] if tiers is None or o[0].get("tier") in tiers]
    rows = [
        "| condition | bucket | photos | IMEI recall | CPU median ms |",
        "|---|---|---:|---:|---:|",
    ]
    for label, key, edges, names in CONDITIONS:
        groups: dict[tuple[int, str], list[tuple[bool, float]]] = {}
        for info, hit, cpu in outcomes:
            if key not in info:
                continue
            value = info[key]
            if edges is None:
                slot = (int(bool(value)), "yes" if value else "no")
            else:
                slot = _bucket(float(value), edges)
                if names is not None:
                    slot = (slot[0], names[slot[0]])
            groups.setdefault(slot, []).append((hit, cpu))
        for slot in sorted(groups):
            items = groups[slot]
            hits = sum(h for h, _ in items)
            rows.append(
                f"| {label} | {slot[1]} | {len(items)} | {_pct(hits, len(items))}"
                f" | {statistics.median(c for _, c in items):.0f} |"
            )
            label = ""
    return "\n".join(rows) if len(rows) > 2 else ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench photos", description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True, help="directory with truth.json")
    parser.add_argument(
        "--generate", type=int, metavar="N", help="if the corpus is missing, make N per tier"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for --generate")
    parser.add_argument("--verbose", action="store_true", help="list misses and wrong IDs")
    parser.add_argument(
        "--conditions",
        choices=("medium+hard", "all", "none"),
        default="medium+hard",
        help="which positives the per-condition table covers",
    )
    parser.add_argument("--only", help="only images whose path starts with this (e.g. hard/)")
    parser.add_argument(
        "--ocr", action="store_true", help="also time OCR (tesseract) where no barcode gave an ID"
    )
    args = parser.parse_args(argv)
    if not (args.corpus / "truth.json").exists():
        if args.generate is None:
            print(f"{args.corpus}/truth.json not found (use --generate N)", file=sys.stderr)
            return 2
        from bench.photo_corpus import generate

        generate(args.corpus, args.generate, args.seed)
    tiers, meta = run(args.corpus, args.verbose, args.only, args.ocr)
    print(render(tiers, meta))
    if args.conditions != "none":
        chosen = None if args.conditions == "all" else ("medium", "hard")
        table = render_conditions(meta, chosen)
        if table:
            print(f"\nIMEI recall per condition ({args.conditions} photos):\n")
            print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
