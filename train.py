"""Train one XLM-R-style masked LM per config; Hydra expands sweeps (`-m`). Installed as `xlmr-train`.

    python train.py                                  # one small CPU run on the embedded corpus
    python train.py -m model=base,large langs=7,15,30,100
    python train.py -m sweep=fig2_langs              # a named sweep from sweeps/
    python train.py --cfg job model=large langs=100  # print the composed config

Everything happens in xlmr.run; xlmr/cli.py wires Hydra to it.
"""

from xlmr.cli import train

if __name__ == "__main__":
    train()
