"""How long a 100-run sweep plan takes (`plan_only=true`): Hydra composes every job's config, the sweeper
validates it and prices it (xlmr/plan.py). Prints the measured seconds of each repetition and their median.

    python benchmarks/plan.py [--repeat 3]

Measured as the wall time of the whole command, as a user sees it (interpreter start and imports included),
on a fresh runs and cache directory (so every run is "new" and no data is cached).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# 2 models × 5 language sets × 2 alphas × 5 vocab sizes = 100 runs
GRID = ["model=base,large", "langs=7,15,30,60,100", "alpha=0.3,0.7", "vocab_size=32000,64000,128000,250000,500000"]


def main(argv: list[str] | None = None) -> list[float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    seconds = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            out = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", *GRID, "plan_only=true",
                                  f"paths.runs_dir={tmp}/runs", f"paths.cache_dir={tmp}/cache"],
                                 capture_output=True, text=True, cwd=ROOT)
            seconds.append(time.perf_counter() - start)
            if out.returncode != 0 or "100 run(s)" not in out.stdout:
                sys.exit(f"plan failed: {out.stderr[-2000:]}")
    print(f"100-run plan: {', '.join(f'{s:.2f}' for s in seconds)} s; median {statistics.median(seconds):.2f} s")
    return seconds


if __name__ == "__main__":
    main()
