"""The project's Hydra sweeper: Hydra's basic grid expansion, plus

  1. every job's config is composed and validated before any job starts; one bad config stops the whole
     sweep with a one-line message naming the run and the key (exit code 2);
  2. a plan is printed (runs, parameters, tokens, FLOPs, status: done / resume / new, data artifacts);
     `plan_only=true` stops there;
  3. a failed run does not stop the others; the sweep ends with a summary table and exits non-zero if
     any run failed. Re-running the same command re-runs only failed and missing runs (finished runs are
     skipped by xlmr.run, interrupted ones resume from their checkpoint).

Hydra only instantiates plugins that live in the `hydra_plugins` package, hence this module's home.
"""



import contextlib
import copy
import logging
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from omegaconf import DictConfig, OmegaConf


log = logging.getLogger(__name__)
# "busy": another process (a second sweep over the same runs) owns the run directory and trains it
# "queued": its Slurm job from an earlier submission of the sweep is still queued or running
# "submitted": handed to Slurm by a sweep that does not wait (hydra.launcher.wait=false)
OK_OUTCOMES = ("done", "resumed", "skipped", "prepared", "busy", "queued", "submitted")
JOBLIB_LOGGER = "hydra_plugins.hydra_joblib_launcher"  # hydra/launcher=local_parallel (runs side by side)
SUBMITIT_LOCAL_TARGET = "submitit_launcher.LocalLauncher"  # hydra/launcher=submitit_local


@dataclass
class XlmrSweeperConf:
    _target_: str = "hydra_plugins.xlmr_sweeper.xlmr_sweeper.XlmrSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="xlmr", node=XlmrSweeperConf, provider="xlmr")


class XlmrSweeper(BasicSweeper):
    def sweep(self, arguments: List[str]) -> Any:
        from xlmr.config import ConfigError, typed, validate
        from xlmr.plan import format_plan, plan_row
        from xlmr.run import read_result, runs_share_terminal

        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides(self._parse_config() + list(arguments))
        self.overrides = self.split_arguments(overrides, self.max_batch_size)
        jobs = [job for batch in self.overrides for job in batch]

        rows, configs = [], []
        for job, (cfg, run_dir) in zip(jobs, JobConfigs(self.hydra_context.config_loader, self.config).of(jobs)):
            try:
                validate(cfg)
                configs.append(typed(cfg))
                rows.append(plan_row(configs[-1], run_dir))  # raises what an earlier build found (e.g. vocab too large)
            except ConfigError as err:
                print(f"error: run '{run_dir.name}': {err} — nothing was launched", file=sys.stderr)
                sys.exit(2)
        # Nothing is launched for a finished run, nor for one whose Slurm job is still queued or running.
        held = _not_to_launch(rows, force=bool(self.config.get("force", False)),
                              on_slurm="slurm" in str(self.config.hydra.launcher.get("_target_", "")).lower())
        for row in rows:
            if held.get(row["run_dir"], ("",))[0] == "queued":
                row["status"] = "queued"
                print(f"  {row['run']}: {held[row['run_dir']][1]} — not submitted again")
        print(format_plan(rows, self.config))
        if self.config.get("plan_only", False):
            print("plan_only=true: nothing launched")
            return []
        if self.config.get("prepare_only", False):  # the data of every run, as (language × chunk) tasks
            from xlmr.prepare import prepare_sweep

            try:
                prepare_sweep(configs, self.config)
            except ConfigError as err:  # found while building (e.g. a vocab too large for the tokenizer's sample)
                print(f"error: {err}", file=sys.stderr)
                sys.exit(2)
            except RuntimeError as err:  # a Slurm task failed: its log says why; a rerun redoes what is missing
                print(f"error: {err}", file=sys.stderr)
                sys.exit(1)
            return []

        launch = [job for job, row in zip(jobs, rows) if row["run_dir"] not in held]
        launched_rows = [row for row in rows if row["run_dir"] not in held]
        self.overrides = list(self.split_overrides_to_chunks(launch, self.max_batch_size)) if launch else []
        self.batch_index = 0

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        # one record per invocation (a re-run does not overwrite the first's); multirun.yaml: the latest
        invocation = sweep_dir / f"multirun.{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.yaml"
        OmegaConf.save(self.config, invocation)
        shutil.copyfile(invocation, sweep_dir / "multirun.yaml")
        returns, initial_job_idx, launch_error, stopped_by = [], 0, None, None
        # Runs one after another in this process: run k of N and the time left. Printed, not logged: Hydra's
        # logging still points at the previous run's train.log between runs.
        in_process = isinstance(self.launcher, BasicLauncher)
        clock = SweepClock(len(launch))
        if launch and not in_process:
            print(f"[sweep] {len(launch)} run(s) to {type(self.launcher).__name__}; their state: "
                f"python -m analysis status {sweep_dir}", flush=True)
        while not self.is_done():
            batch = self.get_job_batch()
            try:
                if in_process:
                    results = []
                    for job in batch:
                        row = launched_rows[initial_job_idx + len(results)]
                        print(clock.before(row["run"]), flush=True)
                        with _quiet(logging.getLogger(BasicLauncher.__module__)):  # "Launching 1 jobs locally"
                            results += self.launcher.launch([job], initial_job_idx=initial_job_idx + len(results))
                        sys.stdout.flush()
                        clock.after(_outcome(results[-1], Path(row["run_dir"]))[0])
                else:
                    target = str(self.config.hydra.launcher.get("_target_", ""))
                    with _quiet(logging.getLogger(JOBLIB_LOGGER)), _runs_stop_with_the_sweep(
                            enabled=runs_share_terminal(target)), _local_jobs_stop_with_the_sweep(
                            enabled=target.endswith(SUBMITIT_LOCAL_TARGET)):
                        results = self.launcher.launch(batch, initial_job_idx=initial_job_idx)
            except SweepStopped as stop:
                launch_error, stopped_by = str(stop), stop.signum
                returns.append([None] * len(batch))
                break
            except Exception as err:  # e.g. a job killed by Slurm: report what the run dirs say
                launch_error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
                results = [*results, *[None] * (len(batch) - len(results))] if in_process else [None] * len(batch)
            initial_job_idx += len(batch)
            returns.append(results)
        launched = iter(r for rs in returns for r in rs)
        outcomes = [held[row["run_dir"]] if row["run_dir"] in held
                    else _outcome(next(launched, None), Path(row["run_dir"])) for row in rows]
        if launch_error and not stopped_by and _stopped_by_ctrl_c(outcomes):
            stopped_by = signal.SIGINT
            launch_error = "stopped by Ctrl-C: the runs in flight were interrupted; the same command resumes them"
        if stopped_by:  # runs the pool had not started yet
            outcomes = [("stopped", "not started") if o == ("failed", "") and read_result(Path(row["run_dir"])) is None
                        else o for row, o in zip(rows, outcomes)]
        print(_summary(rows, outcomes))
        if any(o[0] in ("submitted", "queued") for o in outcomes):
            print(f"follow them: python -m analysis status {sweep_dir}; re-running this command submits only "
                  "what is neither finished nor queued")
        if launch_error:
            print(f"[sweep] {launch_error}" if stopped_by else f"launcher error: {launch_error}", file=sys.stderr)
        if launch_error or any(o[0] not in OK_OUTCOMES for o in outcomes):
            sys.exit(128 + stopped_by if stopped_by else 1)
        return returns


