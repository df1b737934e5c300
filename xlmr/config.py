"""Typed config schemas (registered in Hydra's ConfigStore) and the validation of a composed config.

What defines a result is derived, never listed: every key of the composed config is a *knob* (a run
directory name part, a result.json knob, a results-table column, W&B config) unless it is marked as
implementation: the top-level keys in IMPLEMENTATION_KEYS (trainer, logger, paths, …) and any schema
field declared with `implementation()`. Every group's YAML in conf/ starts from one of these schemas,
so an unknown key or a wrong type is refused by OmegaConf before anything runs; `validate()` then checks
what types cannot (ranges, divisibility, language codes, files) and raises a one-line ConfigError.
"""

from __future__ import annotations

import copy
import math
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cache
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf, open_dict

from xlmr.data.corpora import CORPUS_SCHEMAS, corpus_source
from xlmr.data.mlm import MaskingConfig
from xlmr.data.shards import ShardSpec
from xlmr.data.tokenizer import TokenizerConfig
from xlmr.eval.config import EvalConfig
from xlmr.console import PROGRESS_MODES
from xlmr.fields import IMPLEMENTATION, ConfigError, bounded, check_ranges, implementation
from xlmr.optim import SCHEDULES, OptimConfig

__all__ = ["ConfigError", "Config", "validate", "science_knobs", "implementation"]

# Overrides of these keys (and of their children) do not name a run directory: they change how a run
# is executed, not what it computes.
IMPLEMENTATION_KEYS = ("trainer", "logger", "paths", "hydra", "sweep", "name", "force", "plan_only", "prepare_only")


# ---------------------------------------------------------------------------------------- science
NORM_POSITIONS = ("post", "pre")  # model.norm


@dataclass
class ModelConfig:
    name: str = MISSING
    layers: int = bounded(MISSING, ge=1)
    hidden: int = bounded(MISSING, ge=1)  # H
    ffn: int = bounded(MISSING, ge=1)  # H_ff, 4H in XLM-R
    heads: int = bounded(MISSING, ge=1)  # A; head size = H / A
    max_positions: int = bounded(512, ge=8)
    dropout: float = bounded(0.1, ge=0, lt=1)
    attention_dropout: float = bounded(0.1, ge=0, lt=1)
    init_std: float = bounded(0.02, gt=0)  # std of the N(0, σ²) init of every weight matrix and embedding (BERT's 0.02)
    # Where each block's LayerNorm sits (xlmr/model.py): post = x = LN(x + f(x)), BERT, RoBERTa, XLM-R base and
    # large; pre = x = x + f(LN(x)) with one LayerNorm after the last block, XLM-R XL and XXL (Goyal et al.
    # 2021), which train without the post-LN's sensitivity to warmup (Xiong et al. 2020).
    norm: str = "post"


@dataclass
class TrainConfig(OptimConfig, MaskingConfig):
    """The training budget and recipe. One step = one optimizer update of `batch_tokens` tokens. The
    optimizer's knobs (lr, warmup_steps, max_steps, adam_*, weight_decay, clip_grad_norm) are OptimConfig's
    (xlmr/optim.py), the masking's (mask_prob, …) MaskingConfig's (xlmr/data/mlm.py): one definition each."""

    name: str = MISSING
    batch_tokens: int = bounded(MISSING, ge=1)  # tokens per update, over all devices and accumulation steps
    seq_len: int = bounded(128, ge=8)  # tokens per sequence, <s> and </s> included
    clip_grad_norm: float = bounded(1.0, ge=0)  # pretraining clips at 1.0 by default (fine-tuning too)


