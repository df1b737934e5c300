"""Reading corpus text in CC-100's layout: one sentence per line, documents separated by blank lines,
plain UTF-8 or xz-compressed. Everything streams: memory does not grow with the file size."""

from __future__ import annotations

import io
import lzma
from collections.abc import Iterator
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


def iter_documents(path: Path) -> Iterator[list[str]]:
    """Yield each document as its list of sentences (stripped, non-empty)."""
    doc: list[str] = []
    with open_text(path) as f:
        for line in f:
            line = line.strip()
            if line:
                doc.append(line)
            elif doc:
                yield doc
                doc = []
    if doc:
        yield doc


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
