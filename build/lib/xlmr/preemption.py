"""Checkpoints beyond the periodic ones: on Slurm's preemption signal (then submitit requeues the job), and
at the end of training when the last step is not a multiple of the checkpoint interval.

submitit asks Slurm for SIGUSR2 shortly before the time limit (and `scancel --signal=USR2` sends it on
demand); its handler resubmits the job (hydra-submitit-launcher's `checkpoint()` re-runs the same task)
and exits. On its own that loses everything since the last periodic checkpoint. This callback stands in
front of submitit's handler: the signal only raises a flag; at the next optimizer-step boundary the run
writes `last.ckpt`, and only then is submitit's handler called. The requeued job resumes from that
checkpoint, in the same run directory, with the same W&B run id, and ends with exactly the metrics of
an uninterrupted run (batches, masks and dropout are functions of the seed and the step).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytorch_lightning as pl


class CheckpointOnSignal(pl.Callback):
    def __init__(self, ckpt_path: Path, accumulation: int, signum: int = signal.SIGUSR2):
        self.ckpt_path, self.accumulation, self.signum = Path(ckpt_path), accumulation, signum
        self.previous = signal.getsignal(signum)
        self.pending: Any = None  # the (signum, frame) received, until handled
        signal.signal(signum, self._on_signal)

    @staticmethod
    def wanted() -> bool:
        """Only when someone (submitit) handles SIGUSR2 in Python: then a signal means 'requeue me'."""
        return callable(signal.getsignal(signal.SIGUSR2))

    def _on_signal(self, signum: int, frame: Any) -> None:
        print(f"[preemption] signal {signum} received: checkpointing at the next step boundary", flush=True)
        self.pending = (signum, frame)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.pending is None or (int(batch["index"]) + 1) % self.accumulation:
            return  # mid-accumulation: the optimizer step is not complete yet
        trainer.save_checkpoint(self.ckpt_path)  # collective under DDP: every rank got the signal too
        print(f"[preemption] saved {self.ckpt_path} at step {trainer.global_step}; handing over to requeue",
              flush=True)
        signum, frame = self.pending
        self.pending = None
        self.restore()
        if callable(self.previous):
            self.previous(signum, frame)  # submitit: requeue the job and exit this process
        raise SystemExit(128 + signum)

    def restore(self) -> None:
        signal.signal(self.signum, self.previous)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if signal.getsignal(self.signum) == self._on_signal:
            self.restore()


class CheckpointAtEnd(pl.Callback):
    """Writes `last.ckpt` after the final step unless the periodic checkpoint just did: the run record and
    the downstream evaluations read the final weights from it (e.g. a monolingual baseline's
    max_steps × q_lang updates are rarely a multiple of trainer.ckpt_every_steps)."""

    def __init__(self, ckpt_path: Path, every_n_steps: int):
        self.ckpt_path, self.every_n_steps = Path(ckpt_path), every_n_steps

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step % self.every_n_steps:
            trainer.save_checkpoint(self.ckpt_path)  # collective under DDP, like every save
