"""Split Documents into chunks of whole sentences that stay inside one section."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from synth.models import Chunk, Document, SentenceSpan

if TYPE_CHECKING:
    from spacy.language import Language


@dataclass(frozen=True)
class ChunkSettings:
    """Chunk size in words: 200 words is about the 256 word pieces MiniLM reads, then truncates."""

    min_words: int = 120
    max_words: int = 200
    overlap_sentences: int = 1
    pipeline: str = "blank:en+sentencizer"

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Sentence:
    page: int
    start: int
    end: int
    text: str

    @property
    def words(self) -> int:
        """Words, counting every MAX_WORD_CHARS characters of an endless token as one."""
        return max(len(self.text.split()), len(self.text) // MAX_WORD_CHARS)


@lru_cache(maxsize=1)
def sentence_pipeline() -> Language:
    """A blank English pipeline with the rule-based sentencizer: no model download needed."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = PIECE_CHARS + 1
    return nlp


# spaCy reads text in pieces of at most this many characters (cut at a space), so no block,
# however long, reaches its max_length or its memory cost grows with the file.
PIECE_CHARS = 100_000
# Characters a "word" may have before it is cut (a line of base64 or a 1 MB string with no
# spaces); chunks stay bounded in characters as well as words.
MAX_WORD_CHARS = 40


def pieces(text: str, limit: int = PIECE_CHARS) -> list[tuple[int, str]]:
    """(offset, piece) covering `text`, each piece at most `limit` characters, cut at spaces."""
    out: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > limit:
        cut = text.rfind(" ", start + limit // 2, start + limit)
        end = cut + 1 if cut > 0 else start + limit
        out.append((start, text[start:end]))
        start = end
    out.append((start, text[start:]))
    return out


def _split_long(sentence: _Sentence, max_words: int) -> list[_Sentence]:
    """Cut a run-on 'sentence' (a table, a reference list) into word windows, keeping offsets."""
    words = list(re.finditer(r"\S+", sentence.text))
    if len(sentence.text) > max_words * MAX_WORD_CHARS:
        words = list(re.finditer(rf"\S{{1,{MAX_WORD_CHARS}}}", sentence.text))
    elif len(words) <= max_words:
        return [sentence]
    pieces = []
    for i in range(0, len(words), max_words):
        group = words[i : i + max_words]
        start, end = group[0].start(), group[-1].end()
        pieces.append(
            _Sentence(
                sentence.page,
                sentence.start + start,
                sentence.start + end,
                sentence.text[start:end],
            )
        )
    return pieces


def _sections(doc: Document, settings: ChunkSettings) -> list[tuple[list[str], list[_Sentence]]]:
    """Walk the document's blocks in order and group body sentences under their heading path."""
    nlp = sentence_pipeline()
    bodies = [block for page in doc.pages for block in page.blocks if block.kind == "body"]
    cut = [pieces(block.text) for block in bodies]
    parsed = iter(nlp.pipe((text for parts in cut for _, text in parts), batch_size=64))
    cuts = iter(cut)
    sections: list[tuple[list[str], list[_Sentence]]] = []
    stack: list[tuple[int, str]] = []
    current: list[_Sentence] = []

    def flush() -> None:
        if current:
            sections.append(([text for _, text in stack], list(current)))
            current.clear()

    for page in doc.pages:
        for block in page.blocks:
            if block.kind == "heading":
                flush()
                while stack and stack[-1][0] >= block.level:
                    stack.pop()
                stack.append((block.level, block.text))
                continue
            for offset, _ in next(cuts):
                for sent in next(parsed).sents:
                    text = sent.text.strip()
                    if not text:
                        continue
                    lead = len(sent.text) - len(sent.text.lstrip())
                    start = block.start + offset + sent.start_char + lead
                    sentence = _Sentence(page.number, start, start + len(text), text)
                    current.extend(_split_long(sentence, settings.max_words))
    flush()
    return sections


def _windows(sentences: list[_Sentence], settings: ChunkSettings) -> list[list[_Sentence]]:
    """Greedy windows of whole sentences near max_words, overlapping by a sentence."""
    windows: list[list[_Sentence]] = []
    i = 0
    n = len(sentences)
    while i < n:
        words = 0
        j = i
        while j < n:
            w = sentences[j].words
            if j > i and words + w > settings.max_words and words >= settings.min_words:
                break
            words += w
            j += 1
        windows.append(sentences[i:j])
        if j >= n:
            break
        i = max(j - settings.overlap_sentences, i + 1)
    if len(windows) >= 2:
        tail = windows[-1]
        tail_words = sum(s.words for s in tail)
        fresh = tail[settings.overlap_sentences :]
        merged_words = sum(s.words for s in windows[-2]) + sum(s.words for s in fresh)
        if tail_words < settings.min_words and merged_words <= settings.max_words * 1.25:
            windows[-2] = windows[-2] + fresh
            windows.pop()
    return windows


def chunk_document(doc: Document, settings: ChunkSettings | None = None) -> list[Chunk]:
    """Chunks never cross a heading; each records every sentence's page and offsets."""
    settings = settings or ChunkSettings()
    ocr_pages = {p.number for p in doc.pages if p.ocr}
    chunks: list[Chunk] = []
    for path, sentences in _sections(doc, settings):
        for window in _windows(sentences, settings):
            seq = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=f"{doc.doc_id}-{seq:04d}",
                    doc_id=doc.doc_id,
                    seq=seq,
                    section=path,
                    page_start=window[0].page,
                    page_end=window[-1].page,
                    text=" ".join(s.text for s in window),
                    sentences=[SentenceSpan(s.page, s.start, s.end) for s in window],
                    ocr=any(s.page in ocr_pages for s in window),
                )
            )
    return chunks
