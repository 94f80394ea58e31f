"""The evidence gap map drawn as 3ie draws one: an HTML table of bubbles.

Rows are topics, columns a facet's values; each cell holds one bubble per category (design or
evidence type), its area proportional to the documents it counts, in a colour the legend names.
A table rather than a chart: its headers stick while it scrolls both ways, it reflows at 390 px,
screen readers read it as a table, and each cell is a link that opens its list of documents.
Every label is HTML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from synth.search.gaps import NOT_STATED, GapMap
from synth.ui.text import html_text as esc

# Dark enough for white figures (contrast >= 4.5:1), told apart by colour-blind readers too.
PALETTE = (
    "#1d4ed8",
    "#b45309",
    "#047857",
    "#7c3aed",
    "#be185d",
    "#0e7490",
    "#9a3412",
    "#4d7c0f",
    "#1e40af",
    "#6d28d9",
)
NOT_STATED_COLOUR = "#4b5563"
MIN_PX, MAX_PX = 20, 46

CSS = """
<style>
.synth-gap-wrap { position: relative; overflow: auto; max-height: 78vh; max-width: 100%;
  border: 1px solid rgba(127,127,127,.4); border-radius: 6px; }
table.synth-gap { border-collapse: separate; border-spacing: 0; font-size: .85rem; }
.synth-gap th, .synth-gap td { border-right: 1px solid rgba(127,127,127,.22);
  border-bottom: 1px solid rgba(127,127,127,.22); padding: 4px 6px; }
.synth-gap thead th { position: sticky; top: 0; z-index: 2; background: var(--synth-bg);
  vertical-align: bottom; min-width: 70px; max-width: 100px; font-weight: 600;
  text-align: center; hyphens: auto; }
.synth-gap tbody th { position: sticky; left: 0; z-index: 1; background: var(--synth-bg);
  text-align: left; min-width: 170px; max-width: 230px; font-weight: 500; }
.synth-gap thead th.synth-corner { left: 0; z-index: 3; text-align: left; }
.synth-gap td { text-align: center; min-width: 70px; height: 50px; padding: 2px; }
.synth-gap td.synth-empty { background: rgba(127,127,127,.08); }
a.synth-cell { display: flex; flex-wrap: wrap; gap: 3px; justify-content: center;
  align-items: center; min-height: 46px; border-radius: 6px; text-decoration: none; }
a.synth-cell:hover { background: rgba(59,130,246,.14); }
.synth-bubble { display: inline-flex; align-items: center; justify-content: center;
  border-radius: 50%; color: #fff; font-weight: 700; font-size: .72rem; line-height: 1; }
.synth-legend { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; align-items: center;
  margin: .6rem 0; font-size: .85rem; }
.synth-legend span { display: inline-flex; align-items: center; gap: .35rem; }
.synth-swatch { display: inline-block; border-radius: 50%; }
.synth-gap-swatch { display: inline-block; width: 22px; height: 16px; border-radius: 3px;
  background: rgba(127,127,127,.16); border: 1px solid rgba(127,127,127,.4); }
@media (max-width: 640px) {
  .synth-gap-wrap { max-width: calc(100vw - 2rem); max-height: 70vh; }
  .synth-gap tbody th { min-width: 110px; max-width: 130px; font-size: .75rem; }
  .synth-gap thead th { min-width: 56px; font-size: .72rem; }
  .synth-gap td { min-width: 56px; }
}
</style>
"""


def colours(gm: GapMap) -> dict[str, str]:
    out = {}
    for i, (category, _) in enumerate(c for c in gm.categories if c[0] != NOT_STATED):
        out[category] = PALETTE[i % len(PALETTE)]
    out[NOT_STATED] = NOT_STATED_COLOUR
    return out


def bubble_px(n: int, biggest: int) -> int:
    """A diameter whose area grows with the count, from MIN_PX for 1 to MAX_PX for the most."""
    if biggest <= 1:
        return MIN_PX + 6
    share = math.sqrt((n - 1) / (biggest - 1)) if n > 1 else 0.0
    return round(MIN_PX + (MAX_PX - MIN_PX) * share)


def _biggest(gm: GapMap) -> int:
    counts = [n for r, _ in gm.rows for c, _ in gm.cols for _, n in gm.breakdown(r, c)]
    return max(counts, default=1)


def _bubble(n: int, biggest: int, colour: str, label: str) -> str:
    px = bubble_px(n, biggest)
    return (
        f'<span class="synth-bubble" aria-hidden="true" title="{esc(label)}: {n}" '
        f'style="width:{px}px;height:{px}px;background:{colour}">{n}</span>'
    )


def _cell(gm: GapMap, row: tuple[str, str], col: tuple[str, str], biggest: int, ctx) -> str:
    href, palette, names = ctx
    parts = gm.breakdown(row[0], col[0])
    if not parts:
        return '<td class="synth-empty"><span class="synth-sr">no studies</span></td>'
    total = gm.count(row[0], col[0])
    detail = ", ".join(f"{n} {names[c]}" for c, n in parts)
    noun = "study" if total == 1 else "studies"
    aria = f"{row[1]} × {col[1]}: {total} {noun} ({detail}). Open the list."
    bubbles = "".join(_bubble(n, biggest, palette[c], names[c]) for c, n in parts)
    return (
        f'<td><a class="synth-cell" href="{esc(href(row[0], col[0]))}" target="_self" '
        f'aria-label="{esc(aria)}">{bubbles}</a></td>'
    )


def gap_table(
    gm: GapMap, row_label: str, col_label: str, href: Callable[[str, str], str], caption: str
) -> str:
    """The map as one HTML table inside a scrolling region."""
    palette = colours(gm)
    names = dict(gm.categories)
    biggest = _biggest(gm)
    ctx = (href, palette, names)
    head = "".join(f'<th scope="col">{esc(label)}</th>' for _, label in gm.cols)
    body = "".join(
        f'<tr><th scope="row">{esc(row[1])}</th>'
        + "".join(_cell(gm, row, col, biggest, ctx) for col in gm.cols)
        + "</tr>"
        for row in gm.rows
    )
    return (
        f'{CSS}<div class="synth-gap-wrap" role="region" tabindex="0" '
        f'aria-label="{esc(caption)}"><table class="synth-gap">'
        f'<caption class="synth-sr">{esc(caption)}</caption>'
        f'<thead><tr><th scope="col" class="synth-corner">{esc(row_label)} \\ '
        f"{esc(col_label)}</th>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def legend(gm: GapMap, colour_label: str) -> str:
    """What the colours and sizes mean, and what an empty cell is."""
    palette = colours(gm)
    biggest = _biggest(gm)
    swatches = "".join(
        f'<span><span class="synth-swatch" style="width:14px;height:14px;'
        f'background:{palette[c]}"></span>{esc(label)}</span>'
        for c, label in gm.categories
    )
    sizes = sorted({1, max(1, biggest // 2), biggest})
    scale = "".join(
        f'<span><span class="synth-swatch" style="width:{bubble_px(n, biggest)}px;'
        f'height:{bubble_px(n, biggest)}px;border:2px solid currentColor"></span>{n}</span>'
        for n in sizes
    )
    return (
        f'<div class="synth-legend" role="group" aria-label="Legend">'
        f"<strong>{esc(colour_label)}:</strong>{swatches}</div>"
        f'<div class="synth-legend"><strong>Studies per bubble:</strong>{scale}'
        f'<span><span class="synth-gap-swatch"></span>no study: a gap</span></div>'
    )
