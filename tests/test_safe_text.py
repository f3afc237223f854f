"""The send layer's text check (bot/telegram/safe_text.py), judged by the strict fake's own
HTML parser: whatever goes in, Telegram accepts what comes out, within 4096 characters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.telegram.safe_text import MAX_TEXT, fit_html, plain_text, utf16_len
from tests.fakes.tg_rules import check_text, parse_formatted


def shown(html_text: str) -> str:
    """What Telegram shows for `html_text` (raises ApiError where Telegram would refuse)."""
    text, _entities = parse_formatted(html_text, "HTML")
    check_text(text)
    return text


def test_markup_of_the_templates_is_kept() -> None:
    html_text = 'Hi <b>Anna</b>, <a href="tg://user?id=7">you</a>: <code>1 &lt; 2</code> &amp; more'
    assert fit_html(html_text) == html_text
    assert shown(fit_html(html_text)) == "Hi Anna, you: 1 < 2 & more"


def test_bare_brackets_and_ampersands_are_escaped() -> None:
    # The label hint that Telegram refused: literal "<" and ">" in a template.
    hint = "Use printable characters only, without < and >."
    assert shown(fit_html(hint)) == hint
    assert shown(fit_html("R&D <script>x</script> a<b")) == "R&D <script>x</script> a<b"


def test_unbalanced_tags_are_closed_or_dropped() -> None:
    assert shown(fit_html("<b>bold <i>both</b> end")) == "bold both end"
    assert shown(fit_html("stray </b> closer")) == "stray  closer"


def test_odd_characters_pass() -> None:
    for label in ("\u200f\u05e9\u05dc\u05d5\u05dd", "a\u200bb", "👨\u200d👩\u200d👧", "\ud800x"):
        assert shown(fit_html(label))


def test_long_text_is_clipped_at_4096_visible_characters() -> None:
    long = "No model matches “" + "x" * 5000 + "”."
    text = shown(fit_html(long))
    assert len(text) == MAX_TEXT and text.endswith("…")
    # Entities count as one character, tags as none; emoji as two UTF-16 units.
    tagged = "<b>" + "&lt;" * 5000 + "</b>"
    assert shown(fit_html(tagged)) == "<" * (MAX_TEXT - 1) + "…"
    emoji = "😀" * 3000
    assert utf16_len(shown(fit_html(emoji))) <= MAX_TEXT
    assert plain_text("<b>" + "y" * 5000 + "</b>").endswith("…")
    # A run of plain text is cut inside, and the open tag still closed after the ellipsis.
    assert fit_html("<b>" + "x" * 5000 + "</b>") == "<b>" + "x" * (MAX_TEXT - 1) + "…</b>"
    assert fit_html("ab😀cd", limit=4) == "ab…"  # the emoji (2 units) would not fit whole


PIECES = [
    *("<b>", "</b>", "<i>", "</i>", "<code>", "</code>", "&amp;", "&", "<", ">"),
    *('<a href="tg://user?id=1">', "</a>", "&#128512;", "&bogus;", "</x>", "<br>"),
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(min_size=1, max_size=40),
            st.sampled_from(PIECES),
        ),
        max_size=30,
    ).map("".join),
    st.integers(min_value=1, max_value=200),
)
def test_any_text_becomes_sendable(raw: str, repeat: int) -> None:
    html_text = raw * (1 if repeat < 150 else repeat)
    fitted = fit_html(html_text)
    text, _entities = parse_formatted(fitted, "HTML")  # never "can't parse entities"
    assert utf16_len(text) <= MAX_TEXT
