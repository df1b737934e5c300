"""Stages ①–④ for one run: corpus → α-sampling → tokenizer → shards, each a shared cached artifact.

Cache keys chain upstream keys: a tokenizer's key holds its languages' corpus keys, a shards artifact
holds its tokenizer's key. A sweep over model sizes or seeds therefore trains one tokenizer.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xlmr.config import Config, corpus_lang_codes, lang_codes, section_knobs, tokenizer_lang_codes
from xlmr.console import stage
from xlmr.fields import ConfigError

from .cache import Artifact, artifact_key, failed_before, get_or_build, is_built
from .corpora import corpus_source
from .corpus import LanguageText
from .fanout import process_pool
from .sampling import sampling_probs, shard_caps
from .shards import RunTasks, Shards, ShardSpec, build_shards
from .tokenizer import (MODEL_FILE, Tokenizer, VocabTooLarge, sample_sentences, sentencepiece_version,
                        train_sentencepiece)

TOKENIZER_VERSION = 1
SHARDS_VERSION = 1


@dataclass
class PreparedData:
    langs: list[str]
    texts: dict[str, LanguageText]
    q: np.ndarray  # (n_langs,) sampling probabilities, in `langs` order
    tokenizer_dir: Path
    shards: Shards
    artifacts: dict[str, dict[str, Any]]  # stage → {key, path, built_now}
    unseen: list[str] = field(default_factory=list)  # evaluated only: absent from pretraining
    unseen_shards: Shards | None = None

    @property
    def eval_langs(self) -> list[str]:
        return self.langs + self.unseen

    def eval_shards(self, lang: str) -> Shards:
        return self.shards if lang in self.langs else self.unseen_shards  # type: ignore[return-value]

    def tokenizer_identity(self) -> dict[str, Any]:
        """The tokenizer as a checkpoint carries it: artifact key, SHA-256 and the model file's bytes."""
        model = (Path(self.tokenizer_dir) / MODEL_FILE).read_bytes()
        return {"key": self.artifacts["tokenizer"]["key"], "sha256": hashlib.sha256(model).hexdigest(),
                "spm_model": model}

    def tokenizer(self) -> Tokenizer:
        return Tokenizer.from_dir(self.tokenizer_dir)

    def only(self, lang: str) -> "PreparedData":
        """The same artifacts, pretraining on `lang` alone (q = 1): a monolingual baseline keeps the
        multilingual run's tokenizer and shards, so its bits/char compare with that run's."""
        return PreparedData([lang], {lang: self.texts[lang]}, np.ones(1), self.tokenizer_dir, self.shards,
                            self.artifacts, self.unseen, self.unseen_shards)


def _tokenizer_spec(cfg: Config, texts: dict[str, LanguageText]) -> dict[str, Any]:
    """Every knob of the `tokenizer` section (derived: a key added there is in the cache key), the corpus
    keys, the two top-level knobs a tokenizer depends on, and the SentencePiece release that trains it:
    releases build different vocabularies from the same sample and options (docs/synthetic-corpus.md,
    "Tokenizer"), so a cached tokenizer is reused only by the release that built it."""
    # `texts` are the corpora it is trained on (tokenizer.langs): they key its languages, so the knob itself is
    # left out, and a run of 7 languages with tokenizer.langs=15 shares the 15-language runs' tokenizer
    knobs = {name: value for name, value in section_knobs(cfg, "tokenizer").items() if name != "langs"}
    return {"corpus": {lang: texts[lang].key for lang in texts}, "alpha": cfg.alpha,
            "vocab_size": cfg.vocab_size, **knobs, "version": TOKENIZER_VERSION,
            "sentencepiece": sentencepiece_version()}


def tokenizer_texts(cfg: Config, texts: dict[str, LanguageText], source: Any) -> dict[str, LanguageText]:
    """The corpora the tokenizer is trained on: the run's own `texts`, or those of tokenizer.langs (a superset
    of the run's languages, checked by config.validate), prepared by the run's corpus source."""
    codes = tokenizer_lang_codes(cfg)
    return texts if codes == list(texts) else source.prepare(codes, Path(cfg.paths.cache_dir))


