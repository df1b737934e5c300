"""⑤ MLM batches with dynamic masking, as pure functions of (seed, rank, index).

A training sequence comes from one language drawn from q (design §2 ⑤): a window of seq_len − 2
tokens at a uniformly random offset of that language's train stream, wrapped as `<s> … </s>`.
Masking follows fairseq's MaskTokensDataset: per sequence, floor(0.15·n + u) of its n maskable
(non-special) positions, u ~ U[0,1) — so 15% in expectation; of those 80% become <mask>, 10% a random
piece, 10% stay unchanged. The target is the original token there, IGNORE elsewhere.

Batch i on rank r is drawn from `np.random.default_rng([seed, r, i])` alone: a resumed run, or a run
re-launched with more data-loader workers, sees exactly the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xlmr.fields import bounded

from .tokenizer import BOS, EOS, PAD, UNK

IGNORE = -100  # torch.nn.functional.cross_entropy's ignore_index
FIRST_PIECE = UNK + 1  # ids below are special: <s> <pad> </s> <unk>


@dataclass
class MaskingConfig:
    """Dynamic masking (BERT/RoBERTa); `train` (xlmr.config.TrainConfig) extends it, so these are `train.*`."""

    mask_prob: float = bounded(0.15, gt=0, lt=1)  # share of maskable tokens selected for prediction
    mask_token_prob: float = bounded(0.8, ge=0, le=1)  # of those, replaced by <mask>
    random_token_prob: float = bounded(0.1, ge=0, le=1)  # … replaced by a random piece; the rest stay unchanged


def mask_tokens(
    tokens: np.ndarray, rng: np.random.Generator, masking: MaskingConfig, mask_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """tokens: (B, T) int64 ids. Returns (inputs, targets), both (B, T); targets = IGNORE where unmasked."""
    B, T = tokens.shape
    maskable = tokens >= FIRST_PIECE  # never mask <s> </s> <pad>; <unk> (3) is never a target either
    maskable &= tokens < mask_id
    n_maskable = maskable.sum(axis=1)  # (B,)
    n_mask = np.floor(masking.mask_prob * n_maskable + rng.random(B)).astype(np.int64)  # (B,)
    # choose n_mask[b] maskable positions uniformly: rank random scores, non-maskable last
    scores = np.where(maskable, rng.random((B, T)), 2.0)
    rank = np.argsort(np.argsort(scores, axis=1), axis=1)  # (B, T) rank of each position in its row
    selected = rank < n_mask[:, None]
    targets = np.where(selected, tokens, IGNORE)
    u = rng.random((B, T))
    to_mask = selected & (u < masking.mask_token_prob)
    to_random = selected & (u >= masking.mask_token_prob) & (u < masking.mask_token_prob + masking.random_token_prob)
    inputs = tokens.copy()
    inputs[to_mask] = mask_id
    inputs[to_random] = rng.integers(FIRST_PIECE, mask_id, size=int(to_random.sum()))
    return inputs, targets


def windows_to_batch(windows: Sequence[np.ndarray], seq_len: int) -> np.ndarray:
    """Wrap each window (≤ seq_len − 2 tokens) as <s> w </s> and right-pad with <pad>: (B, seq_len)."""
    out = np.full((len(windows), seq_len), PAD, dtype=np.int64)
    for b, w in enumerate(windows):
        out[b, 0] = BOS
        out[b, 1:1 + len(w)] = w
        out[b, 1 + len(w)] = EOS
    return out


def sample_train_batch(
    streams: Sequence[np.ndarray], q: np.ndarray, batch_size: int, seq_len: int, masking: MaskingConfig,
    mask_id: int, seed: int, rank: int, index: int,
) -> dict[str, np.ndarray]:
    """One micro-batch: {'input_ids', 'targets': (B, T) int64, 'lang': (B,) int64}."""
    rng = np.random.default_rng([seed, rank, index])
    langs = rng.choice(len(q), size=batch_size, p=q)
    width = seq_len - 2
    windows = []
    for lang in langs:
        stream = streams[lang]
        start = int(rng.integers(0, len(stream) - width + 1)) if len(stream) > width else 0
        windows.append(np.asarray(stream[start:start + width], dtype=np.int64))
    inputs, targets = mask_tokens(windows_to_batch(windows, seq_len), rng, masking, mask_id)
    return {"input_ids": inputs, "targets": targets, "lang": langs.astype(np.int64)}


def eval_batches(
    stream: np.ndarray, lang_index: int, batch_size: int, seq_len: int, max_sequences: int,
    masking: MaskingConfig, mask_id: int, seed: int = 0,
) -> list[dict[str, np.ndarray]]:
    """Held-out batches of one language: consecutive non-overlapping windows of its valid stream, masked
    with a fixed seed (independent of the run's seed, so every run is scored on the same masks)."""
    width = seq_len - 2
    n = max(1, min(max_sequences, len(stream) // width))
    batches = []
    for first in range(0, n, batch_size):
        idx = range(first, min(n, first + batch_size))
        windows = [np.asarray(stream[i * width:(i + 1) * width], dtype=np.int64) for i in idx]
        rng = np.random.default_rng([seed, lang_index, first])
        inputs, targets = mask_tokens(windows_to_batch(windows, seq_len), rng, masking, mask_id)
        batches.append({"input_ids": inputs, "targets": targets,
                        "lang": np.full(len(windows), lang_index, dtype=np.int64)})
    return batches