@dataclass
class DataConfig(ShardSpec):
    """`data.*`: the shards' split (ShardSpec's fields, xlmr/data/shards.py) and the held-out evaluation."""

    eval_sequences: int = bounded(128, ge=1)  # held-out sequences scored per language
    # Budget-aware shards: each language's train shard holds at most this factor × what the run's budget
    # draws from it (train.max_steps × train.batch_tokens × q_i), rounded up to a power of two (so runs of
    # one budget, and nearby budgets, share one artifact); null = the whole corpus. 2 suits CC-100-size text.
    budget_cap: Optional[float] = bounded(None, ge=1)
    # Shards built as independent (language × chunk of file) tasks by this many local processes, merged into
    # the same bytes as one process writes (xlmr/data/shards.py); 1 = one streaming pass in the run's process.
    # `prepare_only=true` sweeps fan out on Slurm instead when hydra/launcher=slurm (docs/slurm.md).
    prepare_workers: int = implementation(1)
    chunk_mb: int = implementation(256)  # text per chunk task (plain-text files; an .xz file is one task)
    # languages scored by held-out MLM although absent from pretraining (the paper's "unseen" case);
    # they are tokenized with the run's tokenizer and are not part of the groups
    unseen_langs: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------- implementation
@dataclass
class TrainerConfig:
    accelerator: str = "auto"  # auto | cpu | gpu
    devices: int = bounded(1, ge=1)  # per node
    num_nodes: int = bounded(1, ge=1)
    strategy: str = "auto"  # auto | ddp | ddp_spawn
    precision: str = "auto"  # auto = bf16-mixed on CUDA or a CPU with native bf16, else 32-true
    micro_batch_size: int = bounded(32, ge=1)  # sequences per device per forward pass
    eval_batch_size: int = bounded(64, ge=1)
    num_workers: int = bounded(0, ge=0)  # data-loader worker processes (batches are pure functions of the index)
    threads: int = bounded(0, ge=0)  # torch intra-op threads on CPU; 0 = torch's default
    log_every_steps: int = bounded(10, ge=1)
    # held-out evaluation during training (W&B's validation curves): null = auto, VAL_POINTS evenly spaced
    # evaluations per run; 0 = only at the end
    val_every_steps: Optional[int] = bounded(None, ge=0)
    ckpt_every_steps: int = bounded(100, ge=1)
    keep_step_checkpoints: bool = False  # keep every step-*.ckpt, not only last.ckpt
    progress: str = "auto"  # auto (a bar on a terminal, periodic lines in log files) | bar | lines | off
    compile: bool = False  # torch.compile the model (nn.Module.compile: checkpoints keep their keys)


VAL_POINTS = 8  # held-out evaluations during a run when trainer.val_every_steps is null (W&B's curves)


def val_interval(val_every_steps: Optional[int], max_steps: int, log_every_steps: int) -> int:
    """Optimizer steps between held-out evaluations during training (0: only the final one). Auto (None):
    about VAL_POINTS per run, on a multiple of the logging interval so the curves share their steps."""
    if val_every_steps is not None:
        return val_every_steps
    every = max(1, max_steps // VAL_POINTS)
    return max(log_every_steps, every - every % log_every_steps)


@dataclass
class LoggerConfig:
    wandb: bool = True
    mode: str = "offline"  # offline | online | disabled (W&B's modes)
    project: str = "xlmr-scaling"
    entity: Optional[str] = None


@dataclass
class PathsConfig:
    runs_dir: str = "runs"
    cache_dir: str = "cache"


@dataclass
class Config:
    model: ModelConfig = MISSING
    corpus: Any = MISSING  # the schema of its source (xlmr/data/corpora.py), typed by its group's YAML
    train: TrainConfig = MISSING
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)  # downstream evaluations after pretraining
    # A language set, 7 | 15 | 30 | 60 | 100 (xlmr/data/languages.py), or a list of CC-100 codes, [en,fr,sw].
    # A plain key, not a config group: Hydra cannot select a group option named "7" from the command line.
    langs: Any = 7
    alpha: float = bounded(0.3, ge=0)  # language sampling exponent: q_i ∝ p_i^alpha
    vocab_size: int = bounded(4000, ge=100, lt=2**31 - 3)  # SentencePiece pieces; the model has vocab_size + 2 rows
    seed: int = bounded(0, ge=0)
    # A monolingual baseline of this multilingual config (Chang et al. 2023): train only this language, on
    # as many of its tokens as the multilingual run gives it (max_steps × q_lang updates, same batch and
    # tokenizer). null = the multilingual run itself. analysis: gain = monolingual − multilingual bits/char.
    monolingual: Optional[str] = None
    name: str = "default"  # the sweep's name: runs go to <runs_dir>/<name>/<run>/
    force: bool = False  # re-run even when the run directory holds a finished result
    plan_only: bool = False  # multirun: print the validated plan and launch nothing
    prepare_only: bool = False  # build the cached data artifacts (corpus, tokenizer, shards) and stop


