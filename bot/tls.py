"""One TLS context for every HTTPS client of the process (Telegram's and Navixy's).

Each `httpx` client otherwise builds its own context and loads the CA bundle into it again:
about 20 ms and some memory per client, and start-up builds five (the checks' Bot and
Navixy client, PTB's two request objects, the Navixy client). The context is the one httpx
builds by default (certifi's bundle, or `SSL_CERT_FILE` / `SSL_CERT_DIR`). Every client
speaks HTTP/1.1, so the ALPN list httpcore sets on the context per connection is the same
for all of them.
"""

from __future__ import annotations

import ssl
from functools import cache


@cache
def client_context() -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context()
