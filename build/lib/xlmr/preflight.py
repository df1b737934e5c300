"""Checks that run before Hydra creates anything (a Hydra callback, conf/config.yaml `hydra.callbacks`).

A single run (`python train.py …`) is validated here, before Hydra makes its run directory, so a rejected
run leaves nothing behind; a sweep's runs are validated by the sweeper (hydra_plugins/xlmr_sweeper), and
its launcher's resources here. Both check that the runs directory can be written. Every refusal is one
line on stderr and exit status 2.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from xlmr.fields import ConfigError

# hydra-submitit-launcher options that are resources: each with its smallest valid value (None = unset)
LAUNCHER_MINIMUMS = {"timeout_min": 1, "cpus_per_task": 1, "mem_gb": 1, "nodes": 1, "tasks_per_node": 1,
                     "gpus_per_node": 0, "signal_delay_s": 0, "max_num_timeout": 0, "array_parallelism": 1}


def refuse(err: ConfigError) -> None:
    print(f"error: {err}", file=sys.stderr)
    raise SystemExit(2)


def check_writable(path: Path, key: str, value: Any) -> None:
    """Raise ConfigError (naming `key`=`value`) unless `path` is a writable directory or could be created."""
    probe = Path(path).absolute()
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(key, value, f"cannot be created: {probe} is not a directory")
    try:  # a real attempt: permission bits do not tell for root, read-only mounts or /proc
        tempfile.TemporaryDirectory(dir=probe, prefix=".xlmr-write-test-").cleanup()
    except OSError as err:
        raise ConfigError(key, value, f"cannot be written ({probe}: {err.strerror}); choose another directory") from None


def check_launcher(launcher: Any) -> None:
    if "slurm" in str(launcher.get("_target_", "")).lower():
        from hydra_plugins.xlmr_sweeper.slurm_launcher import have_slurm_extra

        if not have_slurm_extra():
            raise ConfigError("hydra/launcher", "slurm", "needs the [slurm] extra (submitit, hydra-submitit-launcher): "
                              "pip install -e '.[slurm]'")
    for name, minimum in LAUNCHER_MINIMUMS.items():
        value = launcher.get(name) if hasattr(launcher, "get") else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise ConfigError(f"hydra.launcher.{name}", value, f"must be a number >= {minimum}")


class Preflight(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from xlmr.config import validate

        try:
            if config.hydra.sweeper.get("params"):
                given = next((o.split("=", 1)[1] for o in config.hydra.overrides.task if o.startswith("sweep=")), "…")
                raise ConfigError("sweep", given, "defines a sweep, which needs multirun: add -m "
                                  f"(python train.py -m sweep={given})")
            validate(config)
            check_writable(Path(config.hydra.run.dir), "paths.runs_dir", config.paths.runs_dir)
            check_writable(Path(config.paths.cache_dir), "paths.cache_dir", config.paths.cache_dir)
        except ConfigError as err:
            refuse(err)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_writable(Path(config.hydra.sweep.dir), "paths.runs_dir", config.paths.runs_dir)
            check_writable(Path(config.paths.cache_dir), "paths.cache_dir", config.paths.cache_dir)
            check_launcher(config.hydra.launcher)
        except ConfigError as err:
            refuse(err)
