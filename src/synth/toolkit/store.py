"""Where toolkit entries live: one SQLite file outside the index, so rebuilds never touch them.

Every change (new, edit, publish, unpublish, import) appends a whole version of the record with
its time, note and author; the entry row only points at the current version. Nothing is ever
overwritten, so `history` can show and diff every past state.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from .entries import ToolkitEntry, ToolkitError, Version, slugify

DEFAULT_TOOLKIT_PATH = Path("toolkit") / "toolkit.sqlite"
ENV_VAR = "SYNTH_TOOLKIT"

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    current INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    entry_id TEXT NOT NULL REFERENCES entries(id),
    n INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    author TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (entry_id, n)
);
"""


def toolkit_path(explicit: str | Path | None = None) -> Path:
    """--toolkit PATH, else $SYNTH_TOOLKIT, else toolkit/toolkit.sqlite in the working directory."""
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_TOOLKIT_PATH)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _dump(entry: ToolkitEntry) -> str:
    return json.dumps(entry.to_json(), ensure_ascii=False, sort_keys=True)


class ToolkitStore:
    """Versioned toolkit entries in one SQLite file; each write is one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA busy_timeout = 5000")
        self.db.executescript(SCHEMA)

    @classmethod
    def open(cls, explicit: str | Path | None = None) -> ToolkitStore:
        return cls(toolkit_path(explicit))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ToolkitStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ reading

    def ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM entries ORDER BY id")]

    def exists(self, entry_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return row is not None

    def _version(self, row: sqlite3.Row) -> Version:
        entry = ToolkitEntry.from_json(json.loads(row["data"]))
        return Version(
            row["entry_id"], row["n"], row["created_at"], row["note"], row["author"], entry
        )

    def version(self, entry_id: str, n: int | None = None) -> Version:
        """Version n of an entry (the current one when n is None), or a one-line error."""
        if not self.exists(entry_id):
            raise ToolkitError(f"no toolkit entry '{entry_id}' (`synth toolkit list` shows ids)")
        row = self.db.execute(
            "SELECT v.* FROM versions v JOIN entries e ON e.id = v.entry_id "
            "WHERE v.entry_id = ? AND v.n = COALESCE(?, e.current)",
            (entry_id, n),
        ).fetchone()
        if row is None:
            last = self.db.execute("SELECT current FROM entries WHERE id = ?", (entry_id,))
            raise ToolkitError(f"'{entry_id}' has no version {n} (versions 1-{last.fetchone()[0]})")
        return self._version(row)

    def get(self, entry_id: str) -> ToolkitEntry:
        return self.version(entry_id).entry

    def history(self, entry_id: str) -> list[Version]:
        self.version(entry_id)
        rows = self.db.execute(
            "SELECT * FROM versions WHERE entry_id = ? ORDER BY n", (entry_id,)
        ).fetchall()
        return [self._version(r) for r in rows]

    def entries(self, status: str | None = None, topic: str | None = None) -> list[ToolkitEntry]:
        rows = self.db.execute(
            "SELECT v.* FROM entries e JOIN versions v ON v.entry_id = e.id AND v.n = e.current "
            "ORDER BY e.id"
        ).fetchall()
        found = [self._version(r).entry for r in rows]
        return [
            e
            for e in found
            if (status is None or e.status == status) and (topic is None or e.topic == topic)
        ]

    # ------------------------------------------------------------ writing

    def new_id(self, title: str) -> str:
        """A slug of the title, numbered when taken: 'one-to-one-tuition', '...-2'."""
        base = slugify(title)
        candidate, n = base, 1
        while self.exists(candidate):
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def create(self, entry: ToolkitEntry, note: str = "", author: str | None = None) -> Version:
        """Store a new entry as version 1; its id must be free."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", entry.id):
            raise ToolkitError(f"entry id '{entry.id}' must be letters, digits, '-', '_' or '.'")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self.exists(entry.id):
                raise ToolkitError(f"toolkit entry '{entry.id}' already exists (use edit)")
            now = _now()
            self.db.execute("INSERT INTO entries VALUES (?, 1, ?)", (entry.id, now))
            self._insert(entry, 1, now, note or "created", author)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.version(entry.id, 1)

    def save(self, entry: ToolkitEntry, note: str, author: str | None = None) -> Version | None:
        """Append a version when the record differs from the current one; None when unchanged."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            current = self.version(entry.id)
            if _dump(current.entry) == _dump(entry):
                self.db.execute("ROLLBACK")
                return None
            n = current.n + 1
            self._insert(entry, n, _now(), note, author)
            self.db.execute("UPDATE entries SET current = ? WHERE id = ?", (n, entry.id))
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        return self.version(entry.id, n)

    def _insert(self, entry: ToolkitEntry, n: int, at: str, note: str, author: str | None) -> None:
        self.db.execute(
            "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)",
            (entry.id, n, at, note, author, _dump(entry)),
        )
