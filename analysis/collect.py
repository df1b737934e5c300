"""⑩ Run directories → one tidy pandas table.

One row per (run, language, metric). Columns, in order:

    sweep, run, run_dir, status, lang, is_group, metric, value,
    <every key of result.json's `knobs`, flattened>,
    params_total, params_non_embedding, tokens_seen, data_key

Group rows (the paper's `high` = mean(en, fr), `low` = mean(sw, ur), `all`) carry the group name in
`lang` and `is_group = True`. Only finished runs (`status == "done"`) become rows; every other run
directory is returned as a `Skipped` with its reason (and a warning line on stderr), never a crash.

The format read here is docs/run-record.md, and nothing else: this module never imports `xlmr`.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

RESULT_FILE = "result.json"
METRICS_FILE = "metrics.csv"
SAMPLING_FILE = "sampling.tsv"
# Any of these marks a directory as a run directory, so that a run that died before writing
# result.json is still reported (as skipped) rather than silently missing from the table.
RUN_MARKERS = (RESULT_FILE, "config.yaml", METRICS_FILE, SAMPLING_FILE, "train.log", "wandb_id.txt", "checkpoints")

GROUPS = ("high", "low", "all")
# the paper's groups (as in the run record); "all": every language the rows have
GROUP_MEMBERS: dict[str, tuple[str, ...]] = {"high": ("en", "fr"), "low": ("sw", "ur"), "all": ()}
ID_COLUMNS = ["sweep", "run", "run_dir", "status", "lang", "is_group", "metric", "value"]
EXTRA_COLUMNS = ["params_total", "params_non_embedding", "tokens_seen", "data_key"]
NUMERIC_EXTRA_COLUMNS = ("params_total", "params_non_embedding", "tokens_seen")
NON_KNOB_COLUMNS = frozenset(ID_COLUMNS + EXTRA_COLUMNS)
# Keys a finished run's result.json must have (docs/run-record.md).
REQUIRED_KEYS = ("status", "sweep", "run", "knobs", "params", "tokens_seen", "languages", "groups")
REQUIRED_PARAMS = ("total", "non_embedding")
TABLE_NAME = "results"
# Knobs added after runs were recorded: key → (the value every run before it used, a knob that marks the
# records it applies to). An older record lacks the key but ran with that value, so it gets it: without
# it, old and new runs of one configuration would differ in a column (NaN against the value) and be drawn
# as two conditions. Add an entry with every new knob whose default keeps the old behaviour.
KNOBS_BEFORE_THEY_EXISTED: dict[str, tuple[Any, str]] = {
    "model.init_std": (0.02, "model.hidden"),  # 2026-11-26; BERT's init, hard-coded before
    "corpus.subgroups": (False, "corpus.cognate_p"),  # 2026-11-26, with its two probabilities
    "corpus.subgroup_cognate_p": (0.9, "corpus.cognate_p"),
    "corpus.subgroup_sound_change_p": (0.03, "corpus.cognate_p"),
    "model.norm": ("post", "model.hidden"),  # 2026-11-26: every model was post-LN before
    "train.schedule": ("linear", "train.lr"),  # 2026-11-26
    "train.decay_fraction": (0.2, "train.lr"),  # 2026-11-26, its default (unused by linear)
    "corpus.p_arabic_loan": (0.0, "corpus.cognate_p"),  # 2026-11-26: no loanword layer before
    "eval.transfer.translate_train": (False, "eval.transfer.steps"),  # 2026-11-27: no translate-train control before
}
# Knobs added after runs were recorded whose old value is another knob's: key → that knob. Before
# tokenizer.langs (2026-11-28) every tokenizer was trained on the run's own languages; a record that has the key
# null (the first runs with it, that day) means the same.
KNOBS_THAT_WERE_ANOTHER: dict[str, str] = {"tokenizer.langs": "langs"}


@dataclass(frozen=True)
class Skipped:
    """A run directory that did not become rows, and why (one line)."""

    run_dir: Path | str  # a W&B run: "wandb:<entity>/<project>/<id>"
    reason: str

    def __str__(self) -> str:
        return f"{self.run_dir}: {self.reason}"


class RunRecordError(ValueError):
    """A result.json (or the W&B equivalent) that cannot become rows; the message is the skip reason."""


# ---------------------------------------------------------------------------------------------- discovery


def find_run_dirs(roots: Sequence[str | Path]) -> list[Path]:
    """Every run directory below (or at) the roots, sorted, each once.

    A run directory is a directory holding any of RUN_MARKERS; the walk does not descend into one
    (its checkpoints/ and wandb/ are not runs) nor into hidden directories (Hydra's .hydra/).
    """
    found: dict[Path, None] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"runs directory not found: {root}")
        for dirpath, dirnames, filenames in os.walk(root):
            names = set(filenames) | set(dirnames)
            if any(marker in names for marker in RUN_MARKERS):
                found[Path(dirpath).resolve()] = None
                dirnames[:] = []
            else:
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found)


# ---------------------------------------------------------------------------------------------- records → rows


def _number(value: Any, where: str) -> float:
    """A metric or count as float; None (not measured) becomes NaN; anything else is a corrupt record."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RunRecordError(f"non-numeric value {value!r} at {where}")
    return float(value)


def validate_record(record: Any) -> None:
    """Raise RunRecordError (the skip reason) unless `record` is a finished run's result.json."""
    if not isinstance(record, Mapping):
        raise RunRecordError(f"{RESULT_FILE} is not a JSON object")
    status = record.get("status")
    if status != "done":
        error = record.get("error")
        raise RunRecordError(f"status {status!r}" + (f": {error}" if error else " (unfinished)"))
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise RunRecordError(f"missing key(s) in {RESULT_FILE}: {', '.join(missing)}")
    for key in ("knobs", "params", "languages", "groups"):
        if not isinstance(record[key], Mapping):
            raise RunRecordError(f"`{key}` is not an object")
    missing = [f"params.{k}" for k in REQUIRED_PARAMS if k not in record["params"]]
    if missing:
        raise RunRecordError(f"missing key(s) in {RESULT_FILE}: {', '.join(missing)}")
    if not record["languages"]:
        raise RunRecordError("no per-language metrics (`languages` is empty)")
    for section in ("languages", "groups"):
        for name, metrics in record[section].items():
            if not isinstance(metrics, Mapping):
                raise RunRecordError(f"`{section}.{name}` is not an object")


def _scalar(value: Any) -> Any:
    """A knob value fit for one table cell: lists and dicts become their JSON text."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict, tuple)) else value


def knob_column(name: str) -> str:
    """A knob's column name: the knob's own, unless it collides with a fixed column."""
    return f"knob_{name}" if name in NON_KNOB_COLUMNS else name


def record_rows(record: Mapping[str, Any], run_dir: str) -> list[dict[str, Any]]:
    """The table rows of one finished run's record (result.json's layout). Raises RunRecordError."""
    validate_record(record)
    base: dict[str, Any] = {"sweep": str(record["sweep"]), "run": str(record["run"]), "run_dir": run_dir,
                            "status": "done"}
    recorded = dict(record["knobs"])
    for key, (value, marker) in KNOBS_BEFORE_THEY_EXISTED.items():
        if key not in recorded and marker in recorded:
            recorded[key] = value
    for key, source in KNOBS_THAT_WERE_ANOTHER.items():
        if recorded.get(key) is None and source in recorded:
            recorded[key] = recorded[source]
    knobs = {knob_column(k): _scalar(v) for k, v in recorded.items()}
    extra = {"params_total": _number(record["params"]["total"], "params.total"),
             "params_non_embedding": _number(record["params"]["non_embedding"], "params.non_embedding"),
             "tokens_seen": _number(record["tokens_seen"], "tokens_seen"), "data_key": data_key(record)}
    rows = []
    for section, is_group in (("languages", False), ("groups", True)):
        for lang, metrics in record[section].items():
            for metric, value in metrics.items():
                rows.append({**base, "lang": str(lang), "is_group": is_group, "metric": str(metric),
                             "value": _number(value, f"{section}.{lang}.{metric}"), **knobs, **extra})
    return rows


def data_key(record: Mapping[str, Any]) -> str | None:
    """The run's training data fingerprint: its shards artifact's cache key (which covers the corpus, its
    generator version and the tokenizer), or None for records without one (W&B summaries, older records)."""
    artifacts = record.get("artifacts")
    shards = artifacts.get("shards") if isinstance(artifacts, Mapping) else None
    key = shards.get("key") if isinstance(shards, Mapping) else None
    return str(key) if key else None


def mixed_data_lines(df: pd.DataFrame) -> list[str]:
    """One line per configuration (all knobs equal but `seed`) whose runs were trained on different data:
    the code that generates or tokenizes the corpus changed between them (e.g. GENERATOR_VERSION), and the
    table and figures would otherwise average them as seeds of one condition."""
    if df.empty or "data_key" not in df.columns or df["data_key"].isna().all():
        return []
    keys = [c for c in knob_columns(df) if c != "seed"]
    runs = df.drop_duplicates("run_dir").dropna(subset=["data_key"])
    lines = []
    for _, group in runs.groupby(keys or ["sweep"], dropna=False, sort=False):
        if group["data_key"].nunique() > 1:
            which = "; ".join(f"data {str(key)[:12]}: {len(dirs)} run(s), e.g. {dirs.iloc[0]}"
                              for key, dirs in group.groupby("data_key")["run_dir"])
            lines.append(f"runs of one configuration were trained on different data ({which}): the corpus "
                         "generator or tokenizer changed between them. Re-run the older ones with force=true, "
                         "or analyse them apart")
    return lines


def read_run(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of one run directory; RunRecordError says why there are none."""
    path = Path(run_dir) / RESULT_FILE
    if not path.exists():
        raise RunRecordError(f"no {RESULT_FILE} (the run never finished its first write)")
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunRecordError(f"unreadable {RESULT_FILE}: {type(err).__name__}: {str(err).splitlines()[0]}") from None
    return record_rows(record, str(run_dir))


