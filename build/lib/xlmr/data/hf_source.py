"""① Corpus source `hf`: text from a Hugging Face `datasets` dataset, streamed into CC-100's layout.

Optional extra: `datasets` is imported only when this source is used (`pip install 'xlmr-scaling[hf]'`).
Like every source, each language ends as one cached artifact `corpus/<key>/<lang>.txt` in CC-100's layout
(one sentence per line, a blank line between documents) with its sentence count in the manifest; the key
is the content-defining part of the config (not `streaming`) plus, for local data, the files' identity.

Where the records of a language come from (first match wins; `{lang}` is replaced by the language code in
`dataset`, `config_template` and `data_files_template`):

  data_files_template  local (or remote) data files: `load_dataset(dataset, data_files=<files>)` where
                       `dataset` is the builder: json (also .jsonl, .json.gz), parquet, csv, text, arrow
  save_to_disk         `<dataset>/<config>` is a directory written by `Dataset.save_to_disk` or
                       `DatasetDict.save_to_disk` (then `split` picks the split): `load_from_disk`
  otherwise            `load_dataset(dataset, name=<config>, split=split, streaming=streaming)`: a hub
                       dataset ("cc100", "wikimedia/wikipedia" with config_template="20231101.{lang}")
                       or a local dataset directory

How records become text (`sentence_split`):

  lines    a record is a document: its text is split into lines (one sentence each); a blank line inside
           the text also ends a document (Wikipedia: one document per paragraph)
  records  the records are the lines of a CC-100 file, in order (CC-100's schema on the hub): a record with
           blank text ends a document; newlines inside a record's text split it further

Nothing is materialised: records are iterated in batches and written as they come, and iteration stops
at `max_sentences`, so memory does not grow with the dataset (with `streaming=False` a hub dataset is
first prepared as Arrow files, under `<cache>/hf-datasets`, and then read memory-mapped).
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING

from xlmr.fields import IMPLEMENTATION, ConfigError, bounded, implementation

from .corpus import CORPUS_VERSION, CorpusConfig, GeneratedSource, LanguageText

HF_SOURCE_VERSION = 1  # how records become text; bump when that changes
SENTENCE_SPLITS = ("lines", "records")
BATCH_SIZE = 512  # records per read: keeps Python overhead low, memory bounded
_SAVED_MARKERS = ("state.json", "dataset_dict.json")  # what Dataset / DatasetDict.save_to_disk write
INSTALL_HINT = "needs the `datasets` package: pip install 'xlmr-scaling[hf]'"


@dataclass
class HFCorpus(CorpusConfig):
    """A Hugging Face `datasets` dataset streamed into CC-100's layout (docs/corpora.md); extra [hf]."""

    name: str = "hf"
    dataset: str = MISSING  # hub name/path, local dataset dir, dir of save_to_disk datasets, or builder (json, …)
    config_template: str = "{lang}"  # config/subset per language ("20231101.{lang}"); save_to_disk: subdirectory
    split: str = "train"
    text_field: str = "text"
    max_sentences: int = bounded(1_000_000, ge=1)  # per language
    streaming: bool = implementation(True)  # read the same records without downloading the whole split
    data_files_template: Optional[str] = None  # e.g. "/data/{lang}.jsonl", used with dataset=json
    sentence_split: str = "lines"  # lines (record = document) | records (record = one line of a CC-100 file)


def _params(cfg: Any) -> HFCorpus:
    """HFCorpus from itself, a DictConfig or any object with the attributes (missing ones default)."""
    if isinstance(cfg, HFCorpus):
        return cfg
    from omegaconf.errors import MissingMandatoryValue

    values = {}
    for f in dataclasses.fields(HFCorpus):
        try:
            value = cfg[f.name] if isinstance(cfg, dict) else getattr(cfg, f.name)
        except (AttributeError, KeyError, MissingMandatoryValue):  # `dataset: ???` is refused by _where
            continue
        values[f.name] = value
    values.setdefault("dataset", "")
    return HFCorpus(**values)


def _error(key: str, value: Any, valid: str) -> Exception:
    return ConfigError(key, value, valid)


def import_datasets():
    """The `datasets` module, or a one-line ConfigError saying how to install it."""
    try:
        import datasets
    except ImportError:
        raise _error("corpus", "hf", INSTALL_HINT) from None
    return datasets


def _format(key: str, template: str, lang: str) -> str:
    try:
        return template.format(lang=lang)
    except (KeyError, IndexError, ValueError) as e:
        raise _error(key, template, f"bad template ({e}); the only placeholder is {{lang}}") from None


def _is_remote(path: str) -> bool:
    return "://" in path


