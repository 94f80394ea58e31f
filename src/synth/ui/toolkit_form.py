"""What the toolkit and strand pages share: the store, the card figures, and the curation form.

The store is opened for each use, never cached: an SQLite connection belongs to the thread that
made it and Streamlit reruns a session on other threads. Its path is read on every call
(SYNTH_TOOLKIT, else synth.toolkit.store's default), so tests can point a server at a temp store.
All checking of values is the library's (apply_changes, check_topic, refresh_from_index); the
form only turns widget values into the changes the CLI would pass.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from synth import __version__
from synth.index import Index
from synth.taxonomy import Taxonomy, TaxonomyError
from synth.toolkit.card import CardProvenance
from synth.toolkit.entries import (
    SECTIONS,
    LinkedEvidence,
    ToolkitEntry,
    ToolkitError,
    Version,
    apply_changes,
    check_topic,
    cost_label,
    doc_id_of,
)
from synth.toolkit.evidence import refresh_from_index
from synth.toolkit.store import ToolkitStore, toolkit_path
from synth.ui.evidence_picker import evidence_picker

NOTICE = "toolkit_notice"
NUMBER_FIELDS = ("effect_size", "impact_months", "cost_per_pupil", "studies")
CHOICE_FIELDS = ("cost", "padlocks")
TEXT_FIELDS = ("title", *SECTIONS)
LINKS = "links"
NOTE = "note"
AUTHOR = "author"
TOPIC = "topic"
INDEPENDENT = "independent"
CONFIRM_ES = "confirm_effect_size"


# ---------------------------------------------------------------- store


def store_path() -> Path:
    return toolkit_path()


@contextmanager
def open_store() -> Iterator[ToolkitStore]:
    with ToolkitStore(store_path()) as store:
        yield store


def load_entries() -> list[ToolkitEntry]:
    """Every strand's current version; none (and no file created) when the store is absent."""
    if not store_path().is_file():
        return []
    with open_store() as store:
        return store.entries()


def load_history(entry_id: str) -> list[Version]:
    """The strand's versions, oldest first; empty when it does not exist."""
    if not store_path().is_file():
        return []
    with open_store() as store:
        return store.history(entry_id) if store.exists(entry_id) else []


def card_provenance(version: Version) -> CardProvenance:
    """As `synth toolkit show` stamps a card: build, record version, today, synth version."""
    return CardProvenance(
        build_id=version.entry.index_build,
        rendered=datetime.now(UTC).strftime("%Y-%m-%d"),
        synth_version=__version__,
        version=version.n,
        version_date=version.created_at[:10],
    )


# ---------------------------------------------------------------- card figures


def months_text(entry: ToolkitEntry) -> str:
    months = entry.impact_months
    if months is None:
        return "not rated"
    return f"{months:+d} months" if months else "0 months"


def cost_text(entry: ToolkitEntry) -> str:
    return cost_label(entry.cost) if entry.cost else "not rated"


def padlocks_text(entry: ToolkitEntry) -> str:
    shown = entry.shown_padlocks
    if shown is None:
        return "not rated"
    return f"{'●' * shown}{'○' * (5 - shown)} {shown}/5"


def studies_text(entry: ToolkitEntry) -> str:
    n = entry.studies
    return "studies not given" if n is None else f"{n} stud{'y' if n == 1 else 'ies'}"


def strand_card_html(entry: ToolkitEntry, topic_label: str) -> str:
    """A strand's card in the toolkit grid; every value is HTML-escaped; colours follow the
    theme (the app's style sheet), so it reads in light and dark."""
    esc = html.escape
    figures = [
        ("Impact", months_text(entry)),
        ("Cost", cost_text(entry)),
        ("Evidence", padlocks_text(entry)),
        ("Studies", studies_text(entry)),
    ]
    cells = "".join(
        f'<div class="synth-figure" data-figure="{esc(name.lower())}" style="flex:1;'
        f'min-width:6rem"><div class="synth-muted" style="font-size:.75rem">{esc(name)}</div>'
        f'<div style="font-weight:600">{esc(value)}</div></div>'
        for name, value in figures
    )
    status = esc(entry.status)
    return (
        f'<div class="synth-strand" data-id="{esc(entry.id)}">'
        f'<div style="font-weight:600;font-size:1.05rem">{esc(entry.title)}</div>'
        f'<div class="synth-muted" style="font-size:.85rem">{esc(topic_label)} '
        f'<span class="synth-status {status}">{status}</span></div>'
        f'<div style="display:flex;gap:.5rem;margin:.5rem 0;flex-wrap:wrap">{cells}</div></div>'
    )


# ---------------------------------------------------------------- form values -> changes