def _shards_spec(cfg: Config, tokenizer_key: str, texts: dict[str, LanguageText],
                 caps: dict[str, int] | None = None) -> dict[str, Any]:
    """The `data` knobs that ShardSpec (the shard builder's own config) has: a field added there is keyed;
    and the budget-aware caps, when the run has them (runs with equal caps share the artifact)."""
    data = section_knobs(cfg, "data")
    return {"tokenizer": tokenizer_key, "corpus": {lang: texts[lang].key for lang in texts},
            **{f.name: data[f.name] for f in fields(ShardSpec) if f.name in data}, "version": SHARDS_VERSION,
            **({"max_train_tokens": caps} if caps else {})}


def budget_caps(cfg: Config, q_by_lang: dict[str, float]) -> dict[str, int] | None:
    """data.budget_cap as per-language train-token caps for this run's budget (None: no cap)."""
    if cfg.data.budget_cap is None:
        return None
    return shard_caps(q_by_lang, cfg.train.max_steps * cfg.train.batch_tokens, cfg.data.budget_cap)


def language_shares(texts: dict[str, LanguageText], alpha: float) -> dict[str, float]:
    """q_i per language of a config's corpora (stage ②), in the corpora's order."""
    q = sampling_probs(np.array([text.sentences for text in texts.values()]), alpha)
    return dict(zip(texts, q.tolist()))


def check_vocab_fits(vocab_size: int, texts: dict[str, LanguageText]) -> None:
    """Refuse a vocab_size larger than the pieces the corpus can yield at all (a cheap upper bound recorded
    with each cached corpus, xlmr/data/text.py): found at plan time, before a tokenizer is trained."""
    bounds = [texts[lang].max_pieces for lang in texts]
    if bounds and None not in bounds and vocab_size > sum(bounds):
        raise ConfigError("vocab_size", vocab_size, f"too large for this corpus: its text can yield at most "
                          f"{sum(bounds):,} distinct pieces (substrings of its distinct words); lower vocab_size")


def _record(art: Artifact) -> dict[str, Any]:
    return {"key": art.key, "path": str(art.path), "built_now": art.built_now}


def tokenizer_status(cfg: Config, texts: dict[str, LanguageText]) -> tuple[str, bool]:
    """(cache key, already built) of a config's tokenizer; refuses a vocab the corpora cannot yield."""
    check_vocab_fits(cfg.vocab_size, texts)
    spec = _tokenizer_spec(cfg, texts)
    return artifact_key(spec), is_built(Path(cfg.paths.cache_dir), "tokenizer", spec)


def tokenizer_artifact(cfg: Config, texts: dict[str, LanguageText], q_by_lang: dict[str, float]) -> Artifact:
    """Stage ③: the run's tokenizer, from the cache or trained on an α-sample of its corpora. A vocab too
    large for the sample is a ConfigError, remembered by the cache (later plans refuse it at once)."""
    langs = list(texts)

    def build(tmp: Path) -> dict[str, Any]:
        sample = sample_sentences({lang: texts[lang].path for lang in langs},
                                  {lang: texts[lang].sentences for lang in langs},
                                  q_by_lang, cfg.tokenizer.sample_sentences, cfg.tokenizer.seed)
        try:
            info = train_sentencepiece(sample, cfg.vocab_size, tmp,
                                       character_coverage=cfg.tokenizer.character_coverage)
        except VocabTooLarge as err:
            raise ConfigError("vocab_size", cfg.vocab_size,
                              f"too large for this corpus and tokenizer sample ({err}); lower vocab_size or "
                              "raise tokenizer.sample_sentences / the corpus size") from None
        return {**info, "langs": langs, "q": q_by_lang}

    return get_or_build(Path(cfg.paths.cache_dir), "tokenizer", _tokenizer_spec(cfg, texts), build,
                        remember_failure=True)


