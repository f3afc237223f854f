"""Model search over the shipped 77-model list (bot/sandbox/data/navixy-models.json)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.domain.search import ModelIndex, SearchHit
from bot.navixy.models import DeviceModel

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "bot" / "sandbox" / "data" / "navixy-models.json"
LARGE = ROOT / "bench" / "data" / "models-5000.json"


def load(path: Path) -> list[DeviceModel]:
    items = json.loads(path.read_text(encoding="utf-8"))["list"]
    return [DeviceModel.model_validate(item) for item in items]


@pytest.fixture(scope="module")
def models() -> list[DeviceModel]:
    return load(SHIPPED)


@pytest.fixture(scope="module")
def index(models: list[DeviceModel]) -> ModelIndex:
    return ModelIndex.build(models)


def codes(hits: list[SearchHit]) -> list[str]:
    return [hit.model.code for hit in hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fmb140", "telfmb140"),
        ("FMB 140", "telfmb140"),
        ("Teltonika FMB 140", "telfmb140"),
        ("fmb140 teltonika", "telfmb140"),
        ("telfmb140", "telfmb140"),
        ("fmb14O", "telfmb140"),  # letter O for zero
        ("fnb140", "telfmb140"),  # one typo
        ("fbm140", "telfmb140"),  # swapped letters
        ("fmb 920", "telfmb920"),
        ("gv55 lite", "qlgv55lite"),
        ("GV-55", "qlgv55"),
        ("gv3OO w", "qlgv300_w"),
        ("quecklink gv320", "qlgv320"),
        ("gt80", "concoxgt06n_gt80"),
        ("lmu 2630", "calamp_lmu2630"),
        ("fms500 light+", "bce_fms500_lightplus"),
        ("fms500 light+ mqtt", "bce_fms500_lightplus_mqtt"),
        ("Телтоника фмб 920", "telfmb920"),  # Russian vendor, transliterated model
        ("Квеклинк gv65", "qlgv65"),
        ("FМВ140", "telfmb140"),  # Cyrillic М and В
        ("аьи140", "telfmb140"),  # "fmb140" typed with the Russian layout on
        ("Мейтрек т1", "meitrackt1"),
        ("руптела hcv5", "ruptela_hcv5"),
    ],
)
def test_top_hit(index: ModelIndex, query: str, expected: str) -> None:
    hits = index.search(query)
    assert hits, query
    assert hits[0].model.code == expected


def test_partial_code_lists_the_family_first(index: ModelIndex) -> None:
    assert codes(index.search("fmb12"))[:3] == ["telfmb120", "telfmb125", "telfmb120_vt_b120"]
    assert codes(index.search("gv300"))[:4] == ["qlgv300", "qlgv300_n", "qlgv300_w", "qlgv300_n_vt"]


@pytest.mark.parametrize("query", ["queclink", "Queclink", "квеклинк", "quecklink"])
def test_vendor_alone_lists_its_models(index: ModelIndex, query: str) -> None:
    hits = index.search(query, limit=20)
    queclink = [m for m in index.models if m.vendor == "Queclink"]
    assert len(hits) == len(queclink) == 17
    assert {h.model.vendor for h in hits} == {"Queclink"}
    # Base models before their dealer clones.
    assert codes(hits).index("qlgv55") < codes(hits).index("qlgv55_vt")


@pytest.mark.parametrize(
    "query",
    ["mobile", "app", "mobile app", "x-gps", "xgps", "X-GPS Tracker", "phone app", "смартфон",
     "приложение", "x gps", "android"],
)  # fmt: skip
def test_mobile_app_is_findable(index: ModelIndex, query: str) -> None:
    assert codes(index.search(query))[:1] == ["mobile_unknown_xgps"]


def test_unregistrable_models_are_never_returned(
    index: ModelIndex, models: list[DeviceModel]
) -> None:
    hidden = {m.code for m in models if not m.registrable}
    assert hidden == {"navixymobile_xgps", "iosnavixytracker_xgps", "gv55lite", "m7"}
    assert len(index) == len(models) - len(hidden)
    for code in hidden:
        assert index.get(code) is None
    queries = ["gv55lite", "m7", "navixy m7", "navixymobile", "x-gps android", "ios", "navixy"]
    for query in queries:
        assert hidden.isdisjoint(codes(index.search(query, limit=50))), query
    assert index.get("telfmb140") is not None
    assert hidden.isdisjoint(m.code for m in index.models)


@pytest.mark.parametrize("query", ["", "   ", "-", "!!!", "трекер"])
def test_empty_queries_find_nothing(index: ModelIndex, query: str) -> None:
    assert index.search(query) == []


def test_nonsense_finds_nothing(index: ModelIndex) -> None:
    assert index.search("zzzzqqqq 9999999") == []


def test_limit_and_scores(index: ModelIndex) -> None:
    hits = index.search("teltonika", limit=5)
    assert len(hits) == 5
    assert all(h.model.vendor == "Teltonika" for h in hits)
    assert index.search("teltonika", limit=0) == []
    scores = [h.score for h in index.search("fmb1")]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 100 for s in scores)
    assert index.search("fmb140")[0].score == 100.0


def test_vendors_and_accessors(index: ModelIndex) -> None:
    vendors = index.vendors()
    assert vendors[:3] == ["ATOL", "ATrack", "BCE"]
    assert "Teltonika" in vendors and "WondeProud" in vendors
    assert [m.code for m in index.models_of("Ruptela")] == ["ruptela_hcv5", "ruptela_pro5"]
    empty = ModelIndex.build([])
    assert len(empty) == 0 and empty.search("fmb140") == [] and empty.vendors() == []


def test_duplicate_codes_keep_the_first(models: list[DeviceModel]) -> None:
    first = models[0]
    copy = first.model_copy(update={"name": "Something else"})
    index = ModelIndex.build([first, copy])
    assert len(index) == 1
    assert index.get(first.code) is first


def test_fast_at_5000_models() -> None:
    """A coarse guard (the benchmark measures properly): well under 5 ms per query."""
    index = ModelIndex.build(load(LARGE))
    assert len(index) > 4500
    queries = ["fmb140", "Teltonika FMB 140", "gv55 lite", "Телтоника", "аьи140", "x-gps app"]
    for query in queries:
        index.search(query)
    started = time.perf_counter()
    for _ in range(10):
        for query in queries:
            index.search(query)
    per_query = (time.perf_counter() - started) / (10 * len(queries))
    assert per_query < 0.005
    assert codes(index.search("fmb140"))[:1] == ["telfmb140"]
