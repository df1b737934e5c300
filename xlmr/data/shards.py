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

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlmr.console import bar
from xlmr.fields import bounded, implementation

from .text import document_chunks, iter_documents, iter_documents_between
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


@dataclass
class EncodedDocs:
    """Consecutive documents of one language, tokenized: what a split writer consumes."""

    ids: np.ndarray  # (Σ doc_tokens,) model ids, each sentence followed by </s>
    doc_tokens: np.ndarray  # (n_docs,) int64
    doc_chars: np.ndarray  # (n_docs,) int64 characters of the documents' sentences

    def __len__(self) -> int:
        return len(self.doc_tokens)

    def slices(self, docs: int) -> Iterator["EncodedDocs"]:
        """The same documents, `docs` at a time (bounded memory when a chunk's part is merged)."""
        ends = np.cumsum(self.doc_tokens)
        for first in range(0, len(self), docs):
            last = min(first + docs, len(self))
            lo, hi = (ends[first - 1] if first else 0), ends[last - 1]
            yield EncodedDocs(self.ids[lo:hi], self.doc_tokens[first:last], self.doc_chars[first:last])


def encode_documents(tok: Tokenizer, docs: list[list[str]]) -> EncodedDocs:
    """One SentencePiece call for a batch of documents (Tokenizer.encode_flat), then array operations only."""
    sentences = [s for doc in docs for s in doc]
    ids, lengths = tok.encode_flat(sentences)  # (n_tokens,), (n_sentences,): </s> after each sentence
    first_sentence = np.cumsum([0] + [len(doc) for doc in docs[:-1]])  # (n_docs,)
    chars = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    return EncodedDocs(ids, np.add.reduceat(lengths, first_sentence), np.add.reduceat(chars, first_sentence))


class SplitWriter:
    """Appends a language's encoded documents, in corpus order, to its train and valid shards. Every
    stride-th document (by its index in the language) is held out until the valid split has
    max_valid_tokens; a train document is kept while the train split holds fewer than max_train_tokens.
    The files depend only on the documents' order, not on how they were batched or where they were encoded:
    the one-process build and the merge of chunks encoded in parallel write the same bytes."""

    def __init__(self, out_dir: Path, lang: str, dtype: np.dtype, spec: ShardSpec, max_train_tokens: int | None):
        self.out_dir, self.lang, self.dtype, self.spec, self.cap = Path(out_dir), lang, dtype, spec, max_train_tokens
        self.stride = max(1, round(1 / spec.valid_fraction))
        self.files = {split: open(self.out_dir / f"{lang}.{split}.bin", "wb") for split in SPLITS}
        self.doc_starts: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
        self.tokens = dict.fromkeys(SPLITS, 0)
        self.chars = dict.fromkeys(SPLITS, 0)
        self.docs_seen = 0

    def __enter__(self) -> "SplitWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self.files.values():
            f.close()

    def add(self, enc: EncodedDocs) -> None:
        held_out = np.zeros(len(enc), dtype=bool)
        valid_tokens = self.tokens["valid"]
        for i, n in enumerate(enc.doc_tokens.tolist()):
            if (self.docs_seen + i) % self.stride == 0 and valid_tokens < self.spec.max_valid_tokens:
                held_out[i] = True
                valid_tokens += n
        train = ~held_out
        if self.cap is not None:  # a train document is kept while the tokens before it fit under the cap
            train_sizes = np.where(train, enc.doc_tokens, 0)
            train &= self.tokens["train"] + np.cumsum(train_sizes) - train_sizes < self.cap
        for split, docs in (("valid", held_out), ("train", train)):
            sizes = enc.doc_tokens[docs]
            self.doc_starts[split].append(self.tokens[split] + np.cumsum(sizes) - sizes)
            enc.ids[np.repeat(docs, enc.doc_tokens)].astype(self.dtype).tofile(self.files[split])
            self.tokens[split] += int(sizes.sum())
            self.chars[split] += int(enc.doc_chars[docs].sum())
        self.docs_seen += len(enc)

    def full(self) -> bool:
        """Both splits complete: the rest of the language's text would be dropped."""
        return (self.cap is not None and self.tokens["train"] >= self.cap
                and self.tokens["valid"] >= self.spec.max_valid_tokens)

    def finish(self, source: Path) -> dict:
        """Document offsets on disk; the manifest entry of the language."""
        if self.docs_seen < 2:
            raise ValueError(f"corpus file {source}: language '{self.lang}' has {self.docs_seen} document(s); "
                             "at least 2 are needed for a train/valid split (documents are separated by blank lines)")
        documents = {}
        for split in SPLITS:
            starts = np.concatenate(self.doc_starts[split]) if self.doc_starts[split] else np.zeros(0, np.int64)
            np.save(self.out_dir / f"{self.lang}.{split}.docs.npy", starts.astype(np.int64))
            documents[split] = len(starts)
        return {"tokens": self.tokens, "chars": self.chars, "documents": documents, "max_train_tokens": self.cap,
                "capped": self.cap is not None and self.tokens["train"] >= self.cap}


