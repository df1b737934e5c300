"""Stop a run whose training loss or gradient norm stops being finite, before anything is written from it.

Without a guard a diverged run trains on: NaN weights stay NaN, every later checkpoint holds them, and the
run ends "done" with NaN bits/char and transfer at chance, which averaged with the good seeds draws a figure
(seen: `model=small langs=30` on an H200, all three seeds NaN between updates 4,719 and 6,109 with no loss or
gradient-norm spike before). fairseq and Megatron-LM stop on a non-finite loss or gradient norm too.

Cost: each optimizer step adds one `isfinite` to a flag on the device; the flag is read (one host–device
sync) only at logging and checkpoint steps, the steps where progress and the checkpoint read the device
anyway. The check runs before Lightning's ModelCheckpoint (Lightning orders checkpoint callbacks last), so
no checkpoint is written from diverged weights, and the last one written stays the one to resume from.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch


class TrainingDiverged(RuntimeError):
    """The loss or the gradient norm of an optimizer step was NaN or infinite."""


def divergence_message(last_ok: tuple[int, float] | None, found_at: int, ckpt_every: int) -> str:
    """One line: where it happened (between the last finite check and this one), what is kept, what to change."""
    where = (f"between step {last_ok[0]:,} (loss {last_ok[1]:.3f}) and step {found_at:,}" if last_ok
             else f"at or before step {found_at:,}")
    kept = (found_at - 1) // ckpt_every * ckpt_every  # the last periodic checkpoint written before the check
    resume = (f"the step-{kept:,} checkpoint is kept and rerunning resumes from it"
              if kept > 0 else "no checkpoint was written")
    return (f"training diverged: the loss or gradient norm became NaN/inf {where}; stopped before writing "
            f"checkpoints or results from those weights ({resume}; a lower train.lr is the usual remedy)")


class DivergenceGuard(pl.Callback):
    """Raises TrainingDiverged at the first logging or checkpoint step after a non-finite loss or gradient
    norm. The gradient norm is the one `MLMModule` clips with (`pl_module.grad_norm`, None when clipping is
    off): a step whose loss is finite can still apply an infinite gradient and turn every weight into NaN."""

    def __init__(self, log_every: int, ckpt_every: int):
        self.log_every, self.ckpt_every = max(1, log_every), max(1, ckpt_every)
        self.bad: torch.Tensor | None = None  # () bool on the training device: any non-finite since the last check
        self.last_checked = -1
        self.last_ok: tuple[int, float] | None = None  # (step, loss) of the last check that found all finite

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, *args: Any) -> None:
        loss = (outputs["loss"] if isinstance(outputs, dict) else outputs).detach()
        bad = ~torch.isfinite(loss)
        norm = getattr(pl_module, "grad_norm", None)
        if norm is not None:  # set in on_before_optimizer_step: this micro-batch closed an accumulation
            bad = bad | ~torch.isfinite(norm)
            pl_module.grad_norm = None
        self.bad = bad if self.bad is None else self.bad | bad
        step = trainer.global_step
        if step == self.last_checked or (step % self.log_every and step % self.ckpt_every
                                         and step != trainer.max_steps):
            return  # mid-accumulation, or not a step anything reads the device at
        self.last_checked = step
        # the one sync; under DDP any rank's finding stops every rank (else the others would wait for it)
        if trainer.strategy.reduce_boolean_decision(bool(self.bad), all=False):
            raise TrainingDiverged(divergence_message(self.last_ok, step, self.ckpt_every))
        self.bad = None
        self.last_ok = (step, float(loss) * trainer.accumulate_grad_batches)
