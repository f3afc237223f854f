"""`python -m bot backup DEST`: a consistent copy of the database, while the bot runs.

SQLite's online backup API copies a snapshot page by page; writers are not stopped and
the copy is never half-written (it is written to DEST.partial and renamed).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path


def backup(source: Path, dest: Path) -> int:
    """Copy `source` to `dest` (a file, or a folder to put a dated file in); returns bytes."""
    if dest.is_dir():
        from datetime import UTC, datetime

        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        dest = dest / f"{source.stem}-{stamp}.db"
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        out = sqlite3.connect(partial)
        try:
            src.backup(out, pages=1024)
            out.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
        finally:
            out.close()
    finally:
        src.close()
    os.replace(partial, dest)
    print(f"backup written: {dest}")
    return dest.stat().st_size


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot backup",
        description="Copy the bot's SQLite database consistently, even while the bot runs.",
    )
    parser.add_argument("dest", type=Path, help="file to write, or an existing folder")
    parser.add_argument(
        "--database", type=Path, help="database to copy (default: DATABASE_PATH from settings)"
    )
    args = parser.parse_args(argv)
    source: Path | None = args.database
    if source is None:
        from bot.config import SettingsError, load_settings

        try:
            source = load_settings().database_path
        except SettingsError as exc:
            for problem in exc.problems:
                print(f"configuration error: {problem}", file=sys.stderr)
            return 2
    if not source.exists():
        print(f"backup error: no database at {source}", file=sys.stderr)
        return 1
    try:
        backup(source, args.dest)
    except (OSError, sqlite3.Error) as exc:
        print(f"backup error: {exc}", file=sys.stderr)
        return 1
    return 0
