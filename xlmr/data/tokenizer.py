"""③ XLM-R's tokenizer: a SentencePiece unigram model over raw text, trained on an α-sampled sample of
sentences, with fairseq/XLM-R's id layout so that a checkpoint exports to `XLMRobertaTokenizer`.

SentencePiece's own ids are   <unk>=0 <s>=1 </s>=2, pieces 3 … V-1        (V = vocab_size pieces)
fairseq/XLM-R's ids are       <s>=0 <pad>=1 </s>=2 <unk>=3, piece i → i+1, <mask>=V+1
so the model's embedding table has V + 2 rows (XLM-R: V = 250,000 → 250,002), exactly as
`XLMRobertaTokenizer` (fairseq_offset = 1) maps them.
"""

from __future__ import annotations

import importlib.metadata
import io
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xlmr.fields import bounded


@dataclass
class TokenizerConfig:
    """`tokenizer.*`: how the SentencePiece unigram model is trained (the size is the top-level vocab_size)."""

    sample_sentences: int = bounded(200_000, ge=100)  # α-sampled sentences SentencePiece is trained on
    character_coverage: float = bounded(0.9995, gt=0, le=1)
    seed: int = 0  # not the run seed: runs that differ only in seed share one tokenizer
    # The languages it is trained on (their α-shares among themselves): null = the run's own `langs`; a set
    # size (15, 30, …) or a list of codes that holds every language of the run. One tokenizer for a sweep's
    # language counts, so that their bits/char compare one tokenization (the same model, data and budget score
    # a language's text up to ±.15 bits/char apart under two tokenizers: docs/synthetic-corpus.md#fixed-tokenizer).
    # XLM-R trains one vocabulary for its 100 languages.
    langs: Any = None

BOS, PAD, EOS, UNK = 0, 1, 2, 3
FAIRSEQ_OFFSET = 1
SPM_EOS = 2  # SentencePiece's own </s> id in the models trained here (unk 0, bos 1, eos 2)
SPECIAL_IDS = (BOS, PAD, EOS, UNK)
MODEL_FILE = "sentencepiece.bpe.model"  # XLM-R's file name (it is a unigram model despite the name)


class VocabTooLarge(ValueError):
    pass


def sample_sentences(
    files: Mapping[str, Path], sentences: Mapping[str, int], q: Mapping[str, float], total: int, seed: int
) -> Iterator[str]:
    """Stream ~q_i·total sentences of each language i (with replacement when a language has fewer
    sentences than its share), reading each file once and holding only the chosen line indices. A plain
    text file of OFFSET_SAMPLING_BYTES or more is not read in full: its sentences are picked at random byte
    offsets (sample_by_offsets)."""
    from .text import iter_documents

    for lang, path in files.items():
        n_avail = sentences[lang]
        k = max(1, round(q[lang] * total))
        rng = np.random.default_rng([seed, _stable_int(lang)])
        if k <= n_avail and Path(path).suffix != ".xz" and Path(path).stat().st_size >= OFFSET_SAMPLING_BYTES:
            yield from sample_by_offsets(Path(path), k, rng)
            continue
        picks = np.sort(rng.integers(0, n_avail, size=k)) if k > n_avail else np.sort(
            rng.choice(n_avail, size=k, replace=False))
        reps = np.bincount(picks, minlength=n_avail) if k > n_avail else None
        idx, j = 0, 0
        for doc in iter_documents(path):
            for s in doc:
                if reps is not None:
                    for _ in range(reps[idx]):
                        yield s
                elif j < k and picks[j] == idx:
                    yield s
                    j += 1
                idx += 1


OFFSET_SAMPLING_BYTES = 2**30  # from 1 GiB of plain text on, a tokenizer sample seeks instead of reading it all


