"""Typed access to request parameters, collecting Navixy-style error-7 items.

JSON bodies are strict: an int parameter must be a JSON integer, a string parameter a JSON
string. In the form and GET styles every value is text: integers and booleans are parsed from
it and arrays come as JSON text (docs §1). A JSON `null` counts as "not sent".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bot.sandbox.errors import ApiError

_INT_TEXT = re.compile(r"-?[0-9]{1,18}")

REQUIRED = "required parameter is missing"


class Params:
    def __init__(self, raw: Mapping[str, Any], typed_keys: frozenset[str]) -> None:
        self._raw = raw
        self._typed = typed_keys
        self.errors: list[dict[str, str]] = []

    def has(self, name: str) -> bool:
        return self._raw.get(name) is not None

    def error(self, name: str, text: str) -> None:
        if not any(item["parameter"] == name for item in self.errors):
            self.errors.append({"parameter": name, "error": text})

    def raise_errors(self) -> None:
        if self.errors:
            raise ApiError(7, errors=list(self.errors))

    def _value(self, name: str, required: bool) -> tuple[Any, bool] | None:
        value = self._raw.get(name)
        if value is None:
            if required:
                self.error(name, REQUIRED)
            return None
        return value, name in self._typed

    def string(self, name: str, *, required: bool = False) -> str | None:
        got = self._value(name, required)
        if got is None:
            return None
        value, _typed = got
        if not isinstance(value, str):
            self.error(name, "must be a string")
            return None
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        got = self._value(name, required)
        if got is None:
            return None
        value, typed = got
        if typed:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif isinstance(value, str) and _INT_TEXT.fullmatch(value):
            return int(value)
        self.error(name, "must be an integer")
        return None

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        got = self._value(name, required)
        if got is None:
            return None
        value, typed = got
        if typed:
            if isinstance(value, bool):
                return value
        elif isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.error(name, "must be a boolean")
        return None

    def array(self, name: str, *, required: bool = False) -> list[Any] | None:
        got = self._value(name, required)
        if got is None:
            return None
        value, typed = got
        if not typed and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                self.error(name, "must be a JSON array")
                return None
        if not isinstance(value, list):
            self.error(name, "must be an array")
            return None
        return value

    def int_array(self, name: str, *, required: bool = False) -> list[int] | None:
        items = self.array(name, required=required)
        if items is None:
            return None
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            self.error(name, "must be an array of integers")
            return None
        return [int(i) for i in items]

    def str_array(self, name: str, *, required: bool = False) -> list[str] | None:
        items = self.array(name, required=required)
        if items is None:
            return None
        if not all(isinstance(i, str) for i in items):
            self.error(name, "must be an array of strings")
            return None
        return [str(i) for i in items]
