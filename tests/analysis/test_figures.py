"""⑪ figures.py (table → figures) and the `python -m analysis` command line, on fake run records."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import collect, figures
from analysis.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tables(runs_root):
    """sweep → its table (warnings off: the broken dirs are test_collect's business)."""
    return {sweep: collect.collect_runs([runs_root / sweep], warn=False)[0]
            for sweep in ("fig2_langs", "fig4_capacity", "fig5_alpha", "fig6_vocab", "fig7_batch")}


def seed_std_by_hand(fake, sweep, group, metric, where):
    """mean and std (ddof=1) over seeds of one group metric, straight from the fixture's records."""
    values = [fake.result(s, r, k)["groups"][group][metric] for s, r, k in fake.all_runs()
              if s == sweep and all(k[kn] == v for kn, v in where.items())]
    return float(np.mean(values)), float(np.std(values, ddof=1)), len(values)


def test_pick_metric_and_labels(tables):
    df = tables["fig2_langs"]
    assert figures.pick_metric(df) == "mlm_bpc"
    assert figures.pick_metric(df[df["metric"] != "mlm_bpc"]) == "mlm_loss"
    with_transfer = df.assign(metric=df["metric"].replace({"mlm_acc": "transfer_acc"}))
    assert figures.pick_metric(with_transfer) == "transfer_acc"
    with pytest.raises(ValueError):
        figures.pick_metric(df[df["metric"] == "mlm_acc"])
    assert "nats/token" in figures.metric_label("mlm_loss") and "lower is better" in figures.metric_label("mlm_loss")
    assert "bits/char" in figures.metric_label("mlm_bpc")
    assert "higher is better" in figures.metric_label("transfer_acc")


def test_seed_stats_equal_independent_std(tables, fake):
    stats = figures.seed_stats(tables["fig2_langs"][tables["fig2_langs"]["is_group"]], "mlm_loss", "num_langs",
                               by=["lang"])
    assert len(stats) == 3 * 3 and (stats["n"] == 3).all() and (stats["condition"] == "").all()
    for r in stats.itertuples():
        mean, std, n = seed_std_by_hand(fake, "fig2_langs", r.lang, "mlm_loss", {"num_langs": r.num_langs})
        assert (r.mean, r.std, r.n) == (pytest.approx(mean), pytest.approx(std), n)


def test_figure_error_bars_are_seed_std(tables, fake):
    fig = figures.fig_alpha(tables["fig5_alpha"], "mlm_bpc")
    lines = {d["label"]: d for d in figures.errorbar_values(fig)}
    assert set(lines) == {"high-resource (en, fr)", "low-resource (sw, ur)"}
    for label, group in (("high-resource (en, fr)", "high"), ("low-resource (sw, ur)", "low")):
        d = lines[label]
        assert list(d["x"]) == [0.01, 0.3, 1.0]
        for x, y, yerr in zip(d["x"], d["y"], d["yerr"]):
            mean, std, n = seed_std_by_hand(fake, "fig5_alpha", group, "mlm_bpc", {"alpha": x})
            assert n == 2 and y == pytest.approx(mean) and yerr == pytest.approx(std)
    text = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert "± 1 std over seeds" in text and "Fig. 5" in text
    assert "bits/char" in fig.axes[0].get_ylabel() and "α" in fig.axes[0].get_xlabel()


def test_fig_langs_panels_per_capacity(tables, fake):
    fig = figures.fig_langs(tables["fig4_capacity"], "mlm_loss")  # two widths: one fixed-capacity panel each
    assert [ax.get_title() for ax in fig.axes] == ["fixed capacity: tiny H=128", "fixed capacity: mini H=256"]
    lines = figures.errorbar_values(fig)
    assert len(lines) == 2 * 3
    d = next(x for x in lines if x["axes_title"].endswith("H=256") and x["label"].startswith("low"))
    mean, std, _ = seed_std_by_hand(fake, "fig4_capacity", "low", "mlm_loss", {"num_langs": 30, "model.hidden": 256})
    assert d["y"][-1] == pytest.approx(mean) and d["yerr"][-1] == pytest.approx(std)


def test_fig_langs_names_a_budget_grown_with_the_language_count(tmp_path, fake, tables):
    """Fig. 2 at matched exposure (one update budget per language count) says so; a fixed budget adds nothing."""
    for n, steps in ((7, 1800), (15, 3600)):
        for seed in (0, 1):
            name = f"langs={n},seed={seed},train.max_steps={steps}"
            fake.write_run(tmp_path, "t", name, fake.result("t", name, fake.knobs(num_langs=n, max_steps=steps, seed=seed)))
    df, _ = collect.collect_runs([tmp_path], warn=False)
    text = " ".join(t.get_text() for t in figures.fig_langs(df, "mlm_bpc").findobj(lambda a: hasattr(a, "get_text")))
    assert "updates grow with the languages: 7 → 1,800, 15 → 3,600" in text
    text = " ".join(t.get_text() for t in figures.fig_langs(tables["fig2_langs"], "mlm_bpc")
                    .findobj(lambda a: hasattr(a, "get_text")))
    assert "updates grow" not in text


def test_fig_langs_names_one_tokenizer_shared_by_the_language_counts(tmp_path, fake, tables):
    """7 languages with tokenizer.langs=15 and 15 languages (their own): one tokenizer, said in the legend;
    each count with its own tokenizer (the fake fig2 sweep's records have no key) adds nothing."""
    for n, tok in ((7, "15"), (15, None)):
        for seed in (0, 1):
            name = f"langs={n},seed={seed}"
            fake.write_run(tmp_path, "t", name, fake.result("t", name, {**fake.knobs(num_langs=n, seed=seed),
                                                                        "tokenizer.langs": tok}))
    df, _ = collect.collect_runs([tmp_path], warn=False)
    fig = figures.fig_langs(df, "mlm_bpc")
    assert len(figures.errorbar_values(fig)) == 3  # one line per group: one condition, not two
    text = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert "one tokenizer for every count: trained on the 15-language set" in text
    text = " ".join(t.get_text() for t in figures.fig_langs(tables["fig2_langs"], "mlm_bpc")
                    .findobj(lambda a: hasattr(a, "get_text")))
    assert "one tokenizer" not in text


def test_fig_langs_and_fig_capacity_average_all_over_the_languages_every_run_has(tmp_path, fake):
    """The 15-language runs have a fifth language (far off); `all` is drawn over the four every run has, and the
    legend says so: each run's recorded `all` averages its own languages, a different set at each count."""
    for n, hidden in ((7, 128), (15, 128), (15, 256)):
        for seed in (0, 1):
            name = f"langs={n},h={hidden},seed={seed}"
            record = fake.result("t", name, fake.knobs(num_langs=n, hidden=hidden, seed=seed))
            if n == 15:
                record["languages"]["hi"] = {m: 9.0 for m in fake.METRICS}
                record["groups"] = fake.groups(record["languages"])
            fake.write_run(tmp_path, "t", name, record)
    df, _ = collect.collect_runs([tmp_path], warn=False)
    four = df[~df["is_group"] & (df["metric"] == "mlm_bpc") & (df["num_langs"] == 15) & (df["model.hidden"] == 128)
              & (df["lang"] != "hi")].groupby("run")["value"].mean().mean()
    for draw in (figures.fig_langs, figures.fig_langs_capacity):
        fig = draw(df, "mlm_bpc")
        text = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
        assert "all = mean over the 4 languages every run has (en, fr, sw, ur)" in text, draw.__name__
    lines = figures.errorbar_values(figures.fig_langs(df, "mlm_bpc"))
    (line,) = [ln for ln in lines if ln["label"].startswith("all") and "128" in ln["axes_title"]]
    assert line["y"][list(line["x"]).index(15)] == pytest.approx(four)


def test_fig_capacity_diagonal(tables):
    fig = figures.fig_langs_capacity(tables["fig4_capacity"], "mlm_loss")
    assert len(fig.axes) == 3
    lines = figures.errorbar_values(fig)
    grown = [d for d in lines if d["label"] == "capacity grown with languages"]
    assert len(grown) == 3  # one per group panel, through (7, H=128) and (30, H=256)
    assert [list(d["x"]) for d in grown] == [[7, 30]] * 3
    labels = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert labels == {"H=128", "H=256"}


def test_fig_vocab_lines_per_capacity(tables):
    fig = figures.fig_vocab(tables["fig6_vocab"], "mlm_bpc")
    lines = figures.errorbar_values(fig)
    widths = [d for d in lines if "capacity grows with vocab" in d["label"]]
    fixed = [d for d in lines if "fixed capacity" in d["label"]]
    assert len(widths) == 2 * 2  # two widths × two panels (vs vocab, vs params)
    assert fig.axes[0].get_xscale() == "log" and list(lines[0]["x"]) == [1000, 4000, 16000]
    # and the one fixed-capacity pair of the grid: 4,000 pieces at H=256 (2.73M) and 16,000 at H=128 (2.51M)
    assert len(lines) == 6 and [d["label"] for d in fixed] == ["H=256→128, fixed capacity (~2.62M params)"] * 2
    assert list(fixed[0]["x"]) == [4000, 16000]


def test_skipped_when_knob_does_not_vary(tables):
    df = tables["fig5_alpha"]
    for draw, knob in ((figures.fig_langs, "num_langs"), (figures.fig_vocab, "vocab_size"),
                       (figures.fig_batch, "train.batch_tokens")):
        with pytest.raises(figures.FigureSkipped, match=f"`{knob}` does not vary"):
            draw(df, "mlm_loss")
    with pytest.raises(figures.FigureSkipped, match="hidden"):
        figures.fig_langs_capacity(tables["fig2_langs"], "mlm_loss")
    with pytest.raises(figures.FigureSkipped, match="no high/low group rows"):
        figures.fig_alpha(df, "transfer_acc")


def test_mixed_sweeps_split_lines_not_seeds(tables):
    """A knob that varies inside one point (two sweeps in one table) splits lines instead of averaging."""
    first = tables["fig7_batch"]
    df = pd.concat([first, first.assign(sweep="again", **{"train.lr": 0.001})], ignore_index=True)
    stats = figures.seed_stats(df[df["is_group"]], "mlm_loss", "train.batch_tokens", by=["lang"])
    assert (stats["n"] == 2).all()
    assert set(stats["condition"]) == {"sweep=again, train.lr=0.001", "sweep=fig7_batch, train.lr=0.002"}


def test_make_all_and_save(tables, tmp_path):
    out = figures.make_all(tables["fig4_capacity"], tmp_path)
    assert isinstance(out["fig2_langs"], Path) and isinstance(out["fig4_capacity"], Path)
    assert "alpha" in out["fig5_alpha"] and "vocab_size" in out["fig6_vocab"] and "train.batch_tokens" in out["fig7_batch"]
    for name in ("fig2_langs", "fig4_capacity"):
        assert (tmp_path / f"{name}.png").stat().st_size > 20_000
        assert (tmp_path / f"{name}.pdf").stat().st_size > 5_000
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (tmp_path / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["fig2_langs.png", "fig2_langs.pdf", "fig4_capacity.png", "fig4_capacity.pdf"])  # no temp files left


def test_cli_figures(runs_root, tmp_path, capsys):
    rc = main(["figures", str(runs_root / "fig2_langs"), "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "runs: 9 finished, 5 skipped; sweeps: fig2_langs" in out
    assert "metric: mlm_bpc" in out and "langs=7,seed=0" in out
    assert "fig5_alpha: skipped: `alpha` does not vary" in out
    assert err.count("warning: skipped") == 5
    assert {p.name for p in tmp_path.iterdir()} == {"results.parquet", "results.csv", "fig2_langs.png",
                                                     "fig2_langs.pdf"}
    assert len(collect.read_table(tmp_path / "results.parquet")) == 9 * 28


def test_cli_table_and_errors(runs_root, tmp_path, capsys):
    assert main(["table", str(runs_root / "fig5_alpha"), str(runs_root / "fig7_batch"), "--out", str(tmp_path),
                 "--metric", "mlm_acc"]) == 0
    out = capsys.readouterr().out
    assert "runs: 12 finished, 0 skipped; sweeps: fig5_alpha, fig7_batch" in out and "higher is better" in out
    assert {p.name for p in tmp_path.iterdir()} == {"results.parquet", "results.csv"}
    # a quoted pattern, as the sweep headers write them, names the run directories it matches
    assert main(["table", str(runs_root / "fig5_alpha" / "*seed=0*"), "--out", str(tmp_path / "pattern")]) == 0
    assert "runs: 3 finished, 0 skipped; sweeps: fig5_alpha" in capsys.readouterr().out
    cases = [
        (["figures", str(tmp_path / "missing"), "--out", str(tmp_path)], "runs directory not found"),
        (["figures", str(tmp_path / "missing*"), "--out", str(tmp_path)], "runs directory not found"),
        (["figures", str(tmp_path), "--out", str(tmp_path / "o")], "no finished runs found"),
        (["table", str(runs_root / "fig5_alpha"), "--out", str(tmp_path), "--metric", "bleu"], "metric 'bleu'"),
        (["table", "--out", str(tmp_path)], "no RUNS_DIR"),
        (["table", str(runs_root), "--wandb", "e/p", "--out", str(tmp_path)], "not both"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err


def test_cli_pattern_names_only_run_directories(runs_root, tmp_path, capsys):
    """'runs/<sweep>/*' also matches the sweep folder's own files (Hydra's multirun.yaml): they are not runs."""
    sweep = tmp_path / "sweep"
    shutil.copytree(runs_root / "fig5_alpha", sweep)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    assert main(["table", str(sweep / "*"), "--out", str(tmp_path / "out")]) == 0
    assert "runs: 6 finished, 0 skipped" in capsys.readouterr().out


def test_python_dash_m(runs_root, tmp_path):
    """The real entry point, in a subprocess: exit codes and a one-line error."""
    env_cwd = {"cwd": ROOT, "capture_output": True, "text": True, "timeout": 120}
    ok = subprocess.run([sys.executable, "-m", "analysis", "figures", str(runs_root / "fig7_batch"),
                         "--out", str(tmp_path)], **env_cwd)
    assert ok.returncode == 0, ok.stderr
    assert "fig7_batch: " + str(tmp_path / "fig7_batch.png") in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "analysis", "figures", str(tmp_path / "nope"), "--out",
                          str(tmp_path)], **env_cwd)
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: runs directory not found: {tmp_path / 'nope'}"


def test_cli_wandb_source(runs_root, tmp_path, capsys, monkeypatch):
    """--wandb ENTITY/PROJECT --group G goes to wandb_source (faked here: no network); W&B errors exit 1."""
    from analysis import wandb_source

    calls = []

    def fake_collect(project, entity=None, group=None, api=None, **kw):
        calls.append((project, entity, group))
        return collect.collect_runs([runs_root / group], warn=False)

    monkeypatch.setattr(wandb_source, "collect_wandb_with_skipped", fake_collect)
    assert main(["figures", "--wandb", "team/xlmr", "--group", "fig5_alpha", "--out", str(tmp_path)]) == 0
    assert calls == [("xlmr", "team", "fig5_alpha")]
    assert (tmp_path / "fig5_alpha.png").exists() and "runs: 6 finished" in capsys.readouterr().out

    def offline(*a, **kw):
        raise RuntimeError("no API key configured\nmore")

    monkeypatch.setattr(wandb_source, "collect_wandb_with_skipped", offline)
    assert main(["table", "--wandb", "xlmr", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == "error: could not read xlmr: RuntimeError: no API key configured"
