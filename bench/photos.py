"""Benchmark of `bot.photo.read_device_ids` on a labelled photo corpus.

    python -m bench photos --corpus bench/out/photos [--generate 100] [--seed 1] [--verbose]

Reads ``DIR/truth.json`` (``{"easy/0001.jpg": {"imei": "...", "tier": "easy"}}``, paths
relative to DIR, ``imei`` null for negatives, ``tier`` optional) and prints one row per tier:

* recall: the IMEI is the first candidate;
* wrong ID: an image (positive or negative) for which any candidate is not the true IMEI;
* neg. accepted: negatives that got any candidate (also counted in "wrong ID");
* median / p95 decode time: `read_device_ids` wall time, images decoded sequentially on one
  thread (one core), after one warm-up decode;
* peak RSS: growth of the process's peak resident set size (``resource.getrusage``
  ``ru_maxrss``) over the run. `tracemalloc` sees only Python allocations, not the
  OpenCV/zxing-cpp/libjpeg buffers, so RSS is what counts. `ru_maxrss` only grows, so this is
  the worst single image (decodes are sequential) plus whatever the allocator keeps.

``--generate N`` first creates the corpus (N images per tier, N // 2 negatives) when DIR has no
truth.json, with `bench.photo_corpus`.
"""

from __future__ import annotations

import argparse
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
    problems: Counter[str] = field(default_factory=Counter)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "-"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run(corpus: Path, verbose: bool = False) -> tuple[dict[str, TierStats], dict[str, Any]]:
    from bot.photo import read_device_ids

    truth: dict[str, dict[str, Any]] = json.loads((corpus / "truth.json").read_text())
    names = sorted(truth)
    if names:  # warm-up: imports, zxing/OpenCV first-call set-up
        read_device_ids((corpus / names[0]).read_bytes())
    rss_before = _maxrss_mib()
    tiers: dict[str, TierStats] = {}
    for name in names:
        info = truth[name]
        data = (corpus / name).read_bytes()
        start = time.perf_counter()
        reading = read_device_ids(data)
        elapsed = (time.perf_counter() - start) * 1000.0
        imei = info.get("imei")
        st = tiers.setdefault(str(info.get("tier") or "all"), TierStats())
        st.images += 1
        st.times.append(elapsed)
        st.problems[str(reading.problem or "ok")] += 1
        wrong = any(c != imei for c in reading.candidates)
        st.wrong += wrong
        if imei:
            st.positives += 1
            st.hits += bool(reading.candidates) and reading.candidates[0] == imei
        else:
            st.negatives += 1
            st.neg_accepted += bool(reading.candidates)
        if verbose and (wrong or (imei and imei not in reading.candidates)):
            seen = [(s.text, s.format) for s in reading.seen]
            print(f"  {name}: truth={imei} got={reading.candidates} {reading.problem} {seen}")
    rss_after = _maxrss_mib()
    meta = {"rss_start_mib": rss_before, "rss_peak_mib": rss_after}
    return tiers, meta


def render(tiers: dict[str, TierStats], meta: dict[str, Any]) -> str:
    order = ["easy", "medium", "hard", "negative"]
    keys = [k for k in order if k in tiers] + sorted(k for k in tiers if k not in order)
    rows = [
        "| tier | images | IMEI recall | wrong ID | negatives accepted | median ms | p95 ms |"
        " problems reported |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    total = TierStats()
    for key in keys:
        st = tiers[key]
        problems = ", ".join(f"{k} {v}" for k, v in st.problems.most_common())
        rows.append(
            f"| {key} | {st.images} | {_pct(st.hits, st.positives)} | {_pct(st.wrong, st.images)}"
            f" | {st.neg_accepted}/{st.negatives} | {statistics.median(st.times):.0f}"
            f" | {_p95(st.times):.0f} | {problems} |"
        )
        total.images += st.images
        total.positives += st.positives
        total.hits += st.hits
        total.wrong += st.wrong
        total.negatives += st.negatives
        total.neg_accepted += st.neg_accepted
        total.times += st.times
    if len(keys) > 1:
        rows.append(
            f"| **all** | {total.images} | {_pct(total.hits, total.positives)}"
            f" | {_pct(total.wrong, total.images)} | {total.neg_accepted}/{total.negatives}"
            f" | {statistics.median(total.times):.0f} | {_p95(total.times):.0f} | |"
        )
    growth = meta["rss_peak_mib"] - meta["rss_start_mib"]
    rows.append("")
    rows.append(
        f"Peak RSS {meta['rss_peak_mib']:.0f} MiB (after warm-up {meta['rss_start_mib']:.0f} MiB,"
        f" growth over the run {growth:.0f} MiB)."
    )
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench photos", description=__doc__)
    parser.add_argument("--corpus", type=Path, required=True, help="directory with truth.json")
    parser.add_argument(
        "--generate", type=int, metavar="N", help="if the corpus is missing, make N per tier"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for --generate")
    parser.add_argument("--verbose", action="store_true", help="list misses and wrong IDs")
    args = parser.parse_args(argv)
    if not (args.corpus / "truth.json").exists():
        if args.generate is None:
            print(f"{args.corpus}/truth.json not found (use --generate N)", file=sys.stderr)
            return 2
        from bench.photo_corpus import generate

        generate(args.corpus, args.generate, args.seed)
    tiers, meta = run(args.corpus, args.verbose)
    print(render(tiers, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
