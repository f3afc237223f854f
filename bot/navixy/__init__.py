"""Navixy API v2 client."""

from bot.navixy.client import NavixyClient
from bot.navixy.errors import NavixyError, NavixyUnavailable

__all__ = ["NavixyClient", "NavixyError", "NavixyUnavailable"]
