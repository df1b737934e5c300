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
