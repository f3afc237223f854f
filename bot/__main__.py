"""`python -m bot`: the bot (`bot.app.main`), or `python -m bot backup ...`.

PTB imports its webhook server (tornado: ~20 ms and 3 MB) whenever tornado is installed;
a bot that polls never uses it, so in polling mode tornado is kept out before PTB loads.

The garbage collector is off while the bot starts: imports and pydantic's schemas make
~130k objects that live as long as the process, and the collections they trigger only walk
them again (40-80 ms of a ~0.5 s start). `bot.app` freezes what start-up made and turns
the collector back on once the services are up, before the first getUpdates.
"""

from __future__ import annotations

import gc
import sys


def _polling() -> bool:
    from bot.config import SettingsError, load_settings

    try:
        return not load_settings().uses_webhook
    except SettingsError:
        return False  # main() reports the problems


def prepare(args: list[str]) -> None:
    """Before anything imports PTB: keep tornado out unless the bot runs a webhook, and the
    collector off until start-up is done (`bot.app` turns it back on)."""
    if args[:1] == ["backup"]:
        return
    gc.disable()
    if "telegram.ext" not in sys.modules and _polling():
        # A None entry makes `import tornado` fail: PTB then marks webhooks unavailable.
        sys.modules.setdefault("tornado", None)  # type: ignore[arg-type]


def run(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    prepare(args)
    if args[:1] != ["backup"]:
        import httpx  # noqa: F401  (imported by PTB anyway; the TLS thread needs it whole)

        from bot.tls import build_in_background

        build_in_background()  # the CA bundle loads while the rest of the bot imports
    from bot.app import main

    return main(args)


if __name__ == "__main__":
    sys.exit(run())