def _is_saved(path: Path) -> bool:
    return path.is_dir() and any((path / m).is_file() for m in _SAVED_MARKERS)


def _identity(paths: list[Path]) -> list[list[Any]]:
    """(path, size, mtime_ns) of files (directories: every file under them): a changed file rebuilds."""
    out = []
    for p in paths:
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for q in files:
            st = q.stat()
            out.append([str(q), st.st_size, st.st_mtime_ns])
    return out


@dataclass(frozen=True)
class _Where:
    """Where one language's records come from."""

    kind: str  # data_files | saved | hub
    dataset: str  # builder (data_files), directory (saved) or dataset path/name (hub)
    config: str | None = None
    files: tuple[str, ...] = ()  # data_files: the matched files (or the remote pattern)


class HFSource(GeneratedSource):
    name = "hf"

    def __init__(self, cfg: HFCorpus):
        self.p = _params(cfg)
        self._hf_cache: Path | None = None

    def prepare(self, codes: list[str], cache_dir: Path) -> dict[str, LanguageText]:
        self.check(codes)
        self._hf_cache = Path(cache_dir) / "hf-datasets"  # datasets' lock files; Arrow files when not streaming
        return super().prepare(codes, cache_dir)

    # ------------------------------------------------------------------------------------ resolving
    def _where(self, lang: str) -> _Where:
        p = self.p
        if not str(p.dataset).strip():
            raise _error("corpus.dataset", "''", "set a dataset: a hub name (statmt/cc100), a local dataset directory, "
                         "or a builder (json, parquet, text, csv) with corpus.data_files_template")
        dataset = _format("corpus.dataset", str(p.dataset), lang)
        config = _format("corpus.config_template", str(p.config_template), lang) if p.config_template else ""
        if p.data_files_template:
            pattern = _format("corpus.data_files_template", str(p.data_files_template), lang)
            if _is_remote(pattern):
                return _Where("data_files", dataset, None, (pattern,))
            pattern = os.path.abspath(os.path.expanduser(pattern))
            files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else ([pattern] if os.path.isfile(pattern) else [])
            if not files:
                raise _error("corpus.data_files_template", p.data_files_template,
                             f"no file for language '{lang}' (looked for {pattern})")
            return _Where("data_files", dataset, None, tuple(files))
        root = Path(os.path.expanduser(dataset))
        if root.is_dir():
            saved = root / config if config else root
            if _is_saved(saved):
                return _Where("saved", str(saved.resolve()))
            if _is_saved(root) and config:
                raise _error("corpus.dataset", dataset, f"is one save_to_disk dataset; save one per language as "
                             f"<dataset>/{p.config_template} (or put {{lang}} in corpus.dataset and set "
                             "corpus.config_template='')")
            if any(_is_saved(c) for c in root.iterdir()):
                raise _error("corpus.dataset", dataset, f"no save_to_disk dataset for language '{lang}' "
                             f"(looked for {saved})")
            return _Where("hub", str(root.resolve()), config or None)
        return _Where("hub", dataset, config or None)

    def check(self, codes: list[str]) -> None:
        """Cheap: `datasets` importable, valid knobs, every local file/directory there. Hub datasets are not
        contacted (a missing hub config shows up in prepare)."""
        import_datasets()
        if self.p.sentence_split not in SENTENCE_SPLITS:
            raise _error("corpus.sentence_split", self.p.sentence_split, f"valid: {', '.join(SENTENCE_SPLITS)}")
        if int(self.p.max_sentences) <= 0:
            raise _error("corpus.max_sentences", self.p.max_sentences, "must be a positive integer")
        if not str(self.p.text_field):
            raise _error("corpus.text_field", "''", "name the field that holds the text, e.g. text")
        for lang in codes:
            self._where(lang)

    def _spec(self, lang: str) -> dict[str, Any]:
        w = self._where(lang)
        local = [Path(f) for f in w.files if not _is_remote(f)] if w.kind == "data_files" else (
            [Path(w.dataset)] if w.kind in ("saved",) or Path(w.dataset).is_dir() else [])
        # what is read, not how (fields marked implementation(), e.g. streaming) nor the source's name
        params = {f.name: getattr(self.p, f.name) for f in dataclasses.fields(self.p)
                  if not f.metadata.get(IMPLEMENTATION) and f.name != "name"}
        return {"source": "hf", "lang": lang, "where": dataclasses.asdict(w), "params": params,
                "identity": _identity(local), "version": CORPUS_VERSION, "hf_version": HF_SOURCE_VERSION}

    # -------------------------------------------------------------------------------------- reading
    def _open(self, w: _Where, hf_cache: Path):
        """The language's records as a `datasets` Dataset or IterableDataset (never materialised)."""
        datasets = import_datasets()
        p = self.p
        try:
            if w.kind == "saved":
                ds = datasets.load_from_disk(w.dataset)
                if isinstance(ds, datasets.DatasetDict):
                    if p.split not in ds:
                        raise _error("corpus.split", p.split, f"not a split of {w.dataset}; splits: {', '.join(ds)}")
                    ds = ds[p.split]
                return ds
            kwargs: dict[str, Any] = {"split": p.split, "streaming": bool(p.streaming), "cache_dir": str(hf_cache)}
            if w.kind == "data_files":
                return datasets.load_dataset(w.dataset, data_files=list(w.files), **kwargs)
            return datasets.load_dataset(w.dataset, name=w.config, **kwargs)
        except Exception as e:
            if isinstance(e, ConfigError):
                raise
            first = (str(e).strip().splitlines() or [""])[0][:300]
            what = w.dataset + (f" ({w.config})" if w.config else "") + (f" files {list(w.files)[:3]}" if w.files else "")
            raise _error("corpus.dataset", what, f"cannot load split '{p.split}': {type(e).__name__}: {first}") from e

    def _texts(self, ds: Any, where: str) -> Iterator[str | None]:
        """The text field of every record, in order, read in batches of BATCH_SIZE."""
        field = str(self.p.text_field)
        columns = getattr(ds, "column_names", None)
        if columns is not None:
            if field not in columns:
                raise _error("corpus.text_field", field, f"no such field in {where}; fields: {', '.join(columns)}")
            if len(columns) > 1 and hasattr(ds, "select_columns"):
                ds = ds.select_columns([field])  # other columns are never decoded
        if hasattr(ds, "iter"):
            for batch in ds.iter(batch_size=BATCH_SIZE):
                if field not in batch:
                    raise _error("corpus.text_field", field, f"no such field in {where}; fields: {', '.join(batch)}")
                yield from batch[field]
        else:  # pragma: no cover - every datasets version we support has .iter
            for record in ds:
                if field not in record:
                    raise _error("corpus.text_field", field, f"no such field in {where}; fields: {', '.join(record)}")
                yield record[field]

    def _build(self, tmp: Path, lang: str) -> tuple[Path, int, dict[str, Any]]:
        w = self._where(lang)
        where = w.dataset if w.kind != "data_files" else ", ".join(w.files[:3]) + (" …" if len(w.files) > 3 else "")
        ds = self._open(w, self._hf_cache or tmp / "hf-datasets")
        stats = write_cc100_layout(self._texts(ds, where), tmp / f"{lang}.txt", self.p.sentence_split,
                                   int(self.p.max_sentences), where)
        if stats["sentences"] == 0:
            raise _error("corpus.dataset", where, f"no text for language '{lang}' in field '{self.p.text_field}'")
        return Path(f"{lang}.txt"), stats["sentences"], {"stats": stats, "count_unit": "sentences (lines)",
                                                          "where": dataclasses.asdict(w)}


