"""The hardware's limit, for MFU (xlmr.scaling.mfu: achieved training FLOP/s / peak FLOP/s).

On a GPU the peak is the vendor's dense matmul rate for the precision used (table below); on a CPU there is
no useful datasheet number, so the limit is *measured*: the best rate of square matmuls in the training
dtype on this process's threads, which is what an MLM step is made of."""

from __future__ import annotations

import time
from dataclasses import dataclass

# Dense (no sparsity) peak FLOP/s by GPU name fragment and compute dtype: NVIDIA datasheets (H100/H200 SXM:
# 989 TFLOP/s bf16, 67 TFLOP/s fp32 non-tensor; A100: 312 / 19.5).
GPU_PEAK_FLOPS = {
    "H200": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "H100": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "A100": {"bf16": 312e12, "fp16": 312e12, "fp32": 19.5e12},
}


@dataclass(frozen=True)
class Peak:
    flops: float  # FLOP/s
    source: str  # where the number comes from, for the run record


def compute_dtype(precision: str) -> str:
    """The dtype the matmuls of a Lightning precision run in: bf16, fp16 or fp32."""
    return "bf16" if precision.startswith("bf16") else "fp16" if precision.startswith("16") else "fp32"


def measure_cpu_matmul_flops(dtype: str, n: int = 1024, seconds: float = 0.5) -> float:
    """The best FLOP/s of n×n @ n×n matmuls in `dtype` over repeated timings (2n³ FLOPs each)."""
    import torch

    torch_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]
    a, b = torch.randn(n, n, dtype=torch_dtype), torch.randn(n, n, dtype=torch_dtype)
    a @ b  # warm-up: kernels chosen, pages touched
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def training_device(accelerator: str = "auto") -> "torch.device":
    """The device this process trains on: its current CUDA device unless the run asked for the CPU or none
    is visible. Post-training evaluation (transfer fine-tuning, retrieval) runs there too."""
    import torch

    if accelerator != "cpu" and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def device_peak(precision: str, accelerator: str = "auto") -> Peak:
    """The peak FLOP/s of the device this process trains on, in the precision it trains in."""
    import torch

    dtype = compute_dtype(precision)
    if accelerator != "cpu" and torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        for fragment, peaks in GPU_PEAK_FLOPS.items():
            if fragment in name:
                return Peak(peaks[dtype], f"{name} {dtype} dense peak (datasheet)")
        return Peak(float("nan"), f"{name}: no datasheet peak known (xlmr/hardware.py)")
    return Peak(measure_cpu_matmul_flops(dtype), f"measured {dtype} matmul rate, {torch.get_num_threads()} CPU threads")

