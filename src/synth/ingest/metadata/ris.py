"""RIS reader (EndNote, Zotero, EPPI-Reviewer, Campbell exports).

RIS is line-oriented and forgiving, so this reader folds continuation lines and keeps a
record whose ER line is missing instead of dropping it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .record import DocMetadata, MetadataError, _pick_publisher, normalize_doi, parse_year

RIS_TYPES = {
    "JOUR": "article-journal",
    "JFULL": "article-journal",
    "EJOUR": "article-journal",
    "ABST": "article-journal",
    "INPR": "article-journal",
    "MGZN": "article-magazine",
    "NEWS": "article-newspaper",
    "RPRT": "report",
    "GOVDOC": "report",
    "BOOK": "book",
    "EBOOK": "book",
    "EDBOOK": "book",
    "SER": "book",
    "CHAP": "chapter",
    "ECHAP": "chapter",
    "THES": "thesis",
    "CONF": "paper-conference",
    "CPAPER": "paper-conference",
    "ELEC": "webpage",
    "WEB": "webpage",
    "BLOG": "post-weblog",
    "DATA": "dataset",
    "AGGR": "dataset",
    "UNPB": "manuscript",
    "MANSCPT": "manuscript",
    "PAMP": "pamphlet",
    "PAT": "patent",
    "COMP": "software",
    "MAP": "map",
    "DICT": "entry-dictionary",
    "ENCYC": "entry-encyclopedia",
    "PCOMM": "personal_communication",
    "CASE": "legal_case",
    "STAT": "legislation",
    "BILL": "bill",
    "GEN": "document",
}
_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9]) ( ?)-(?: (.*)|\s*)$")
_RIS_KNOWN = set(
    re.findall(
        r"\w\w",
        "TY ER AU A1 A2 A3 A4 TI T1 T2 T3 BT CT ST PY Y1 Y2 DA AB N1 N2 KW DO UR L1 L2 L3 L4 PB JO "
        "JF JA J1 J2 LA CY SN VL IS SP EP ET M1 M2 M3 ID U1 U2 U3 U4 U5 AV AN DB DP CA C1 C2 C3 "
        "RP OP AD ED LB NV RN SE TA TT",
    )
)
_RIS_JOIN_NEWLINE = {"AB", "N2", "N1"}
_RIS_SPLIT_CONTINUATION = {"KW"}  # EPPI-Reviewer puts one keyword per continuation line


def _ris_lines(text: str, path: Path, warnings: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line number, tag, value) with continuation lines folded into the previous tag."""
    tag = ""
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.replace("\ufeff", "").rstrip()
        match = _RIS_TAG.match(line)
        if match and (match.group(2) or match.group(1) in _RIS_KNOWN):
            tag = match.group(1)
            yield number, tag, (match.group(3) or "").strip()
        elif line.strip():
            if tag:
                yield number, f"+{tag}", line.strip()
            else:
                warnings.append(f"{path.name} line {number}: text outside a RIS record ignored")


def _read_ris(text: str, path: Path, warnings: list[str]) -> list[DocMetadata]:
    records: list[DocMetadata] = []
    current: dict[str, list[str]] | None = None
    start = 0
    for number, tag, value in _ris_lines(text, path, warnings):
        if tag == "TY":
            if current is not None:
                warnings.append(
                    f"{path.name} line {start}: RIS record has no ER line; ended at line {number}"
                )
                records.append(_ris_record(current, f"{path.name}:{start}"))
            current, start = {"TY": [value]}, number
        elif current is None:
            if tag != "ER" and not tag.startswith("+"):
                warnings.append(f"{path.name} line {number}: {tag} line outside a record ignored")
        elif tag == "ER":
            records.append(_ris_record(current, f"{path.name}:{start}"))
            current = None
        elif tag.startswith("+"):
            _ris_continue(current, tag[1:], value)
        else:
            current.setdefault(tag, []).append(value)
    if current is not None:
        warnings.append(f"{path.name} line {start}: last RIS record has no ER line; kept")
        records.append(_ris_record(current, f"{path.name}:{start}"))
    if not records and text.strip():
        raise MetadataError(f"{path}: line 1: no RIS records (no 'TY  - ' line found)")
    return records


def _ris_continue(record: dict[str, list[str]], tag: str, value: str) -> None:
    values = record.setdefault(tag, [""])
    if tag in _RIS_SPLIT_CONTINUATION:
        values.append(value)
    else:
        joiner = "\n" if tag in _RIS_JOIN_NEWLINE else " "
        values[-1] = f"{values[-1]}{joiner}{value}" if values[-1] else value


def _ris_record(tags: dict[str, list[str]], origin: str) -> DocMetadata:
    def first(*names: str) -> str:
        for name in names:
            for value in tags.get(name, []):
                if value.strip():
                    return value
        return ""

    def every(*names: str) -> list[str]:
        return [v for name in names for v in tags.get(name, []) if v.strip()]

    item_type = RIS_TYPES.get(first("TY").strip().upper(), "document")
    urls = [u for value in every("UR") for u in re.sub(r"://\s+", "://", value).split()]
    doi_candidates = every("DO") + urls + every("M3", "L2")
    doi = next((d for d in doi_candidates if normalize_doi(d)), first("DO"))
    years = [y for y in (parse_year(v) for v in every("PY", "Y1", "DA")) if y]
    title = first("TI", "T1", "CT") or (first("BT") if item_type == "book" else "")
    return DocMetadata(
        title=title,
        authors=every("AU", "A1") or every("A2"),
        year=years[0] if years else None,
        publisher=_pick_publisher(
            item_type, every("PB"), every("JF", "T2", "JO", "JA", "J1", "J2")
        ),
        doi=doi,
        abstract=first("AB", "N2"),
        language=first("LA"),
        keywords=every("KW"),
        url=urls[0] if urls else "",
        item_type=item_type,
        files=every("L1", "L4"),
        origin=origin,
    )
