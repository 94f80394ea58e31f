"""Named baskets of passages set aside for a brief, kept in SQLite beside the toolkit store.

A basket outlives the browser session and the server: each item keeps the title, file, page
range and a snippet it had when added, so a basket still reads well (and says what is gone)
after the index is rebuilt. A basket travels as a share token (its name and chunk ids, grouped
by document) that another synth on the same corpus can import.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from synth.models import Hit

from .entries import slugify
from .store import toolkit_path

ENV_VAR = "SYNTH_BASKETS"
SNIPPET_CHARS = 220
MAX_NAME_CHARS = 80
MAX_SHARED_ITEMS = 200

SCHEMA = """
CREATE TABLE IF NOT EXISTS baskets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS basket_items (
    basket_id TEXT NOT NULL REFERENCES baskets(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    chunk_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    page_start INTEGER NOT NULL,
    page_end INTEGER NOT NULL,
    snippet TEXT NOT NULL,
    PRIMARY KEY (basket_id, chunk_id)
);
"""


class BasketError(ValueError):
    """A basket that does not exist, or a name or share token that cannot be used."""


def basket_path(explicit: str | Path | None = None) -> Path:
    """$SYNTH_BASKETS, else baskets.sqlite in the toolkit store's folder."""
    return Path(explicit or os.environ.get(ENV_VAR) or toolkit_path().parent / "baskets.sqlite")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def pages_label(start: int, end: int) -> str:
    return f"p. {start}" if start == end else f"pp. {start}–{end}"


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The passage's opening words, cut at a word boundary."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


@dataclass(frozen=True)
class BasketItem:
    """One passage in a basket, as it read when it was added."""

    chunk_id: str
    doc_id: str
    title: str
    source: str
    page_start: int
    page_end: int
    snippet: str

    @property
    def pages(self) -> str:
        return pages_label(self.page_start, self.page_end)


@dataclass
class Basket:
    id: str
    name: str
    created_at: str
    used_at: str
    items: list[BasketItem] = field(default_factory=list)

    @property
    def chunk_ids(self) -> list[str]:
        return [item.chunk_id for item in self.items]


def clean_name(name: str) -> str:
    name = re.sub(r"\s+", " ", "".join(c if c.isprintable() else " " for c in name)).strip()
    if not name:
        raise BasketError("give the basket a name")
    return name[:MAX_NAME_CHARS]


class BasketStore:
    """Baskets in one SQLite file; every change is one statement or one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> BasketStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ baskets

    def baskets(self) -> list[Basket]:
        """Every basket with its items, the most recently used first."""
        rows = self.db.execute("SELECT * FROM baskets ORDER BY used_at DESC, name").fetchall()
        return [self._with_items(r) for r in rows]

    def _with_items(self, row: sqlite3.Row) -> Basket:
        items = self.db.execute(
            "SELECT chunk_id, doc_id, title, source, page_start, page_end, snippet "
            "FROM basket_items WHERE basket_id = ? ORDER BY position",
            (row["id"],),
        ).fetchall()
        basket = Basket(row["id"], row["name"], row["created_at"], row["used_at"])
        basket.items = [BasketItem(*tuple(r)) for r in items]
        return basket

    def get(self, basket_id: str) -> Basket:
        row = self.db.execute("SELECT * FROM baskets WHERE id = ?", (basket_id,)).fetchone()
        if row is None:
            raise BasketError(f"no basket '{basket_id}'")
        return self._with_items(row)

    def latest(self) -> Basket | None:
        row = self.db.execute("SELECT * FROM baskets ORDER BY used_at DESC LIMIT 1").fetchone()
        return None if row is None else self._with_items(row)

    def create(self, name: str) -> Basket:
        name = clean_name(name)
        base = slugify(name)
        taken = {r[0] for r in self.db.execute("SELECT id FROM baskets")}
        basket_id, n = base, 1
        while basket_id in taken:
            n += 1
            basket_id = f"{base}-{n}"
        now = _now()
        self.db.execute("INSERT INTO baskets VALUES (?, ?, ?, ?)", (basket_id, name, now, now))
        return Basket(basket_id, name, now, now)

    def rename(self, basket_id: str, name: str) -> None:
        self.get(basket_id)
        self.db.execute("UPDATE baskets SET name = ? WHERE id = ?", (clean_name(name), basket_id))

    def delete(self, basket_id: str) -> None:
        self.db.execute("DELETE FROM baskets WHERE id = ?", (basket_id,))

    def touch(self, basket_id: str) -> None:
        """Mark a basket as the one last used: a new session opens it."""
        self.db.execute("UPDATE baskets SET used_at = ? WHERE id = ?", (_now(), basket_id))

    # ------------------------------------------------------------ items

    def add(self, basket_id: str, items: Iterable[BasketItem]) -> int:
        """Append passages not already in the basket; returns how many were added."""
        self.get(basket_id)
        added = 0
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            end = self.db.execute(
                "SELECT COALESCE(MAX(position), -1) FROM basket_items WHERE basket_id = ?",
                (basket_id,),
            ).fetchone()[0]
            for item in items:
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO basket_items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (basket_id, end + added + 1, item.chunk_id, item.doc_id, item.title,
                     item.source, item.page_start, item.page_end, item.snippet),
                )  # fmt: skip
                added += cursor.rowcount
        self.touch(basket_id)
        return added

    def remove(self, basket_id: str, chunk_id: str) -> None:
        self.db.execute(
            "DELETE FROM basket_items WHERE basket_id = ? AND chunk_id = ?", (basket_id, chunk_id)
        )
        self.touch(basket_id)

    def clear(self, basket_id: str) -> None:
        self.db.execute("DELETE FROM basket_items WHERE basket_id = ?", (basket_id,))

    def reorder(self, basket_id: str, chunk_ids: list[str]) -> None:
        """Put the basket's passages in this order (ids not in the basket are ignored)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for position, chunk_id in enumerate(chunk_ids):
                self.db.execute(
                    "UPDATE basket_items SET position = ? WHERE basket_id = ? AND chunk_id = ?",
                    (position, basket_id, chunk_id),
                )

    def move(self, basket_id: str, chunk_id: str, delta: int) -> None:
        """Shift a passage up (delta < 0) or down: the basket's order is the brief's."""
        ids = self.get(basket_id).chunk_ids
        if chunk_id not in ids:
            return
        i = ids.index(chunk_id)
        ids.insert(min(max(i + delta, 0), len(ids) - 1), ids.pop(i))
        self.reorder(basket_id, ids)

    def import_shared(self, name: str, items: list[BasketItem]) -> Basket:
        """A shared basket: reuse one with the same name and passages, else save a new one."""
        name = clean_name(name)
        wanted = [item.chunk_id for item in items]
        for basket in self.baskets():
            if basket.name == name and basket.chunk_ids == wanted:
                self.touch(basket.id)
                return basket
        basket = self.create(name)
        self.add(basket.id, items)
        return self.get(basket.id)


# ---------------------------------------------------------------- share tokens


def share_items(chunk_ids: list[str]) -> str:
    """Chunk ids as 'doc:seq.seq~doc:seq': runs of passages from one document share its id,
    so a basket's order is kept and the token is about half the length of the ids joined."""
    runs: list[tuple[str, list[str]]] = []
    for chunk_id in chunk_ids:
        doc, _, seq = chunk_id.rpartition("-")
        if not doc or not seq.isdigit():
            continue
        if runs and runs[-1][0] == doc:
            runs[-1][1].append(str(int(seq)))
        else:
            runs.append((doc, [str(int(seq))]))
    return "~".join(f"{doc}:{'.'.join(seqs)}" for doc, seqs in runs)


def parse_share_items(token: str) -> list[str]:
    """The chunk ids a share token names; malformed parts are skipped, at most 200 ids."""
    ids: list[str] = []
    for part in token.split("~"):
        doc, _, seqs = part.partition(":")
        if not re.fullmatch(r"[0-9a-f]{6,64}", doc):
            continue
        for seq in seqs.split("."):
            if seq.isdigit() and len(seq) < 7:
                ids.append(f"{doc}-{int(seq):04d}")
    return list(dict.fromkeys(ids))[:MAX_SHARED_ITEMS]


def item_from_hit(hit: Hit) -> BasketItem:
    return BasketItem(
        hit.chunk_id, hit.doc_id, hit.title, hit.source, hit.page, hit.page_end, snippet(hit.text)
    )
