"""In-memory model index and the fuzzy model search installers type into.

Everything is precomputed by `ModelIndex.build`; a query costs a few dict/bisect lookups, one
`str.find` scan and a length-bucketed rapidfuzz pass. Only `register: true` models are indexed.

How a query is read:
1. NFKC and lower case; "tracker"/"gps"/"трекер"... dropped when other words remain.
2. Words with Cyrillic letters: known Russian spellings of vendors and app words ("Телтоника",
   "Квеклинк", "смартфон") are replaced; other words are tried three ways, and the best reading
   wins: look-alike letters ("FМВ140" with Cyrillic М, В), transliteration ("фмб 140") and the
   same keys on a Latin layout ("аьи140": "fmb140" typed with the Russian layout on).
3. Words are compacted to letters+digits and "folded" (o->0, i->1, l->1) on both the query and
   the index side, so `fmb14O`, `GV55 Iite` and `gv55lite` compare equal.
4. Scores (0-100): exact key 100, key prefix 80-95 (`fmb14` -> FMB140 family), substring 65-80,
   one typo (OSA distance, transpositions count 1) 67-90. Secondary keys ("/" and bracket parts
   of a name, code parts, app synonyms) weigh a bit less. A word that is a vendor (exact, one
   typo, or a Russian spelling) also scores the rest of the query against that vendor's models
   only; a vendor alone lists its models. Ties go to base models before clones, shorter names
   first.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from bot.navixy.models import DeviceModel

__all__ = ["ModelIndex", "SearchHit"]


@dataclass(frozen=True)
class SearchHit:
    model: DeviceModel
    score: float  # 0-100, higher is better


# --- text normalisation ---------------------------------------------------------------------

_FOLD = str.maketrans("oil", "011")

_CYRILLIC_LOOKALIKE = str.maketrans(
    "авекмнорстухіјѕ",
    "abekmhopctyxijs",
)
_LOOKALIKE_LETTERS = frozenset("авекмнорстухіјѕ")
_LAYOUT = str.maketrans(
    "йцукенгшщзхъфывапролджэячсмитьбюё",
    "qwertyuiop[]asdfghjkl;'zxcvbnm,.`",
)
_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "yi",
    "є": "e", "ґ": "g",
}  # fmt: skip

# Russian spellings of vendors and words an installer may type instead of the Latin ones.
_RU_WORDS: dict[str, tuple[str, ...]] = {
    "teltonika": ("телтоника", "тельтоника", "тэлтоника", "телтоніка", "тилтоника", "телтонику"),
    "queclink": ("квеклинк", "квэклинк", "кьюклинк", "куклинк", "квиклинк", "квеклинг"),
    "concox": ("конкокс", "конкос", "концокс", "конкоск"),
    "ruptela": ("руптела", "руптелла", "рюптела"),
    "meitrack": ("мейтрек", "мейтрак", "мэйтрек", "мэйтрак", "меитрек", "майтрек", "майтрак"),
    "navixy": ("навикси", "навиксы", "нэвикси", "навиксай"),
    "calamp": ("каламп", "калемп", "кэлэмп", "келамп", "калэмп"),
    "eelink": ("илинк", "иилинк", "ээлинк", "еелинк"),
    "atrack": ("атрек", "атрак", "эйтрек", "эйтрак", "этрак"),
    "topflytech": ("топфлай", "топфлайтек", "топфлайтех", "топфлитек"),
    "jimi": ("джими", "жими", "джимми"),
    "bce": ("бце", "бсе", "бице", "бисиай"),
    "wondeproud": ("вондепрауд", "вандепрауд"),
    "atol": ("атол",),
    "box": ("бокс",),
    "galileosky": ("галилеоскай", "галилео"),
    "neomatica": ("неоматика",),
    "starline": ("старлайн",),
    "bitrek": ("битрек",),
    "suntech": ("сантек", "сантех"),
    "coban": ("кобан",),
    "jointech": ("джойнтек",),
    "fifotrack": ("фифотрек", "фифотрак"),
    "sinotrack": ("синотрек", "синотрак"),
    "arnavi": ("арнави",),
    "omnicomm": ("омникомм", "омником"),
    "smartphone": ("смартфон", "смартфона", "смартфоне"),
    "phone": ("телефон", "телефона", "телефоне"),
    "app": ("приложение", "приложения", "прилож", "апп", "апка"),
    "mobile": ("мобильный", "мобильное", "мобильник", "мобила", "мобайл"),
    "android": ("андроид",),
    "iphone": ("айфон",),
    "ios": ("айос",),
    "xgps": ("иксгпс", "иксжпс"),
    "lite": ("лайт", "лайте"),
    "plus": ("плюс",),
    "pro": ("про",),
    "mini": ("мини",),
    "max": ("макс",),
}
_RU_ALIAS = {ru: latin for latin, spellings in _RU_WORDS.items() for ru in spellings}
_RU_ALIAS_KEYS = list(_RU_ALIAS)

_STOPWORDS = frozenset(
    {
        "gps", "tracker", "gpstracker", "трекер", "жпс", "gpsтрекер", "model", "модель",
        "device", "for", "the", "на", "для",
    }
)  # fmt: skip

# Extra keys for the mobile app (X-GPS Tracker).
_APP_SYNONYMS = (
    "mobile", "app", "mobileapp", "phone", "phoneapp", "smartphone", "smartphoneapp",
    "xgps", "xgpsapp", "xgpstracker", "xgpsmobile", "android", "ios", "iphone", "navixyapp",
    "mobiletracker", "phonetracker",
)  # fmt: skip

_MAX_VARIANTS = 6
_SCAN_CAP = 400  # prefix/substring matches looked at per key set and query
_FUZZY_CUTOFF = 0.75
_FUZZY_LIMIT = 40
_VENDOR_CUTOFF = 0.8
_VENDOR_LIST_SCORE = 95.0
_VENDOR_BONUS = 1.0
_KEEP_WITHIN = 30.0  # hits this far below the best one are dropped
_GOOD_ENOUGH = 90.0  # a reading scoring this well makes the next reading unnecessary
_WORD_FACTOR = 0.8  # score factor of matches of a single word of the query


_PLUS = re.compile(r"(\w)\+")  # "light+" -> "light plus", as the index spells "+" too


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


_NOT_ALNUM = re.compile(r"[\W_]+")


def _compact(text: str) -> str:
    return _NOT_ALNUM.sub("", text)


def _key(text: str) -> str:
    """Index/query key: NFKC, lower case, letters+digits only, o/i/l folded to 0/1/1."""
    return _compact(unicodedata.normalize("NFKC", text).lower()).translate(_FOLD)


def _translit(word: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in word)


def _word_options(word: str) -> list[str]:
    """Latin readings of one (lower-case) query word."""
    if not any(_is_cyrillic(ch) for ch in word):
        return [word]
    bare = "".join(ch for ch in word if ch.isalnum())
    if bare in _RU_ALIAS:
        return [_RU_ALIAS[bare]]
    options: list[str] = []
    if len(bare) >= 5:
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        found = process.extractOne(
            bare, _RU_ALIAS_KEYS, scorer=OSA.normalized_similarity, score_cutoff=_VENDOR_CUTOFF
        )
        if found is not None:
            options.append(_RU_ALIAS[found[0]])
    if all(ch in _LOOKALIKE_LETTERS for ch in word if _is_cyrillic(ch)):
        options.append(word.translate(_CYRILLIC_LOOKALIKE))
    options.append(_translit(word))
    options.append(word.translate(_LAYOUT))
    return list(dict.fromkeys(options))


def _query_variants(query: str) -> list[list[list[str]]]:
    """Readings of the query, each a list of token lists (keys) to score.

    The first reading leaves out filler words; the second (only if it differs) keeps them.
    A reading has more than one token list only when Cyrillic words need interpreting.
    """
    text = _PLUS.sub(r"\1 plus ", unicodedata.normalize("NFKC", query).lower())
    words = text.split()
    if not words:
        return []
    kept = [w for w in words if _compact(w) not in _STOPWORDS]
    # Read without the filler words first, and as typed too ("x gps" is the app, not "x").
    readings = [kept, words] if kept and len(kept) < len(words) else [words]
    out: list[list[list[str]]] = []
    for reading in readings:
        choices = [_word_options(w) for w in reading]
        variants: list[list[str]] = []
        for combo in itertools.islice(itertools.product(*choices), _MAX_VARIANTS):
            tokens = [k for k in (_key(w) for w in combo) if k]
            if tokens and tokens not in variants:
                variants.append(tokens)
        if variants:
            out.append(variants)
    return out


# --- key sets -------------------------------------------------------------------------------


class _KeySet:
    """Keys -> (model position, weight): exact, prefix, substring and typo lookups."""

    def __init__(self, entries: Iterable[tuple[str, int, float, bool]]) -> None:
        table: dict[str, dict[int, float]] = {}
        fuzzy: set[str] = set()
        for key, pos, weight, typos in entries:
            slot = table.setdefault(key, {})
            slot[pos] = max(weight, slot.get(pos, 0.0))
            if typos and len(key) >= 3:
                fuzzy.add(key)
        self._table = {k: tuple(v.items()) for k, v in table.items()}
        self._sorted = sorted(self._table)
        self._offsets: list[int] = []
        offset = 0
        for key in self._sorted:
            self._offsets.append(offset)
            offset += len(key) + 1
        self._joined = "\x00".join(self._sorted)
        # Typo candidates by (length, first two) and (length, last two characters): one edit
        # leaves at least one of the two ends intact.
        heads: dict[tuple[int, str], list[str]] = {}
        tails: dict[tuple[int, str], list[str]] = {}
        for key in sorted(fuzzy):
            heads.setdefault((len(key), key[:2]), []).append(key)
            tails.setdefault((len(key), key[-2:]), []).append(key)
        self._heads = heads
        self._tails = tails

    def __bool__(self) -> bool:
        return bool(self._sorted)

    def score(
        self, q: str, scores: dict[int, float], bonus: float = 0.0, *, exact_only: bool = False
    ) -> None:
        table = self._table

        def put(key: str, value: float) -> None:
            for pos, weight in table[key]:
                s = value * weight + bonus
                if s > scores.get(pos, 0.0):
                    scores[pos] = s

        n = len(q)
        if q in table:
            put(q, 100.0)
        if exact_only:
            return
        # Very short queries match half the index: look at fewer keys.
        cap = _SCAN_CAP if n > 3 else _SCAN_CAP // 3
        # Prefix: the key starts with the query.
        i = bisect.bisect_left(self._sorted, q)
        end = min(len(self._sorted), i + cap)
        while i < end and self._sorted[i].startswith(q):
            key = self._sorted[i]
            if len(key) > n:
                put(key, 80.0 + 15.0 * n / len(key))
            i += 1
        # Substring (not at the start).
        if n >= 3:
            joined, offsets = self._joined, self._offsets
            pos = joined.find(q)
            seen = 0
            while pos != -1 and seen < cap:
                idx = bisect.bisect_right(offsets, pos) - 1
                if pos != offsets[idx]:
                    key = self._sorted[idx]
                    put(key, 65.0 + 15.0 * n / len(key))
                seen += 1
                pos = joined.find(q, pos + 1)
        # Typos (OSA: insert, delete, substitute or swap two neighbours).
        if n >= 4:
            from rapidfuzz import process  # not at start-up (bot.app.warm_up: once quiet)
            from rapidfuzz.distance import OSA

            low = math.ceil(n * _FUZZY_CUTOFF)
            high = math.floor(n / _FUZZY_CUTOFF)
            for length in range(low, high + 1):
                for bucket in (self._heads.get((length, q[:2])), self._tails.get((length, q[-2:]))):
                    if not bucket:
                        continue
                    for key, sim, _ in process.extract(
                        q,
                        bucket,
                        scorer=OSA.normalized_similarity,
                        score_cutoff=_FUZZY_CUTOFF,
                        limit=_FUZZY_LIMIT,
                    ):
                        if key != q:
                            put(key, 90.0 * sim)


# --- the index ------------------------------------------------------------------------------


def _strip_prefix(key: str, prefixes: Iterable[str]) -> str:
    for prefix in prefixes:
        if prefix and key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _without_brackets(text: str) -> tuple[str, list[str]]:
    """("FMA120 (firmware 01.19) VT") -> ("FMA120  VT", ["firmware 01.19"])."""
    out: list[str] = []
    inner: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
            continue
        if ch == ")" and depth:
            depth -= 1
            if depth == 0:
                inner.append("".join(current))
                current = []
            continue
        (current if depth else out).append(ch)
    if current:
        inner.append("".join(current))
    return "".join(out), inner


def _vendor_keys(vendor: str) -> list[str]:
    """Keys a vendor is known by, longest first: "Jimi IoT" -> ["j1m110t", "j1m1"]."""
    keys = {_key(vendor)}
    words = unicodedata.normalize("NFKC", vendor).replace("-", " ").split()
    if len(words) > 1 and len(_key(words[0])) >= 3:
        keys.add(_key(words[0]))
    lower = _key(vendor)
    for suffix in ("tech", "10t", "techn010gy", "techn010gies", "gr0up"):
        if lower.endswith(suffix) and len(lower) - len(suffix) >= 4:
            keys.add(lower[: -len(suffix)])
    keys.discard("")
    return sorted(keys, key=len, reverse=True)


def _model_keys(model: DeviceModel, vendor_keys: list[str]) -> list[tuple[str, float, bool]]:
    """(key, weight, typo-tolerant) for a model. Vendor-prefixed keys get no typo lookup: a
    vendor word is recognised on its own and the rest searched among that vendor's models."""
    keys: list[tuple[str, float, bool]] = []

    def add(text_key: str, weight: float, *, min_len: int = 2, typos: bool = True) -> None:
        if len(text_key) >= min_len:
            keys.append((text_key, weight, typos))

    name = unicodedata.normalize("NFKC", model.name or model.code)
    vendor_key = vendor_keys[0] if vendor_keys else ""
    add(_key(model.code), 1.0, min_len=1)
    name_key = _key(name)
    add(name_key, 1.0, typos=name_key == _strip_prefix(name_key, vendor_keys))
    short_full = _strip_prefix(name_key, vendor_keys)
    add(short_full, 1.0)
    base, brackets = _without_brackets(name)
    short_base = _strip_prefix(_key(base), vendor_keys)
    # A name without its brackets ("GT06N" of "GT06N (GT80)") weighs a hair less than the
    # full name, so "fms500 light+ mqtt" and "fms500 light+" each find their own model.
    add(short_base, 0.995)
    if vendor_key:
        add(vendor_key + short_base, 0.995, typos=False)
        add(vendor_key + short_full, 1.0, typos=False)
    pieces = base.split("/")
    if len(pieces) > 1:
        for piece in pieces:
            add(_strip_prefix(_key(piece), vendor_keys), 0.98)
    for inner in brackets:
        inner_key = _key(inner)
        add(inner_key, 0.98 if any(ch.isdigit() for ch in inner_key) else 0.9)
    if "+" in name:
        plus = name.replace("+", " plus ")
        plus_base, _ = _without_brackets(plus)
        add(_strip_prefix(_key(plus_base), vendor_keys), 0.975)
        add(_strip_prefix(_key(plus), vendor_keys), 0.98)
    parts = [p for p in model.code.lower().split("_") if p]
    if len(parts) > 1:
        for part in parts:
            part_key = _key(part)
            if len(part_key) >= 3 and any(ch.isdigit() for ch in part_key):
                add(part_key, 0.95)
    if model.is_mobile_app:
        for synonym in _APP_SYNONYMS:
            add(_key(synonym), 0.97)
    seen: dict[str, tuple[float, bool]] = {}
    for text_key, weight, typos in keys:
        old_weight, old_typos = seen.get(text_key, (0.0, False))
        seen[text_key] = (max(weight, old_weight), typos or old_typos)
    return [(k, w, t) for k, (w, t) in seen.items()]


