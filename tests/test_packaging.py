"""Console scripts from the clone's install and from a built wheel; the core needs none of the extras."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_console_scripts_work_outside_the_clone(tmp_path):
    train = subprocess.run([BIN / "xlmr-train", "--cfg", "job", "model=base"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120)
    assert train.returncode == 0, train.stderr[-2000:]
    assert "name: base" in train.stdout and "hidden: 768" in train.stdout
    (tmp_path / "runs" / "r").mkdir(parents=True)
    (tmp_path / "runs" / "r" / "result.json").write_text('{"status": "done"}')
    status = subprocess.run([BIN / "xlmr-analysis", "status", "runs"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert status.returncode == 0 and status.stdout.splitlines()[-1] == "1 run(s): 1 done", status.stderr


# The extras' packages that nothing in the core's dependencies probes for (Lightning and torchmetrics look for
# matplotlib and transformers themselves, and cope with their absence, but not with a blocked import)
EXTRAS = ("pandas", "pyarrow", "submitit", "hydra_plugins.hydra_submitit_launcher", "datasets", "wandb_workspaces")


def test_the_core_runs_without_the_extras(tmp_path):
    """With every extra's package made unimportable, a run still composes, validates and trains a few steps,
    and asking for the Slurm launcher says which extra to install."""
    block = f"import sys; sys.modules.update(dict.fromkeys({EXTRAS!r}))"  # None in sys.modules: ImportError
    run = (f"{block}; from xlmr.cli import train; sys.argv = ['xlmr-train', *sys.argv[1:]]; train()")
    args = ["train=debug", "logger=none", "vocab_size=600", "tokenizer.sample_sentences=6000",
            "corpus.total_sentences=60000", "corpus.min_sentences=600", "eval.transfer.enabled=false",
            "train.max_steps=2", f"paths.runs_dir={tmp_path}/runs", f"paths.cache_dir={tmp_path}/cache"]
    r = subprocess.run([sys.executable, "-c", run, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0 and "[done]" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    slurm = subprocess.run([sys.executable, "-c", run, "-m", "hydra/launcher=slurm", "plan_only=true", *args],
                           capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert slurm.returncode == 2 and "Traceback" not in slurm.stderr, slurm.stdout[-2000:] + slurm.stderr[-2000:]
    assert slurm.stderr.strip().splitlines()[-1] == (
        "error: hydra/launcher=slurm: needs the [slurm] extra (submitit, hydra-submitit-launcher): "
        "pip install -e '.[slurm]'")


@pytest.mark.slow
def test_a_built_wheel_carries_the_configs_and_the_console_scripts(tmp_path):
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert wheel.returncode == 0, wheel.stderr[-2000:]
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    *map(str, (tmp_path / "dist").glob("*.whl"))], check=True, capture_output=True, timeout=600)
    entry_points = next(target.glob("xlmr_scaling-*.dist-info")) / "entry_points.txt"
    assert "xlmr-train = xlmr.cli:train" in entry_points.read_text()
    # the installed package, not the clone: run from elsewhere with the install first on the path
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import sys, xlmr; assert xlmr.__file__.startswith(sys.argv[1]), xlmr.__file__; "
            "from xlmr.cli import train; sys.argv = ['xlmr-train', '--cfg', 'job', 'sweep=fig2_langs_cpu']; train()")
    r = subprocess.run([sys.executable, "-c", code, str(target)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "name: fig2_langs_cpu" in r.stdout  # the sweep files travel with the package's config tree
