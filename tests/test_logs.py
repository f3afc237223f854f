"""The log filter keeps known secrets out of messages and tracebacks."""

from __future__ import annotations

import io
import logging

from bot.logs import RedactingFilter

SECRET = "123456:AAH-bot-token-value"


def _logger() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter([SECRET]))
    logger = logging.getLogger("tests.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_message_and_traceback_are_redacted() -> None:
    logger, out = _logger()
    logger.info("calling https://api.telegram.org/bot%s/getMe", SECRET)
    try:
        raise RuntimeError(f"request to /bot{SECRET}/sendMessage failed")
    except RuntimeError:
        logger.exception("handler failed")
    text = out.getvalue()
    assert SECRET not in text
    assert text.count("[redacted]") == 2
    assert "RuntimeError: request to /bot[redacted]/sendMessage failed" in text