def link_ids(value: object) -> list[str]:
    """The linked chunk ids a form holds, in order, without repeats."""
    items = value if isinstance(value, list | tuple) else str(value or "").split()
    return list(dict.fromkeys(str(x) for x in items if str(x).strip()))


def merge_links(old: list[LinkedEvidence], chunk_ids: list[str]) -> list[LinkedEvidence]:
    """Links in the order given, keeping the quotes and independence already stored for them."""
    known = {link.chunk_id: link for link in old}
    return [known.get(c) or LinkedEvidence(c, doc_id_of(c)) for c in chunk_ids]


def form_changes(values: Mapping[str, object], editing: bool) -> dict[str, object]:
    """The field changes a filled form asks for; blank clears a field. Raises ToolkitError for
    what the library cannot see: a missing title, topic or note, or two ways of giving impact
    or cost at once (the CLI refuses the same pairs)."""
    title = str(values.get("title") or "").strip()
    if not title:
        raise ToolkitError("give the strand a title")
    if not values.get(TOPIC):
        raise ToolkitError("choose a topic from the taxonomy")
    if editing and not str(values.get(NOTE) or "").strip():
        raise ToolkitError("say what changed and why: the note is kept with the version")

    def given(name: str) -> bool:
        value = values.get(name)
        return value is not None and str(value).strip() != ""

    if given("effect_size") and given("impact_months"):
        raise ToolkitError("give an effect size or impact months, not both")
    if given("cost_per_pupil") and given("cost"):
        raise ToolkitError("give a cost per pupil or a cost rating, not both")
    changes: dict[str, object] = {name: str(values.get(name) or "") for name in TEXT_FIELDS}
    changes["title"] = title
    changes[TOPIC] = values[TOPIC]
    for name in (*NUMBER_FIELDS, *CHOICE_FIELDS):
        value = values.get(name)
        changes[name] = value.strip() if isinstance(value, str) else value
    return changes


def build_entry(
    base: ToolkitEntry,
    values: Mapping[str, object],
    taxonomy: Taxonomy,
    index: Index | None,
    editing: bool,
) -> ToolkitEntry:
    """The entry the form describes, checked by the library and, with an index, with its links
    resolved and its contexts and padlock suggestion refreshed."""
    entry = apply_changes(base, form_changes(values, editing), bool(values.get(CONFIRM_ES)))
    links = merge_links(base.links, link_ids(values.get(LINKS)))
    if values.get(INDEPENDENT) is not None:  # the choice is offered once links are stored
        independent = set(values[INDEPENDENT])  # type: ignore[arg-type]
        links = [replace(link, independent=link.doc_id in independent) for link in links]
    entry = replace(entry, links=links)
    try:
        entry = check_topic(entry, taxonomy)
    except TaxonomyError as exc:
        raise ToolkitError(str(exc)) from None
    return refresh_from_index(entry, index) if index is not None else entry


# ---------------------------------------------------------------- the form


def _key(prefix: str, name: str) -> str:
    return f"{prefix}-{name}"


def _initial(entry: ToolkitEntry | None) -> dict[str, object]:
    """Form values for an entry: months only without an effect size, and a rating only without
    a cost figure, so an untouched form never gives both."""
    if entry is None:
        return {AUTHOR: os.environ.get("SYNTH_AUTHOR", "")}

    def text(value: object) -> str:
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    values: dict[str, object] = {name: getattr(entry, name) for name in TEXT_FIELDS}
    values[TOPIC] = entry.topic
    values["effect_size"] = text(entry.effect_size)
    values["impact_months"] = "" if entry.effect_size is not None else text(entry.impact_months)
    values["cost_per_pupil"] = text(entry.cost_per_pupil)
    values["cost"] = None if entry.cost_per_pupil is not None else entry.cost
    values["padlocks"] = entry.padlocks
    values["studies"] = text(entry.studies)
    values[LINKS] = [link.chunk_id for link in entry.links]
    values[INDEPENDENT] = list(dict.fromkeys(x.doc_id for x in entry.links if x.independent))
    values[AUTHOR] = os.environ.get("SYNTH_AUTHOR", "")
    return values


def _seed(prefix: str, entry: ToolkitEntry | None) -> None:
    """Put the entry's values into the widgets' state once, so callbacks may change them later."""
    for name, value in _initial(entry).items():
        st.session_state.setdefault(_key(prefix, name), value)


