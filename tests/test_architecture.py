"""The layering rules of docs/ARCHITECTURE.md, checked on the source (no import needed).

- no import cycle between the bot's modules (deferred imports included);
- nothing under bot/telegram/ imports bot.storage or bot.navixy.client (handlers ask
  services); bot/domain/ imports neither telegram nor storage nor services;
- Navixy codes are compared in the code table only (bot/domain/navixy_outcomes.py);
- `bot_data` is read by key only in `bot/telegram/context.py` (`BotContext`).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOT = ROOT / "bot"


def _modules() -> dict[str, Path]:
    out = {}
    for path in BOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found.update(n for n in names if n in known)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_no_import_cycle() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_layers() -> None:
    problems = []
    for module, imported in _graph().items():
        for target in imported:
            if module.startswith("bot.telegram") and (
                target.startswith("bot.storage") or target.startswith("bot.navixy.client")
            ):
                problems.append(f"{module} imports {target}")
            if module.startswith("bot.domain") and target.startswith(
                ("bot.telegram", "bot.storage", "bot.services", "bot.navixy.client")
            ):
                problems.append(f"{module} imports {target}")
    assert problems == []


def test_navixy_codes_only_in_the_table() -> None:
    """The issue's check: `grep -rn "== 224\\|in (7,\\|code == " bot/`, Navixy codes only."""
    pattern = re.compile(r"== 224|in \(7,|code == ")
    allowed = {
        # Not Navixy codes: an HTTP status, a process exit code, a docstring.
        "bot/ops/health.py",
        "bot/ops/polling.py",
        "bot/photo/ocr.py",
        "bot/navixy/errors.py",
    }
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in BOT.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and str(path.relative_to(ROOT)) not in allowed
    ]
    assert hits == []


def test_bot_data_keys_only_in_the_context() -> None:
    """Handlers read the services through `BotContext` (bot/telegram/context.py): no other
    module under bot/telegram/ looks into `bot_data` by key."""
    pattern = re.compile(r"bot_data\[|bot_data\.get\(")
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in (BOT / "telegram").rglob("*.py")
        if path.name != "context.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []
