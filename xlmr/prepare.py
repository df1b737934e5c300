"""`python train.py -m … prepare_only=true`: a sweep's data, built before its runs, fanned out.

    python train.py -m sweep=fig2_langs prepare_only=true                        # local process pool
    python train.py -m sweep=fig2_langs prepare_only=true hydra/launcher=slurm   # Slurm job arrays

Stage by stage, over the distinct artifacts of all the sweep's runs (a sweep over seeds and model sizes has
one tokenizer and one shards artifact per language set × α × vocabulary):

  ① corpora     one task per language whose text is not indexed (or generated) yet: the full pass that
                counts a CC-100 file
  ③ tokenizers  one task per distinct tokenizer (language set × α × vocabulary × sample)
  ④ shards      one task per (language × ~data.chunk_mb of its text file), then merged here into the
                artifact, the same bytes as a one-process build

Tasks run in a local process pool (data.prepare_workers, default: every core) or, with
hydra/launcher=slurm, as one Slurm job array per stage with the launcher's resources (partition, account,
cpus_per_task, mem_gb, timeout_min). Every task is idempotent (cache artifacts under a lock, chunk parts
renamed into place), so a rerun after a failure or a kill does only what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlmr.config import Config, corpus_lang_codes, tokenizer_lang_codes
from xlmr.console import printed, say, stage


@dataclass(frozen=True)
class CorpusTask:
    corpus: Any  # the corpus section (a typed dataclass: picklable)
    lang: str
    cache_dir: str


@dataclass(frozen=True)
class TokenizerTask:
    cfg: Config  # a run that needs the tokenizer (its corpora are built by then)


def prepare_tokenizer(task: TokenizerTask) -> str:
    from xlmr.data.pipeline import tokenizer_artifact

    texts, q_by_lang = _texts(task.cfg)
    return str(tokenizer_artifact(task.cfg, texts, q_by_lang).path)


def _texts(cfg: Config) -> tuple[dict, dict[str, float]]:
    """The (cached) corpora a config's tokenizer is trained on (tokenizer.langs, or its own languages) and
    their sampling probabilities among themselves."""
    from xlmr.data.corpora import corpus_source
    from xlmr.data.pipeline import language_shares

    texts = corpus_source(cfg.corpus).prepare(tokenizer_lang_codes(cfg), Path(cfg.paths.cache_dir))
    return texts, language_shares(texts, cfg.alpha)


def prepare_corpus(task: CorpusTask) -> str:
    from xlmr.data.corpora import corpus_source

    text = corpus_source(task.corpus).prepare([task.lang], Path(task.cache_dir))[task.lang]
    return str(text.path)


def task_runner(config: Any, workers: int) -> Any:
    """Slurm arrays when the sweep's launcher is Slurm (its resources), else a process pool."""
    from xlmr.data.fanout import process_pool, slurm_array

    launcher = config.hydra.launcher
    if "slurm" not in str(launcher.get("_target_", "")).lower():
        return process_pool(workers)
    params = {"timeout_min": launcher.timeout_min, "cpus_per_task": launcher.cpus_per_task,
              "mem_gb": launcher.mem_gb, "slurm_setup": list(launcher.get("setup") or [])}
    params.update({f"slurm_{k}": launcher[k] for k in ("partition", "account", "qos", "constraint")
                   if launcher.get(k)})
    return slurm_array(Path(config.hydra.sweep.dir) / ".prepare", params)


def prepare_sweep(configs: list[Config], config: Any) -> None:
    """Every artifact of every run of the sweep (configs: the runs' typed configs; config: the sweep's)."""
    with printed():
        _prepare_sweep(configs, config)


def _prepare_sweep(configs: list[Config], config: Any) -> None:
    from xlmr.data.corpora import corpus_source
    from xlmr.data.fanout import default_workers
    from xlmr.data.pipeline import prepare_data, tokenizer_status

    workers = max((c.data.prepare_workers for c in configs), default=1)
    run_tasks = task_runner(config, workers if workers > 1 else default_workers())
    pending = {}
    for cfg in configs:
        source = corpus_source(cfg.corpus)
        for lang, cached in source.cached(corpus_lang_codes(cfg), Path(cfg.paths.cache_dir)).items():
            if not cached:
                pending[(repr(cfg.corpus), lang, cfg.paths.cache_dir)] = CorpusTask(cfg.corpus, lang, cfg.paths.cache_dir)
    if pending:
        with stage("prepare", f"corpora: {len(pending)} language(s)"):
            run_tasks(prepare_corpus, list(pending.values()))
    tokenizers = {}
    for cfg in configs:
        key, built = tokenizer_status(cfg, _texts(cfg)[0])
        if not built:
            tokenizers[(key, cfg.paths.cache_dir)] = TokenizerTask(cfg)
    if tokenizers:
        with stage("prepare", f"tokenizers: {len(tokenizers)}"):
            run_tasks(prepare_tokenizer, list(tokenizers.values()))
    done: set[str] = set()
    for cfg in configs:
        data = prepare_data(cfg, run_tasks)  # finds what is cached; builds the rest, shards as chunk tasks
        done.update(str(a["path"]) for a in data.artifacts.values())
    say(f"[prepare] {len(configs)} run(s): {len(done)} data artifact(s) ready; the sweep's runs will find them cached")
