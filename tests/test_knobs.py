"""What defines a result is derived from the config: a key nobody listed is still a knob everywhere."""

import json

import pytest

from _shared import compose_cfg
from analysis.collect import collect_runs
from analysis.figures import seed_stats
from xlmr.config import implementation_settings, is_implementation, run_name, science_knobs, section_knobs
from xlmr.data.pipeline import _shards_spec, _tokenizer_spec

# Keys that no list in the code names; each was once averaged as if its runs were seeds.
UNLISTED = ["train.mask_prob=0.3", "corpus.total_sentences=2000000", "tokenizer.sample_sentences=50000",
            "model.dropout=0.1", "eval.transfer.steps=100", "data.max_valid_tokens=20000"]


def _record(knobs: dict, run: str, bpc: float) -> dict:
    return {"status": "done", "sweep": "s", "run": run, "knobs": knobs, "params": {"total": 1, "non_embedding": 1},
            "tokens_seen": 1, "languages": {"en": {"mlm_bpc": bpc}}, "groups": {"all": {"mlm_bpc": bpc}}}


@pytest.mark.parametrize("override", UNLISTED)
def test_an_unlisted_key_is_a_knob_in_names_records_and_tables(override, tmp_path):
    key, value = override.split("=")
    runs = {}
    for over in ([], [override]):
        for seed in (0, 1):
            cfg = compose_cfg(*over, f"seed={seed}")
            name = run_name([*over, f"seed={seed}"])
            runs[name] = science_knobs(cfg)
    assert len(runs) == 4  # four run directories
    base, swept = runs["seed=0"], runs[run_name([override, "seed=0"])]
    assert {k for k in base if base[k] != swept[k]} == {key}  # the knob carries the run name's key, spelled the same
    assert str(swept[key]) == value
    for i, (name, knobs) in enumerate(runs.items()):
        d = tmp_path / name
        d.mkdir()
        (d / "result.json").write_text(json.dumps(_record(knobs, name, 1.0 + i)))
    df, skipped = collect_runs([tmp_path], warn=False)
    assert not skipped and key in df.columns
    stats = seed_stats(df[df["is_group"]], "mlm_bpc", "alpha")
    assert list(stats["n"]) == [2, 2]  # two configurations of two seeds, not one of four


def test_cache_keys_hold_every_knob_of_their_sections():
    base, other = compose_cfg(), compose_cfg("tokenizer.character_coverage=0.99", "data.valid_fraction=0.1")
    assert _tokenizer_spec(base, {}) != _tokenizer_spec(other, {})
    assert _shards_spec(base, "k", {}) != _shards_spec(other, "k", {})
    assert _tokenizer_spec(base, {}) == _tokenizer_spec(compose_cfg("model=base", "seed=3"), {})  # shared by them
    # tokenizer.langs is keyed by the corpora it selects (the spec's texts), not by its spelling:
    # tests/data/test_pipeline.py
    assert set(section_knobs(base, "tokenizer")) - {"langs"} <= set(_tokenizer_spec(base, {}))


def test_knobs_and_implementation_settings_partition_the_config():
    cfg = compose_cfg("corpus=hf", "corpus.dataset=x")
    knobs, impl = science_knobs(cfg), implementation_settings(cfg)
    assert "corpus.streaming" in impl and "corpus.streaming" not in knobs  # a field marked implementation()
    assert {"trainer.precision", "logger.mode", "paths.runs_dir"} <= set(impl)
    assert not set(knobs) & set(impl)
    assert run_name(["corpus.streaming=false", "trainer.devices=2", "alpha=0.5"]) == "alpha=0.5"
    assert is_implementation("hydra/launcher") and not is_implementation("corpus.p_code_switch")
