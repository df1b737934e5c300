"""A tiny run end to end, exact resume after a crash, sweep idempotence and failure handling."""

import csv
import json
import logging
import math
import re
from pathlib import Path

import pytest
import pytorch_lightning as pl

from _shared import TINY, compose_cfg, run_train, tiny_cfg
from xlmr.config import ConfigError, typed
from xlmr.data.pipeline import SHARDS_VERSION, TOKENIZER_VERSION
from xlmr.data.synthetic import GENERATOR_VERSION
from xlmr.run import read_result, run, stale_data_note


class CrashAt(pl.Callback):
    """Simulates a job dying mid-training (after step `step`; last.ckpt is from an earlier step)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            raise RuntimeError(f"simulated crash at step {self.step}")


class FirstStep(pl.Callback):
    """Records the optimizer step a fit starts from."""

    step: int | None = None

    def on_train_batch_start(self, trainer, *args):
        if self.step is None:
            self.step = trainer.global_step


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def finished(cache, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "uninterrupted"
    cfg = tiny_cfg(cache, "trainer.micro_batch_size=16", "logger=wandb", "trainer.val_every_steps=6",
                   "trainer.log_every_steps=2")
    return cfg, run_dir, run(cfg, run_dir, "test", "uninterrupted")


def test_tiny_run_writes_a_complete_run_directory(finished):
    cfg, run_dir, result = finished
    assert result["status"] == "done" and result["steps"] == 12 and result["tokens_seen"] == 12 * 1024
    assert json.loads((run_dir / "result.json").read_text()) == json.loads(json.dumps(result, default=str))
    assert set(result["languages"]) == {"en", "fr", "de", "ru", "zh", "sw", "ur"}
    for metrics in result["languages"].values():
        assert 0 < metrics["mlm_loss"] < 10 and 0 <= metrics["mlm_acc"] <= 1 and metrics["mlm_bpc"] > 0
    assert set(result["groups"]) == {"high", "low", "all"}
    d = cfg.model  # embedding = token rows (vocab 600 + <pad>, <mask>) and position rows (max_positions + 2)
    assert result["params"]["embedding"] == (600 + 2) * d.hidden + (d.max_positions + 2) * d.hidden
    assert result["params"]["total"] == result["params"]["embedding"] + result["params"]["non_embedding"]
    for metrics in result["languages"].values():
        assert metrics["mlm_ppl"] == pytest.approx(math.exp(metrics["mlm_loss"]))
    assert result["groups"]["all"]["mlm_loss"] == pytest.approx(
        sum(m["mlm_loss"] for m in result["languages"].values()) / 7)
    for name in ("config.yaml", "metrics.csv", "sampling.tsv", "checkpoints/last.ckpt", "wandb_id.txt"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "wandb").glob("offline-run-*")), "W&B offline run missing"
    tables = {re.sub(r"_\d+_[0-9a-f]+\.table\.json$", "", p.name)
              for p in (run_dir / "wandb").glob("offline-run-*/files/media/table/*.table.json")}
    assert tables == {"sampling_table", "final_results"}
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    names = {r["name"] for r in rows}
    assert "train/loss" in names and "val/en/mlm_loss" in names and "val/group/low/mlm_loss" in names
    # W&B's curves: learning rate (warmup then decay), throughput and MFU at every logging step
    lrs = [float(r["value"]) for r in rows if r["name"] == "train/lr"]
    assert len(lrs) == 6 and max(lrs) <= cfg.train.lr and lrs[-1] < max(lrs)
    # train/* are logged only on Lightning's logging updates (MLMModule._logging_update): each row holds the
    # value of the update it is stamped with (0-based), not one left over from an earlier update
    train_rows = {name: [(int(r["step"]), float(r["value"])) for r in rows if r["name"] == name]
                  for name in ("train/loss", "train/lr", "train/grad_norm", "train/masked_tokens")}
    assert {name: [step for step, _ in v] for name, v in train_rows.items()} == {
        name: [1, 3, 5, 7, 9, 11] for name in train_rows}  # every 2nd of 12 updates, 2 micro-batches each
    schedule = typed(cfg).train  # a TrainConfig is an OptimConfig
    assert [lr for _, lr in train_rows["train/lr"]] == pytest.approx(
        [schedule.peak_lr(cfg.model.hidden) * schedule.lr_factor(step) for step, _ in train_rows["train/lr"]], rel=1e-5)
    mfus = [float(r["value"]) for r in rows if r["name"] == "train/mfu"]
    assert len(mfus) == 6 and all(0 < m < 1 for m in mfus)  # intervals from step 0: 0-2, 2-4, …, 10-12
    assert len([r for r in rows if r["name"] == "train/tokens_per_s"]) == 6
    assert {int(r["step"]) for r in rows if r["name"] == "val/en/mlm_loss"} == {6, 12}  # mid-training + final
    assert 0 < result["mfu"] <= 1 and "measured" in result["peak_source"]  # CPU: against its own matmul rate
    assert result["mfu"] == pytest.approx(result["train_tokens_per_s"] * result["flops_per_token"]
                                          / result["peak_flops"], rel=1e-3)
    sampling = (run_dir / "sampling.tsv").read_text().splitlines()
    assert sampling[0].startswith("lang\tsentences\tp\tq") and len(sampling) == 8


def test_training_reduces_the_loss(finished):
    _, run_dir, result = finished
    losses = [float(r["value"]) for r in csv.DictReader(open(run_dir / "metrics.csv")) if r["name"] == "train/loss"]
    assert len(losses) == 6  # logged every 2 of 12 steps
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2 - 0.3, losses  # nats/token
    assert result["groups"]["all"]["mlm_loss"] < 6.4  # ln(602) = 6.40: better than uniform guessing


def test_resume_after_a_crash_ends_exactly_like_an_uninterrupted_run(finished, cache, tmp_path):
    cfg, _, reference = finished
    run_dir = tmp_path / "interrupted"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(cfg, run_dir, "test", "interrupted", callbacks=[CrashAt(7)])
    crashed = read_result(run_dir)
    assert crashed["status"] == "failed" and "simulated crash" in crashed["error"]
    wandb_id = (run_dir / "wandb_id.txt").read_text()
    first_step = FirstStep()
    resumed = run(cfg, run_dir, "test", "interrupted", callbacks=[first_step])
    assert resumed["resumed"] and resumed["status"] == "done" and resumed["steps"] == 12
    assert first_step.step == 4  # it went on from the step-4 checkpoint, not from the start
    assert resumed["languages"] == reference["languages"]  # bit-for-bit: same batches, masks, dropout
    assert (run_dir / "wandb_id.txt").read_text() == wandb_id  # one W&B run across the two processes
    # one offline folder per process start, named by the start's second: two starts in one second share it
    folders = list((run_dir / "wandb").glob("offline-run-*"))
    assert 1 <= len(folders) <= 2 and all(f.name.endswith(wandb_id) for f in folders)
    steps = [int(r["step"]) for r in csv.DictReader(open(run_dir / "metrics.csv")) if r["name"] == "train/loss"]
    assert steps == [1, 3, 5, 7, 9, 11]  # every 2nd step (0-based); none duplicated by the crashed part, none missing


def test_resume_with_dropout_replays_the_same_dropout_masks(cache, tmp_path):
    """Dropout masks are a pure function of (seed, rank, micro-batch index), reseeded every micro-batch when the
    model has dropout: a run resumed from a checkpoint draws the masks the uninterrupted run drew."""
    cfg = tiny_cfg(cache, "trainer.micro_batch_size=16", "model.dropout=0.1", "model.attention_dropout=0.1")
    reference = run(cfg, tmp_path / "whole", "test", "whole")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(cfg, tmp_path / "interrupted", "test", "interrupted", callbacks=[CrashAt(7)])
    resumed = run(cfg, tmp_path / "interrupted", "test", "interrupted")
    assert resumed["resumed"] and resumed["steps"] == reference["steps"] == 12
    assert resumed["languages"] == reference["languages"]  # bit-for-bit


def test_finished_run_is_skipped(finished):
    cfg, run_dir, result = finished
    again = run(cfg, run_dir, "test", "uninterrupted")
    assert again["outcome"] == "skipped" and again["languages"] == result["languages"]


def test_a_finished_run_on_older_data_code_is_skipped_with_a_line_saying_so(finished, tmp_path, caplog):
    # The record carries the versions of the code that made its data; a run finished by an older corpus
    # generator is still skipped (its results are kept), but its skip line names the change and force=true.
    cfg, _, result = finished
    assert result["data_versions"] == {"tokenizer": TOKENIZER_VERSION, "shards": SHARDS_VERSION,
                                       "generator": GENERATOR_VERSION}
    for name, versions in (("today", result["data_versions"]), ("older", {**result["data_versions"], "generator": 2}),
                           ("unversioned", None)):
        record = {k: v for k, v in result.items() if k != "data_versions"}
        if versions is not None:
            record["data_versions"] = versions
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps(record, default=str))
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="xlmr"):
            assert run(cfg, tmp_path / name, "test", name)["outcome"] == "skipped"
        line = [r.getMessage() for r in caplog.records if "finished already" in r.getMessage()]
        assert len(line) == 1 and "force=true" in line[0], line
        old = {"today": None, "older": "generator v2", "unversioned": "generator v3"}[name]
        assert (f"older code ({old} → v{GENERATOR_VERSION})" in line[0]) if old else "older code" not in line[0]
    assert stale_data_note({"tokenizer": 1, "shards": 1}, {"tokenizer": 1, "shards": 1}) == ""  # CC-100: no generator
    assert stale_data_note(None, {"tokenizer": 1, "shards": 1}) == ""


def test_vocab_too_large_fails_cleanly_and_leaves_no_artifact(cache, tmp_path):
    cfg = tiny_cfg(tmp_path / "cache", "vocab_size=900000", "langs=[en,sw]")
    with pytest.raises(ConfigError, match="vocab_size=900000"):
        run(cfg, tmp_path / "run", "test", "big-vocab")
    assert read_result(tmp_path / "run")["status"] == "failed"
    assert not (tmp_path / "cache" / "tokenizer").exists() or not any(
        (tmp_path / "cache" / "tokenizer").glob("*/manifest.json"))
    assert not list((tmp_path / "cache" / "tokenizer").glob(".*tmp*"))


@pytest.mark.slow
def test_sweep_is_idempotent_and_reruns_only_failed_runs(tmp_path):
    args = ["-m", *TINY, "alpha=0.3,1.0", f"paths.runs_dir={tmp_path}/runs", f"paths.cache_dir={tmp_path}/cache"]
    first = run_train(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "2 done" in first.stdout
    runs = sorted((tmp_path / "runs" / "default").iterdir())
    names = [p.name for p in runs if p.is_dir() and not p.name.startswith(".")]
    # the run directory is named by the science overrides only (paths.* are implementation knobs)
    assert len(names) == 2 and names[0].startswith("alpha=0.3,") and names[1].startswith("alpha=1.0,")
    assert all("train=debug" in n and "paths" not in n for n in names)
    second = run_train(*args)
    assert second.returncode == 0 and "2 skipped" in second.stdout
    assert len(list((tmp_path / "runs" / "default").glob("multirun.*-*.yaml"))) == 2  # one per invocation
    # make one run look failed: only that one runs again (from its last checkpoint, which is at the end)
    victim = runs[0] / "result.json"
    record = json.loads(victim.read_text())
    victim.write_text(json.dumps({**record, "status": "failed"}))
    third = run_train(*args)
    assert third.returncode == 0 and "1 resumed, 1 skipped" in third.stdout


@pytest.mark.slow
def test_two_process_cpu_ddp_run(tmp_path):
    """DDP with gloo on 2 CPU processes (ddp_spawn: in-process launch); per-language totals are summed over ranks."""
    cfg = tiny_cfg(tmp_path / "cache", "trainer.devices=2", "trainer.accelerator=cpu", "trainer.micro_batch_size=16")
    result = run(cfg, tmp_path / "ddp", "test", "ddp")
    assert result["status"] == "done" and result["world_size"] == 2 and result["steps"] == 12
    assert set(result["languages"]) == {"en", "fr", "de", "ru", "zh", "sw", "ur"}
    assert all(0 < m["mlm_loss"] < 10 for m in result["languages"].values())


def test_unseen_languages_are_scored_but_not_trained_on(cache, tmp_path):
    cfg = tiny_cfg(cache, "langs=[en,fr,sw,ur]", "data.unseen_langs=[de,ru]", "train.max_steps=4")
    result = run(cfg, tmp_path / "unseen", "test", "unseen")
    assert result["unseen_langs"] == ["de", "ru"]
    assert set(result["languages"]) == {"en", "fr", "sw", "ur", "de", "ru"}
    assert result["groups"]["all"]["mlm_loss"] == pytest.approx(
        sum(result["languages"][c]["mlm_loss"] for c in ("en", "fr", "sw", "ur")) / 4)
    sampled = [line.split("\t")[0] for line in (tmp_path / "unseen" / "sampling.tsv").read_text().splitlines()[1:]]
    assert sampled == ["en", "fr", "sw", "ur"]
    with pytest.raises(ConfigError, match="data.unseen_langs=en"):
        run(tiny_cfg(cache, "langs=[en,fr]", "data.unseen_langs=[en]"), tmp_path / "bad", "test", "bad")


def test_prepare_only_builds_the_data_and_trains_nothing(tmp_path):
    cfg = tiny_cfg(tmp_path / "cache", "langs=[en,sw]", "prepare_only=true")
    out = run(cfg, tmp_path / "run", "test", "prep")
    assert out["outcome"] == "prepared" and not (tmp_path / "run").exists()
    assert len(list((tmp_path / "cache" / "tokenizer").glob("*/manifest.json"))) == 1
    assert len(list((tmp_path / "cache" / "shards").glob("*/manifest.json"))) == 1


@pytest.mark.slow
def test_sweep_through_submitit_local(tmp_path):
    r = run_train("-m", *TINY, "seed=0,1", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
                  f"paths.runs_dir={tmp_path}/runs", f"paths.cache_dir={tmp_path}/cache")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "2 done" in r.stdout
    results = [read_result(p) for p in (tmp_path / "runs" / "default").iterdir() if (p / "result.json").exists()]
    assert len(results) == 2 and all(x["status"] == "done" for x in results)


def test_retrieval_on_the_synthetic_parallel_test_sets(cache, tmp_path, caplog):
    cfg = tiny_cfg(cache, "langs=[en,fr,ur]", "train.max_steps=4", "eval.retrieval.enabled=true",
                   "eval.retrieval.max_pairs=50", "corpus.task_test_examples=80")
    result = run(cfg, tmp_path / "retrieval", "test", "retrieval")
    for lang in ("fr", "ur"):
        m = result["languages"][lang]
        assert 0 <= m["retrieval_acc_en2x"] <= 1 and 0 <= m["trigram_acc_x2en"] <= 1 and m["n_pairs"] > 10
    assert "retrieval_acc_en2x" not in result["languages"]["en"]
    assert result["groups"]["all"]["retrieval_acc_en2x"] == pytest.approx(
        (result["languages"]["fr"]["retrieval_acc_en2x"] + result["languages"]["ur"]["retrieval_acc_en2x"]) / 2)
    assert result["downstream"]["retrieval"]["layer"] == 1
    assert re.search(r"English→X retrieval: fr \d\.\d\d, ur \d\.\d\d", caplog.text)  # its stage line names them


def test_zero_shot_transfer_and_its_translate_train_control_land_in_the_run_record(cache, tmp_path):
    cfg = tiny_cfg(cache, "langs=[en,fr,sw]", "train.max_steps=4", "eval.transfer.enabled=true",
                   "eval.transfer.steps=30", "eval.transfer.max_train_examples=300", "eval.transfer.max_test_examples=60",
                   "corpus.task_train_examples=300", "corpus.task_test_examples=60",
                   "eval.transfer.translate_train=true")
    result = run(cfg, tmp_path / "transfer", "test", "transfer")
    accs = {lang: m["transfer_acc"] for lang, m in result["languages"].items()}
    assert set(accs) == {"en", "fr", "sw"} and all(0 <= a <= 1 for a in accs.values())
    assert result["groups"]["all"]["transfer_acc"] == pytest.approx(sum(accs.values()) / 3)
    assert result["downstream"]["transfer"]["steps"] == 30
    bow = result["downstream"]["transfer"]["bow_baseline_acc"]
    assert {lang: m["transfer_bow_acc"] for lang, m in result["languages"].items()} == bow
    assert all(m["transfer_chance"] == pytest.approx(1 / 6) for m in result["languages"].values())
    control = {lang: m["translate_train_acc"] for lang, m in result["languages"].items()}
    assert set(control) == {"en", "fr", "sw"} and control["en"] == accs["en"]  # en: zero-shot's own fine-tuning
    assert result["groups"]["all"]["translate_train_acc"] == pytest.approx(sum(control.values()) / 3)
    assert result["downstream"]["translate_train"]["langs_without_data"] == []


def test_monolingual_baseline_trains_one_language_on_its_matched_budget(cache, tmp_path):
    from xlmr.data.sampling import sampling_probs

    multi = run(tiny_cfg(cache, "langs=[en,fr,sw]", "train.max_steps=4"), tmp_path / "multi", "test", "multi")
    cfg = tiny_cfg(cache, "langs=[en,fr,sw]", "monolingual=sw", "train.max_steps=40", "train.warmup_steps=10")
    result = run(cfg, tmp_path / "mono", "test", "mono")
    sentences = {r.split("\t")[0]: int(r.split("\t")[1])
                 for r in (tmp_path / "multi" / "sampling.tsv").read_text().splitlines()[1:]}
    q_sw = float(sampling_probs([sentences[c] for c in ("en", "fr", "sw")], cfg.alpha)[2])
    assert result["monolingual"] == {"lang": "sw", "q_multilingual": pytest.approx(q_sw),
                                     "steps": round(40 * q_sw), "warmup_steps": round(10 * q_sw)}
    assert result["steps"] == round(40 * q_sw) and result["tokens_seen"] == round(40 * q_sw) * 1024
    assert set(result["languages"]) == {"sw"} and result["knobs"]["monolingual"] == "sw"
    assert result["artifacts"]["tokenizer"]["key"] == multi["artifacts"]["tokenizer"]["key"]  # one tokenizer
    assert [r.split("\t")[0] for r in (tmp_path / "mono" / "sampling.tsv").read_text().splitlines()[1:]] == ["sw"]
    assert "skipped" in result["downstream"]  # no English to fine-tune on
    with pytest.raises(ConfigError, match="monolingual=de"):
        run(tiny_cfg(cache, "langs=[en,fr]", "monolingual=de"), tmp_path / "bad", "test", "bad")


def test_bf16_mixed_with_fused_adamw_clips_and_logs_the_gradient_norm(cache, tmp_path):
    cfg = tiny_cfg(cache, "langs=[en,sw]", "train.max_steps=4", "trainer.precision=bf16-mixed",
                   "trainer.accelerator=cpu", "trainer.log_every_steps=1", "train.clip_grad_norm=0.5")
    result = run(cfg, tmp_path / "bf16", "test", "bf16")
    assert result["status"] == "done" and result["precision"] == "bf16-mixed"
    norms = [float(r["value"]) for r in csv.DictReader(open(tmp_path / "bf16" / "metrics.csv"))
             if r["name"] == "train/grad_norm"]
    assert len(norms) == 4 and all(n > 0 for n in norms)  # pre-clipping norms, logged each step
    assert any(n > 0.5 for n in norms)  # so the clipping had work to do


def test_native_bf16_detection(tmp_path):
    from xlmr.run import cpu_has_native_bf16, resolve_precision

    flags = tmp_path / "cpuinfo"
    flags.write_text("flags\t\t: fpu avx512f avx512bw avx512_bf16 amx_tile\n")
    assert cpu_has_native_bf16(str(flags))
    flags.write_text("flags\t\t: fpu avx2 avx512f avx512bw\n")
    assert not cpu_has_native_bf16(str(flags)) and not cpu_has_native_bf16(str(tmp_path / "missing"))
    assert resolve_precision("32-true", "cpu") == "32-true"
    import xlmr.run as run_module

    for native, expected in ((False, "32-true"), (True, "bf16-mixed")):
        original = run_module.cpu_has_native_bf16
        run_module.cpu_has_native_bf16 = lambda native=native: native
        try:
            assert resolve_precision("auto", "cpu") == expected
            assert resolve_precision("auto", "gpu") == "bf16-mixed"
        finally:
            run_module.cpu_has_native_bf16 = original


@pytest.mark.slow
def test_default_run_transfers_above_chance_and_above_bag_of_words(tmp_path):
    """The README's default run (one seed): zero-shot transfer above chance for every language and above the
    bag-of-words line of the same run in the mean over the non-English languages."""
    cfg = compose_cfg("logger=none", f"paths.cache_dir={tmp_path / 'cache'}")
    result = run(cfg, tmp_path / "default", "test", "default")
    transfer = result["downstream"]["transfer"]
    accs = {lang: m["transfer_acc"] for lang, m in result["languages"].items()}
    others = [lang for lang in accs if lang != "en"]
    assert all(accs[lang] > transfer["chance"] + 0.02 for lang in others), accs
    mean = sum(accs[lang] for lang in others) / len(others)
    bow = sum(transfer["bow_baseline_acc"][lang] for lang in others) / len(others)
    assert mean > bow, (accs, transfer["bow_baseline_acc"])
    assert result["languages"]["fr"]["transfer_bow_acc"] == transfer["bow_baseline_acc"]["fr"]
    assert result["languages"]["fr"]["transfer_chance"] == pytest.approx(1 / 6)


def test_plan_counts_a_monolingual_baseline_at_its_matched_budget(tmp_path):
    from xlmr.data.pipeline import sampling_shares
    from xlmr.plan import plan_row

    multi = plan_row(tiny_cfg(tmp_path, "langs=[en,fr,sw]", "train.max_steps=40"), tmp_path / "m")
    cfg = tiny_cfg(tmp_path, "langs=[en,fr,sw]", "train.max_steps=40", "monolingual=sw")
    mono = plan_row(cfg, tmp_path / "s")
    from xlmr.data.sampling import sampling_probs
    from xlmr.data.synthetic import sentence_counts

    counts = sentence_counts(cfg.corpus, ["en", "fr", "sw"])  # independently of the plan's own shares
    q_sw = float(sampling_probs([counts[c] for c in ("en", "fr", "sw")], cfg.alpha)[2])
    assert sampling_shares(cfg)["sw"] == pytest.approx(q_sw) and 0 < q_sw < 1 and mono["tokens"] == round(40 * q_sw) * 1024 and multi["tokens"] == 40 * 1024


def test_a_run_owned_by_another_process_is_skipped_not_trained(cache, tmp_path):
    from filelock import FileLock

    from xlmr.run import RUN_LOCK

    run_dir = tmp_path / "held"
    run_dir.mkdir()
    with FileLock(run_dir / RUN_LOCK):  # another holder (a separate open file: flock refuses a second one)
        out = run(tiny_cfg(cache, "langs=[en,sw]", "train.max_steps=4"), run_dir, "test", "held")
    assert out["outcome"] == "busy" and not (run_dir / "result.json").exists()


def test_two_identical_sweeps_at_once_train_each_run_exactly_once(tmp_path):
    """Two real processes run the same sweep into one runs directory: every run is trained by one of them."""
    import subprocess
    import sys

    from _shared import ROOT

    args = [sys.executable, str(ROOT / "train.py"), "-m", *TINY, "langs=[en,sw]", "train.max_steps=6",
            "trainer.log_every_steps=1", "seed=0,1,2", f"paths.runs_dir={tmp_path}/runs",
            f"paths.cache_dir={tmp_path}/cache"]
    env = {**__import__("os").environ, "HYDRA_FULL_ERROR": "0", "WANDB_SILENT": "true"}
    procs = [subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    run_dirs = [d for d in (tmp_path / "runs" / "default").iterdir() if d.is_dir() and not d.name.startswith(".")]
    assert len(run_dirs) == 3
    for d in run_dirs:
        assert read_result(d)["status"] == "done"
        steps = [int(r["step"]) for r in csv.DictReader(open(d / "metrics.csv")) if r["name"] == "train/loss"]
        assert len(steps) == len(set(steps)) == 6, (d.name, steps)  # one row per step: one trainer
    trained = sum(o.count("[run] model ") for o in outs)  # the line each training process prints once per run
    assert trained == 3, outs
    # and the other process said so, once per run: still being trained, or finished by then
    assert sum(o.count("— skipped here") + o.count("finished already") for o in outs) == 3, outs


class InterruptAt(pl.Callback):
    """A user's Ctrl-C during training (Lightning turns it into a graceful stop and exit 1)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def test_a_user_interrupt_is_recorded_as_such(cache, tmp_path):
    import signal

    handler = signal.getsignal(signal.SIGINT)  # Lightning ignores further Ctrl-Cs while it shuts down
    try:
        with pytest.raises((KeyboardInterrupt, SystemExit)):
            run(tiny_cfg(cache, "langs=[en,sw]", "train.max_steps=6"), tmp_path / "i", "test", "i",
                callbacks=[InterruptAt(3)])
    finally:
        signal.signal(signal.SIGINT, handler)
    record = read_result(tmp_path / "i")
    assert record["status"] == "interrupted" and "Ctrl-C" in record["error"] and "requeue" not in record["error"]


