"""What a run prints: timed stage lines, progress, a closing summary, no library noise; its own lines in
train.log too; a local sweep's run k of N; runs side by side (hydra/launcher=local_parallel) name their lines."""

import json
import logging
import re
import warnings

import pytest

from _shared import TINY, run_train
from xlmr import console
from xlmr.record import RunRecord, metrics_table

NOISE = ("GPU available", "TPU available", "litlogger", "srun", "LeafSpec", "anonymous setting",
         "weights_only", "Automatic Mixed Precision")


def test_duration_reads_like_a_person_would_write_it():
    assert [console.duration(s) for s in (3.21, 59.9, 125, 3720)] == ["3.2s", "59.9s", "2m05s", "1h02m"]


def test_stage_prints_one_timed_line_and_nothing_when_it_fails(caplog):
    caplog.set_level(logging.INFO, logger="xlmr")
    with console.stage("data", "shards") as notes:
        notes.append("4.5M tokens")
    assert re.fullmatch(r"\[data\] shards: 4\.5M tokens \(\d+\.\ds\)", caplog.messages[-1])
    with pytest.raises(ValueError), console.stage("data", "tokenizer"):
        raise ValueError("bad")
    assert not any("tokenizer" in m for m in caplog.messages)


def test_bars_only_on_a_terminal(monkeypatch):
    console.set_progress("lines")
    assert console.bar(range(3)).disable
    console.set_progress("bar")
    assert not console.bar(range(3)).disable
    console.set_progress("auto")  # pytest's stderr is not a terminal
    assert console.progress_mode() == "lines"
    with pytest.raises(ValueError, match="valid are auto, bar, lines, off"):
        console.set_progress("fancy")


def test_known_library_noise_is_silenced():
    console.silence_library_noise()
    assert logging.getLogger("pytorch_lightning").level == logging.WARNING
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        console.silence_library_noise()  # the filters go in front of the "default" one
        warnings.warn("The `srun` command is available on your system but is not used.")
        warnings.warn("a warning of our own")
    assert [str(w.message) for w in caught] == ["a warning of our own"]


def test_closing_summary_has_the_group_metrics_and_the_record_path(tmp_path):
    record = RunRecord(sweep="s", run="r", knobs={}, code_version="v", owner="me", resumed=False, steps=2400,
                       wall_time_s=151.0, groups={"high": {"mlm_bpc": 1.5, "transfer_acc": 0.8},
                                                  "low": {"mlm_bpc": 2.25}})
    lines = record.closing_summary(tmp_path).splitlines()
    assert lines[0] == f"[done] s/r in 151s, 2,400 steps; record: {tmp_path / 'result.json'}"
    assert lines[1].split() == ["group", "mlm_bpc", "transfer_acc"]
    assert lines[2].split() == ["high", "1.500", "0.800"] and lines[3].split() == ["low", "2.250", "–"]
    assert metrics_table({"all": {"n_pairs": 3}}) == []


def test_a_run_tells_what_it_does_and_a_sweep_counts_its_runs(tmp_path):
    r = run_train("-m", *TINY, "seed=0,1", "trainer.log_every_steps=2", f"paths.runs_dir={tmp_path}/runs",
                  f"paths.cache_dir={tmp_path}/cache")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    out = r.stdout
    for stage in ("synthetic corpus", "tokenizer", "shards"):
        assert re.search(rf"^\[data\] {stage}: .* \(\d+\.\ds\)$", out, re.MULTILINE), stage
    assert re.search(r"^\[train\] step 12/12 \(100%\) · loss \d+\.\d{3} · [\d.]+k tokens/s", out, re.MULTILINE)
    assert re.search(r"^\[eval\] held-out MLM: 7 languages, bits/char high \d\.\d{3}", out, re.MULTILINE)
    assert re.search(r"^\[sweep\] run 1/2: .*seed=0,", out, re.MULTILINE)
    assert re.search(r"^\[sweep\] run 2/2: .*seed=1,.* · 1 finished in .*, ~.* per run, ~.* left$", out, re.MULTILINE)
    runs = sorted(p.parent for p in (tmp_path / "runs" / "default").glob("*/result.json"))
    assert len(runs) == 2 and out.count("[done] default/") == 2 and f"record: {runs[0] / 'result.json'}" in out
    assert not [n for n in NOISE if n in out + r.stderr], out + r.stderr
    log = (runs[0] / "train.log").read_text()  # the project's own lines, timestamped, in the run's log
    assert re.search(r"\]\[xlmr\]\[INFO\] \[train\] step 12/12", log) and f"[done] default/{runs[0].name}" in log
    assert "[sweep]" not in log  # the sweep's lines are not a run's
    # validation curves by default (about 8 points), each step logged once
    steps = [int(line.split(",")[0]) for line in (runs[0] / "metrics.csv").read_text().splitlines()[1:]
             if ",val/group/all/mlm_bpc," in line]
    assert steps == sorted(set(steps)) and len(steps) >= 4 and steps[-1] == 12


def test_a_run_sharing_the_terminal_tags_its_terminal_lines_not_its_log(tmp_path, monkeypatch):
    root = logging.getLogger()
    terminal, log_file = logging.StreamHandler(), logging.FileHandler(tmp_path / "train.log")
    monkeypatch.setattr(root, "handlers", [terminal, log_file])
    monkeypatch.setattr(console, "_shared_terminal", False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    console.set_progress("auto")
    assert console.progress_mode() == "bar"
    console.share_terminal("seed=1")
    record = logging.LogRecord("xlmr", logging.INFO, __file__, 1, "[train] step 1/2", None, None)
    assert terminal.format(record) == "[seed=1] [train] step 1/2"
    assert log_file.formatter is None  # the run's own train.log keeps its format
    assert console.progress_mode() == "lines"  # two runs' bars on one terminal would overwrite each other


def test_a_parallel_local_sweep_runs_two_at_once_and_tags_their_lines(tmp_path):
    from xlmr.run import runs_share_terminal

    assert runs_share_terminal("hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher")
    assert not runs_share_terminal("hydra_plugins.xlmr_sweeper._slurm_launcher.XlmrSlurmLauncher")
    r = run_train("-m", *TINY, "seed=0,1", "trainer.accelerator=cpu", "hydra/launcher=local_parallel",
                  "hydra.launcher.n_jobs=2", f"paths.runs_dir={tmp_path}/runs", f"paths.cache_dir={tmp_path}/cache")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "[sweep] 2 run(s) to JoblibLauncher" in r.stdout
    assert "Joblib.Parallel" not in r.stdout + r.stderr and "#0 : " not in r.stdout + r.stderr  # the plan says it
    for seed in (0, 1):  # every line of a run names it
        lines = [line for line in r.stdout.splitlines() if re.match(rf"\[[^]]*seed={seed}\b[^]]*\] ", line)]
        assert any("[train] step 12/12 (100%)" in line for line in lines), r.stdout[-3000:]
        assert any("[done] default/" in line for line in lines)
    assert re.search(r"2 done", r.stdout)
    runs = sorted((tmp_path / "runs" / "default").glob("*/result.json"))
    assert len(runs) == 2
    assert "[seed=" not in runs[0].with_name("train.log").read_text()
    import joblib  # each run trained on its share of the cores (joblib caps a worker's threads)

    threads = max(1, joblib.cpu_count() // 2)
    assert all(json.loads(p.read_text())["peak_source"].endswith(f", {threads} CPU threads") for p in runs)
