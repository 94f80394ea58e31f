"""References for a brief: APA 7 strings, in-text citations, RIS and BibTeX from document metadata.

Curated metadata (DocMetadata from `synth ingest --metadata`) wins; otherwise the parser's title,
author and dates stand in, and the year comes from the year tag before the file's creation date,
because a PDF's creation date is often the day it was downloaded, not published.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from synth.brief.export.markdown import markdown_escape as esc
from synth.index import Index
from synth.safetext import web_url

# Words that mark an author string as an organisation, which APA writes in full.
ORG_WORDS = re.compile(
    r"\b(foundation|institute|institution|university|ministry|department|hub|trust|centre|"
    r"center|bank|unit|team|group|council|agency|organi[sz]ation|network|partnership|"
    r"alliance|school|schools|observatory|lab|laboratory|collaborative|consulting|unesco|"
    r"unicef|office|commission|association|society|authors|research|evidence|education|"
    r"programme|program|project|initiative|coalition|committee|board|government|assessment|"
    r"learning|teaching|press|media|company|inc|ltd|llc)\b",
    re.I,
)
RIS_TYPES = {
    "report": "RPRT",
    "article-journal": "JOUR",
    "book": "BOOK",
    "chapter": "CHAP",
    "thesis": "THES",
    "webpage": "ELEC",
    "paper-conference": "CPAPER",
}
BIBTEX_TYPES = {
    "report": "techreport",
    "article-journal": "article",
    "book": "book",
    "chapter": "incollection",
    "thesis": "phdthesis",
    "webpage": "misc",
    "paper-conference": "inproceedings",
}


@dataclass(frozen=True)
class Reference:
    """One source as a citation: who, when, what, where; `suffix` tells same-year works apart."""

    doc_id: str
    source: str
    title: str
    authors: list[str] = field(default_factory=list)  # "Family, Given" or an organisation
    year: int | None = None
    publisher: str = ""
    doi: str = ""
    url: str = ""
    item_type: str = "report"
    curated: bool = False  # True when built from DocMetadata rather than the parsed file
    suffix: str = ""

    @property
    def year_label(self) -> str:
        if self.year:
            return f"{self.year}{self.suffix}"
        return f"n.d.-{self.suffix}" if self.suffix else "n.d."

    @property
    def in_text(self) -> str:
        """APA parenthetical form without brackets: 'Family', 'A & B' or 'A et al.', then year."""
        names = [_family(a) for a in self.authors] or [_short_title(self.title)]
        if len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} & {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who}, {self.year_label}"

    @property
    def apa(self) -> str:
        """The reference-list entry in APA 7 style, as Markdown (titles in *italics*)."""
        return apa_markdown(self)

    @property
    def apa_text(self) -> str:
        """The APA entry as plain text (no Markdown), for JSON and other tools."""
        from synth.brief.export.markdown import parse_inline

        return "".join(run.text for run in parse_inline(self.apa))

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "in_text": self.in_text, "apa": self.apa, "apa_text": self.apa_text}


def _is_person(name: str) -> bool:
    return "," in name and not ORG_WORDS.search(name)


def _family(name: str) -> str:
    return name.split(",")[0].strip() if _is_person(name) else name.strip()


def _initials(given: str) -> str:
    parts = re.split(r"[\s.]+", given.strip())
    out = []
    for part in filter(None, parts):
        pieces = part.split("-")
        out.append("-".join(f"{p[0].upper()}." for p in pieces if p))
    return " ".join(out)


def _apa_name(name: str) -> str:
    if not _is_person(name):
        return name.strip()
    family, _, given = name.partition(",")
    initials = _initials(given)
    return f"{family.strip()}, {initials}" if initials else family.strip()


def _short_title(title: str) -> str:
    words = title.split()
    return " ".join(words[:4]) + ("..." if len(words) > 4 else "")


def _apa_authors(authors: list[str]) -> str:
    """The author list as escaped Markdown ('&' stays bare: it starts no entity before a space)."""
    names = [esc(_apa_name(a)) for a in authors]
    if len(names) > 20:
        names = [*names[:19], "...", names[-1]]
        return ", ".join(names)
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + ", & " + names[-1]


def _link(ref: Reference) -> str:
    if ref.doi:
        return f"https://doi.org/{ref.doi}"
    return web_url(ref.url)


def _end(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def apa_markdown(ref: Reference) -> str:
    """Author, A. A. (Year). *Title*. Publisher. https://doi.org/...

    With no author APA moves the title to the author position; a journal article's container
    is italicised instead of its title. Document text is escaped, so the string is safe Markdown.
    """
    date = f"({ref.year_label})."
    title = esc(_end(ref.title.strip() or ref.source))
    italic_title = f"*{title[:-1]}*."
    parts: list[str] = []
    if ref.authors:
        author_text = _apa_authors(ref.authors)
        parts.append(author_text if author_text.endswith(".") else author_text + ".")
        parts.append(date)
        parts.append(title if ref.item_type == "article-journal" else italic_title)
    else:
        parts += [italic_title, date]
    publisher = ref.publisher.strip()
    author_names = {a.strip().lower() for a in ref.authors}
    if publisher and publisher.lower() not in author_names:
        container = esc(_end(publisher))
        parts.append(f"*{container[:-1]}*." if ref.item_type == "article-journal" else container)
    link = _link(ref)
    if link:
        parts.append(esc(link))
    return " ".join(parts)


def _person_from_plain(name: str) -> str:
    """'Jane A. Smith' -> 'Smith, Jane A.'; organisations and 'Smith, Jane' stay as they are."""
    name = name.strip()
    if "," in name or ORG_WORDS.search(name):
        return name
    words = name.split()
    if words and words[0].lower().endswith("ing"):  # "Rethinking Assessment", "Teaching Matters"
        return name
    if 2 <= len(words) <= 4 and all(w[:1].isupper() for w in words):
        return f"{words[-1]}, {' '.join(words[:-1])}"
    return name


def split_author_field(author: str) -> list[str]:
    """A PDF's author field as a list: split on ';' or ' and ' / '&' between people."""
    author = author.strip()
    if not author:
        return []
    if ORG_WORDS.search(author) and ";" not in author:
        return [author]
    parts = re.split(r"\s*;\s*|\s+and\s+|\s*&\s*", author)
    return [_person_from_plain(p) for p in parts if p.strip()]


