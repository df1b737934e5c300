"""Task loaders (xlmr/eval/tasks.py): the synthetic corpus' task files, XNLI 1.0's own TSVs (a fixture in
its exact layout, written here), XNLI through Hugging Face datasets (local save_to_disk / a patched loader)."""

import types

import pytest

from xlmr.data.synthetic import SyntheticCorpusConfig, task_num_labels, write_task
from xlmr.eval.tasks import NLI_LABELS, load_synthetic_task, load_task, load_xnli, load_xnli_hf

XNLI_HEADER = ("language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse "
               "sentence1 sentence2 promptID pairID genre label1 label2 label3 label4 label5 sentence1_tokenized "
               "sentence2_tokenized match").split()
MNLI_HEADER = ("gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse sentence1 "
               "sentence2 promptID pairID genre label1 label2 label3 label4 label5").split()

# (language, gold_label, premise, hypothesis): quotes inside text, as in the real files
ROWS = {
    "en": [("entailment", 'He said "yes" loudly.', "He spoke."), ("neutral", "A cat sleeps.", "It is noon."),
           ("contradiction", "The door is open.", "The door is shut."), ("-", "No consensus.", "Skip me.")],
    "fr": [("entailment", "Il a dit « oui ».", "Il a parlé."), ("neutral", "Un chat dort.", "Il est midi."),
           ("contradiction", "La porte est ouverte.", "La porte est fermée."), ("-", "Pas d'accord.", "Ignorer.")],
    "sw": [("entailment", "Alisema \"ndiyo\".", "Alizungumza."), ("neutral", "Paka analala.", "Ni mchana."),
           ("contradiction", "Mlango uko wazi.", "Mlango umefungwa."), ("", "Tupu.", "Tupu.")],
}


def xnli_line(lang, gold, s1, s2, i):
    fields = {"language": lang, "gold_label": gold, "sentence1": s1, "sentence2": s2, "promptID": str(i),
              "pairID": str(i), "genre": "fiction", "label1": gold or "neutral", "match": "True"}
    for h in XNLI_HEADER:
        fields.setdefault(h, f"( {h} )" if "parse" in h else "x")
    return "\t".join(fields[h] for h in XNLI_HEADER)


