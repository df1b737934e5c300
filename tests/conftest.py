"""Project-wide pytest fixtures and hooks, shared by every test folder.

What lives here (keep each piece small and documented; add new shared fixtures below):

- `slurm_cluster` (session scope): a real one-node Slurm cluster for tests marked `slurm`, brought up
  once per session by scripts/slurm-up.sh (see docs/slurm-local.md). Never torn down by pytest: CI
  runs scripts/slurm-down.sh as its own step, and locally the cluster is handy to keep.
- `pytest_collection_modifyitems`: tests marked `gpu` are skipped when CUDA is not available.

The `slurm` and `gpu` tiers are deselected by pyproject's addopts; select them with e.g.
`pytest -m slurm` (`-m` on the command line replaces the default).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SLURM_UP = ROOT / "scripts" / "slurm-up.sh"

# slurm-up.sh exit statuses that mean "this machine cannot host the cluster" (skip, not fail)
_SLURM_UP_NOT_ROOT = 2
_SLURM_UP_NO_PACKAGES = 3


@dataclass(frozen=True)
class SlurmCluster:
    """What a test needs to know about the local cluster."""

    partition: str  # submit here (it is also the default partition)
    cpus: int  # CPUs the single node advertises (SLURM_NODE_CPUS; 4 by default on a 2-core machine)
    node: str  # the node's name (short hostname)


def _query_cluster(partition: str) -> SlurmCluster | None:
    """The cluster as `sinfo` sees it, or None if no controller answers for that partition."""
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-p", partition, "-o", "%N %c"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) < 2:
        return None
    return SlurmCluster(partition=partition, cpus=int(fields[1].rstrip("+")), node=fields[0])


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    """Bring the local Slurm cluster up (idempotent: quick if it already is) and describe it.

    Skips only when the machine cannot host it: not root (and no cluster already running), or the
    packages are missing and apt cannot install them. Any other bring-up failure fails the tests,
    with the script's output (it ends with the daemons' log tails). A skip or failure is cached for
    the session, so the script runs at most once.
    """
    partition = os.environ.get("SLURM_PARTITION", "debug")
    if os.geteuid() != 0:
        cluster = _query_cluster(partition)
        if cluster is None:
            pytest.skip("Slurm tests need root to bring up the local cluster (scripts/slurm-up.sh), "
                        "and no cluster is running")
        return cluster
    proc = subprocess.run(["bash", str(SLURM_UP)], capture_output=True, text=True, timeout=900)
    output = (proc.stdout + proc.stderr)[-6000:]
    if proc.returncode == _SLURM_UP_NOT_ROOT:
        pytest.skip(f"scripts/slurm-up.sh needs root:\n{output}")
    if proc.returncode == _SLURM_UP_NO_PACKAGES:
        pytest.skip(f"Slurm packages are missing and apt cannot install them:\n{output}")
    if proc.returncode != 0:
        pytest.fail(f"scripts/slurm-up.sh failed (exit {proc.returncode}):\n{output}", pytrace=False)
    cluster = _query_cluster(partition)
    if cluster is None:
        pytest.fail(f"scripts/slurm-up.sh succeeded but sinfo does not show partition {partition!r}:\n{output}",
                    pytrace=False)
    return cluster


@pytest.hookimpl(trylast=True)  # after `-m` deselection: torch is imported only if a gpu test is selected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu`-marked tests on a machine without a usable CUDA device."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    try:
        import torch  # lazily: most test runs select no gpu test

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="no CUDA GPU (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)
