"""Zero-shot cross-lingual transfer, the paper's protocol for XNLI: fine-tune the pretrained encoder on one
language's (English) training data only, then measure accuracy on every language's test set.

  TransferConfig                     the budget (steps, batch, lr, lengths, example caps, seed)
  encode_pair(a, b, max_len)         RoBERTa/XLM-R layout: <s> a </s>, or <s> a </s></s> b </s> for pairs
  SequenceClassifier                 a copy of the encoder + XLM-R's classification head
  bag_of_words_baseline(...)         naive Bayes on token ids, trained on the same examples: no model
  zero_shot_transfer(model, tokenizer, task, cfg, langs) -> ({lang: {"transfer_acc": acc}}, meta)
  translate_train(model, tokenizer, task, cfg, langs)    -> ({lang: {"translate_train_acc": acc}}, meta): the
                                     control, each language fine-tuned on its own (parallel) examples

Protocol (docs/evaluation.md):
- The caller's model is never modified: its encoder is deep-copied. The head is XLM-R's
  (`RobertaClassificationHead`): the <s> representation → dropout → dense H→H → tanh → dropout → H→labels,
  initialised N(0, 0.02) with zero biases; dropout is the encoder's.
- ALL weights are fine-tuned (embeddings included) on train_lang's training examples (at most
  max_train_examples, a seeded sample): AdamW (β = 0.9, 0.98; ε = 1e-6; weight decay 0.01 on matrices),
  lr warmed up linearly over the first 10 % of `steps`, then decayed linearly to 0, gradients clipped at
  1.0, batches from seeded epoch permutations. Same seed, same device → the same accuracies (on CPU,
  bit-identical); the global torch RNG is left as it was.
- Forward passes in the run's mixed precision (a bf16-mixed run fine-tunes and tests under bf16 autocast,
  weights and optimizer in fp32), else fp32; meta["precision"] says which. On ten trained checkpoints (7 to
  30 languages) bf16 moved no language's accuracy by more than .008 of fp32 (docs/evaluation.md).
- Each language's test set (its first max_test_examples rows: the synthetic and XNLI test sets are
  parallel, so every language gets the same items) is classified by argmax; accuracy = share correct.
- Beside it, meta["bow_baseline_acc"][lang]: a naive-Bayes bag of token ids trained on the same English
  examples. On the synthetic corpus shared cognates, names and digits already carry labels across
  languages; a transfer accuracy means something only above that line.
- Sequences are truncated to max_len tokens (specials included; pairs longest-first) and padded with
  <pad>, which the encoder masks out of attention.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xlmr.console import bar
from xlmr.data.tokenizer import BOS, EOS, PAD
from xlmr.eval.config import TransferConfig  # defined torch-free, re-exported here
from xlmr.fields import check_ranges
from xlmr.hardware import compute_dtype
from xlmr.eval.tasks import ClassificationTask, Example
from xlmr.optim import OptimConfig, adamw_with_schedule
WARMUP_FRACTION = 0.1
EVAL_BATCH_MULTIPLIER = 4  # evaluation batches are this many times the training batch (no gradients)
FUSED_ADAMW_DEVICES = ("cpu", "cuda")  # one kernel for all tensors: the same update, a fraction of the time


# ============================================================================================ encoding
def encode_pair(a: Sequence[int], b: Optional[Sequence[int]], max_len: int) -> list[int]:
    """`<s> a </s>` or `<s> a </s></s> b </s>` (RoBERTa's pair format), at most max_len ids. A pair is
    truncated longest-first (the longer side loses tokens from its end; equal lengths: b first)."""
    a = a.tolist() if hasattr(a, "tolist") else list(a)
    if b is None:
        if max_len < 3:
            raise ValueError(f"max_len={max_len}: need at least 3 tokens for <s> x </s>")
        return [BOS, *a[: max_len - 2], EOS]
    b = b.tolist() if hasattr(b, "tolist") else list(b)
    budget = max_len - 4
    if budget < 2:
        raise ValueError(f"max_len={max_len}: need at least 6 tokens for <s> a </s></s> b </s>")
    la, lb = len(a), len(b)
    if la + lb > budget:
        half = budget // 2
        if la <= budget - half:  # a fits in its half: b takes the rest
            lb = budget - la
        elif lb <= half:
            la = budget - lb
        else:
            la, lb = budget - half, half
    return [BOS, *a[:la], EOS, EOS, *b[:lb], EOS]


def encode_examples(tokenizer: Any, examples: Sequence[Example], max_len: int) -> tuple[list[list[int]], int]:
    """Model ids of each example, and how many were truncated."""
    a_ids = tokenizer.encode([ex[0] for ex in examples])
    pairs = [i for i, ex in enumerate(examples) if ex[1] is not None]
    b_ids = dict(zip(pairs, tokenizer.encode([examples[i][1] for i in pairs]))) if pairs else {}
    out, truncated = [], 0
    for i, a in enumerate(a_ids):
        b = b_ids.get(i)
        ids = encode_pair(a, b, max_len)
        truncated += len(ids) < len(a) + (2 if b is None else len(b) + 4)
        out.append(ids)
    return out, truncated


def pad_batch(seqs: Sequence[Sequence[int]], device: Any = None) -> torch.Tensor:
    """(B, T) int64, right-padded with <pad> to the longest sequence."""
    out = torch.full((len(seqs), max(map(len, seqs))), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out.to(device) if device is not None else out


# ============================================================================================ model
class ClassificationHead(nn.Module):
    """XLM-R's sentence classification head on the <s> (first) position."""

    def __init__(self, hidden: int, num_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, num_labels)
        for layer in (self.dense, self.out_proj):
            nn.init.normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.dropout(h[:, 0])  # (B, H): <s>
        x = self.dropout(torch.tanh(self.dense(x)))
        return self.out_proj(x)  # (B, num_labels)


class SequenceClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, num_labels: int):
        super().__init__()
        self.encoder = encoder
        self.head = ClassificationHead(encoder.dims.hidden, num_labels, encoder.dims.dropout)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(input_ids))