def write_xnli(folder, dev_langs=("en", "fr", "sw")):
    folder.mkdir(parents=True, exist_ok=True)
    for split, langs in (("dev", dev_langs), ("test", ("en", "fr", "sw"))):
        lines = ["\t".join(XNLI_HEADER)]
        for lang in langs:
            lines += [xnli_line(lang, *row, i) for i, row in enumerate(ROWS[lang])]
        (folder / f"xnli.{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def write_mnli(path, n=5):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(MNLI_HEADER)]
    for i in range(n):
        gold = NLI_LABELS[i % 3] if i != 1 else "-"
        f = {"gold_label": gold, "sentence1": f'premise "{i}"', "sentence2": f"hypothesis {i}"}
        lines.append("\t".join(f.get(h, "x") for h in MNLI_HEADER))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------ synthetic
def test_synthetic_task_from_corpus_files(tmp_path):
    cfg = SyntheticCorpusConfig(total_sentences=0, min_sentences=10, task_train_examples=30, task_test_examples=12)
    for lang in ("en", "fr", "zh"):
        write_task(cfg, lang, tmp_path / lang)  # the corpus' layout: one folder per language artifact
    task = load_synthetic_task({lang: tmp_path / lang for lang in ("en", "fr", "zh")}, ["en", "fr", "zh"],
                               num_labels=task_num_labels(cfg))
    assert task.labels == [str(i) for i in range(6)] and task.num_labels == 6 and not task.is_pair
    assert {k: len(v) for k, v in task.train.items()} == {"en": 30, "fr": 30, "zh": 30}
    assert {k: len(v) for k, v in task.test.items()} == {"en": 12, "fr": 12, "zh": 12}
    assert [ex[2] for ex in task.test["en"]] == [ex[2] for ex in task.test["zh"]]  # parallel test sets
    assert task.test["en"][0][1] is None and isinstance(task.test["en"][0][0], str)
    assert task.test["en"][0][0] != task.test["zh"][0][0]

    write_task(cfg, "sw", tmp_path / "one")
    write_task(cfg, "en", tmp_path / "one")
    single = load_synthetic_task(tmp_path / "one", ["en", "sw"])  # one folder; labels inferred
    assert single.num_labels == 6 and set(single.test) == {"en", "sw"}


def test_synthetic_task_errors(tmp_path):
    cfg = SyntheticCorpusConfig(total_sentences=0, min_sentences=10, task_train_examples=6, task_test_examples=6)
    write_task(cfg, "en", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no .*de\.test\.tsv for language 'de' \(test files there: en\)"):
        load_synthetic_task(tmp_path, ["en", "de"])
    with pytest.raises(FileNotFoundError, match="no task folder for language 'fr'"):
        load_synthetic_task({"en": tmp_path, "fr": None}, ["en", "fr"])
    (tmp_path / "en.test.tsv").write_text("label\ttext\nx\tbad label\n", encoding="utf-8")
    with pytest.raises(ValueError, match="integer label"):
        load_synthetic_task(tmp_path, ["en"])


# ------------------------------------------------------------------------------------------ XNLI 1.0 files
def test_xnli_files_with_dev_fallback(tmp_path):
    folder = write_xnli(tmp_path / "XNLI-1.0")
    task = load_xnli(folder, ["en", "fr", "sw"])
    assert task.labels == NLI_LABELS and task.is_pair
    assert {k: len(v) for k, v in task.test.items()} == {"en": 3, "fr": 3, "sw": 3}  # "-" and "" rows skipped
    assert task.info["skipped_rows"] == {"dev": 3, "test": 3}
    assert task.test["en"][0] == ('He said "yes" loudly.', "He spoke.", 0)  # quotes kept as they are
    assert [ex[2] for ex in task.test["sw"]] == [0, 1, 2]
    assert list(task.train) == ["en"] and len(task.train["en"]) == 3  # no MultiNLI: English dev set
    assert task.info["train_source"].endswith("xnli.dev.tsv")


@pytest.mark.parametrize("where", ["inside", "sibling"])
def test_xnli_english_training_from_multinli(tmp_path, where):
    folder = write_xnli(tmp_path / "XNLI-1.0")
    mnli = (folder if where == "inside" else tmp_path / "multinli_1.0") / "multinli_1.0_train.txt"
    write_mnli(mnli, n=7)
    task = load_xnli(folder, ["en", "fr"])
    assert task.info["train_source"] == str(mnli)
    assert len(task.train["en"]) == 6 and task.info["skipped_rows"]["mnli_train"] == 1  # the "-" row
    assert task.train["en"][0] == ('premise "0"', "hypothesis 0", 0)
    assert set(task.test) == {"en", "fr"}


def test_xnli_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"XNLI: no .*xnli\.dev\.tsv"):
        load_xnli(tmp_path, ["en"])
    folder = write_xnli(tmp_path / "x")
    with pytest.raises(ValueError, match=r"no rows for language 'de' in .*xnli\.test\.tsv \(languages present: en, fr, sw\)"):
        load_xnli(folder, ["en", "de"])
    task = load_xnli(folder, ["en", "de", "fr"], skip_missing=True)
    assert set(task.test) == {"en", "fr"} and task.info["missing_langs"] == ["de"]
    with pytest.raises(FileNotFoundError, match="no MultiNLI training file"):
        load_xnli(folder, ["en"], mnli_train=tmp_path / "nope.txt")
    no_en_dev = write_xnli(tmp_path / "y", dev_langs=("fr",))
    with pytest.raises(ValueError, match=r"no training rows for language 'en'.*languages in xnli\.dev\.tsv: fr"):
        load_xnli(no_en_dev, ["en", "fr"])
    (folder / "xnli.test.tsv").write_text("language\tsentence1\nen\tx\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing column"):
        load_xnli(folder, ["en"])


# ------------------------------------------------------------------------------------------ XNLI via datasets
def _hf_split(lang, n, with_unlabelled=True):
    from datasets import ClassLabel, Dataset, Features, Value

    feats = Features({"premise": Value("string"), "hypothesis": Value("string"), "label": ClassLabel(names=NLI_LABELS)})
    rows = {"premise": [f"{lang} p{i}" for i in range(n)], "hypothesis": [f"{lang} h{i}" for i in range(n)],
            "label": [i % 3 for i in range(n)]}
    if with_unlabelled:
        rows["label"][-1] = -1
    return Dataset.from_dict(rows, features=feats)


def test_xnli_hf_from_save_to_disk(tmp_path):
    pytest.importorskip("datasets")
    from datasets import DatasetDict

    for lang in ("en", "fr", "sw"):
        DatasetDict({"train": _hf_split(lang, 9), "validation": _hf_split(lang, 4),
                     "test": _hf_split(lang, 5)}).save_to_disk(str(tmp_path / lang))
    task = load_xnli_hf(["en", "fr", "sw"], str(tmp_path), max_train_examples=6)
    assert task.labels == NLI_LABELS and task.is_pair
    assert {k: len(v) for k, v in task.test.items()} == {"en": 4, "fr": 4, "sw": 4}  # the -1 row skipped
    assert list(task.train) == ["en"] and 5 <= len(task.train["en"]) <= 6  # a 6-row sample, minus a -1 row
    assert task.test["fr"][1] == ("fr p1", "fr h1", 1)
    with pytest.raises(ValueError, match=r"cannot load .* language 'de' split 'test'"):
        load_xnli_hf(["en", "de"], str(tmp_path))


def test_xnli_hf_with_patched_loader(monkeypatch):
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load_dataset(name, lang, split, **kw):
        calls.append((name, lang, split, kw))
        if lang not in ("en", "ur"):
            raise ValueError(f"BuilderConfig '{lang}' not found.\nAvailable: ['en', 'ur']")
        return _hf_split(lang, 6 if split == "train" else 3, with_unlabelled=False)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    task = load_xnli_hf(["en", "ur"], cache_dir="/nowhere")
    assert ("xnli", "en", "train", {"cache_dir": "/nowhere"}) in calls and ("xnli", "ur", "test", {"cache_dir": "/nowhere"}) in calls
    assert not any(c[1] == "ur" and c[2] == "train" for c in calls)  # only the fine-tuning language's train
    assert len(task.train["en"]) == 6 and len(task.test["ur"]) == 3
    with pytest.raises(ValueError, match=r"^XNLI via datasets: cannot load 'xnli' language 'xx' split 'test': BuilderConfig 'xx' not found\.$"):
        load_xnli_hf(["en", "xx"])


# ------------------------------------------------------------------------------------------ from a config
def test_load_task_from_config(tmp_path):
    cfg = types.SimpleNamespace(task="xnli", xnli_path=str(write_xnli(tmp_path / "x")), train_lang="en",
                                max_train_examples=100, seed=0)
    task = load_task(cfg, ["en", "fr", "ja"])  # ja has no XNLI rows: left out, not an error
    assert set(task.test) == {"en", "fr"} and task.info["missing_langs"] == ["ja"]
    with pytest.raises(ValueError, match="needs eval.transfer.xnli_path"):
        load_task(types.SimpleNamespace(task="xnli", xnli_path=None), ["en"])
    with pytest.raises(ValueError, match="needs the synthetic corpus' task files"):
        load_task(types.SimpleNamespace(task="synthetic"), ["en"], {"en": None})
    with pytest.raises(ValueError, match="unknown transfer task 'pawsx'; valid: synthetic, xnli, xnli_hf"):
        load_task(types.SimpleNamespace(task="pawsx"), ["en"])
