"""The learning-rate schedule (linear or warmup-stable-decay) and its warmup, in steps or as a fraction of the
run; the peak rate scaled with width."""

import pytest

from _shared import tiny_cfg
from xlmr.config import ConfigError, typed, validate, val_interval
from xlmr.optim import OptimConfig, adamw_with_schedule, lr_factor


def test_warmup_fraction_follows_max_steps_and_wins_over_steps():
    assert OptimConfig(lr=1e-3, warmup_steps=7, max_steps=1000).warmup_updates == 7
    assert OptimConfig(lr=1e-3, warmup_steps=7, max_steps=1000, warmup_fraction=0.06).warmup_updates == 60
    assert OptimConfig(lr=1e-3, warmup_steps=7, max_steps=50, warmup_fraction=0.06).warmup_updates == 3
    cfg = OptimConfig(lr=1e-3, warmup_steps=0, max_steps=100, warmup_fraction=0.1)
    factors = [lr_factor(s, cfg.warmup_updates, cfg.max_steps) for s in (0, 9, 10, 55, 100)]
    assert factors == pytest.approx([0.1, 1.0, 1.0, 0.5, 0.0])


def test_wsd_holds_the_peak_until_its_final_linear_decay():
    cfg = OptimConfig(lr=1e-3, warmup_steps=10, max_steps=110, schedule="wsd", decay_fraction=0.2)
    assert cfg.decay_updates == 22
    f = [cfg.lr_factor(s) for s in range(111)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(x == 1.0 for x in f[10:89])  # the stable phase: updates 10 … 88 at the peak
    assert f[99] == pytest.approx(0.5) and f[110] == 0.0  # 22 decay updates, halfway at 99
    assert all(a >= b for a, b in zip(f[10:], f[11:]))
    # a decay longer than what follows the warmup is the linear schedule
    long = OptimConfig(lr=1e-3, warmup_steps=10, max_steps=110, schedule="wsd", decay_fraction=1.0)
    assert [long.lr_factor(s) for s in range(111)] == pytest.approx([lr_factor(s, 10, 110) for s in range(111)])
    assert OptimConfig(lr=1e-3, warmup_steps=10, max_steps=110).decay_updates is None


def test_the_schedule_the_optimizer_follows_is_the_configured_one():
    torch = pytest.importorskip("torch")
    cfg = OptimConfig(lr=1e-3, warmup_steps=2, max_steps=10, schedule="wsd", decay_fraction=0.3)
    optimizer, schedule = adamw_with_schedule(torch.nn.Linear(2, 2), cfg)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == pytest.approx([1e-3 * cfg.lr_factor(s) for s in range(10)])
    assert rates[2:7] == pytest.approx([1e-3] * 5) and rates[9] < 1e-3 / 2


def test_schedule_is_a_checked_knob(tmp_path):
    assert typed(tiny_cfg(tmp_path, "train.schedule=wsd", "train.decay_fraction=0.1")).train.decay_updates > 0
    with pytest.raises(ConfigError, match=r"train.schedule=cosine: valid: linear .*, wsd"):
        validate(tiny_cfg(tmp_path, "train.schedule=cosine"))
    with pytest.raises(ConfigError, match=r"train.decay_fraction=0"):
        validate(tiny_cfg(tmp_path, "train.decay_fraction=0"))


def test_warmup_fraction_is_a_checked_knob(tmp_path):
    cfg = typed(tiny_cfg(tmp_path, "train.warmup_fraction=0.25"))
    assert cfg.train.warmup_updates == round(0.25 * cfg.train.max_steps)
    with pytest.raises(ConfigError, match=r"train.warmup_fraction=1.5: must be >= 0 and <= 1"):
        validate(tiny_cfg(tmp_path, "train.warmup_fraction=1.5"))
    validate(tiny_cfg(tmp_path, "train.warmup_fraction=0.5", "train.warmup_steps=100000"))  # steps unused then


def test_validation_interval_auto_gives_about_eight_points_on_the_logging_grid():
    assert val_interval(None, 2400, 10) == 300 and val_interval(None, 1000, 10) == 120
    assert val_interval(None, 12, 2) == 2 and val_interval(None, 5, 10) == 10
    assert val_interval(0, 2400, 10) == 0 and val_interval(50, 2400, 10) == 50


def test_width_reference_scales_the_peak_rate_as_one_over_width():
    plain = OptimConfig(lr=2e-3, warmup_steps=0, max_steps=10)
    assert plain.peak_lr(256) == 2e-3  # no reference: the rate as given, whatever the width
    scaled = OptimConfig(lr=2e-3, warmup_steps=0, max_steps=10, lr_width_reference=128)
    assert [scaled.peak_lr(w) for w in (128, 256, 512)] == pytest.approx([2e-3, 1e-3, 5e-4])
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(4, 4)
    optimizer, _ = adamw_with_schedule(model, scaled, width=256)
    assert [group["initial_lr"] for group in optimizer.param_groups] == pytest.approx([1e-3, 1e-3])


def test_the_cpu_recipe_scales_its_rate_from_tiny_width(tmp_path):
    cfg = typed(tiny_cfg(tmp_path, "train=cpu"))
    assert cfg.train.lr_width_reference == 128 and cfg.train.peak_lr(128) == cfg.train.lr
    with pytest.raises(ConfigError, match=r"train.lr_width_reference=0: must be >= 1"):
        validate(tiny_cfg(tmp_path, "train=cpu", "train.lr_width_reference=0"))
