"""English↔X sentence retrieval (Tatoeba-style, as XTREME evaluates XLM-R) on parallel pairs, e.g. the
gettext catalogs' (English msgid, translation) pairs (xlmr/data/gettext.py: `read_pairs`).

No fine-tuning: each sentence is embedded as the mean of one encoder layer's hidden states (a middle layer
by default, as XTREME does for XLM-R), L2-normalised, and each English sentence retrieves its translation
among the language's candidates by cosine similarity (and the other way round). Top-1 accuracy.

The gettext pairs leak: shared ASCII tokens (command names, options, acronyms) let a character-trigram
TF-IDF matcher find 60–79 % of Latin-script translations among 1,000 candidates, but only 1–3 % for
non-Latin scripts once the strings with ASCII letters or digits are dropped
(/work/shared/reference/offline-text.md). So every accuracy comes with that baseline beside it, and
non-Latin-script languages are also scored on the subset whose X side has no ASCII letter or digit.

  split_pairs(pairs_by_lang, test_fraction, seed)   train/test split by English string (hash): every
                                                    translation of a message is on the same side
  embed(model, tokenizer, texts, layer, ...)        (N, H) mean-pooled, L2-normalised sentence vectors
  retrieval_accuracy(src_emb, tgt_emb)              top-1 by cosine; row i's gold is column i
  trigram_baseline(src_texts, tgt_texts)            the same with character-trigram TF-IDF vectors
  evaluate_retrieval(model, tokenizer, pairs, cfg)  {lang: {retrieval_acc_en2x, ..., n_pairs, ...}}

Choices (docs/retrieval.md):
- A hit must be strictly better than every other candidate (by more than 1e-6): a tie is a miss, so text
  the model cannot tell apart (identical token ids, no shared trigram) never scores by position.
- Candidates are unique: per language the pairs are deduplicated by English string (first pair kept), then
  by X string, so both directions have one right answer.
- At most `max_pairs` pairs per language, a seeded random sample (seed, language), in the input order.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xlmr.eval.config import RetrievalConfig

BOS, PAD, EOS = 0, 1, 2  # fairseq/XLM-R ids (xlmr/data/tokenizer.py)
TIE_EPS = 1e-6  # the gold must beat the best other candidate by more than this
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")
_WS = re.compile(r"\s+")

Pair = tuple[str, str]  # (English, X)


# ------------------------------------------------------------------------------------------------ split
def _unit_hash(text: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}\x00{text}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_pairs(pairs_by_lang: Mapping[str, Sequence[Pair]], test_fraction: float,
                seed: int = 0) -> tuple[dict[str, list[Pair]], dict[str, list[Pair]]]:
    """(train, test): a pair is a test pair when a hash of (seed, its English string) falls below
    test_fraction. The side depends only on the English string, so all translations of one message, in
    every language, are on the same side and no message is on both. Order within a language is kept."""
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction={test_fraction}: must be in [0, 1]")
    side: dict[str, bool] = {}
    train: dict[str, list[Pair]] = {}
    test: dict[str, list[Pair]] = {}
    for lang, pairs in pairs_by_lang.items():
        train[lang], test[lang] = [], []
        for en, x in pairs:
            if en not in side:
                side[en] = _unit_hash(en, seed) < test_fraction
            (test if side[en] else train)[lang].append((en, x))
    return train, test


def pairs_from_gettext(out_dir: Path | str, codes: Sequence[str] | None = None) -> dict[str, list[Pair]]:
    """{code: [(English, X), ...]} from a corpus written by `build_gettext_corpus` (every language with a
    pairs file when codes is None)."""
    from xlmr.data.gettext import read_pairs

    if codes is None:
        codes = sorted(p.stem for p in (Path(out_dir) / "pairs").glob("*.tsv"))
    return {c: read_pairs(out_dir, c) for c in codes if c != "en"}


# ------------------------------------------------------------------------------------------- embeddings
def _encoder(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "encoder", model)  # XLMRForMaskedLM or its Encoder


def num_layers(model: torch.nn.Module) -> int:
    return len(_encoder(model).layers)


def default_layer(model: torch.nn.Module) -> int:
    """XTREME's middle layer: L // 2 (at least 1)."""
    return max(1, num_layers(model) // 2)


@torch.no_grad()
def embed(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], layer: int | None = None,
          max_len: int = 64, batch_size: int = 64) -> torch.Tensor:
    """(N, H) float32 CPU tensor: per text, the mean over its tokens (<s> and </s> included, padding
    excluded) of the hidden states after `layer`, L2-normalised. Texts are batched by length; the model is
    run in eval mode and left in the mode it had."""
    encoder = _encoder(model)
    n_layers = len(encoder.layers)
    layer = default_layer(model) if layer is None else int(layer)
    if not 1 <= layer <= n_layers:
        raise ValueError(f"layer={layer}: must be in [1, {n_layers}] (hidden states after that layer)")
    if max_len < 3:
        raise ValueError(f"max_len={max_len}: must be >= 3 (<s>, a token, </s>)")
    texts = list(texts)
    if not texts:
        return torch.zeros(0, encoder.dims.hidden if hasattr(encoder, "dims") else 0)
    seqs = [np.concatenate([[BOS], np.asarray(ids, dtype=np.int64)[: max_len - 2], [EOS]])
            for ids in tokenizer.encode(texts)]
    order = np.argsort([len(s) for s in seqs], kind="stable")
    device = next(encoder.parameters()).device
    was_training = model.training
    model.eval()
    out: list[torch.Tensor | None] = [None] * len(seqs)
    try:
        for start in range(0, len(seqs), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(seqs[i]) for i in idx)
            batch = np.full((len(idx), width), PAD, dtype=np.int64)
            for row, i in enumerate(idx):
                batch[row, :len(seqs[i])] = seqs[i]
            ids = torch.from_numpy(batch).to(device)
            hidden = encoder(ids, output_layer=layer).float()  # (B, T, H)
            mask = ids.ne(PAD).unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
            pooled = torch.nn.functional.normalize(pooled, dim=-1).cpu()
            for row, i in enumerate(idx):
                out[i] = pooled[row]
    finally:
        model.train(was_training)
    return torch.stack(out)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------- scoring
