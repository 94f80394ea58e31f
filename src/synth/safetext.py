"""The one filter for document text shown anywhere: the app, the CLI and briefs in every format.

Document text is untrusted. Some characters draw nothing yet change what a reader sees:
control characters repaint a terminal, bidi overrides and isolates reverse the rest of a line
(U+202E makes `gnp.exe` read `exe.png`), zero-width characters hide inside words and make two
different strings look the same. Every surface removes the same set, with this module's
`invisible_free`, so no surface can forget one. What enters: any string; what leaves: the same
string without those characters. Imports nothing of synth, so every package may use it.

Zero-width joiner and non-joiner (U+200C, U+200D) are kept: Persian, Hindi and Bengali spell
words with them and emoji sequences need them, and they cannot reorder or repaint anything.
The left-to-right and right-to-left marks go with the other bidi controls: Hebrew and Arabic
text still reads right to left without them (the Unicode bidi algorithm orders it), though a
number or a parenthesis at the edge of such a phrase may sit on the other side.
"""

from __future__ import annotations

import re

# Bidi embeddings, overrides and isolates, and the marks that steer them (Arabic letter mark,
# left-to-right and right-to-left marks).
BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Zero-width and invisible characters that are not needed to spell any word: zero-width space,
# word joiner and the invisible maths operators, the BOM / zero-width no-break space, the
# Mongolian vowel separator, the soft hyphen, the combining grapheme joiner, the Hangul and
# Khmer fillers, the interlinear annotation marks and the tag characters (which can carry a
# hidden ASCII message inside visible text).
ZERO_WIDTH = (
    "\u200b\u2060-\u2064\ufeff\u180e\u00ad\u034f\u115f\u1160\u3164\uffa0\u17b4\u17b5"
    "\ufff9-\ufffb\U000e0000-\U000e007f"
)
# C0 controls but tab and line feed (a carriage return repaints a terminal line); DEL and the
# C1 controls; lone surrogates and the two non-characters, which no XML (DOCX), HTML or PDF
# text may hold.
CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"

INVISIBLE = re.compile(f"[{CONTROLS}{BIDI}{ZERO_WIDTH}]")
_INVISIBLE = INVISIBLE
# Everything that ends a line: what `one_line` turns into a space.
LINE_BREAKS = "\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029"
_LINE_BREAKS = re.compile(f"[{LINE_BREAKS}]+")


def invisible_free(text: object, keep: str = "") -> str:
    """`text` without control, bidi and zero-width characters; tab and newline stay, and so do
    the characters in `keep`."""
    value = "" if text is None else str(text)
    if not keep:
        return _INVISIBLE.sub("", value)
    return _INVISIBLE.sub(lambda m: m.group(0) if m.group(0) in keep else "", value)


def one_line(text: object) -> str:
    """One line of visible text: line breaks of every kind as spaces, invisible characters
    dropped, runs of spaces folded."""
    value = "" if text is None else str(text)
    return re.sub(r"[ \t]{2,}", " ", invisible_free(_LINE_BREAKS.sub(" ", value)))


def has_invisible(text: str) -> bool:
    """Whether `text` holds any character `invisible_free` drops."""
    return _INVISIBLE.search(text) is not None


# ---------------------------------------------------------------- files other programs open

# A spreadsheet treats a cell starting with one of these as a formula (OWASP, CSV injection):
# =HYPERLINK(...) leaks data, =cmd|... runs a program in old Excel, @SUM(...) is a formula too.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def spreadsheet_cell(value: str) -> str:
    """A CSV cell no spreadsheet runs: one starting like a formula (after any spaces or
    invisible characters a spreadsheet skips) gets a leading apostrophe, shown as text as
    OWASP advises; plain numbers such as -0.21 stay numbers. A value that already starts with
    an apostrophe and a formula character gets a second one, so import gives it back whole."""
    lead = invisible_free(value).lstrip(" \n")
    if lead.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_START):
        return "'" + value
    return value


def from_spreadsheet_cell(value: str) -> str:
    """The value `spreadsheet_cell` was given: its apostrophe taken off again on import."""
    if value.startswith("'") and spreadsheet_cell(value[1:]) == value:
        return value[1:]
    return value


_WEB_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f<>\"]+", re.IGNORECASE)


def web_url(url: str) -> str:
    """`url` when it is a plain http(s) address, else "": a reference manager or a browser
    would follow javascript:, data: or file: links from a citation."""
    url = url.strip()
    return url if _WEB_URL.fullmatch(url) and not has_invisible(url) else ""
