#!/usr/bin/env bash
# The README's test command: set up .venv, then run the default (fast) test tier.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` or `-m slurm`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WANDB_SILENT=true WANDB_MODE=offline
exec .venv/bin/python -m pytest "$@"
