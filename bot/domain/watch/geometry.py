"""Distance between the device's fix and the installer's shared location (haversine),
and the verdict: more than a few hundred metres means a wrong IMEI, a wrong vehicle or a
stale buffered point; and where devices send their data (the manual configuration).
"""

from __future__ import annotations

import math
from enum import StrEnum

# --- distance -------------------------------------------------------------------------------

EARTH_RADIUS_M = 6_371_008.8
#: More than this between the device's fix and the installer: something is wrong.
NEAR_METRES = 300.0


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


class DistanceVerdict(StrEnum):
    NEAR = "near"
    FAR = "far"


def distance_verdict(metres: float) -> DistanceVerdict:
    return DistanceVerdict.NEAR if metres <= NEAR_METRES else DistanceVerdict.FAR


# --- manual configuration -------------------------------------------------------------------


def tracker_server(api_url: str) -> str | None:
    """Where devices send their data, from the API URL (docs §1); None = unknown."""
    url = api_url.lower()
    if "api.us.navixy.com" in url:
        return "tracker.us.navixy.com"
    if "navixy.com" in url or url == "sandbox" or "127.0.0.1" in url or "localhost" in url:
        return "tracker.navixy.com"
    return None
