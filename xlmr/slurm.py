"""What Slurm says about a sweep's runs: which of them have a job that is still queued or running.

The Slurm launcher (hydra_plugins/xlmr_sweeper/_slurm_launcher.py) writes each run's job id into the run
directory at submission (`slurm_job.json`); here `squeue` is asked, once per sweep, which of those jobs are
alive, so that a re-run sweep submits no second job for them.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

SLURM_JOB_FILE = "slurm_job.json"
# squeue states of a job that will still run (or runs): a second submission would train the run twice
ALIVE_STATES = frozenset({"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD",
                          "REQUEUE_FED", "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT"})


def recorded_job(run_dir: Path) -> str | None:
    try:
        return str(json.loads((Path(run_dir) / SLURM_JOB_FILE).read_text())["job_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def job_states() -> dict[str, str]:
    """{job id: state} of every job squeue lists, array tasks one by one (`123_4`). Raises RuntimeError
    with squeue's message when no controller answers."""
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RuntimeError(f"squeue failed: {err}") from None
    if out.returncode != 0:
        raise RuntimeError(f"squeue failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
    return dict(line.split()[:2] for line in out.stdout.splitlines() if len(line.split()) >= 2)


def active_jobs(run_dirs: Iterable[Path]) -> dict[Path, tuple[str, str]]:
    """{run dir: (job id, state)} for the runs whose recorded job is queued or running now."""
    recorded = {Path(d): job for d in run_dirs if (job := recorded_job(d)) is not None}
    if not recorded:
        return {}
    states = job_states()
    return {d: (job, states[job]) for d, job in recorded.items() if states.get(job) in ALIVE_STATES}
