"""Markdown to HTML: all text escaped (raw HTML in a template or a document is shown, never
run), self-contained: inline CSS, no scripts, no remote fonts, print styles for paper."""

from __future__ import annotations

import html

from .markdown import MdBlock, Run, format_safe, parse_markdown

CSS = """
body { font-family: Georgia, "Times New Roman", serif; max-width: 48rem; margin: 2rem auto;
  padding: 0 1rem; line-height: 1.55; color: #1d1d1d; background: #fff; }
h1 { font-size: 1.7rem; line-height: 1.25; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem; font-size: 1.3rem; }
h3 { font-size: 1.1rem; margin-top: 1.4rem; }
blockquote { border-left: 4px solid #2b6cb0; margin: .8rem 0; padding: .3rem 1rem;
  background: #f5f8fc; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; margin: 1rem 0; }
th, td { border: 1px solid #bbb; padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85em;
  background: #f3f3f3; padding: 0 .2em; }
hr { border: 0; border-top: 1px solid #ccc; margin: 1.5rem 0; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 11pt; color: #000; }
  h1, h2, h3 { page-break-after: avoid; break-after: avoid; }
  blockquote, tr, li { page-break-inside: avoid; break-inside: avoid; }
  blockquote { background: none; }
  th { background: none; }
  @page { margin: 18mm; }
}
""".strip()


# ---------------------------------------------------------------- HTML


def _html_runs(runs: list[Run]) -> str:
    out = []
    for run in runs:
        text = html.escape(run.text)
        if run.code:
            text = f"<code>{text}</code>"
        if run.italic:
            text = f"<em>{text}</em>"
        if run.bold:
            text = f"<strong>{text}</strong>"
        out.append(text)
    return "".join(out)


def _html_table(block: MdBlock) -> str:
    rows = []
    for i, cells in enumerate(block.rows):
        tag = "th" if i == 0 else "td"
        rows.append("<tr>" + "".join(f"<{tag}>{_html_runs(c)}</{tag}>" for c in cells) + "</tr>")
    head, body = rows[:1], rows[1:]
    return (
        "<table>\n<thead>"
        + "".join(head)
        + "</thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def blocks_to_html(blocks: list[MdBlock]) -> str:
    """The body markup; consecutive list items share one <ul>/<ol>."""
    parts: list[str] = []
    open_list = ""
    for block in blocks:
        tag = {"bullet": "ul", "number": "ol"}.get(block.kind, "")
        if open_list and tag != open_list:
            parts.append(f"</{open_list}>")
            open_list = ""
        if tag and not open_list:
            start = f' start="{block.number}"' if tag == "ol" and block.number != 1 else ""
            parts.append(f"<{tag}{start}>")
            open_list = tag
        body = _html_runs(block.runs)
        if tag:
            parts.append(f"<li>{body}</li>")
        elif block.kind == "heading":
            parts.append(f"<h{block.level}>{body}</h{block.level}>")
        elif block.kind == "paragraph":
            parts.append(f"<p>{body}</p>")
        elif block.kind == "quote":
            parts.append(f"<blockquote><p>{body}</p></blockquote>")
        elif block.kind == "rule":
            parts.append("<hr>")
        elif block.kind == "table":
            parts.append(_html_table(block))
    if open_list:
        parts.append(f"</{open_list}>")
    return "\n".join(parts)


def markdown_to_html(md: str, title: str) -> str:
    """A whole HTML page: escaped text, inline CSS, print rules, nothing fetched from outside."""
    body = blocks_to_html(parse_markdown(md))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="synth">\n'
        f"<title>{html.escape(format_safe(title))}</title>\n<style>\n{CSS}\n</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
