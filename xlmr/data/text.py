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


@dataclass(frozen=True)
class TextStats:
    sentences: int  # non-empty lines: the unit n_i of language sampling
    documents: int  # blank-line separated blocks with at least one sentence
    chars: int  # characters of the sentences (newlines excluded)
    undecodable_lines: int  # lines that contained bytes which were not valid UTF-8


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
    for doc in iter_documents(path):
        documents += 1
        sentences += len(doc)
        for s in doc:
            chars += len(s)
            bad += "\ufffd" in s
    return TextStats(sentences, documents, chars, bad)
