"""Helpers shared by the tests: compose the real Hydra config and shrink it to test scale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from xlmr.config import conf_dir, register_configs

ROOT = Path(__file__).resolve().parent.parent

# A corpus and budget small enough for a test: ~12k sentences over 7 languages, 12 updates of 1,024 tokens.
TINY = [
    "train=debug", "logger=none", "vocab_size=600", "tokenizer.sample_sentences=6000",
    "corpus.total_sentences=60000", "corpus.min_sentences=600", "trainer.eval_batch_size=32",
    "data.eval_sequences=32", "trainer.ckpt_every_steps=4", "eval.transfer.enabled=false",
]


def compose_cfg(*overrides: str, cache_dir: Path | None = None) -> DictConfig:
    register_configs()
    extra = [f"paths.cache_dir={cache_dir}"] if cache_dir else []
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=[*overrides, *extra])


def tiny_cfg(cache_dir: Path, *overrides: str) -> DictConfig:
    return compose_cfg(*TINY, *overrides, cache_dir=cache_dir)


def run_train(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run train.py as a user would, in a subprocess."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "WANDB_SILENT": "true"}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