def autocast_to(device: Any, dtype: Optional[torch.dtype]) -> torch.autocast:
    """The forward passes' mixed precision: autocast to `dtype` on `device`'s type, or off (None)."""
    return torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None)


def autocast_for(precision: str) -> Optional[torch.dtype]:
    """The fine-tune's autocast dtype for a run trained at Lightning `precision`: bf16 where its matmuls ran
    in bf16 (xlmr.hardware.compute_dtype), else None (fp32; an fp16 run's loss scaler is not carried over)."""
    return torch.bfloat16 if compute_dtype(precision) == "bf16" else None


def precision_name(dtype: Optional[torch.dtype]) -> str:
    """meta["precision"], in Lightning's words: fp32, bf16-mixed or 16-mixed."""
    return {None: "fp32", torch.bfloat16: "bf16-mixed", torch.float16: "16-mixed"}[dtype]


@torch.no_grad()
def predict(classifier: nn.Module, seqs: Sequence[Sequence[int]], batch_size: int, device: Any,
            autocast: Optional[torch.dtype] = None) -> np.ndarray:
    """Argmax label of each sequence (eval mode; batches formed by length, results in input order)."""
    classifier.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = np.empty(len(seqs), dtype=np.int64)
    for start in range(0, len(order), batch_size):
        idx = order[start: start + batch_size]
        with autocast_to(device, autocast):
            logits = classifier(pad_batch([seqs[i] for i in idx], device))
        out[idx] = logits.argmax(-1).cpu().numpy()
    return out