def register_configs() -> None:
    cs = ConfigStore.instance()
    # Schemas are stored outside the config groups, as `<group>_schema` (each option's YAML pulls its own in
    # with `/<group>_schema@_here_`), so that `--help` lists only real options: `model=schema` is none.
    cs.store(name="config_schema", node=Config)
    for name, schema in {"model": ModelConfig, "train": TrainConfig, "trainer": TrainerConfig,
                         "logger": LoggerConfig, **{f"corpus_{k}": v for k, v in CORPUS_SCHEMAS.items()}}.items():
        cs.store(name=f"{name}_schema", node=schema)




@cache
def implementation_paths() -> frozenset[str]:
    """Dotted paths of the schema fields declared with `implementation()` (corpus fields of every source)."""
    found: set[str] = set()

    def walk(schema: type, prefix: str) -> None:
        hints = typing.get_type_hints(schema)
        for f in fields(schema):
            if f.metadata.get(IMPLEMENTATION):
                found.add(prefix + f.name)
            elif is_dataclass(hints.get(f.name)):
                walk(hints[f.name], f"{prefix}{f.name}.")

    walk(Config, "")
    for schema in CORPUS_SCHEMAS.values():
        walk(schema, "corpus.")
    return frozenset(found)


def is_implementation(path: str) -> bool:
    """Is this dotted config path (or an override's key, `hydra/launcher` style included) implementation?"""
    path = path.lstrip("+~").replace("/", ".")
    return path.split(".")[0] in IMPLEMENTATION_KEYS or any(
        path == p or path.startswith(p + ".") for p in implementation_paths())


def run_name(overrides: list[str]) -> str:
    """The run directory's name: the knob overrides, sorted, as `key=value,key=value`; 'default' if none.
    Hydra resolver `xlmr_run_name`, applied to `hydra.overrides.task`."""
    kept = []
    for ov in overrides:
        if is_implementation(ov.split("=", 1)[0]):
            continue
        kept.append(ov.lstrip("+~").replace("/", "_"))
    return ",".join(sorted(kept)) or "default"


def slurm_gpus_per_node(accelerator: str, devices: int) -> int | None:
    """GPUs to ask Slurm for per node: one per device, none for CPU runs. Hydra resolver `xlmr_slurm_gpus`."""
    return None if str(accelerator) == "cpu" else int(devices)


if not OmegaConf.has_resolver("xlmr_run_name"):
    OmegaConf.register_new_resolver("xlmr_run_name", lambda overrides: run_name(list(overrides)))
if not OmegaConf.has_resolver("xlmr_slurm_gpus"):
    OmegaConf.register_new_resolver("xlmr_slurm_gpus", slurm_gpus_per_node)


# -------------------------------------------------------------------------------------- validation
def world_size(cfg: DictConfig) -> int:
    return cfg.trainer.devices * cfg.trainer.num_nodes


def accumulation(cfg: DictConfig) -> int:
    """Micro-batches per optimizer step per device: batch_tokens = seq_len · micro_batch · devices · accum."""
    per_pass = cfg.train.seq_len * cfg.trainer.micro_batch_size * world_size(cfg)
    return cfg.train.batch_tokens // per_pass


def lang_codes(cfg: DictConfig) -> list[str]:
    """The run's language codes from `langs`: a set size (7, 15, 30, 60, 100) or a list of codes."""
    return _codes(cfg.langs, "langs")


