#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go (131 s on an H200, 2026-11-26):
#   1. the `gpu` test tier (tests/test_gpu.py);
#   2. the XLM-R-base training-step benchmark (seq 512, bf16, fused AdamW), eager and torch.compile'd,
#      then ours against Hugging Face's XLMRobertaForMaskedLM in one process (benchmarks/README.md),
#      then at 64 sequences a step, eager and compiled, and under torch.profiler (about 80 s more).
# Logs and JSON go to $OUT (default runs/gpu-checks). Record the numbers in benchmarks/RESULTS.md.
#
# Usage: bash scripts/gpu-checks.sh            (in the project's environment: .venv or an install)
#        BENCHES="eager compile-b64" bash scripts/gpu-checks.sh    (a subset of the benchmarks below, by name)
# On a machine whose python3 has torch but not the project's other packages, put their wheels in .whl/
# (hydra-core, omegaconf, antlr4-python3-runtime, and sentencepiece==0.2.3 for that machine's Python: another
# release builds another vocabulary, docs/synthetic-corpus.md "Tokenizer"; pip download … -d .whl) and they
# are installed into /tmp/site first, with the checkout itself on PYTHONPATH.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-runs/gpu-checks}
mkdir -p "$out"
py=${PYTHON:-python3}
[ -x .venv/bin/python ] && py=.venv/bin/python
if [ -d .whl ]; then
    "$py" -m pip install -q --no-index --find-links .whl --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site hydra-core omegaconf antlr4-python3-runtime "sentencepiece==0.2.3" \
        $(ls .whl | grep -q hydra_joblib && echo hydra-joblib-launcher) || exit 1
    export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 WANDB_SILENT=true

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$out/gpu.txt"
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())' \
    | tee -a "$out/gpu.txt"

status=0
# -rP: what passing tests print too (the cuDNN attention check reports what cuDNN's own kernel gives)
"$py" -m pytest -m gpu tests/test_gpu.py -q -rP -p no:cacheprovider 2>&1 | tee "$out/gpu-tests.log" || status=1

benches=" ${BENCHES:-eager compile vs-hf batch64 compile-b64 profile} "
bench() {  # $1: name; the rest: extra flags
    local name=$1; shift
    [[ $benches == *" $name "* ]] || return 0
    "$py" benchmarks/train_step.py --preset xlmr-base --adamw fused --json "$out/bench-$name.json" "$@" 2>&1 \
        | tee -a "$out/bench.log" || status=1
}
bench eager
bench compile --compile
bench vs-hf --models ours,hf --steps 10 --warmup 3
bench batch64 --batch 64  # MFU grows with the batch: 17% at 16 sequences, 22% at 64 (H200, RESULTS.md)
bench compile-b64 --compile --batch 64  # both levers together: 27.8% MFU (H200, RESULTS.md)
bench profile --steps 5 --warmup 3 --profile 3  # where a step's GPU time goes, by operator
exit $status