def prepare_data(cfg: Config, run_tasks: RunTasks | None = None) -> PreparedData:
    """Stages ①–④, each one timed line (xlmr/console.py): built now, or found in the cache.
    `run_tasks`: how the shards' (language × chunk) tasks run (xlmr/data/fanout.py: a Slurm array for a
    prepare_only sweep); by default a local pool of data.prepare_workers processes, or none (one stream)."""
    if run_tasks is None and cfg.data.prepare_workers > 1:
        run_tasks = process_pool(cfg.data.prepare_workers)
    cache_dir = Path(cfg.paths.cache_dir)
    langs = lang_codes(cfg)
    source = corpus_source(cfg.corpus)
    with stage("data", f"{source.name} corpus") as notes:
        texts = source.prepare(langs, cache_dir)
        tok_texts = tokenizer_texts(cfg, texts, source)
        notes.append(f"{len(langs)} languages, {sum(texts[lang].sentences for lang in langs):,} sentences"
                     + (f" (+ {len(tok_texts) - len(texts)} for the tokenizer)" if tok_texts is not texts else ""))
    q_by_lang = language_shares(texts, cfg.alpha)
    q = np.array(list(q_by_lang.values()))
    check_vocab_fits(cfg.vocab_size, tok_texts)
    with stage("data", "tokenizer") as notes:
        tok_art = tokenizer_artifact(cfg, tok_texts, language_shares(tok_texts, cfg.alpha))
        notes.append(f"SentencePiece unigram, {cfg.vocab_size:,} pieces from {cfg.tokenizer.sample_sentences:,} "
                     f"sentences sampled with alpha={cfg.alpha}"
                     + (f" from {len(tok_texts)} languages (tokenizer.langs)" if tok_texts is not texts else "")
                     + f", {_built(tok_art)}")
    tok = Tokenizer.from_dir(tok_art.path)
    spec = cfg.data  # a DataConfig is a ShardSpec
    caps = budget_caps(cfg, q_by_lang)
    shards_spec = _shards_spec(cfg, tok_art.key, texts, caps)
    with stage("data", "shards") as notes:
        shards_art = get_or_build(cache_dir, "shards", shards_spec, lambda tmp: build_shards(
            tok, {lang: texts[lang].path for lang in langs}, tmp, spec, caps, tokenizer_dir=tok_art.path,
            run_tasks=run_tasks, chunk_bytes=cfg.data.chunk_mb * 2**20,
            part_dir=cache_dir / "shards" / f".parts-{artifact_key(shards_spec)}"))
        shards = Shards(shards_art.path, shards_art.manifest)
        notes.append(f"{sum(shards.n_tokens(lang, 'train') for lang in langs) / 1e6:,.1f}M training tokens"
                     + (f" ({sum(shards.info[lang].get('capped', False) for lang in langs)} of {len(langs)} languages "
                        f"capped at {cfg.data.budget_cap:g}× the budget's draw)" if caps else "")
                     + f", {_built(shards_art)}")
    data = PreparedData(langs, texts, q, tok_art.path, shards, {"tokenizer": _record(tok_art), "shards": _record(shards_art)})
    unseen = list(cfg.data.unseen_langs)
    if unseen:  # their text, shards with this run's tokenizer; never sampled for training
        with stage("data", f"unseen languages {', '.join(unseen)}"):
            unseen_texts = source.prepare(unseen, cache_dir)
            art = get_or_build(cache_dir, "shards", _shards_spec(cfg, tok_art.key, unseen_texts),
                               lambda tmp: build_shards(tok, {lang: unseen_texts[lang].path for lang in unseen}, tmp,
                                                        spec))
        data.unseen, data.unseen_shards = unseen, Shards(art.path, art.manifest)
        data.artifacts["unseen_shards"] = _record(art)
    return data


