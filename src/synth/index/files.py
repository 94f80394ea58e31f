"""A build's files: copies that share nothing writable with the build they came from, and
fingerprints that tell, at the cost of a stat, that a file changed after its build was written.

Builds once shared keyword segments and vectors by hard link, so one damaged file damaged two
builds and the fallback build was as broken as the live one. A new build now clones each file
(a reflink where the filesystem has them: instant, and a later write to either copy is its
own) or copies it in the kernel. A published build never changes, so its manifest records each
file's size, modification time and SHA-256: a reader compares size and time at open and hashes
only a file whose time moved (a copied index), so damage is found before the first query.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
from pathlib import Path

# ioctl(dst, FICLONE, src): share the extents copy-on-write (btrfs, XFS, bcachefs, ...).
FICLONE = 0x40049409
MANIFEST = "manifest.json"


def clone_file(src: Path, dst: Path) -> None:
    """dst as an independent copy of src: a reflink when the filesystem can, else a copy made
    in the kernel (copy_file_range), else a plain copy."""
    with open(src, "rb") as source, open(dst, "wb") as target:
        with contextlib.suppress(OSError):
            fcntl.ioctl(target.fileno(), FICLONE, source.fileno())
            return
        size = os.fstat(source.fileno()).st_size
        try:
            done = 0
            while done < size:
                sent = os.copy_file_range(source.fileno(), target.fileno(), size - done)
                if sent == 0:
                    break
                done += sent
            if done == size:
                return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
        source.seek(0)
        target.seek(0)
        target.truncate()
        shutil.copyfileobj(source, target, 1 << 20)


def clone_tree(src: Path, dst: Path) -> None:
    """A folder cloned file by file (see clone_file)."""
    shutil.copytree(src, dst, copy_function=lambda a, b: clone_file(Path(a), Path(b)))


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def fingerprints(build: Path) -> dict[str, list[object]]:
    """[size, mtime_ns, sha256] of every file in a finished build but its manifest."""
    found: dict[str, list[object]] = {}
    for path in sorted(build.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            stat = path.stat()
            found[path.relative_to(build).as_posix()] = [
                stat.st_size,
                stat.st_mtime_ns,
                _digest(path),
            ]
    return found


def changed_files(build: Path, recorded: dict[str, list[object]]) -> list[str]:
    """What differs from the fingerprints its manifest recorded: '<file> is missing',
    '<file> changed size', '<file> changed'. Stats every file; hashes only a file whose
    modification time moved."""
    problems = []
    for name, (size, mtime_ns, digest) in sorted(recorded.items()):
        path = build / name
        try:
            stat = path.stat()
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if stat.st_size != size:
            problems.append(f"{name} changed size since the build was written")
        elif stat.st_mtime_ns != mtime_ns and _digest(path) != digest:
            problems.append(f"{name} changed since the build was written")
    return problems
