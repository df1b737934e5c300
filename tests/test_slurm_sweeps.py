"""The `slurm` tier: sweeps through hydra-submitit-launcher on a real one-node Slurm (scripts/slurm-up.sh)."""

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _shared import ROOT, TINY, run_train, tiny_cfg
from xlmr.run import read_result, run

pytestmark = pytest.mark.slurm

# CPU jobs on the local cluster: 1 CPU each (2 for DDP), little memory, a time limit >= 11 min so that a
# USR2 counts as preemption for submitit (slurm-local.md), and 1 torch thread so that results do not
# depend on how many cores a job happens to see.
SLURM = ["hydra/launcher=slurm", "trainer.accelerator=cpu", "trainer.threads=1", "hydra.launcher.cpus_per_task=1",
         "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=15"]


def sweep_args(tmp_path: Path, *extra: str, synthetic: bool = True) -> list[str]:
    tiny = [o for o in TINY if synthetic or not o.startswith("corpus.")]
    return ["-m", *tiny, *SLURM, *extra, f"paths.runs_dir={tmp_path}/runs", f"paths.cache_dir={tmp_path}/cache"]


def run_dirs(tmp_path: Path, name: str = "default") -> list[Path]:
    return sorted(p for p in (tmp_path / "runs" / name).iterdir() if p.is_dir() and not p.name.startswith("."))


def test_four_run_sweep_completes_and_shares_data(slurm_cluster, tmp_path):
    r = run_train(*sweep_args(tmp_path, "alpha=0.3,1.0", "seed=0,1"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "4 done" in r.stdout
    dirs = run_dirs(tmp_path)
    assert len(dirs) == 4 and all(read_result(d)["status"] == "done" for d in dirs)
    # 4 jobs raced for the data: one tokenizer per alpha (seeds share it), corpus built once per language
    assert len(list((tmp_path / "cache" / "tokenizer").glob("*/manifest.json"))) == 2
    assert len(list((tmp_path / "cache" / "corpus").glob("*/manifest.json"))) == 7
    assert not list((tmp_path / "cache").glob("*/.*tmp*"))  # no half-written artifact left behind
    again = run_train(*sweep_args(tmp_path, "alpha=0.3,1.0", "seed=0,1"))
    assert again.returncode == 0 and "4 skipped" in again.stdout


def _wait_for(predicate, timeout: float, what: str):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _job_id() -> str | None:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True).stdout.split()
    return out[0] if len(out) >= 2 and out[1] == "RUNNING" else None


def test_preempted_run_checkpoints_requeues_and_ends_like_an_uninterrupted_one(slurm_cluster, tmp_path):
    # 400 updates (~13 s on one thread) and a row in metrics.csv from the first update on: the signal must land
    # while training runs, and at 150 updates with rows every 10th a CI run once finished before it (2026-11-28)
    budget = ["train.max_steps=400", "train.warmup_steps=10", "trainer.ckpt_every_steps=1000",
              "trainer.log_every_steps=1", "logger=wandb"]
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *sweep_args(tmp_path, *budget)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        job = _wait_for(_job_id, 60, "the job to run")
        metrics = lambda: [p for p in (tmp_path / "runs" / "default").glob("*/metrics.csv")]  # noqa: E731
        csv = _wait_for(metrics, 120, "training to start")[0]
        _wait_for(lambda: "train/loss" in csv.read_text(), 120, "the first logged training steps")
        subprocess.run(["scancel", "--signal=USR2", job], check=True)  # what Slurm sends before preemption
        out, _ = proc.communicate(timeout=400)
    finally:
        proc.kill()
    assert proc.returncode == 0, out[-4000:]
    run_dir = run_dirs(tmp_path)[0]
    result = read_result(run_dir)
    assert result["status"] == "done" and result["resumed"] and result["steps"] == 400, result
    log = (run_dir.parent / ".submitit").glob(f"{job}*/*_log.out")
    assert any("[preemption] saved" in p.read_text() for p in log), "no checkpoint was written on the signal"
    # the same W&B run id across both process starts, one offline folder per start
    run_id = (run_dir / "wandb_id.txt").read_text()
    folders = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(folders) == 2 and all(f.name.endswith(run_id) for f in folders)
    # the uninterrupted reference, here, in-process, with the same science config
    cfg = tiny_cfg(tmp_path / "cache", *[o for o in budget if not o.startswith("logger")], "trainer.threads=1",
                   "trainer.accelerator=cpu")
    reference = run(cfg, tmp_path / "reference", "test", "reference")
    assert result["languages"] == reference["languages"]


def test_two_task_cpu_ddp_run_through_slurm(slurm_cluster, tmp_path):
    r = run_train(*sweep_args(tmp_path, "trainer.devices=2", "trainer.micro_batch_size=16", "seed=0"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = read_result(run_dirs(tmp_path)[0])
    assert result["status"] == "done" and result["world_size"] == 2 and result["steps"] == 12
    assert len(result["languages"]) == 7


def test_failed_run_is_reported_and_a_rerun_completes_it(slurm_cluster, tmp_path):
    corpus = tmp_path / "cc100"
    corpus.mkdir()
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 8))) for _ in range(400)]
    docs = "\n\n".join("\n".join(" ".join(rng.choices(words, k=8)) for _ in range(3)) for _ in range(300))
    (corpus / "en.txt").write_text(docs)
    (corpus / "fr.txt").write_text(docs.upper())
    (corpus / "sw.txt").write_text("one single document\nwith two lines\n")  # too little for a valid split
    args = sweep_args(tmp_path, "corpus=cc100", f"corpus.path={corpus}", "vocab_size=300",
                      "tokenizer.sample_sentences=2000", "langs=[en,fr],[en,sw]", synthetic=False)
    first = run_train(*args)
    assert first.returncode == 1, first.stdout[-3000:]
    assert "1 done" in first.stdout and "1 failed" in first.stdout
    # bad input found inside the job: one line in the summary, naming the file; no run directory left
    assert "sw.txt: too little text: 1 document(s)" in first.stdout
    assert [d.name for d in run_dirs(tmp_path) if "sw" in d.name] == []
    (corpus / "sw.txt").write_text(docs.title())  # the user fixes the data …
    second = run_train(*args)  # … and re-runs the same command: only the failed run runs again
    assert second.returncode == 0, second.stdout[-3000:]
    assert "1 done" in second.stdout and "1 skipped" in second.stdout


