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
# Characters a chunk may hold, whatever its words: 200 words of at most 40 characters. The
# overlap sentence and the merged tail once took chunks of endless tokens to 12,000.
MAX_CHUNK_CHARS = 8_000


# spaCy's tokenizer splits prefixes and suffixes off a whitespace-free run one at a time,
# rescanning the run each time: `[` * 2,000 + "word" + `]` * 2,000 took 1.8 s, 10,000 of each
# over 150 s. It sees runs cut to this length (the text it is given has a space in place of
# one character in each longer run, so offsets still match the page; sentences are taken from
# the real text).
MAX_RUN_CHARS = 64
_LONG_RUN = re.compile(rf"\S{{{MAX_RUN_CHARS + 1},}}")


def tokenizer_view(text: str) -> str:
    """`text` with every MAX_RUN_CHARS-th character of an over-long run replaced by a space:
    the same length and offsets, and no run the tokenizer takes quadratic time over."""

    def cut(match: re.Match[str]) -> str:
        run = list(match.group(0))
        for i in range(MAX_RUN_CHARS, len(run), MAX_RUN_CHARS + 1):
            run[i] = " "
        return "".join(run)

    return _LONG_RUN.sub(cut, text)


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
    """Cut a run-on 'sentence' (a table, a reference list) into word windows of at most
    max_words words and MAX_CHUNK_CHARS characters, keeping offsets."""
    words = list(re.finditer(r"\S+", sentence.text))
    if len(sentence.text) > max_words * MAX_WORD_CHARS:
        words = list(re.finditer(rf"\S{{1,{MAX_WORD_CHARS}}}", sentence.text))
    elif len(words) <= max_words:
        return [sentence]
    pieces: list[_Sentence] = []
    first = 0
    for i, word in enumerate(words):
        start = words[first].start()
        if i > first and (i - first >= max_words or word.end() - start > MAX_CHUNK_CHARS):
            pieces.append(_piece(sentence, start, words[i - 1].end()))
            first = i
    pieces.append(_piece(sentence, words[first].start(), words[-1].end()))
    return pieces


def _piece(sentence: _Sentence, start: int, end: int) -> _Sentence:
    return _Sentence(
        sentence.page, sentence.start + start, sentence.start + end, sentence.text[start:end]
    )


def _sections(doc: Document, settings: ChunkSettings) -> list[tuple[list[str], list[_Sentence]]]:
    """Walk the document's blocks in order and group body sentences under their heading path."""
    nlp = sentence_pipeline()
    bodies = [block for page in doc.pages for block in page.blocks if block.kind == "body"]
    cut = [pieces(block.text) for block in bodies]
    views = (tokenizer_view(text) for parts in cut for _, text in parts)
    parsed = iter(nlp.pipe(views, batch_size=64))
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
            for offset, piece in next(cuts):
                for sent in next(parsed).sents:
                    raw = piece[sent.start_char : sent.end_char]  # the real text, not the view
                    text = raw.strip()
                    if not text:
                        continue
                    lead = len(raw) - len(raw.lstrip())
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
        words = chars = 0
        j = i
        while j < n:
            w, c = sentences[j].words, len(sentences[j].text) + 1
            full = words + w > settings.max_words and words >= settings.min_words
            if j > i and (full or chars + c > MAX_CHUNK_CHARS + 1):
                break
            words += w
            chars += c
            j += 1
        windows.append(sentences[i:j])
        if j >= n:
            break
        i = max(j - settings.overlap_sentences, i + 1)
    if len(windows) >= 2:
        tail = windows[-1]
        tail_words = sum(s.words for s in tail)
        fresh = tail[settings.overlap_sentences :]
        merged = windows[-2] + fresh
        merged_words = sum(s.words for s in merged)
        merged_chars = sum(len(s.text) + 1 for s in merged) - 1
        if (
            tail_words < settings.min_words
            and merged_words <= settings.max_words * 1.25
            and merged_chars <= MAX_CHUNK_CHARS
        ):
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
