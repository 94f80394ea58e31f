"""Find brief templates and render them in a Jinja2 sandbox, then export to any format.

Templates are Markdown (`NAME.md.j2`); HTML, PDF and DOCX are made from the rendered Markdown by
`export`, so a user's template needs one file and every format says the same. A `NAME.html.j2`
next to it, if present, is used for HTML instead (autoescaped). User templates run in an
immutable sandbox: they can read the brief, not Python internals, and a broken one is reported
as `file:line: message`, never as a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from synth.brief.export.markdown import markdown_escape
from synth.safetext import invisible_free

from . import isolated
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


# Limits on a user template: seconds of rendering, characters of output, and the largest
# number any operation, filter or method may be given (a repeat count, a width, a range).
TEMPLATE_SECONDS = 10.0
MAX_OUTPUT_CHARS = 5_000_000
MAX_ARGUMENT = 1_000_000
# Memory a render may allocate beyond what the process already holds. Rendering runs in a
# forked child with this address-space limit, so no string operation (a width hidden in a
# format string, a doubling chain of `~`) can take more: the built-in briefs need a few MB.
TEMPLATE_MEMORY = 512 * 1024 * 1024


def _check_arguments(values: Iterable[object]) -> None:
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ARGUMENT:
            raise SecurityError(f"number {value:.3g} is over the template limit {MAX_ARGUMENT:,}")


# Widths and precisions inside a printf-style format string ("%0999999999d").
_FORMAT_NUMBERS = re.compile(r"%[-+ #0]*(?:\([^)]*\))?[-+ #0]*(\d+)?(?:\.(\d+))?")


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus limits on repetition, powers and numeric arguments, so a
    template cannot ask for a gigabyte string (`'a' * 10**9`) in one step."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            _check_arguments(int(n) for pair in _FORMAT_NUMBERS.findall(left) for n in pair if n)
        elif operator == "**":
            _check_arguments([left, right if isinstance(right, int) and right > 64 else 0])
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                if hasattr(seq, "__len__") and isinstance(n, int) and len(seq) * n > MAX_ARGUMENT:
                    raise SecurityError(f"repetition longer than {MAX_ARGUMENT:,} items")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_arguments([*args, *kwargs.values()])
        return super().call(__context, __obj, *args, **kwargs)


def _bounded_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments([*args, *kwargs.values()])
        return func(*args, **kwargs)

    return bounded


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Stop template code that runs longer than `seconds` (nested loops that output nothing
    included): a trace function on template frames only checks the clock on every line."""
    end = time.monotonic() + seconds

    def in_template(frame: Any, event: str, arg: Any) -> Any:
        if time.monotonic() > end:
            raise TemplateTimeout(f"rendering took longer than {seconds:g} s")
        return in_template

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        name = frame.f_code.co_filename
        return in_template if name.endswith(".j2") or name == "<template>" else None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


class TemplateTimeout(RuntimeError):
    """A template ran past TEMPLATE_SECONDS."""


def _render_bounded(template: Any, context: dict[str, object]) -> str:
    """Render under the time limit, stopping once the output passes MAX_OUTPUT_CHARS."""
    parts: list[str] = []
    size = 0
    with _deadline(TEMPLATE_SECONDS):
        for part in template.generate(**context):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise SecurityError(f"output longer than {MAX_OUTPUT_CHARS:,} characters")
            parts.append(part)
    return "".join(parts)


def _environment(extra: str | Path | None) -> ImmutableSandboxedEnvironment:
    env = _BoundedSandbox(
        loader=FileSystemLoader([str(d) for d in template_dirs(extra)]),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "htm")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_escape
    env.filters = {name: _bounded_filter(f) for name, f in env.filters.items()}  # type: ignore[assignment]
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
    """Load and render one template file by name in the sandbox, in a child process bounded
    in memory and time (compiling folds constants, so it is bounded too); any failure becomes
    a BriefError."""
    env = _environment(templates_dir)
    try:
        text = isolated.run(_renderer(env, name), context, TEMPLATE_SECONDS, TEMPLATE_MEMORY)
    except isolated.Failed as exc:
        message = str(exc)
        raise BriefError(message if ": " in message else f"{name}: {message}") from None
    return invisible_free(text)


def _renderer(env: ImmutableSandboxedEnvironment, name: str) -> Callable[[dict[str, object]], str]:
    def render(context: dict[str, object]) -> str:
        try:
            template = env.get_template(name)
        except TemplateNotFound as exc:
            where = ", ".join(str(d) for d in env.loader.searchpath)  # type: ignore[union-attr]
            raise BriefError(f"template '{exc.name}' not found in {where}") from exc
        except MemoryError:
            raise BriefError(f"{name}: MemoryError: {_TOO_BIG}") from None
        except Exception as exc:  # syntax errors are raised while loading
            raise BriefError(f"{_where(exc, name)}: {_message(exc)}") from exc
        try:
            return _render_bounded(template, context)
        except MemoryError:
            raise BriefError(f"{template.filename or name}: MemoryError: {_TOO_BIG}") from None
        except Exception as exc:  # UndefinedError, SecurityError and anything it raised
            raise BriefError(f"{_where(exc, template.filename or name)}: {_message(exc)}") from exc

    return render


_TOO_BIG = f"rendering needed more than {TEMPLATE_MEMORY // 2**20} MB"


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
        text = json.dumps(content.to_json(), ensure_ascii=False, indent=2)
        return (invisible_free(text) + "\n").encode()
    if fmt == "html":
        return render_brief(content, template, "html", templates_dir).encode("utf-8")
    md = render_brief(content, template, "md", templates_dir)
    return render_markdown_to(fmt, md, title_of(md))
