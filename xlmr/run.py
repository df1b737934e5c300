"""One run: validate → (skip if finished) → prepare data → fit (resuming) → evaluate → result.json.

The run directory is the source of truth (docs/run-record.md). A finished run (status "done") is skipped
unless `force=true`; an interrupted one resumes from `checkpoints/last.ckpt`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from omegaconf import DictConfig, OmegaConf

from xlmr import __version__
from xlmr.config import (Config, ConfigError, accumulation, implementation_settings, science_knobs, typed, val_interval,
                         validate, world_size)
from xlmr.console import duration, say, set_progress, share_terminal, silence_library_noise, stage
from xlmr.record import RESULT_FILE, RunRecord, now

CKPT_DIR = "checkpoints"
LAST_CKPT = "last.ckpt"
RUN_LOCK = "run.lock"
REQUEUE_EXIT = 128 + signal.SIGUSR2  # CheckpointOnSignal's exit code: checkpointed, submitit requeues the job


def read_result(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(run_dir) / RESULT_FILE).read_text())
    except (OSError, ValueError):
        return None


def code_version() -> str:
    """`<version>+g<git sha>`; in a Slurm job, the version of the code snapshot it was submitted with."""
    snapshot = Path(__file__).resolve().parent.parent / "CODE_VERSION"
    if snapshot.is_file():
        return snapshot.read_text().strip()
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+g{sha}" if sha else __version__


def resolve_precision(precision: str, accelerator: str) -> str:
    import torch

    if precision != "auto":
        return precision
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    return "bf16-mixed" if on_gpu or cpu_has_native_bf16() else "32-true"


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True where the CPU computes bf16 in hardware (AVX-512 BF16 or AMX). There a model=tiny training step
    ran 1.3–1.75× faster in bf16-mixed than in fp32 (2 cores, 2026-11-25); elsewhere bf16 is emulated."""
    try:
        flags = Path(cpuinfo).read_text(errors="replace").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def run(cfg: DictConfig | Config, run_dir: Path, sweep: str, run_name: str, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Run one config in run_dir. Raises ConfigError for bad input before any data or training work.
    `callbacks`: extra Lightning callbacks for the fit (e.g. a test's simulated crash).

    One process at a time owns a run directory (`run.lock`, an flock: released when its holder exits or
    dies, so a requeued Slurm job takes it over). A second process finds it held and skips the run
    (outcome "busy"), so that two identical sweeps started at once train each run exactly once."""
    validate(cfg)
    cfg = typed(cfg)  # from here on, typed objects (xlmr/config.py's dataclasses), not a DictConfig
    silence_library_noise()
    set_progress(cfg.trainer.progress)
    if cfg.prepare_only:  # e.g. CPU jobs that build a sweep's data before its GPU jobs start
        from xlmr.data.pipeline import prepare_data

        data = prepare_data(cfg)
        return {"outcome": "prepared", "artifacts": data.artifacts}
    run_dir = Path(run_dir)
    writer = launch_rank() == 0  # on Slurm every task runs this function; only rank 0 writes records
    if (finished := _finished(run_dir, cfg)) is not None:
        return finished
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_dir / RUN_LOCK)
    if writer:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            holder = (read_result(run_dir) or {}).get("owner") or "another process"
            say(f"[run] {run_dir}: being trained by {holder} — skipped here")
            return {"outcome": "busy", "error": f"trained by {holder}"}
    try:
        if (finished := _finished(run_dir, cfg)) is not None:  # the holder we waited behind finished it
            return finished
        return _run_owned(cfg, run_dir, sweep, run_name, callbacks, writer)
    finally:
        if lock.is_locked:
            lock.release()


def data_versions(cfg: Config) -> dict[str, int]:
    """The versions of the code that makes this config's data (recorded; compared when a run is skipped)."""
    from xlmr.data.pipeline import SHARDS_VERSION, TOKENIZER_VERSION

    versions = {"tokenizer": TOKENIZER_VERSION, "shards": SHARDS_VERSION}
    if cfg.corpus.name == "synthetic":
        from xlmr.data.synthetic import GENERATOR_VERSION

        versions["generator"] = GENERATOR_VERSION
    return versions


def stale_data_note(recorded: dict[str, Any] | None, current: dict[str, int]) -> str:
    """'' when a finished run's data came from the code that would make them today; else which stages
    changed (e.g. "generator v3 → v4"), for its skip line. A record without `data_versions` was written
    before runs recorded them (2026-11-27): synthetic generator v3 or older, tokenizer and shards v1."""
    if recorded is None:
        recorded = {"tokenizer": 1, "shards": 1, "generator": 3}
    changed = [f"{stage} v{recorded.get(stage, '?')} → v{version}" for stage, version in current.items()
               if recorded.get(stage) != version]
    return ", ".join(changed)


def _finished(run_dir: Path, cfg: Config) -> dict[str, Any] | None:
    previous = read_result(run_dir)
    if previous and previous.get("status") == "done" and not cfg.force:
        stale = stale_data_note(previous.get("data_versions"), data_versions(cfg))
        say(f"[run] {run_dir}: finished already (status done) — skipped"
            + (f", although its data were made by older code ({stale})" if stale else "") + "; force=true re-runs it")
        return {**previous, "outcome": "skipped"}
    return None


def _owner() -> str:
    job = os.environ.get("SLURM_JOB_ID")
    return f"pid {os.getpid()} on {socket.gethostname()}" + (f", Slurm job {job}" if job else "")


def _run_owned(cfg: Config, run_dir: Path, sweep: str, run_name: str, callbacks: Sequence[Any],
               writer: bool) -> dict[str, Any]:
    previous = read_result(run_dir)
    last_ckpt = run_dir / CKPT_DIR / LAST_CKPT
    if cfg.force and previous and writer:
        for stale in (last_ckpt, run_dir / RESULT_FILE):
            stale.unlink(missing_ok=True)
    resuming = last_ckpt.exists()
    record = RunRecord(sweep=sweep, run=run_name, knobs=science_knobs(cfg), code_version=code_version(),
                       owner=_owner(), resumed=resuming, data_versions=data_versions(cfg))
    if writer:
        OmegaConf.save(cfg, run_dir / ".config.yaml.tmp", resolve=True)
        os.replace(run_dir / ".config.yaml.tmp", run_dir / "config.yaml")
        record.write(run_dir)
    try:
        record.update(**_train_and_evaluate(cfg, run_dir, sweep, run_name, last_ckpt if resuming else None,
                                            list(callbacks)), status="done")
    except ConfigError as err:
        record.update(status="failed", error=str(err))
        raise
    except (KeyboardInterrupt, SystemExit) as err:
        # Lightning turns a Ctrl-C during fit into sys.exit(1) raised while handling the KeyboardInterrupt
        by_user = isinstance(err, KeyboardInterrupt) or isinstance(err.__context__, KeyboardInterrupt)
        requeued = isinstance(err, SystemExit) and err.code == REQUEUE_EXIT
        record.update(status="interrupted",
                      error="stopped by the user (Ctrl-C, or SIGTERM to its sweep); re-running resumes it" if by_user
                      else f"requeued after signal (exit {err.code})" if requeued else f"exited (code {err.code})")
        if by_user:  # a requeue leaves W&B alone: submitit's exit path and the next job continue the same run
            _finish_wandb_run()
        raise
    except BaseException as err:
        record.update(status="failed", error=f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
        _finish_wandb_run()
        raise
    finally:
        record.finished = now()
        if writer:
            record.write(run_dir)
    if writer:
        say(record.closing_summary(run_dir))
    return record.as_dict()


def _finish_wandb_run() -> None:
    """The next attempt opens its own process's W&B run, with the same id."""
    if "wandb" in sys.modules and sys.modules["wandb"].run is not None:
        sys.modules["wandb"].finish(exit_code=1)


def check_resumable(saved: dict[str, Any] | None, dims: Any, tokenizer_sha256: str, ckpt: Path) -> None:
    """Refuse to resume a checkpoint whose model or tokenizer differ from this config's (one line)."""
    if saved is None:  # written before checkpoints described themselves: nothing to compare
        return
    if saved["dims"] != dims:
        raise ConfigError("model", f"{dims}", f"{ckpt} was trained with {saved['dims']}; force=true starts over")
    if saved["tokenizer"].get("sha256") != tokenizer_sha256:
        raise ConfigError("tokenizer", tokenizer_sha256[:12], f"{ckpt} was trained with tokenizer "
                          f"{saved['tokenizer'].get('sha256', '?')[:12]}; force=true starts over")


def discard_rejected_run(run_dir: Path) -> None:
    """Bad input found once the run had started (a corrupt corpus file, a vocab too large for the corpus):
    remove its directory unless it holds training state, so that nothing half-written is left behind."""
    run_dir = Path(run_dir)
    if run_dir.is_dir() and not (run_dir / CKPT_DIR).exists() and launch_rank() == 0:
        shutil.rmtree(run_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            run_dir.parent.rmdir()  # the sweep's folder too, when this run was all it had


def launch_rank() -> int:
    """This process's rank among the tasks an external launcher (Slurm, torchrun) started; 0 otherwise."""
    for var in ("SLURM_PROCID", "RANK"):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def _train_and_evaluate(cfg: Config, run_dir: Path, sweep: str, run_name: str,
                        ckpt: Path | None, callbacks: list[Any]) -> dict[str, Any]:
    import pytorch_lightning as pl
    import torch
    from pytorch_lightning.callbacks import ModelCheckpoint

    from xlmr.data.pipeline import prepare_data
    from xlmr.data.sampling import format_tsv, matched_steps, sampling_table
    from xlmr.datamodule import MLMDataModule
    from xlmr.divergence import DivergenceGuard
    from xlmr.hardware import device_peak
    from xlmr.lit import MLMModule, ThroughputLogger, parse_eval, read_checkpoint_description
    from xlmr.loggers import RunCSVLogger, define_wandb_metrics, log_wandb_tables, make_wandb_logger
    from xlmr.model import EncoderDims, flops_per_token
    from xlmr.preemption import CheckpointAtEnd, CheckpointOnSignal
    from xlmr.progress import TrainProgress
    from xlmr.scaling import mfu

    silence_library_noise()  # again: importing Lightning set its loggers back to INFO
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    t0 = time.time()
    data = prepare_data(cfg)
    tok = data.tokenizer()
    t_data = time.time() - t0
    steps, warmup = cfg.train.max_steps, cfg.train.warmup_steps
    monolingual: dict[str, Any] | None = None
    if cfg.monolingual is not None:  # the multilingual config's budget for this one language, alone
        q_lang = float(data.q[data.langs.index(cfg.monolingual)])
        steps = matched_steps(steps, q_lang)
        warmup = min(steps, round(warmup * q_lang))  # (a train.warmup_fraction follows max_steps by itself)
        monolingual = {"lang": cfg.monolingual, "q_multilingual": q_lang, "steps": steps}
        say(f"[run] monolingual baseline: {cfg.monolingual} alone, {steps:,} steps = {cfg.train.max_steps:,} × "
            f"q_{cfg.monolingual} {q_lang:.4f} of the {len(data.langs)}-language run")
        data = data.only(cfg.monolingual)
    train_tokens = steps * cfg.train.batch_tokens
    table = sampling_table({lang: data.texts[lang].sentences for lang in data.langs}, cfg.alpha, train_tokens,
                           {lang: data.shards.n_tokens(lang, "train") for lang in data.langs},
                           {lang: data.shards.info[lang].get("max_train_tokens") for lang in data.langs})
    if launch_rank() == 0:
        (run_dir / "sampling.tsv").write_text(format_tsv(table))

    dims = EncoderDims.of(cfg.model, tok.vocab_size)
    optim = dataclasses.replace(cfg.train, max_steps=steps, warmup_steps=warmup)  # a TrainConfig is an OptimConfig
    if monolingual is not None:
        monolingual["warmup_steps"] = optim.warmup_updates
    pl.seed_everything(cfg.seed, workers=True, verbose=False)  # model init is a function of the seed
    module = MLMModule(dims, optim, data.langs, tok.token_chars(), cfg.seed, unseen=data.unseen,
                       tokenizer=data.tokenizer_identity())
    params = module.model.num_params()
    accum = accumulation(cfg)
    masking = cfg.train  # a TrainConfig is a MaskingConfig
    dm = MLMDataModule(data, micro_batch_size=cfg.trainer.micro_batch_size, eval_batch_size=cfg.trainer.eval_batch_size,
                       seq_len=cfg.train.seq_len, accumulation=accum, max_steps=steps,
                       eval_sequences=cfg.data.eval_sequences, masking=masking, seed=cfg.seed,
                       num_workers=cfg.trainer.num_workers)

    precision = resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    fpt = flops_per_token(dims, cfg.train.seq_len, cfg.train.mask_prob)
    # nanoGPT-style: the derived quantities, once, at start.
    say(f"[run] {run_dir}")
    say(f"[run] model {cfg.model.name}: {params['total']:,} params "
        f"({params['non_embedding']:,} non-embedding), vocab {tok.vocab_size:,}; {len(data.langs)} languages, "
        f"alpha={cfg.alpha}")
    say(f"[run] batch {cfg.train.batch_tokens:,} tokens = {cfg.train.seq_len} seq_len × "
        f"{cfg.trainer.micro_batch_size} micro-batch × {world_size(cfg)} devices × {accum} accumulation; "
        f"{steps:,} steps = {train_tokens:,} tokens ≈ {fpt * train_tokens:.3g} FLOPs; "
        f"precision {precision}; data ready in {duration(t_data)}" + (f"; resuming from {ckpt}" if ckpt else ""))
    if cfg.train.peak_lr(dims.hidden) != cfg.train.lr:  # a width other than the reference
        say(f"[run] peak lr {cfg.train.peak_lr(dims.hidden):.3g} = lr {cfg.train.lr:g} × "
            f"{cfg.train.lr_width_reference} / hidden {dims.hidden} (train.lr_width_reference)")

    resume_step = None
    if ckpt:
        state = torch.load(ckpt, map_location="cpu", weights_only=False, mmap=True)
        resume_step = state["global_step"]
        check_resumable(read_checkpoint_description(state), dims, module.description["tokenizer"]["sha256"], ckpt)
    loggers: list = [RunCSVLogger(run_dir, resume_step)]
    if cfg.logger.wandb and cfg.logger.mode != "disabled" and launch_rank() == 0:
        knobs = science_knobs(cfg)
        loggers.append(make_wandb_logger(run_dir, cfg.logger.project, cfg.logger.entity, cfg.logger.mode, sweep,
                                         f"{sweep}/{run_name}",
                                         {"knobs": knobs, "implementation": implementation_settings(cfg), "params": params},
                                         [f"{k}={knobs[k]}" for k in ("model", "langs", "alpha", "vocab_size", "seed")]))
        define_wandb_metrics(loggers[-1].experiment, data.eval_langs)
    checkpoint = ModelCheckpoint(dirpath=run_dir / CKPT_DIR, filename="step-{step}", every_n_train_steps=cfg.trainer.ckpt_every_steps,
                                 save_last=True, save_top_k=-1 if cfg.trainer.keep_step_checkpoints else 0,
                                 enable_version_counter=False)
    on_slurm = "SLURM_JOB_ID" in os.environ and "SLURM_NTASKS" in os.environ
    strategy = cfg.trainer.strategy
    if strategy == "auto" and world_size(cfg) > 1:
        # On Slurm, one task per device (submitit's tasks_per_node): Lightning joins them and spawns nothing.
        # Elsewhere, ddp_spawn: plain "ddp" would re-execute sys.argv, i.e. replay a Hydra multirun.
        strategy = "ddp" if on_slurm else "ddp_spawn"
    plugins = []
    if on_slurm:  # requeueing is submitit's job (SIGUSR2), not Lightning's own SIGUSR1 auto-requeue
        from pytorch_lightning.plugins.environments import SLURMEnvironment

        plugins.append(SLURMEnvironment(auto_requeue=False))
    # the guard first: a callback that saves at the end of a step (CheckpointOnSignal) finds its flags updated
    callbacks = [DivergenceGuard(cfg.trainer.log_every_steps), *callbacks]
    if CheckpointOnSignal.wanted():
        callbacks = [*callbacks, CheckpointOnSignal(run_dir / CKPT_DIR / LAST_CKPT, accum)]
    peak = device_peak(precision, cfg.trainer.accelerator)  # the limit MFU is measured against (xlmr/hardware.py)
    callbacks = [*callbacks, ThroughputLogger(cfg.train.batch_tokens, fpt, peak.flops, cfg.trainer.log_every_steps),
                 TrainProgress(cfg.train.batch_tokens, cfg.trainer.log_every_steps)]
    val_every = val_interval(cfg.trainer.val_every_steps, steps, cfg.trainer.log_every_steps)
    trainer = pl.Trainer(
        accelerator=cfg.trainer.accelerator, devices=cfg.trainer.devices, num_nodes=cfg.trainer.num_nodes,
        strategy=strategy, precision=precision, max_steps=steps, max_epochs=-1,
        accumulate_grad_batches=accum,  # gradient clipping: MLMModule.on_before_optimizer_step
        log_every_n_steps=cfg.trainer.log_every_steps, logger=loggers,
        callbacks=[*callbacks, checkpoint, CheckpointAtEnd(run_dir / CKPT_DIR / LAST_CKPT, cfg.trainer.ckpt_every_steps)],
        val_check_interval=val_every * accum if val_every else None,
        check_val_every_n_epoch=None if val_every else 1, num_sanity_val_steps=0,
        limit_val_batches=1.0 if val_every else 0, use_distributed_sampler=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(run_dir),  # xlmr/progress.py
        deterministic=False, plugins=plugins,
    )
    if cfg.trainer.compile:
        module.model.compile()  # in place: the state_dict keeps its keys, so checkpoints stay portable
    t_fit = time.time()
    start_step = resume_step or 0
    trainer.fit(module, datamodule=dm, ckpt_path=str(ckpt) if ckpt else None)
    fit_seconds = time.time() - t_fit
    # the final state from the checkpoint, not from `trainer`/`module`: under ddp_spawn the fit ran elsewhere
    final = torch.load(run_dir / CKPT_DIR / LAST_CKPT, map_location="cpu", weights_only=False, mmap=True)
    final_step = int(final["global_step"])
    steps_now = final_step - start_step
    tokens_per_s = steps_now * cfg.train.batch_tokens / fit_seconds if steps_now else None
    utilisation = mfu(tokens_per_s, fpt, peak.flops) if tokens_per_s else None
    if launch_rank() == 0 and utilisation is not None:
        say(f"[train] {steps_now:,} steps in {duration(fit_seconds)}: {tokens_per_s:,.0f} tokens/s = "
            f"{100 * utilisation:.1f}% MFU of {peak.flops / 1e12:.3g} TFLOP/s ({peak.source})")
    trainer.limit_val_batches = 1.0
    with stage("eval", "held-out MLM") as notes:
        trainer.validate(module, datamodule=dm, verbose=False)
        # from callback_metrics: under ddp_spawn only they come back to this process
        evaluation = parse_eval({k: float(v) for k, v in trainer.callback_metrics.items()})
        notes.append(f"{len(evaluation['languages'])} languages, bits/char "
                     + ", ".join(f"{g} {m['mlm_bpc']:.3f}" for g, m in evaluation["groups"].items() if "mlm_bpc" in m))
    downstream_meta: dict[str, Any] = {}
    if launch_rank() == 0:  # downstream tasks on the final weights, read back from the checkpoint
        from xlmr.eval.stage import downstream_metrics
        from xlmr.hardware import training_device
        from xlmr.lit import group_metrics
        from xlmr.model import XLMRForMaskedLM

        model = XLMRForMaskedLM(dims)
        model.load_state_dict({k.removeprefix("model."): v for k, v in final["state_dict"].items()
                               if k.startswith("model.")})
        # on the device the run trained on (the checkpoint was read to the CPU)
        model = model.to(training_device(cfg.trainer.accelerator)).eval()
        extra, downstream_meta = downstream_metrics(cfg, data, model, precision)
        for lang, metrics in extra.items():
            evaluation["languages"].setdefault(lang, {}).update(metrics)
        evaluation["groups"] = group_metrics({lang: evaluation["languages"][lang] for lang in data.langs})
    if trainer.global_rank == 0:
        for lg in loggers[1:]:  # W&B: final metrics in the summary (analysis/wandb_source.py reads them)
            summary = {f"final/{lang}/{m}": v for lang, ms in evaluation["languages"].items() for m, v in ms.items()}
            summary.update({f"final/group/{g}/{m}": v for g, ms in evaluation["groups"].items() for m, v in ms.items()})
            summary["final/tokens_seen"] = final_step * cfg.train.batch_tokens
            summary.update({"final/train_tokens_per_s": tokens_per_s, "final/mfu": utilisation})
            lg.experiment.summary.update(summary)
            log_wandb_tables(lg.experiment, table, evaluation)
            lg.experiment.finish()
    return {
        "mfu": utilisation, "peak_flops": peak.flops, "peak_source": peak.source,
        "params": params, "steps": final_step, "tokens_seen": final_step * cfg.train.batch_tokens,
        "wall_time_s": round(time.time() - t0, 2), "data_time_s": round(t_data, 2),
        "train_tokens_per_s": round(tokens_per_s, 1) if tokens_per_s else None,
        "flops_per_token": fpt, "precision": precision, "world_size": world_size(cfg),
        "languages": evaluation["languages"], "groups": evaluation["groups"],
        "artifacts": data.artifacts, "count_unit": "sentences", "unseen_langs": data.unseen,
        "downstream": downstream_meta, "monolingual": monolingual,
    }


def runs_share_terminal(launcher_target: str) -> bool:
    """Does this launcher run several of a sweep's runs at once, printing to the sweep's terminal? (joblib:
    hydra/launcher=local_parallel. Slurm and submitit-local jobs print to their own log files.)"""
    return "joblib" in launcher_target.lower()


def _sigterm_as_ctrl_c(signum: int, frame: Any) -> None:
    """In a local_parallel sweep's worker, SIGTERM (passed on by the stopped sweep, or `kill` of its process
    group) stops the run as Ctrl-C does: recorded as interrupted, resumable. The first one only; Lightning
    ignores further Ctrl-Cs while it shuts down. Later SIGTERMs go to a handler that does nothing, not to
    SIG_IGN: a second one that arrives while this one runs (`timeout` and `kill -- -PGID` signal the whole
    process group, and the sweep passes its own on as well) is already pending, and CPython raises
    "OSError: Signal 15 ignored due to race condition" wherever the run is when it finds no handler for it."""
    signal.signal(signal.SIGTERM, _ignore_signal)
    os.kill(os.getpid(), signal.SIGINT)


def _ignore_signal(signum: int, frame: Any) -> None:
    """SIGTERM after the first, in a local_parallel worker that is already stopping (see above)."""


def diverged(err: BaseException) -> bool:
    """Was this the divergence guard stopping a run? Looked up, not imported: xlmr.divergence loads torch and
    Lightning, which this module imports only once a run trains (and if it never loaded, nothing trained)."""
    if "xlmr.divergence" not in sys.modules:
        return False
    return isinstance(err, sys.modules["xlmr.divergence"].TrainingDiverged)


def run_from_hydra(cfg: DictConfig) -> dict[str, str]:
    """Entry point of train.py's task function: run dir and names come from Hydra's runtime config.

    In a multirun a failed run is reported, not raised, so that every launcher (basic, submitit local or
    Slurm) returns all outcomes and the sweep ends with its summary; a single run exits non-zero."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    in_worker = multirun and runs_share_terminal(str(hc.launcher.get("_target_", "")))
    main_thread = threading.current_thread() is threading.main_thread()
    if in_worker:
        share_terminal(run_dir.name)
        if main_thread:
            signal.signal(signal.SIGTERM, _sigterm_as_ctrl_c)
    if multirun and os.environ.get("SUBMITIT_EXECUTOR") == "local" and main_thread:
        # a submitit_local task: the sweep started it with SIGINT ignored, so that a terminal's Ctrl-C reaches
        # the runs and not their controllers (hydra_plugins/xlmr_sweeper); the run takes Ctrl-C back
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        record = run(cfg, run_dir, sweep=cfg.name, run_name=run_dir.name)
    except (KeyboardInterrupt, SystemExit) as err:
        if isinstance(err, KeyboardInterrupt) or isinstance(err.__context__, KeyboardInterrupt):
            print(f"interrupted: {run_dir} (recorded; the same command resumes it)", file=sys.stderr)
            if in_worker:  # a joblib worker would take the sweep's next run: end the process (the record is written)
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(130)
            raise SystemExit(130) from None
        raise
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        discard_rejected_run(run_dir)
        if multirun:
            return {"outcome": "failed", "error": str(err), "run_dir": str(run_dir)}
        raise SystemExit(2) from None
    except Exception as err:
        if diverged(err):  # a finding about the run, not a bug: one line, no traceback
            print(f"error: {run_dir}: {err}", file=sys.stderr)
            if multirun:
                return {"outcome": "failed", "error": str(err), "run_dir": str(run_dir)}
            raise SystemExit(1) from None
        if not multirun:
            raise
        import traceback

        traceback.print_exc()
        return {"outcome": "failed", "error": f"{type(err).__name__}: {err}".splitlines()[0], "run_dir": str(run_dir)}
    # what the sweep summary shows; small, so that submitit pickles little back
    outcome = record.get("outcome", "resumed" if record.get("resumed") else "done")
    return {"outcome": outcome, "run_dir": str(run_dir), "error": record.get("error") if outcome == "busy" else None}