class SweepClock:
    """Run k of N and the time left, for a sweep whose runs train one after another. The time per run is
    the mean over the runs that trained here (a skipped or busy run returns at once and would skew it)."""

    TRAINED = ("done", "resumed", "failed", "interrupted")

    def __init__(self, total: int):
        self.total, self.k, self.started = total, 0, time.perf_counter()
        self.trained_s: List[float] = []
        self._t0 = self.started

    def before(self, run: str) -> str:
        from xlmr.console import duration

        self.k += 1
        self._t0 = time.perf_counter()
        line = f"[sweep] run {self.k}/{self.total}: {run}"
        if self.trained_s:
            per_run = sum(self.trained_s) / len(self.trained_s)
            left = per_run * (self.total - self.k + 1)
            line += (f" · {self.k - 1} finished in {duration(time.perf_counter() - self.started)}, "
                     f"~{duration(per_run)} per run, ~{duration(left)} left")
        return line

    def after(self, outcome: str) -> None:
        if outcome in self.TRAINED:
            self.trained_s.append(time.perf_counter() - self._t0)


class SweepStopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM reached a sweep whose runs train in other processes (hydra/launcher=local_parallel's
    workers, submitit_local's jobs)."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum


@contextlib.contextmanager
def _runs_stop_with_the_sweep(enabled: bool, grace_s: float = 120.0, nudge_s: float = 10.0) -> Iterator[None]:
    """Stop a local_parallel sweep's runs with the sweep, on Ctrl-C and on SIGTERM alike.

    joblib tears its pool down (SIGKILL to every worker) as soon as a KeyboardInterrupt reaches it, which
    can cut a run off before it records that it was interrupted. And SIGTERM (`kill`, `pkill -f "sweep=..."`)
    reaches this process alone: its default action ends it without a word to the workers, which then train
    their runs to the end, orphaned (hours, seen). So on either signal this process first lets the workers
    stop their runs, as Ctrl-C does (recorded as interrupted; xlmr.run ends the worker then, so that it takes
    no further run): Ctrl-C reached them already (the terminal signals the whole process group), SIGTERM is
    passed on (a worker takes it as Ctrl-C), and so is a SIGINT that reached this process alone (`kill -INT`,
    after `nudge_s`). It waits up to `grace_s` for them, then raises SweepStopped: joblib ends the pool and
    the sweep prints its summary. The resource trackers are not workers: they exit on their own."""
    if not enabled:
        yield
        return

    def on_stop(signum: int, frame: Any) -> None:
        import psutil

        for sig in (signal.SIGINT, signal.SIGTERM):  # one stop at a time; the finally below restores them
            signal.signal(sig, signal.SIG_IGN)
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        workers = [p for p in psutil.Process().children() if not _runs(p, "resource_tracker", gone=True)]
        print(f"[sweep] {name}: stopping the {len(workers)} run(s) in flight", file=sys.stderr, flush=True)
        if signum != signal.SIGINT:
            _send(workers, signal.SIGTERM)
        _, alive = psutil.wait_procs(workers, timeout=nudge_s if signum == signal.SIGINT else grace_s)
        if alive and signum == signal.SIGINT:
            _send(alive, signal.SIGTERM)
            _, alive = psutil.wait_procs(alive, timeout=grace_s)
        late = f"; {len(alive)} still running after {grace_s:.0f} s were killed" if alive else ""
        raise SweepStopped(signum, f"stopped by {name}: the runs in flight were interrupted{late}; "
                           "the same command resumes them")

    previous = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _local_jobs_stop_with_the_sweep(enabled: bool, grace_s: float = 120.0) -> Iterator[None]:
    """Stop a submitit_local sweep's runs with the sweep, on Ctrl-C and on SIGTERM alike.

    Each run is a task process (`submitit.core._submit`) under a submitit controller
    (`submitit.local._local`), both started by this process. On a terminal's Ctrl-C the controllers printed
    a KeyboardInterrupt traceback each and SIGKILLed their task a second later (submitit's
    Controller.kill_tasks), which can cut a run off before it records that it was interrupted; SIGTERM
    (`kill`) ended this process alone and left the runs training, orphaned. So while the jobs run, SIGINT is
    ignored here, and the controllers and tasks started meanwhile inherit that (an ignored signal stays
    ignored across exec). A task takes Ctrl-C back (xlmr.run), so the terminal's Ctrl-C reaches the runs
    alone: they stop as interrupted, their controllers end with them, and the sweep reads their records
    (`_stopped_by_ctrl_c`). SIGTERM is passed on to the tasks as Ctrl-C; the sweep waits up to `grace_s`
    for them, kills what is left, and raises SweepStopped. A SIGINT sent to this process alone
    (`kill -INT`) is ignored while the runs train: `kill` (SIGTERM) is the way to stop it from elsewhere."""
    if not enabled:
        yield
        return

    def on_term(signum: int, frame: Any) -> None:
        import psutil

        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop at a time; the finally below restores it
        tasks = [p for p in psutil.Process().children(recursive=True) if _runs(p, "submitit.core._submit")]
        name = signal.Signals(signum).name
        print(f"[sweep] {name}: stopping the {len(tasks)} run(s) in flight", file=sys.stderr, flush=True)
        _send(tasks, signal.SIGINT)
        _, alive = psutil.wait_procs(tasks, timeout=grace_s)
        _send(alive, signal.SIGKILL)
        late = f"; {len(alive)} still running after {grace_s:.0f} s were killed" if alive else ""
        raise SweepStopped(signum, f"stopped by {name}: the runs in flight were interrupted{late}; "
                           "the same command resumes them")

    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
                signal.SIGTERM: signal.signal(signal.SIGTERM, on_term)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped_by_ctrl_c(outcomes: "list[tuple[str, str]]") -> bool:
    """The launcher raised, and every run that did not end well was interrupted by the user: the runs took a
    Ctrl-C that the sweep's own process did not (submitit_local, above). A run records "interrupted" only
    for a KeyboardInterrupt (xlmr.run)."""
    unfinished = [status for status, _ in outcomes if status not in OK_OUTCOMES]
    return bool(unfinished) and all(status == "interrupted" for status in unfinished)


def _send(processes: "list[Any]", signum: int) -> None:
    import psutil

    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signum)


