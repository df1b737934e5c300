"""Corpus source `hf` (xlmr/data/hf_source.py): local JSON-lines files and save_to_disk directories read
through `datasets`, streamed into CC-100's layout. Nothing is downloaded."""

import itertools
import json
import os
import sys
from types import SimpleNamespace

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # before `datasets` is imported: never reach for the hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")
datasets = pytest.importorskip("datasets")

from xlmr.config import ConfigError  # noqa: E402
from xlmr.data.hf_source import HFSource, write_cc100_layout  # noqa: E402
from xlmr.data.text import count_text  # noqa: E402

# CC-100's schema on the hub: one record per line of the original file, blank records between documents
CC100_RECORDS = ["first sentence of doc one\n", "second sentence\n", "\n", "doc two only sentence\n", "\n",
                 "doc three a\n", "doc three b\n", "doc three c\n"]
# one record per document (Wikipedia-like); a blank line inside also ends a document
DOC_RECORDS = ["un deux trois\nquatre cinq\n", "  \n", "seul\n\nautre paragraphe\n  espacé  ", "fin"]


def write_jsonl(path, texts, field="text", extra=True):
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            rec = {field: t, "id": str(i)} if extra else {field: t}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def source(tmp_path, **kw):
    cfg = dict(name="hf", dataset="json", config_template="{lang}", split="train", text_field="text",
               max_sentences=1_000_000, streaming=True, data_files_template=str(tmp_path / "{lang}.jsonl"),
               sentence_split="lines")
    cfg.update(kw)
    return HFSource(SimpleNamespace(**cfg))


def test_jsonl_both_schemas_to_cc100_layout(tmp_path):
    write_jsonl(tmp_path / "en.jsonl", CC100_RECORDS)
    write_jsonl(tmp_path / "fr.jsonl", DOC_RECORDS)
    cache = tmp_path / "cache"
    en = source(tmp_path, sentence_split="records").prepare(["en"], cache)["en"]
    assert en.path.read_text() == ("first sentence of doc one\nsecond sentence\n\ndoc two only sentence\n\n"
                                   "doc three a\ndoc three b\ndoc three c\n")
    assert en.sentences == 6 and count_text(en.path).documents == 3
    fr = source(tmp_path).prepare(["fr"], cache)["fr"]
    assert fr.path.read_text() == "un deux trois\nquatre cinq\n\nseul\n\nautre paragraphe\nespacé\n\nfin\n"
    stats = count_text(fr.path)
    assert (fr.sentences, stats.sentences, stats.documents) == (6, 6, 4)
    assert fr.path.name == "fr.txt" and fr.path.parent.parent == cache / "corpus"
    write_jsonl(tmp_path / "de.jsonl", DOC_RECORDS)  # not streamed: Arrow files under <cache>/hf-datasets
    de = source(tmp_path, streaming=False).prepare(["de"], cache)["de"]
    assert de.path.read_text() == fr.path.read_text() and any((cache / "hf-datasets").rglob("*.arrow"))


def test_cached_second_prepare_does_not_rebuild(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "en.jsonl", CC100_RECORDS)
    write_jsonl(tmp_path / "sw.jsonl", DOC_RECORDS)
    src, cache = source(tmp_path), tmp_path / "cache"
    assert src.cached(["en", "sw"], cache) == {"en": False, "sw": False}
    first = src.prepare(["en", "sw"], cache)
    assert src.cached(["en", "sw"], cache) == {"en": True, "sw": True}
    monkeypatch.setattr(HFSource, "_open", lambda *a: pytest.fail("rebuilt a cached language"))
    again = source(tmp_path, streaming=False).prepare(["sw", "en"], cache)  # streaming is not part of the key
    assert {k: v.key for k, v in again.items()} == {k: v.key for k, v in first.items()}
    monkeypatch.undo()
    write_jsonl(tmp_path / "sw.jsonl", DOC_RECORDS + ["one more line"])  # a changed file is read again
    assert src.cached(["sw"], cache) == {"sw": False}
    assert src.prepare(["sw"], cache)["sw"].sentences == 7
    assert source(tmp_path, max_sentences=3).prepare(["sw"], cache)["sw"].key != first["sw"].key


