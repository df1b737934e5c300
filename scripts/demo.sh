#!/usr/bin/env bash
# The README's main command: set up .venv, run the CPU-scale sweeps of Fig. 2 (language count, 3 seeds)
# and Fig. 5 (sampling α, 3 seeds) on the embedded synthetic corpus, then draw their figures into
# figures/<sweep>/{transfer,bpc}/: zero-shot transfer (with chance and bag-of-words lines) and held-out MLM
# bits per character. Fig. 5's α = 0.3 point is Fig. 2's 7-language runs (the same configuration: trained
# once, read by both figures), so its sweep here trains α = 0.1 and 1.0 only.
# Measured from a fresh clone on 2 CPU cores with native bf16 (AVX-512 BF16; 2026-11-27, today's recipe: 1,800 updates,
# pre-LN, WSD): 19.7 min (1.1 min of set-up, Fig. 2's sweep 11.7 min, Fig. 5's 6.7 min, 2.0-2.6 min a run). On cores
# without AVX-512 (fp32): 50.3 min (2026-11-26). Re-running skips finished runs (and resumes interrupted ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WANDB_MODE=${WANDB_MODE:-offline} WANDB_SILENT=true
# Runs side by side, one per core (hydra/launcher=local_parallel): at this model size 1.4× the tokens/s of one
# run on every core (benchmarks/RESULTS.md, "Runs side by side").
.venv/bin/python train.py -m sweep=fig2_langs_cpu hydra/launcher=local_parallel "$@"
.venv/bin/python train.py -m sweep=fig5_alpha_cpu alpha=0.1,1.0 hydra/launcher=local_parallel "$@"
shopt -s nullglob
fig2=(runs/fig2_langs_cpu)
fig5=(runs/fig5_alpha_cpu/*alpha=0.1,* runs/fig5_alpha_cpu/*alpha=1.0,* runs/fig2_langs_cpu/*langs=7,*)
for metric in transfer_acc mlm_bpc; do
  kind=$([ $metric = transfer_acc ] && echo transfer || echo bpc)
  .venv/bin/python -m analysis figures "${fig2[@]}" --out figures/fig2_langs_cpu/$kind --metric $metric
  .venv/bin/python -m analysis figures "${fig5[@]}" --out figures/fig5_alpha_cpu/$kind --metric $metric
done
echo "figures: $(ls figures/*/*/*.png | tr '\n' ' ')"
