"""Training-step throughput: our XLMRForMaskedLM against transformers' XLMRobertaForMaskedLM.

One step = forward, loss, backward, AdamW step, zero_grad. Both models get identical dimensions, the same
batch (same input ids, same masked targets from xlmr.data.mlm.mask_tokens: 15%, 80/10/10), the same thread
count and optimizer, and are measured in ONE process, step by step in alternating order after warmup, so
that machine noise (other processes, allocator state, frequency) falls on both alike. Ours computes the LM
head on the masked positions only (xlmr.model.mlm_loss); HF gets labels with -100 elsewhere, its normal
usage, and computes logits on all positions.

Prints measured numbers only (no targets, no verdicts). Examples:

    python benchmarks/train_step.py                                # CPU, fp32, vocab 32,000 and 250,002
    python benchmarks/train_step.py --dtype bf16 --vocab 32000
    python benchmarks/train_step.py --preset xlmr-base             # GPU: XLM-R base dims, bf16, MFU

`main(argv)` returns the table rows (dicts), so tests can call it in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from xlmr import scaling
from xlmr.data.mlm import MaskingConfig, mask_tokens
from xlmr.data.tokenizer import BOS, EOS, UNK
from xlmr.model import EncoderDims, XLMRForMaskedLM, mlm_loss

MODELS = ("ours", "hf")

# Values used when neither a flag nor the preset sets them.
DEFAULTS = dict(vocab=[32_000, 250_002], layers=4, hidden=256, heads=4, ffn=1024, seq=128, batch=32,
                dtype="fp32", device="cpu", steps=10, warmup=2, models=list(MODELS), dropout=0.1)
PRESETS = {
    # XLM-R base (Conneau et al. 2020, Table 7): the GPU throughput / MFU check.
    "xlmr-base": dict(vocab=[250_002], layers=12, hidden=768, heads=12, ffn=3072, seq=512, batch=16,
                      dtype="bf16", device="cuda", steps=20, warmup=5, models=["ours"]),
}


def _int_list(s: str) -> list[int]:
    return [int(x.replace("_", "")) for x in s.split(",") if x]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    # defaults are None here so that an explicit flag beats the preset, and the preset beats DEFAULTS
    p.add_argument("--preset", choices=sorted(PRESETS), help="named configuration; explicit flags override it")
    p.add_argument("--vocab", type=_int_list, help=f"comma-separated vocab sizes [{DEFAULTS['vocab']}]")
    p.add_argument("--layers", type=int, help=f"[{DEFAULTS['layers']}]")
    p.add_argument("--hidden", type=int, help=f"[{DEFAULTS['hidden']}]")
    p.add_argument("--heads", type=int, help=f"[{DEFAULTS['heads']}]")
    p.add_argument("--ffn", type=int, help=f"[{DEFAULTS['ffn']}]")
    p.add_argument("--seq", type=int, help=f"sequence length [{DEFAULTS['seq']}]")
    p.add_argument("--batch", type=int, help=f"sequences per step [{DEFAULTS['batch']}]")
    p.add_argument("--dtype", choices=["fp32", "bf16"], help="bf16 = torch.autocast(bfloat16), fp32 weights "
                                                             f"[{DEFAULTS['dtype']}]")
    p.add_argument("--device", choices=["cpu", "cuda"], help=f"[{DEFAULTS['device']}]")
    p.add_argument("--steps", type=int, help=f"measured steps per model [{DEFAULTS['steps']}]")
    p.add_argument("--warmup", type=int, help=f"unmeasured steps per model first [{DEFAULTS['warmup']}]")
    p.add_argument("--models", type=lambda s: [m for m in s.split(",") if m],
                   help=f"comma-separated subset of {','.join(MODELS)} [{','.join(DEFAULTS['models'])}]")
    p.add_argument("--dropout", type=float, help=f"hidden and attention dropout, both models [{DEFAULTS['dropout']}]")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="peak dense TFLOP/s of the accelerator for MFU (H100 SXM bf16 dense: 989)")
    p.add_argument("--adamw", choices=["default", "foreach", "fused"], default="default",
                   help="AdamW implementation, the same for both models (default: torch's choice, as xlmr/lit.py)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile each model (nn.Module.compile, as trainer.compile=true does); warmup "
                        "steps absorb the compilation")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write machine info and rows as JSON")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="after the timing, profile N more steps of each model (torch.profiler) and print "
                        "its operators with the most self time on the device (CUDA) or CPU")
    args = p.parse_args(argv)
    preset = PRESETS.get(args.preset, {})
    for k, v in DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, preset.get(k, v))
    bad = set(args.models) - set(MODELS)
    if bad:
        p.error(f"unknown model(s) {sorted(bad)}; choose from {MODELS}")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False")
    return args


# ---------------------------------------------------------------------------------------------- batch

def make_batch(vocab: int, batch: int, seq: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-length training windows `<s> pieces </s>` (no padding, as in training) with real MLM masking.
    Returns (input_ids, targets) (B, T) int64; targets = -100 where not masked."""
    rng = np.random.default_rng(seed)
    mask_id = vocab - 1  # <mask> is the last embedding row (xlmr.data.tokenizer)
    tokens = rng.integers(UNK + 1, mask_id, size=(batch, seq), dtype=np.int64)
    tokens[:, 0], tokens[:, -1] = BOS, EOS
    inputs, targets = mask_tokens(tokens, rng, MaskingConfig(), mask_id)
    return torch.from_numpy(inputs), torch.from_numpy(targets)


