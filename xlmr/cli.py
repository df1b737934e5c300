"""Console scripts: `xlmr-train` is `python train.py`, `xlmr-analysis` is `python -m analysis`.

They work from a clone (the editable install of scripts/setup.sh) and from an installed wheel: the config
tree is part of the package (xlmr/conf; conf/ at the top of the clone links to it).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from xlmr.config import conf_dir, register_configs


def _task(cfg: DictConfig) -> dict:
    from xlmr.run import run_from_hydra  # heavy imports (torch, Lightning) only when a run starts

    return run_from_hydra(cfg)


def train() -> None:
    register_configs()
    # The job name is fixed in conf/config.yaml (hydra.job.name: train): every entry point logs to train.log.
    hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="config")(_task)()
