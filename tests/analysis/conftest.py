"""Fake run directories in exactly the run-record format (docs/run-record.md), for the analysis tests.

`runs_root` (session scope, read-only for the tests) holds one folder per paper sweep:

    fig2_langs     num_langs 7, 15, 30 × seeds 0, 1, 2                 9 done
                   + 5 broken run dirs: failed, corrupt JSON, running, missing key, no result.json
    fig4_capacity  num_langs 7, 30 × hidden 128, 256 × seeds 0, 1     8 done
    fig5_alpha     alpha 0.01, 0.3, 1.0 × seeds 0, 1                   6 done
    fig6_vocab     vocab 1000, 4000, 16000 × hidden 128, 256 × seeds 0, 1   12 done
    fig7_batch     batch_tokens 1024, 2048, 4096 × seeds 0, 1          6 done

Every done run has 4 languages (en, fr, sw, ur) × 4 metrics and the 3 groups: 28 rows.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _import_project_analysis() -> None:
    """Make `import analysis` the project's package. pytest puts tests/ on sys.path (pythonpath = tests), where
    this folder, tests/analysis/, would otherwise be picked up as a namespace package named `analysis`."""
    init = ROOT / "analysis" / "__init__.py"
    current = sys.modules.get("analysis")
    if current is not None and getattr(current, "__file__", None) == str(init):
        return
    for name in [n for n in sys.modules if n == "analysis" or n.startswith("analysis.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location("analysis", init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["analysis"] = module
    spec.loader.exec_module(module)


_import_project_analysis()

LANGS = ("en", "fr", "sw", "ur")
METRICS = ("mlm_loss", "mlm_ppl", "mlm_acc", "mlm_bpc")
ROWS_PER_RUN = (len(LANGS) + 3) * len(METRICS)
WIDTHS = {128: ("tiny", 2, 512), 256: ("mini", 4, 1024)}
DONE = {"fig2_langs": 9, "fig4_capacity": 8, "fig5_alpha": 6, "fig6_vocab": 12, "fig7_batch": 6}
BROKEN = {  # run name in fig2_langs → the words its skip reason must contain
    "langs=60,seed=0": "failed",
    "langs=60,seed=1": "unreadable",
    "langs=60,seed=2": "running",
    "langs=100,seed=0": "languages",
    "langs=100,seed=1": "no result.json",
}


def knobs(**over: Any) -> dict[str, Any]:
    k = {"model": "tiny", "layers": 2, "hidden": 128, "ffn": 512, "heads": 2, "langs": "15", "num_langs": 15,
         "alpha": 0.3, "vocab_size": 8000, "corpus": "synthetic", "seed": 0, "train": "cpu", "max_steps": 400,
         "batch_tokens": 4096, "seq_len": 128, "lr": 0.002}
    k.update(over)
    if "num_langs" in over:
        k["langs"] = str(over["num_langs"])
    if "hidden" in over:
        k["model"], k["heads"], k["ffn"] = WIDTHS[over["hidden"]]
    return {DOTTED.get(name, name): value for name, value in k.items()}


# result.json names a group's keys by their config path (xlmr.config.science_knobs)
DOTTED = {name: f"model.{name}" for name in ("layers", "hidden", "ffn", "heads")} | {
    name: f"train.{name}" for name in ("max_steps", "batch_tokens", "seq_len", "lr")}


def noise(*parts: Any) -> float:
    """Deterministic per-(run, language) noise in [-0.1, 0.1] (crc32, not hash(): no salt between processes)."""
    return (zlib.crc32(repr(parts).encode()) % 2001 - 1000) / 10_000


def languages(k: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for lang in LANGS:
        high = lang in ("en", "fr")
        jitter = noise(k["seed"], k["num_langs"], k["model.hidden"], k["alpha"], k["vocab_size"], k["train.batch_tokens"], lang)
        loss = (3.0 + (0.15 if high else -0.05) * math.log(k["num_langs"]) - 0.3 * (k["model.hidden"] == 256)
                + (0.4 if high else -0.4) * (0.3 - k["alpha"]) + 0.05 * math.log2(8000 / k["vocab_size"])
                - 0.1 * math.log2(k["train.batch_tokens"] / 4096) + jitter)
        out[lang] = {"mlm_loss": loss, "mlm_ppl": math.exp(loss), "mlm_acc": 0.7 - 0.1 * loss,
                     "mlm_bpc": loss / math.log(2) / 3.5}
    return out


def groups(langs: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    members = {"high": ("en", "fr"), "low": ("sw", "ur"), "all": tuple(langs)}
    return {g: {m: sum(langs[c][m] for c in cs) / len(cs) for m in METRICS} for g, cs in members.items()}


def result(sweep: str, run: str, k: dict[str, Any]) -> dict[str, Any]:
    langs = languages(k)
    non_emb = 12 * k["model.layers"] * k["model.hidden"] ** 2
    emb = (k["vocab_size"] + 514) * k["model.hidden"]
    return {"status": "done", "error": None, "sweep": sweep, "run": run, "knobs": k,
            "params": {"total": non_emb + emb, "non_embedding": non_emb, "embedding": emb},
            "steps": k["train.max_steps"], "tokens_seen": k["train.max_steps"] * k["train.batch_tokens"], "wall_time_s": 12.5,
            "train_tokens_per_s": 20000.0, "code_version": "0.1.0+gtest", "languages": langs, "groups": groups(langs)}


def write_run(root: Path, sweep: str, run: str, record: dict[str, Any] | None, *, raw: str | None = None) -> Path:
    d = root / sweep / run
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(f"name: {sweep}\n")
    (d / ".hydra").mkdir()
    (d / ".hydra" / "config.yaml").write_text("x: 1\n")  # Hydra's copy: must not count as a run dir
    if raw is not None:
        (d / "result.json").write_text(raw)
    elif record is not None:
        (d / "result.json").write_text(json.dumps(record, indent=2))
    if record is not None and "languages" in record:
        loss = next(iter(record["languages"].values()))["mlm_loss"]
        (d / "metrics.csv").write_text(
            "step,name,value\n0,train/loss,9.5\n100,train/loss,6.1\n100,val/en/mlm_loss,5.0\n"
            f"100,val/group/high/mlm_loss,5.1\n200,train/loss,4.2\n200,train/loss,4.0\n200,val/en/mlm_loss,{loss}\n"
            "200,val/gr")  # a writer killed mid-line; step 200 train/loss logged twice (last wins)
        (d / "sampling.tsv").write_text("lang\tsentences\tp\tq\ttrain_tokens_expected\tshard_tokens\n"
                                        "en\t1000\t0.5\t0.4\t1000\t900\nsw\t100\t0.05\t0.1\t250\t90\n")
    return d


def grid(sweep: str, axes: dict[str, list[Any]], seeds: list[int]) -> list[tuple[str, str, dict[str, Any]]]:
    names = {"num_langs": "langs", "hidden": "model", "alpha": "alpha", "vocab_size": "vocab_size",
             "batch_tokens": "train.batch_tokens"}
    combos: list[dict[str, Any]] = [{}]
    for knob, values in axes.items():
        combos = [{**c, knob: v} for c in combos for v in values]
    out = []
    for c in combos:
        for seed in seeds:
            parts = [f"{names[kn]}={WIDTHS[v][0] if kn == 'hidden' else v}" for kn, v in c.items()] + [f"seed={seed}"]
            out.append((sweep, ",".join(parts), knobs(**c, seed=seed)))
    return out


def all_runs() -> list[tuple[str, str, dict[str, Any]]]:
    return (grid("fig2_langs", {"num_langs": [7, 15, 30]}, [0, 1, 2])
            + grid("fig4_capacity", {"num_langs": [7, 30], "hidden": [128, 256]}, [0, 1])
            + grid("fig5_alpha", {"alpha": [0.01, 0.3, 1.0]}, [0, 1])
            + grid("fig6_vocab", {"vocab_size": [1000, 4000, 16000], "hidden": [128, 256]}, [0, 1])
            + grid("fig7_batch", {"batch_tokens": [1024, 2048, 4096]}, [0, 1]))


def build_runs(root: Path) -> Path:
    for sweep, run, k in all_runs():
        write_run(root, sweep, run, result(sweep, run, k))
    k = knobs(num_langs=60)
    failed = {**result("fig2_langs", "langs=60,seed=0", k), "status": "failed",
              "error": "RuntimeError: CUDA out of memory"}
    for key in ("languages", "groups", "params", "tokens_seen"):
        failed.pop(key)
    write_run(root, "fig2_langs", "langs=60,seed=0", failed)
    write_run(root, "fig2_langs", "langs=60,seed=1", None, raw='{"status": "done", "sweep": "fig2_la')
    write_run(root, "fig2_langs", "langs=60,seed=2", {"status": "running", "error": None, "sweep": "fig2_langs",
                                                     "run": "langs=60,seed=2", "knobs": knobs(num_langs=60, seed=2)})
    missing = result("fig2_langs", "langs=100,seed=0", knobs(num_langs=100))
    missing.pop("languages")
    write_run(root, "fig2_langs", "langs=100,seed=0", missing)
    d = root / "fig2_langs" / "langs=100,seed=1"
    d.mkdir()
    (d / "train.log").write_text("[run] starting\n")
    (root / "fig2_langs" / "multirun.yaml").write_text("hydra: {}\n")  # a sweep folder file, not a run
    return root


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake runs/ folder (do not write into it: it is shared by every test of the session)."""
    return build_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def fake() -> Any:
    """This module: the builders (knobs, result, write_run, build_runs, …) and constants, for the tests."""
    return sys.modules[__name__]