def rows_to_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows (dicts) → the table, columns in the documented order, knob columns in first-seen order."""
    knobs: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in NON_KNOB_COLUMNS:
                knobs[key] = None
    columns = ID_COLUMNS + list(knobs) + EXTRA_COLUMNS
    df = pd.DataFrame(rows, columns=columns)
    df["is_group"] = df["is_group"].astype(bool)
    df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
    for col in NUMERIC_EXTRA_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df.reset_index(drop=True)


def warn_skipped(skipped: Sequence[Skipped]) -> None:
    for s in skipped:
        print(f"warning: skipped {s.run_dir}: {s.reason}", file=sys.stderr)


def collect_runs(roots: Sequence[str | Path], *, warn: bool = True) -> tuple[pd.DataFrame, list[Skipped]]:
    """Every run directory below the roots → (the tidy table of finished runs, the skipped run dirs).

    Raises FileNotFoundError if a root does not exist; everything wrong inside a run directory is a skip.
    """
    if isinstance(roots, (str, Path)):
        roots = [roots]
    rows: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    for run_dir in find_run_dirs(roots):
        try:
            rows.extend(read_run(run_dir))
        except RunRecordError as err:
            skipped.append(Skipped(run_dir, str(err)))
    df = rows_to_table(rows)
    if warn:
        warn_skipped(skipped)
        for line in mixed_data_lines(df):
            print(f"warning: {line}", file=sys.stderr)
    return df, skipped


# ---------------------------------------------------------------------------------------------- helpers on the table


def knob_columns(df: pd.DataFrame) -> list[str]:
    """The table's knob (config) columns, in table order."""
    return [c for c in df.columns if c not in NON_KNOB_COLUMNS]


