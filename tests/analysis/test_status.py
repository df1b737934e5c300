"""`python -m analysis status`: each run's state from its directory (and squeue), with its last step."""

import json
import os
import socket
import subprocess

from analysis.status import find_run_dirs, format_status, last_step, sweep_status

HERE = f"on {socket.gethostname()}"


def make_run(root, name, status=None, owner="", job=None, steps=(), max_steps=2400, error=None):
    d = root / name
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(f"model:\n  max_steps: 9\ntrain:\n  lr: 0.002\n  max_steps: {max_steps}\n")
    if status:
        (d / "result.json").write_text(json.dumps({"status": status, "owner": owner, "error": error}))
    if job:
        (d / "slurm_job.json").write_text(json.dumps({"job_id": job}))
    if steps:
        (d / "metrics.csv").write_text("step,name,value\n" + "".join(f"{s},train/loss,3.0\n" for s in steps))
    return d


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_each_state_is_told_from_the_run_directory(tmp_path):
    make_run(tmp_path, "a_done", "done", steps=(10, 2400))
    make_run(tmp_path, "b_failed", "failed", error="ValueError: boom", steps=(10,))
    make_run(tmp_path, "c_running", "running", owner=f"pid {os.getpid()} {HERE}", steps=(10, 20, 30))
    make_run(tmp_path, "d_stopped", "running", owner=f"pid {dead_pid()} {HERE}", steps=(10,))
    make_run(tmp_path, "e_queued", job="7_0")
    make_run(tmp_path, "f_lost", job="7_1")
    make_run(tmp_path, "g_slurm_running", "running", owner="pid 1 on node9, Slurm job 12", job="7_2", steps=(5,))
    make_run(tmp_path, "h_interrupted", "interrupted", error="stopped by the user (Ctrl-C)", steps=(40,))
    (tmp_path / ".code" / "abc" / "x").mkdir(parents=True)  # a code snapshot is not a run
    (tmp_path / ".code" / "abc" / "x" / "result.json").write_text("{}")
    runs = sweep_status(tmp_path, squeue=lambda: {"7_0": "PENDING", "7_2": "RUNNING", "99": "RUNNING"})
    got = {r.run_dir.name: (r.state, r.last_step) for r in runs}
    assert got == {"a_done": ("done", 2400), "b_failed": ("failed", 10), "c_running": ("running", 30),
                   "d_stopped": ("stopped", 10), "e_queued": ("queued", None), "f_lost": ("lost", None),
                   "g_slurm_running": ("running", 5), "h_interrupted": ("interrupted", 40)}
    table = format_status(tmp_path, runs)
    assert "ValueError: boom" in table and "30/2,400" in table
    assert table.splitlines()[-1] == ("8 run(s): 1 done, 2 running, 1 queued, 1 interrupted, 1 stopped, 1 failed, "
                                      "1 lost")


def test_without_squeue_submitted_runs_are_presumed_queued_and_slurm_runs_unknown(tmp_path):
    make_run(tmp_path, "queued", job="7_0")
    make_run(tmp_path, "running", "running", owner="pid 1 on node9, Slurm job 12", job="7_2")

    def no_slurm():
        raise RuntimeError("squeue failed")

    assert {r.run_dir.name: r.state for r in sweep_status(tmp_path, squeue=no_slurm)} == {
        "queued": "queued", "running": "running"}


def test_last_step_reads_the_end_of_a_long_file(tmp_path):
    d = make_run(tmp_path, "long", "running", steps=range(1, 5001))
    assert last_step(d) == 5000 and find_run_dirs(tmp_path) == [d]
