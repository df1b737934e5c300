#!/usr/bin/env bash
# The README's main command: set up .venv, run the CPU-scale sweeps of Fig. 2 (language count, 3 seeds)
# and Fig. 5 (sampling α, 3 seeds; its α = 0.3 runs are Fig. 2's 7-language runs' configs) on the
# embedded synthetic corpus, then draw their figures into figures/<sweep>/{transfer,bpc}/: zero-shot
# transfer (with chance and bag-of-words lines) and held-out MLM bits per character.
# About 50 minutes on 2 CPU cores (18 runs of ~2.5 min, 30-language runs the slowest). Re-running skips
# finished runs (and resumes interrupted ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WANDB_MODE=${WANDB_MODE:-offline} WANDB_SILENT=true
for sweep in fig2_langs_cpu fig5_alpha_cpu; do
  .venv/bin/python train.py -m sweep=$sweep "$@"
  for metric in transfer_acc mlm_bpc; do
    dir=figures/$sweep/$([ $metric = transfer_acc ] && echo transfer || echo bpc)
    .venv/bin/python -m analysis figures runs/$sweep --out "$dir" --metric $metric
  done
done
echo "figures: $(ls figures/*/*/*.png | tr '\n' ' ')"
