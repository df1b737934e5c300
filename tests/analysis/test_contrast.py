"""analysis/contrast.py and `python -m analysis compare`: Δ between two configurations, per language, with its
Welch standard error and 95 % interval over seeds; relative to a reference language in the same run."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from analysis.__main__ import main
from analysis.collect import collect_runs
from analysis.contrast import ContrastError, contrast, format_contrast, t975, welch

SEED_LUCK = {0: 0.00, 1: 0.12, 2: -0.09}  # what a seed does to every language of a run alike
JITTER = {("ur", 0): 0.01, ("ur", 1): -0.02, ("ur", 2): 0.015, ("sw", 0): -0.005, ("sw", 1): 0.01, ("sw", 2): 0.0}


def _values(num_langs: int, seed: int) -> dict[str, float]:
    """bits/char: adding languages (7 → 15) costs sw +0.20 and ur only +0.05 (a relative joined)."""
    cost = {"ur": 0.05, "sw": 0.20}
    base = {"ur": 1.00, "sw": 0.80}
    return {lang: base[lang] + (cost[lang] if num_langs == 15 else 0.0) + SEED_LUCK[seed]
            + (JITTER[(lang, seed)] if num_langs == 15 else -JITTER[(lang, seed)]) for lang in ("ur", "sw")}


def _with_values(record: dict, bpc: dict[str, float]) -> dict:
    """The record with these languages' bits/char (and a loss beside them), and the low group's mean."""
    record["languages"] = {lang: {"mlm_bpc": v, "mlm_loss": 2.4 * v} for lang, v in bpc.items()}
    mean = sum(bpc.values()) / len(bpc)
    record["groups"] = {"low": {"mlm_bpc": mean, "mlm_loss": 2.4 * mean}}
    return record


@pytest.fixture(scope="module")
def ctl_root(tmp_path_factory, fake):
    root = tmp_path_factory.mktemp("ctl")
    for n in (7, 15):
        for seed in SEED_LUCK:
            run = f"langs={n},seed={seed}"
            rec = fake.result("ctl", run, fake.knobs(num_langs=n, seed=seed))
            fake.write_run(root, "ctl", run, _with_values(rec, _values(n, seed)))
    # a second configuration at 15 languages (another width): must not be averaged in as if it were a seed
    k = fake.knobs(num_langs=15, seed=0, hidden=256)
    rec = fake.result("ctl", "langs=15,model=mini,seed=0", k)
    fake.write_run(root, "ctl", "langs=15,model=mini,seed=0", _with_values(rec, _values(15, 0)))
    return root


def _side(root, pattern):
    df, skipped = collect_runs(sorted(root.glob(pattern)))
    assert not skipped
    return df


def test_delta_and_welch_standard_error_per_language(ctl_root):
    base, arm = _side(ctl_root, "ctl/langs=7,seed=*"), _side(ctl_root, "ctl/langs=15,seed=*")
    table = contrast(base, arm, "mlm_bpc").set_index("lang")
    assert list(table.index) == ["sw", "ur", "low"]  # languages first, then groups
    for lang in ("ur", "sw"):
        b = np.array([_values(7, s)[lang] for s in SEED_LUCK])
        a = np.array([_values(15, s)[lang] for s in SEED_LUCK])
        row = table.loc[lang]
        assert row["delta"] == pytest.approx(a.mean() - b.mean())
        assert row["se"] == pytest.approx(math.sqrt(a.var(ddof=1) / 3 + b.var(ddof=1) / 3))
        wa, wb = a.var(ddof=1) / 3, b.var(ddof=1) / 3
        assert row["df"] == pytest.approx((wa + wb) ** 2 / (wa ** 2 / 2 + wb ** 2 / 2))
        assert row["ci_high"] - row["delta"] == pytest.approx(t975(row["df"]) * row["se"])
        assert (row["base_n"], row["arm_n"]) == (3, 3)
    assert table.loc["ur", "delta"] == pytest.approx(0.05, abs=0.01)
    assert table.loc["sw", "delta"] == pytest.approx(0.20, abs=0.01)
    # the seeds' common luck (±.1) swamps ur's +.05 taken alone: its interval holds 0
    assert table.loc["ur", "ci_low"] < 0 < table.loc["ur", "ci_high"]


def test_welch_with_unequal_seed_counts_and_the_t_table():
    # arm: 2 seeds of variance 0.04; base: 6 seeds of variance 0.01 → se² = .02 + .001667
    row = welch(0.5, 0.04, 2, 0.01, 6)
    assert row["se"] == pytest.approx(math.sqrt(0.02 + 0.01 / 6))
    assert row["df"] == pytest.approx((0.02 + 0.01 / 6) ** 2 / (0.02 ** 2 / 1 + (0.01 / 6) ** 2 / 5))
    assert row["df"] < 2  # dominated by the side with 2 seeds: t(0.975, 1) = 12.7
    assert row["ci_low"] == pytest.approx(0.5 - 12.706 * row["se"])
    assert (t975(1.9), t975(4), t975(4.99), t975(200)) == (12.706, 2.776, 2.776, 2.042)
    assert math.isnan(welch(0.1, 0.0, 1, 0.01, 3)["se"])  # one seed: no spread to compare with
    assert welch(0.1, 0.0, 3, 0.0, 3)["ci_low"] == 0.1  # no spread at all: the interval is Δ


def test_against_a_reference_language_cancels_what_every_language_shares(ctl_root):
    base, arm = _side(ctl_root, "ctl/langs=7,seed=*"), _side(ctl_root, "ctl/langs=15,seed=*")
    table = contrast(base, arm, "mlm_bpc", langs=["ur"], against="sw").set_index("lang")
    assert list(table.index) == ["ur"]
    d_base = [_values(7, s)["ur"] - _values(7, s)["sw"] for s in SEED_LUCK]
    d_arm = [_values(15, s)["ur"] - _values(15, s)["sw"] for s in SEED_LUCK]
    assert table.loc["ur", "delta"] == pytest.approx(np.mean(d_arm) - np.mean(d_base))
    assert table.loc["ur", "delta"] == pytest.approx(-0.15, abs=0.01)  # ur pays .15 less than sw
    assert table.loc["ur", "ci_high"] < 0  # with the seed luck gone, beyond the spread
    text = format_contrast(table.reset_index(), "mlm_bpc", "sw")
    assert "mlm_bpc of sw in the same run" in text and "-0.15" in text and text.rstrip().endswith("*")


def test_all_compares_the_languages_both_sides_have(tmp_path, fake):
    """A 15-language arm records `all` over its fifteen; against a 7-language base, `all` is the mean over the
    languages every run has, and the printed table says which."""
    for n in (7, 15):
        for seed in SEED_LUCK:
            run = f"langs={n},seed={seed}"
            bpc = _values(n, seed) | ({"hi": 3.0} if n == 15 else {})
            record = _with_values(fake.result("ctl", run, fake.knobs(num_langs=n, seed=seed)), bpc)
            low, every = (bpc["sw"] + bpc["ur"]) / 2, sum(bpc.values()) / len(bpc)
            record["groups"] = {"low": {"mlm_bpc": low, "mlm_loss": 2.4 * low},
                                "all": {"mlm_bpc": every, "mlm_loss": 2.4 * every}}
            fake.write_run(tmp_path, "ctl", run, record)
    base, arm = _side(tmp_path, "ctl/langs=7,seed=*"), _side(tmp_path, "ctl/langs=15,seed=*")
    printed = format_contrast(contrast(base, arm, "mlm_bpc"), "mlm_bpc")
    assert "all = mean over the 2 languages every run has (ur, sw)" in printed  # in the records' order
    table = contrast(base, arm, "mlm_bpc").set_index("lang")
    assert list(table.index) == ["sw", "ur", "all", "low"]
    assert table.loc["all", "delta"] == pytest.approx(table.loc["low", "delta"])  # all = mean(sw, ur) here
    assert table.loc["all", "delta"] == pytest.approx((0.20 + 0.05) / 2 + np.mean([2 * j for (lang, _), j in JITTER.items()]))


def test_bad_requests_are_one_line_errors(ctl_root):
    base = _side(ctl_root, "ctl/langs=7,seed=*")
    mixed = _side(ctl_root, "ctl/langs=15,*seed=*")
    with pytest.raises(ContrastError, match=r"--arm mixes configurations: model \(mini, tiny\);.* model\.hidden \(128, 256\);"):
        contrast(base, mixed, "mlm_bpc")
    arm = _side(ctl_root, "ctl/langs=15,seed=*")
    with pytest.raises(ContrastError, match=r"--langs hi: not in both sides \(both have: low, sw, ur\)"):
        contrast(base, arm, "mlm_bpc", langs=["ur", "hi"])
    with pytest.raises(ContrastError, match=r"--against en: not in every run of --base"):
        contrast(base, arm, "mlm_bpc", against="en")
    with pytest.raises(ContrastError, match=r"--base has no finished run with transfer_acc"):
        contrast(base, arm, "transfer_acc")
    with pytest.raises(ContrastError, match=r"nothing to compare: --langs names only --against sw"):
        contrast(base, arm, "mlm_bpc", langs=["sw"], against="sw")


def test_command_line(ctl_root, capsys):
    rc = main(["compare", "--base", str(ctl_root / "ctl/langs=7,seed=*"), "--arm", str(ctl_root / "ctl/langs=15,seed=*"),
               "--metric", "mlm_bpc", "--langs", "ur", "--against", "sw"])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.splitlines()[0] == "base: 3 runs; arm: 3 runs"
    assert out.splitlines()[-1].split()[:1] == ["ur"] and "-0.15" in out.splitlines()[-1]
    # the default metric is the first preferred one both sides have (here bits/char), and a pattern's
    # brackets are literal: run directories are named after list overrides such as langs=[en,fr,sw]
    listed = ctl_root / "listed"
    for seed in (0, 1):
        shutil.copytree(ctl_root / f"ctl/langs=15,seed={seed}", listed / f"langs=[en,sw],seed={seed}")
    rc = main(["compare", "--base", str(ctl_root / "ctl/langs=7,seed=*"), "--arm", str(listed / "langs=[en,sw],seed=*")])
    out = capsys.readouterr().out
    assert rc == 0 and out.splitlines()[0] == "base: 3 runs; arm: 2 runs" and "mean mlm_bpc;" in out
    rc = main(["compare", "--base", str(ctl_root / "nowhere"), "--arm", str(ctl_root / "ctl/langs=15,seed=*")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("error: --base: runs directory not found")
    rc = main(["compare", "--base", str(ctl_root / "ctl/langs=7,seed=*"), "--arm", str(ctl_root / "ctl/langs=15,seed=*"),
               "--metric", "mlm_acc"])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip() == "error: --metric 'mlm_acc' not in both sides (metrics: mlm_bpc, mlm_loss)"
