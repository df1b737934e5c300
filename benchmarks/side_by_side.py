"""Training throughput of one run using all CPU cores against several runs side by side, one share each.

Why: a sweep's runs are independent. On a small model (model=tiny: 128-wide matmuls) two threads do not keep
two cores busy, so two 1-thread runs at once may train more tokens per second in all than one 2-thread run
(what hydra/launcher=local_parallel does). This measures it: each round runs `train_step.py` (our model only,
the default run's dimensions unless told otherwise) once alone with every thread, then `--runs` copies at
once with threads / runs each, alternating so that both see the same machine load. It prints per round the
tokens/s of the lone run, the sum over the side-by-side runs, and their ratio, then the median ratio.

    python benchmarks/side_by_side.py                   # 2 runs × 1 thread against 1 run × 2 threads
    python benchmarks/side_by_side.py --rounds 5 --steps 80
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

HERE = Path(__file__).resolve().parent
# The default run: model=tiny (L2 H128 FFN512, 2 heads), seq 64 × 32 sequences, vocab 4,002, bf16, no dropout
DEFAULT_STEP_ARGS = ["--layers", "2", "--hidden", "128", "--heads", "2", "--ffn", "512", "--seq", "64",
                     "--batch", "32", "--vocab", "4002", "--dtype", "bf16", "--dropout", "0"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--runs", type=int, default=2, help="runs side by side")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of the lone run (all cores)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    p.add_argument("--steps", type=int, default=60, help="measured steps per run and round")
    p.add_argument("--warmup", type=int, default=10, help="unmeasured steps first")
    p.add_argument("--step-args", default=" ".join(DEFAULT_STEP_ARGS),
                   help="train_step.py flags for the model and batch (one string)")
    args = p.parse_args(argv)
    if args.runs < 1 or args.threads < args.runs:
        p.error(f"--runs {args.runs} with --threads {args.threads}: need 1 ≤ runs ≤ threads (each run ≥ 1 thread)")
    return args


def _start(step_args: list[str], threads: int, steps: int, warmup: int, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, str(HERE / "train_step.py"), *step_args, "--models", "ours", "--threads", str(threads),
           "--steps", str(steps), "--warmup", str(warmup), "--json", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def tokens_per_s(n_runs: int, threads: int, args: argparse.Namespace, tmp: Path) -> float:
    """Summed median tokens/s of n_runs copies of the step started at once, `threads` threads each."""
    outs = [tmp / f"run{i}.json" for i in range(n_runs)]
    procs = [_start(args.step_args.split(), threads, args.steps, args.warmup, out) for out in outs]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"train_step.py failed (exit {proc.returncode}): {err.strip().splitlines()[-1:]}")
    return sum(json.loads(out.read_text())["rows"][0]["tokens_per_s"] for out in outs)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    shared = args.threads // args.runs
    print(f"# {args.runs} runs × {shared} thread(s) against 1 run × {args.threads} threads; "
          f"train_step.py {args.step_args}; {args.steps} steps after {args.warmup}; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    print("| round | alone tokens/s | side by side tokens/s (sum) | ratio |\n|---|---|---|---|", flush=True)
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.rounds):
            alone = tokens_per_s(1, args.threads, args, Path(tmp))
            together = tokens_per_s(args.runs, shared, args, Path(tmp))
            rounds.append({"round": k + 1, "alone": alone, "side_by_side": together, "ratio": together / alone})
            print(f"| {k + 1} | {alone:,.0f} | {together:,.0f} | {together / alone:.2f}× |", flush=True)
    print(f"# median ratio {statistics.median(r['ratio'] for r in rounds):.2f}× over {len(rounds)} rounds")
    return rounds


if __name__ == "__main__":
    main()
