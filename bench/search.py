"""Model search benchmark: accuracy on labelled installer queries, latency at scale.

    python -m bench search --queries bench/data/search_queries.jsonl \\
        --models bot/sandbox/data/navixy-models.json --latency-models bench/data/models-5000.json

`--queries`: JSON lines `{"query": "fmb 140", "expected": "telfmb140"}` (extra keys ignored).
`--models`: a `tracker/list_models` response (`{"list": [...]}`) or a bare list; accuracy is
measured on it. `--latency-models`: the list to time the queries against (default: --models).
Latency is the wall time of one `ModelIndex.search` call (limit 8), every query run `--rounds`
times after one warm-up round, on this one thread. The thread's CPU time is reported too: on a
shared machine the wall-time tail also holds time the thread spent descheduled.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.domain.search import ModelIndex
from bot.navixy.models import DeviceModel


@dataclass(frozen=True)
class Query:
    query: str
    expected: str


@dataclass(frozen=True)
class Result:
    queries: int
    top1: int
    top3: int
    misses: list[tuple[Query, list[str]]]
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_p50_ms: float
    cpu_p99_ms: float
    build_ms: float
    latency_models: int
    accuracy_models: int


def load_models(path: Path) -> list[DeviceModel]:
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data["list"] if isinstance(data, dict) else data
    return [DeviceModel.model_validate(item) for item in items]


def load_queries(path: Path) -> list[Query]:
    out: list[Query] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            item = json.loads(line)
            out.append(Query(str(item["query"]), str(item["expected"])))
        except (ValueError, KeyError) as exc:
            raise SystemExit(f"{path}:{number}: bad line ({exc})") from exc
    return out


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def run(
    queries: list[Query],
    models: list[DeviceModel],
    latency_models: list[DeviceModel],
    rounds: int,
) -> Result:
    index = ModelIndex.build(models)
    unknown = sorted({q.expected for q in queries if index.get(q.expected) is None})
    if unknown:
        raise SystemExit(f"expected codes not in the (registrable) model list: {unknown}")
    top1 = top3 = 0
    misses: list[tuple[Query, list[str]]] = []
    for q in queries:
        codes = [hit.model.code for hit in index.search(q.query, limit=8)]
        if codes[:1] == [q.expected]:
            top1 += 1
        if q.expected in codes[:3]:
            top3 += 1
        if codes[:1] != [q.expected]:
            misses.append((q, codes[:3]))

    started = time.perf_counter()
    big = ModelIndex.build(latency_models)
    build_ms = (time.perf_counter() - started) * 1000
    for q in queries:  # warm-up
        big.search(q.query)
    samples: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        for q in queries:
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            big.search(q.query)
            t1 = time.perf_counter_ns()
            c1 = time.thread_time_ns()
            samples.append((t1 - t0) / 1e6)
            cpu.append((c1 - c0) / 1e6)
    samples.sort()
    cpu.sort()
    return Result(
        queries=len(queries),
        top1=top1,
        top3=top3,
        misses=misses,
        p50_ms=statistics.median(samples) if samples else 0.0,
        p99_ms=_percentile(samples, 0.99),
        max_ms=samples[-1] if samples else 0.0,
        cpu_p50_ms=statistics.median(cpu) if cpu else 0.0,
        cpu_p99_ms=_percentile(cpu, 0.99),
        build_ms=build_ms,
        latency_models=len(big),
        accuracy_models=len(index),
    )


def render(result: Result, latency_total: int, accuracy_total: int) -> str:
    n = max(result.queries, 1)
    lines = [
        "| metric | value |",
        "|---|---|",
        f"| queries | {result.queries} |",
        f"| models searched (accuracy) | {result.accuracy_models} registrable "
        f"of {accuracy_total} |",
        f"| top-1 accuracy | {result.top1}/{result.queries} = {100 * result.top1 / n:.1f} % |",
        f"| top-3 accuracy | {result.top3}/{result.queries} = {100 * result.top3 / n:.1f} % |",
        f"| models searched (latency) | {result.latency_models} registrable of {latency_total} |",
        f"| latency p50 per query (wall) | {result.p50_ms:.3f} ms |",
        f"| latency p99 per query (wall) | {result.p99_ms:.3f} ms |",
        f"| latency max per query (wall) | {result.max_ms:.3f} ms |",
        f"| CPU time p50 / p99 per query (this thread) | {result.cpu_p50_ms:.3f} / "
        f"{result.cpu_p99_ms:.3f} ms |",
        f"| index build time | {result.build_ms:.1f} ms |",
    ]
    if result.misses:
        lines += ["", "Top-1 misses (query → expected; got top 3):"]
        for q, got in result.misses:
            lines.append(f"- `{q.query}` → `{q.expected}`; got {', '.join(got) or '(nothing)'}")
    else:
        lines += ["", "Top-1 misses: none."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench search",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--latency-models", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=20, help="timed runs of every query")
    args = parser.parse_args(argv)

    queries = load_queries(args.queries)
    models = load_models(args.models)
    latency_models = load_models(args.latency_models) if args.latency_models else models
    result = run(queries, models, latency_models, max(1, args.rounds))
    print(render(result, len(latency_models), len(models)))
    print(
        f"\n(Python {platform.python_version()}, {platform.machine()}, "
        f"{args.rounds} timed rounds x {result.queries} queries)",
        file=sys.stderr,
    )
    return 0
