"""Navixy API v2 client."""
