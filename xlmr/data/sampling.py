"""② Exponential-smoothing language sampling (XLM-R §3.1, after Lample & Conneau 2019).

    p_i = n_i / Σ_j n_j          empirical share of language i
    q_i = p_i^α / Σ_j p_j^α      sampling probability

α = 1 samples proportionally to the data, α → 0 uniformly; the paper uses α = 0.3 for XLM-R and
ablates α ∈ {0.01, 0.3, 0.7, 1.0} (Fig. 5). We count n_i in **sentences** (non-empty lines of the
corpus), the paper's unit. fairseq's `MultilingualMaskedLMTask._get_sample_prob` computes the same
`prob = counts / counts.sum(); smoothed = prob ** alpha; smoothed / smoothed.sum()`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

COUNT_UNIT = "sentences"


def sampling_probs(counts: np.ndarray, alpha: float) -> np.ndarray:
    """q = p^α / Σ p^α with p = counts / Σ counts. counts: (n_langs,) positive; returns (n_langs,) summing to 1."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) == 0:
        raise ValueError("counts must be a non-empty 1-D array")
    if (counts <= 0).any():
        raise ValueError(f"every language needs a positive count, got {counts.tolist()}")
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha={alpha}: must be a finite number >= 0 (0 = uniform, 1 = proportional)")
    p = counts / counts.sum()
    # p^α in log space: stable for tiny p and α → 0 (p^0 = 1 exactly).
    log_q = alpha * np.log(p)
    q = np.exp(log_q - log_q.max())
    return q / q.sum()


def matched_steps(steps: int, q_lang: float) -> int:
    """Updates of a monolingual baseline that sees as many of its language's tokens as a multilingual run
    of `steps` updates sampling it with probability q_lang (same batch size): round(steps × q_lang), >= 1."""
    if not 0 < q_lang <= 1:
        raise ValueError(f"q_lang={q_lang}: a sampling probability in (0, 1]")
    return max(1, round(steps * q_lang))


def shard_caps(q: Mapping[str, float], train_tokens: int, factor: float) -> dict[str, int]:
    """Training tokens a language's shard needs to hold for a run: factor × q_i × train_tokens (what the
    budget draws from it, with a safety margin), rounded up to a power of two: runs of one budget (a sweep
    over model sizes, seeds, α at one tokenizer) share one shards artifact, and so do nearby budgets that
    round to the same power (budgets within 2× of each other need at most two)."""
    if factor < 1:
        raise ValueError(f"factor={factor}: a safety factor >= 1")
    return {lang: 1 << max(0, math.ceil(math.log2(max(1.0, factor * q_i * train_tokens)))) for lang, q_i in q.items()}


@dataclass(frozen=True)
class LanguageShare:
    lang: str
    sentences: int  # n_i, in COUNT_UNIT
    p: float  # empirical share
    q: float  # sampling probability
    train_tokens_expected: float  # q_i × training tokens of the run
    shard_tokens: int  # tokens available in the language's train shard
    # expected passes over the language's train data: upsampled low-resource languages repeat (> 1)
    epochs_expected: float
    shard_cap: int | None = None  # the budget-aware cap its train shard was built with (data.budget_cap)


def sampling_table(
    sentences: Mapping[str, int], alpha: float, train_tokens: int, shard_tokens: Mapping[str, int],
    shard_cap: Mapping[str, int | None] | None = None,
) -> list[LanguageShare]:
    langs = list(sentences)
    counts = np.array([sentences[lang] for lang in langs], dtype=np.float64)
    p = counts / counts.sum()
    q = sampling_probs(counts, alpha)
    rows = []
    for lang, p_i, q_i in zip(langs, p, q):
        expected = float(q_i) * train_tokens
        available = int(shard_tokens.get(lang, 0))
        rows.append(
            LanguageShare(lang, int(sentences[lang]), float(p_i), float(q_i), expected, available,
                          expected / available if available else math.inf, (shard_cap or {}).get(lang))
        )
    return rows


def format_tsv(rows: list[LanguageShare]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(["lang", COUNT_UNIT, "p", "q", "train_tokens_expected", "shard_tokens", "epochs_expected",
                     "shard_cap"])
    for r in rows:
        writer.writerow([r.lang, r.sentences, f"{r.p:.6g}", f"{r.q:.6g}", f"{r.train_tokens_expected:.0f}",
                         r.shard_tokens, f"{r.epochs_expected:.4g}", "" if r.shard_cap is None else r.shard_cap])
    return buf.getvalue()
