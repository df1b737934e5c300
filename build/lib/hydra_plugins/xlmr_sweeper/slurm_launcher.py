"""Registers the project's Slurm launcher (hydra/launcher=slurm, implemented in _slurm_launcher.py) where
the [slurm] extra (submitit, hydra-submitit-launcher) is installed.

Hydra imports every module of `hydra_plugins` at start-up and warns about one that fails to import, so
this one must import without submitit (Hydra's scan skips modules whose name starts with one underscore).
Without the extra, a stand-in config lets `hydra/launcher=slurm` compose, and xlmr/preflight.py refuses it
with the line that says what to install.
"""

import importlib.util

from hydra.core.config_store import ConfigStore

SLURM_EXTRA = ("submitit", "hydra_plugins.hydra_submitit_launcher")
LAUNCHER_TARGET = "hydra_plugins.xlmr_sweeper._slurm_launcher.XlmrSlurmLauncher"


def have_slurm_extra() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in SLURM_EXTRA)


if have_slurm_extra():
    from hydra_plugins.xlmr_sweeper._slurm_launcher import XlmrSlurmConf, XlmrSlurmLauncher  # noqa: F401
else:
    ConfigStore.instance().store(group="hydra/launcher", name="xlmr_slurm", node={"_target_": LAUNCHER_TARGET},
                                 provider="xlmr")
