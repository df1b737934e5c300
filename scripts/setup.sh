#!/usr/bin/env bash
# Create .venv in the repository root and install the project into it (editable, with test extras).
# Idempotent: a second call only checks. Torch is pinned first: a bare `torch>=2.4` requirement in a
# fresh venv would pull a multi-GB CUDA build; `torch==2.13.0` takes the local CPU wheel here and the
# CUDA build from PyPI on a GPU machine. Override with TORCH_SPEC='torch==X.Y.Z'.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
export PIP_DISABLE_PIP_VERSION_CHECK=1
stamp=.venv/.xlmr-installed
want="$(sha256sum pyproject.toml | cut -c1-16) $TORCH_SPEC"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c "import xlmr, torch, pytorch_lightning" 2>/dev/null; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
start=$SECONDS
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q "$TORCH_SPEC" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import xlmr, torch, pytorch_lightning, hydra, sentencepiece, wandb" \
  || { echo "setup: the environment is incomplete (see pip's output above)" >&2; exit 1; }
echo "$want" > "$stamp"
echo "[setup] .venv ready in $((SECONDS - start))s: $(.venv/bin/python -c 'import torch; print("torch", torch.__version__)')"
