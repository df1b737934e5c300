"""The local Slurm cluster works the way our sweeps use it (tier `slurm`; see docs/slurm-local.md).

Needs the real one-node cluster from scripts/slurm-up.sh, which the `slurm_cluster` fixture
(tests/conftest.py) brings up. Run: `pytest -m slurm tests/test_slurm_cluster.py` (about 30 s).

Covered: a plain sbatch job ends COMPLETED in accounting (sacct, i.e. slurmdbd works); submitit runs
a Python function as a Slurm job, also with 2 tasks; a submitit checkpointable job preempted with USR2
is requeued and finishes on its second attempt (what hydra-submitit-launcher relies on).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import pytest
import submitit

pytestmark = pytest.mark.slurm

# Jobs run `python -m submitit.core._submit` on the node, where this test module is not importable:
# ship the job functions/classes below by value instead of by module reference.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
            "BOOT_FAIL", "DEADLINE"}


def sacct_state(job_id: str) -> str:
    """The job's state in accounting ('' until slurmdbd has a record of it)."""
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-j", job_id, "-o", "State"], capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0].split()[0] if out else ""  # e.g. "CANCELLED by 0" -> "CANCELLED"


def wait_until(predicate, timeout: float, what: str, interval: float = 0.3):
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def job_logs(job: submitit.Job) -> str:
    return f"--- stdout\n{job.stdout() or ''}\n--- stderr\n{job.stderr() or ''}"


def slurm_executor(folder: Path, cluster, **params) -> submitit.AutoExecutor:
    # cluster="slurm": never fall back silently to the local executor
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    executor.update_parameters(slurm_partition=cluster.partition, **params)
    return executor


# ---- functions that run as jobs (kept free of test-module globals: they are pickled by value) ----

def describe(x: int) -> dict:
    import os
    import socket

    return {"square": x * x, "job_id": os.environ["SLURM_JOB_ID"], "host": socket.gethostname()}


def rank_of_task() -> tuple[int, int]:
    env = submitit.JobEnvironment()
    return env.global_rank, env.num_tasks


class PreemptedOnce(submitit.helpers.Checkpointable):
    """First attempt: log itself, then wait to be preempted (USR2). The requeued attempt finishes.

    Checkpointable.checkpoint() resubmits this same callable with the same arguments, so the state
    that survives the requeue is what the job wrote to disk (as in real training: resume from files).
    """

    def __call__(self, attempts_file: str) -> dict:
        import os
        import time
        from pathlib import Path

        attempts = Path(attempts_file)
        with attempts.open("a") as f:
            f.write(os.environ.get("SLURM_RESTART_COUNT", "0") + "\n")
        restarts = attempts.read_text().split()
        if len(restarts) == 1:
            time.sleep(120)  # the test preempts us here; submitit's USR2 handler requeues and exits
            raise RuntimeError("first attempt was not preempted")
        return {"attempts": len(restarts), "restart_counts": restarts}


# ---- tests --------------------------------------------------------------------------------------------

def test_sbatch_job_completes_in_accounting(slurm_cluster, tmp_path):
    out = tmp_path / "job.out"
    proc = subprocess.run(["sbatch", "--parsable", "-p", slurm_cluster.partition, "-t", "1", "-o", str(out),
                           "--wrap", "echo hello from job $SLURM_JOB_ID"],
                          capture_output=True, text=True, check=True)
    job_id = proc.stdout.strip().split(";")[0]
    state = wait_until(lambda: (s := sacct_state(job_id)) in TERMINAL and s, 30, f"job {job_id} to end in sacct")
    assert state == "COMPLETED"
    assert out.read_text() == f"hello from job {job_id}\n"


def test_submitit_runs_function_on_slurm(slurm_cluster, tmp_path):
    executor = slurm_executor(tmp_path, slurm_cluster, timeout_min=2, cpus_per_task=1)
    job = executor.submit(describe, 7)
    assert isinstance(job, submitit.SlurmJob)
    wait_until(job.done, 60, f"submitit job {job.job_id}")
    result = job.result()
    assert result["square"] == 49 and result["job_id"] == job.job_id, job_logs(job)
    assert result["host"].split(".")[0] == slurm_cluster.node
    # submitit reads the final state from sacct: without accounting this would be UNKNOWN
    assert wait_until(lambda: job.state if job.state in TERMINAL else None, 30, "sacct state") == "COMPLETED"


def test_submitit_two_task_job(slurm_cluster, tmp_path):
    if slurm_cluster.cpus < 2:
        pytest.skip(f"the node has {slurm_cluster.cpus} CPU; a 2-task job needs 2 (SLURM_NODE_CPUS)")
    executor = slurm_executor(tmp_path, slurm_cluster, timeout_min=2, tasks_per_node=2, cpus_per_task=1)
    job = executor.submit(rank_of_task)
    wait_until(job.done, 60, f"submitit job {job.job_id}")
    assert sorted(job.results()) == [(0, 2), (1, 2)], job_logs(job)


def test_checkpointable_job_requeued_after_preemption(slurm_cluster, tmp_path):
    attempts = tmp_path / "attempts.txt"
    # timeout_min >= 11: submitit counts a USR2 as a time-out, not a preemption, once the job has run
    # min(0.8 * limit, limit - 10 min); with 15 min that is after 5 min, far beyond this test.
    executor = slurm_executor(tmp_path / "jobs", slurm_cluster, timeout_min=15, cpus_per_task=1)
    job = executor.submit(PreemptedOnce(), str(attempts))
    # the attempts file appears once the callable runs, i.e. after submitit installed its signal handlers
    wait_until(attempts.exists, 60, f"job {job.job_id} to start")
    job._interrupt()  # scancel --signal TERM (ignored by submitit), then --signal USR2: "preemption"
    wait_until(job.done, 60, f"job {job.job_id} to be requeued and finish", interval=0.5)
    result = job.result()
    assert result == {"attempts": 2, "restart_counts": ["0", "1"]}, job_logs(job)
    assert "REQUEUED" in subprocess.run(["sacct", "-D", "-X", "-n", "-P", "-j", job.job_id, "-o", "State"],
                                        capture_output=True, text=True, check=True).stdout
