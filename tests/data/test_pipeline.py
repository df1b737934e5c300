"""Cache keys of the data stages: what shares an artifact and what does not."""

from pathlib import Path

from _shared import compose_cfg
from xlmr.data.cache import artifact_key
from xlmr.data.corpus import LanguageText
from xlmr.data.pipeline import _shards_spec, _tokenizer_spec


def tok_key(*overrides: str) -> str:
    cfg = compose_cfg(*overrides)
    texts = {lang: LanguageText(lang, Path(f"/x/{lang}.txt"), 100, f"key-{lang}") for lang in ("en", "sw")}
    return artifact_key(_tokenizer_spec(cfg, texts))


def test_model_size_seed_budget_and_implementation_share_one_tokenizer():
    base = tok_key()
    for same in (["model=large"], ["seed=3"], ["train=debug"], ["trainer.devices=4"], ["logger=none"],
                 ["paths.runs_dir=/elsewhere"], ["name=fig2"]):
        assert tok_key(*same) == base, same


def test_alpha_vocab_and_tokenizer_sample_change_the_tokenizer():
    base = tok_key()
    for different in (["alpha=1.0"], ["vocab_size=8000"], ["tokenizer.sample_sentences=1000"]):
        assert tok_key(*different) != base, different


def test_another_sentencepiece_release_trains_its_own_tokenizer(monkeypatch):
    """0.2.2 and 0.2.3 build different vocabularies from one sample: a cache shared between machines must
    not hand one's tokenizer to the other."""
    import xlmr.data.pipeline as pipeline

    base = tok_key()
    monkeypatch.setattr(pipeline, "sentencepiece_version", lambda: "0.0.0+another")
    assert tok_key() != base


def test_shards_follow_their_tokenizer_and_split():
    cfg = compose_cfg()
    texts = {"en": LanguageText("en", Path("/x/en.txt"), 100, "key-en")}
    a = artifact_key(_shards_spec(cfg, "tok-a", texts))
    assert a == artifact_key(_shards_spec(compose_cfg("model=base", "seed=1"), "tok-a", texts))
    assert a != artifact_key(_shards_spec(cfg, "tok-b", texts))
    assert a != artifact_key(_shards_spec(compose_cfg("data.valid_fraction=0.1"), "tok-a", texts))


def shards_key(*overrides: str) -> str:
    from xlmr.data.pipeline import budget_caps

    cfg = compose_cfg(*overrides)
    texts = {lang: LanguageText(lang, Path(f"/x/{lang}.txt"), 100, f"key-{lang}") for lang in ("en", "sw")}
    return artifact_key(_shards_spec(cfg, "tok", texts, budget_caps(cfg, {"en": 0.7, "sw": 0.3})))


def test_budget_capped_shards_are_shared_by_runs_of_one_budget():
    base = shards_key("data.budget_cap=2")
    assert base != shards_key()  # uncapped: the whole corpus
    assert shards_key() == artifact_key(_shards_spec(compose_cfg(), "tok", {  # no cap: the key is unchanged
        lang: LanguageText(lang, Path(f"/x/{lang}.txt"), 100, f"key-{lang}") for lang in ("en", "sw")}))
    # en: 2 × 0.7 × 2400 steps × 2048 tokens = 6.9M → 2^23; 2000 steps (5.7M) rounds to the same power of two
    for same in (["model=large"], ["seed=3"], ["train.max_steps=2000"]):
        assert shards_key("data.budget_cap=2", *same) == base, same
    for different in (["train.max_steps=9600"], ["data.budget_cap=8"]):
        assert shards_key("data.budget_cap=2", *different) != base, different


def test_tokenizer_langs_is_keyed_by_the_texts_it_selects_not_by_its_spelling():
    """The knob itself is not in the key: the corpora it selects are (the next test), so one set named
    two ways, or left null for a run of that set, is one tokenizer."""
    texts = {lang: LanguageText(lang, Path(f"/x/{lang}.txt"), 100, f"key-{lang}") for lang in ("en", "sw")}
    for named in (["langs=[en,sw]", "tokenizer.langs=[sw,en]"], ["langs=[en,sw]", "tokenizer.langs=[en,sw]"]):
        assert artifact_key(_tokenizer_spec(compose_cfg(*named), texts)) == tok_key(), named


