"""⑦⑧ The LightningModule: masked-LM loss, per-language held-out metrics, AdamW with warmup + decay."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from xlmr.data.languages import GROUPS
from xlmr.data.mlm import IGNORE
from xlmr.model import EncoderDims, XLMRForMaskedLM, mlm_loss
from xlmr.optim import OptimConfig, adamw_with_schedule

def language_metrics(nll_sum: float, correct: float, count: float, chars: float) -> dict[str, float]:
    """From sums over one language's masked tokens: nats/token, perplexity, accuracy, bits/char."""
    loss = nll_sum / count if count else math.nan
    return {"mlm_loss": loss, "mlm_ppl": math.exp(min(loss, 50.0)) if count else math.nan,
            "mlm_acc": correct / count if count else math.nan,
            "mlm_bpc": nll_sum / (math.log(2) * chars) if chars else math.nan}


def parse_eval(flat: dict[str, float]) -> dict[str, dict[str, dict[str, float]]]:
    """Inverse of the `val/<lang>/<metric>` and `val/group/<group>/<metric>` keys."""
    out: dict[str, dict[str, dict[str, float]]] = {"languages": {}, "groups": {}}
    for key, value in flat.items():
        parts = key.split("/")
        if parts[0] != "val":
            continue
        section, name = ("groups", parts[2]) if parts[1] == "group" else ("languages", parts[1])
        out[section].setdefault(name, {})[parts[-1]] = float(value)
    return out


