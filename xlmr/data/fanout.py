"""How a data stage's independent tasks run: in a local process pool, or as one Slurm job array.

Both are `RunTasks` (xlmr/data/shards.py): `run(function, tasks) -> results`, results in task order, an
error in any task raised here. Tasks are small frozen dataclasses (picklable); each is idempotent, so a
rerun after a failure redoes only what is missing.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from xlmr.console import bar


def process_pool(workers: int) -> Callable[[Callable[[Any], Any], Sequence[Any]], list]:
    """Up to `workers` processes (one SentencePiece thread each is what a task uses best).

    Workers start from a fork server, not forked from this process. Measured (SentencePiece 0.2.3): in a
    child forked from a process that has trained SentencePiece once (num_threads > 1), a tokenizer-training
    task never returns, every try; encoding tasks do. A prepare_only sweep trains its tokenizers in the pool,
    and whether this process trained one before (a test, a notebook, one run prepared in-process) is not this
    function's to know. Tasks and their functions are module-level and picklable: they need nothing
    inherited from this process."""

    def run(function: Callable[[Any], Any], tasks: Sequence[Any]) -> list:
        if not tasks:
            return []
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)),
                                 mp_context=multiprocessing.get_context("forkserver")) as pool:
            futures = [pool.submit(function, task) for task in tasks]
            for future in bar(futures, desc="chunks", unit="task"):
                future.result()  # the first failure is raised here
            return [future.result() for future in futures]

    return run


def slurm_array(folder: Path, parameters: dict[str, Any]) -> Callable[[Callable[[Any], Any], Sequence[Any]], list]:
    """One Slurm job array per call (submitit), its tasks' logs under `folder`; waits for the array.
    `parameters`: submitit's (cpus_per_task, mem_gb, timeout_min, slurm_partition, …)."""

    def run(function: Callable[[Any], Any], tasks: Sequence[Any]) -> list:
        import submitit

        if not tasks:
            return []
        executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
        executor.update_parameters(**parameters)
        jobs = executor.map_array(function, list(tasks))
        print(f"[data] {len(jobs)} task(s) submitted to Slurm: array {jobs[0].job_id.split('_')[0]}", flush=True)
        results = []
        for job in jobs:
            try:
                results.append(job.result())
            except submitit.core.utils.FailedJobError as err:  # the task's own error is the last line of its log
                last = next((line for line in reversed(str(err).strip().splitlines()) if line.strip()), "")
                raise RuntimeError(f"Slurm task {job.job_id} failed ({folder}): {last.strip()}") from None
        return results

    return run


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))