def top1_accuracy(sim: torch.Tensor | np.ndarray) -> float:
    """sim (n, m), m >= n: row i's gold is column i. A hit: the gold beats every other column by more than
    TIE_EPS. NaN when n = 0."""
    sim = torch.as_tensor(sim, dtype=torch.float64)
    n, m = sim.shape
    if m < n:
        raise ValueError(f"similarity matrix {tuple(sim.shape)}: needs at least as many candidates as queries")
    if n == 0:
        return float("nan")
    if m == 1:
        return 1.0
    rows = torch.arange(n)
    gold = sim[rows, rows]
    others = sim.clone()
    others[rows, rows] = -math.inf
    return float((gold > others.max(dim=1).values + TIE_EPS).double().mean())


def retrieval_accuracy(src_emb: torch.Tensor | np.ndarray, tgt_emb: torch.Tensor | np.ndarray) -> float:
    """Top-1 accuracy of retrieving tgt row i for src row i by cosine similarity (rows are normalised
    here, so unnormalised vectors are fine). tgt may have extra rows (distractors)."""
    src = torch.nn.functional.normalize(torch.as_tensor(src_emb, dtype=torch.float32), dim=-1)
    tgt = torch.nn.functional.normalize(torch.as_tensor(tgt_emb, dtype=torch.float32), dim=-1)
    return top1_accuracy(src @ tgt.T)


def _trigrams(text: str) -> Counter:
    s = f" {_WS.sub(' ', text.casefold()).strip()} "
    return Counter(s[i:i + 3] for i in range(len(s) - 2))


def trigram_similarity(src_texts: Sequence[str], tgt_texts: Sequence[str], chunk: int = 512) -> torch.Tensor:
    """(n, m) float64 cosine similarities of character-trigram TF-IDF vectors (casefolded, whitespace
    collapsed, a space at both ends; tf = 1 + log count, idf = log((1 + N) / (1 + df)) + 1 over the N texts
    of both sides). Norms use every trigram; the dot products only need the trigrams both sides share, so
    the dense matrices are (rows × shared trigrams), the source side in chunks of `chunk` rows."""
    src = [_trigrams(t) for t in src_texts]
    tgt = [_trigrams(t) for t in tgt_texts]
    df: Counter = Counter()
    for c in src + tgt:
        df.update(c.keys())
    n_docs = len(src) + len(tgt)
    idf = {g: math.log((1 + n_docs) / (1 + d)) + 1.0 for g, d in df.items()}
    shared = {g: i for i, g in enumerate(sorted(set().union(*src) & set().union(*tgt)))} if src and tgt else {}

    def matrix(part: list[Counter]) -> torch.Tensor:
        out = torch.zeros(len(part), len(shared), dtype=torch.float64)
        for r, c in enumerate(part):
            w = {g: (1.0 + math.log(k)) * idf[g] for g, k in c.items()}
            norm = math.sqrt(sum(v * v for v in w.values())) or 1.0
            cols = [(shared[g], v / norm) for g, v in w.items() if g in shared]
            if cols:
                idx, vals = zip(*cols)
                out[r, list(idx)] = torch.tensor(vals, dtype=torch.float64)
        return out

    b = matrix(tgt)
    sim = torch.zeros(len(src), len(tgt), dtype=torch.float64)
    for start in range(0, len(src), chunk):
        sim[start:start + chunk] = matrix(src[start:start + chunk]) @ b.T
    return sim