def tokenizer_lang_codes(cfg: DictConfig) -> list[str]:
    """The languages the run's tokenizer is trained on: the run's own (tokenizer.langs null, or naming the
    same set), else tokenizer.langs in the 100-language set's order, so that one set named twice (15, or its
    codes listed in another order) samples its text in one order and builds one tokenizer."""
    from xlmr.data.languages import language_set

    own = lang_codes(cfg)
    if cfg.tokenizer.langs is None:
        return own
    codes = _codes(cfg.tokenizer.langs, "tokenizer.langs")
    if set(codes) == set(own):
        return own
    order = {code: i for i, code in enumerate(language_set(100))}
    return sorted(codes, key=lambda code: order.get(code, len(order)))


def corpus_lang_codes(cfg: DictConfig) -> list[str]:
    """Every language whose corpus a run needs: its own, then those tokenizer.langs adds."""
    return list(dict.fromkeys(lang_codes(cfg) + tokenizer_lang_codes(cfg)))


def _codes(langs: Any, key: str) -> list[str]:
    from xlmr.data.languages import SET_SIZES, known_codes, language_set

    if isinstance(langs, (list, tuple)) or OmegaConf.is_list(langs):
        codes = [str(c) for c in langs]
        if not codes:
            raise ConfigError(key, "[]", "needs at least one language")
        unknown = [c for c in codes if c not in known_codes()]
        if unknown:
            raise ConfigError(key, unknown[0], "unknown language code; valid: the CC-100 codes in "
                              f"xlmr/data/cc100_stats.tsv, e.g. {', '.join(sorted(known_codes())[:8])}, …")
        if len(set(codes)) != len(codes):
            raise ConfigError(key, codes, "a language is listed twice")
        return codes
    if isinstance(langs, bool) or str(langs) not in {str(n) for n in SET_SIZES}:
        raise ConfigError(key, langs, f"unknown language set; valid: {', '.join(map(str, SET_SIZES))}, "
                          "or a list of CC-100 codes such as [en,fr,sw]")
    return list(language_set(int(langs)))


def langs_name(cfg: DictConfig) -> str:
    """'7', '15', … for the standard sets, 'en+fr+sw' for a list."""
    return langs_name_of(cfg.langs)


def langs_name_of(langs: Any) -> str:
    return "+".join(map(str, langs)) if OmegaConf.is_list(langs) or isinstance(langs, (list, tuple)) else str(langs)


