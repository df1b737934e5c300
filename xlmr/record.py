"""⑨ The run record, `result.json` (docs/run-record.md): one typed object, written in one place.

A run starts its record (status "running"), the training and evaluation fill in their fields with
`RunRecord.update` (which refuses a field the record does not have), and `write` replaces the file
atomically. analysis/ reads the JSON and never imports this module.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

RESULT_FILE = "result.json"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


@dataclass
class RunRecord:
    # --- who and what: set when the run starts
    sweep: str
    run: str  # the run directory's name (Hydra's override_dirname; "default" when empty)
    knobs: dict[str, Any]  # every config key but implementation ones (xlmr.config.science_knobs)
    code_version: str
    owner: str  # the process that trains it (pid, host, Slurm job)
    resumed: bool  # started from checkpoints/last.ckpt
    started: str = field(default_factory=now)
    status: str = "running"  # running | done | failed | interrupted
    error: Optional[str] = None  # one line when failed or interrupted
    finished: Optional[str] = None
    # --- what it measured: set when training and evaluation end
    params: dict[str, int] = field(default_factory=dict)  # total, embedding, non_embedding
    steps: Optional[int] = None  # optimizer updates done
    tokens_seen: Optional[int] = None  # steps × train.batch_tokens
    wall_time_s: Optional[float] = None
    data_time_s: Optional[float] = None
    train_tokens_per_s: Optional[float] = None  # this process's fit only (a resumed run: since the resume)
    flops_per_token: Optional[float] = None
    mfu: Optional[float] = None  # train_tokens_per_s × flops_per_token / peak_flops
    peak_flops: Optional[float] = None  # the device's limit in the precision used (xlmr/hardware.py)
    peak_source: Optional[str] = None  # datasheet (GPU) or measured matmul rate (CPU)
    precision: Optional[str] = None
    world_size: Optional[int] = None
    languages: dict[str, dict[str, float]] = field(default_factory=dict)  # lang → metric → value
    groups: dict[str, dict[str, float]] = field(default_factory=dict)  # high, low, all → metric → value
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage → key, path, built_now
    # the versions of the code that made its data: the synthetic generator's (GENERATOR_VERSION) and the
    # tokenizer and shards stages'; a finished run whose versions differ from today's says so when skipped
    data_versions: dict[str, int] = field(default_factory=dict)
    count_unit: str = "sentences"  # the unit of n_i in sampling.tsv
    unseen_langs: list[str] = field(default_factory=list)
    downstream: dict[str, Any] = field(default_factory=dict)  # budgets and timings of transfer, retrieval
    monolingual: Optional[dict[str, Any]] = None  # a monolingual baseline's lang, q and matched budget

    def update(self, **fields: Any) -> "RunRecord":
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(fields) - names)
        if unknown:
            raise TypeError(f"RunRecord has no field(s) {', '.join(unknown)}")
        for name, value in fields.items():
            setattr(self, name, value)
        return self

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def write(self, run_dir: Path) -> None:
        write_json_atomic(Path(run_dir) / RESULT_FILE, self.as_dict())

    def closing_summary(self, run_dir: Path) -> str:
        """What a finished run prints last: its group metrics (a column per metric, a row per group) and
        where its record is."""
        return "\n".join([f"[done] {self.sweep}/{self.run} in {self.wall_time_s or 0:.0f}s, {self.steps or 0:,} steps; "
                          f"record: {Path(run_dir) / RESULT_FILE}", *metrics_table(self.groups)])


# The metrics of the closing summary, in this order, where a run has them (docs/run-record.md names them all)
SUMMARY_METRICS = ("mlm_bpc", "mlm_acc", "transfer_acc", "transfer_bow_acc", "translate_train_acc", "retrieval_acc")


def metrics_table(groups: dict[str, dict[str, float]]) -> list[str]:
    """`group  mlm_bpc  transfer_acc …` then one row per group (high, low, all), values to 3 decimals."""
    metrics = [m for m in SUMMARY_METRICS if any(m in values for values in groups.values())]
    if not metrics:
        return []
    widths = [len(m) + 2 for m in metrics]
    rows = ["  group" + "".join(f"{m:>{w}}" for m, w in zip(metrics, widths))]
    for name, values in groups.items():
        rows.append(f"  {name:<5}" + "".join(f"{values[m]:>{w}.3f}" if m in values else f"{'–':>{w}}"
                                           for m, w in zip(metrics, widths)))
    return rows
