"""Telegram's validation rules for the fake Bot API server (tests/fakes/telegram.py).

Pure functions, no I/O: formatted-text parsing (HTML, MarkdownV2, legacy Markdown) into
plain text plus entities (offsets in UTF-16 code units, like Telegram), reply-markup
validation, inline-query result validation. Every rejection raises `ApiError` carrying
Telegram's own wording where it is known (see docs/ptb-22-notes.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
MAX_BUTTONS = 100
MAX_INLINE_RESULTS = 50
MAX_RESULT_ID = 64  # bytes
MAX_NEXT_OFFSET = 64  # bytes
MAX_CALLBACK_ANSWER_TEXT = 200

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"


class ApiError(Exception):
    """A Bot API error reply: {"ok": false, "error_code": code, "description": ...}."""

    def __init__(
        self, description: str, code: int = 400, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.description = description
        self.code = code
        self.parameters = parameters


def bad(description: str) -> ApiError:
    return ApiError(f"Bad Request: {description}")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


class _EntityParseError(Exception):
    pass


# ---------------------------------------------------------------------------- formatted text

_HTML_TAGS = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
    "pre": "pre",
    "code": "code",
    "blockquote": "blockquote",
}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = " \t\r\n\v\f"


def _decode_html_entity(text: str, i: int) -> tuple[str, int] | None:
    """`text[i] == "&"`: the decoded character and the index after `;`, or None."""
    end = text.find(";", i + 1)
    if end == -1 or end - i > 12:
        return None
    name = text[i + 1 : end]
    if name in _HTML_NAMED:
        return _HTML_NAMED[name], end + 1
    try:
        if name.startswith(("#x", "#X")):
            code = int(name[2:], 16)
        elif name.startswith("#") and name[1:].isdigit():
            code = int(name[1:])
        else:
            return None
        return chr(code), end + 1
    except (ValueError, OverflowError):
        return None


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0  # UTF-16 units
        self.entities: list[dict[str, Any]] = []

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.pos += utf16_len(s)

    def entity(self, etype: str, start: int, extra: Mapping[str, Any] | None = None) -> None:
        if self.pos > start:
            ent: dict[str, Any] = {"type": etype, "offset": start, "length": self.pos - start}
            if extra:
                ent.update(extra)
            self.entities.append(ent)

    def text(self) -> str:
        return "".join(self.parts)


def _parse_html(text: str, *, strict_ampersand: bool) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    stack: list[tuple[str, dict[str, Any], int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.add(decoded[0])
                i = decoded[1]
                continue
            if strict_ampersand:
                # Stricter than Telegram, which keeps an undecodable "&" as is: an unescaped
                # "&" means the bot forgot html.escape() and "&lt;" in data would break.
                raise _EntityParseError(
                    f'Unsupported HTML entity: unescaped "&" at byte offset {_byte_offset(text, i)}'
                )
            out.add(c)
            i += 1
            continue
        if c != "<":
            out.add(c)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            # end tag
            if not stack:
                raise _EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
                )
            j = i + 1
            while j < n and text[j] not in _SPACE and text[j] != ">":
                j += 1
            end_name = text[i + 1 : j].lower()
            while j < n and text[j] in _SPACE:
                j += 1
            if j >= n or text[j] != ">":
                raise _EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(text, begin)}"
                )
            tag, attrs, start = stack.pop()
            if end_name and end_name != tag:
                raise _EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{tag}>", found "</{end_name}>"'
                )
            etype = _HTML_TAGS[tag]
            extra: dict[str, Any] = {}
            if tag == "a":
                href = attrs.get("href", "")
                if not href:
                    etype = ""  # an <a> without href is plain text
                extra["url"] = href
            elif tag == "pre" and attrs.get("language"):
                extra["language"] = attrs["language"]
            elif tag == "tg-emoji":
                extra["custom_emoji_id"] = attrs.get("emoji-id", "")
            elif tag == "blockquote" and "expandable" in attrs:
                etype = "expandable_blockquote"
            if etype:
                out.entity(etype, start, extra)
            i = j + 1
            continue
        # start tag
        j = i
        while j < n and text[j] not in _SPACE and text[j] != ">":
            j += 1
        if j >= n:
            raise _EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
            )
        tag = text[i:j].lower()
        if tag not in _HTML_TAGS:
            raise _EntityParseError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        attrs, j = _parse_html_attributes(text, j, tag, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise _EntityParseError(
                'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        if tag == "code" and stack and stack[-1][0] == "pre":
            lang = attrs.get("class", "")
            if lang.startswith("language-"):
                stack[-1][1]["language"] = lang[len("language-") :]
        stack.append((tag, attrs, out.pos))
        i = j + 1
    if stack:
        raise _EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.text(), out.entities


def _parse_html_attributes(text: str, j: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse attributes from `text[j]` up to the closing ">"; return (attrs, index of ">")."""
    n = len(text)
    attrs: dict[str, str] = {}
    where = f'the tag "{tag}" at byte offset {_byte_offset(text, begin)}'
    while True:
        while j < n and text[j] in _SPACE:
            j += 1
        if j >= n:
            raise _EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
            )
        if text[j] == ">":
            return attrs, j
        k = j
        while k < n and text[k] not in _SPACE and text[k] not in "=>":
            k += 1
        name = text[j:k].lower()
        if not name:
            raise _EntityParseError(f"Empty attribute name in {where}")
        while k < n and text[k] in _SPACE:
            k += 1
        if k >= n:
            raise _EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if text[k] != "=":
            if tag == "blockquote" and name == "expandable":
                attrs[name] = ""
                j = k
                continue
            raise _EntityParseError(
                f"Expected equal sign in declaration of an attribute of {where}"
            )
        k += 1
        while k < n and text[k] in _SPACE:
            k += 1
        if k >= n:
            raise _EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
            )
        value: list[str] = []
        if text[k] in "'\"":
            quote = text[k]
            k += 1
            while k < n and text[k] != quote:
                if text[k] == "&":
                    dec = _decode_html_entity(text, k)
                    if dec is not None:
                        value.append(dec[0])
                        k = dec[1]
                        continue
                value.append(text[k])
                k += 1
            if k >= n:
                raise _EntityParseError(f"Unclosed end of attribute value in {where}")
            k += 1
        else:
            while k < n and text[k] not in _SPACE and text[k] != ">":
                value.append(text[k])
                k += 1
        attrs[name] = "".join(value)
        j = k


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    # (type, utf16 start, byte offset of the opening marker, extra)
    stack: list[tuple[str, int, int, dict[str, Any]]] = []
    i, n = 0, len(text)
    line_start = True
    quote_start: int | None = None

    def reserved(ch: str, at: int) -> _EntityParseError:
        return _EntityParseError(
            f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
        )

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            line_start = text[i + 1] == "\n"
            i += 2
            continue
        top = stack[-1][0] if stack else None
        if top in ("code", "pre"):
            if top == "code" and c == "`":
                t, start, _, extra = stack.pop()
                out.entity(t, start, extra)
                i += 1
                continue
            if top == "pre" and text.startswith("```", i):
                t, start, _, extra = stack.pop()
                out.entity(t, start, extra)
                i += 3
                continue
            out.add(c)
            i += 1
            continue
        if c == "\n":
            if quote_start is not None and not text.startswith(">", i + 1):
                out.entity("blockquote", quote_start)
                quote_start = None
            out.add(c)
            line_start = True
            i += 1
            continue
        if c == ">" and line_start:
            if quote_start is None:
                quote_start = out.pos
            line_start = False
            i += 1
            continue
        line_start = False
        if c not in _MDV2_RESERVED:
            out.add(c)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        is_end = False
        if top is not None:
            is_end = {
                "bold": c == "*",
                "italic": c == "_" and nxt != "_",
                "underline": c == "_" and nxt == "_",
                "strikethrough": c == "~",
                "spoiler": c == "|" and nxt == "|",
                "text_link": c == "]",
                "custom_emoji": c == "]",
            }.get(top, False)
        if is_end:
            t, start, _, extra = stack.pop()
            i += 2 if t in ("underline", "spoiler") else 1
            if t in ("text_link", "custom_emoji"):
                if i < n and text[i] == "(":
                    close = i + 1
                    while close < n and text[close] != ")":
                        close += 2 if text[close] == "\\" else 1
                    if close >= n:
                        raise _EntityParseError(
                            f"Can't find end of a URL at byte offset {_byte_offset(text, i)}"
                        )
                    url = text[i + 1 : close].replace("\\)", ")").replace("\\\\", "\\")
                    i = close + 1
                    if t == "text_link":
                        out.entity(t, start, {"url": url})
                    else:
                        out.entity(t, start, {"custom_emoji_id": url.split("id=")[-1]})
                elif t == "custom_emoji":
                    raise _EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            else:
                out.entity(t, start, extra)
            continue
        byte_at = _byte_offset(text, i)
        if c == "_" and nxt == "_":
            stack.append(("underline", out.pos, byte_at, {}))
            i += 2
        elif c == "_":
            stack.append(("italic", out.pos, byte_at, {}))
            i += 1
        elif c == "*":
            stack.append(("bold", out.pos, byte_at, {}))
            i += 1
        elif c == "~":
            stack.append(("strikethrough", out.pos, byte_at, {}))
            i += 1
        elif c == "|" and nxt == "|":
            stack.append(("spoiler", out.pos, byte_at, {}))
            i += 2
        elif c == "[":
            stack.append(("text_link", out.pos, byte_at, {}))
            i += 1
        elif c == "!" and nxt == "[":
            stack.append(("custom_emoji", out.pos, byte_at, {}))
            i += 2
        elif c == "`" and text.startswith("```", i):
            end_line = text.find("\n", i + 3)
            extra = {}
            if end_line != -1 and text[i + 3 : end_line].strip():
                extra = {"language": text[i + 3 : end_line].strip()}
                i = end_line + 1
            else:
                i += 3
            stack.append(("pre", out.pos, byte_at, extra))
        elif c == "`":
            stack.append(("code", out.pos, byte_at, {}))
            i += 1
        else:
            raise reserved(c, i)
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    if stack:
        t, _, byte_at, _ = stack[-1]
        raise _EntityParseError(
            f"Can't find end of {_MDV2_NAMES[t]} entity at byte offset {byte_at}"
        )
    return out.text(), out.entities


