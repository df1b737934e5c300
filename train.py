"""Train one XLM-R-style masked LM per config; Hydra expands sweeps (`-m`).

    python train.py                                  # one small CPU run on the embedded corpus
    python train.py -m model=base,large langs=7,15,30,100
    python train.py -m sweep=fig2_langs              # a named sweep from sweeps/
    python train.py --cfg job model=large langs=100  # print the composed config

Everything happens in xlmr.run; this file only wires Hydra to it.
"""

import hydra
from omegaconf import DictConfig

from xlmr.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    from xlmr.run import run_from_hydra  # heavy imports (torch, Lightning) only when a run starts

    return run_from_hydra(cfg)


if __name__ == "__main__":
    main()
