"""The hardware's limit for MFU: datasheet peaks on GPUs, a measured matmul rate on CPUs."""

import torch

from xlmr import hardware


def test_compute_dtype_follows_lightning_precision():
    assert [hardware.compute_dtype(p) for p in ("bf16-mixed", "bf16-true", "16-mixed", "32-true")] == [
        "bf16", "bf16", "fp16", "fp32"]


def test_gpu_peak_comes_from_the_datasheet_table(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H100 80GB HBM3")
    peak = hardware.device_peak("bf16-mixed", "gpu")
    assert peak.flops == 989e12 and "H100" in peak.source and "datasheet" in peak.source
    assert hardware.device_peak("32-true", "gpu").flops == 67e12
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Some Future GPU")
    assert "no datasheet peak" in hardware.device_peak("bf16-mixed", "gpu").source


def test_cpu_peak_is_measured_and_bounds_a_real_matmul():
    peak = hardware.device_peak("32-true", "cpu")
    assert "measured fp32 matmul" in peak.source and peak.flops > 1e8
    n = 256  # a smaller matmul than the probe's cannot beat the measured best by much
    a = torch.randn(n, n)
    import time

    start = time.perf_counter()
    for _ in range(5):
        a @ a
    rate = 5 * 2 * n**3 / (time.perf_counter() - start)
    assert rate < 3 * peak.flops  # the same hardware, same dtype: within a noisy machine's factor


def test_post_training_evaluation_runs_on_the_training_device(monkeypatch):
    assert hardware.training_device("gpu") == torch.device("cpu") or torch.cuda.is_available()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert hardware.training_device("gpu") == torch.device("cuda", 0)
    assert hardware.training_device("auto") == torch.device("cuda", 0)
    assert hardware.training_device("cpu") == torch.device("cpu")  # asked for: the GPU stays unused