def _parse_markdown_v1(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Builder()
    i, n = 0, len(text)
    markers = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.add(c)
            i += 1
            continue
        begin = i
        if c == "[":
            close = text.find("]", i + 1)
            if close == -1:
                raise _EntityParseError(
                    "Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(text, begin)}"
                )
            start = out.pos
            out.add(text[i + 1 : close])
            i = close + 1
            if i < n and text[i] == "(":
                end = text.find(")", i)
                if end == -1:
                    raise _EntityParseError(
                        f"Can't find end of the entity starting at byte offset "
                        f"{_byte_offset(text, begin)}"
                    )
                out.entity("text_link", start, {"url": text[i + 1 : end]})
                i = end + 1
            continue
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end == -1:
                raise _EntityParseError(
                    "Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(text, begin)}"
                )
            start = out.pos
            out.add(text[i + 3 : end])
            out.entity("pre", start)
            i = end + 3
            continue
        end = text.find(c, i + 1)
        if end == -1:
            raise _EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        start = out.pos
        out.add(text[i + 1 : end])
        out.entity(markers[c], start)
        i = end + 1
    return out.text(), out.entities


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram strips leading and trailing white space; entities move with the text."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    fixed: list[dict[str, Any]] = []
    for ent in entities:
        start = max(ent["offset"] - lead, 0)
        end = min(ent["offset"] + ent["length"] - lead, total)
        if end > start:
            fixed.append({**ent, "offset": start, "length": end - start})
    return stripped, fixed


def parse_formatted(
    text: str,
    parse_mode: str | None,
    entities: Any = None,
    *,
    strict_ampersand: bool = True,
) -> tuple[str, list[dict[str, Any]]]:
    """Text after entity parsing and its entities; ApiError "can't parse entities: ..."."""
    mode = (parse_mode or "").strip()
    try:
        if mode == "" or mode.lower() == "none":
            plain, ents = text, _check_entities(entities)
        elif mode.lower() == "html":
            plain, ents = _parse_html(text, strict_ampersand=strict_ampersand)
        elif mode.lower() == "markdownv2":
            plain, ents = _parse_markdown_v2(text)
        elif mode.lower() == "markdown":
            plain, ents = _parse_markdown_v1(text)
        else:
            raise bad(f"unsupported parse_mode {mode!r}")
    except _EntityParseError as exc:
        raise bad(f"can't parse entities: {exc}") from None
    return _trim(plain, ents)


def _check_entities(entities: Any) -> list[dict[str, Any]]:
    if entities is None:
        return []
    if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
        raise bad("can't parse entities JSON object")
    for ent in entities:
        if not isinstance(ent.get("type"), str) or not isinstance(ent.get("offset"), int):
            raise bad('can\'t parse MessageEntity: Field "type" must be of type String')
    return [dict(e) for e in entities]


def check_text(text: str, *, limit: int = MAX_TEXT, too_long: str = "message is too long") -> None:
    if not text.strip():
        raise bad("message text is empty")
    if len(text) > limit:
        raise bad(too_long)


# ---------------------------------------------------------------------------- reply markup

_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_KEYBOARD_REQUESTS = (
    "request_contact",
    "request_location",
    "request_poll",
    "request_users",
    "request_chat",
    "web_app",
)
_URL = re.compile(r"^(https?|tg)://\S+$", re.IGNORECASE)


def markup_kind(markup: Mapping[str, Any] | None) -> str | None:
    if markup is None:
        return None
    for key, kind in (
        ("inline_keyboard", "inline"),
        ("keyboard", "reply"),
        ("remove_keyboard", "remove"),
        ("force_reply", "force_reply"),
    ):
        if key in markup:
            return kind
    return "unknown"


def validate_reply_markup(
    markup: Any, *, private: bool, inline_only: bool = False
) -> dict[str, Any] | None:
    """Validate a reply_markup object (decoded JSON); return it, or raise ApiError."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    kind = markup_kind(markup)
    if inline_only and kind != "inline":
        raise bad("inline keyboard expected")
    if kind == "inline":
        _validate_inline_keyboard(markup["inline_keyboard"])
    elif kind == "reply":
        _validate_reply_keyboard(markup, private=private)
    elif kind == "remove":
        if markup["remove_keyboard"] is not True:
            raise bad('can\'t parse ReplyKeyboardRemove: Field "remove_keyboard" must be true')
    elif kind == "force_reply":
        if markup["force_reply"] is not True:
            raise bad('can\'t parse ForceReply: Field "force_reply" must be true')
        placeholder = markup.get("input_field_placeholder")
        if placeholder is not None and len(str(placeholder)) > 64:
            raise bad("can't parse reply keyboard markup: input field placeholder is too long")
    else:
        raise bad("can't find reply keyboard markup")
    return markup


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad(
            'can\'t parse inline keyboard markup: Field "inline_keyboard" must be of type Array'
        )
    count = 0
    for row in rows:
        for button in row:
            count += 1
            if not isinstance(button, dict):
                raise bad(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str):
                raise bad(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not text.strip():
                raise bad("BUTTON_TEXT_INVALID")  # fake: empty button text
            actions = [a for a in _INLINE_ACTIONS if a in button]
            if not actions:
                raise bad(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            if len(actions) > 1:
                # Stricter than Telegram (which takes the first field): the API says
                # "exactly one of the optional fields must be used".
                raise bad(
                    "can't parse inline keyboard button: exactly one of the optional fields "
                    f"must be used, got {', '.join(actions)}"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str):
                    raise bad(
                        'can\'t parse inline keyboard button: Field "callback_data" must be of '
                        "type String"
                    )
                if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                    raise bad("BUTTON_DATA_INVALID")
            if "url" in button and not (
                isinstance(button["url"], str) and _URL.match(button["url"])
            ):
                raise bad("BUTTON_URL_INVALID")
            for sw in ("switch_inline_query", "switch_inline_query_current_chat"):
                if sw in button and not isinstance(button[sw], str):
                    raise bad(
                        f'can\'t parse inline keyboard button: Field "{sw}" must be of type String'
                    )
    if count > MAX_BUTTONS:
        raise bad("REPLY_MARKUP_TOO_LONG")


def _validate_reply_keyboard(markup: Mapping[str, Any], *, private: bool) -> None:
    rows = markup["keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad('can\'t parse reply keyboard markup: Field "keyboard" must be of type Array')
    count = 0
    for row in rows:
        for button in row:
            count += 1
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad('can\'t parse keyboard button: Field "text" must be of type String')
            if not button["text"].strip():
                raise bad("BUTTON_TEXT_INVALID")
            requests = [r for r in _KEYBOARD_REQUESTS if button.get(r)]
            if len(requests) > 1:
                raise bad("can't parse keyboard button: at most one of the optional fields")
            if button.get("request_location") and not private:
                raise bad("location can be requested in a private chats only")
            if button.get("request_contact") and not private:
                raise bad("phone number can be requested in a private chats only")
    if count > 300:
        raise bad("REPLY_MARKUP_TOO_LONG")


def inline_buttons(markup: Mapping[str, Any] | None) -> list[list[dict[str, Any]]]:
    if not markup or not isinstance(markup.get("inline_keyboard"), list):
        return []
    return [list(row) for row in markup["inline_keyboard"]]


# ---------------------------------------------------------------------------- inline queries

_RESULT_TYPES = {
    "article",
    "photo",
    "gif",
    "mpeg4_gif",
    "video",
    "audio",
    "voice",
    "document",
    "location",
    "venue",
    "contact",
    "game",
    "sticker",
}


def validate_inline_answer(results: Any, next_offset: str | None, button: Any) -> None:
    if not isinstance(results, list):
        raise bad("can't parse inline query results JSON object")
    if len(results) > MAX_INLINE_RESULTS:
        raise bad("RESULTS_TOO_MUCH")
    if next_offset is not None and len(next_offset.encode("utf-8")) > MAX_NEXT_OFFSET:
        raise bad("NEXT_OFFSET_INVALID")
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict):
            raise bad("can't parse inline query result: InlineQueryResult must be an Object")
        rid = result.get("id")
        if not isinstance(rid, str):
            raise bad('can\'t parse inline query result: Field "id" must be of type String')
        if not 1 <= len(rid.encode("utf-8")) <= MAX_RESULT_ID:
            raise bad("RESULT_ID_INVALID")
        if rid in seen:
            raise bad("RESULT_ID_DUPLICATE")
        seen.add(rid)
        rtype = result.get("type")
        if rtype not in _RESULT_TYPES:
            raise bad(f'can\'t parse inline query result: Unsupported result type "{rtype}"')
        if rtype == "article":
            if not isinstance(result.get("title"), str) or not result["title"].strip():
                raise bad('can\'t parse inline query result: Field "title" must be of type String')
            if "input_message_content" not in result:
                raise bad(
                    'can\'t parse inline query result: Field "input_message_content" must be of '
                    "type Object"
                )
        content = result.get("input_message_content")
        if content is not None:
            if not isinstance(content, dict):
                raise bad("can't parse input message content: must be an Object")
            if "message_text" in content:
                text, _ = parse_formatted(
                    str(content["message_text"]), content.get("parse_mode"), content.get("entities")
                )
                if not text.strip():
                    raise bad("MESSAGE_EMPTY")
                if len(text) > MAX_TEXT:
                    raise bad("MESSAGE_TOO_LONG")
        if "reply_markup" in result:
            validate_reply_markup(result["reply_markup"], private=True, inline_only=True)
    if button is not None and (not isinstance(button, dict) or not button.get("text")):
        raise bad("can't parse inline query results button")


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)
