"""The Bot API over httpx with JSON bodies.

PTB's `HTTPXRequest` form-encodes every call, and urllib quotes the form byte by byte in
Python: for our HTML cards and keyboards (Cyrillic and Arabic text triple the bytes) that
was a visible share of a reply's CPU. Telegram takes `application/json` for every method;
only uploads (a photo, a document) need multipart, and they keep PTB's encoding.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.tls import client_context

_JSON_HEADERS = {"User-Agent": BaseRequest.USER_AGENT, "Content-Type": "application/json"}
_UPLOAD_HEADERS = {"User-Agent": BaseRequest.USER_AGENT}
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class BotApiRequest(BaseRequest):
    """One httpx client for Bot API calls (PTB's `BaseRequest` contract)."""

    __slots__ = ("_client", "_limits", "_media_write_timeout", "_timeout")

    def __init__(
        self,
        *,
        connection_pool_size: int,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        self._limits = httpx.Limits(max_connections=connection_pool_size)
        self._media_write_timeout = media_write_timeout
        self._client = self._new_client()

    def _new_client(self) -> httpx.AsyncClient:
        # One TLS context for the process (bot/tls.py): not a CA bundle load per client.
        return httpx.AsyncClient(
            timeout=self._timeout, limits=self._limits, verify=client_context()
        )

    @property
    def read_timeout(self) -> float | None:
        return self._timeout.read

    async def initialize(self) -> None:
        if self._client.is_closed:
            self._client = self._new_client()

    async def shutdown(self) -> None:
        if not self._client.is_closed:
            await self._client.aclose()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._client.is_closed:
            raise RuntimeError("This BotApiRequest is not initialized!")
        upload = request_data is not None and request_data.contains_files
        default_write = self._media_write_timeout if upload else self._timeout.write
        timeout = httpx.Timeout(
            connect=_given(connect_timeout, self._timeout.connect),
            read=_given(read_timeout, self._timeout.read),
            write=_given(write_timeout, default_write),
            pool=_given(pool_timeout, self._timeout.pool),
        )
        try:
            if request_data is None:
                response = await self._client.request(
                    method, url, headers=_UPLOAD_HEADERS, timeout=timeout
                )
            elif upload:
                response = await self._client.request(
                    method,
                    url,
                    headers=_UPLOAD_HEADERS,
                    timeout=timeout,
                    files=request_data.multipart_data,
                    data=request_data.json_parameters,
                )
            else:
                response = await self._client.request(
                    method,
                    url,
                    headers=_JSON_HEADERS,
                    timeout=timeout,
                    content=_encode(request_data.parameters).encode(),
                )
        except httpx.TimeoutException as err:
            if isinstance(err, httpx.PoolTimeout):
                raise TimedOut(
                    "Pool timeout: all connections are busy; the request was not sent"
                ) from err
            raise TimedOut from err
        except httpx.HTTPError as err:
            # PTB's own mapping: any other transport error is a NetworkError.
            raise NetworkError(f"httpx.{err.__class__.__name__}: {err}") from err
        return response.status_code, response.content


def _given(value: Any, default: float | None) -> float | None:
    """A timeout the caller passed, or ours (PTB passes `DEFAULT_NONE` for "not given")."""
    if isinstance(value, type(BaseRequest.DEFAULT_NONE)):
        return default
    return value  # type: ignore[no-any-return]