def test_tokenizer_languages_come_in_one_order():
    from xlmr.config import tokenizer_lang_codes

    assert tokenizer_lang_codes(compose_cfg("langs=[sw,en]")) == ["sw", "en"]  # the run's own, as listed
    assert tokenizer_lang_codes(compose_cfg("langs=[sw,en]", "tokenizer.langs=[en,sw]")) == ["sw", "en"]
    # another set: the 100-language order, whichever way it is listed (one sample order, one tokenizer)
    assert tokenizer_lang_codes(compose_cfg("langs=[en,sw]", "tokenizer.langs=[sw,fr,en]")) == ["en", "fr", "sw"]
    assert tokenizer_lang_codes(compose_cfg("langs=7", "tokenizer.langs=15")) == tokenizer_lang_codes(
        compose_cfg("langs=15"))


def test_a_run_trains_on_its_languages_with_the_tokenizer_of_a_larger_set(tmp_path):
    """langs=[en,sw] with tokenizer.langs=[en,fr,sw]: the 3-language runs' tokenizer (one artifact, one file),
    shards and sampling for en and sw only; the plan sees the extra corpus and, once built, all of it cached."""
    from _shared import tiny_cfg

    from xlmr.config import typed
    from xlmr.data.pipeline import data_plan, prepare_data

    shared = typed(tiny_cfg(tmp_path, "langs=[en,sw]", "tokenizer.langs=[sw,fr,en]"))
    assert data_plan(shared).status == {"corpus": "0/3 cached", "tokenizer": "to build", "shards": "to build"}
    small = prepare_data(shared)
    assert data_plan(shared).status == {"corpus": "3/3 cached", "tokenizer": "cached", "shards": "cached"}
    large = prepare_data(typed(tiny_cfg(tmp_path, "langs=[en,fr,sw]")))
    own = prepare_data(typed(tiny_cfg(tmp_path, "langs=[en,sw]")))
    assert small.artifacts["tokenizer"]["key"] == large.artifacts["tokenizer"]["key"]
    assert not large.artifacts["tokenizer"]["built_now"]  # the first run built it
    assert small.tokenizer_identity()["sha256"] == large.tokenizer_identity()["sha256"]
    assert own.tokenizer_identity()["sha256"] != small.tokenizer_identity()["sha256"]
    assert small.langs == ["en", "sw"] and list(small.texts) == ["en", "sw"]
    assert set(small.shards.info) == {"en", "sw"}
    assert small.q.tolist() == own.q.tolist()  # sampling shares among the run's own languages


def test_a_prepare_only_sweep_builds_the_tokenizer_of_tokenizer_langs(tmp_path, monkeypatch):
    """xlmr/prepare.py's stages (corpus tasks, tokenizer tasks) follow tokenizer.langs too. Its tasks run in
    the local process pool, started after the tests above trained SentencePiece in this process."""
    import json

    import xlmr.prepare as prepare
    from _shared import tiny_cfg
    from xlmr.config import typed
    from xlmr.data.fanout import process_pool
    from xlmr.data.pipeline import prepare_data

    monkeypatch.setattr(prepare, "task_runner", lambda config, workers: process_pool(2))
    cfg = typed(tiny_cfg(tmp_path, "langs=[en,sw]", "tokenizer.langs=[en,fr,sw]"))
    prepare.prepare_sweep([cfg], config=None)
    manifests = [json.loads(m.read_text()) for m in (tmp_path / "tokenizer").glob("*/manifest.json")]
    assert [m["langs"] for m in manifests] == [["en", "fr", "sw"]]
    data = prepare_data(cfg)
    assert not any(a["built_now"] for a in data.artifacts.values())
