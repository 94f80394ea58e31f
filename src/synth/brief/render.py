"""Find brief templates and render them in a Jinja2 sandbox, then export to any format.

Templates are Markdown (`NAME.md.j2`); HTML, PDF and DOCX are made from the rendered Markdown by
`export`, so a user's template needs one file and every format says the same. A `NAME.html.j2`
next to it, if present, is used for HTML instead (autoescaped). User templates run in an
immutable sandbox: they can read the brief, not Python internals, and a broken one is reported
as `file:line: message`, never as a traceback.
"""

from __future__ import annotations

import json
import os
import re
import traceback
from pathlib import Path
from typing import Literal

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

from synth.brief.export.markdown import markdown_escape

from .content import BriefContent
from .export import markdown_to_html, render_markdown_to

Format = Literal["md", "html"]
OutputFormat = Literal["md", "html", "pdf", "docx", "json"]
FORMATS: tuple[str, ...] = ("md", "html", "pdf", "docx", "json")
DEFAULT_TEMPLATE = "learning-brief"
CAVEAT = (
    "Look beyond the headlines: these passages were selected automatically by similarity to "
    "the question. Averages hide variation between settings, phases and delivery; read each "
    "source in full, check how close its context is to yours, and weigh the strength of its "
    "design before acting on it."
)
NO_EVIDENCE = (
    "No passage in the retrieved evidence addresses this. synth writes no text of its own: "
    "widen the question or the filters, or add sources that cover it."
)


class BriefError(RuntimeError):
    """A template that is missing or broken; the message names the file and line."""


def template_dirs(extra: str | Path | None = None) -> list[Path]:
    """Where templates are looked up, first match wins: the user's folder (--templates),
    $SYNTH_TEMPLATES, ./templates/briefs, then the repository's templates/briefs."""
    dirs = []
    if extra is not None:
        folder = Path(extra)
        if not folder.is_dir():
            raise BriefError(f"templates folder '{folder}' does not exist")
        dirs.append(folder)
    if os.environ.get("SYNTH_TEMPLATES"):
        dirs.append(Path(os.environ["SYNTH_TEMPLATES"]))
    dirs.append(Path.cwd() / "templates" / "briefs")
    dirs.append(Path(__file__).resolve().parents[3] / "templates" / "briefs")
    return [d.resolve() for d in dict.fromkeys(dirs) if d.is_dir()]


# Templates in the same folder that render something other than a brief.
NOT_BRIEFS = {"toolkit-card": "renders a toolkit entry: use `synth toolkit show ID --format md`"}


def available_templates(extra: str | Path | None = None) -> list[str]:
    """Template names (partials starting with '_' are building blocks, not briefs)."""
    names = {
        p.name.split(".")[0]
        for d in template_dirs(extra)
        for p in d.glob("*.j2")
        if p.is_file() and not p.name.startswith("_")
    }
    return sorted(names - set(NOT_BRIEFS))


def _environment(extra: str | Path | None) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader([str(d) for d in template_dirs(extra)]),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "htm")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_escape
    return env


def _where(exc: BaseException, fallback: str) -> str:
    """'file:line' of the innermost template frame in the error (Jinja maps frames to lines)."""
    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        return f"{exc.filename or exc.name or fallback}:{exc.lineno}"
    frames = [
        (frame.f_code.co_filename, line)
        for frame, line in traceback.walk_tb(exc.__traceback__)
        if frame.f_code.co_filename.endswith(".j2")
    ]
    if frames:
        return f"{frames[-1][0]}:{frames[-1][1]}"
    return fallback


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"


def render_template(
    name: str, context: dict[str, object], templates_dir: str | Path | None = None
) -> str:
    """Render one template file by name in the sandbox; any failure becomes a BriefError."""
    env = _environment(templates_dir)
    try:
        template = env.get_template(name)
    except TemplateNotFound as exc:
        where = ", ".join(str(d) for d in template_dirs(templates_dir))
        raise BriefError(f"template '{exc.name}' not found in {where}") from exc
    except Exception as exc:  # syntax errors are raised while loading
        raise BriefError(f"{_where(exc, name)}: {_message(exc)}") from exc
    try:
        return template.render(**context)
    except Exception as exc:  # UndefinedError, SecurityError and anything the template raised
        raise BriefError(f"{_where(exc, template.filename or name)}: {_message(exc)}") from exc


def _check_name(template: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", template) or template.startswith("_"):
        raise BriefError(f"invalid template name '{template}'")
    if template in NOT_BRIEFS:
        raise BriefError(f"'{template}' {NOT_BRIEFS[template]}")


def _context(content: BriefContent | None) -> dict[str, object]:
    return {"brief": content, "caveat": CAVEAT, "no_evidence": NO_EVIDENCE}


def render_brief(
    content: BriefContent | None,
    template: str = DEFAULT_TEMPLATE,
    fmt: Format = "md",
    templates_dir: str | Path | None = None,
) -> str:
    """The brief as Markdown or HTML text; HTML escapes all document text."""
    _check_name(template)
    if fmt == "html":
        dirs = template_dirs(templates_dir)
        if any((d / f"{template}.html.j2").is_file() for d in dirs):
            return render_template(f"{template}.html.j2", _context(content), templates_dir)
        md = render_template(f"{template}.md.j2", _context(content), templates_dir)
        return markdown_to_html(md, title_of(md))
    md = render_template(f"{template}.md.j2", _context(content), templates_dir)
    return md if md.endswith("\n") else md + "\n"


def title_of(md: str) -> str:
    """The first heading of a rendered brief, unescaped, for the PDF/HTML/DOCX title."""
    from synth.brief.export.markdown import parse_markdown

    for block in parse_markdown(md):
        if block.kind == "heading":
            return block.text
    return "Brief"


def export_brief(
    content: BriefContent,
    fmt: OutputFormat,
    template: str = DEFAULT_TEMPLATE,
    templates_dir: str | Path | None = None,
) -> bytes:
    """The brief as the bytes of a file: md, html, pdf, docx, or json (the structured content)."""
    if fmt == "json":
        return (json.dumps(content.to_json(), ensure_ascii=False, indent=2) + "\n").encode()
    if fmt == "html":
        return render_brief(content, template, "html", templates_dir).encode("utf-8")
    md = render_brief(content, template, "md", templates_dir)
    return render_markdown_to(fmt, md, title_of(md))
