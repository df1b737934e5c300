"""The registry of corpus sources, the one place a source is named: `corpus=<name>` selects its schema
(the config group's dataclass, registered in Hydra's ConfigStore as `corpus_<name>_schema`) and its reader.
Adding a source = a schema, a reader class with `check / prepare / cached`, one line here, one YAML in
conf/corpus/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from xlmr.fields import ConfigError

from .corpus import (CC100Corpus, CC100Source, CorpusConfig, CorpusSource, GettextCorpus, GettextSource,
                     SyntheticCorpus, SyntheticSource)
from .hf_source import HFCorpus, HFSource


@dataclass(frozen=True)
class Corpus:
    schema: type
    source: Callable[[Any], CorpusSource]


CORPORA: dict[str, Corpus] = {
    "synthetic": Corpus(SyntheticCorpus, SyntheticSource),  # the embedded default
    "cc100": Corpus(CC100Corpus, CC100Source),
    "gettext": Corpus(GettextCorpus, GettextSource),
    "hf": Corpus(HFCorpus, HFSource),  # `datasets` (extra [hf]) is imported only when it reads
}
CORPUS_SCHEMAS: dict[str, type] = {name: corpus.schema for name, corpus in CORPORA.items()}


def corpus_source(cfg: CorpusConfig) -> CorpusSource:
    """The reader for a corpus config (its schema object, a DictConfig or any object with `name`)."""
    if cfg.name not in CORPORA:
        raise ConfigError("corpus", cfg.name, f"unknown corpus; valid: {', '.join(sorted(CORPORA))}")
    return CORPORA[cfg.name].source(cfg)
