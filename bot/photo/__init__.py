"""Reading device IDs (IMEI, MEID, ...) from photos of tracker labels: zxing-cpp off the loop.

The result types (`bot.photo.kinds`) are light; the reader and the imaging stack (OpenCV,
numpy, zxing-cpp: about 60 MB and 0.7 s) are imported on first use of a reading function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.photo.kinds import CodeKind, PhotoProblem, PhotoReading, SeenCode

if TYPE_CHECKING:
    from bot.photo.reader import (
        MAX_CONCURRENT_DECODES,
        classify_code,
        read_device_ids,
        read_device_ids_async,
        shutdown_executor,
    )

_READER = frozenset(
    {
        "MAX_CONCURRENT_DECODES",
        "classify_code",
        "read_device_ids",
        "read_device_ids_async",
        "shutdown_executor",
    }
)


def __getattr__(name: str) -> Any:
    if name in _READER:
        from bot.photo import reader

        return getattr(reader, name)
    raise AttributeError(f"module 'bot.photo' has no attribute {name!r}")


__all__ = [
    "MAX_CONCURRENT_DECODES",
    "CodeKind",
    "PhotoProblem",
    "PhotoReading",
    "SeenCode",
    "classify_code",
    "read_device_ids",
    "read_device_ids_async",
    "shutdown_executor",
]