def _runs(process: Any, command: str, gone: bool = False) -> bool:
    """Does `process`'s command line contain `command` (a joblib resource tracker, a submitit task)? `gone`: the
    answer for a process that has ended meanwhile."""
    import psutil

    try:
        return command in " ".join(process.cmdline())
    except psutil.Error:
        return gone


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class JobConfigs:
    """Each job's composed task config and run directory, for validation and the plan.

    Hydra composes the whole config anew for every job (~0.15 s each: 15 s for a 100-run plan). Jobs that
    differ only in plain values (`alpha=0.7`, `train.max_steps=100`) share one composition per choice of
    config-group options (`model=base`) and of the keys Hydra's own nodes read (`hydra.*`, `paths.*`,
    `name`), and get their values applied to a copy of its task config; a job with an override of another
    kind (`+key`, `~key`, `key@pkg`) is composed by Hydra itself. tests/test_sweeper.py checks that both
    give the same configs and run directories."""

    _COMPOSED = ("hydra", "paths", "name")  # keys that feed Hydra's own nodes (sweep dir): part of a composition

    def __init__(self, loader: Any, master: DictConfig):
        self.loader, self.master = loader, master
        self.parser = OverridesParser.create(config_loader=loader)
        self._bases: Dict[tuple, "tuple[DictConfig, Path]"] = {}  # composition key → (task config, sweep dir)

    def _is_group(self, key: str) -> bool:
        return self.loader.repository.group_exists(key)

    def _plain(self, override: Any) -> bool:
        return (override.type.name == "CHANGE" and override.package is None and not override.is_sweep_override()
                and not self._is_group(override.key_or_group)
                and override.key_or_group.split(".")[0].split("/")[0] not in self._COMPOSED)

    def of(self, jobs: "list[list[str]]") -> "Iterator[tuple[DictConfig, Path]]":
        from xlmr.config import run_name, without_hydra

        for job in jobs:
            parsed = self.parser.parse_overrides(list(job))
            if any(o.type.name != "CHANGE" or o.package is not None for o in parsed):  # +key, ~key, key@pkg
                cfg = self.loader.load_sweep_config(self.master, list(job))
                yield cfg, Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)
                continue
            groups = tuple(o.input_line for o in parsed if not self._plain(o))
            if groups not in self._bases:
                base = self.loader.load_sweep_config(self.master, list(groups))
                self._bases[groups] = (without_hydra(base), Path(base.hydra.sweep.dir))
            task, sweep_dir = self._bases[groups]
            task = copy.deepcopy(task)
            for o in parsed:
                if self._plain(o):
                    OmegaConf.update(task, o.key_or_group, o.value(), merge=False)
            yield task, sweep_dir / run_name(list(job))


