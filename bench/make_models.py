"""Make a large, plausible `tracker/list_models` response for the search latency benchmark.

The real platform has about 1,800 models; the bot must stay fast well beyond that. Starting from
the shipped 77-model list, this adds model families of the same vendors (Teltonika FMB/FMC/FMM/
FMU..., Queclink GV/GL/GMT..., Concox GT/AT/X...), dealer clones (`_vt`), firmware and "Lite/
Plus/4G" variants, and made-up vendors with their own series, until COUNT models. Objects are
compact: only the fields the bot's search and registration flow read. Deterministic per seed.

    python -m bench.make_models --out bench/data/models-5000.json --count 5000 --seed 5000
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "bot" / "sandbox" / "data" / "navixy-models.json"
FIELDS = (
    "id", "vendor", "code", "parent_code", "type", "name", "id_type",
    "has_phone", "has_apn_settings", "register",
)  # fmt: skip

# vendor -> (code prefix, series letters, share of the generated models)
KNOWN: dict[str, tuple[str, tuple[str, ...], int]] = {
    "Teltonika": ("tel", ("FMB", "FMC", "FMM", "FMU", "FMP", "FMT", "FMA", "FM", "TAT", "GH"), 14),
    "Queclink": ("ql", ("GV", "GL", "GMT", "GB", "GS", "GT"), 10),
    "Concox": ("concox", ("GT", "AT", "X", "JM", "WeTrack", "OB", "HVT"), 7),
    "Jimi IoT": ("jimi_", ("JC", "JM", "VL", "LL", "GT"), 4),
    "Ruptela": ("ruptela_", ("Pro", "HCV", "Eco", "Trace", "Smart", "FM-Eco"), 3),
    "Meitrack": ("meitrack", ("T", "MVT", "TC", "P", "K", "GT"), 4),
    "BCE": ("bce_", ("FMS", "FM Light", "FMS500"), 2),
    "CalAmp": ("calamp_", ("LMU-", "TTU-", "CalAmp "), 3),
    "ATrack": ("atrack_", ("AK", "AX", "AS", "AL", "AT"), 3),
    "Eelink": ("eelink_", ("GOT", "TK", "GPT", "GS"), 2),
    "TopFlyTech": ("topfly_", ("T", "TLD", "TLW", "TLP"), 2),
    "Navixy": ("navixy_", ("M", "S", "A"), 1),
    "WondeProud": ("wp_", ("TT", "VT", "WP"), 1),
}
SYLLABLES_A = (
    "Sino", "Geo", "Navi", "Fleet", "Auto", "Go", "Star", "Omni", "Kin", "Blue", "Road", "Car",
    "Smart", "Loc", "Guard", "Trak", "Orbi", "Terra", "Polar", "Vega", "Atlas", "Nord", "Volt",
    "Pulse", "Astra", "Micro", "Tera", "Zen", "Hexa", "Quant",
)  # fmt: skip
SYLLABLES_B = (
    "track", "link", "tech", "sat", "tel", "gps", "nav", "com", "sense", "sky", "trace", "view",
    "mate", "point", "wave", "net",
)  # fmt: skip
SUFFIXES = (
    "", "", "", "", "", " Lite", " Pro", " Plus", "+", " 4G", " LTE", " 3G", " Mini", " Max",
    " B", " E", " N", " W", " S", " Eco",
)  # fmt: skip
ID_TYPES = ("imei",) * 40 + ("id,8", "id,10", "meid", "ascii,6,64", "ascii,8,20", "10,2")
TYPES = ("vehicle",) * 6 + ("portable", "personal", "logger")


def _load_shipped() -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = json.loads(SHIPPED.read_text(encoding="utf-8"))["list"]
    return [{k: m.get(k) for k in FIELDS} for m in models]


def _made_up_vendors(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        names.add(rng.choice(SYLLABLES_A) + rng.choice(SYLLABLES_B))
    return sorted(names)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def make(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    models = _load_shipped()
    codes = {m["code"] for m in models}
    next_id = 10_000

    vendors: list[tuple[str, str, tuple[str, ...], int]] = [
        (vendor, prefix, series, share) for vendor, (prefix, series, share) in KNOWN.items()
    ]
    for vendor in _made_up_vendors(rng, 150):
        letters = "".join(ch for ch in vendor.upper() if ch.isalpha())
        series = tuple({letters[:2], letters[0] + letters[-1], letters[:3], rng.choice("TGVXM")})
        vendors.append((vendor, _slug(vendor)[:6] + "_", series, 1))
    weights = [share for _, _, _, share in vendors]

    while len(models) < count:
        vendor, prefix, series, _ = rng.choices(vendors, weights)[0]
        letters = rng.choice(series)
        number = str(
            rng.choice((rng.randint(1, 99), rng.randint(100, 999), rng.randint(1000, 9999)))
        )
        if rng.random() < 0.3 and len(number) >= 3:
            number = number[:-1] + "0"
        suffix = rng.choice(SUFFIXES)
        sep = " " if letters[-1].isalpha() and letters[-1].islower() else ""
        model_name = f"{letters}{sep}{number}{suffix}"
        extra = ""
        if rng.random() < 0.05:
            extra = f" (firmware {rng.randint(1, 4):02d}.{rng.randint(0, 40):02d})"
        elif rng.random() < 0.04:
            extra = f" / {letters}{int(number) + rng.randint(1, 9)}"
        name = f"{vendor} {model_name}{extra}" if rng.random() < 0.9 else f"{model_name}{extra}"
        code = prefix + _slug(model_name.replace("+", "plus"))
        if extra.startswith(" (firmware"):
            code += "_fw" + _slug(extra)[-4:]
        elif extra:
            code += "_" + _slug(extra)
        if code in codes:
            continue
        id_type = rng.choice(ID_TYPES)
        has_phone = id_type != "10,2" or rng.random() < 0.5
        base = {
            "id": next_id,
            "vendor": vendor,
            "code": code,
            "parent_code": None,
            "type": rng.choice(TYPES),
            "name": name,
            "id_type": id_type,
            "has_phone": has_phone,
            "has_apn_settings": has_phone and rng.random() < 0.9,
            "register": rng.random() < 0.95,
        }
        next_id += 1
        codes.add(code)
        models.append(base)
        if rng.random() < 0.15 and len(models) < count and code + "_vt" not in codes:
            clone = dict(base, id=next_id, code=code + "_vt", parent_code=code, name=name + " VT")
            next_id += 1
            codes.add(clone["code"])
            models.append(clone)
    return models[:count]


def write(models: list[dict[str, Any]], path: Path) -> None:
    lines = ",\n".join(json.dumps(m, ensure_ascii=False, separators=(",", ":")) for m in models)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"success":true,"list":[\n' + lines + "\n]}\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.make_models", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "data" / "models-5000.json")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=5000)
    args = parser.parse_args(argv)
    models = make(args.count, args.seed)
    write(models, args.out)
    size = args.out.stat().st_size
    print(f"wrote {len(models)} models to {args.out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