def _built(art: Artifact) -> str:
    return "built now" if art.built_now else f"cached ({art.key[:12]})"


@dataclass
class DataPlan:
    """What a sweep plan says of one config's data (cheap: manifests and file sizes, no text is read)."""

    status: dict[str, str]  # stage → "n/N cached" | "cached" | "to build"
    # the shards artifact still to build, or None: (an identity that runs sharing it share, bytes of text
    # to tokenize: the files' sizes on disk, None where the text is still to be generated)
    shards_to_build: tuple[str, int | None] | None


def data_plan(cfg: Config) -> DataPlan:
    cache_dir = Path(cfg.paths.cache_dir)
    langs = lang_codes(cfg)
    tok_langs = tokenizer_lang_codes(cfg)
    source = corpus_source(cfg.corpus)
    every_lang = corpus_lang_codes(cfg)  # tokenizer.langs may add corpora
    n_cached = sum(source.cached(every_lang, cache_dir).values())
    status = {"corpus": f"{n_cached}/{len(every_lang)} cached"}
    if n_cached < len(every_lang):
        status["tokenizer"] = status["shards"] = "to build"
        files = getattr(source, "_file", None)  # a source over files (CC-100): their sizes, before any pass
        size = sum(files(lang).stat().st_size for lang in langs) if files else None  # the shards' text
        # what the artifact's key will depend on, cheaply (no config flattening: plans price 100s of runs)
        budget = cfg.train.max_steps * cfg.train.batch_tokens if cfg.data.budget_cap else None
        # tokenizer.langs is named by tok_langs (null and the run's own set are one tokenizer)
        section = asdict(cfg.tokenizer) if is_dataclass(cfg.tokenizer) else dict(cfg.tokenizer)  # typed or not
        tokenizer = {name: value for name, value in section.items() if name != "langs"}
        identity = repr((repr(cfg.corpus), langs, tok_langs, cfg.alpha, cfg.vocab_size, repr(tokenizer),
                         cfg.data.valid_fraction, cfg.data.max_valid_tokens, cfg.data.budget_cap, budget))
        return DataPlan(status, (identity, size))
    texts = source.prepare(langs, cache_dir)  # all cached: reads manifests only
    tok_texts = tokenizer_texts(cfg, texts, source)
    tok_spec = _tokenizer_spec(cfg, tok_texts)
    check_vocab_fits(cfg.vocab_size, tok_texts)
    failure = failed_before(cache_dir, "tokenizer", tok_spec)
    if failure is not None:  # e.g. a vocab too large for this corpus: the sweep stops at its plan
        raise failure
    status["tokenizer"] = "cached" if is_built(cache_dir, "tokenizer", tok_spec) else "to build"
    shards_spec = _shards_spec(cfg, artifact_key(tok_spec), texts, budget_caps(cfg, language_shares(texts, cfg.alpha)))
    if is_built(cache_dir, "shards", shards_spec):
        status["shards"] = "cached"
        return DataPlan(status, None)
    status["shards"] = "to build"
    return DataPlan(status, (artifact_key(shards_spec), sum(Path(texts[lang].path).stat().st_size for lang in langs)))


def sampling_shares(cfg: Config) -> dict[str, float] | None:
    """q per language from counts known without reading text (for plans): the synthetic corpus's sizes
    (a function of its config), or the manifests of cached corpora; None when the text must be read."""
    langs = lang_codes(cfg)
    if cfg.corpus.name == "synthetic":
        from .synthetic import sentence_counts

        counts = sentence_counts(cfg.corpus, langs)
    else:
        cache_dir = Path(cfg.paths.cache_dir)
        source = corpus_source(cfg.corpus)
        if not all(source.cached(langs, cache_dir).values()):
            return None
        texts = source.prepare(langs, cache_dir)  # all cached: reads manifests only
        counts = {lang: texts[lang].sentences for lang in langs}
    return dict(zip(langs, sampling_probs(np.array([counts[lang] for lang in langs]), cfg.alpha).tolist()))