def _not_to_launch(rows: "list[dict[str, Any]]", force: bool, on_slurm: bool) -> "dict[str, tuple[str, str]]":
    """{run dir: (outcome, note)} of the runs this sweep must not launch: finished ones (unless force) and,
    on Slurm, those whose job (recorded in the run directory at submission) squeue lists as alive."""
    held = {} if force else {row["run_dir"]: ("skipped", "") for row in rows if row["status"] == "done"}
    if on_slurm:
        from xlmr.slurm import active_jobs

        alive = active_jobs(Path(row["run_dir"]) for row in rows if row["run_dir"] not in held)
        held.update({str(d): ("queued", f"Slurm job {job} is {state.lower()}") for d, (job, state) in alive.items()})
    return held


def _outcome(result: Any, run_dir: Path) -> "tuple[str, str]":
    """(status, error) of one job: its return value when it returned, else its run directory's record."""
    if result is not None and result.status == JobStatus.COMPLETED and isinstance(result.return_value, dict):
        value = result.return_value
        return value.get("outcome", "done"), value.get("error") or ""
    from xlmr.run import read_result

    record = read_result(run_dir) or {}
    status = record.get("status", "missing")
    error = record.get("error") or ""
    if result is not None and result.status == JobStatus.FAILED and not error:
        err = result._return_value
        error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"
    return ("failed" if status in ("running", "missing") else status), error


def _summary(rows: "list[dict[str, Any]]", outcomes: "list[tuple[str, str]]") -> str:
    lines = ["", "sweep summary:"]
    for row, (status, error) in zip(rows, outcomes):
        lines.append(f"  {status:8s} {row['run']}" + (f"  — {error}" if error else ""))
    counts: dict[str, int] = {}
    for status, _ in outcomes:
        counts[status] = counts.get(status, 0) + 1
    lines.append("  " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return "\n".join(lines)