def trigram_baseline(src_texts: Sequence[str], tgt_texts: Sequence[str]) -> float:
    """The leakage baseline: top-1 accuracy of character-trigram TF-IDF cosine (row i's gold is column i)."""
    return top1_accuracy(trigram_similarity(src_texts, tgt_texts))


# ------------------------------------------------------------------------------------- pair selection
def has_ascii_alnum(text: str) -> bool:
    return _ASCII_ALNUM.search(text) is not None


def is_latin_script(texts: Sequence[str], max_texts: int = 2000) -> bool:
    """Are at least half of the letters (of the first max_texts texts) Latin-script? True when no letters."""
    latin = letters = 0
    for text in texts[:max_texts]:
        for ch in text:
            if ch.isalpha():
                letters += 1
                latin += unicodedata.name(ch, "").startswith("LATIN")
    return letters == 0 or latin * 2 >= letters


def unique_pairs(pairs: Sequence[Pair]) -> list[Pair]:
    """Pairs with each English string once (its first pair), then each X string once: unique candidates."""
    seen_en: set[str] = set()
    seen_x: set[str] = set()
    out = []
    for en, x in pairs:
        if en in seen_en or x in seen_x:
            continue
        seen_en.add(en)
        seen_x.add(x)
        out.append((en, x))
    return out


def sample_pairs(pairs: Sequence[Pair], k: int, seed: int, lang: str) -> list[Pair]:
    """At most k pairs: a seeded random sample (by seed and language), in the input order."""
    if len(pairs) <= k:
        return list(pairs)
    rng = np.random.default_rng([int(seed), zlib.crc32(lang.encode("utf-8"))])
    keep = np.sort(rng.choice(len(pairs), size=k, replace=False))
    return [pairs[i] for i in keep]


# ------------------------------------------------------------------------------------------ evaluation
def evaluate_retrieval(model: torch.nn.Module, tokenizer: Any, pairs: Mapping[str, Sequence[Pair]],
                       cfg: RetrievalConfig | Any = None, batch_size: int = 64) -> dict[str, dict[str, Any]]:
    """Per language: {n_pairs, retrieval_acc_en2x, retrieval_acc_x2en, trigram_acc_en2x, trigram_acc_x2en,
    latin_script, layer}, and for non-Latin-script languages (when cfg.non_ascii_only_for_non_latin) the
    four accuracies again as `*_nonascii` on the pairs whose X side has no ASCII letter or digit, with
    n_pairs_nonascii (accuracies NaN when that is 0). Pass the test side of `split_pairs`."""
    cfg = cfg if cfg is not None else RetrievalConfig()
    layer = default_layer(model) if cfg.layer is None else cfg.layer
    plans: dict[str, dict[str, Any]] = {}
    for lang, lang_pairs in pairs.items():
        uniq = unique_pairs(lang_pairs)
        latin = is_latin_script([x for _, x in uniq])
        plan: dict[str, Any] = {"latin": latin, "all": sample_pairs(uniq, cfg.max_pairs, cfg.seed, lang)}
        if cfg.non_ascii_only_for_non_latin and not latin:
            plan["nonascii"] = sample_pairs([p for p in uniq if not has_ascii_alnum(p[1])], cfg.max_pairs,
                                            cfg.seed, lang)
        plans[lang] = plan

    texts = sorted({t for plan in plans.values() for key in ("all", "nonascii") for p in plan.get(key, []) for t in p})
    vectors = embed(model, tokenizer, texts, layer, cfg.max_len, batch_size) if texts else None
    row = {t: i for i, t in enumerate(texts)}

    def scores(subset: list[Pair], suffix: str) -> dict[str, Any]:
        en = [e for e, _ in subset]
        x = [t for _, t in subset]
        if subset:
            assert vectors is not None
            sim = vectors[[row[t] for t in en]] @ vectors[[row[t] for t in x]].T
            tri = trigram_similarity(en, x)
        else:
            sim = tri = torch.zeros(0, 0)
        return {f"retrieval_acc_en2x{suffix}": top1_accuracy(sim), f"retrieval_acc_x2en{suffix}": top1_accuracy(sim.T),
                f"trigram_acc_en2x{suffix}": top1_accuracy(tri), f"trigram_acc_x2en{suffix}": top1_accuracy(tri.T)}

    results: dict[str, dict[str, Any]] = {}
    for lang, plan in plans.items():
        res: dict[str, Any] = {"n_pairs": len(plan["all"]), **scores(plan["all"], ""),
                               "latin_script": plan["latin"], "layer": layer}
        if "nonascii" in plan:
            res["n_pairs_nonascii"] = len(plan["nonascii"])
            res.update(scores(plan["nonascii"], "_nonascii"))
        results[lang] = res
    return results
