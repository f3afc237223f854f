"""One TLS context for every HTTPS client of the process (Telegram's and Navixy's).

Each `httpx` client otherwise builds its own context and loads the CA bundle into it again:
about 20 ms and some memory per client, and start-up builds five (the checks' Bot and
Navixy client, PTB's two request objects, the Navixy client). The context is the one httpx
builds by default (certifi's bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR`). Every client
speaks HTTP/1.1, so the ALPN list httpcore sets on the context per connection is the same
for all of them.

`python -m bot` starts building it in a thread before importing the rest of the bot:
OpenSSL reads the bundle without holding the GIL, so it costs start-up nothing.
"""

from __future__ import annotations

import contextlib
import ssl
import threading

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def client_context() -> ssl.SSLContext:
    global _context
    with _lock:
        if _context is None:
            import httpx

            _context = httpx.create_ssl_context()
        return _context


def build_in_background() -> None:
    """Start building the context off the main thread (a failure is raised, one clear
    line, when a client first asks for it)."""

    def build() -> None:
        with contextlib.suppress(Exception):
            client_context()

    threading.Thread(target=build, name="tls-context", daemon=True).start()
