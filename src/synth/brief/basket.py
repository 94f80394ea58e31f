"""Baskets: hand-picked chunk ids (a file of one id per line) turned into hits, in order."""

from __future__ import annotations

from pathlib import Path

from synth.index import Index
from synth.models import Hit


class BasketError(ValueError):
    """A basket file names chunk ids the index does not hold."""


def read_basket(path: str | Path) -> list[str]:
    """Chunk ids, one per line; blank lines and # comments are ignored, order kept, no repeats."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    ids = [line.split("#", 1)[0].strip() for line in lines]
    return list(dict.fromkeys(i for i in ids if i))


def hits_from_basket(index: Index, chunk_ids: list[str], min_confidence: float = 0.6) -> list[Hit]:
    """Turn hand-picked chunk ids into hits, in the order given; unknown ids are an error."""
    if not chunk_ids:
        return []
    rowid = index.rowids(chunk_ids)
    missing = [c for c in chunk_ids if c not in rowid]
    if missing:
        raise BasketError(
            f"{len(missing)} chunk id(s) not in index build {index.build_id}: "
            + ", ".join(missing[:5])
            + (" ..." if len(missing) > 5 else "")
        )
    records = index.chunks([rowid[c] for c in chunk_ids])
    tags = index.chunk_facets([rowid[c] for c in chunk_ids], min_confidence)
    hits = []
    for rank, chunk_id in enumerate(chunk_ids, start=1):
        hits.append(records[rowid[chunk_id]].hit(rank, 1.0, tags.get(rowid[chunk_id], {})))
    return hits
