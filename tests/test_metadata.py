"""Metadata readers on real exports (Campbell RIS) and on fixtures shaped like Zotero's exports.

The fixtures under tests/data/metadata/ copy the layout the tools write (Zotero BibTeX with tab
indentation and a `file` field, CSL-JSON with date-parts, RIS with CRLF and a BOM); each test
checks the values read, not just that reading did not fail.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from synth.ingest.metadata import (
    DocMetadata,
    MetadataError,
    bib_files,
    latex_to_unicode,
    load_metadata,
    match_record,
    normalize_doi,
    parse_year,
    sidecar_for,
)

DATA = Path(__file__).resolve().parent / "data" / "metadata"
REPO = Path(__file__).resolve().parents[1]


def by_title(records: list[DocMetadata], prefix: str) -> DocMetadata:
    found = [r for r in records if r.title.startswith(prefix)]
    assert len(found) == 1, [r.title for r in records]
    return found[0]


# ---------------------------------------------------------------- real Campbell RIS exports


@pytest.fixture(scope="module")
def campbell_ris(shared_campbell_pdfs) -> list[Path]:
    """The RIS files beside the shared Campbell PDFs (that fixture skips if ../shared is absent)."""
    files = sorted(shared_campbell_pdfs[0].parent.glob("*.ris"))
    if not files:
        pytest.skip(f"no RIS files in {shared_campbell_pdfs[0].parent}")
    return files


@pytest.fixture(scope="module")
def campbell_records(campbell_ris) -> dict[str, list[DocMetadata]]:
    return {path.name: load_metadata(path) for path in campbell_ris}


def test_campbell_ris_has_one_record_per_er_line(campbell_ris, campbell_records):
    for path in campbell_ris:
        text = path.read_text(encoding="utf-8-sig")
        er_lines = len(re.findall(r"^ER  -", text, flags=re.M))
        records = campbell_records[path.name]
        assert er_lines > 100
        assert len(records) == er_lines, path.name
        assert records.warnings == []
        assert all(r.title for r in records)
        assert all(r.origin.startswith(f"{path.name}:") for r in records)


def test_campbell_ris_known_record_values(campbell_records):
    records = campbell_records["class-size-special-education-included.ris"]
    record = next(r for r in records if r.doi == "10.1002/dys.1626")
    assert record.title == (
        "Evaluation of the effectiveness of a literacy intervention programme on enhancing "
        "learning outcomes for secondary students with dyslexia in Hong Kong"
    )
    assert record.year == 2019
    assert record.authors == ["Tam Irelan O. L", "Leung Cynthia"]  # EPPI writes no comma
    assert record.publisher == "Dyslexia: An International Journal of Research and Practice"
    assert record.item_type == "article-journal"
    assert "Hong Kong" in record.keywords
    assert record.origin == "class-size-special-education-included.ris:565"


def test_campbell_ris_quirks(campbell_records):
    class_size = campbell_records["class-size-special-education-included.ris"]
    # EPPI-Reviewer continues KW on bare lines: each continuation line is one more keyword.
    thesis = by_title(class_size, "The Effects of Class Size on Students' Academic Achievement")
    assert thesis.item_type == "thesis"
    assert thesis.year == 2011
    assert thesis.keywords[-3:] == ["Grade 3", "Grade 5", "New York"]
    assert thesis.url.startswith("http://search.ebscohost.com/") and " " not in thesis.url
    # No DO line, but the second UR link is a dx.doi.org one.
    irish = by_title(class_size, "The Impact and the Implications of Policy Regarding the Orga")
    assert irish.doi == "10.1080/03323315.2017.1421089"
    # A chapter's A2 lines are the book's editors, so they are not its authors.
    chapter = by_title(class_size, "Special education can work")
    assert chapter.authors == ["Fuchs Douglas", "Fuchs Lynn S"]
    assert chapter.item_type == "chapter"
    # "DO  - http://dx .doi.org/10.1002/acp.3245": a space inside the resolver host.
    testing = campbell_records["testing-frequency-included.ris"]
    assert any(r.doi == "10.1002/acp.3245" for r in testing)
    # A record with no PY/DA/Y1 has no year rather than a wrong one.
    perceptions = by_title(class_size, "The perceptions of pupils with emotional and behavioural")
    assert perceptions.year is None
    assert all(r.doi == r.doi.lower() and not r.doi.startswith("http") for r in testing)


def test_match_record_on_campbell_records(campbell_records):
    records = [r for recs in campbell_records.values() for r in recs]
    target = next(r for r in records if r.doi == "10.1002/dys.1626")
    head = "Dyslexia. 2019;25:296-317. https://doi.org/10.1002/dys.1626\nRESEARCH ARTICLE"
    assert match_record(records, Path("tam-leung.pdf"), text_head=head) is target
    near_title = target.title.replace("programme", "program").replace("Hong Kong", "HongKong")
    assert match_record(records, Path("scan.pdf"), title=near_title) is target
    unrelated = "Homework clubs and attendance in rural Ghanaian primary schools"
    assert match_record(records, Path("scan.pdf"), title=unrelated) is None


def test_campbell_reviews_match_none_of_their_included_studies(
    campbell_records, shared_campbell_docs
):
    """A review cites its included studies; its own text must not be mistaken for one of them."""
    records = [r for recs in campbell_records.values() for r in recs]
    for path, doc in shared_campbell_docs.values():
        head = "\n".join(page.text for page in doc.pages[:3])
        assert re.search(r"10\.\d{4,9}/", head), f"{path.name}: expected its own DOI on page 1-3"
        assert match_record(records, path, title=doc.title, text_head=head) is None


# ---------------------------------------------------------------- Zotero BibTeX


@pytest.fixture(scope="module")
def bib() -> list[DocMetadata]:
    return load_metadata(DATA / "zotero.bib")


def test_bibtex_skips_the_malformed_entry_and_keeps_the_rest(bib):
    assert [r.origin for r in bib] == [
        "zotero.bib:9",
        "zotero.bib:25",
        "zotero.bib:47",
        "zotero.bib:59",
        "zotero.bib:69",
    ]
    assert len(bib.warnings) == 1
    assert "line 42" in bib.warnings[0] and "@article" in bib.warnings[0]
    assert not any("unclosed title" in r.title for r in bib)


def test_bibtex_zotero_report(bib):
    report = bib[0]
    assert report.title == "Teacher Feedback to Improve Pupil Learning: A Guidance Report"
    assert report.authors == [
        "Müller, Jörg",
        "Collins, Kevan",
        "Østergaard, Bjørn",
        "Education Endowment Foundation",
    ]
    assert report.year == 2021
    assert report.publisher == "Education Endowment Foundation"  # institution = @string macro
    assert report.item_type == "report"
    assert report.abstract == (
        "Feedback is information given to learners & teachers about performance relative to "
        "learning goals, 2019–2021."
    )
    assert report.keywords == ["feedback", "formative assessment", "primary"]
    assert report.files == [
        "files/12/Müller et al. - 2021 - Teacher Feedback to Improve Pupil Learning.pdf",
        "files/13/feedback.html",
    ]
    assert report.resolved_files[0] == str(
        DATA / "files/12/Müller et al. - 2021 - Teacher Feedback to Improve Pupil Learning.pdf"
    )


def test_bibtex_accents_concatenation_names_and_windows_file(bib):
    article = bib[1]
    assert article.title == (
        "Peer tutoring in São Paulo: Evidência from a cluster-randomised trial — a Français summary"
    )
    assert article.authors == [
        "García, Ana",
        "van Beethoven, Ludwig",
        "Nguyễn, Thị",
        "Åström, Björn",
    ]
    assert article.publisher == "Journal of Educational Psychology (Online)"  # macro # string
    assert article.doi == "10.1037/edu0000345"
    assert article.year == 2019
    assert (
        article.abstract
        == "Pupils in École-style classes tutored each other; effects were 0.12–0.20 SD."
    )
    assert article.keywords == ["peer tutoring", "Brazil"]
    assert article.files == [r"C:\Users\ana\Zotero\storage\AB12CD34\Garcia 2019 Peer tutoring.pdf"]


def test_bibtex_book_thesis_and_misc(bib):
    book, thesis, misc = bib[2], bib[3], bib[4]
    assert book.authors == ["van der Berg, Servaas", "Smith, John"]  # "and others" dropped
    assert book.doi == "10.5555/class_size.1998"
    assert book.publisher == "Oxford University Press"
    assert book.resolved_files == [
        "/home/researcher/Zotero/storage/QW12ER34/van der Berg - 1998 - Class size.pdf"
    ]
    assert thesis.year == 2017  # year = {1700} is out of range, so biblatex `date` is used
    assert thesis.publisher == "University of Sussex"
    assert thesis.item_type == "thesis"
    assert thesis.language == "english"
    assert misc.title == "Learning Poverty – Briefs"
    assert misc.authors == ["World Bank"]
    assert misc.url == "https://www.worldbank.org/en/topic/education/brief/learning-poverty"


def test_bibtex_recovers_from_several_kinds_of_damage(tmp_path):
    path = tmp_path / "damaged.bib"
    path.write_text(
        "@article{no_equals, title {Missing equals}}\n"
        "@book{good_one, title = {Still Read}, year = 2001, note = undefinedmacro}\n"
        '@misc{quote, title = "An unclosed quote, year = 1999}\n'
        "@misc{last_one, title = {Last One}}\n"
        "@article{truncated, title = {Cut off at the end",
        encoding="utf-8",
    )
    records = load_metadata(path)
    assert [(r.title, r.year) for r in records] == [("Still Read", 2001), ("Last One", None)]
    assert [w.split(":")[0] for w in records.warnings] == [
        "damaged.bib line 1",
        "damaged.bib line 2",
        "damaged.bib line 3",
        "damaged.bib line 5",
    ]
    assert "undefinedmacro" in records.warnings[1]


def test_latex_and_file_field_helpers():
    assert latex_to_unicode(r"Nguy{\~{\^e}}n Th{\d{i}} Stra\ss e \v{S}koda 50\%") == (
        "Nguyễn Thị Straße Škoda 50%"
    )
    assert latex_to_unicode(r"\emph{Big} idea 1990\textendash 2000 ``q''") == (
        "Big idea 1990–2000 “q”"
    )
    assert bib_files(
        r"Full Text:C\:\\Users\\a\\x.pdf:application/pdf;Snap:files/2/y.html:text/html"
    ) == [
        r"C:\Users\a\x.pdf",
        "files/2/y.html",
    ]
    assert bib_files(":/data/paper.pdf:PDF") == ["/data/paper.pdf"]  # Mendeley
    assert bib_files(r":C$\backslash$:/Users/a/paper.pdf:pdf") == ["C:/Users/a/paper.pdf"]
    assert bib_files("Full Text:https://x.org/a.pdf:application/pdf") == ["https://x.org/a.pdf"]
    assert bib_files("/data/only-a-path.pdf") == ["/data/only-a-path.pdf"]  # Better BibTeX


# ---------------------------------------------------------------- CSL-JSON


def test_csl_json_zotero_export():
    records = load_metadata(DATA / "zotero-csl.json")
    assert [r.origin for r in records] == [
        "zotero-csl.json#1",
        "zotero-csl.json#2",
        "zotero-csl.json#3",
    ]
    report, article, page = records
    assert report.authors == ["Banda, Chileshe", "Ministry of General Education, Zambia"]
    assert report.year == 2020  # date-parts with the year as a string
    assert report.publisher == "Innovations for Poverty Action"
    assert report.keywords == ["teaching at the right level", "remedial education", "Zambia"]
    assert report.files == [] and report.doi == ""
    assert article.authors == ["van Dijk, Anouk", "Rojas, Camila"]
    assert article.publisher == "Journal of Development Effectiveness"  # container for articles
    assert (article.year, article.doi) == (2019, "10.1080/19439342.2019.1650801")
    assert page.year == 2018  # issued.raw "Spring 2018"
    assert page.doi == "10.5555/tiny.homework.2018"
    assert page.item_type == "webpage"


def test_csl_json_items_object_and_errors(tmp_path):
    path = tmp_path / "better-csl.json"
    path.write_text(json.dumps({"items": [{"title": "Only Item", "issued": "2015-02"}, 7]}))
    records = load_metadata(path)
    assert [(r.title, r.year) for r in records] == [("Only Item", 2015)]
    assert records.warnings == ["better-csl.json#2: item is not an object; skipped"]
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"title": "x",}\n]')
    with pytest.raises(MetadataError, match=r"broken\.json: line 2"):
        load_metadata(broken)


# ---------------------------------------------------------------- manifest CSV and YAML


@pytest.fixture(scope="module")
def manifest() -> list[DocMetadata]:
    return load_metadata(DATA / "manifest.csv")


def test_manifest_csv_with_bom_crlf_and_facets(manifest):
    assert (DATA / "manifest.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert [r.origin for r in manifest] == ["manifest.csv:2", "manifest.csv:3", "manifest.csv:6"]
    ghana, kenya, poverty = manifest
    assert ghana.title == (
        "Community Teaching Assistants and Remedial Learning in Ghana: An Evidence Summary"
    )
    assert ghana.authors == ["Volta Evidence Partnership", "Mensah, Ama"]
    assert (ghana.year, ghana.doi) == (2020, "10.5555/vep.2020.11")
    assert ghana.facets == {
        "country": ["Ghana", "England"],
        "phase": ["primary"],
        "topic": ["teaching-assistants"],
        "setting": ["rural"],
        "design": ["systematic-review"],
        "evidence_type": ["research-evidence"],
    }
    assert ghana.resolved_files == [
        str(REPO / "corpus/teaching-assistants-ghana-evidence-summary.pdf")
    ]
    assert kenya.title == 'Peer Tutoring in Kenyan Primary Classrooms: "An" Observation Study'
    assert kenya.year is None  # 19999
    assert kenya.abstract == "Two lines\nof abstract."
    assert kenya.facets["topic"] == ["peer-tutoring", "collaborative-learning"]
    assert poverty.files == [] and poverty.authors == ["World Bank"]
    assert manifest.warnings == [
        "manifest.csv:3: year '19999' is not a year in 1800..2100; ignored",
        "manifest.csv:5: no file, title or DOI to match on; skipped",
        "manifest.csv: ignored unknown columns: notes",
    ]


def test_manifest_without_usable_header_is_an_error(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("name,email\nAma,ama@example.org\n")
    with pytest.raises(MetadataError, match=r"people\.csv: line 1"):
        load_metadata(path)


def test_yaml_sidecar_beside_a_real_pdf(tmp_path, make_tiny_pdf):
    pdf = make_tiny_pdf("homework-clubs", tmp_path / "homework-clubs.pdf")
    assert sidecar_for(pdf) is None
    shutil.copy(DATA / "sidecar.yaml", tmp_path / "homework-clubs.pdf.yaml")
    record = sidecar_for(pdf)
    assert record is not None
    assert record.title == "After-School Homework Clubs in Rural Schools"
    assert record.authors == ["Mensah, Ama", "Owusu, Kofi"]
    assert (record.year, record.doi) == (2020, "10.5555/homework.2020.01")
    assert record.keywords == ["homework", "clubs", "rural schools"]
    assert record.facets == {
        "country": ["Ghana"],
        "phase": ["primary"],
        "setting": ["rural"],
        "topic": ["homework", "extended-school-time"],
    }
    assert record.files == ["homework-clubs.pdf"]
    assert record.resolved_files == [str(pdf.resolve())]
    assert match_record([record], pdf) is record


def test_yaml_sidecar_stem_name_and_errors(tmp_path):
    doc = tmp_path / "report.pdf"
    (tmp_path / "report.yml").write_text("title: Stem Named Sidecar\nyear: 2018-03-01\n")
    record = sidecar_for(doc)
    assert record is not None and (record.title, record.year) == ("Stem Named Sidecar", 2018)
    (tmp_path / "report.pdf.yaml").write_text("title: [unclosed\nyear: 2019\n")
    with pytest.raises(MetadataError, match=r"report\.pdf\.yaml: line \d"):
        sidecar_for(doc)


def test_yaml_list_of_records(tmp_path):
    path = tmp_path / "records.yaml"
    path.write_text("- title: First Record\n  year: 1999\n- just a string\n- file: b.pdf\n")
    records = load_metadata(path)
    assert [(r.title, r.year, r.files) for r in records] == [
        ("First Record", 1999, []),
        ("", None, ["b.pdf"]),
    ]
    assert records.warnings == ["records.yaml#2: not a mapping of fields; skipped"]


# ---------------------------------------------------------------- Zotero RIS


def test_zotero_ris_with_bom_crlf_attachments_and_a_missing_er():
    records = load_metadata(DATA / "zotero.ris")
    assert [r.origin for r in records] == ["zotero.ris:1", "zotero.ris:21", "zotero.ris:32"]
    report, article, web = records
    assert report.authors == ["Asante, Yaw", "Boateng, Efua"]
    assert report.publisher == "Volta Evidence Partnership"
    assert report.abstract == (
        "Teaching assistants are one of the largest parts of the school workforce.\n"
        "The Teacher Community Assistant Initiative was a large randomised trial."
    )
    assert report.files == [
        "files/21/teaching-assistants-ghana-evidence-summary.pdf",
        "files/22/appendix.docx",
    ]
    assert article.doi == "10.1080/19345747.2021.1000001"
    assert article.publisher == "Journal of Research on Educational Effectiveness"
    assert article.resolved_files == [
        "/home/researcher/Zotero/storage/ZX98CV76/Reyes 2021 Tutoring.pdf"
    ]
    assert (web.item_type, web.year) == ("webpage", None)  # Y1 "n.d."
    assert records.warnings == ["zotero.ris line 21: RIS record has no ER line; ended at line 32"]


# ---------------------------------------------------------------- matching


def test_match_by_attachment_basename_case_insensitive(bib, tmp_path):
    pdf = tmp_path / "MÜLLER ET AL. - 2021 - TEACHER FEEDBACK TO IMPROVE PUPIL LEARNING.PDF"
    assert match_record(bib, pdf) is bib[0]
    windows = tmp_path / "garcia 2019 peer tutoring.pdf"
    assert match_record(bib, windows) is bib[1]


def test_match_by_resolved_path_separates_same_basenames(manifest, tmp_path):
    corpus_pdf = REPO / "corpus" / "teaching-assistants-ghana-evidence-summary.pdf"
    assert match_record(manifest, corpus_pdf) is manifest[0]
    twin = DocMetadata(title="Another File With That Name", files=["elsewhere/" + corpus_pdf.name])
    twin.resolved_files = [str(tmp_path / "elsewhere" / corpus_pdf.name)]
    records = [*manifest, twin]
    assert match_record(records, corpus_pdf) is manifest[0]  # exact path wins
    third = tmp_path / "third" / corpus_pdf.name
    assert match_record(records, third) is None  # two records share the name: no guess
    assert match_record(records, third, title="Another File With That Name") is twin


def test_match_by_doi_in_the_text_of_a_real_pdf(tmp_path, make_tiny_pdf):
    from synth.ingest.parse import parse_file

    records = load_metadata(DATA / "zotero-csl.json")
    extra = "Cite as: Mensah, A. (2018). https://doi.org/10.5555/TINY.HOMEWORK.2018."
    pdf = make_tiny_pdf("homework-clubs", tmp_path / "downloaded.pdf", extra=extra)
    doc = parse_file(pdf)
    text_head = "\n".join(page.text for page in doc.pages[:2])
    assert match_record(records, pdf, title=doc.title, text_head=text_head) is records[2]
    # Without the DOI, this PDF's title is not the record's, so nothing matches.
    plain = make_tiny_pdf("homework-clubs", tmp_path / "plain.pdf")
    plain_doc = parse_file(plain)
    head = plain_doc.pages[0].text
    assert match_record(records, plain, title=plain_doc.title, text_head=head) is None


def test_several_dois_in_the_text_look_like_references():
    records = load_metadata(DATA / "zotero-csl.json")
    head = (
        "References\nvan Dijk (2019) doi:10.1080/19439342.2019.1650801\n"
        "Mensah (2018) 10.5555/tiny.homework.2018"
    )
    assert match_record(records, Path("review.pdf"), text_head=head) is None
    title = "Text Messages to Parents and Pupil Attendance in Chile"
    assert match_record(records, Path("review.pdf"), title=title, text_head=head) is records[1]


def test_match_by_fuzzy_title_from_a_real_pdf(manifest):
    from synth.ingest.parse import parse_file

    pdf = REPO / "corpus" / "peer-tutoring-kenya-observation.pdf"
    doc = parse_file(pdf)
    records = load_metadata(DATA / "zotero.ris")
    ghana = records[0]
    near = "Community teaching assistants & remedial learning in Ghana - an evidence summry"
    assert match_record(records, Path("x.pdf"), title=near) is ghana
    assert (
        match_record(records, Path("x.pdf"), title="Community Teaching Assistants in Ghana") is None
    )
    kenya = "Community teaching assistants & remedial learning in Kenya: an evidence summary"
    assert match_record(records, Path("x.pdf"), title=kenya) is None, "a different country"
    # Ratio 0.89 against the record's title: close, but below the 0.92 bar.
    review = "Community Teaching Assistants and Remedial Teaching in Ghana: An Evidence Review"
    assert match_record(records, Path("x.pdf"), title=review) is None
    # A real PDF whose file name and title match nothing in the RIS export.
    assert match_record(records, pdf, title=doc.title, text_head=doc.pages[0].text) is None
    # ...but the manifest names it by file.
    assert match_record(manifest, pdf, title=doc.title) is manifest[1]


def test_equal_titles_of_different_works_are_ambiguous(tmp_path):
    title = "Annual Report on Primary Education 2019"
    records = [
        DocMetadata(title=title, publisher="Ministry of Education, Ghana", doi="10.5555/gh.2019"),
        DocMetadata(title=title, publisher="Ministry of Education, Kenya", doi="10.5555/ke.2019"),
    ]
    assert match_record(records, tmp_path / "annual.pdf", title=title) is None
    # The same work exported twice (same DOI) is not ambiguous.
    twice = [records[0], DocMetadata.from_json(records[0].to_json())]
    assert match_record(twice, tmp_path / "annual.pdf", title=title) is twice[0]


def test_short_titles_never_match(tmp_path):
    records = [DocMetadata(title="Contents"), DocMetadata(title="Introduction")]
    assert match_record(records, tmp_path / "a.pdf", title="Contents") is None


# ---------------------------------------------------------------- small helpers and errors


@pytest.mark.parametrize(
    ("raw", "doi"),
    [
        ("https://doi.org/10.1037/EDU0000345", "10.1037/edu0000345"),
        ("doi:10.1002/dys.1626.", "10.1002/dys.1626"),
        ("http://dx .doi.org/10.1002/acp.3245", "10.1002/acp.3245"),
        ("http://dx.doi.org/10.5815/ ijmecs.2013.01.05", "10.5815/ijmecs.2013.01.05"),
        ("10.1016/0361-476X(81)90002-3", "10.1016/0361-476x(81)90002-3"),
        ("https://doi.org/10.1000%2Fabc", "10.1000/abc"),
        ("not a doi", ""),
    ],
)
def test_normalize_doi(raw, doi):
    assert normalize_doi(raw) == doi


@pytest.mark.parametrize(
    ("raw", "year"),
    [("2019/08//", 2019), ("Spring 2018", 2018), (1799, None), ("2101", None), ("n.d.", None)],
)
def test_parse_year(raw, year):
    assert parse_year(raw) == year


def test_unusable_files_raise_metadata_error(tmp_path):
    with pytest.raises(MetadataError, match="unsupported"):
        load_metadata(tmp_path / "library.enl")
    with pytest.raises(MetadataError, match="not found"):
        load_metadata(tmp_path / "missing.ris")
    notes = tmp_path / "notes.ris"
    notes.write_text("just some notes\n")
    with pytest.raises(MetadataError, match=r"notes\.ris: line 1"):
        load_metadata(notes)


def test_to_json_round_trip(bib):
    data = bib[1].to_json()
    assert json.loads(json.dumps(data)) == data
    assert DocMetadata.from_json(data) == bib[1]


def test_match_when_one_side_has_a_subtitle(tmp_path):
    records = [DocMetadata(title="Text messages to parents and pupil attendance in Chile")]
    pdf_title = "Text Messages to Parents and Pupil Attendance in Chile: A Trial Summary"
    assert match_record(records, tmp_path / "a.pdf", title=pdf_title) is records[0]
    longer = [DocMetadata(title=pdf_title)]
    assert match_record(longer, tmp_path / "a.pdf", title=records[0].title) is longer[0]
    short = [DocMetadata(title="Reading: a summary")]
    assert match_record(short, tmp_path / "a.pdf", title="Reading: an evaluation") is None
