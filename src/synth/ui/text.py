"""Document text and metadata shown as text, never as markup.

Streamlit renders Markdown in st.markdown, st.caption, st.table cells, widget labels, help
tooltips and alerts: a title could become a link, a remote image, a KaTeX formula, an emoji or a
Material icon there. `plain` makes any string inert in those places: control characters become
spaces, Markdown and HTML characters are backslash-escaped (which also stops `$` maths), and a
word joiner after the colon of `:name:`, a URL's scheme, `www` and `@` stops emoji and icon
shortcodes and autolinks, which Streamlit's Markdown plugins apply to the text after the escapes
are gone. `html_text` is the same for st.html.
"""

from __future__ import annotations

import html
import re

from synth import safetext

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'@^])")
# ":smile:", ":material/home:": Streamlit's emoji and icon plugins read text nodes after the
# Markdown parser has consumed backslash escapes, so the colon itself must not touch the name.
_SHORTCODE = re.compile(r":(?=[\w/+-]+:)")
# Bare URLs and e-mail addresses are linked by a text-node transform too (GFM autolink
# literals): a word joiner after "scheme:", "www" and "@" leaves them as text.
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto):|\bwww(?=\.)|@)")
WORD_JOINER = "\u2060"


def one_line(text: object) -> str:
    """Line breaks as single spaces; control, bidi and zero-width characters dropped (the one
    filter every surface uses, synth.safetext)."""
    return safetext.one_line(text)


def plain(text: object) -> str:
    """Any string made safe to show in Streamlit's Markdown-rendering elements."""
    joined = _SHORTCODE.sub(":" + WORD_JOINER, one_line(text))
    joined = _AUTOLINK.sub(lambda m: m.group(1) + WORD_JOINER, joined)
    return _MARKDOWN.sub(r"\\\1", joined)


def html_text(text: object) -> str:
    """A string for st.html: control characters out, every HTML special escaped."""
    return html.escape(one_line(text), quote=True)