def test_the_checkpoint_describes_its_model_and_carries_its_tokenizer(finished, tmp_path):
    """Export and resume need nothing but the checkpoint: dimensions and tokenizer travel in it."""
    import hashlib
    import shutil

    import torch

    from xlmr.export import export_run
    from xlmr.lit import read_checkpoint_description
    from xlmr.model import EncoderDims
    from xlmr.run import check_resumable

    cfg, run_dir, result = finished
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    saved = read_checkpoint_description(checkpoint)
    assert (saved["dims"].layers, saved["dims"].hidden, saved["dims"].heads) == (cfg.model.layers, cfg.model.hidden,
                                                                                  cfg.model.heads)
    spm = Path(result["artifacts"]["tokenizer"]["path"]) / "sentencepiece.bpe.model"
    assert saved["tokenizer"]["sha256"] == hashlib.sha256(spm.read_bytes()).hexdigest()
    assert saved["tokenizer"]["key"] == result["artifacts"]["tokenizer"]["key"]
    alone = tmp_path / "alone.ckpt"  # no run directory, no config.yaml, no data cache
    shutil.copy(run_dir / "checkpoints" / "last.ckpt", alone)
    pytest.importorskip("transformers")
    export_run(None, tmp_path / "hf", ckpt=alone)  # checks logits and token ids against ours
    assert (tmp_path / "hf" / "config.json").is_file()
    wider = EncoderDims(**{**saved["dims"].__dict__, "layers": saved["dims"].layers + 1})
    with pytest.raises(ConfigError, match="was trained with"):
        check_resumable(saved, wider, saved["tokenizer"]["sha256"], alone)
    with pytest.raises(ConfigError, match="tokenizer"):
        check_resumable(saved, saved["dims"], "0" * 64, alone)


