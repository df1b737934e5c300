"""Labelled classification tasks for zero-shot cross-lingual transfer (fine-tune on one language, test on all).

A task is per-language lists of examples `(text_a, text_b or None, label_id)`; `text_b` is the second
sentence of a pair task (NLI's hypothesis). Loaders (no torch here):

  load_synthetic_task(task_dir, langs)   the synthetic corpus' topic task: <lang>.train.tsv / <lang>.test.tsv
                                         ("label\\ttext"), parallel across languages (xlmr/data/synthetic.py)
  load_xnli(path, langs)                 XNLI 1.0's own files: xnli.test.tsv (test) with a `language` column;
                                         English training data from MultiNLI's multinli_1.0_train.txt/.tsv if
                                         found, else XNLI's English dev set
  load_xnli_hf(langs, dataset="xnli")    the same task through Hugging Face `datasets` (optional extra)
  load_task(cfg, langs, task_dirs)       what a TransferConfig names (used after pretraining)

Labels of NLI tasks are ordered as in Hugging Face's `xnli`: entailment, neutral, contradiction. Rows whose
gold label is "-" (no annotator consensus), empty or unknown are skipped and counted in `info`.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from xlmr.eval.config import TransferConfig

Example = tuple[str, Optional[str], int]  # (text_a, text_b | None, label id)

NLI_LABELS = ["entailment", "neutral", "contradiction"]  # HF xnli's ClassLabel order
XNLI_LANGS = ("en", "fr", "es", "de", "el", "bg", "ru", "tr", "ar", "vi", "th", "zh", "hi", "sw", "ur")
MNLI_TRAIN_NAMES = ("multinli_1.0_train.txt", "multinli_1.0_train.tsv")
TASKS = ("synthetic", "xnli", "xnli_hf")


@dataclass
class ClassificationTask:
    name: str
    labels: list[str]  # label id i is labels[i]
    train: dict[str, list[Example]] = field(default_factory=dict)  # per language
    test: dict[str, list[Example]] = field(default_factory=dict)  # per language
    info: dict[str, Any] = field(default_factory=dict)  # where the data came from, skipped rows, ...

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def is_pair(self) -> bool:
        """Sentence-pair task (text_b set), judged by the first example of each list."""
        return any(rows[0][1] is not None for split in (self.train, self.test) for rows in split.values() if rows)


# ============================================================================================ TSV reading
def _read_tsv(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    """Header and a stream of the non-empty rows of a tab-separated file without quoting (XNLI/MultiNLI
    text contains quotes). Streamed: MultiNLI's training file is 400+ MB, mostly parse trees."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

    def reader(f: Any) -> Iterator[list[str]]:
        return csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)

    with open(path, newline="", encoding="utf-8") as f:
        header = next(reader(f), None)
    if header is None:
        raise ValueError(f"{path}: empty file (expected a header line)")

    def rows() -> Iterator[list[str]]:  # the file is opened when the rows are read
        with open(path, newline="", encoding="utf-8") as f:
            lines = reader(f)
            next(lines, None)
            yield from (row for row in lines if row)

    return header, rows()