# ============================================================================================ baseline
def bag_of_words_baseline(train_seqs: Sequence[Sequence[int]], train_labels: Sequence[int],
                          test_seqs: Sequence[Sequence[int]], num_labels: int) -> np.ndarray:
    """Multinomial naive Bayes over token ids (add-one smoothing; ids never seen in training and the special
    ids are ignored): the predicted label of each test sequence. No model: what shared surface forms
    (cognates, names, digits) alone give across languages."""
    vocab = 1 + max(max((max(s) for s in seqs if len(s)), default=0) for seqs in (train_seqs, test_seqs))
    counts = np.zeros((num_labels, vocab))
    for s, y in zip(train_seqs, train_labels):
        np.add.at(counts[y], np.asarray(s, dtype=np.int64), 1.0)
    counts[:, [BOS, PAD, EOS]] = 0.0
    seen = counts.sum(0) > 0
    log_p = np.log(counts + 1.0) - np.log(counts.sum(1, keepdims=True) + seen.sum())
    log_p[:, ~seen] = 0.0
    prior = np.log(np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=num_labels) + 1.0)
    return np.array([int(np.argmax(prior + log_p[:, np.asarray(s, dtype=np.int64)].sum(1))) for s in test_seqs],
                    dtype=np.int64)


# ============================================================================================ protocol
def _check(cfg: TransferConfig) -> None:
    check_ranges(TransferConfig, cfg, "eval.transfer.")  # the ranges declared on TransferConfig's fields


def _train_sample(task: ClassificationTask, lang: str, cfg: TransferConfig,
                  rng: np.random.Generator) -> list[Example]:
    """`lang`'s training examples: at most max_train_examples, drawn with `rng` (fresh from cfg.seed: the
    synthetic and XNLI training sets are parallel, so every language's sample then holds the same items)."""
    train_all = task.train.get(lang) or []
    n_train = len(train_all) if cfg.max_train_examples <= 0 else min(len(train_all), cfg.max_train_examples)
    pick = np.sort(rng.choice(len(train_all), size=n_train, replace=False)) if n_train < len(train_all) else np.arange(n_train)
    return [train_all[i] for i in pick.tolist()]


