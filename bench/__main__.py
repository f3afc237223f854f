"""`python -m bench search ...`, `python -m bench photos ...`, `python -m bench load ...`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Installer Bot benchmarks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{search,photos,load}")
    # The subcommands parse their own options (help included).
    sub.add_parser("search", help="model search accuracy and latency", add_help=False)
    sub.add_parser("photos", help="device ID reading from label photos", add_help=False)
    sub.add_parser("load", help="many installers, watched devices, vs an echo bot", add_help=False)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.command == "search":
        from bench import search

        return search.main(rest)
    if args.command == "load":
        from bench import load

        return load.main(rest)
    from bench import photos  # written separately; imported only when asked for

    return int(photos.main(rest))


if __name__ == "__main__":
    raise SystemExit(main())
