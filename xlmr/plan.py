"""The plan of a sweep, printed before anything is launched: what each run costs and what exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xlmr.config import Config
from xlmr.scaling import approx_params, flops_per_token, non_embedding_params

# Assumed sustained training throughput for GPU-hour estimates: 40% MFU of an H100's dense bf16 peak
# (989 TFLOP/s). Measured numbers are in benchmarks/RESULTS.md.
ASSUMED_GPU_FLOPS = 0.40 * 989e12
# Assumed data-preparation rate per CPU core, for the plan's CPU-hours: shard building tokenized 4.8 M
# tokens/s on 2 cores at 4.5 bytes of text per token (benchmarks/RESULTS.md, 2026-11-25), i.e. ~10.8 MB of
# text per second per core, rounded down; the counting pass and the tokenizer's training are not included.
ASSUMED_PREP_BYTES_PER_CPU_S = 10e6


def run_status(run_dir: Path) -> str:
    from xlmr.run import CKPT_DIR, LAST_CKPT, read_result

    if (read_result(run_dir) or {}).get("status") == "done":
        return "done"
    return "resume" if (run_dir / CKPT_DIR / LAST_CKPT).exists() else "new"


def plan_row(cfg: Config, run_dir: Path) -> dict[str, Any]:
    from xlmr.data.pipeline import data_plan, sampling_shares
    from xlmr.data.sampling import matched_steps

    m, t = cfg.model, cfg.train
    vocab = cfg.vocab_size + 2
    steps = int(t.max_steps)
    if cfg.monolingual is not None:  # max_steps × q_lang; the multilingual budget when q is not known yet
        shares = sampling_shares(cfg)
        steps = matched_steps(steps, shares[cfg.monolingual]) if shares else steps
    tokens = steps * int(t.batch_tokens)
    data = data_plan(cfg)
    flops = flops_per_token(m.layers, m.hidden, m.ffn, vocab, t.seq_len, t.mask_prob) * tokens
    return {"run": run_dir.name, "run_dir": str(run_dir), "status": run_status(run_dir),
            "params": approx_params(m.layers, m.hidden, m.ffn, vocab),
            "non_embedding": non_embedding_params(m.layers, m.hidden, m.ffn), "tokens": tokens, "flops": flops,
            "gpu_hours": flops / ASSUMED_GPU_FLOPS / 3600, "data": data.status, "prep": data.shards_to_build}


def _si(x: float) -> str:
    for unit, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def format_plan(rows: list[dict[str, Any]], config: Any) -> str:
    width = max([len(r["run"]) for r in rows] + [3])
    lines = [f"sweep '{config.name}': {len(rows)} run(s) in {config.hydra.sweep.dir}",
             f"  {'run':{width}s}  {'status':6s}  {'params':>7s}  {'non-emb':>7s}  {'tokens':>7s}  {'FLOPs':>7s}  "
             f"{'GPU-h*':>7s}  data"]
    for r in rows:
        data = ", ".join(f"{k} {v}" for k, v in r["data"].items())
        lines.append(f"  {r['run']:{width}s}  {r['status']:6s}  {_si(r['params']):>7s}  {_si(r['non_embedding']):>7s}  "
                     f"{_si(r['tokens']):>7s}  {_si(r['flops']):>7s}  {r['gpu_hours']:7.3g}  {data}")
    total = sum(r["gpu_hours"] for r in rows)
    todo = sum(r["status"] not in ("done", "queued") for r in rows)
    queued = sum(r["status"] == "queued" for r in rows)
    lines.append(f"  total {total:.3g} GPU-hours (* at an assumed {ASSUMED_GPU_FLOPS / 1e12:.0f} TFLOP/s); "
                 f"{todo} to run, {len(rows) - todo - queued} finished (skipped)"
                 + (f", {queued} with a Slurm job queued or running (not submitted again)" if queued else ""))
    lines.append(preparation_line(rows))
    return "\n".join(lines)


def preparation_line(rows: list[dict[str, Any]]) -> str:
    """The data still to prepare, once per shards artifact that runs share: bytes and CPU-hours."""
    todo = {r["prep"][0]: r["prep"][1] for r in rows if r.get("prep")}
    if not todo:
        return "  data: every run's shards are cached"
    known = [b for b in todo.values() if b is not None]
    line = f"  data: {len(todo)} shards artifact(s) to build"
    if known:
        total = sum(known)
        line += (f" from {_si(total)}B of text ≈ {total / ASSUMED_PREP_BYTES_PER_CPU_S / 3600:.3g} CPU-hours (at an "
                 f"assumed {ASSUMED_PREP_BYTES_PER_CPU_S / 1e6:.1f} MB/s per core; data.prepare_workers or a "
                 "prepare_only=true sweep on Slurm divides the wall time)")
    if len(known) < len(todo):
        line += f"; {len(todo) - len(known)} from text still to be generated or indexed (size not known yet)"
    return line
