"""hydra-submitit-launcher's Slurm launcher, plus what a sweep that is re-run or left queued needs:

  1. **A code snapshot.** Before submitting, the project's code (xlmr/ with its config tree xlmr/conf,
     analysis/, hydra_plugins/, train.py) is copied to `<sweep dir>/.code/<content hash>/` with a
     CODE_VERSION file, and every job puts
     that copy first on PYTHONPATH: a job that waits in the queue runs the code it was submitted with, not
     whatever the working tree holds when it starts (lingua's `stool` does the same). The run record's
     `code_version` is the snapshot's.
  2. **Job ids in the run directories.** Each run directory gets `slurm_job.json` (job id, submission time,
     snapshot) as soon as Slurm accepts the array, so that a re-run sweep can ask Slurm whether the run's job
     is still queued or running and submit no second one (xlmr.slurm.active_jobs).

Selected by conf/hydra/launcher/slurm.yaml (`_target_`); every submitit_slurm option works as before.
"""


import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from omegaconf import OmegaConf

log = logging.getLogger(__name__)

from xlmr.slurm import SLURM_JOB_FILE
SNAPSHOT_DIRS = ("xlmr", "analysis", "hydra_plugins")  # the config tree is xlmr/conf (conf/ links to it)
SNAPSHOT_FILES = ("train.py",)


def snapshot_code(root: Path, dest_parent: Path) -> Path:
    """Copy the project's code under dest_parent/<hash of its content>/ (once per content); return the copy."""
    import hashlib

    from xlmr.run import code_version

    files = sorted(p for d in SNAPSHOT_DIRS for p in (root / d).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc"))
    files += [root / f for f in SNAPSHOT_FILES]
    digest = hashlib.sha256()
    for p in files:
        digest.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    dest = dest_parent / digest.hexdigest()[:12]
    if not dest.exists():
        tmp = dest_parent / f".{dest.name}.tmp-{os.getpid()}"
        for p in files:
            target = tmp / p.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, target)
        (tmp / "CODE_VERSION").write_text(code_version() + "\n")
        try:
            os.rename(tmp, dest)
        except OSError:  # another submission of the same code got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


@dataclass
class XlmrSlurmConf(SlurmQueueConf):
    """submitit_slurm's options, plus `wait`: false submits the sweep and returns at once (the jobs run on;
    `python -m analysis status <sweep dir>` shows them, and re-running the sweep collects what finished)."""

    _target_: str = "hydra_plugins.xlmr_sweeper._slurm_launcher.XlmrSlurmLauncher"  # slurm_launcher.LAUNCHER_TARGET
    wait: bool = True


ConfigStore.instance().store(group="hydra/launcher", name="xlmr_slurm", node=XlmrSlurmConf, provider="xlmr")


class XlmrSlurmLauncher(SlurmLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        root = Path(__file__).resolve().parents[2]
        snapshot = snapshot_code(root, sweep_dir / ".code")

        params = dict(self.params)
        wait = params.pop("wait", True)
        executor = submitit.AutoExecutor(cluster="slurm", folder=params.pop("submitit_folder"),
                                         slurm_max_num_timeout=params.pop("max_num_timeout"))
        setup = list(params.pop("setup", None) or [])
        setup.append(f"export PYTHONPATH={snapshot}${{PYTHONPATH:+:$PYTHONPATH}}")  # the snapshot comes first
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(slurm_setup=setup,
                                   **{k if k in base else f"slurm_{k}": v for k, v in params.items()})

        job_params, run_dirs = [], []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            run_dirs.append(Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir))
        jobs = executor.map_array(self, *zip(*job_params))
        submitted = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for run_dir, job in zip(run_dirs, jobs):
            run_dir.mkdir(parents=True, exist_ok=True)
            record = {"job_id": job.job_id, "submitted": submitted, "snapshot": str(snapshot),
                      "code_version": (snapshot / "CODE_VERSION").read_text().strip()}
            tmp = run_dir / f".{SLURM_JOB_FILE}.tmp"
            tmp.write_text(json.dumps(record, indent=2))
            os.replace(tmp, run_dir / SLURM_JOB_FILE)
        print(f"submitted {len(jobs)} job(s) to Slurm: array {jobs[0].job_id.split('_')[0]}; code snapshot {snapshot}",
              flush=True)
        if not wait:  # the sweeper reports them as submitted; their run directories say the rest
            return [JobReturn(overrides=list(o), status=JobStatus.COMPLETED, working_dir=str(d),
                              _return_value={"outcome": "submitted", "run_dir": str(d), "error": f"Slurm job {j.job_id}"})
                    for o, d, j in zip(job_overrides, run_dirs, jobs)]
        return [j.results()[0] for j in jobs]