def _year_tag(index: Index, doc_id: str) -> int | None:
    rows = (
        index.query(
            "SELECT value FROM doc_tags WHERE doc_id = ? AND facet = 'year' "
            "ORDER BY confidence DESC LIMIT 1",
            (doc_id,),
        )
        if index.has_facets
        else []
    )
    return int(rows[0][0]) if rows and str(rows[0][0]).isdigit() else None


def reference_for(index: Index, doc_id: str) -> Reference:
    """The best citation the index can give for one document."""
    doc = next(d for d in index.find_documents([doc_id]) if d.doc_id == doc_id)
    meta = index.document_tags(doc_id).metadata if index.has_facets else None
    created_year = int(doc.created[:4]) if re.match(r"\d{4}", doc.created or "") else None
    fallback_year = _year_tag(index, doc_id) or created_year
    if meta is not None:
        return Reference(
            doc_id=doc_id,
            source=doc.source,
            title=meta.title or doc.title,
            authors=list(meta.authors) or split_author_field(doc.author),
            year=meta.year or fallback_year,
            publisher=meta.publisher,
            doi=meta.doi,
            url=meta.url,
            item_type=meta.item_type or "report",
            curated=True,
        )
    return Reference(
        doc_id=doc_id,
        source=doc.source,
        title=doc.title,
        authors=split_author_field(doc.author),
        year=fallback_year,
    )


def _sort_key(ref: Reference) -> tuple[str, int, str]:
    first = _family(ref.authors[0]) if ref.authors else ref.title
    return (first.lower(), ref.year or 0, ref.title.lower())


def finish_references(refs: list[Reference]) -> list[Reference]:
    """Sort as APA does and give same author-and-year works the suffixes a, b, c."""
    ordered = sorted(refs, key=_sort_key)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, ref in enumerate(ordered):
        who = "; ".join(_family(a) for a in ref.authors) or ref.title
        groups.setdefault((who.lower(), str(ref.year)), []).append(i)
    for members in groups.values():
        if len(members) > 1:
            for n, i in enumerate(members):
                ordered[i] = replace(ordered[i], suffix="abcdefghijklmnopqrstuvwxyz"[n % 26])
    return ordered


# ---------------------------------------------------------------- RIS and BibTeX


def to_ris(refs: list[Reference]) -> str:
    """RIS records (Zotero, EndNote, Mendeley import these)."""
    out: list[str] = []
    for ref in refs:
        lines = [f"TY  - {RIS_TYPES.get(ref.item_type, 'GEN')}"]
        lines += [f"AU  - {a}" for a in ref.authors]
        lines.append(f"TI  - {ref.title}")
        if ref.year:
            lines.append(f"PY  - {ref.year}")
        if ref.publisher:
            tag = "JO" if ref.item_type == "article-journal" else "PB"
            lines.append(f"{tag}  - {ref.publisher}")
        if ref.doi:
            lines.append(f"DO  - {ref.doi}")
        if web_url(ref.url):
            lines.append(f"UR  - {web_url(ref.url)}")
        lines.append(f"L1  - {ref.source}")
        lines.append("ER  - ")
        out.append("\n".join(f"{x[:6]}{_one_line(x[6:])}" for x in lines))
    return "\n\n".join(out) + ("\n" if out else "")


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _bib_escape(text: str) -> str:
    text = _one_line(text)
    text = text.replace("\\", r"\textbackslash{}")
    return re.sub(r"([{}&%$#_])", r"\\\1", text).replace("~", r"\textasciitilde{}")