def validate(cfg: DictConfig | Config) -> None:
    """Raise ConfigError for the first bad value. Cheap: touches no data (only stats a corpus path)."""
    cfg = without_hydra(cfg)
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(missing[0], "???", f"required, no default: give it, e.g. `{missing[0]}=…` on the command line")
    m = cfg.model
    for key in ("layers", "hidden", "ffn", "heads"):
        if m[key] <= 0:
            raise ConfigError(f"model.{key}", m[key], "must be a positive integer")
    if m.norm not in NORM_POSITIONS:
        raise ConfigError("model.norm", m.norm, "valid: post (XLM-R base/large), pre (XLM-R XL/XXL)")
    if m.hidden % m.heads:
        divisors = [h for h in range(1, m.hidden + 1) if m.hidden % h == 0 and h <= 64]
        raise ConfigError("model.heads", m.heads, f"hidden={m.hidden} is not divisible by it; valid: {divisors}")

    codes = lang_codes(cfg)
    tokenizer_codes = tokenizer_lang_codes(cfg)
    missing = [code for code in codes if code not in tokenizer_codes]
    if missing:
        raise ConfigError("tokenizer.langs", langs_name_of(cfg.tokenizer.langs), "must hold every language of the "
                          f"run (missing: {', '.join(missing)}); null trains it on the run's own langs")
    from xlmr.data.languages import known_codes

    for code in cfg.data.unseen_langs:
        if code not in known_codes():
            raise ConfigError("data.unseen_langs", code, "unknown language code; valid: the CC-100 codes")
        if code in codes:
            raise ConfigError("data.unseen_langs", code, "is a pretraining language (in langs); unseen ones must not be")
        if code in tokenizer_codes:
            raise ConfigError("data.unseen_langs", code, "is in tokenizer.langs: an unseen language's text must not "
                              "train the tokenizer either")

    if cfg.monolingual is not None and cfg.monolingual not in codes:
        raise ConfigError("monolingual", cfg.monolingual, f"must be one of the run's languages: {', '.join(codes)}")

    if not (math.isfinite(cfg.alpha) and cfg.alpha >= 0):
        raise ConfigError("alpha", cfg.alpha, "must be a finite number >= 0 (0 = uniform, 0.3 = XLM-R, 1 = proportional)")
    if cfg.vocab_size < 100:
        raise ConfigError("vocab_size", cfg.vocab_size, "must be >= 100 SentencePiece pieces (XLM-R: 250000)")
    if cfg.vocab_size + 2 > 2**31 - 1:
        raise ConfigError("vocab_size", cfg.vocab_size, "must fit int32 ids")

    t = cfg.train
    if t.seq_len < 8 or t.seq_len > m.max_positions:
        raise ConfigError("train.seq_len", t.seq_len, f"must be in [8, model.max_positions={m.max_positions}]")
    for key in ("max_steps", "batch_tokens"):
        if t[key] <= 0:
            raise ConfigError(f"train.{key}", t[key], "must be a positive integer")
    if not t.lr > 0:
        raise ConfigError("train.lr", t.lr, "must be > 0")
    if t.schedule not in SCHEDULES:
        raise ConfigError("train.schedule", t.schedule,
                          "valid: linear (warmup, then linear decay to 0), wsd (warmup, the peak held, then linear "
                          "decay over the last train.decay_fraction)")
    if t.warmup_fraction is None and not 0 <= t.warmup_steps <= t.max_steps:
        raise ConfigError("train.warmup_steps", t.warmup_steps, f"must be in [0, train.max_steps={t.max_steps}]")
    if not 0 < t.mask_prob < 1 or t.mask_token_prob + t.random_token_prob > 1:
        raise ConfigError("train.mask_prob", t.mask_prob, "need 0 < mask_prob < 1 and mask_token_prob + random_token_prob <= 1")
    per_pass = t.seq_len * cfg.trainer.micro_batch_size * world_size(cfg)
    if t.batch_tokens % per_pass:
        raise ConfigError("train.batch_tokens", t.batch_tokens,
                          f"must be a multiple of seq_len × trainer.micro_batch_size × devices × nodes = {per_pass} "
                          f"(e.g. {per_pass * max(1, round(t.batch_tokens / per_pass))})")

    tr = cfg.trainer
    if tr.micro_batch_size <= 0 or tr.devices <= 0 or tr.num_nodes <= 0:
        raise ConfigError("trainer.micro_batch_size", tr.micro_batch_size, "micro_batch_size, devices, num_nodes must be > 0")
    if tr.precision not in ("auto", "32-true", "32", "bf16-mixed", "16-mixed", "bf16-true"):
        raise ConfigError("trainer.precision", tr.precision, "valid: auto, 32-true, bf16-mixed, 16-mixed, bf16-true")
    if tr.progress not in PROGRESS_MODES:
        raise ConfigError("trainer.progress", tr.progress, f"valid: {', '.join(PROGRESS_MODES)}")
    if cfg.data.prepare_workers < 1 or cfg.data.chunk_mb < 1:
        key = "data.prepare_workers" if cfg.data.prepare_workers < 1 else "data.chunk_mb"
        raise ConfigError(key, cfg.data[key.split(".")[1]], "must be >= 1")
    if cfg.logger.mode not in ("offline", "online", "disabled"):
        raise ConfigError("logger.mode", cfg.logger.mode, "valid: offline, online, disabled")
    if not 0 < cfg.data.valid_fraction < 1:
        raise ConfigError("data.valid_fraction", cfg.data.valid_fraction, "must be in (0, 1)")

    # every bounded field of every group (xlmr.fields.bounded), the chosen corpus's schema included
    check_ranges(Config, cfg)
    corpus_schema = CORPUS_SCHEMAS.get(cfg.corpus.name)
    if corpus_schema is not None:
        check_ranges(corpus_schema, cfg.corpus, "corpus.")
    if cfg.corpus.name == "synthetic":
        from xlmr.data.synthetic import check_config

        check_config(cfg.corpus)  # the generator's own rules across fields (n_nouns >= n_topics, …)

    corpus_source(cfg.corpus).check(corpus_lang_codes(cfg) + list(cfg.data.unseen_langs))  # a missing/empty file


