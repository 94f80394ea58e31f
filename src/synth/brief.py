"""Render brief content through Jinja2 templates to Markdown or HTML."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from .synthesize import BriefContent

Format = Literal["md", "html"]
DEFAULT_TEMPLATE = "learning-brief"
CAVEAT = (
    "Look beyond the headlines: these passages were selected automatically by similarity to "
    "the question. Averages hide variation between settings, phases and delivery; read each "
    "source in full, check how close its context is to yours, and weigh the strength of its "
    "design before acting on it."
)


class BriefError(RuntimeError):
    """A template that is missing or broken; the message names the file and line."""


def template_dirs() -> list[Path]:
    """Where brief templates live: $SYNTH_TEMPLATES, ./templates/briefs, then the repository's."""
    dirs = []
    if os.environ.get("SYNTH_TEMPLATES"):
        dirs.append(Path(os.environ["SYNTH_TEMPLATES"]))
    dirs.append(Path.cwd() / "templates" / "briefs")
    dirs.append(Path(__file__).resolve().parents[2] / "templates" / "briefs")
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def available_templates() -> list[str]:
    names = {p.name.split(".")[0] for d in template_dirs() for p in d.glob("*.j2") if p.is_file()}
    return sorted(names)


def markdown_escape(text: object) -> str:
    """Keep document text from turning into Markdown or HTML markup in a .md brief."""
    value = re.sub(r"\s+", " ", str(text))
    value = value.replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]#|])", r"\\\1", value)


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader([str(d) for d in template_dirs()]),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "htm")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = markdown_escape
    return env


def render_brief(
    content: BriefContent, template: str = DEFAULT_TEMPLATE, fmt: Format = "md"
) -> str:
    """Fill the named template for the format; HTML output escapes all document text."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", template):
        raise BriefError(f"invalid template name '{template}'")
    name = f"{template}.{fmt}.j2"
    env = _environment()
    try:
        tmpl = env.get_template(name)
        return tmpl.render(brief=content, caveat=CAVEAT)
    except TemplateError as exc:
        where = getattr(exc, "filename", None) or name
        line = getattr(exc, "lineno", None)
        at = f"{where}, line {line}" if line else where
        raise BriefError(f"template {at}: {exc.__class__.__name__}: {exc}") from exc
