"""Attention forward + backward: PyTorch's fused kernel (`F.scaled_dot_product_attention`) against the written-out
softmax(q kᵀ/√d) v that `xlmr.model.attention` runs on a CPU in bf16. Prints the median ms of each over the
measured rounds (the two alternate round by round, so machine noise hits both) and their ratio.

    python benchmarks/attention.py                         # CPU, bf16 and fp32, T = 64 … 512 at 2,048 tokens
    python benchmarks/attention.py --dtypes bf16 --seqs 64 --rounds 50
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from xlmr.model import written_out_attention

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def _fwd_bwd_ms(fn, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grad: torch.Tensor) -> float:
    t0 = time.perf_counter()
    fn(q, k, v, None).backward(grad)
    return (time.perf_counter() - t0) * 1e3


def measure(seq: int, tokens: int, heads: int, head_dim: int, dtype: torch.dtype, rounds: int, warmup: int
            ) -> dict[str, float]:
    """Median ms of one forward + backward of each implementation; batch = tokens // seq sequences."""
    torch.manual_seed(0)
    batch = max(1, tokens // seq)
    q, k, v = (torch.randn(batch, heads, seq, head_dim, dtype=dtype, requires_grad=True) for _ in range(3))
    grad = torch.randn(batch, heads, seq, head_dim, dtype=dtype)
    impls = {"fused": lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
             "written_out": written_out_attention}
    times: dict[str, list[float]] = {name: [] for name in impls}
    for r in range(warmup + rounds):
        for name, fn in impls.items():
            ms = _fwd_bwd_ms(fn, q, k, v, grad)
            if r >= warmup:
                times[name].append(ms)
    fused, ours = statistics.median(times["fused"]), statistics.median(times["written_out"])
    return {"seq": seq, "batch": batch, "dtype": str(dtype).removeprefix("torch."), "fused_ms": fused,
            "written_out_ms": ours, "speedup": fused / ours}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seqs", default="64,128,256,512", help="comma-separated sequence lengths")
    p.add_argument("--tokens", type=int, default=2048, help="tokens per batch (batch = tokens // seq)")
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--dtypes", default="bf16,fp32", help="comma-separated: bf16, fp32")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    args = p.parse_args(argv)
    args.seqs = [int(s) for s in args.seqs.split(",")]
    bad = [d for d in args.dtypes.split(",") if d not in DTYPES]
    if bad:
        p.error(f"--dtypes: {bad} not in {sorted(DTYPES)}")
    args.dtypes = [DTYPES[d] for d in args.dtypes.split(",")]
    return args


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, heads={args.heads} "
          f"head_dim={args.head_dim}, {args.tokens} tokens per batch, median of {args.rounds} rounds")
    print("| dtype | seq | batch | fused ms | written-out ms | fused / written-out |")
    print("|---|---|---|---|---|---|")
    rows = []
    for dtype in args.dtypes:
        for seq in args.seqs:
            row = measure(seq, args.tokens, args.heads, args.head_dim, dtype, args.rounds, args.warmup)
            print(f"| {row['dtype']} | {seq} | {row['batch']} | {row['fused_ms']:.2f} | {row['written_out_ms']:.2f} "
                  f"| {row['speedup']:.2f}× |")
            rows.append(row)
    return rows


if __name__ == "__main__":
    main()
