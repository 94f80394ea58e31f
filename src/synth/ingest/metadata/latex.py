"""LaTeX accents, letters and escapes as BibTeX exporters write them, decoded to Unicode.

Kept apart from the BibTeX parser: decoding is per field value and knows nothing of entries.
"""

from __future__ import annotations

import re
import unicodedata

# LaTeX accents and symbols as BibTeX exporters (Zotero, Better BibTeX, JabRef) write them.
_ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
_LETTERS = {
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "ss": "ß",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
    "dh": "ð",
    "DH": "Ð",
    "th": "þ",
    "TH": "Þ",
    "textendash": "–",
    "textemdash": "—",
    "textquoteright": "’",
    "textquoteleft": "‘",
    "textquotedblleft": "“",
    "textquotedblright": "”",
    "textellipsis": "…",
    "ldots": "…",
    "dots": "…",
    "textregistered": "®",
    "texttrademark": "™",
    "copyright": "©",
    "textcopyright": "©",
    "pounds": "£",
    "textsterling": "£",
    "texteuro": "€",
    "euro": "€",
    "textdegree": "°",
    "S": "§",
    "P": "¶",
    "textbar": "|",
    "textbackslash": "\\",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
}
_ESCAPED = {"&": "&", "%": "%", "$": "$", "#": "#", "_": "_", "{": "{", "}": "}", " ": " "}
_PLACEHOLDER = {char: chr(0xE000 + i) for i, char in enumerate(_ESCAPED)}
_ACCENT_RE = re.compile(  # \"u, \"{u}, \'{\i}, \c{c}, \v s; a base may be an accented letter
    r"\\([\"'`^~=.])\s*(\{\s*\\?[^\W\d_]\s*\}|\\[ij](?![A-Za-z])|[^\W\d_])"
    r"|\\([uvHckrdb])(?:\s*(\{\s*\\?[^\W\d_]\s*\})|\s+([^\W\d_]))"
)
_WORD_RE = re.compile(r"\\([A-Za-z]+)(?![A-Za-z])\s*(\{\})?")


def latex_to_unicode(text: str) -> str:
    """Decode the LaTeX found in exported titles and names: {\\"u} -> ü, \\& -> &, -- -> –."""
    if not text:
        return ""
    text = text.replace("\\\\", " ")
    text = re.sub(r"\\([&%$#_{} ])", lambda m: _PLACEHOLDER[m.group(1)], text)
    for _ in range(3):  # inside out: Nguy{\~{\^e}}n needs \^e first, then \~{ê}
        text, count = _ACCENT_RE.subn(_accent, text)
        if not count:
            break
    text = _WORD_RE.sub(_letter, text)
    text = text.replace("---", "—").replace("--", "–").replace("``", "“").replace("''", "”")
    text = re.sub(r"[{}$]", "", text.replace("~", " "))
    for char, placeholder in _PLACEHOLDER.items():
        text = text.replace(placeholder, _ESCAPED[char])
    return unicodedata.normalize("NFC", re.sub(r"[ \t\r\n]+", " ", text)).strip()


def _accent(match: re.Match[str]) -> str:
    command = match.group(1) or match.group(3)
    base = (match.group(2) or match.group(4) or match.group(5) or "").strip("{} \\")
    return unicodedata.normalize("NFC", base + _ACCENTS[command])


def _letter(match: re.Match[str]) -> str:
    word = match.group(1)
    if word in _LETTERS:
        return _LETTERS[word]
    return ""  # \emph, \textit, \url...: drop the command, keep its (braced) argument