def bibtex_key(ref: Reference, taken: set[str]) -> str:
    first = _family(ref.authors[0]) if ref.authors else ref.title
    word = re.sub(r"[^a-z]", "", first.split()[0].lower() if first.split() else "") or "anon"
    title_word = next(
        (re.sub(r"[^a-z]", "", w.lower()) for w in ref.title.split() if len(w) > 3), ""
    )
    base = f"{word}{ref.year or 'nd'}{title_word}"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}{n}"
    taken.add(key)
    return key


def to_bibtex(refs: list[Reference]) -> str:
    """BibTeX entries with TeX specials escaped; organisations are braced so they stay whole."""
    taken: set[str] = set()
    entries: list[str] = []
    for ref in refs:
        kind = BIBTEX_TYPES.get(ref.item_type, "misc")
        authors = " and ".join(
            _bib_escape(a) if _is_person(a) else "{" + _bib_escape(a) + "}" for a in ref.authors
        )
        fields = [("author", authors), ("title", "{" + _bib_escape(ref.title) + "}")]
        if ref.year:
            fields.append(("year", str(ref.year)))
        if ref.publisher:
            name = {"article": "journal", "techreport": "institution"}.get(kind, "publisher")
            fields.append((name, _bib_escape(ref.publisher)))
        if ref.doi:
            fields.append(("doi", _bib_escape(ref.doi)))
        if web_url(ref.url):
            fields.append(("url", _bib_escape(web_url(ref.url))))
        fields.append(("note", "File: " + _bib_escape(ref.source)))
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
        entries.append(f"@{kind}{{{bibtex_key(ref, taken)},\n{body}\n}}")
    return "\n\n".join(entries) + ("\n" if entries else "")


# ---------------------------------------------------------------- CSL-JSON and one-call export

CSL_TYPES = {"webpage": "webpage", "paper-conference": "paper-conference"}
CITATION_FORMATS = {
    # format: (file extension, MIME type, label)
    "ris": ("ris", "application/x-research-info-systems", "RIS"),
    "bibtex": ("bib", "application/x-bibtex", "BibTeX"),
    "csl": ("json", "application/vnd.citationstyles.csl+json", "CSL-JSON"),
}


def _csl_name(name: str) -> dict[str, str]:
    if not _is_person(name):
        return {"literal": name.strip()}
    family, _, given = name.partition(",")
    return {"family": family.strip(), "given": given.strip()}


def to_csl_json(refs: list[Reference]) -> str:
    """CSL-JSON items (Zotero, Pandoc and citeproc read these), one per reference."""
    import json

    items = []
    for ref in refs:
        item: dict[str, object] = {
            "id": ref.doc_id,
            "type": CSL_TYPES.get(ref.item_type, ref.item_type or "report"),
            "title": ref.title,
        }
        if ref.authors:
            item["author"] = [_csl_name(a) for a in ref.authors]
        if ref.year:
            item["issued"] = {"date-parts": [[ref.year]]}
        if ref.publisher:
            key = "container-title" if ref.item_type == "article-journal" else "publisher"
            item[key] = ref.publisher
        if ref.doi:
            item["DOI"] = ref.doi
        if web_url(ref.url):
            item["URL"] = web_url(ref.url)
        item["note"] = f"File: {ref.source}"
        items.append(item)
    return json.dumps(items, ensure_ascii=False, indent=2) + "\n"


def references_for(index: Index, doc_ids: list[str]) -> list[Reference]:
    """The citations of these documents (each once), sorted and suffixed as APA does."""
    return finish_references([reference_for(index, d) for d in dict.fromkeys(doc_ids)])


def export_references(refs: list[Reference], fmt: str) -> str:
    """The references as RIS, BibTeX or CSL-JSON text (`fmt` a key of CITATION_FORMATS)."""
    writers = {"ris": to_ris, "bibtex": to_bibtex, "csl": to_csl_json}
    if fmt not in writers:
        raise ValueError(f"unknown citation format {fmt!r}: use ris, bibtex or csl")
    return writers[fmt](refs)
