"""What a run tells the person who started it: the project's own lines, progress, timed stages, no noise.

- `say(line)`: the project's own lines go through the `xlmr` logger, so that Hydra's job logging
  (conf/hydra/job_logging/xlmr.yaml) writes them to the terminal *and* to the run's `train.log`; outside
  Hydra (library use) they are printed.
- `bar(...)`: a tqdm bar when a person watches a terminal, nothing otherwise. Where output goes to a file
  (Slurm logs), the training loop prints plain periodic lines instead (xlmr/progress.py) and each stage
  one timed line (`stage`).
- `silence_library_noise()`: the known lines of Lightning, W&B and PyTorch that say nothing about the run.

Progress mode (`trainer.progress`): auto = bars on a terminal, lines elsewhere; bar; lines; off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger("xlmr")
log.setLevel(logging.INFO)

PROGRESS_MODES = ("auto", "bar", "lines", "off")
_mode = "auto"
_shared_terminal = False  # several runs print to one terminal (hydra/launcher=local_parallel)


def set_progress(mode: str) -> None:
    global _mode
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress mode {mode!r}: valid are {', '.join(PROGRESS_MODES)}")
    _mode = mode


def progress_mode() -> str:
    """`bar`, `lines` or `off`: what `auto` means here (a terminal on stderr gets bars, unless other runs
    share it: their bars would overwrite each other)."""
    if _mode != "auto":
        return _mode
    return "bar" if sys.stderr.isatty() and not _shared_terminal else "lines"


def share_terminal(tag: str) -> None:
    """This run prints to a terminal that other runs print to at the same time: its terminal lines start
    with `[tag]` (its train.log stays as it is) and progress comes as lines, not bars."""
    global _shared_terminal
    _shared_terminal = True
    _tqdm_thread_lock()
    for handler in logging.getLogger().handlers:  # Hydra's job logging: one console, one file handler
        if type(handler) is logging.StreamHandler:
            handler.setFormatter(logging.Formatter(f"[{tag}] %(message)s"))


def _tqdm_thread_lock() -> None:
    """tqdm's default lock holds a multiprocessing semaphore, made at the first bar (even a disabled one). A
    local_parallel worker ends with os._exit after an interrupted run (xlmr.run), which leaves that semaphore
    to the resource tracker: "There appear to be N leaked semaphore objects" at the end of every stopped
    sweep. A semaphore that no other process holds (joblib's workers are spawned, not forked from one
    another) orders nothing that a thread lock does not, so a worker's bars take a thread lock instead."""
    import threading

    from tqdm.std import tqdm

    tqdm.set_lock(threading.RLock())


_printing = False  # say() prints instead of logging (outside a run: the sweeper's own work)


def say(line: str) -> None:
    if log.hasHandlers() and not _printing:  # Hydra's job logging (or a test's capture) is listening
        log.info(line)
    else:
        print(line, flush=True)


@contextlib.contextmanager
def printed() -> Iterator[None]:
    """Lines said inside go to stdout as they are: in the sweeper's process, Hydra's own logging would
    prefix them with `[HYDRA]`, and no run's train.log is theirs."""
    global _printing
    before, _printing = _printing, True
    try:
        yield
    finally:
        _printing = before


def bar(iterable: Iterable[Any] | None = None, **tqdm_args: Any):
    """A tqdm bar on a terminal (cleared when done: the stage's timed line stays), a silent pass-through
    otherwise. `tqdm_args`: desc, total, unit, unit_scale, initial…"""
    from tqdm import tqdm

    return tqdm(iterable, disable=progress_mode() != "bar", leave=False, dynamic_ncols=True, file=sys.stderr,
                **tqdm_args)


def duration(seconds: float) -> str:
    """3.2s, 2m05s, 1h02m."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@contextlib.contextmanager
def stage(tag: str, what: str) -> Iterator[list[str]]:
    """One timed line per stage: `with stage("data", "shards") as notes: …; notes.append("27.6M tokens")`
    prints `[data] shards: 27.6M tokens (13.2s)` when the block ends without an error (an error speaks
    for itself)."""
    start = time.perf_counter()
    notes: list[str] = []
    yield notes
    detail = f": {'; '.join(notes)}" if notes else ""
    say(f"[{tag}] {what}{detail} ({duration(time.perf_counter() - start)})")


# Lines that every run printed and that say nothing about it (issue 11: 5 of a short run's 11 lines).
_NOISY_LOGGERS = ("pytorch_lightning", "lightning_fabric", "lightning", "lightning.pytorch")
_NOISY_WARNINGS = (
    r".*`srun` command is available on your system",  # we run under srun on Slurm, never elsewhere
    r".*isinstance\(treespec, LeafSpec\)",  # Lightning × torch deprecation, not ours to fix
    r".*does not have many workers",  # the data is in memory-mapped shards: workers would not help
    r".*`weights_only` was not set",
    r".*your dataloader is not resumable",  # it is: batch i is a pure function of (seed, rank, i)
    r".*smaller than the logging interval",  # short debug runs
)


def silence_library_noise() -> None:
    """Lightning's INFO banner (GPU/TPU available, AMP, tips), known warnings, W&B's own chatter."""
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in _NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    os.environ.setdefault("WANDB_SILENT", "true")
