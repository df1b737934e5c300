"""Composition of every config group and sweep value, and refusal of bad input before any work."""

import dataclasses

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from _shared import ROOT, compose_cfg, run_train
from xlmr.config import (IMPLEMENTATION_KEYS, ConfigError, LoggerConfig, PathsConfig, TrainerConfig, accumulation,
                         lang_codes, run_name, science_knobs, validate)
from xlmr.data.languages import SET_SIZES, language_set

CONF = ROOT / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_default_config_is_valid_and_cpu_sized():
    cfg = compose_cfg()
    validate(cfg)
    assert cfg.model.name == "tiny" and cfg.langs == 7 and cfg.corpus.name == "synthetic"
    assert lang_codes(cfg) == ["en", "fr", "de", "ru", "zh", "sw", "ur"]


@pytest.mark.parametrize("group", ["model", "train", "trainer", "logger"])
def test_every_group_option_composes_and_validates(group):
    assert options(group), f"conf/{group} is empty"
    for option in options(group):
        cfg = compose_cfg(f"{group}={option}")
        validate(cfg)  # a GPU is needed only at run time: the gpu trainer's arithmetic validates here too


@pytest.mark.parametrize("preset", ["tiny", "mini"])
def test_cpu_presets_start_at_bases_scales(preset):
    """XLM-R's N(0, 0.02²) init is base's (H = 768); a CPU preset of width H scales it by √(768 / H), so that its
    query·key scores and output logits start as base's do (docs/synthetic-corpus.md, "The init scale")."""
    model = compose_cfg(f"model={preset}").model
    assert model.init_std == pytest.approx(0.02 * (768 / model.hidden) ** 0.5, abs=0.002)


def test_cc100_corpus_needs_a_path(tmp_path):
    with pytest.raises(ConfigError, match="corpus.path") as err:
        validate(compose_cfg("corpus=cc100"))
    assert err.value.key == "corpus.path"
    for lang in language_set(7):
        (tmp_path / f"{lang}.txt").write_text("a b c\n\nd e f\n")
    validate(compose_cfg("corpus=cc100", f"corpus.path={tmp_path}"))


@pytest.mark.parametrize("n", SET_SIZES)
def test_language_sets_nest_and_have_the_right_size(n):
    codes = lang_codes(compose_cfg(f"langs={n}"))
    assert len(codes) == len(set(codes)) == n
    smaller = [k for k in SET_SIZES if k < n]
    for k in smaller:
        assert set(language_set(k)) <= set(codes)
    if n == 15:
        assert set(codes) == set("en fr es de el bg ru tr ar vi th zh hi sw ur".split())


def test_paper_model_sizes():
    base, large = compose_cfg("model=base").model, compose_cfg("model=large").model
    assert (base.layers, base.hidden, base.ffn, base.heads) == (12, 768, 3072, 12)
    assert (large.layers, large.hidden, large.ffn, large.heads) == (24, 1024, 4096, 16)
    for h in (768, 960, 1152):
        m = compose_cfg(f"model=h{h}").model
        assert (m.layers, m.hidden, m.ffn, m.hidden // m.heads) == (12, h, 4 * h, 64)


@pytest.mark.parametrize("override,key", [
    ("alpha=0.7", "alpha"), ("vocab_size=256000", "vocab_size"), ("langs=[en,sw]", "langs"), ("seed=3", "seed")])
def test_sweep_values_compose(override, key):
    cfg = compose_cfg(override)
    validate(cfg)
    assert science_knobs(cfg)[key] == {"alpha": 0.7, "vocab_size": 256000, "langs": "en+sw", "seed": 3}[key]


@pytest.mark.parametrize("overrides,key", [
    (["alpha=-1"], "alpha"),
    (["vocab_size=0"], "vocab_size"),
    (["langs=13"], "langs"),
    (["langs=[en,xx]"], "langs"),
    (["langs=[en,en]"], "langs"),
    (["langs=15", "tokenizer.langs=7"], "tokenizer.langs"),
    (["tokenizer.langs=8"], "tokenizer.langs"),
    (["tokenizer.langs=[en,xx]"], "tokenizer.langs"),
    (["model.heads=5"], "model.heads"),
    (["train.batch_tokens=1000"], "train.batch_tokens"),
    (["train.seq_len=1024"], "train.seq_len"),
    (["train.warmup_steps=100000"], "train.warmup_steps"),
    (["logger.mode=loud"], "logger.mode"),
    (["trainer.precision=fp8"], "trainer.precision"),
])
def test_validation_names_the_key(overrides, key):
    with pytest.raises(ConfigError) as err:
        validate(compose_cfg(*overrides))
    assert err.value.key == key and "\n" not in str(err.value)


@pytest.mark.parametrize("override", ["alpha=abc", "vocab_size=big", "model.layers=1.5", "alpah=0.3", "trainer.gpus=2"])
def test_types_and_unknown_keys_are_refused_by_the_schema(override):
    with pytest.raises((ValidationError, ConfigCompositionException)):
        compose_cfg(override)


def test_batch_arithmetic():
    cfg = compose_cfg("train.batch_tokens=8192", "trainer.micro_batch_size=16")
    assert accumulation(cfg) == 8192 // (cfg.train.seq_len * 16)


def test_run_name_ignores_implementation_knobs():
    assert run_name(["langs=7", "model=base", "trainer.devices=2", "logger=none", "hydra/launcher=slurm",
                     "paths.runs_dir=/x", "name=fig2", "sweep=fig2_langs", "+trainer.extra=1"]) == "langs=7,model=base"
    assert run_name([]) == "default"
    assert run_name(["corpus.path=/data/cc100"]) == "corpus.path=_data_cc100"


def test_implementation_groups_are_the_excluded_keys():
    for schema, key in ((TrainerConfig, "trainer"), (LoggerConfig, "logger"), (PathsConfig, "paths")):
        assert dataclasses.is_dataclass(schema) and key in IMPLEMENTATION_KEYS
    knobs = science_knobs(compose_cfg())
    assert not [k for k in knobs if k.split(".")[0] in IMPLEMENTATION_KEYS]
    assert {"trainer.devices", "trainer.precision", "logger.mode", "paths.runs_dir"}.isdisjoint(knobs)
    assert {"model.hidden", "train.lr", "corpus.p_code_switch", "eval.transfer.steps"} <= set(knobs)


def test_sweep_expands_to_8_runs_in_the_plan(tmp_path):
    r = run_train("-m", "model=base,large", "langs=7,15,30,100", "plan_only=true", f"paths.runs_dir={tmp_path}",
                  f"paths.cache_dir={tmp_path / 'cache'}")
    assert r.returncode == 0, r.stderr
    assert "8 run(s)" in r.stdout and "langs=100,model=large" in r.stdout
    assert not (tmp_path / "cache").exists()  # the plan touches no data


@pytest.mark.parametrize("args,needle", [
    (["model=nonexistent"], "model/nonexistent"),
    (["langs=13"], "langs=13"),
    (["langs=[en,xx]"], "langs=xx"),
    (["alpha=-1"], "alpha=-1"),
    (["alpha=abc"], "alpha"),
    (["vocab_size=0"], "vocab_size=0"),
    (["model.heads=5"], "model.heads=5"),
    (["model.norm=middle"], "model.norm=middle"),
    (["train.schedule=cosine"], "train.schedule=cosine"),
    (["alpah=0.3"], "alpah"),
])
def test_cli_refuses_bad_input_before_any_work(tmp_path, args, needle):
    r = run_train(*args, f"paths.runs_dir={tmp_path / 'runs'}", f"paths.cache_dir={tmp_path / 'cache'}")
    assert r.returncode != 0
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "cache").exists()