def n_runs(df: pd.DataFrame) -> int:
    return int(df["run_dir"].nunique()) if len(df) else 0


def group_pivot(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One metric, one row per run (sweep, run), one column per group (high, low, all as present)."""
    sel = df[(df["metric"] == metric) & df["is_group"]]
    if sel.empty:
        return pd.DataFrame()
    table = sel.pivot_table(index=["sweep", "run"], columns="lang", values="value", aggfunc="mean")
    ordered = [g for g in GROUPS if g in table.columns] + [g for g in table.columns if g not in GROUPS]
    table = table[ordered]
    table.columns.name = None
    return table.loc[sorted(table.index, key=lambda idx: tuple(natural_key(part) for part in idx))]


def all_over_shared_languages(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """A run records `all` as the mean over its own languages, so the `all` of a 30-language run and that of a
    7-language run average different languages (at 30 languages, 23 that the 7-language run never saw).
    Where finished runs differ in which languages have a metric, their `all` rows are recomputed here as
    the mean over the languages that every one of them has (the record's own definition, on the shared set).
    Returns (the table, metric → those languages for each metric recomputed); the table is returned as it is
    when every run has the same languages."""
    done = df[(df["status"] == "done") & ~df["is_group"].astype(bool) & df["value"].notna()]
    per_run = done.groupby(["metric", "run_dir"])["lang"].agg(frozenset)
    shared: dict[str, list[str]] = {}
    for metric, sets in per_run.groupby(level="metric"):
        if len(set(sets)) > 1:
            common = frozenset.intersection(*sets)
            shared[str(metric)] = sorted(common, key=list(done["lang"].drop_duplicates()).index)
    if not shared:
        return df, {}
    out = df.copy()
    for metric, langs in shared.items():
        rows = done[(done["metric"] == metric) & done["lang"].isin(langs)]
        means = rows.groupby("run_dir")["value"].mean() if langs else pd.Series(dtype=float)
        target = (out["metric"] == metric) & out["is_group"].astype(bool) & (out["lang"] == "all") & (out["status"] == "done")
        out.loc[target, "value"] = out.loc[target, "run_dir"].map(means).astype(float).to_numpy()
    return out, shared


def shared_languages_note(shared: dict[str, list[str]], metric: str) -> str:
    """One line for a figure or table whose `all` was recomputed (all_over_shared_languages); else ""."""
    langs = shared.get(metric)
    if langs is None:
        return ""
    return f"all = mean over the {len(langs)} languages every run has ({', '.join(langs)})"


def natural_key(text: Any) -> tuple[tuple[int, Any], ...]:
    """Sort key that orders numbers inside strings by value: 'langs=7' < 'langs=15'."""
    parts = re.split(r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)", str(text))
    return tuple((0, float(p)) if i % 2 else (1, p) for i, p in enumerate(parts))


def resolve_path(path: str | Path) -> Path:
    """A runs path as given, or, when relative and missing here, relative to the project root above the
    current directory (a notebook runs in analysis/notebooks/, its `RUNS = "runs/…"` means the repo's)."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    for parent in [Path.cwd(), *Path.cwd().parents]:
        if (parent / "pyproject.toml").exists():
            return parent / path
    return path


# ---------------------------------------------------------------------------------------------- writing


def temp_path(path: Path) -> Path:
    """A unique hidden sibling of `path` to write before renaming onto it (same folder: rename is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """`write(tmp_path)` then rename onto `path`: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_table(df: pd.DataFrame, out_dir: str | Path) -> dict[str, Path]:
    """Write `results.parquet` and `results.csv` into out_dir (each temp file + rename)."""
    out_dir = Path(out_dir)
    paths = {"parquet": out_dir / f"{TABLE_NAME}.parquet", "csv": out_dir / f"{TABLE_NAME}.csv"}
    atomic_write(paths["parquet"], lambda tmp: df.to_parquet(tmp, index=False))
    atomic_write(paths["csv"], lambda tmp: df.to_csv(tmp, index=False))
    return paths


def read_table(path: str | Path) -> pd.DataFrame:
    """Read back a table written by write_table (parquet or csv)."""
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


# ---------------------------------------------------------------------------------------------- curves, sampling


def load_metrics_csv(run_dir: str | Path) -> pd.DataFrame:
    """A run's training curves, long format: step, name, value + parsed split, lang, is_group, metric.

    `train/loss` → split train, lang <NA>, metric loss; `val/en/mlm_loss` → val, en, mlm_loss;
    `val/group/high/mlm_loss` → val, high (is_group), mlm_loss. A truncated last line (a killed writer)
    is dropped; a step logged twice keeps its last value.
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        raise FileNotFoundError(f"no {METRICS_FILE} in {run_dir}")
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # a writer killed mid-line: drop the partial last line
    if not text.strip():
        text = "step,name,value\n"
    df = pd.read_csv(io.StringIO(text), on_bad_lines="skip", dtype={"name": str})
    if list(df.columns[:3]) != ["step", "name", "value"]:
        raise ValueError(f"{path}: expected header step,name,value, got {','.join(map(str, df.columns))}")
    df["step"] = pd.to_numeric(df["step"], errors="coerce")
    df["value"] = pd.to_numeric(df["value"], errors="coerce")
    df = df.dropna(subset=["step", "name"]).astype({"step": "int64", "value": "float64"})
    df = df.drop_duplicates(subset=["step", "name"], keep="last").reset_index(drop=True)
    parts = df["name"].str.split("/")
    df["split"] = parts.str[0].where(parts.str.len() > 1)
    df["is_group"] = (parts.str.len() == 4) & (parts.str[1] == "group")
    df["lang"] = parts.str[-2].where(parts.str.len() >= 3)
    df["metric"] = parts.str[-1]
    return df[["step", "name", "value", "split", "lang", "is_group", "metric"]]


def load_sampling_tsv(run_dir: str | Path) -> pd.DataFrame:
    """A run's per-language sampling table (lang, sentences n_i, p, q, train_tokens_expected, …)."""
    path = Path(run_dir) / SAMPLING_FILE
    if not path.exists():
        raise FileNotFoundError(f"no {SAMPLING_FILE} in {run_dir}")
    return pd.read_csv(path, sep="\t")


def is_monolingual(df: pd.DataFrame) -> pd.Series:
    """Rows of monolingual-baseline runs (knob `monolingual` set)."""
    return df["monolingual"].notna() if "monolingual" in df.columns else pd.Series(False, index=df.index)


def monolingual_gain(df: pd.DataFrame, metric: str = "mlm_bpc") -> pd.DataFrame:
    """Per-language transfer gain of each multilingual run over its monolingual baseline (Chang et al. 2023):
    gain = monolingual metric − multilingual metric, for a lower-is-better metric such as bits/char, so
    gain > 0 means the other languages helped (positive transfer) and gain < 0 that they hurt (the curse).

    A baseline matches the multilingual run whose knobs are all equal but `monolingual` (seed included), on
    its one language. Returns rows in the table's layout (metric "<metric>_gain", the multilingual run's
    knobs), one per (run, language with a baseline), plus group rows (high, low, all) where every member
    language has one."""
    columns = list(df.columns)
    if "monolingual" not in df.columns:
        return pd.DataFrame(columns=columns)
    mono_mask = is_monolingual(df)
    keys = [c for c in knob_columns(df) if c != "monolingual"]
    done = df[(df["status"] == "done") & (df["metric"] == metric) & ~df["is_group"].astype(bool)]
    mono, multi = done[mono_mask.loc[done.index]], done[~mono_mask.loc[done.index]]
    mono = mono[mono["lang"] == mono["monolingual"]][[*keys, "lang", "value"]].rename(columns={"value": "mono"})
    if mono.empty or multi.empty:
        return pd.DataFrame(columns=columns)
    # NaN knob values match each other here (pandas merges NaN keys as equal): an unset knob is one value
    joined = multi.merge(mono, on=[*keys, "lang"], how="inner")
    joined["value"] = joined["mono"] - joined["value"]
    joined["metric"] = f"{metric}_gain"
    rows = joined[columns]
    groups = []
    for _, run in rows.groupby("run_dir", sort=False):
        have = set(run["lang"])
        for group, members in GROUP_MEMBERS.items():
            members = members or tuple(have)
            if set(members) <= have:
                g = run.iloc[[0]].copy()
                g["lang"], g["is_group"] = group, True
                g["value"] = run[run["lang"].isin(members)]["value"].mean()
                groups.append(g)
    return pd.concat([rows, *groups], ignore_index=True) if groups else rows.reset_index(drop=True)
