#!/usr/bin/env bash
# The README's main command: set up .venv, run the CPU-scale sweeps of Fig. 2 (language count),
# Fig. 5 (sampling α) and Fig. 6 (vocabulary size) on the embedded synthetic corpus, then draw their
# figures into figures/.
# About 35 minutes on 2 CPU cores. Re-running skips finished runs (and resumes interrupted ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WANDB_MODE=${WANDB_MODE:-offline} WANDB_SILENT=true
for sweep in fig2_langs_cpu fig5_alpha_cpu fig6_vocab_cpu; do
  .venv/bin/python train.py -m sweep=$sweep "$@"
  .venv/bin/python -m analysis figures runs/$sweep --out figures/$sweep --metric mlm_bpc  # --metric transfer_acc: zero-shot transfer instead
done
echo "figures: $(ls figures/*/*.png | tr '\n' ' ')"
