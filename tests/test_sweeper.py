"""The sweeper's fast per-job configs (one Hydra composition per choice of config groups) equal Hydra's own;
SIGTERM or Ctrl-C stops a local_parallel or submitit_local sweep's runs with it."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from hydra_plugins.xlmr_sweeper.xlmr_sweeper import JobConfigs
from _shared import ROOT, TINY
from xlmr.config import conf_dir, register_configs, without_hydra


def test_fast_job_configs_equal_hydras_composition(tmp_path):
    register_configs()
    jobs = [
        ["model=base", "alpha=0.7", "langs=15"],
        ["model=base", "alpha=0.3", "langs=[en,sw]", "train.max_steps=10", "corpus.p_code_switch=0.1"],
        ["model=large", "seed=3", "trainer=gpu", "eval.transfer.steps=50"],
        ["corpus=cc100", "corpus.path=/data/cc100", "vocab_size=1000"],
        ["train=ablation", "train.lr=0.001", f"paths.runs_dir={tmp_path / 'elsewhere'}", "name=other"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5", "alpha=1.0"],
    ]
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        master = compose("config", overrides=[f"paths.runs_dir={tmp_path}"], return_hydra_config=True)
        loader = GlobalHydra.instance().config_loader()
        fast = JobConfigs(loader, master)
        for job, (cfg, run_dir) in zip(jobs, fast.of(jobs)):
            ref = loader.load_sweep_config(master, job)
            got = OmegaConf.to_container(without_hydra(cfg), resolve=True)
            assert got == OmegaConf.to_container(without_hydra(ref), resolve=True), job
            assert run_dir == Path(ref.hydra.sweep.dir) / str(ref.hydra.sweep.subdir), job
        assert len(fast._bases) == 5  # the two model=base jobs shared one composition


def _seed_dirs(runs: Path) -> "dict[str, Path]":
    """{"seed=0": its run directory, ...}: the run names carry every override of the command line."""
    return {part: d for d in runs.glob("*seed=*") for part in d.name.split(",") if part.startswith("seed=")}


def _training(run_dir: Path) -> bool:
    return (run_dir / "checkpoints" / "last.ckpt").exists()  # TINY checkpoints every 4 steps


def _start_and_stop(tmp_path: Path, launcher: "list[str]", seeds: str, process: str, stop: str,
                    whole_family: bool = False):
    """Start a sweep of never-ending runs on `launcher`, and once two of them are training, stop it as a
    person would: SIGTERM to the sweep (`kill`), or Ctrl-C (the terminal signals its whole process group).
    Returns the sweep's exit code, its output, the run processes (cmdline containing `process`; with
    `whole_family`, all the sweep's descendants) found before the stop and still alive 30 s after the sweep
    ended, and the runs directory."""
    runs = tmp_path / "runs" / "default"
    sweep = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), "-m", *TINY, f"seed={seeds}", "train.max_steps=100000",
         "trainer.accelerator=cpu", *launcher, f"paths.runs_dir={tmp_path}/runs", f"paths.cache_dir={tmp_path}/cache"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "HYDRA_FULL_ERROR": "0", "WANDB_SILENT": "true"})
    try:
        deadline = time.time() + 300
        while sum(_training(d) for d in _seed_dirs(runs).values()) < 2:  # two runs are into training
            assert sweep.poll() is None and time.time() < deadline, "the sweep ended or never started training"
            time.sleep(1)
        family = psutil.Process(sweep.pid).children(recursive=True)
        workers = [p for p in family if process in " ".join(p.cmdline())]
        assert len(workers) == 2
        if stop == "Ctrl-C":
            os.killpg(sweep.pid, signal.SIGINT)
        else:
            sweep.send_signal(signal.SIGTERM)
        out, _ = sweep.communicate(timeout=180)
        _, alive = psutil.wait_procs(family if whole_family else workers, timeout=30)
        left = [p.cmdline() for p in alive if p.is_running()]
    finally:  # the sweep's session: whatever is left of it, even after the sweep itself ended
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()
    return sweep.returncode, out, left, runs


def _assert_stopped(returncode: int, out: str, left: list, runs: Path, stop: str, started: set) -> None:
    """Exit 128 + the signal, no run process left, each run in flight recorded as interrupted by the user,
    the sweep's own line, and no traceback."""
    signum = signal.SIGINT if stop == "Ctrl-C" else signal.SIGTERM
    assert returncode == 128 + signum, out[-3000:]
    assert not left, left
    records = {seed: json.loads((d / "result.json").read_text()) for seed, d in _seed_dirs(runs).items()
               if (d / "result.json").exists()}
    assert set(records) == started, out[-3000:]
    assert all(r["status"] == "interrupted" and "Ctrl-C" in r["error"] for r in records.values()), records
    name = "Ctrl-C" if stop == "Ctrl-C" else "SIGTERM"
    assert f"[sweep] stopped by {name}: the runs in flight were interrupted; the same command resumes them" in out
    assert f"{len(started)} interrupted" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]


@pytest.mark.parametrize("stop", ["SIGTERM to the sweep", "Ctrl-C"])
def test_a_stopped_parallel_sweep_interrupts_its_runs_and_leaves_no_worker(tmp_path, stop):
    """`kill <sweep pid>` once left joblib's workers training their runs to the end (hours) with no parent,
    and Ctrl-C ended in a traceback. Now each run in flight is interrupted and recorded as such, the sweep
    prints its summary and exits 128 + the signal, and no worker is left (nor a "leaked semaphore" warning)."""
    returncode, out, left, runs = _start_and_stop(
        tmp_path, ["hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2"], "0,1,2", "popen_loky", stop)
    _assert_stopped(returncode, out, left, runs, stop, started={"seed=0", "seed=1"})
    assert re.search(r"stopped +\S*seed=2\S*  — not started", out), out[-3000:]  # waited for a free worker
    assert "leaked semaphore" not in out, out[-3000:]  # tqdm's lock in the os._exit-ed workers (xlmr.console)


@pytest.mark.parametrize("stop", ["SIGTERM to the sweep", "Ctrl-C"])
def test_a_stopped_submitit_local_sweep_interrupts_its_runs_and_leaves_no_job(tmp_path, stop):
    """`kill <sweep pid>` once left submitit's local jobs training with no parent, and Ctrl-C printed a
    traceback from each job's controller, which SIGKILLed its run a second later. Now, as with local_parallel,
    each run is interrupted and recorded as such, the sweep prints its summary and exits 128 + the signal,
    and no job process (controller or run) is left."""
    returncode, out, left, runs = _start_and_stop(  # the whole family: each run's controller and task
        tmp_path, ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=30"], "0,1", "submitit.core._submit",
        stop, whole_family=True)
    _assert_stopped(returncode, out, left, runs, stop, started={"seed=0", "seed=1"})
