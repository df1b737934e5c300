"""xlmr/divergence.py: a run whose loss or gradient norm turns NaN/inf stops before anything is written from it."""

import math
import subprocess
import sys

import pytest
import pytorch_lightning as pl
import torch

from _shared import ROOT, TINY, tiny_cfg
from xlmr.divergence import TrainingDiverged, divergence_message
from xlmr.run import read_result, run

# logging every 5 updates, checkpoints every 4: step 8 is a checkpoint step and not a logging step
EVERY = ("trainer.log_every_steps=5", "trainer.ckpt_every_steps=4")


class PoisonWeightsAt(pl.Callback):
    """After update `step`, one weight matrix is NaN: the next update's loss is NaN."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, *args):
        if trainer.global_step == self.step:
            with torch.no_grad():
                pl_module.model.encoder.layers[0].fc1.weight.fill_(math.nan)


class InfiniteGradientAt(pl.Callback):
    """The update that makes `step` applies an infinite gradient; that update's own loss is finite."""

    def __init__(self, step: int):
        self.step = step

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):  # before MLMModule clips
        if trainer.global_step + 1 == self.step:
            pl_module.model.encoder.layers[0].fc1.weight.grad[0, 0] = math.inf


class SaveAt(pl.Callback):
    """Writes a checkpoint at the end of update `step`, off the periodic schedule, as CheckpointOnSignal does
    on a preemption signal."""

    def __init__(self, step: int, path):
        self.step, self.path = step, path

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _checkpoint(run_dir):
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    return state["global_step"], all(torch.isfinite(t).all() for t in state["state_dict"].values()
                                     if t.is_floating_point())


def test_the_message_says_where_it_happened_and_what_is_kept():
    line = divergence_message((5, 6.25), 8, kept=4)
    assert "between step 5 (loss 6.250) and step 8" in line and "step-4 checkpoint is kept" in line
    assert "no checkpoint was written" in divergence_message(None, 3, kept=None)
    assert "\n" not in line


def test_nan_weights_stop_the_run_before_the_next_checkpoint(cache, tmp_path):
    run_dir = tmp_path / "poisoned"
    with pytest.raises(TrainingDiverged, match="between step 5 .* and step 8"):
        run(tiny_cfg(cache, *EVERY), run_dir, "test", "poisoned", callbacks=[PoisonWeightsAt(6)])
    record = read_result(run_dir)
    assert record["status"] == "failed" and record["error"].startswith("TrainingDiverged: training diverged")
    assert not record["languages"]  # no evaluation of the NaN weights
    assert _checkpoint(run_dir) == (4, True)  # step 8's checkpoint was not written from the NaN weights
    assert not list((run_dir / "checkpoints").glob("step-*8*"))


def test_an_infinite_gradient_is_caught_at_the_update_that_applies_it(cache, tmp_path):
    # The loss of that update is finite (computed before it); only the gradient norm shows it, and the
    # weights it leaves are NaN: without the norm check the step-8 checkpoint would hold them.
    run_dir = tmp_path / "inf-grad"
    with pytest.raises(TrainingDiverged, match="and step 8"):
        run(tiny_cfg(cache, *EVERY), run_dir, "test", "inf-grad", callbacks=[InfiniteGradientAt(8)])
    assert _checkpoint(run_dir) == (4, True)


def test_a_healthy_run_is_not_stopped(cache, tmp_path):
    result = run(tiny_cfg(cache, *EVERY), tmp_path / "healthy", "test", "healthy")
    assert result["status"] == "done" and result["steps"] == 12


def test_a_diverging_command_ends_with_one_line_and_no_traceback(cache, tmp_path):
    # lr 1e30: the first update makes the weights ~1e30, and the next forward overflows float32
    args = [*TINY, *EVERY, "train.lr=1e30", f"paths.cache_dir={cache}", f"paths.runs_dir={tmp_path}/runs"]
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "training diverged" in errors[0] and "train.lr" in errors[0]


def test_a_checkpoint_off_the_schedule_is_not_written_from_nan_weights(cache, tmp_path):
    # A preemption checkpoint can fall between two checks (step 7: neither a logging nor a periodic step).
    run_dir, signal_ckpt = tmp_path / "signal", tmp_path / "signal.ckpt"
    with pytest.raises(TrainingDiverged, match="and step 7;.*step-4 checkpoint is kept"):
        run(tiny_cfg(cache, *EVERY), run_dir, "test", "signal", callbacks=[PoisonWeightsAt(6), SaveAt(7, signal_ckpt)])
    assert not signal_ckpt.exists() and _checkpoint(run_dir) == (4, True)