class ModelIndex:
    """Registrable models, searchable by code, vendor and name."""

    def __init__(
        self,
        models: list[DeviceModel],
        everything: _KeySet,
        vendor_sets: list[_KeySet],
        vendor_members: list[list[int]],
        vendor_lookup: dict[str, int],
        rank: list[int],
    ) -> None:
        self._models = tuple(models)
        self._by_code = {m.code: m for m in models}
        self._all = everything
        self._vendor_sets = vendor_sets
        self._vendor_members = vendor_members
        self._vendor_lookup = vendor_lookup
        self._vendor_key_list = list(vendor_lookup)
        self._vendor_key_lengths = sorted({len(k) for k in vendor_lookup}, reverse=True)
        self._rank = rank

    @classmethod
    def build(cls, models: Iterable[DeviceModel]) -> ModelIndex:
        kept: list[DeviceModel] = []
        codes: set[str] = set()
        for model in models:
            if model.registrable and model.code not in codes:
                codes.add(model.code)
                kept.append(model)
        vendor_ids: dict[str, int] = {}
        vendor_lookup: dict[str, int] = {}
        vendor_members: list[list[int]] = []
        per_vendor: list[list[tuple[str, int, float, bool]]] = []
        everything: list[tuple[str, int, float, bool]] = []
        sort_keys: list[tuple[bool, int, str, str, str]] = []
        known_vendors: dict[str, list[str]] = {}
        for pos, model in enumerate(kept):
            vendor_keys = known_vendors.get(model.vendor)
            if vendor_keys is None:
                vendor_keys = _vendor_keys(model.vendor) if model.vendor else []
                known_vendors[model.vendor] = vendor_keys
            vid: int | None = None
            if vendor_keys:
                main = vendor_keys[0]
                if main not in vendor_ids:
                    vendor_ids[main] = len(vendor_members)
                    vendor_members.append([])
                    per_vendor.append([])
                vid = vendor_ids[main]
                vendor_members[vid].append(pos)
                for vk in vendor_keys:
                    vendor_lookup.setdefault(vk, vid)
            keys = _model_keys(model, vendor_keys)
            for text_key, weight, typos in keys:
                everything.append((text_key, pos, weight, typos))
                if vid is not None:
                    per_vendor[vid].append((text_key, pos, weight, typos))
            short = min((k for k, w, _ in keys if w >= 0.995), key=len, default=model.code)
            sort_keys.append(
                (
                    model.parent_code is not None,
                    len(short),
                    model.vendor.lower(),
                    model.name.lower(),
                    model.code,
                )
            )
        order = sorted(range(len(kept)), key=lambda p: sort_keys[p])
        rank = [0] * len(kept)
        for r, pos in enumerate(order):
            rank[pos] = r
        return cls(
            kept,
            _KeySet(everything),
            [_KeySet(entries) for entries in per_vendor],
            vendor_members,
            vendor_lookup,
            rank,
        )

    def __len__(self) -> int:
        return len(self._models)

    @property
    def models(self) -> tuple[DeviceModel, ...]:
        return self._models

    def get(self, code: str) -> DeviceModel | None:
        """A registrable model by its exact code."""
        return self._by_code.get(code)

    def vendors(self) -> list[str]:
        """Vendor names of the registrable models, sorted case-insensitively."""
        names = {m.vendor for m in self._models if m.vendor}
        return sorted(names, key=lambda v: (v.lower(), v))

    def models_of(self, vendor: str) -> list[DeviceModel]:
        """Registrable models of one vendor (exact vendor name), base models first."""
        found = [p for p, m in enumerate(self._models) if m.vendor == vendor]
        return [self._models[p] for p in sorted(found, key=lambda p: self._rank[p])]

    def search(self, query: str, limit: int = 8) -> list[SearchHit]:
        """Best matches first; [] for an empty query or when nothing is close."""
        if limit <= 0 or not self._models:
            return []
        scores: dict[int, float] = {}
        readings = _query_variants(query[:200])
        for variants in readings:
            for tokens in variants:
                self._score_tokens(tokens, scores)
            if scores and max(scores.values()) >= _GOOD_ENOUGH:
                break
        if not scores:
            # Nothing matches the whole query ("gv300 black"): try its words one by one.
            partial: dict[int, float] = {}
            for tokens in itertools.chain.from_iterable(readings):
                if len(tokens) > 1:
                    for token in tokens:
                        if len(token) >= 2:
                            self._all.score(token, partial)
            scores = {pos: score * _WORD_FACTOR for pos, score in partial.items()}
        if not scores:
            return []
        rank = self._rank
        best = heapq.nsmallest(limit, scores.items(), key=lambda item: (-item[1], rank[item[0]]))
        top = best[0][1]
        return [
            SearchHit(self._models[pos], round(min(score, 100.0), 1))
            for pos, score in best
            if score >= top - _KEEP_WITHIN
        ]

    def _find_vendor(self, token: str) -> int | None:
        vid = self._vendor_lookup.get(token)
        if vid is None and len(token) >= 5 and self._vendor_key_list:
            from rapidfuzz import process
            from rapidfuzz.distance import OSA

            found = process.extractOne(
                token,
                self._vendor_key_list,
                scorer=OSA.normalized_similarity,
                score_cutoff=_VENDOR_CUTOFF,
            )
            if found is not None:
                vid = self._vendor_lookup[found[0]]
        return vid

    def _score_tokens(self, tokens: list[str], scores: dict[int, float]) -> None:
        whole = "".join(tokens)
        # A vendor name alone lists that vendor (below); no need to scan every key it prefixes.
        self._all.score(whole, scores, exact_only=whole in self._vendor_lookup)
        found: list[tuple[int, str]] = []
        for i in range(len(tokens)):
            for span in (2, 1) if i + 1 < len(tokens) else (1,):
                vid = (
                    self._vendor_lookup.get(tokens[i] + tokens[i + 1])
                    if span == 2
                    else self._find_vendor(tokens[i])
                )
                if vid is not None:
                    found.append((vid, "".join(tokens[:i] + tokens[i + span :])))
                    break
        if not found:
            for length in self._vendor_key_lengths:
                if length < len(whole) and whole[:length] in self._vendor_lookup:
                    found.append((self._vendor_lookup[whole[:length]], whole[length:]))
                    break
        for vid, rest in found:
            if rest:
                self._vendor_sets[vid].score(rest, scores, _VENDOR_BONUS)
            else:
                for pos in self._vendor_members[vid]:
                    if scores.get(pos, 0.0) < _VENDOR_LIST_SCORE:
                        scores[pos] = _VENDOR_LIST_SCORE


def preload() -> None:
    """Import what a fuzzy search needs (rapidfuzz), ahead of the first search that
    needs it; `bot.app` calls it in a thread soon after start."""
    from rapidfuzz import process  # noqa: F401
    from rapidfuzz.distance import OSA  # noqa: F401