def test_cli_sweep_with_one_bad_config_launches_nothing(tmp_path):
    r = run_train("-m", "alpha=0.3,-1", f"paths.runs_dir={tmp_path}", f"paths.cache_dir={tmp_path / 'cache'}")
    assert r.returncode == 2
    assert "run 'alpha=-1'" in r.stderr and "alpha=-1" in r.stderr and "nothing was launched" in r.stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / "default" / "alpha=0.3").exists()


def test_print_config_is_quick_and_touches_no_data(tmp_path):
    r = run_train("--cfg", "job", "model=large", "langs=100", f"paths.cache_dir={tmp_path / 'cache'}", timeout=60)
    assert r.returncode == 0 and "hidden: 1024" in r.stdout and "langs: 100" in r.stdout
    assert not (tmp_path / "cache").exists()


SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_sweep_file_expands_to_its_grid(sweep, tmp_path):
    """Each sweep file: a header with the question, command and cost, and a grid that validates in full."""
    text = (ROOT / "sweeps" / f"{sweep}.yaml").read_text()
    for needle in ("# Question:", "# Grid:", "# Command: python train.py -m sweep=" + sweep, "# Cost"):
        assert needle in text, f"{sweep}: header lacks {needle!r}"
    import yaml

    params = yaml.safe_load(text)["hydra"]["sweeper"]["params"]
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser, expected = OverridesParser.create(), 1
    for key, values in params.items():  # Hydra's own grammar: `langs: 7,[en,fr]` is two values
        override = parser.parse_override(f"{key}={values}")
        expected *= len(list(override.sweep_string_iterator())) if override.is_sweep_override() else 1
    r = run_train("-m", f"sweep={sweep}", "plan_only=true", f"paths.runs_dir={tmp_path}",
                  f"paths.cache_dir={tmp_path / 'cache'}", timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"sweep '{sweep}': {expected} run(s)" in r.stdout


def test_help_lists_real_options_only():
    r = run_train("--help")
    groups = r.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert "model: base" in groups and "schema" not in groups
    refused = run_train("model=schema")
    assert refused.returncode != 0 and "model/schema" in refused.stdout + refused.stderr


def test_a_tokenizer_set_missing_run_languages_names_them():
    with pytest.raises(ConfigError) as err:
        validate(compose_cfg("langs=[en,sw,ur]", "tokenizer.langs=[en,fr,sw]"))
    assert str(err.value).startswith("tokenizer.langs=en+fr+sw: must hold every language of the run (missing: ur)")
    validate(compose_cfg("langs=7", "tokenizer.langs=30"))  # a superset: fine
    with pytest.raises(ConfigError) as err:
        validate(compose_cfg("langs=[en,fr]", "tokenizer.langs=[en,fr,sw]", "data.unseen_langs=[sw]"))
    assert err.value.key == "data.unseen_langs" and "tokenizer.langs" in str(err.value)


def test_the_tokenizer_languages_are_a_knob_named_like_langs():
    assert science_knobs(compose_cfg())["tokenizer.langs"] == "7"  # null: the run's own set
    assert science_knobs(compose_cfg("langs=7", "tokenizer.langs=15"))["tokenizer.langs"] == "15"
    assert science_knobs(compose_cfg("langs=15"))["tokenizer.langs"] == "15"  # the same tokenizer, the same value
    assert science_knobs(compose_cfg("langs=[en,sw]", "tokenizer.langs=[sw,en]"))["tokenizer.langs"] == "en+sw"
    assert science_knobs(compose_cfg("langs=[en,sw]", "tokenizer.langs=[en,fr,sw]"))["tokenizer.langs"] == "en+fr+sw"
