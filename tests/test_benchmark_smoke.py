"""The benchmarks (benchmarks/train_step.py, benchmarks/attention.py) run end to end at toy size and report what they compare."""

import importlib.util
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("transformers")


def _load_benchmark(name: str = "train_step"):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # @dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_train_step_benchmark_reports_both_models(capsys):
    bench = _load_benchmark()
    threads = torch.get_num_threads()
    t0 = time.perf_counter()
    try:
        rows = bench.main(["--vocab", "500", "--hidden", "32", "--heads", "2", "--ffn", "64", "--layers", "1",
                           "--seq", "32", "--batch", "4", "--steps", "2", "--warmup", "1", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)  # the flag sets it process-wide; leave the other tests theirs
    assert time.perf_counter() - t0 < 15
    assert [r["model"] for r in rows] == ["ours", "hf"]
    for r in rows:
        assert r["vocab"] == 500 and r["steps"] == 2
        assert r["tokens_per_s"] > 0 and r["min_tokens_per_s"] <= r["tokens_per_s"] <= r["max_tokens_per_s"]
        assert r["mfu"] is None  # CPU: no MFU
    # identical dimensions: the parameter counts differ only by HF's token-type embedding (1 × hidden)
    assert rows[1]["params"] - rows[0]["params"] == 32
    assert rows[0]["ratio_vs_hf"] == pytest.approx(rows[0]["tokens_per_s"] / rows[1]["tokens_per_s"], rel=0.01)
    out = capsys.readouterr().out
    assert "| ours | 500 |" in out and "| hf | 500 |" in out and "torch:" in out


def test_preset_sets_xlmr_base_dims_and_flags_override_it():
    bench = _load_benchmark()
    args = bench.parse_args(["--preset", "xlmr-base", "--device", "cpu", "--batch", "2"])
    assert (args.layers, args.hidden, args.ffn, args.heads, args.vocab, args.seq, args.dtype) == (
        12, 768, 3072, 12, [250_002], 512, "bf16")
    assert args.models == ["ours"] and args.batch == 2 and args.device == "cpu"


def test_profile_flag_prints_the_operators_with_the_most_self_time(capsys):
    bench = _load_benchmark()
    threads = torch.get_num_threads()
    try:
        bench.main(["--vocab", "500", "--hidden", "32", "--heads", "2", "--ffn", "64", "--layers", "1", "--seq", "32",
                    "--batch", "4", "--steps", "1", "--warmup", "1", "--threads", "1", "--models", "ours",
                    "--profile", "2"])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "# profile of ours, 2 steps, sorted by self_cpu_time_total" in out
    assert "aten::" in out and "Self CPU time total" in out  # torch.profiler's table, with real operators


def test_attention_benchmark_reports_both_kernels_and_their_ratio(capsys):
    bench = _load_benchmark("attention")
    rows = bench.main(["--seqs", "16,32", "--tokens", "64", "--head-dim", "8", "--rounds", "2", "--warmup", "1"])
    assert [(r["dtype"], r["seq"], r["batch"]) for r in rows] == [("bfloat16", 16, 4), ("bfloat16", 32, 2),
                                                                   ("float32", 16, 4), ("float32", 32, 2)]
    for r in rows:
        assert r["fused_ms"] > 0 and r["written_out_ms"] > 0
        assert r["speedup"] == pytest.approx(r["fused_ms"] / r["written_out_ms"])
    assert "| bfloat16 | 32 | 2 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.parse_args(["--dtypes", "fp16"])


def test_side_by_side_benchmark_reports_the_ratio_of_its_two_measurements(capsys):
    bench = _load_benchmark("side_by_side")
    rounds = bench.main(["--runs", "2", "--threads", "2", "--rounds", "1", "--steps", "2", "--warmup", "1",
                         "--step-args", "--layers 1 --hidden 32 --heads 2 --ffn 64 --seq 16 --batch 2 --vocab 300"])
    assert len(rounds) == 1 and rounds[0]["alone"] > 0 and rounds[0]["side_by_side"] > 0
    assert rounds[0]["ratio"] == pytest.approx(rounds[0]["side_by_side"] / rounds[0]["alone"])
    out = capsys.readouterr().out
    assert "2 runs × 1 thread(s) against 1 run × 2 threads" in out and "# median ratio" in out
    with pytest.raises(SystemExit):  # each side-by-side run needs a thread of its own
        bench.main(["--runs", "3", "--threads", "2"])