def group_metrics(per_lang: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The paper's groups (high = mean(en, fr), low = mean(sw, ur)) where all members are present, and all.
    A metric enters high/low only where every member has it; `all` averages the languages that have it
    (retrieval, English↔X, has no `en`)."""
    groups = {name: [c for c in members if c in per_lang] for name, members in GROUPS.items()}
    groups = {name: members for name, members in groups.items() if len(members) == len(GROUPS[name])}
    groups["all"] = list(per_lang)
    out = {}
    for name, members in groups.items():
        metrics = sorted(set().union(*(per_lang[c] for c in members))) if members else []
        out[name] = {m: float(np.mean([per_lang[c][m] for c in members if m in per_lang[c]]))
                     for m in metrics if name == "all" or all(m in per_lang[c] for c in members)}
    return out


CKPT_KEY = "xlmr"  # the checkpoint's self-description (see MLMModule.on_save_checkpoint)
CKPT_FORMAT = 1


def checkpoint_description(dims: EncoderDims, tokenizer: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint says about itself: the model's dimensions and its tokenizer (artifact key, SHA-256 and
    the SentencePiece model's bytes, small next to the weights), so that export and resume need nothing else."""
    return {"format": CKPT_FORMAT, "dims": dataclasses.asdict(dims), "tokenizer": tokenizer}


def read_checkpoint_description(checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    """The description `on_save_checkpoint` stored, with `dims` as EncoderDims; None for older checkpoints."""
    desc = checkpoint.get(CKPT_KEY)
    return None if desc is None else {**desc, "dims": EncoderDims(**desc["dims"])}


class ThroughputLogger(pl.Callback):
    """Logs `train/tokens_per_s` and `train/mfu` every `every` optimizer steps (wall time between logs, so
    data loading and logging count too): W&B's throughput curves. No device sync of its own."""

    def __init__(self, tokens_per_step: int, flops_per_token: float, peak_flops: float, every: int):
        self.tokens_per_step, self.flops_per_token, self.peak, self.every = (tokens_per_step, flops_per_token,
                                                                           peak_flops, every)
        self.last: tuple[int, float] | None = None  # (step, time) of the previous log

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        step, now = trainer.global_step, time.perf_counter()
        if step % self.every or (self.last and self.last[0] == step):
            return  # not a logging step, or mid-accumulation
        if self.last is not None:
            tokens_per_s = (step - self.last[0]) * self.tokens_per_step / (now - self.last[1])
            pl_module.log_dict({"train/tokens_per_s": tokens_per_s,
                                "train/mfu": tokens_per_s * self.flops_per_token / self.peak})
        self.last = (step, now)


class MLMModule(pl.LightningModule):
    def __init__(self, dims: EncoderDims, optim: OptimConfig, langs: list[str], token_chars: np.ndarray, seed: int,
                 unseen: list[str] = (), tokenizer: dict[str, Any] | None = None):
        super().__init__()
        self.description = checkpoint_description(dims, tokenizer or {})
        self.model = XLMRForMaskedLM(dims)
        self.optim, self.seed = optim, seed
        self.langs, self.unseen = list(langs), list(unseen)  # evaluation order: pretraining, then unseen
        self.register_buffer("token_chars", torch.as_tensor(token_chars, dtype=torch.float32), persistent=False)
        # per language: [nll_sum, correct, count, chars] over the held-out masked tokens
        self.val_logged_at = -1  # the step of the last held-out evaluation sent to the loggers
        self.grad_norm: torch.Tensor | None = None  # the last optimizer step's, before clipping
        self.register_buffer("eval_sums", torch.zeros(len(self.langs) + len(self.unseen), 4, dtype=torch.float64),
                             persistent=False)

    def _logging_update(self) -> bool:
        """Will Lightning send this update's step metrics to the loggers? Its rule (LoggerConnector's
        should_update_logs), read before the optimizer step: the k-th update, k = global_step + 1, is logged
        when k is a multiple of log_every_n_steps, or when training stops. `self.log` costs ~1 % of a tiny
        model's step per call, and Lightning drops the values of the other updates unseen."""
        return (self.global_step + 1) % self.trainer.log_every_n_steps == 0 or self.trainer.should_stop

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if self.model.dims.dropout > 0 or self.model.dims.attention_dropout > 0:
            # Dropout is a pure function of (seed, rank, micro-batch index): resumed runs replay it exactly.
            # Without dropout the step draws no random numbers (masks come with the batch), and the seeding
            # (~2 % of a tiny model's step) is skipped.
            torch.manual_seed((self.seed * 1_000_003 + self.global_rank * 7_919 + int(batch["index"])) % 2**63)
        loss, nll, _ = mlm_loss(self.model, batch["input_ids"], batch["targets"])
        if self._logging_update():
            self.log("train/loss", loss)
            factor = self.optim.lr_factor(self.global_step)
            self.log("train/lr", self.optim.peak_lr(self.model.dims.hidden) * factor)
            self.log("train/masked_tokens", float(nll.numel()))
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Clipping here rather than through Trainer(gradient_clip_val): Lightning refuses that with a fused
        # optimizer under bf16-mixed, though bf16 has no loss scaler to undo. Gradients are already
        # accumulated (and all-reduced under DDP) at this point; the norm is logged as a tensor (no sync here).
        if self.optim.clip_grad_norm > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.optim.clip_grad_norm)
            if self._logging_update():
                self.log("train/grad_norm", norm)
            self.grad_norm = norm.detach()  # read (and cleared) by xlmr.divergence.DivergenceGuard

    def on_validation_epoch_start(self) -> None:
        self.eval_sums.zero_()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        masked = batch["targets"].ne(IGNORE)  # (B, T)
        targets = batch["targets"][masked]  # (n,)
        logits = self.model(batch["input_ids"], masked).float()  # (n, V)
        nll = F.cross_entropy(logits, targets, reduction="none")
        correct = logits.argmax(-1).eq(targets)
        lang = batch["lang"][:, None].expand_as(masked)[masked]  # (n,) language index of each masked token
        for column, values in enumerate((nll, correct, torch.ones_like(nll), self.token_chars[targets])):
            self.eval_sums[:, column].index_add_(0, lang, values.double())

    def on_validation_epoch_end(self) -> None:
        sums = self.trainer.strategy.reduce(self.eval_sums.clone(), reduce_op="sum")
        per_lang = {lang: language_metrics(*sums[i].tolist()) for i, lang in enumerate(self.langs + self.unseen)}
        seen = {lang: per_lang[lang] for lang in self.langs}  # groups are over pretraining languages only
        flat = {f"val/{lang}/{name}": value for lang, metrics in per_lang.items() for name, value in metrics.items()}
        flat.update({f"val/group/{group}/{name}": value
                     for group, metrics in group_metrics(seen).items() for name, value in metrics.items()})
        # Logged straight to the loggers at step = completed optimizer updates (Lightning's self.log would
        # stamp mid-training validation with the step before the update).
        # Once per step: the final evaluation repeats the last in-training one when that fell on the last step.
        if self.trainer.is_global_zero and not self.trainer.sanity_checking and self.global_step != self.val_logged_at:
            for logger in self.loggers:
                logger.log_metrics(flat, step=self.global_step)
            self.val_logged_at = self.global_step
        # Also as callback metrics (not to the loggers): `trainer.validate` returns them, and under
        # ddp_spawn they are what comes back to the launching process.
        self.log_dict(flat, logger=False, rank_zero_only=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[CKPT_KEY] = self.description

    def configure_optimizers(self):
        opt, sched = adamw_with_schedule(self.model, self.optim, fused=True, width=self.model.dims.hidden)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