def without_hydra(cfg: DictConfig | Config) -> DictConfig:
    """The task's config alone, as a DictConfig: a sweep job's or a callback's config has a `hydra` node
    that resolves only inside a running job; a typed Config becomes its DictConfig again."""
    if not OmegaConf.is_config(cfg):
        return OmegaConf.structured(cfg)
    if "hydra" not in cfg:
        return cfg
    task = copy.copy(cfg)  # keeps the structured type (Config), which to_object needs
    with open_dict(task):
        del task["hydra"]
    return task


def typed(cfg: DictConfig | Config) -> Config:
    """The composed config as typed objects (Config and the dataclasses it composes, the corpus as its
    source's schema): what the library receives. The entry point converts once, after `validate`."""
    return cfg if isinstance(cfg, Config) else OmegaConf.to_object(without_hydra(cfg))


def flat_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as {dotted path: leaf value} (lists are leaves), `hydra` left out."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                flat[prefix + str(key)] = value

    walk(OmegaConf.to_container(without_hydra(cfg), resolve=True), "")
    return flat


# Knobs shown first (the paper's axes); the rest follow in config order.
_HEADLINE_KNOBS = ("model", "langs", "num_langs", "alpha", "vocab_size", "corpus", "train", "seed", "monolingual")


def science_knobs(cfg: DictConfig) -> dict[str, Any]:
    """The flat dict of knobs that define a result: result.json's `knobs`, W&B's config, table columns.

    Derived, never listed: every leaf of the config that is not implementation, named by its dotted path
    (as in a run directory's name: `corpus.p_code_switch`), except that a group's option name is the
    group's own key (`model.name` → `model`); plus `langs` as a name ('7', 'en+sw') and `num_langs`."""
    knobs: dict[str, Any] = {}
    for path, value in flat_config(cfg).items():
        if is_implementation(path):
            continue
        group, _, leaf = path.partition(".")
        knobs[group if leaf == "name" else path] = value
    knobs.update(langs=langs_name(cfg), num_langs=len(lang_codes(cfg)))
    if "tokenizer.langs" in knobs:  # the set the tokenizer is trained on, named like langs ('15', 'en+fr+sw'):
        # the run's own when null or the same set, so that 7- and 15-language runs with tokenizer.langs=15 and the
        # 15-language runs' own tokenizer are one condition in the results table
        own = tokenizer_lang_codes(cfg) == lang_codes(cfg)
        knobs["tokenizer.langs"] = knobs["langs"] if own else langs_name_of(cfg.tokenizer.langs)
    first = {k: knobs[k] for k in _HEADLINE_KNOBS if k in knobs}
    return {**first, **{k: v for k, v in knobs.items() if k not in first}}


def section_knobs(cfg: DictConfig, section: str) -> dict[str, Any]:
    """One section's knobs, keyed by their name in the section (cache keys of the stages that own it)."""
    return {path.removeprefix(section + "."): value for path, value in flat_config(cfg).items()
            if path.startswith(section + ".") and not is_implementation(path)}


def implementation_settings(cfg: DictConfig) -> dict[str, Any]:
    """The complement of `science_knobs`: the implementation keys' values (W&B's config marks them so)."""
    return {path: value for path, value in flat_config(cfg).items() if is_implementation(path)}


def conf_dir() -> Path:
    """The Hydra config tree, xlmr/conf/ (conf/ at the top of a clone links to it): part of the package, so
    that an installed `xlmr-train` finds it as well as train.py in a clone."""
    return Path(__file__).resolve().parent / "conf"
