"""Training progress a person can follow: a tqdm bar on a terminal, plain periodic lines in a log file.

Both show optimizer step k of N, the training loss, tokens/s and the time left. The loss is read from the
step's output only when a line or the bar's numbers are refreshed (every `every` steps), so progress costs
one host–device sync per refresh, like Lightning's own bar, and none in between.
"""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl

from xlmr.console import bar, duration, progress_mode, say


def progress_line(step: int, total: int, loss: float, tokens_per_s: float, elapsed: float, left: float) -> str:
    return (f"[train] step {step:,}/{total:,} ({100 * step / total:.0f}%) · loss {loss:.3f} · "
            f"{tokens_per_s / 1e3:,.1f}k tokens/s · {duration(elapsed)} elapsed, {duration(left)} left")


class TrainProgress(pl.Callback):
    """`every`: optimizer steps between refreshes. In `lines` mode a line is printed at each refresh."""

    def __init__(self, tokens_per_step: int, every: int):
        self.tokens_per_step, self.every = tokens_per_step, max(1, every)
        self.mode = progress_mode()
        self.bar: Any = None
        self.start: tuple[int, float] = (0, 0.0)  # (step, time) when this process began training
        self.last: tuple[int, float] = (0, 0.0)  # (step, time) of the previous refresh

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = self.last = (trainer.global_step, time.perf_counter())
        if self.mode == "lines":  # a log file gets about ten lines per run, not one per logging interval
            self.every = max(self.every, trainer.max_steps // 10)
        if self.mode == "bar" and trainer.is_global_zero:
            self.bar = bar(total=trainer.max_steps, initial=trainer.global_step, desc="train", unit="step")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, *args: Any) -> None:
        step = trainer.global_step
        if self.mode == "off" or not trainer.is_global_zero or step == self.last[0]:
            return  # mid-accumulation (no optimizer step since the last call), or not ours to show
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
        if step % self.every and step != trainer.max_steps:
            return
        now = time.perf_counter()
        tokens_per_s = (step - self.last[0]) * self.tokens_per_step / max(now - self.last[1], 1e-9)
        # the last micro-batch's loss (Lightning divides it by the accumulation for backward); the one sync
        loss = float(outputs["loss"] if isinstance(outputs, dict) else outputs) * trainer.accumulate_grad_batches
        self.last = (step, now)
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {loss:.3f}, {tokens_per_s / 1e3:,.1f}k tok/s", refresh=False)
        else:
            elapsed = now - self.start[1]
            left = elapsed / max(step - self.start[0], 1) * (trainer.max_steps - step)
            say(progress_line(step, trainer.max_steps, loss, tokens_per_s, elapsed, left))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
