"""Reading device IDs (IMEI, MEID, ...) from photos of tracker labels: zxing-cpp off the loop."""

from bot.photo.reader import (
    MAX_CONCURRENT_DECODES,
    CodeKind,
    PhotoProblem,
    PhotoReading,
    SeenCode,
    classify_code,
    read_device_ids,
    read_device_ids_async,
    shutdown_executor,
)

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
