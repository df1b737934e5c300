"""④ Token shards: per language and split, one flat token array on disk (numpy memmap) plus the start
offset of every document; each sentence is followed by </s> (fairseq's `append_eos`).

Held-out split: every `stride`-th document (stride = round(1 / valid_fraction)), starting with document
0, goes to `valid` until the language has `max_valid_tokens`; the rest is `train`. Deterministic, spread
over the file, and never empty for a language with ≥ 2 documents.
Streaming: documents are encoded in batches and appended to the files; memory does not grow with the
corpus. dtype is uint16 when the vocabulary fits (≤ 65,536 ids), else uint32.

Budget-aware cap (`max_train_tokens`, from data.budget_cap): a train shard stops taking documents once it
holds the cap, and reading stops once the held-out split is complete too: a run's shards hold what its
budget can draw, not the whole corpus (CC-100's largest languages are 100× what a sweep's runs consume).
The capped train split is a prefix of the uncapped one, document for document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlmr.console import bar
from xlmr.fields import bounded, implementation

from .text import iter_documents
from .tokenizer import Tokenizer

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
    tok: Tokenizer, lang: str, text_file: Path, out_dir: Path, spec: ShardSpec, max_train_tokens: int | None = None
) -> dict:
    """Tokenize one language's text file into `<lang>.{train,valid}.bin` (+ document offsets), streaming
    `encode_batch_docs` documents at a time. Per batch: one SentencePiece call (Tokenizer.encode_flat), then
    array operations only; the single Python loop is over documents, to assign the held-out split.
    `max_train_tokens`: the train split takes documents while it holds fewer tokens than this."""
    dtype = token_dtype(tok.vocab_size)
    stride = max(1, round(1 / spec.valid_fraction))
    files = {split: open(out_dir / f"{lang}.{split}.bin", "wb") for split in SPLITS}
    doc_starts: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    tokens = dict.fromkeys(SPLITS, 0)
    chars = dict.fromkeys(SPLITS, 0)
    docs_seen = 0

    def flush(batch: list[list[str]]) -> None:
        nonlocal docs_seen
        sentences = [s for doc in batch for s in doc]
        ids, lengths = tok.encode_flat(sentences)  # (n_tokens,), (n_sentences,): </s> after each sentence
        first_sentence = np.cumsum([0] + [len(doc) for doc in batch[:-1]])  # (n_docs,)
        doc_tokens = np.add.reduceat(lengths, first_sentence)  # (n_docs,)
        doc_chars = np.add.reduceat(np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences)),
                                    first_sentence)
        # every stride-th document is held out, until the held-out split has max_valid_tokens
        held_out = np.zeros(len(batch), dtype=bool)
        valid_tokens = tokens["valid"]
        for i, n in enumerate(doc_tokens.tolist()):
            if (docs_seen + i) % stride == 0 and valid_tokens < spec.max_valid_tokens:
                held_out[i] = True
                valid_tokens += n
        train = ~held_out
        if max_train_tokens is not None:  # a train document is kept while the tokens before it fit under the cap
            train_sizes = np.where(train, doc_tokens, 0)
            train &= tokens["train"] + np.cumsum(train_sizes) - train_sizes < max_train_tokens
        for split, docs in (("valid", held_out), ("train", train)):
            toks = np.repeat(docs, doc_tokens)
            sizes = doc_tokens[docs]
            doc_starts[split].append(tokens[split] + np.cumsum(sizes) - sizes)
            ids[toks].astype(dtype).tofile(files[split])
            tokens[split] += int(sizes.sum())
            chars[split] += int(doc_chars[docs].sum())
        docs_seen += len(batch)

    def full() -> bool:  # both splits complete: the rest of the file would be dropped
        return (max_train_tokens is not None and tokens["train"] >= max_train_tokens
                and tokens["valid"] >= spec.max_valid_tokens)

    progress = bar(desc=f"shards {lang}", unit="doc", unit_scale=True)
    try:
        batch: list[list[str]] = []
        for doc in iter_documents(text_file):
            batch.append(doc)
            if len(batch) >= spec.encode_batch_docs:
                flush(batch)
                progress.update(len(batch))
                batch = []
                if full():
                    break
        if batch:
            flush(batch)
    finally:
        progress.close()
        for f in files.values():
            f.close()
    if docs_seen < 2:
        raise ValueError(f"corpus file {text_file}: language '{lang}' has {docs_seen} document(s); "
                         "at least 2 are needed for a train/valid split (documents are separated by blank lines)")
    for split in SPLITS:
        starts = np.concatenate(doc_starts[split]) if doc_starts[split] else np.zeros(0, dtype=np.int64)
        np.save(out_dir / f"{lang}.{split}.docs.npy", starts.astype(np.int64))
    return {"tokens": tokens, "chars": chars, "documents": {s: len(np.concatenate(doc_starts[s])) if doc_starts[s]
                                                          else 0 for s in SPLITS},
            "max_train_tokens": max_train_tokens,
            "capped": max_train_tokens is not None and tokens["train"] >= max_train_tokens}


def build_shards(tok: Tokenizer, text_files: Mapping[str, Path], out_dir: Path, spec: ShardSpec,
                 max_train_tokens: Mapping[str, int] | None = None) -> dict:
    """Every language's shards; `max_train_tokens`: per-language caps (the manifest records each, and whether
    it cut the text short)."""
    caps = max_train_tokens or {}
    per_lang = {lang: write_language_shards(tok, lang, path, out_dir, spec, caps.get(lang))
                for lang, path in text_files.items()}
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
