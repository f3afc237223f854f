"""`python -m bot.sandbox [--host H] [--port N]`: run the Navixy stand-in until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot.sandbox.server import NavixySandbox


async def _serve(host: str, port: int, login: str, password: str) -> None:
    sandbox = NavixySandbox(users={login: password})
    base_url = await sandbox.start(host, port)
    api_key = sandbox.new_api_key()
    codes = [sandbox.new_activation_code() for _ in range(3)]
    print(f"Navixy sandbox: {base_url}")
    print(f"API key:        {api_key}")
    print(f"Login:          {login} / {password}")
    print(f"Activation codes (plugins 37/68): {', '.join(codes)}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (default)")
    parser.add_argument("--login", default="installer@example.com")
    parser.add_argument("--password", default="sandbox")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.login, args.password))


if __name__ == "__main__":
    main()
