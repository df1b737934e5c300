"""④ Token shards: per language and split, one flat token array on disk (numpy memmap) plus the start
offset of every document; each sentence is followed by </s> (fairseq's `append_eos`).

Held-out split: every `stride`-th document (stride = round(1 / valid_fraction)), starting with document
0, goes to `valid` until the language has `max_valid_tokens`; the rest is `train`. Deterministic, spread
over the file, and never empty for a language with ≥ 2 documents.
Streaming: documents are encoded in batches and appended to the files; memory does not grow with the
corpus. dtype is uint16 when the vocabulary fits (≤ 65,536 ids), else uint32.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlmr.fields import bounded, implementation

from .text import iter_documents
from .tokenizer import EOS, Tokenizer

SPLITS = ("train", "valid")


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


@dataclass
class ShardSpec:
    """How text becomes shards; `data` (xlmr.config.DataConfig) extends it, so these are `data.*`."""

    valid_fraction: float = bounded(0.05, gt=0, lt=1)  # share of documents held out per language …
    max_valid_tokens: int = bounded(50_000, ge=1)  # … up to this many tokens
    encode_batch_docs: int = implementation(1_000)  # documents per SentencePiece call (speed, not content)


def write_language_shards(
    tok: Tokenizer, lang: str, text_file: Path, out_dir: Path, spec: ShardSpec
) -> dict:
    dtype = token_dtype(tok.vocab_size)
    stride = max(1, round(1 / spec.valid_fraction))
    files = {split: open(out_dir / f"{lang}.{split}.bin", "wb") for split in SPLITS}
    doc_starts: dict[str, list[int]] = {split: [] for split in SPLITS}
    tokens = dict.fromkeys(SPLITS, 0)
    chars = dict.fromkeys(SPLITS, 0)
    docs_seen = 0

    def flush(batch: list[list[str]]) -> None:
        nonlocal docs_seen
        flat = [s for doc in batch for s in doc]
        encoded = iter(tok.encode(flat))
        for doc in batch:
            to_valid = docs_seen % stride == 0 and tokens["valid"] < spec.max_valid_tokens
            split = "valid" if to_valid else "train"
            pieces = []
            for sentence in doc:
                pieces.append(next(encoded))
                pieces.append(np.array([EOS]))
                chars[split] += len(sentence)
            arr = np.concatenate(pieces).astype(dtype)
            doc_starts[split].append(tokens[split])
            tokens[split] += len(arr)
            arr.tofile(files[split])
            docs_seen += 1

    try:
        batch: list[list[str]] = []
        for doc in iter_documents(text_file):
            batch.append(doc)
            if len(batch) >= spec.encode_batch_docs:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
    finally:
        for f in files.values():
            f.close()
    if docs_seen < 2:
        raise ValueError(f"corpus file {text_file}: language '{lang}' has {docs_seen} document(s); "
                         "at least 2 are needed for a train/valid split (documents are separated by blank lines)")
    for split in SPLITS:
        np.save(out_dir / f"{lang}.{split}.docs.npy", np.asarray(doc_starts[split], dtype=np.int64))
    return {"tokens": tokens, "chars": chars, "documents": {s: len(doc_starts[s]) for s in SPLITS}}


def build_shards(tok: Tokenizer, text_files: Mapping[str, Path], out_dir: Path, spec: ShardSpec) -> dict:
    per_lang = {lang: write_language_shards(tok, lang, path, out_dir, spec) for lang, path in text_files.items()}
    return {"dtype": token_dtype(tok.vocab_size).name, "vocab_size": tok.vocab_size, "languages": per_lang}


class Shards:
    """Read-only view of a shards artifact: `shards.tokens(lang, split)` is a memmap (n_tokens,)."""

    def __init__(self, path: Path, manifest: dict):
        self.path = Path(path)
        self.dtype = np.dtype(manifest["dtype"])
        self.info = manifest["languages"]
        self.langs = list(self.info)

    def tokens(self, lang: str, split: str) -> np.ndarray:
        n = self.info[lang]["tokens"][split]
        if n == 0:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(self.path / f"{lang}.{split}.bin", dtype=self.dtype, mode="r", shape=(n,))

    def n_tokens(self, lang: str, split: str) -> int:
        return int(self.info[lang]["tokens"][split])
