"""The optimizer recipe, written once, for pretraining (xlmr/lit.py) and fine-tuning (xlmr/eval/transfer.py):
RoBERTa's AdamW, weight decay on matrices only (not on biases, LayerNorm gains), and a learning rate that
warms up linearly from 0 to its peak, then decays linearly to 0 at the last step (fairseq's polynomial_decay,
power 1; `schedule: linear`), or holds its peak until a final linear decay (`schedule: wsd`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from omegaconf import MISSING

from xlmr.fields import bounded

if TYPE_CHECKING:  # torch is imported where an optimizer is built: composing a config stays torch-free
    import torch


@dataclass
class OptimConfig:
    """The optimizer's knobs; `train` (xlmr.config.TrainConfig) extends this dataclass, so they are `train.*`."""

    lr: float = bounded(MISSING, gt=0)  # peak learning rate (at lr_width_reference when that is set)
    # Set: the peak rate is lr × lr_width_reference / model.hidden, so one `lr` serves a sweep over widths (Adam's
    # best rate falls about as 1/width: μP, Yang et al. 2022; the GPT-3 table). Measured on XLM-7 at 4,800
    # updates (docs/synthetic-corpus.md, "Fig. 4"): H128 is best at 2e-3; H256 is best at 1e-3 and, at 2e-3,
    # stays on the loss plateau (transfer .35 against .97). None: `lr` as given, whatever the width.
    lr_width_reference: Optional[int] = bounded(None, ge=1)
    warmup_steps: int = bounded(MISSING, ge=0)  # linear warmup from 0 to the peak, then the schedule's decay
    warmup_fraction: Optional[float] = bounded(None, ge=0, le=1)  # warmup as a share of max_steps; wins when set
    max_steps: int = bounded(MISSING, ge=1)  # optimizer updates
    # linear: warmup, then linear decay to 0 at max_steps (RoBERTa, XLM-R). wsd: warmup, the peak held, then
    # linear decay to 0 over the last decay_fraction of the updates (warmup-stable-decay: Hu et al. 2024,
    # MiniCPM; Hägele et al. 2024, where a 20 % decay matches a cosine schedule's loss at equal compute).
    schedule: str = "linear"
    decay_fraction: float = bounded(0.2, gt=0, le=1)  # schedule=wsd only: the decay's share of max_steps
    weight_decay: float = bounded(0.01, ge=0)
    adam_beta1: float = bounded(0.9, ge=0, lt=1)
    adam_beta2: float = bounded(0.98, ge=0, lt=1)  # RoBERTa
    adam_eps: float = bounded(1e-6, gt=0)
    clip_grad_norm: float = bounded(0.0, ge=0)  # max global L2 norm of the gradients; 0 = off (the caller clips)

    @property
    def warmup_updates(self) -> int:
        """The warmup the schedule uses: round(warmup_fraction × max_steps) when the fraction is set (so it
        follows max_steps through a budget sweep), else warmup_steps."""
        if self.warmup_fraction is not None:
            return round(self.warmup_fraction * self.max_steps)
        return self.warmup_steps

    @property
    def decay_updates(self) -> Optional[int]:
        """The final linear decay's length in updates for schedule=wsd; None for linear (decay from warmup on)."""
        if self.schedule == "wsd":
            return max(1, round(self.decay_fraction * self.max_steps))
        return None

    def lr_factor(self, step: int) -> float:
        """The factor on the peak rate for the update after `step` updates (see `lr_factor`)."""
        return lr_factor(step, self.warmup_updates, self.max_steps, self.decay_updates)

    def peak_lr(self, width: Optional[int]) -> float:
        """The peak learning rate for a model of hidden size `width` (see lr_width_reference)."""
        if self.lr_width_reference is None or width is None:
            return self.lr
        return self.lr * self.lr_width_reference / width


SCHEDULES = ("linear", "wsd")


def lr_factor(step: int, warmup_steps: int, max_steps: int, decay_steps: Optional[int] = None) -> float:
    """The factor on the peak rate for the update after `step` updates: (step + 1) / warmup during warmup,
    then min(1, (max_steps - step) / decay), reaching 0 at max_steps. decay = max_steps - warmup (None: the
    linear schedule) or `decay_steps` (wsd: 1 until the last decay_steps updates)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay = max_steps - warmup_steps if decay_steps is None else min(decay_steps, max_steps - warmup_steps)
    return max(0.0, min(1.0, (max_steps - step) / max(1, decay)))


def adamw_with_schedule(model: "torch.nn.Module", cfg: OptimConfig, fused: bool = False, width: Optional[int] = None
                        ) -> "tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]":
    """AdamW over the model's trainable parameters and its per-update learning-rate schedule.
    `fused`: one kernel for all tensors (~10× faster than the default on CPU for pretraining).
    `width`: the model's hidden size, for cfg.lr_width_reference."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]  # biases, LayerNorm
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=cfg.peak_lr(width), betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps,
                                  fused=fused)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: cfg.lr_factor(step))
    return optimizer, schedule
