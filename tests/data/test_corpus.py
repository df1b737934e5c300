"""The corpus sources of design §2 ①, through the interface the pipeline uses."""

import importlib.util
import lzma
from pathlib import Path
from types import SimpleNamespace

import pytest

from xlmr.config import ConfigError
from xlmr.data.corpora import corpus_source
from xlmr.data.corpus import CC100Source, GettextSource, SyntheticSource
from xlmr.data.synthetic import SyntheticCorpusConfig
from xlmr.data.text import count_text

DOCS = "a first sentence\nand a second one\n\nanother document here\n\nthird doc\nwith lines\nthree\n"


def test_cc100_layout_plain_and_xz(tmp_path):
    (tmp_path / "en.txt").write_text(DOCS)
    with lzma.open(tmp_path / "sw.txt.xz", "wt") as f:
        f.write(DOCS)
    (tmp_path / "zh-Hans.txt").write_text(DOCS)  # CC-100's own name for zh
    src = CC100Source(SimpleNamespace(path=str(tmp_path)))
    texts = src.prepare(["en", "sw", "zh"], tmp_path / "cache")
    assert {k: v.sentences for k, v in texts.items()} == {"en": 6, "sw": 6, "zh": 6}
    assert src.cached(["en", "sw"], tmp_path / "cache") == {"en": True, "sw": True}
    (tmp_path / "en.txt").write_text(DOCS + "\nmore\n")  # a changed file is counted again
    assert src.prepare(["en"], tmp_path / "cache")["en"].sentences == 7


def test_cc100_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="no file for language 'fr'"):
        CC100Source(SimpleNamespace(path=str(tmp_path))).check(["fr"])
    (tmp_path / "fr.txt").write_text("")
    with pytest.raises(ConfigError, match="empty corpus file"):
        CC100Source(SimpleNamespace(path=str(tmp_path))).check(["fr"])
    with pytest.raises(ConfigError, match="not a directory"):
        CC100Source(SimpleNamespace(path=str(tmp_path / "nope"))).check(["fr"])


def test_undecodable_bytes_are_counted_not_fatal(tmp_path, caplog):
    (tmp_path / "en.txt").write_bytes(b"good line\nbad \xff\xfe line\n\nnext doc\n")
    stats = count_text(tmp_path / "en.txt")
    assert (stats.sentences, stats.documents, stats.undecodable_lines) == (3, 2, 1)
    CC100Source(SimpleNamespace(path=str(tmp_path))).prepare(["en"], tmp_path / "cache")
    assert "1 line(s) had bytes that are not UTF-8" in caplog.text


def test_synthetic_source_caches_per_language(tmp_path):
    cfg = SyntheticCorpusConfig(total_sentences=20_000, min_sentences=300, task_train_examples=20, task_test_examples=10)
    src = SyntheticSource(cfg)
    a = src.prepare(["en", "sw"], tmp_path)
    b = src.prepare(["sw", "ur"], tmp_path)  # sw is reused, not rebuilt
    assert a["sw"].key == b["sw"].key and a["sw"].path == b["sw"].path
    assert a["en"].sentences > a["sw"].sentences >= 300
    assert (a["en"].task_dir / "en.test.tsv").is_file()
    assert len(list((tmp_path / "corpus").glob("*/manifest.json"))) == 3


def test_unknown_corpus_is_refused():
    with pytest.raises(ConfigError, match="unknown corpus; valid: cc100, gettext, hf, synthetic"):
        corpus_source(SimpleNamespace(name="wiki"))


def test_gettext_source(tmp_path):
    spec = importlib.util.spec_from_file_location("gettext_fixtures", Path(__file__).with_name("test_gettext.py"))
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)  # the .mo writer and locale tree of the gettext tests
    loc = fixtures.make_tree(tmp_path)
    src = GettextSource(SimpleNamespace(locale_roots=[str(loc), str(tmp_path / "absent")], min_chars_per_lang=10))
    src.check(["fr", "pt"])
    with pytest.raises(ConfigError, match="langs=sw: no gettext catalogs"):
        src.check(["fr", "sw"])
    texts = src.prepare(["fr"], tmp_path / "cache")
    assert texts["fr"].sentences == count_text(texts["fr"].path).sentences > 0
    assert "Zoomer sur la page courante" in texts["fr"].path.read_text()
