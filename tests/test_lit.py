import math

import numpy as np
import pytest

from xlmr.lit import MLMModule, group_metrics, language_metrics
from xlmr.model import EncoderDims
from xlmr.optim import OptimConfig, lr_factor


def test_lr_schedule_warmup_then_linear_decay():
    f = [lr_factor(s, 10, 110) for s in range(111)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[10] == pytest.approx(1.0) and f[60] == pytest.approx(0.5) and f[110] == 0.0
    assert all(a <= b for a, b in zip(f[:10], f[1:11])) and all(a >= b for a, b in zip(f[10:], f[11:]))


def test_language_metrics_units():
    m = language_metrics(nll_sum=20.0, correct=3, count=10, chars=40)
    assert m["mlm_loss"] == 2.0 and m["mlm_ppl"] == pytest.approx(math.e**2) and m["mlm_acc"] == 0.3
    assert m["mlm_bpc"] == pytest.approx(20.0 / math.log(2) / 40)


def test_groups_are_the_papers():
    per = {c: {"mlm_loss": v} for c, v in dict(en=1.0, fr=3.0, de=5.0, sw=7.0, ur=9.0).items()}
    g = group_metrics(per)
    assert g["high"]["mlm_loss"] == 2.0 and g["low"]["mlm_loss"] == 8.0 and g["all"]["mlm_loss"] == 5.0
    assert set(group_metrics({"en": {"x": 1.0}, "de": {"x": 2.0}})) == {"all"}  # no fr: no high group


def test_group_all_averages_the_languages_that_have_a_metric():
    per = {"en": {"loss": 1.0}, "fr": {"loss": 3.0, "retrieval": 0.5}, "sw": {"loss": 5.0, "retrieval": 0.1},
           "ur": {"loss": 7.0, "retrieval": 0.3}}
    g = group_metrics(per)
    assert g["all"]["retrieval"] == pytest.approx(0.3) and "retrieval" not in g["high"]
    assert g["low"]["retrieval"] == pytest.approx(0.2)


@pytest.mark.parametrize("hidden, peak", [(32, 4e-3), (64, 2e-3)])
def test_pretraining_uses_the_width_scaled_peak_rate(hidden, peak):
    dims = EncoderDims(name="t", layers=1, hidden=hidden, ffn=2 * hidden, heads=2, vocab_size=20)
    optim = OptimConfig(lr=2e-3, warmup_steps=0, max_steps=10, lr_width_reference=64)
    module = MLMModule(dims, optim, ["en"], np.ones(20), seed=0)
    optimizer = module.configure_optimizers()["optimizer"]
    assert [g["initial_lr"] for g in optimizer.param_groups] == pytest.approx([peak, peak])