def _columns(path: Path, header: list[str], needed: Sequence[str]) -> list[int]:
    missing = [c for c in needed if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (columns: {', '.join(header)})")
    return [header.index(c) for c in needed]


def _as_dirs(task_dir: Union[str, Path, Mapping[str, Any]], langs: Sequence[str]) -> dict[str, Optional[Path]]:
    if isinstance(task_dir, Mapping):
        return {lang: (Path(task_dir[lang]) if task_dir.get(lang) is not None else None) for lang in langs}
    return {lang: Path(task_dir) for lang in langs}


# ============================================================================================ synthetic
def _read_synthetic(path: Path) -> list[Example]:
    header, rows = _read_tsv(path)
    i_label, i_text = _columns(path, header, ["label", "text"])
    out = []
    for n, row in enumerate(rows, start=2):
        try:
            out.append((row[i_text], None, int(row[i_label])))
        except (IndexError, ValueError):
            raise ValueError(f"{path}:{n}: expected 'label<TAB>text' with an integer label, got {row!r}") from None
    return out


def load_synthetic_task(task_dir: Union[str, Path, Mapping[str, Any]], langs: Sequence[str],
                        num_labels: Optional[int] = None) -> ClassificationTask:
    """The synthetic corpus' topic task. `task_dir`: one folder holding every <lang>.{train,test}.tsv, or a
    mapping language → folder (the corpus keeps one artifact per language: `LanguageText.task_dir`).
    Every language needs its test file; a missing train file is allowed (only the fine-tuning language
    needs one). `num_labels` defaults to 1 + the largest label seen (`task_num_labels(cfg)` gives it exactly)."""
    dirs = _as_dirs(task_dir, langs)
    task = ClassificationTask("synthetic", [], info={"source": "synthetic", "dirs": {k: str(v) for k, v in dirs.items()}})
    for lang in langs:
        d = dirs[lang]
        if d is None:
            have = sorted(k for k, v in dirs.items() if v is not None)
            raise FileNotFoundError(f"synthetic task: no task folder for language '{lang}' (languages with one: "
                                    f"{', '.join(have) or 'none'}); the task comes with corpus=synthetic")
        test = d / f"{lang}.test.tsv"
        if not test.is_file():
            found = sorted(p.name.split(".")[0] for p in d.glob("*.test.tsv")) if d.is_dir() else []
            raise FileNotFoundError(f"synthetic task: no {test} for language '{lang}' "
                                    f"(test files there: {', '.join(found) or 'none'})")
        task.test[lang] = _read_synthetic(test)
        train = d / f"{lang}.train.tsv"
        if train.is_file():
            task.train[lang] = _read_synthetic(train)
    seen = [ex[2] for split in (task.train, task.test) for rows in split.values() for ex in rows]
    n = num_labels if num_labels is not None else (max(seen) + 1 if seen else 0)
    bad = [y for y in seen if not 0 <= y < n]
    if bad:
        raise ValueError(f"synthetic task: label {bad[0]} outside [0, {n}) (num_labels={n})")
    task.labels = [str(i) for i in range(n)]
    return task


# ============================================================================================ XNLI 1.0
def _nli_rows(path: Path, header: list[str], rows: Iterable[list[str]], lang_col: bool
              ) -> tuple[dict[str, list[Example]], int]:
    """Examples per language (key "en" when the file has no language column) and the number skipped."""
    names = ["gold_label", "sentence1", "sentence2"] + (["language"] if lang_col else [])
    cols = _columns(path, header, names)
    label_id = {name: i for i, name in enumerate(NLI_LABELS)}
    out: dict[str, list[Example]] = {}
    skipped = 0
    for row in rows:
        if len(row) <= max(cols):
            skipped += 1
            continue
        label = label_id.get(row[cols[0]].strip())
        if label is None:  # "-": no consensus among the annotators; empty or malformed
            skipped += 1
            continue
        lang = row[cols[3]].strip() if lang_col else "en"
        out.setdefault(lang, []).append((row[cols[1]], row[cols[2]], label))
    return out, skipped


def _find_mnli(path: Path) -> Optional[Path]:
    for folder in (path, path / "multinli_1.0", path.parent / "multinli_1.0", path.parent):
        for name in MNLI_TRAIN_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def load_xnli(path: Union[str, Path], langs: Sequence[str], *, train_lang: str = "en",
              mnli_train: Union[str, Path, None] = None, skip_missing: bool = False) -> ClassificationTask:
    """XNLI 1.0 from its own files. `path`: the folder with xnli.dev.tsv and xnli.test.tsv (columns include
    language, gold_label, sentence1, sentence2). Test data: xnli.test.tsv. Training data (the paper's
    protocol: English only): MultiNLI's multinli_1.0_train.txt or .tsv (columns gold_label, sentence1,
    sentence2), looked for in `mnli_train`, path/, path/multinli_1.0/, ../multinli_1.0/ and ../; without it,
    XNLI's English **dev** set stands in (2,490 pairs; the file used is info["train_source"]). Only
    `train_lang` gets training data (a train_lang other than en always trains on its XNLI dev set). A
    language of `langs` without test rows is an error, or left out of the task with skip_missing=True (the
    fine-tuning language never is)."""
    path = Path(path)
    files = {split: path / f"xnli.{split}.tsv" for split in ("dev", "test")}
    for split, f in files.items():
        if not f.is_file():
            raise FileNotFoundError(f"XNLI: no {f} (expected XNLI 1.0's folder with xnli.dev.tsv and xnli.test.tsv)")
    task = ClassificationTask("xnli", list(NLI_LABELS), info={"source": "xnli", "path": str(path), "skipped_rows": {}})
    by_split = {}
    for split, f in files.items():
        header, rows = _read_tsv(f)
        by_split[split], task.info["skipped_rows"][split] = _nli_rows(f, header, rows, lang_col=True)
    present = sorted(by_split["test"])
    missing = [lang for lang in langs if lang not in by_split["test"]]
    for lang in missing:
        if not skip_missing or lang == train_lang:
            raise ValueError(f"XNLI: no rows for language '{lang}' in {files['test']} "
                             f"(languages present: {', '.join(present) or 'none'})")
    task.info["missing_langs"] = missing
    task.test = {lang: by_split["test"][lang] for lang in langs if lang in by_split["test"]}
    mnli = None
    if train_lang == "en":
        mnli = Path(mnli_train) if mnli_train is not None else _find_mnli(path)
    if mnli is not None:
        if not mnli.is_file():
            raise FileNotFoundError(f"XNLI: no MultiNLI training file {mnli}")
        header, rows = _read_tsv(mnli)
        parsed, task.info["skipped_rows"]["mnli_train"] = _nli_rows(mnli, header, rows, lang_col=False)
        task.train[train_lang] = parsed.get("en", [])
        task.info["train_source"] = str(mnli)
    else:  # the documented fallback: XNLI's dev set of the fine-tuning language
        task.train[train_lang] = by_split["dev"].get(train_lang, [])
        task.info["train_source"] = str(files["dev"])
    if not task.train[train_lang]:
        raise ValueError(f"XNLI: no training rows for language '{train_lang}' in {task.info['train_source']} "
                         f"(languages in xnli.dev.tsv: {', '.join(sorted(by_split['dev'])) or 'none'})")
    return task


# ============================================================================================ XNLI via datasets
def _hf_split(dataset: str, lang: str, split: str, **load_kwargs: Any):
    """One split of one language: a folder saved with `save_to_disk` (<dataset>/<lang>, a DatasetDict) or
    `load_dataset(dataset, lang, split=split)` (the hub's xnli, a local script or cache)."""
    local = Path(dataset) / lang
    if local.is_dir():
        from datasets import load_from_disk

        return load_from_disk(str(local))[split]
    from datasets import load_dataset

    return load_dataset(dataset, lang, split=split, **load_kwargs)


def _hf_examples(ds: Any, where: str) -> tuple[list[Example], int, Optional[list[str]]]:
    cols = set(ds.column_names)
    if not {"premise", "hypothesis", "label"} <= cols:
        raise ValueError(f"{where}: expected columns premise, hypothesis, label (columns: {', '.join(sorted(cols))})")
    names = getattr(ds.features["label"], "names", None)
    out, skipped = [], 0
    for a, b, y in zip(ds["premise"], ds["hypothesis"], ds["label"]):
        if y is None or int(y) < 0:  # -1: no gold label
            skipped += 1
        else:
            out.append((a, b, int(y)))
    return out, skipped, names


def load_xnli_hf(langs: Sequence[str], dataset: str = "xnli", *, train_lang: str = "en",
                 max_train_examples: Optional[int] = None, seed: int = 0, **load_kwargs: Any) -> ClassificationTask:
    """XNLI through Hugging Face `datasets` (optional: `pip install xlmr-scaling[hf]`). `dataset`: a hub name
    or script ("xnli": configs per language, splits train/validation/test, columns premise, hypothesis,
    label), or a folder holding one `save_to_disk` DatasetDict per language (<dataset>/<lang>). Test: each
    language's test split; training: `train_lang`'s train split (MultiNLI for en), of which at most
    `max_train_examples` rows are read, a random sample (`seed`). Extra keyword arguments go to
    load_dataset (cache_dir, revision, ...)."""
    try:
        import datasets  # noqa: F401
    except ImportError:
        raise ImportError("load_xnli_hf needs Hugging Face datasets: pip install 'xlmr-scaling[hf]'") from None
    task = ClassificationTask("xnli_hf", list(NLI_LABELS), info={"source": "datasets", "dataset": dataset,
                                                                "skipped_rows": {}})
    for lang in dict.fromkeys([*langs, train_lang]):
        splits = (["test"] if lang in langs else []) + (["train"] if lang == train_lang else [])
        for split in splits:
            try:
                ds = _hf_split(dataset, lang, split, **load_kwargs)
            except Exception as err:  # noqa: BLE001 - hub/network/config errors: one line naming the language
                msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise ValueError(f"XNLI via datasets: cannot load {dataset!r} language '{lang}' split '{split}': "
                                 f"{msg}") from err
            if split == "train" and max_train_examples is not None and len(ds) > max_train_examples:
                ds = ds.shuffle(seed=seed).select(range(max_train_examples))
            rows, skipped, names = _hf_examples(ds, f"{dataset}/{lang}/{split}")
            if names is not None and list(names) != NLI_LABELS:
                task.labels = list(names)
            task.info["skipped_rows"][f"{lang}.{split}"] = skipped
            if not rows:
                raise ValueError(f"XNLI via datasets: {dataset!r} language '{lang}' split '{split}' has no labelled rows")
            (task.test if split == "test" else task.train)[lang] = rows
    return task


# ============================================================================================ from a config
def load_task(cfg: TransferConfig, langs: Sequence[str], task_dirs: Union[str, Path, Mapping[str, Any], None] = None
              ) -> ClassificationTask:
    """The task a TransferConfig (or its Hydra node) names, for the languages of a run:
    synthetic → the corpus' task files (`task_dirs`: lang → LanguageText.task_dir, or one folder);
    xnli → XNLI 1.0 files under cfg.xnli_path, languages without XNLI rows left out;
    xnli_hf → Hugging Face `datasets` (cfg.xnli_path, when set, is the dataset name or save_to_disk folder)."""
    name = cfg.task
    if name == "synthetic":
        dirs = _as_dirs(task_dirs, langs) if task_dirs is not None else {}
        if task_dirs is None or all(v is None for v in dirs.values()):
            raise ValueError("transfer task 'synthetic' needs the synthetic corpus' task files (corpus=synthetic); "
                             "for another corpus set eval.transfer.task=xnli and eval.transfer.xnli_path=<XNLI-1.0 folder>")
        have = [lang for lang in langs if dirs.get(lang) is not None]
        return load_synthetic_task(dirs, have)
    if name == "xnli":
        if not cfg.xnli_path:
            raise ValueError("transfer task 'xnli' needs eval.transfer.xnli_path=<folder with xnli.dev.tsv, xnli.test.tsv>")
        return load_xnli(cfg.xnli_path, langs, train_lang=cfg.train_lang, skip_missing=True)
    if name == "xnli_hf":
        known = [lang for lang in langs if lang in XNLI_LANGS]
        return load_xnli_hf(known, cfg.xnli_path or "xnli", train_lang=cfg.train_lang,
                            max_train_examples=cfg.max_train_examples, seed=cfg.seed)
    raise ValueError(f"unknown transfer task {name!r}; valid: {', '.join(TASKS)}")
