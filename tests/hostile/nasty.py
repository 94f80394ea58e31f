"""Builders of hostile files, made at test time (nothing large is committed): PDFs with bombs,
cycles, huge metadata, endless pages and encryption, binary "text", metadata bombs, and a
harness that runs the `synth` command as a user would, with a time limit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
)

SYNTH = [sys.executable, "-c", "import sys; from synth.cli import main; sys.exit(main())"]


def run_synth(
    *args: str, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """`synth ARGS` in a fresh process, as a user runs it; fails the test if it outlives
    `timeout` (a hang) or prints a Python traceback."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SYNTH_DEBUG": ""}
    done = subprocess.run(
        [*SYNTH, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "Traceback" not in done.stdout, done.stdout[-3000:]
    return done


def _font() -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )


def text_pdf(path: Path, lines: list[str], size: float = 10, leading: float = 12) -> Path:
    """A one-page PDF whose content stream draws `lines` top down (any number of them)."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    ops = [f"BT /F1 {size} Tf {leading} TL 40 800 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = DecodedStreamObject()
    stream.set_data("\n".join(ops).encode("latin-1", errors="replace"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): _font()})}
    )
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def pdf_with_title(path: Path, title: str, body: list[str]) -> Path:
    text_pdf(path, body)
    writer = PdfWriter(clone_from=str(path))
    writer.add_metadata({"/Title": title})
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def encrypted_pdf(path: Path, body: list[str], user_password: str) -> Path:
    """AES-256 encryption; an empty user password opens for anyone (a 'protected' report)."""
    text_pdf(path, body)
    writer = PdfWriter(clone_from=str(path))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def bomb_pdf(path: Path, expands_to: int = 200_000_000) -> Path:
    """A page whose Flate content stream inflates ~2,000-fold (200 MB from about 200 kB)."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    stream = StreamObject()
    stream._data = zlib.compress(b" " * expands_to, 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    stream[NameObject("/Length")] = NumberObject(len(stream._data))
    page[NameObject("/Contents")] = writer._add_object(stream)
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def cycle_pdf(path: Path) -> Path:
    """A page tree whose /Kids contains itself."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    pages = writer._root_object["/Pages"].get_object()
    pages[NameObject("/Kids")] = ArrayObject([writer._root_object.raw_get("/Pages")])
    pages[NameObject("/Count")] = NumberObject(1)
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 9)}]")
        previous = name
    return "\n".join(lines) + "\ntitle: *i\n"


def bibtex_doubling(steps: int = 40) -> str:
    """@string macros that double at each step: 2^40 characters if expanded in full."""
    out = ['@string{m0 = "lol"}']
    out += [f"@string{{m{i} = m{i - 1} # m{i - 1}}}" for i in range(1, steps)]
    out.append(f"@article{{key, title = m{steps - 1}, year = 2020}}")
    out.append("@article{good, title = {A Study of Homework Clubs}, year = 2019}")
    return "\n".join(out) + "\n"


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail with TimeoutError if the block runs longer than `seconds` (a harness limit, so a
    hang fails the test instead of stalling the suite; not a speed assertion)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF from object bodies (object 1 the catalog), with a correct cross-reference table:
    for page trees no writer library would make."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def tree_pdf(path: Path, levels: int, kids_per_node: int) -> Path:
    """A page tree `levels` deep whose every /Pages node lists its child `kids_per_node`
    times: 1 gives a deep chain, 2 doubles the page count at each level (2^levels pages)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(levels):
        kid = b"%d 0 R " % (3 + level)
        count = kids_per_node ** (levels - level)
        objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kid * kids_per_node, count))
    page = 2 + levels
    stream = b"BT /F1 12 Tf 72 720 Td (Pupils read every day.) Tj ET"
    objects.append(
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (page - 1, page + 1, page + 2)
    )
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    path.write_bytes(raw_pdf(objects))
    return path
