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
import json
import os
import re
import shutil
from pathlib import Path
from stat import S_ISREG

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
        if not hasattr(os, "copy_file_range"):  # not Linux
            shutil.copyfileobj(source, target, 1 << 20)
            return
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


def changed_files(build: Path, recorded: dict[str, list[object]], full: bool = False) -> list[str]:
    """What differs from the fingerprints its manifest recorded: '<file> is missing',
    '<file> changed size', '<file> changed'. Stats every file; hashes a file whose time moved
    (unless an earlier hash of that very file, same inode and change time, matched) and, with
    `full`, every file."""
    verified = _Verified(build)
    problems = []
    for name, entry in sorted(recorded.items()):
        problem = _bad_entry(name, entry)
        if problem:
            return [problem]
        size, mtime_ns, digest = entry
        path = build / name
        try:
            stat = path.lstat()
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if not S_ISREG(stat.st_mode):
            problems.append(f"{name} is not a regular file")
        elif stat.st_size != size:
            problems.append(f"{name} changed size since the build was written")
        elif full or (stat.st_mtime_ns != mtime_ns and not verified.holds(name, stat)):
            if _digest(path) != digest:
                problems.append(f"{name} changed since the build was written")
            elif stat.st_mtime_ns != mtime_ns:
                verified.add(name, stat)
    verified.save()
    return problems


def _bad_entry(name: str, entry: object) -> str:
    """Why a manifest's fingerprint entry cannot be trusted, or "": names stay inside the
    build (a name such as ../../dev/zero would make every open read forever)."""
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts or "\\" in name:
        return f"manifest.json names a file outside the build ({name[:80]!r})"
    ok = (
        isinstance(entry, list)
        and len(entry) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) for v in entry[:2])
        and isinstance(entry[2], str)
        and re.fullmatch(r"[0-9a-f]{64}", entry[2]) is not None
    )
    return "" if ok else "manifest.json file fingerprints are invalid"


class _Verified:
    """Files of a build whose time moved but whose hash matched (a copied index), kept beside
    the builds in `verified/<build>.json` so the next open does not hash them again. Keyed by
    device, inode, size, modification and change time: any later write changes the change
    time, which no program can set back. Best effort: a read-only index just hashes again."""

    def __init__(self, build: Path) -> None:
        self.path = build.parent.parent / "verified" / f"{build.name}.json"
        self.entries: dict[str, list[int]] = {}
        self.changed = False
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self.path.read_text())
            if isinstance(data, dict):
                self.entries = {k: v for k, v in data.items() if isinstance(v, list)}

    @staticmethod
    def _key(stat: os.stat_result) -> list[int]:
        return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]

    def holds(self, name: str, stat: os.stat_result) -> bool:
        return self.entries.get(name) == self._key(stat)

    def add(self, name: str, stat: os.stat_result) -> None:
        self.entries[name] = self._key(stat)
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(exist_ok=True)
            for stale in self.path.parent.glob("*.json"):  # of builds cleaned up since
                if not (self.path.parent.parent / "builds" / stale.stem).is_dir():
                    stale.unlink()
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.entries))
            os.replace(tmp, self.path)
