"""Where a sweep's runs stand, from their run directories (and squeue for Slurm jobs): the answer to
"what is my sweep doing?" after `hydra.launcher.wait=false`, or while another terminal trains it.

    python -m analysis status runs/fig2_langs_cpu

A run directory is any folder holding `result.json` or `slurm_job.json` (written at submission). Its state:

  done         result.json says so
  failed       result.json says so (with its one-line error)
  interrupted  result.json says so (Ctrl-C, requeue); re-running the sweep resumes it
  running      result.json says "running" and its owner is alive (a local pid, or a Slurm job squeue lists)
  stopped      result.json says "running" but its owner is gone (killed): re-running resumes it
  queued       a Slurm job was submitted and squeue lists it as pending; nothing written yet
  lost         a Slurm job was submitted, squeue no longer lists it and it left no record
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

RESULT_FILE = "result.json"  # xlmr/record.py (analysis/ reads run directories, never imports xlmr.run)
SLURM_JOB_FILE = "slurm_job.json"  # xlmr/slurm.py
METRICS_FILE = "metrics.csv"  # xlmr/loggers.py
STATES = ("done", "running", "queued", "interrupted", "stopped", "failed", "lost")
_OWNER = re.compile(r"pid (?P<pid>\d+) on (?P<host>[^,]+)")


@dataclass
class RunState:
    run_dir: Path
    state: str
    last_step: Optional[int]  # the last optimizer step in metrics.csv
    max_steps: Optional[int]  # from config.yaml
    note: str = ""  # the error, or the Slurm job and its state


def _read_json(path: Path) -> Optional[dict[str, Any]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def last_step(run_dir: Path) -> Optional[int]:
    """The step of metrics.csv's last row, read from the file's end (the file grows with the run)."""
    path = run_dir / METRICS_FILE
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines[1:] if len(lines) > 1 else lines):
        row = next(csv.reader([line]), [])
        if row and row[0].isdigit():
            return int(row[0])
    return None


def max_steps(run_dir: Path) -> Optional[int]:
    try:
        text = (run_dir / "config.yaml").read_text()
    except OSError:
        return None
    # config.yaml is the resolved config; `train:` holds max_steps (the only max_steps at that indent)
    match = re.search(r"^train:\n(?:  .*\n)*?  max_steps: (\d+)$", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def owner_alive(owner: str) -> Optional[bool]:
    """Is the local process named in result.json's `owner` ("pid N on HOST…") alive? None when it ran on
    another machine."""
    match = _OWNER.match(owner or "")
    if not match or match["host"] != socket.gethostname():
        return None
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def run_state(run_dir: Path, slurm_states: dict[str, str]) -> RunState:
    record = _read_json(run_dir / RESULT_FILE)
    job = (_read_json(run_dir / SLURM_JOB_FILE) or {}).get("job_id")
    step, total = last_step(run_dir), max_steps(run_dir)
    if record is None:
        slurm = slurm_states.get(str(job)) if job else None
        if slurm:
            state = "running" if slurm == "RUNNING" else "queued"
        else:
            state = "lost" if slurm_states else "queued"  # without squeue, a submitted job is presumed queued
        return RunState(run_dir, state, step, total, f"Slurm job {job}" + (f" {slurm.lower()}" if slurm else ""))
    status = record.get("status", "running")
    note = record.get("error") or ""
    if status == "running":
        # A Slurm run is judged by its job as slurm_job.json names it (an array task, `12_0`, as squeue
        # lists it), a local one by its pid.
        alive = (str(job) in slurm_states) if job and slurm_states else None if job else owner_alive(record.get("owner", ""))
        if alive is False:
            status, note = "stopped", f"{record.get('owner')} is gone; re-running resumes it"
        else:
            note = record.get("owner", "")
    return RunState(run_dir, status, step, total, note)


def find_run_dirs(root: Path) -> list[Path]:
    marks = {p.parent for name in (RESULT_FILE, SLURM_JOB_FILE) for p in root.rglob(name)}
    return sorted(d for d in marks if ".code" not in d.relative_to(root).parts)


def sweep_status(root: Path, squeue: Callable[[], dict[str, str]] | None = None) -> list[RunState]:
    """Every run under root. `squeue`: {job id: state}; by default asked once, and only when some run was
    submitted to Slurm (xlmr.slurm.job_states); where it fails, Slurm runs are judged from their files."""
    dirs = find_run_dirs(root)
    states: dict[str, str] = {}
    if any((d / SLURM_JOB_FILE).exists() for d in dirs):
        try:
            if squeue is None:
                from xlmr.slurm import job_states as squeue
            states = squeue()
        except (RuntimeError, ImportError):
            states = {}
    return [run_state(d, states) for d in dirs]


def format_status(root: Path, runs: list[RunState]) -> str:
    if not runs:
        return f"{root}: no runs (no result.json or slurm_job.json under it)"
    width = max(len(str(r.run_dir.relative_to(root))) for r in runs)
    lines = [f"{'state':<12}{'step':>14}  {'run':<{width}}  note"]
    for r in runs:
        step = "" if r.last_step is None else f"{r.last_step:,}" + (f"/{r.max_steps:,}" if r.max_steps else "")
        lines.append(f"{r.state:<12}{step:>14}  {str(r.run_dir.relative_to(root)):<{width}}  {r.note}".rstrip())
    counts = Counter(r.state for r in runs)
    lines.append(f"{len(runs)} run(s): " + ", ".join(f"{counts[s]} {s}" for s in STATES if counts[s]))
    return "\n".join(lines)