def test_max_sentences_cap(tmp_path):
    write_jsonl(tmp_path / "en.jsonl", [f"s{i} a\ns{i} b\n" for i in range(2000)])  # > one batch of records
    text = source(tmp_path, max_sentences=1001).prepare(["en"], tmp_path / "cache")["en"]
    assert text.sentences == 1001 == count_text(text.path).sentences
    assert text.path.read_text().splitlines()[-1] == "s500 a"


def test_save_to_disk_directories(tmp_path):
    root = tmp_path / "saved"
    datasets.Dataset.from_dict({"content": ["alpha beta\ngamma", "", "delta"], "n": [1, 2, 3]}).save_to_disk(
        str(root / "lang=en"))
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"content": ["x y z"]}),
                          "test": datasets.Dataset.from_dict({"content": ["held out"]})}).save_to_disk(str(root / "lang=sw"))
    src = HFSource(SimpleNamespace(name="hf", dataset=str(root), config_template="lang={lang}", text_field="content",
                                   split="train"))
    texts = src.prepare(["en", "sw"], tmp_path / "cache")
    assert texts["en"].path.read_text() == "alpha beta\ngamma\n\ndelta\n"
    assert (texts["en"].sentences, texts["sw"].sentences) == (3, 1)
    test_split = HFSource(SimpleNamespace(dataset=str(root), config_template="lang={lang}", text_field="content",
                                          split="test")).prepare(["sw"], tmp_path / "cache")["sw"]
    assert test_split.path.read_text() == "held out\n"
    with pytest.raises(ConfigError, match="no save_to_disk dataset for language 'fr'"):
        src.check(["fr"])
    with pytest.raises(ConfigError, match="not a split"):
        HFSource(SimpleNamespace(dataset=str(root), config_template="lang={lang}", text_field="content",
                                 split="validation")).prepare(["sw"], tmp_path / "cache")


def test_errors_are_one_line_config_errors(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "en.jsonl", ["hello world"], field="body", extra=False)
    with pytest.raises(ConfigError, match=r"no file for language 'fr' \(looked for .*fr\.jsonl\)"):
        source(tmp_path).check(["fr"])
    with pytest.raises(ConfigError, match=r"corpus.text_field=text: no such field .*fields: body"):
        source(tmp_path).prepare(["en"], tmp_path / "cache")
    assert not source(tmp_path).cached(["en"], tmp_path / "cache")["en"]  # nothing half-built
    with pytest.raises(ConfigError, match="corpus.sentence_split=words"):
        source(tmp_path, sentence_split="words").check(["en"])
    (tmp_path / "de.jsonl").write_text(json.dumps({"text": "   "}) + "\n")
    with pytest.raises(ConfigError, match="no text for language 'de'"):
        source(tmp_path).prepare(["de"], tmp_path / "cache")
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if the extra were not installed
    with pytest.raises(ConfigError) as err:
        source(tmp_path).check(["en"])
    assert "pip install 'xlmr-scaling[hf]'" in str(err.value) and "\n" not in str(err.value)


def test_writer_splits_lines_and_records(tmp_path):
    out = tmp_path / "x.txt"
    stats = write_cc100_layout(iter(["a\r\nb", None, "c\n\n\nd", ""]), out, "lines", 10)
    assert out.read_text() == "a\nb\n\nc\n\nd\n" and stats["documents"] == 3
    stats = write_cc100_layout(iter(["a\n", "b\n", " \n", "c\nd\n\ne\n", "f"]), out, "records", 10)
    assert out.read_text() == "a\nb\n\nc\nd\n\ne\nf\n" and (stats["sentences"], stats["documents"]) == (6, 3)
    stats = write_cc100_layout(iter(["a\nb\nc", "d"]), out, "records", 2)
    assert out.read_text() == "a\nb\n" and stats["capped"]
    endless = (f"line {i}" for i in itertools.count())  # a stream is consumed only up to the cap
    assert write_cc100_layout(endless, out, "lines", 5)["sentences"] == 5 and next(endless) == "line 6"
