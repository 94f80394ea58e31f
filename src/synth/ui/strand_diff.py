"""Two versions of a strand side by side: field labels, values in words, changes highlighted.

Text fields are compared word by word (removed words struck through on the left, added words
underlined on the right); list fields (linked passages, reasons, contexts) item by item.
Everything shown is HTML-escaped; colour is never the only signal (del/ins also strike and
underline, and screen readers announce them).
"""

from __future__ import annotations

import difflib
import re

from synth.taxonomy import Taxonomy
from synth.toolkit.entries import FieldChange
from synth.toolkit.history import LIST_FIELDS, field_label, readable
from synth.ui.text import html_text

TABLE_STYLE = """
<style>
table.synth-diff { border-collapse: collapse; width: 100%; font-size: .9rem; }
.synth-diff th, .synth-diff td { border: 1px solid rgba(127,127,127,.35); padding: .35rem .5rem;
  vertical-align: top; text-align: left; }
.synth-diff td { white-space: pre-wrap; overflow-wrap: anywhere; }
.synth-diff th[scope=row] { width: 22%; font-weight: 600; }
</style>
"""


def _esc(text: str) -> str:
    return html_text(text) if "\n" not in text else "<br>".join(map(html_text, text.split("\n")))


def _words(old: str, new: str) -> tuple[str, str]:
    a, b = re.findall(r"\s+|\w+|[^\w\s]", old), re.findall(r"\s+|\w+|[^\w\s]", new)
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old_part, new_part = _esc("".join(a[i1:i2])), _esc("".join(b[j1:j2]))
        if op == "equal":
            left.append(old_part)
            right.append(new_part)
            continue
        if old_part:
            left.append(f'<del class="synth-del">{old_part}</del>')
        if new_part:
            right.append(f'<ins class="synth-ins">{new_part}</ins>')
    return "".join(left), "".join(right)


def _items(old: str, new: str) -> tuple[str, str]:
    a = [] if old == "–" else old.split("\n")
    b = [] if new == "–" else new.split("\n")
    left = [html_text(x) if x in b else f'<del class="synth-del">{html_text(x)}</del>' for x in a]
    right = [html_text(x) if x in a else f'<ins class="synth-ins">{html_text(x)}</ins>' for x in b]
    return "<br>".join(left) or "–", "<br>".join(right) or "–"


def diff_html(changes: list[FieldChange], a: int, b: int, taxonomy: Taxonomy) -> str:
    """The changed fields between versions a and b as one table."""
    rows = []
    for change in changes:
        old = readable(change.field, change.old, taxonomy)
        new = readable(change.field, change.new, taxonomy)
        left, right = (_items if change.field in LIST_FIELDS else _words)(old, new)
        rows.append(
            f'<tr><th scope="row">{html_text(field_label(change.field))}</th>'
            f"<td>{left}</td><td>{right}</td></tr>"
        )
    return (
        f'{TABLE_STYLE}<table class="synth-diff"><caption class="synth-sr">Changes from '
        f'version {a} to version {b}</caption><thead><tr><th scope="col">Field</th>'
        f'<th scope="col">Version {a}</th><th scope="col">Version {b}</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