def _fields(prefix: str, taxonomy: Taxonomy, entry: ToolkitEntry | None) -> None:
    topics = taxonomy.facets[TOPIC]
    k = lambda name: _key(prefix, name)  # noqa: E731
    st.text_input("Title", key=k("title"))
    st.selectbox(
        "Topic",
        [v.id for v in topics.values],
        format_func=topics.label_of,
        key=k(TOPIC),
        index=None,
        placeholder="Choose a topic",
    )
    impact, cost, strength = st.columns(3)
    impact.text_input(
        "Effect size",
        key=k("effect_size"),
        help="0.54 or 0,54; months come from the EEF table",
    )
    impact.checkbox(
        "Keep an effect size outside −2 to 2",
        key=k(CONFIRM_ES),
        help="Refused otherwise: it is usually a slip (54 for 0.54)",
    )
    impact.text_input("or impact in months (-12 to 12)", key=k("impact_months"))
    cost.text_input("Cost per pupil per year (£)", key=k("cost_per_pupil"))
    cost.selectbox(
        "or cost rating",
        [None, 1, 2, 3, 4, 5],
        format_func=lambda n: "not set" if n is None else f"{cost_label(n)} ({n}/5)",
        key=k("cost"),
    )
    strength.selectbox(
        "Padlocks (evidence strength)",
        [None, 0, 1, 2, 3, 4, 5],
        format_func=lambda n: "not set: use the suggestion" if n is None else f"{n}/5",
        key=k("padlocks"),
    )
    strength.text_input("Number of studies", key=k("studies"))
    for name, title in SECTIONS.items():
        st.text_area(f"{title} (Markdown)", key=k(name), height=90)
    linked = link_ids(st.session_state.get(k(LINKS)))
    sources = dict.fromkeys(doc_id_of(c) for c in linked)
    if entry is not None and entry.links:
        names = {x.doc_id: x.source or x.doc_id for x in entry.links}
        st.multiselect(
            "Independent evaluations among the linked documents",
            [d for d in sources if d in names],
            format_func=names.get,
            key=k(INDEPENDENT),
            help="Not run by the programme's developer; the padlock suggestion counts them.",
        )
    note, author = st.columns([3, 1])
    note.text_input("What changed and why", key=k(NOTE))
    author.text_input("Your name", key=k(AUTHOR))


def _save(
    entry: ToolkitEntry | None, values: dict[str, object], taxonomy: Taxonomy, index: Index | None
) -> tuple[str, str]:
    """Create or version the entry; returns its id and the notice to show. Raises ToolkitError."""
    author = str(values.get(AUTHOR) or "").strip() or None
    note = str(values.get(NOTE) or "").strip()
    changes = form_changes(values, editing=entry is not None)  # refuse before opening the store
    with open_store() as store:
        if entry is None:
            title = str(changes["title"])
            base = ToolkitEntry(id=store.new_id(title), title=title, topic=str(changes[TOPIC]))
            built = build_entry(base, values, taxonomy, index, editing=False)
            version = store.create(built, note or "created in the app", author)
            return version.entry_id, f"Created {version.entry_id} (version 1, draft)."
        built = build_entry(entry, values, taxonomy, index, editing=True)
        version = store.save(built, note, author)
    if version is None:
        return entry.id, "Nothing changed: no new version saved."
    return entry.id, f"Saved version {version.n}."


FIELD_NAMES = (
    *TEXT_FIELDS,
    TOPIC,
    *NUMBER_FIELDS,
    *CHOICE_FIELDS,
    LINKS,
    INDEPENDENT,
    CONFIRM_ES,
    NOTE,
    AUTHOR,
)


def curation_form(
    entry: ToolkitEntry | None, taxonomy: Taxonomy, index: Index | None
) -> str | None:
    """The new-strand or edit form; returns the saved entry's id after a successful save."""
    prefix = f"tkf-{entry.id if entry else 'new'}"
    if st.session_state.pop(f"{prefix}-reset", False):
        for name in FIELD_NAMES:
            st.session_state.pop(_key(prefix, name), None)
    _seed(prefix, entry)
    known = (
        {x.chunk_id: f"{x.source or x.doc_id}, p. {x.page}" for x in entry.links} if entry else {}
    )
    evidence_picker(prefix, index, known)
    with st.form(f"{prefix}-form", border=True):
        _fields(prefix, taxonomy, entry)
        save = st.form_submit_button(
            "Create strand" if entry is None else "Save a new version",
            type="primary",
            key=f"{prefix}-save",
        )
    if index is None:
        st.caption("No index is open: linked passages are saved unchecked.")
    if not save:
        return None
    values = {name: st.session_state.get(_key(prefix, name)) for name in FIELD_NAMES}
    try:
        entry_id, notice = _save(entry, values, taxonomy, index)
    except (ToolkitError, OSError) as exc:
        st.error(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)
        return None
    st.session_state[NOTICE] = notice
    st.session_state[f"{prefix}-reset"] = True  # the next run shows the saved version
    return entry_id