def batched(docs: Iterable[list[str]], n: int) -> Iterator[list[list[str]]]:
    batch: list[list[str]] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def write_language_shards(
    tok: Tokenizer, lang: str, text_file: Path, out_dir: Path, spec: ShardSpec, max_train_tokens: int | None = None
) -> dict:
    """Tokenize one language's text file into `<lang>.{train,valid}.bin` (+ document offsets), streaming
    `encode_batch_docs` documents at a time, in this process. `max_train_tokens`: see SplitWriter."""
    progress = bar(desc=f"shards {lang}", unit="doc", unit_scale=True)
    with SplitWriter(out_dir, lang, token_dtype(tok.vocab_size), spec, max_train_tokens) as writer:
        for batch in batched(iter_documents(text_file), spec.encode_batch_docs):
            writer.add(encode_documents(tok, batch))
            progress.update(len(batch))
            if writer.full():
                break
    progress.close()
    return writer.finish(text_file)


# ------------------------------------------------------------------ the same, fanned out over chunks
@dataclass(frozen=True)
class ChunkTask:
    """One independent task: tokenize the documents of text_file[start:end) (byte offsets at document
    starts, xlmr/data/text.py document_chunks) into part_dir/<lang>.<index>.npz."""

    tokenizer_dir: str
    lang: str
    text_file: str
    start: int
    end: int | None  # None: to the end of the file
    index: int
    part_dir: str
    batch_docs: int

    @property
    def part(self) -> Path:
        return Path(self.part_dir) / f"{self.lang}.{self.index:05d}.npz"


def encode_chunk(task: ChunkTask) -> str:
    """Run one chunk task. Idempotent and restartable: a part that exists is kept; a part is written to a
    temp file and renamed, so a killed task leaves nothing a rerun would trust."""
    if task.part.exists():
        return str(task.part)
    tok = Tokenizer.from_dir(Path(task.tokenizer_dir))
    encoded = [encode_documents(tok, batch) for batch in
               batched(iter_documents_between(Path(task.text_file), task.start, task.end), task.batch_docs)]
    cat = (lambda name: np.concatenate([getattr(e, name) for e in encoded]) if encoded else np.zeros(0, np.int64))
    tmp = task.part.with_name(f".{task.part.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        np.savez(f, ids=cat("ids").astype(token_dtype(tok.vocab_size)), doc_tokens=cat("doc_tokens"),
                 doc_chars=cat("doc_chars"))
    os.replace(tmp, task.part)
    return str(task.part)


def chunk_tasks(tokenizer_dir: Path, text_files: Mapping[str, Path], part_dir: Path, spec: ShardSpec,
                chunk_bytes: int) -> list[ChunkTask]:
    """Every (language × chunk of its file) task of a shards build."""
    return [ChunkTask(str(tokenizer_dir), lang, str(path), start, end, i, str(part_dir), spec.encode_batch_docs)
            for lang, path in text_files.items()
            for i, (start, end) in enumerate(document_chunks(Path(path), chunk_bytes))]


def merge_language_parts(tasks: Sequence[ChunkTask], out_dir: Path, spec: ShardSpec, dtype: np.dtype,
                         max_train_tokens: int | None) -> dict:
    """A language's shards from its encoded chunks, in file order: what write_language_shards writes."""
    lang, source = tasks[0].lang, Path(tasks[0].text_file)
    with SplitWriter(out_dir, lang, dtype, spec, max_train_tokens) as writer:
        for task in sorted(tasks, key=lambda t: t.index):
            with np.load(task.part) as part:
                encoded = EncodedDocs(part["ids"], part["doc_tokens"], part["doc_chars"])
            for piece in encoded.slices(spec.encode_batch_docs):
                writer.add(piece)
                if writer.full():
                    break
            if writer.full():
                break
    return writer.finish(source)


# How chunk tasks run: (function, tasks) → their results, e.g. a process pool or a Slurm array (xlmr/data/fanout.py)
RunTasks = Callable[[Callable[[ChunkTask], str], Sequence[ChunkTask]], list]


def build_shards(tok: Tokenizer, text_files: Mapping[str, Path], out_dir: Path, spec: ShardSpec,
                 max_train_tokens: Mapping[str, int] | None = None, *, tokenizer_dir: Path | None = None,
                 run_tasks: RunTasks | None = None, chunk_bytes: int = 256 * 2**20, part_dir: Path | None = None
                 ) -> dict:
    """Every language's shards; `max_train_tokens`: per-language caps (the manifest records each, and whether
    it cut the text short). With `run_tasks` (and the tokenizer's directory), the text is tokenized as
    independent (language × chunk) tasks that `run_tasks` runs (in parallel), then merged here: the same
    bytes as the one-process build (tests/data/test_tokenizer_shards.py). `part_dir`: where the encoded chunks
    wait for the merge; outside the build's temp dir, a build that dies keeps its finished chunks for the
    next attempt."""
    caps = max_train_tokens or {}
    dtype = token_dtype(tok.vocab_size)
    if run_tasks is None:
        per_lang = {lang: write_language_shards(tok, lang, path, out_dir, spec, caps.get(lang))
                    for lang, path in text_files.items()}
    else:
        part_dir = Path(part_dir or Path(out_dir) / ".parts")
        part_dir.mkdir(parents=True, exist_ok=True)
        tasks = chunk_tasks(Path(tokenizer_dir), text_files, part_dir, spec, chunk_bytes)
        run_tasks(encode_chunk, tasks)
        per_lang = {lang: merge_language_parts([t for t in tasks if t.lang == lang], out_dir, spec, dtype,
                                               caps.get(lang))
                    for lang in text_files}
        shutil.rmtree(part_dir)
    return {"dtype": dtype.name, "vocab_size": tok.vocab_size, "languages": per_lang}


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
