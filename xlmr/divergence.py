"""Stop a run whose training loss or gradient norm stops being finite, before anything is written from it.

Without a guard a diverged run trains on: NaN weights stay NaN, every later checkpoint holds them, and the
run ends "done" with NaN bits/char and transfer at chance, which averaged with the good seeds draws a figure
(seen: `model=small langs=30` on an H200, all three seeds NaN between updates 4,719 and 6,109 with no loss or
gradient-norm spike before). fairseq and Megatron-LM stop on a non-finite loss or gradient norm too.

Cost: each optimizer step adds one `isfinite` to a flag on the device; the flag is read (one host–device
sync) at logging steps, where the loss is read anyway, and before every checkpoint is written: periodic, at
the end, or on a preemption signal (Lightning calls `on_save_checkpoint` while it builds the checkpoint, before
the file). So no checkpoint holds diverged weights, and the last one written stays the one to resume from.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch


class TrainingDiverged(RuntimeError):
    """The loss or the gradient norm of an optimizer step was NaN or infinite."""


def divergence_message(last_ok: tuple[int, float] | None, found_at: int, kept: int | None) -> str:
    """One line: where it happened (between the last finite check and this one), what is kept, what to change.
    `kept`: the step of the last checkpoint written, None if none was."""
    where = (f"between step {last_ok[0]:,} (loss {last_ok[1]:.3f}) and step {found_at:,}" if last_ok
             else f"at or before step {found_at:,}")
    resume = (f"the step-{kept:,} checkpoint is kept and rerunning resumes from it"
              if kept else "no checkpoint was written")
    return (f"training diverged: the loss or gradient norm became NaN/inf {where}; stopped before writing "
            f"checkpoints or results from those weights ({resume}; a lower train.lr is the usual remedy)")


class DivergenceGuard(pl.Callback):
    """Raises TrainingDiverged at the first logging step or checkpoint after a non-finite loss or gradient
    norm. The gradient norm is the one `MLMModule` clips with (`pl_module.grad_norm`, None when clipping is
    off): a step whose loss is finite can still apply an infinite gradient and turn every weight into NaN.
    Put it before any callback that saves in on_train_batch_end, so that the step's flags are in when it does."""

    def __init__(self, log_every: int):
        self.log_every = max(1, log_every)
        self.bad: torch.Tensor | None = None  # () bool on the training device: any non-finite since the last check
        self.loss: torch.Tensor | None = None  # the last micro-batch's loss
        self.last_checked = -1
        self.last_ok: tuple[int, float] | None = None  # (step, loss) of the last check that found all finite
        self.kept: int | None = None  # step of the last checkpoint written (or resumed from)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.kept = trainer.global_step or None  # a resumed run starts from its checkpoint's step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, *args: Any) -> None:
        self.loss = (outputs["loss"] if isinstance(outputs, dict) else outputs).detach()
        bad = ~torch.isfinite(self.loss)
        norm = getattr(pl_module, "grad_norm", None)
        if norm is not None:  # set in on_before_optimizer_step: this micro-batch closed an accumulation
            bad = bad | ~torch.isfinite(norm)
            pl_module.grad_norm = None
        self.bad = bad if self.bad is None else self.bad | bad
        step = trainer.global_step
        if step % self.log_every == 0 or step == trainer.max_steps:
            self._check(trainer)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        self._check(trainer)
        self.kept = trainer.global_step

    def _check(self, trainer: pl.Trainer) -> None:
        step = trainer.global_step
        if step == self.last_checked or self.bad is None:
            return  # checked at this step already (a log step that also saves), or nothing trained since
        self.last_checked = step
        # the one sync; under DDP any rank's finding stops every rank (else the others would wait for it)
        if trainer.strategy.reduce_boolean_decision(bool(self.bad), all=False):
            raise TrainingDiverged(divergence_message(self.last_ok, step, self.kept))
        self.bad = None
        self.last_ok = (step, float(self.loss) * trainer.accumulate_grad_batches)