def fine_tune(encoder: nn.Module, seqs: Sequence[Sequence[int]], labels: torch.Tensor, num_labels: int,
              cfg: TransferConfig, rng: np.random.Generator, desc: str = "fine-tune",
              autocast: Optional[torch.dtype] = None) -> tuple[SequenceClassifier, dict[str, float]]:
    """A classifier on a deep copy of `encoder` (+ XLM-R's head), every weight trained on (seqs, labels)
    with cfg's budget (module docstring: AdamW, warmup then linear decay, clipping, epoch permutations
    drawn with `rng`; head init and dropout from cfg.seed). `autocast`: the forward passes' mixed precision
    (None: fp32); weights, gradients and the optimizer stay fp32, as in pretraining. Returns the classifier
    and its training stats (loss over the first and last 10 % of updates, training accuracy over the last
    10 %). The global torch RNG is left as it was."""
    device = next(encoder.parameters()).device
    steps, batch_size, n_train = cfg.steps, cfg.batch_size, len(seqs)
    losses: list[float] = []
    correct_tail = seen_tail = 0
    tail = max(1, steps // 10)
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):  # the caller's global RNG streams are left untouched
        torch.manual_seed(cfg.seed)
        classifier = SequenceClassifier(copy.deepcopy(encoder), num_labels).to(device)
        for p in classifier.parameters():
            p.requires_grad_(True)
        optimizer, schedule = adamw_with_schedule(classifier, OptimConfig(
            lr=cfg.lr, warmup_steps=max(1, math.ceil(WARMUP_FRACTION * steps)), max_steps=steps),
            fused=device.type in FUSED_ADAMW_DEVICES)
        classifier.train()
        order, pos = rng.permutation(n_train), 0
        for step in bar(range(steps), desc=desc, unit="step"):
            if pos + batch_size > n_train and pos > 0:  # next epoch: a fresh permutation
                order, pos = rng.permutation(n_train), 0
            idx = order[pos: pos + batch_size].tolist()
            pos += batch_size
            # one autocast region per forward: autocast keeps its bf16 weight copies until the region exits, so a
            # region around the loop would feed every step the first step's weights (docs/evaluation.md)
            with autocast_to(device, autocast):
                logits = classifier(pad_batch([seqs[i] for i in idx], device))
            targets = labels[idx].to(device)
            loss = F.cross_entropy(logits.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(classifier.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            if step >= steps - tail:  # training accuracy over the last 10 % of updates
                correct_tail += int((logits.argmax(-1) == targets).sum())
                seen_tail += len(idx)
    return classifier, {"train_loss_first": round(float(np.mean(losses[:tail])), 4),
                        "train_loss_last": round(float(np.mean(losses[-tail:])), 4),
                        "train_acc_last": round(correct_tail / max(1, seen_tail), 4)}


def _encoded_labels(examples: Sequence[Example], num_labels: int) -> torch.Tensor:
    labels = torch.tensor([ex[2] for ex in examples], dtype=torch.long)
    bad = [y for y in labels.tolist() if not 0 <= y < num_labels]
    if bad:
        raise ValueError(f"transfer: training label {bad[0]} outside [0, {num_labels})")
    return labels


def _test_rows(task: ClassificationTask, lang: str, cfg: TransferConfig) -> list[Example]:
    rows = task.test.get(lang) or []
    return rows[: cfg.max_test_examples] if cfg.max_test_examples > 0 else rows


def zero_shot_transfer(model: nn.Module, tokenizer: Any, task: ClassificationTask, cfg: TransferConfig,
                       langs: Sequence[str], autocast: Optional[torch.dtype] = None,
                       ) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Fine-tune a copy of `model`'s encoder (+ a new head) on cfg.train_lang's training examples, then
    score every language of `langs` that has test data. `model`: an XLMRForMaskedLM (or anything with an
    `.encoder` whose `.dims` has hidden/dropout/max_positions); `tokenizer`: anything with
    encode(list[str]) -> list[ids] (no specials); `cfg`: a TransferConfig or an object/Hydra node with its
    fields; `autocast`: mixed precision of the fine-tune's and the test's forward passes (None: fp32; a run
    passes its pretraining precision). Returns ({lang: {"transfer_acc": accuracy}}, meta): meta holds the
    budget, example counts, chance level, the bag-of-words baseline's accuracy per language, losses, the
    precision and timings, for the run record."""
    _check(cfg)
    t0 = time.perf_counter()
    train_lang = cfg.train_lang
    train_all = task.train.get(train_lang) or []
    if not train_all:
        have = sorted(k for k, v in task.train.items() if v)
        raise ValueError(f"transfer: task '{task.name}' has no training examples for train_lang '{train_lang}' "
                         f"(languages with training data: {', '.join(have) or 'none'})")
    if task.num_labels < 2:
        raise ValueError(f"transfer: task '{task.name}' has {task.num_labels} label(s); need at least 2")
    encoder = model.encoder if hasattr(model, "encoder") else model
    device = next(encoder.parameters()).device
    max_len = min(cfg.max_len, int(encoder.dims.max_positions))
    rng = np.random.default_rng(cfg.seed)
    train_examples = _train_sample(task, train_lang, cfg, rng)
    n_train = len(train_examples)
    train_seqs, train_truncated = encode_examples(tokenizer, train_examples, max_len)
    train_labels = _encoded_labels(train_examples, task.num_labels)

    steps, batch_size, seed = cfg.steps, cfg.batch_size, cfg.seed
    t_ft = time.perf_counter()
    classifier, train_stats = fine_tune(encoder, train_seqs, train_labels, task.num_labels, cfg, rng,
                                        autocast=autocast)
    finetune_s = time.perf_counter() - t_ft

    t_ev = time.perf_counter()
    results: dict[str, dict[str, float]] = {}
    baseline: dict[str, float] = {}
    n_test: dict[str, int] = {}
    test_truncated = 0
    eval_bs = batch_size * EVAL_BATCH_MULTIPLIER
    for lang in bar(langs, desc="transfer test", unit="lang"):
        rows = _test_rows(task, lang, cfg)
        if not rows:
            continue
        seqs, truncated = encode_examples(tokenizer, rows, max_len)
        test_truncated += truncated
        pred = predict(classifier, seqs, eval_bs, device, autocast)
        gold = np.array([ex[2] for ex in rows])
        results[lang] = {"transfer_acc": float((pred == gold).mean())}
        bow = bag_of_words_baseline(train_seqs, train_labels.tolist(), seqs, task.num_labels)
        baseline[lang] = round(float((bow == gold).mean()), 4)
        n_test[lang] = len(rows)
    eval_s = time.perf_counter() - t_ev
    meta = {
        "task": task.name, "train_lang": train_lang, "num_labels": task.num_labels, "chance": 1.0 / task.num_labels,
        "steps": steps, "batch_size": batch_size, "lr": cfg.lr, "warmup_steps": max(1, math.ceil(WARMUP_FRACTION * steps)),
        "max_len": max_len, "seed": seed, "train_examples": n_train, "train_available": len(train_all),
        "epochs": round(steps * batch_size / n_train, 2), "test_examples": n_test,
        "langs_without_test": [lang for lang in langs if lang not in results],
        "bow_baseline_acc": baseline,
        "truncated": {"train": train_truncated, "test": test_truncated},
        **train_stats,
        "device": str(device), "precision": precision_name(autocast),
        "finetune_s": round(finetune_s, 2), "eval_s": round(eval_s, 2), "seconds": round(time.perf_counter() - t0, 2),
    }
    if task.info.get("train_source"):
        meta["train_source"] = task.info["train_source"]
    return results, meta


def translate_train(model: nn.Module, tokenizer: Any, task: ClassificationTask, cfg: TransferConfig,
                    langs: Sequence[str], autocast: Optional[torch.dtype] = None,
                    ) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """XLM-R's translate-train control (Conneau et al. 2019, Table 1): for each language of `langs` with
    training and test data, fine-tune a fresh copy of the encoder on that language's own training examples,
    with zero-shot's budget and seed, and score it on that language's test set. The synthetic task's
    training sets are parallel (the same items in every language), so this is translate-train with perfect
    translations: the ceiling zero-shot transfer is read against (a ceiling only: every weight is tuned, so
    even an untrained encoder scores high). A language high here and low zero-shot is learnable but not
    aligned with train_lang; one low on both is not learnable from this model and budget. For train_lang it
    repeats zero-shot's fine-tuning exactly (same sample, same batches), so the two agree there. Returns
    ({lang: {"translate_train_acc": accuracy}}, meta)."""
    _check(cfg)
    t0 = time.perf_counter()
    encoder = model.encoder if hasattr(model, "encoder") else model
    device = next(encoder.parameters()).device
    max_len = min(cfg.max_len, int(encoder.dims.max_positions))
    eval_bs = cfg.batch_size * EVAL_BATCH_MULTIPLIER
    results: dict[str, dict[str, float]] = {}
    train_acc_last: dict[str, float] = {}
    for lang in langs:
        rows = _test_rows(task, lang, cfg)
        if not rows or not task.train.get(lang):
            continue
        rng = np.random.default_rng(cfg.seed)  # the same draws as zero-shot's: the same items, the same order
        examples = _train_sample(task, lang, cfg, rng)
        seqs, _ = encode_examples(tokenizer, examples, max_len)
        classifier, stats = fine_tune(encoder, seqs, _encoded_labels(examples, task.num_labels), task.num_labels,
                                      cfg, rng, desc=f"translate-train {lang}", autocast=autocast)
        test_seqs, _ = encode_examples(tokenizer, rows, max_len)
        pred = predict(classifier, test_seqs, eval_bs, device, autocast)
        results[lang] = {"translate_train_acc": float((pred == np.array([ex[2] for ex in rows])).mean())}
        train_acc_last[lang] = stats["train_acc_last"]
    meta = {"langs_without_data": [lang for lang in langs if lang not in results],
            "train_acc_last": train_acc_last, "precision": precision_name(autocast),
            "seconds": round(time.perf_counter() - t0, 2)}
    return results, meta