def write_cc100_layout(texts: Iterator[str | None], path: Path, sentence_split: str, max_sentences: int,
                       where: str = "") -> dict[str, Any]:
    """Write record texts into CC-100's layout (see the module docstring for `sentence_split`); stop after
    `max_sentences` sentences. Returns {sentences, documents, chars, records, capped}."""
    if sentence_split not in SENTENCE_SPLITS:
        raise _error("corpus.sentence_split", sentence_split, f"valid: {', '.join(SENTENCE_SPLITS)}")
    per_record_docs = sentence_split == "lines"
    sentences = documents = chars = records = 0
    in_doc = False  # the current document has a sentence
    pending_break = False  # a document ended: write the blank line before the next sentence
    capped = False
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for text in texts:
            if sentences >= max_sentences:
                capped = True
                break
            records += 1
            if text is None:
                text = ""
            elif not isinstance(text, str):
                raise _error("corpus.text_field", type(text).__name__, f"the field must hold strings ({where})")
            lines = text.splitlines()
            if not per_record_docs and not text.strip():
                lines = [""]  # a blank record ends a document
            for line in lines:
                line = line.strip()
                if not line:
                    if in_doc:
                        pending_break, in_doc = True, False
                    continue
                if sentences >= max_sentences:
                    capped = True
                    break
                if pending_break:
                    f.write("\n")
                    pending_break = False
                if not in_doc:
                    documents += 1
                    in_doc = True
                f.write(line + "\n")
                sentences += 1
                chars += len(line)
            if per_record_docs and in_doc:
                pending_break, in_doc = True, False
    return {"sentences": sentences, "documents": documents, "chars": chars, "records": records, "capped": capped}