def sample_by_offsets(path: Path, k: int, rng: np.random.Generator) -> Iterator[str]:
    """k sentences of a plain-text file, each the first non-blank line after a uniformly random byte offset:
    k seeks and reads of a line or two instead of a pass over the file. Close to uniform over sentences (a
    line's chance grows with the length of the line before it, which matters little for a tokenizer's
    sample); an offset in the last line wraps to the file's first sentence."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        for offset in np.sort(rng.integers(0, size, size=k)).tolist():
            f.seek(offset)
            f.readline()  # the rest of the line the offset fell in
            for _attempt in range(2):
                line = f.readline()
                while line and not line.strip():
                    line = f.readline()
                if line:
                    yield line.decode("utf-8", errors="replace").strip()
                    break
                f.seek(0)  # past the last sentence: wrap around once


def _stable_int(text: str) -> int:
    return int.from_bytes(text.encode()[:8].ljust(8, b"\0"), "little")


def sentencepiece_version() -> str:
    """The installed SentencePiece release (package metadata: no import of the extension)."""
    return importlib.metadata.version("sentencepiece")


def train_sentencepiece(
    sentences: Iterator[str], vocab_size: int, out_dir: Path, *, character_coverage: float = 0.9995,
    num_threads: int = 2, seed_sentencepiece_size: int = 1_000_000, max_sentence_length: int = 4192,
) -> dict:
    """Train a unigram model with `vocab_size` pieces into out_dir/MODEL_FILE; returns training facts."""
    import sentencepiece as spm

    model = io.BytesIO()
    counter = {"sentences": 0, "chars": 0}

    def counted() -> Iterator[str]:
        for s in sentences:
            counter["sentences"] += 1
            counter["chars"] += len(s)
            yield s

    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=counted(), model_writer=model, model_type="unigram", vocab_size=vocab_size,
            character_coverage=character_coverage, num_threads=num_threads, input_sentence_size=0,
            seed_sentencepiece_size=seed_sentencepiece_size, max_sentence_length=max_sentence_length,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, train_extremely_large_corpus=False,
        )
    except RuntimeError as err:
        msg = str(err)
        if "Vocabulary size too high" in msg or "Vocabulary size is smaller than required_chars" in msg:
            found = re.search(r"Vocabulary size.*", msg)
            raise VocabTooLarge(found.group(0).strip() if found else msg) from None
        raise
    (Path(out_dir) / MODEL_FILE).write_bytes(model.getvalue())
    return {"trained_on": counter, "sentencepiece": spm.__version__}


class Tokenizer:
    """Encodes text to fairseq/XLM-R ids (numpy arrays); no special tokens added."""

    def __init__(self, model_file: Path):
        import sentencepiece as spm

        self.model_file = Path(model_file)
        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        self.spm_size = self.sp.get_piece_size()
        self.mask_id = self.spm_size + FAIRSEQ_OFFSET
        self.vocab_size = self.spm_size + 2  # embedding rows: pieces + <pad> + <mask>

    @classmethod
    def from_dir(cls, path: Path) -> "Tokenizer":
        return cls(Path(path) / MODEL_FILE)

    def to_model_ids(self, spm_ids: np.ndarray) -> np.ndarray:
        ids = spm_ids.astype(np.int64) + FAIRSEQ_OFFSET
        ids[spm_ids == 0] = UNK  # spm <unk> → 3
        return ids

    def encode_flat(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Many strings at SentencePiece's own speed: (ids, lengths), where ids (int64, (Σ lengths,)) are
        every string's model ids each followed by </s>, and lengths[i] counts string i's ids and its </s>.
        One batched, multi-threaded SentencePiece call; the id mapping is vectorised over the whole batch."""
        spm_ids = self.sp.encode(list(texts), add_eos=True)  # SentencePiece's </s> (id 2) after each string
        lengths = np.fromiter(map(len, spm_ids), dtype=np.int64, count=len(spm_ids))
        flat = np.fromiter(itertools.chain.from_iterable(spm_ids), dtype=np.int64, count=int(lengths.sum()))
        ids = flat + FAIRSEQ_OFFSET
        ids[flat == 0] = UNK  # spm <unk> → 3
        ids[flat == SPM_EOS] = EOS  # spm </s> → fairseq's 2
        return ids, lengths

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Batched (multi-threaded inside SentencePiece) encoding of many strings."""
        return [self.to_model_ids(np.asarray(x, dtype=np.int64)) for x in self.sp.encode(list(texts))]

    def decode(self, ids: Sequence[int]) -> str:
        pieces = [self.sp.id_to_piece(int(i) - FAIRSEQ_OFFSET) for i in ids if int(i) > UNK and int(i) < self.mask_id]
        return self.sp.decode_pieces(pieces)

    def token_chars(self) -> np.ndarray:
        """(vocab_size,) characters of text each id stands for: a piece's length with the word-boundary
        mark ▁ counted as the one space it encodes; 0 for special tokens. Used for bits per character."""
        chars = np.zeros(self.vocab_size, dtype=np.int32)
        for spm_id in range(3, self.spm_size):
            chars[spm_id + FAIRSEQ_OFFSET] = len(self.sp.id_to_piece(spm_id))
        chars[UNK] = 1
        return chars