def test_rerun_submits_no_job_for_queued_running_or_finished_runs(slurm_cluster, tmp_path):
    """Re-running a sweep while its jobs are queued or running submits nothing; neither does re-running it
    after they finished. Each job runs the code snapshot taken at submission and records its version."""
    args = sweep_args(tmp_path, "seed=0,1")
    first = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        records = lambda: list((tmp_path / "runs" / "default").glob("*/slurm_job.json"))  # noqa: E731
        _wait_for(lambda: len(records()) == 2, 120, "the jobs' ids in the run directories")
        submissions = lambda: {p.name for p in (tmp_path / "runs" / "default" / ".submitit").iterdir()}  # noqa: E731
        before = submissions()
        second = run_train(*args)  # while the first sweep's jobs are queued or running
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        assert second.stdout.count("— not submitted again") == 2 and "2 queued" in second.stdout
        assert submissions() == before
        out, _ = first.communicate(timeout=600)
    finally:
        first.kill()
    assert first.returncode == 0 and "2 done" in out, out[-3000:]
    third = run_train(*args)
    assert third.returncode == 0 and "2 skipped" in third.stdout and submissions() == before
    for d in run_dirs(tmp_path):
        job = json.loads((d / "slurm_job.json").read_text())
        assert (Path(job["snapshot"]) / "xlmr" / "run.py").is_file()
        # code_version comes from the snapshot's CODE_VERSION file only when the job imported the snapshot
        assert read_result(d)["code_version"] == job["code_version"] == (Path(job["snapshot"]) / "CODE_VERSION").read_text().strip()
    assert not (ROOT / "CODE_VERSION").exists()


def test_a_sweep_that_does_not_wait_is_followed_with_status(slurm_cluster, tmp_path):
    """hydra.launcher.wait=false: the launching process returns once Slurm has the jobs; `python -m analysis
    status` shows them queued or running, then done; a re-run submits nothing for jobs still alive."""
    args = sweep_args(tmp_path, "seed=0,1", "hydra.launcher.wait=false")
    r = run_train(*args)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "2 submitted" in r.stdout and "python -m analysis status" in r.stdout
    # it returned while the runs were still to be trained (a waiting sweep returns only when both are done)
    assert [(read_result(d) or {}).get("status") for d in run_dirs(tmp_path)] != ["done", "done"]

    def status() -> str:
        return subprocess.run([sys.executable, "-m", "analysis", "status", str(tmp_path / "runs" / "default")],
                              capture_output=True, text=True, cwd=ROOT, timeout=60).stdout

    first = status().splitlines()
    assert first[-1].startswith("2 run(s): ") and all(line.split()[0] in ("queued", "running", "done")
                                                       for line in first[1:-1]), first
    _wait_for(lambda: status().splitlines()[-1] == "2 run(s): 2 done", 600, "both runs done")
    assert status().count("12/12") == 2
    again = run_train(*args)
    assert again.returncode == 0 and "2 skipped" in again.stdout


def test_prepare_only_fans_the_data_out_as_slurm_arrays_and_matches_one_process(slurm_cluster, tmp_path):
    """prepare_only=true with hydra/launcher=slurm: corpora and (language × chunk) shard tasks run as Slurm
    job arrays; the shards equal, byte for byte, those one process builds."""
    args = [*TINY, *SLURM, "langs=[en,fr,sw]", "data.chunk_mb=1", f"paths.runs_dir={tmp_path}/runs"]
    r = run_train("-m", *args, "prepare_only=true", "seed=0,1", f"paths.cache_dir={tmp_path}/fanned")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count("task(s) submitted to Slurm") == 3  # arrays for the corpora, the tokenizer, the chunks
    assert "[prepare] 2 run(s): 2 data artifact(s) ready" in r.stdout
    one = run_train(*[a for a in args if not a.startswith("hydra")], "prepare_only=true",
                    f"paths.cache_dir={tmp_path}/single")
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    fanned, single = (sorted((tmp_path / c / "shards").glob("*/manifest.json")) for c in ("fanned", "single"))
    assert [p.parent.name for p in fanned] == [p.parent.name for p in single] and len(fanned) == 1
    for path in sorted(fanned[0].parent.iterdir()):
        other = single[0].parent / path.name
        if path.name == "manifest.json":  # the same but for when and how fast it was built
            drop = lambda m: {k: v for k, v in m.items() if k not in ("created", "build_seconds", "host")}
            assert drop(json.loads(path.read_text())) == drop(json.loads(other.read_text()))
        else:
            assert path.read_bytes() == other.read_bytes(), path.name
    assert not list((tmp_path / "fanned" / "shards").glob(".parts-*"))  # merged, then removed
