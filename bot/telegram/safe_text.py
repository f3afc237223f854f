"""Telegram HTML that Telegram always accepts: the one place that makes text sendable.

Every text the bot sends goes through `fit_html()` in the send layer (`bot.telegram.common`):
the markup our templates use (``<b>``, ``<i>``, ``<code>``, ``<a href="...">``, ...) is kept,
anything else that HTML mode would choke on (a bare ``<``, ``>`` or ``&`` in a template, a
translation or a value someone forgot to escape) is escaped, unbalanced tags are closed or
dropped, and the text is clipped to Telegram's limit, counted as Telegram counts it: visible
characters after entity parsing, in UTF-16 code units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

#: Telegram's limits: message text (after entity parsing), callback answer text.
MAX_TEXT = 4096
MAX_CALLBACK_TEXT = 200
ELLIPSIS = "…"

# The tags Telegram's HTML mode knows (core.telegram.org/bots/api#html-style).
_ALLOWED = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "a",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "blockquote",
    }
)
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*\"[^\"<>]*\")?)*)\s*>",
)
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_ESCAPES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
#: A run of characters sent as they are (one token, not one per character: every message
#: and edit of the bot goes through `fit_html`).
_PLAIN = re.compile(r"[^<>&\ud800-\udfff]+")


@dataclass(frozen=True)
class _Token:
    raw: str  # what is sent
    visible: str  # what Telegram shows ("" for tags)
    tag: str | None = None  # tag name for open/close tags
    closing: bool = False


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        plain = _PLAIN.match(text, i)
        if plain is not None:
            run = plain.group(0)
            out.append(_Token(run, run))
            i = plain.end()
            continue
        ch = text[i]
        if ch == "<":
            match = _TAG.match(text, i)
            if match is not None and match.group(2).lower() in _ALLOWED:
                name = match.group(2).lower()
                closing = match.group(1) == "/"
                if closing and match.group(3):
                    out.append(_Token(_ESCAPES["<"], "<"))  # "</b x>" is no tag
                    i += 1
                    continue
                out.append(_Token(match.group(0), "", name, closing))
                i = match.end()
                continue
            out.append(_Token(_ESCAPES["<"], "<"))
        elif ch == ">":
            out.append(_Token(_ESCAPES[">"], ">"))
        elif ch == "&":
            match = _ENTITY.match(text, i)
            if match is not None:
                try:
                    visible = unescape(match.group(0))
                    visible.encode("utf-16-le")
                except (ValueError, UnicodeEncodeError):
                    out.append(_Token(_ESCAPES["&"], "&"))
                else:
                    out.append(_Token(match.group(0), visible))
                    i = match.end()
                    continue
            else:
                out.append(_Token(_ESCAPES["&"], "&"))
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(_Token("\ufffd", "\ufffd"))  # a lone surrogate cannot be sent
        else:
            out.append(_Token(ch, ch))
        i += 1
    return out


def _balanced(tokens: list[_Token]) -> list[_Token]:
    """Drop closing tags that close nothing; nested tags must close in order."""
    stack: list[str] = []
    out: list[_Token] = []
    for token in tokens:
        if token.tag is None:
            out.append(token)
        elif not token.closing:
            stack.append(token.tag)
            out.append(token)
        elif stack and stack[-1] == token.tag:
            stack.pop()
            out.append(token)
        # else: a stray closing tag: dropped
    return out


def fit_html(text: str, limit: int = MAX_TEXT) -> str:
    """`text` as HTML Telegram accepts, at most `limit` visible UTF-16 units (clipped with …)."""
    tokens = _balanced(_tokens(text))
    total = sum(utf16_len(t.visible) for t in tokens)
    budget = limit if total <= limit else limit - utf16_len(ELLIPSIS)
    out: list[str] = []
    stack: list[str] = []
    used = 0
    clipped = False
    for token in tokens:
        size = utf16_len(token.visible)
        if used + size > budget:
            if token.tag is None and token.raw == token.visible:  # a run: the part that fits
                part = _clip_run(token.raw, budget - used)
                out.append(part)
            clipped = True
            break
        used += size
        out.append(token.raw)
        if token.tag is not None:
            if token.closing:
                stack.pop()
            else:
                stack.append(token.tag)
    if clipped:
        out.append(ELLIPSIS)
    out.extend(f"</{name}>" for name in reversed(stack))
    return "".join(out)


def _clip_run(run: str, budget: int) -> str:
    used = 0
    for end, ch in enumerate(run):
        used += utf16_len(ch)
        if used > budget:
            return run[:end]
    return run


def plain_text(html_text: str, limit: int = MAX_TEXT) -> str:
    """What `html_text` shows, as plain text (the fallback when Telegram refuses the markup)."""
    visible = "".join(t.visible for t in _tokens(html_text))
    return clip_plain(visible, limit)


def clip_plain(text: str, limit: int) -> str:
    if utf16_len(text) <= limit:
        return text
    out: list[str] = []
    used = 0
    budget = limit - utf16_len(ELLIPSIS)
    for ch in text:
        size = utf16_len(ch)
        if used + size > budget:
            break
        out.append(ch)
        used += size
    return "".join(out) + ELLIPSIS
