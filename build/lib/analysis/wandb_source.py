"""⑩ The same tidy table, built from W&B's API instead of run directories.

The training side mirrors each run directory into one W&B run (docs/analysis.md, "W&B keys"):

    group    = the sweep name                   (result.json `sweep`)
    name     = "<sweep>/<run>"                  (`run` = Hydra's override_dirname)
    config   = {"knobs": {...}, "params": {"total": .., "non_embedding": .., ...}}
    summary  = final/<lang>/<metric>            (result.json `languages`)
               final/group/<group>/<metric>     (result.json `groups`: high, low, all)
               final/tokens_seen                (result.json `tokens_seen`)
    state    = "finished" for a done run

Each W&B run is turned into a result.json-shaped record and goes through the same row builder as
run directories (collect.record_rows), so both sources give the same columns. Nothing here needs the
network unless `api` is left as None (then `wandb.Api()` is used).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.collect import RunRecordError, Skipped, record_rows, rows_to_table, warn_skipped

SUMMARY_PREFIX = "final"
TOKENS_SEEN_KEY = "final/tokens_seen"
STEP_KEY = "trainer/global_step"  # fallback for tokens_seen: steps × knobs["train.batch_tokens"]


def _as_dict(obj: Any) -> dict[str, Any]:
    """A plain dict from a dict, W&B's HTTPSummary (has .items()) or None."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "items"):
        return dict(obj.items())
    raise TypeError(f"expected a mapping, got {type(obj).__name__}")


def _unwrap(value: Any) -> Any:
    """W&B's raw config stores {"value": x, "desc": ...}; the API usually unwraps it, not always."""
    if isinstance(value, Mapping) and "value" in value and set(value) <= {"value", "desc"}:
        return value["value"]
    return value


def _section(config: dict[str, Any], key: str) -> Any:
    """config[key] as a dict, also when a logger flattened it to "key.x" / "key/x" entries."""
    if key in config:
        value = _unwrap(config[key])
        return {k: _unwrap(v) for k, v in value.items()} if isinstance(value, Mapping) else value
    flat = {k[len(key) + 1:]: _unwrap(v) for k, v in config.items() if k.startswith((f"{key}.", f"{key}/"))}
    return flat or None


def parse_summary(summary: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """`final/<lang>/<metric>` and `final/group/<group>/<metric>` → (languages, groups) as in result.json."""
    languages: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, value in summary.items():
        parts = str(key).split("/")
        if parts[0] != SUMMARY_PREFIX:
            continue
        if len(parts) == 4 and parts[1] == "group":
            groups.setdefault(parts[2], {})[parts[3]] = value
        elif len(parts) == 3 and parts[1] != "group":
            languages.setdefault(parts[1], {})[parts[2]] = value
    return languages, groups


def run_record(run: Any) -> dict[str, Any]:
    """One W&B run (anything with .config, .summary, .group, .state, .name, .id) → a result.json-like dict."""
    config = _as_dict(run.config)
    summary = _as_dict(run.summary)
    state = getattr(run, "state", None)
    group = getattr(run, "group", None) or config.get("sweep")
    name = str(getattr(run, "name", None) or getattr(run, "id", ""))
    run_name = name[len(group) + 1:] if group and name.startswith(f"{group}/") else name
    languages, groups = parse_summary(summary)
    knobs = _section(config, "knobs")
    tokens_seen = summary.get(TOKENS_SEEN_KEY)
    if tokens_seen is None and isinstance(knobs, Mapping) and summary.get(STEP_KEY) is not None \
            and isinstance(knobs.get("train.batch_tokens"), (int, float)):
        tokens_seen = summary[STEP_KEY] * knobs["train.batch_tokens"]  # derived: optimizer steps × tokens per step
    record: dict[str, Any] = {
        "status": "done" if state == "finished" else state,
        "error": None,
        "sweep": group, "run": run_name, "languages": languages, "groups": groups,
        "tokens_seen": tokens_seen if tokens_seen is not None else math.nan,
    }
    for key, value in (("knobs", knobs), ("params", _section(config, "params"))):
        if value is not None:
            record[key] = value
    if not group:
        del record["sweep"]
    if not languages:
        record["languages"] = {}
    return record


def run_path(project_path: str, run: Any) -> str:
    """What goes in the table's run_dir column for a W&B run: wandb:<entity>/<project>/<id>."""
    return f"wandb:{project_path}/{getattr(run, 'id', None) or getattr(run, 'name', '')}"


def collect_wandb_with_skipped(project: str, entity: str | None = None, group: str | None = None, api: Any = None,
                               *, filters: dict[str, Any] | None = None, warn: bool = True
                               ) -> tuple[pd.DataFrame, list[Skipped]]:
    """collect_wandb, also returning the runs that did not become rows (unfinished, missing keys)."""
    if api is None:
        import wandb

        api = wandb.Api()
    path = f"{entity}/{project}" if entity else project
    query = dict(filters or {})
    if group:
        query["group"] = group
    rows: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    for run in api.runs(path, filters=query):
        where = run_path(path, run)
        try:
            rows.extend(record_rows(run_record(run), where))
        except RunRecordError as err:
            skipped.append(Skipped(where, str(err).replace("result.json", "W&B run")))
    if warn:
        warn_skipped(skipped)
    return rows_to_table(rows), skipped


def collect_wandb(project: str, entity: str | None = None, group: str | None = None, api: Any = None) -> pd.DataFrame:
    """The tidy table (collect.collect_runs's columns) of the finished runs of a W&B project, optionally one
    group (= one sweep). `api`: a `wandb.Api()` or a stand-in with `.runs(path, filters=...)`."""
    return collect_wandb_with_skipped(project, entity, group, api)[0]
