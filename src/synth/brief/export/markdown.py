"""The small Markdown subset briefs are written in, parsed into blocks of styled runs.

One parse feeds the HTML, PDF and DOCX writers, so a brief reads the same in every format and a
user template needs only a Markdown file. Supported: headings, paragraphs, bullet and numbered
lists, block quotes, pipe tables, rules; inline **bold**, *italic*, `code`, backslash escapes
and HTML entities (which `markdown_escape` produces for < and >). Anything else is plain text.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from synth.safetext import invisible_free

BlockKind = Literal["heading", "paragraph", "bullet", "number", "quote", "table", "rule"]
ESCAPABLE = set(string.punctuation)  # CommonMark: any ASCII punctuation may be escaped


@dataclass(frozen=True)
class Run:
    """A stretch of text in one style."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False


@dataclass
class MdBlock:
    """A heading (level 1-6), paragraph, list item, quote, rule, or table (rows of cells)."""

    kind: BlockKind
    runs: list[Run] = field(default_factory=list)
    level: int = 0
    number: int = 0
    rows: list[list[list[Run]]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return plain(self.runs)


def markdown_escape(text: object) -> str:
    """Keep document text from turning into Markdown or HTML markup in a .md brief."""
    value = re.sub(r"\s+", " ", invisible_free(text))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]#|])", r"\\\1", value)


def plain(runs: list[Run]) -> str:
    return "".join(r.text for r in runs)


def parse_inline(text: str) -> list[Run]:
    """Split text into runs by ** * ` markers; backslash escapes and entities become literals."""
    runs: list[Run] = []
    buf: list[str] = []
    bold = italic = False

    def flush(code: bool = False) -> None:
        if buf:
            runs.append(Run(html.unescape("".join(buf)), bold, italic, code))
            buf.clear()

    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in ESCAPABLE:
            # an escaped & must not start an entity, so keep it encoded until unescape
            buf.append("&amp;" if text[i + 1] == "&" else text[i + 1])
            i += 2
        elif ch == "`" and "`" in text[i + 1 :]:
            end = text.index("`", i + 1)
            flush()
            buf.append(html.escape(text[i + 1 : end], quote=False))
            flush(code=True)
            i = end + 1
        elif text.startswith("**", i):
            flush()
            bold = not bold
            i += 2
        elif ch == "*":
            flush()
            italic = not italic
            i += 1
        else:
            buf.append(ch)
            i += 1
    flush()
    return _merge(runs)


def _merge(runs: list[Run]) -> list[Run]:
    out: list[Run] = []
    for run in runs:
        if out and (out[-1].bold, out[-1].italic, out[-1].code) == (
            run.bold,
            run.italic,
            run.code,
        ):
            out[-1] = Run(out[-1].text + run.text, run.bold, run.italic, run.code)
        elif run.text:
            out.append(run)
    return out


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^[-*+]\s+(.*)$")
NUMBER = re.compile(r"^(\d{1,4})[.)]\s+(.*)$")
RULE = re.compile(r"^(\*\s*){3,}$|^(-\s*){3,}$|^(_\s*){3,}$")
TABLE_SEP = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)]


def format_safe(text: str) -> str:
    """Text every export format accepts and shows as it is: control characters (which XML 1.0,
    so DOCX, cannot carry: one in a title made python-docx raise), bidi controls and
    zero-width characters dropped by the one filter of synth.safetext."""
    return invisible_free(text)


def parse_markdown(text: str) -> list[MdBlock]:
    """Blocks in document order; list items and quote lines continue over wrapped lines."""
    text = format_safe(text)
    blocks: list[MdBlock] = []
    para: list[str] = []
    current: MdBlock | None = None  # the list item or quote that wrapped lines join
    current_lines: list[str] = []
    table: list[str] = []

    def close() -> None:
        nonlocal current
        if para:
            blocks.append(MdBlock("paragraph", parse_inline(" ".join(para))))
            para.clear()
        if current is not None:
            current.runs = parse_inline(" ".join(current_lines))
            blocks.append(current)
            current = None
            current_lines.clear()
        if table:
            rows = [_cells(r) for r in table if not TABLE_SEP.match(r.strip())]
            blocks.append(MdBlock("table", rows=[[parse_inline(c) for c in r] for r in rows]))
            table.clear()

    def start(block: MdBlock, first: str) -> None:
        nonlocal current
        close()
        current = block
        current_lines.append(first)

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            close()
        elif line.startswith("|"):
            if not table:
                close()
            table.append(line)
        elif m := HEADING.match(line):
            close()
            blocks.append(MdBlock("heading", parse_inline(m.group(2)), level=len(m.group(1))))
        elif RULE.match(line):
            close()
            blocks.append(MdBlock("rule"))
        elif m := BULLET.match(line):
            start(MdBlock("bullet"), m.group(1))
        elif m := NUMBER.match(line):
            start(MdBlock("number", number=int(m.group(1))), m.group(2))
        elif line.startswith(">"):
            body = line[1:].strip()
            if current is not None and current.kind == "quote":
                current_lines.append(body)
            else:
                start(MdBlock("quote"), body)
        elif current is not None:
            current_lines.append(line)
        else:
            if table:
                close()
            para.append(line)
    close()
    return [b for b in blocks if b.kind in ("rule", "table") or b.runs]


def column_widths(
    rows: list[list[list[Run]]],
    total: float,
    measure: Callable[[str, bool], float],
    padding: float,
) -> list[float]:
    """Column widths that add up to `total`, shared by how much each column holds (square root,
    so long cells do not starve short ones), and never narrower than the column's widest word
    (`measure(word, bold)`, the header row being bold) so no word is broken ("Capibarib/e")."""
    width = max((len(r) for r in rows), default=0)
    if not width:
        return []
    cells = [[plain(r[i]) if i < len(r) else "" for r in rows] for i in range(width)]
    widest = [
        max((measure(w, n == 0) for n, c in enumerate(col) for w in c.split()), default=1.0)
        for col in cells
    ]
    floors = [min(w + padding, total / 2) for w in widest]
    natural = [max(sum(len(c) for c in col) / len(col), 1.0) ** 0.5 for col in cells]
    widths = [max(total * n / sum(natural), f) for n, f in zip(natural, floors, strict=True)]
    excess = sum(widths) - total
    slack = [w - f for w, f in zip(widths, floors, strict=True)]
    if excess > 0 and sum(slack) > 0:
        cut = min(1.0, excess / sum(slack))
        widths = [w - s * cut for w, s in zip(widths, slack, strict=True)]
    scale = total / sum(widths)
    return [w * scale for w in widths]
