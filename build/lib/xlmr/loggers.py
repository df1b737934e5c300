"""⑨ Loggers of a run: `metrics.csv` in the run directory (always) and W&B (offline by default).

metrics.csv is long format, `step,name,value`, appended as training goes: no header rewrites when a new
metric appears, and on resume the rows logged after the checkpoint's step are dropped first, so a
resumed run's file reads as if it had never stopped.
"""

from __future__ import annotations

import csv
import os
import secrets
import string
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import Logger
from pytorch_lightning.utilities import rank_zero_only

METRICS_FILE = "metrics.csv"
WANDB_ID_FILE = "wandb_id.txt"


class RunCSVLogger(Logger):
    def __init__(self, run_dir: Path, resume_step: int | None = None):
        super().__init__()
        self.path = Path(run_dir) / METRICS_FILE
        if rank_zero_only.rank == 0:
            self._truncate_after(resume_step)

    def _truncate_after(self, step: int | None) -> None:
        if not self.path.exists():
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(["step", "name", "value"])
            return
        if step is None:
            step = -1  # a fresh start over an old file: keep nothing but the header
        with open(self.path, newline="") as f:
            rows = [r for r in csv.reader(f)][1:]
        kept = [r for r in rows if r and int(r[0]) <= step]
        tmp = self.path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "name", "value"])
            w.writerows(kept)
        os.replace(tmp, self.path)

    @property
    def name(self) -> str:
        return "csv"

    @property
    def version(self) -> str:
        return ""

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass  # the run directory's config.yaml holds them

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        with open(self.path, "a", newline="") as f:
            w = csv.writer(f)
            for name, value in metrics.items():
                if name == "epoch":
                    continue
                w.writerow([step, name, f"{float(value):.6g}"])


def wandb_run_id(run_dir: Path) -> str:
    """The run directory's W&B id, created once and reused by every later process (resume, requeue)."""
    path = Path(run_dir) / WANDB_ID_FILE
    if path.exists():
        return path.read_text().strip()
    alphabet = string.ascii_lowercase + string.digits
    run_id = "".join(secrets.choice(alphabet) for _ in range(8))  # W&B's own id format
    tmp = path.with_suffix(".tmp")
    tmp.write_text(run_id)
    os.replace(tmp, path)
    return run_id


def make_wandb_logger(run_dir: Path, project: str, entity: str | None, mode: str, group: str, name: str,
                      config: dict[str, Any], tags: list[str]):
    """One W&B run per run directory (id persisted), grouped by sweep, tagged with its knob values."""
    from pytorch_lightning.loggers import WandbLogger

    os.environ.setdefault("WANDB_SILENT", "true")
    logger = WandbLogger(project=project, entity=entity, save_dir=str(run_dir), id=wandb_run_id(run_dir),
                         name=name, group=group, tags=tags, config=config, offline=(mode == "offline"),
                         resume="allow", log_model=False)
    # Lightning passes `anonymous=None` to wandb.init, which W&B ≥ 0.19 answers with a deprecation warning
    # on every run; leaving the key out means the same (W&B's default).
    logger._wandb_init.pop("anonymous", None)
    return logger


def define_wandb_metrics(experiment: Any, langs: list[str]) -> None:
    """Per-language held-out metrics charted against the optimizer step, with the summary the dashboard uses."""
    for name in [*(f"val/{lang}" for lang in langs), "val/group/high", "val/group/low", "val/group/all"]:
        for metric, summary in (("mlm_loss", "min"), ("mlm_bpc", "min"), ("mlm_acc", "max"), ("mlm_ppl", "min")):
            experiment.define_metric(f"{name}/{metric}", step_metric="trainer/global_step", summary=summary)


def log_wandb_tables(experiment: Any, sampling_rows: list[Any], evaluation: dict[str, Any]) -> None:
    """The sampling table (n_i, p_i, q_i, expected tokens) and the final per-language results as W&B tables."""
    import wandb

    sampling = wandb.Table(columns=["lang", "sentences", "p", "q", "train_tokens_expected", "shard_tokens"],
                           data=[[r.lang, r.sentences, r.p, r.q, r.train_tokens_expected, r.shard_tokens]
                                 for r in sampling_rows])
    results = wandb.Table(columns=["lang", "is_group", "metric", "value"],
                          data=[[name, section == "groups", metric, value]
                                for section in ("languages", "groups")
                                for name, metrics in evaluation[section].items() for metric, value in metrics.items()])
    experiment.log({"sampling_table": sampling, "final_results": results})