def test_wandb_receives_the_whole_resolved_config(cache, tmp_path, monkeypatch):
    import xlmr.loggers

    seen = {}
    original = xlmr.loggers.make_wandb_logger

    def spy(run_dir, project, entity, mode, group, name, config, tags):
        seen.update(config)
        return original(run_dir, project, entity, mode, group, name, config, tags)

    monkeypatch.setattr(xlmr.loggers, "make_wandb_logger", spy)
    cfg = tiny_cfg(cache, "langs=[en,sw]", "train.max_steps=2", "logger=wandb")
    run(cfg, tmp_path / "wb", "test", "wb")
    from xlmr.config import flat_config

    everything = flat_config(cfg)
    named = {"model.name": "model", "train.name": "train", "corpus.name": "corpus"}  # a group's option: its key
    assert {named.get(k, k) for k in everything} <= set(seen["knobs"]) | set(seen["implementation"])
    assert seen["implementation"]["trainer.precision"] == cfg.trainer.precision and "paths.cache_dir" in seen["implementation"]
    assert seen["knobs"]["train.mask_prob"] == cfg.train.mask_prob and seen["knobs"]["corpus.p_code_switch"] == 0.3


@pytest.mark.slow
def test_torch_compile_trains_and_keeps_checkpoints_portable(cache, tmp_path):
    import torch

    cfg = tiny_cfg(cache, "langs=[en,sw]", "train.max_steps=3", "trainer.compile=true")
    result = run(cfg, tmp_path / "compiled", "test", "compiled")
    assert result["status"] == "done" and result["steps"] == 3
    state = torch.load(tmp_path / "compiled" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert not [k for k in state["state_dict"] if "_orig_mod" in k]  # the same keys as an uncompiled run


def test_a_local_parallel_worker_keeps_a_harmless_handler_for_a_second_sigterm(monkeypatch):
    # The first SIGTERM becomes Ctrl-C. A second one can already be pending when it does (`timeout` and
    # `kill -- -PGID` signal the whole group, and the sweep passes its own on): CPython then raises
    # "OSError: Signal 15 ignored due to race condition" mid-training unless a Python handler is installed
    # (seen on the GPU machine, a sweep stopped by `timeout`).
    import os
    import signal

    from xlmr.run import _sigterm_as_ctrl_c

    sent = []
    monkeypatch.setattr(os, "kill", lambda pid, signum: sent.append(signum))
    before = signal.getsignal(signal.SIGTERM)
    try:
        _sigterm_as_ctrl_c(signal.SIGTERM, None)
        after = signal.getsignal(signal.SIGTERM)
        assert sent == [signal.SIGINT]
        assert callable(after) and after is not _sigterm_as_ctrl_c
        after(signal.SIGTERM, None)  # a later SIGTERM: nothing happens
        assert sent == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGTERM, before)