# ---------------------------------------------------------------------------------------------- models

@dataclass
class Runner:
    name: str
    model: torch.nn.Module
    step: Callable[[], float]  # one training step; returns the loss (a host float, which also syncs)
    params: int


def _autocast(device: str, dtype: str):
    if dtype == "bf16":
        return torch.autocast(device_type=device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _optimizer(model: torch.nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    # identical for both models (weight decay on all parameters: the update costs the same either way)
    impl = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[args.adamw]
    return torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01, **impl)


def build_ours(args: argparse.Namespace, vocab: int, ids: torch.Tensor, targets: torch.Tensor) -> Runner:
    dims = EncoderDims(vocab_size=vocab, layers=args.layers, hidden=args.hidden, ffn=args.ffn, heads=args.heads,
                       max_positions=args.seq, dropout=args.dropout, attention_dropout=args.dropout)
    model = XLMRForMaskedLM(dims).to(args.device).train()
    opt = _optimizer(model, args)
    if args.compile:
        model.compile()

    def step() -> float:
        with _autocast(args.device, args.dtype):
            loss = mlm_loss(model, ids, targets)[0]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return Runner("ours", model, step, sum(p.numel() for p in model.parameters()))


def build_hf(args: argparse.Namespace, vocab: int, ids: torch.Tensor, targets: torch.Tensor) -> Runner:
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    config = XLMRobertaConfig(
        vocab_size=vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=args.ffn, hidden_act="gelu",
        max_position_embeddings=args.seq + 2, type_vocab_size=1, layer_norm_eps=1e-5,
        hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, tie_word_embeddings=True,
    )
    model = XLMRobertaForMaskedLM._from_config(config, attn_implementation="sdpa").to(args.device).train()
    opt = _optimizer(model, args)
    if args.compile:
        model.compile()
    attention_mask = torch.ones_like(ids)  # what a tokenizer hands over for unpadded windows

    def step() -> float:
        with _autocast(args.device, args.dtype):
            loss = model(input_ids=ids, attention_mask=attention_mask, labels=targets).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return Runner("hf", model, step, sum(p.numel() for p in model.parameters()))


BUILDERS = {"ours": build_ours, "hf": build_hf}


# ---------------------------------------------------------------------------------------------- measuring

def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _timed(runner: Runner, device: str) -> float:
    _sync(device)
    t0 = time.perf_counter()
    runner.step()  # .item() on the loss syncs too; the explicit sync also waits for the optimizer kernels
    _sync(device)
    return time.perf_counter() - t0


def bench_vocab(args: argparse.Namespace, vocab: int) -> list[dict]:
    torch.manual_seed(args.seed)
    ids, targets = make_batch(vocab, args.batch, args.seq, args.seed)
    ids, targets = ids.to(args.device), targets.to(args.device)
    n_masked = int(targets.ne(-100).sum())
    masked_fraction = n_masked / targets.numel()
    tokens = ids.numel()  # all B·T positions count as processed tokens, for both models

    runners = [BUILDERS[m](args, vocab, ids, targets) for m in args.models]
    for i in range(args.warmup):
        for r in runners:
            r.step()
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for i in range(args.steps):
        order = runners if i % 2 == 0 else runners[::-1]  # alternate who goes first in each round
        for r in order:
            times[r.name].append(_timed(r, args.device))

    if args.profile:
        for r in runners:
            print(profile_table(r, args.device, args.profile), flush=True)

    flops_tok = scaling.flops_per_token(args.layers, args.hidden, args.ffn, vocab, args.seq, masked_fraction)
    rows = []
    for r in runners:
        tps = [tokens / t for t in times[r.name]]
        rows.append(dict(model=r.name, vocab=vocab, params=r.params, tokens_per_s=statistics.median(tps),
                         min_tokens_per_s=min(tps), max_tokens_per_s=max(tps),
                         step_s=statistics.median(times[r.name]), steps=len(tps),
                         masked_fraction=masked_fraction, tokens_per_step=tokens))
    by = {row["model"]: row for row in rows}
    for row in rows:
        row["ratio_vs_hf"] = row["tokens_per_s"] / by["hf"]["tokens_per_s"] if "hf" in by else None
        if "hf" in by and row["model"] != "hf":
            # per-round paired ratio: each round's two steps ran back to back, so the noise partly cancels
            row["paired_ratio_vs_hf"] = statistics.median(
                h / o for o, h in zip(times[row["model"]], times["hf"]))
        # MFU counts the model's useful FLOPs (LM head on masked positions) for both models alike
        row["mfu"] = (scaling.mfu(row["tokens_per_s"], flops_tok, args.peak_tflops * 1e12)
                      if args.device == "cuda" else None)
        if args.device == "cuda":
            row["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
    del runners
    if args.device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return rows


def profile_table(runner: Runner, device: str, steps: int, rows: int = 15) -> str:
    """The operators that take the most self time over `steps` steps: where a step's time goes (which
    kernels dominate, how much is optimizer or elementwise work rather than matmuls)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    _sync(device)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            runner.step()
        _sync(device)
    key = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    table = prof.key_averages().table(sort_by=key, row_limit=rows, max_name_column_width=60)
    return f"# profile of {runner.name}, {steps} steps, sorted by {key}\n{table}"


# ---------------------------------------------------------------------------------------------- report

def machine_info(args: argparse.Namespace) -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    info = dict(date=dt.datetime.now().astimezone().isoformat(timespec="seconds"), cpu=cpu,
                cpus_usable=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                torch_threads=torch.get_num_threads(), torch=torch.__version__, python=platform.python_version(),
                glibc_tunables=os.environ.get("GLIBC_TUNABLES", ""))
    with contextlib.suppress(ImportError):
        import transformers
        info["transformers"] = transformers.__version__
    if args.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info


def format_table(rows: list[dict], cuda: bool) -> str:
    head = ["model", "vocab", "params", "tokens/s (median)", "min", "max", "step s", "ours/HF"]
    if cuda:
        head += ["MFU", "peak GiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        ratio = f"{r['ratio_vs_hf']:.2f}×" if r["ratio_vs_hf"] is not None and r["model"] != "hf" else "-"
        cells = [r["model"], f"{r['vocab']:,}", f"{r['params'] / 1e6:.3g}M", f"{r['tokens_per_s']:,.0f}",
                 f"{r['min_tokens_per_s']:,.0f}", f"{r['max_tokens_per_s']:,.0f}", f"{r['step_s']:.3f}", ratio]
        if cuda:
            cells += [f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "-", f"{r.get('peak_mem_gib', 0):.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    info = machine_info(args)
    cfg = (f"layers={args.layers} hidden={args.hidden} heads={args.heads} ffn={args.ffn} seq={args.seq} "
           f"batch={args.batch} dtype={args.dtype} device={args.device} dropout={args.dropout} "
           f"adamw={args.adamw} compile={args.compile} steps={args.steps} warmup={args.warmup} "
           f"models={','.join(args.models)}")
    print("# " + " | ".join(f"{k}: {v}" for k, v in info.items() if v != ""), flush=True)
    print(f"# {cfg}", flush=True)
    rows = []
    for vocab in args.vocab:
        t0 = time.perf_counter()
        vrows = bench_vocab(args, vocab)
        rows += vrows
        paired = [f"{r['model']}/hf paired-round median {r['paired_ratio_vs_hf']:.2f}×"
                  for r in vrows if "paired_ratio_vs_hf" in r]
        print(f"# vocab {vocab:,}: masked fraction {vrows[0]['masked_fraction']:.3f}, "
              f"{time.perf_counter() - t0:.0f} s" + ("; " + "; ".join(paired) if paired else ""), flush=True)
    print(format_table(rows, args.device == "cuda"))
    print(f"# peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=info, config=vars(args), rows=rows), f, indent=1)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
