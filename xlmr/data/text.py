"""Reading corpus text in CC-100's layout: one sentence per line, documents separated by blank lines,
plain UTF-8 or xz-compressed. Everything streams: memory does not grow with the file size."""

from __future__ import annotations

import io
import lzma
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


def open_text(path: Path) -> io.TextIOBase:
    """Open a corpus file for reading text; `.xz` is decompressed on the fly. Bytes that are not UTF-8
    become U+FFFD (counted by `count_text`), so one bad byte never stops a 100 GB pass."""
    path = Path(path)
    raw = lzma.open(path, "rb") if path.suffix == ".xz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="\n")


MAX_PIECE_CHARS = 16  # SentencePiece's max_sentencepiece_length (its default; xlmr/data/tokenizer.py keeps it)
MAX_DISTINCT_WORDS = 2_000_000  # beyond this many distinct words the bound is not tracked (memory)


@dataclass(frozen=True)
class TextStats:
    sentences: int  # non-empty lines: the unit n_i of language sampling
    documents: int  # blank-line separated blocks with at least one sentence
    chars: int  # characters of the sentences (newlines excluded)
    undecodable_lines: int  # lines that contained bytes which were not valid UTF-8
    # An upper bound on the SentencePiece pieces this text can yield (None: too many distinct words to
    # track): pieces never cross whitespace, so each is a substring, of at most MAX_PIECE_CHARS characters,
    # of "▁" + a distinct word. A vocab_size above it cannot be trained: the plan refuses it.
    max_pieces: int | None = None


def substrings(n: int, longest: int = MAX_PIECE_CHARS) -> int:
    """How many substrings of length 1..longest a string of n characters has (counted with repeats)."""
    return sum(n - length + 1 for length in range(1, min(n, longest) + 1))


def max_pieces(words: set[str]) -> int:
    """Upper bound on distinct SentencePiece pieces over these distinct words (each with its "▁" prefix)."""
    return sum(substrings(len(w) + 1) for w in words)


def documents(lines: Iterable[str]) -> Iterator[list[str]]:
    """Lines grouped into documents: runs of non-blank lines (stripped), separated by blank ones."""
    doc: list[str] = []
    for line in lines:
        line = line.strip()
        if line:
            doc.append(line)
        elif doc:
            yield doc
            doc = []
    if doc:
        yield doc


def iter_documents(path: Path) -> Iterator[list[str]]:
    """Yield each document as its list of sentences (stripped, non-empty)."""
    with open_text(path) as f:
        yield from documents(f)


def document_chunks(path: Path, chunk_bytes: int) -> list[tuple[int, int | None]]:
    """The file cut into byte ranges of about chunk_bytes, each starting at a document's first line: the
    (language × chunk) tasks of a parallel shards build. A cut point k × chunk_bytes moves forward to the
    first non-blank line after a blank line (a document start), so every document lies in exactly one
    range. A compressed (.xz) file cannot be entered in the middle: it is one range (decompress it, `xz -dk`,
    to split it)."""
    path = Path(path)
    if path.suffix == ".xz":
        return [(0, None)]
    size = path.stat().st_size
    starts = [0]
    with open(path, "rb") as f:
        for cut in range(chunk_bytes, size, chunk_bytes):
            start = _next_document_start(f, cut)
            if start is not None and start > starts[-1]:
                starts.append(start)
    return [(a, b) for a, b in zip(starts, [*starts[1:], None])]


def _next_document_start(f, offset: int) -> int | None:
    """Offset of the first non-blank line that follows a blank line, from the line start at or after
    `offset` (binary file); None at end of file. Blank: bytes.strip() is empty (a line blank only in the
    Unicode sense is not a cut point; the reader treats it as blank, which keeps the partition exact)."""
    f.seek(offset - 1)
    f.readline()  # to the start of the next line (the byte before `offset` decides whether one starts at it)
    seen_blank = False
    while True:
        at = f.tell()
        line = f.readline()
        if not line:
            return None
        if not line.strip():
            seen_blank = True
        elif seen_blank:
            return at


def iter_documents_between(path: Path, start: int, end: int | None) -> Iterator[list[str]]:
    """The documents whose first line lies in path[start:end) (offsets from document_chunks), each as its
    sentences, decoded as iter_documents decodes them."""
    path = Path(path)

    def lines(raw) -> Iterator[str]:
        raw.seek(start)
        position = start
        for line in raw:
            if end is not None and position >= end:
                return
            position += len(line)
            yield line.decode("utf-8", errors="replace")

    with lzma.open(path, "rb") if path.suffix == ".xz" else open(path, "rb") as raw:
        yield from documents(lines(raw))


def count_text(path: Path) -> TextStats:
    sentences = documents = chars = bad = 0
    words: set[str] | None = set()
    for doc in iter_documents(path):
        documents += 1
        sentences += len(doc)
        for s in doc:
            chars += len(s)
            bad += "\ufffd" in s
            if words is not None:
                words.update(s.split())
                if len(words) > MAX_DISTINCT_WORDS:
                    words = None
    return TextStats(sentences, documents, chars, bad, None if words is None else max_pieces(words))
