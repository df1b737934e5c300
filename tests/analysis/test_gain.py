"""Monolingual baselines (knob `monolingual`) → per-language transfer gain, and its figure; transfer
figures' reference lines (chance, bag-of-words)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.collect import collect_runs, monolingual_gain
from analysis.figures import (FigureSkipped, errorbar_values, fig_alpha, fig_gain, fig_langs, fig_langs_capacity,
                              fig_vocab)


def _single_language(fake, sweep, run, k, lang, bpc):
    rec = fake.result(sweep, run, k)
    rec["languages"] = {lang: {"mlm_bpc": bpc, "mlm_loss": bpc * 2.4}}
    rec["groups"] = {"all": dict(rec["languages"][lang])}
    return rec


@pytest.fixture(scope="module")
def gain_root(tmp_path_factory, fake):
    # multilingual runs at 7 and 30 languages × 2 seeds; each has baselines for en, fr, sw, ur whose
    # bits/char are the multilingual value + a known offset: +0.2 (sw, ur: helped) or -0.1 (en, fr: hurt)
    # at 7 languages, and -0.3 for every language at 30 (the curse).
    root = tmp_path_factory.mktemp("gain")
    for n in (7, 30):
        for seed in (0, 1):
            k = {**fake.knobs(num_langs=n, seed=seed), "monolingual": None}
            rec = fake.result("gain", f"langs={n},seed={seed}", k)
            fake.write_run(root, "gain", f"langs={n},seed={seed}", rec)
            for lang in ("en", "fr", "sw", "ur"):
                offset = (0.2 if lang in ("sw", "ur") else -0.1) if n == 7 else -0.3
                bpc = rec["languages"][lang]["mlm_bpc"] + offset
                run = f"langs={n},monolingual={lang},seed={seed}"
                fake.write_run(root, "gain", run, _single_language(fake, "gain", run, {**k, "monolingual": lang},
                                                                   lang, bpc))
    return root


def test_gain_matches_each_run_with_its_own_baselines(gain_root):
    df, skipped = collect_runs(gain_root)
    assert not skipped
    gain = monolingual_gain(df)
    langs = gain[~gain["is_group"]]
    assert len(langs) == 4 * 4 and set(langs["metric"]) == {"mlm_bpc_gain"}
    assert langs["monolingual"].isna().all()  # rows carry the multilingual run's knobs
    at7 = langs[langs["num_langs"] == 7].set_index(["lang", "seed"])["value"]
    assert np.allclose(at7.loc[["sw", "ur"]], 0.2) and np.allclose(at7.loc[["en", "fr"]], -0.1)
    assert np.allclose(langs[langs["num_langs"] == 30]["value"], -0.3)
    groups = gain[gain["is_group"]].set_index(["num_langs", "seed", "lang"])["value"]
    assert groups[(7, 0, "high")] == pytest.approx(-0.1) and groups[(7, 0, "low")] == pytest.approx(0.2)
    assert groups[(7, 1, "all")] == pytest.approx(0.05)


def test_a_baseline_of_another_seed_or_config_is_not_matched(gain_root, fake):
    df, _ = collect_runs(gain_root)
    shifted = df.copy()
    shifted.loc[shifted["monolingual"].notna(), "seed"] += 10
    assert monolingual_gain(shifted).empty
    assert monolingual_gain(df[df["monolingual"].isna()]).empty


def test_gain_figure_draws_groups_against_the_language_count(gain_root):
    df, _ = collect_runs(gain_root)
    lines = {line["label"]: line for line in errorbar_values(fig_gain(df, "mlm_bpc"))}
    high = next(v for k, v in lines.items() if k.startswith("high"))
    low = next(v for k, v in lines.items() if k.startswith("low"))
    assert list(high["x"]) == [7, 30] and np.allclose(high["y"], [-0.1, -0.3]) and np.allclose(low["y"], [0.2, -0.3])
    # baselines are not configurations of Fig. 2: only the multilingual runs are drawn there
    fig2 = errorbar_values(fig_langs(df, "mlm_bpc"))
    assert all("monolingual" not in line["label"] for line in fig2)


def test_gain_figure_is_skipped_without_baselines(runs_root):
    df, _ = collect_runs(runs_root / "fig2_langs", warn=False)
    with pytest.raises(FigureSkipped, match="monolingual"):
        fig_gain(df, "mlm_bpc")


def test_transfer_figures_draw_chance_and_bag_of_words_lines(tmp_path, fake):
    for alpha in (0.1, 1.0):
        for seed in (0, 1):
            k = fake.knobs(alpha=alpha, seed=seed)
            rec = fake.result("t", f"alpha={alpha},seed={seed}", k)
            for lang, m in rec["languages"].items():
                m.update(transfer_acc=0.6 + 0.1 * (lang == "sw"), transfer_bow_acc=0.3, transfer_chance=1 / 6)
            rec["groups"] = {g: {**v, "transfer_acc": 0.6, "transfer_bow_acc": 0.3, "transfer_chance": 1 / 6}
                             for g, v in rec["groups"].items()}
            fake.write_run(tmp_path, "t", f"alpha={alpha},seed={seed}", rec)
    df, _ = collect_runs(tmp_path)
    fig = fig_alpha(df, "transfer_acc")
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(lab.startswith("chance") for lab in labels)
    bow = [line for line in ax.get_lines() if line.get_label().startswith("bag-of-words")]
    assert len(bow) == 2 and all(np.allclose(line.get_ydata(), 0.3) for line in bow)
    chance = next(line for line in ax.get_lines() if line.get_label().startswith("chance"))
    assert np.allclose(chance.get_ydata(), 1 / 6)
    legend = fig.legends[0]
    assert "n = 2 seeds" in legend.get_title().get_text()
    # other metrics get no reference lines
    assert not any(line.get_label().startswith(("chance", "bag")) for line in fig_alpha(df, "mlm_bpc").axes[0].get_lines())


def test_axis_labels_fit_inside_the_figure(gain_root):
    df, _ = collect_runs(gain_root)
    for fig in (fig_langs(df, "mlm_bpc"), fig_gain(df, "mlm_bpc")):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        width, height = fig.bbox.width, fig.bbox.height
        for ax in fig.axes:
            for label in (ax.yaxis.label, ax.xaxis.label, ax.title):
                box = label.get_window_extent(renderer)
                assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, label.get_text()


def test_the_capacity_figure_draws_chance_and_bag_of_words_lines_for_transfer(tmp_path, fake):
    for n in (7, 30):
        for hidden in (128, 256):
            for seed in (0, 1):
                name = f"langs={n},hidden={hidden},seed={seed}"
                rec = fake.result("t", name, fake.knobs(num_langs=n, hidden=hidden, seed=seed))
                rec["groups"] = {g: {**v, "transfer_acc": 0.5 + hidden / 1000, "transfer_bow_acc": 0.3 + n / 1000,
                                     "transfer_chance": 1 / 6} for g, v in rec["groups"].items()}
                fake.write_run(tmp_path, "t", name, rec)
    df, _ = collect_runs(tmp_path)
    for ax in fig_langs_capacity(df, "transfer_acc").axes[:3]:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert np.allclose(lines["bag-of-words"].get_xdata(), [7, 30])
        assert np.allclose(lines["bag-of-words"].get_ydata(), [0.307, 0.33])  # one line, whatever the width
        assert any(label.startswith("chance") for label in lines)
    assert not any(line.get_label() == "bag-of-words" for ax in fig_langs_capacity(df, "mlm_bpc").axes
                   for line in ax.get_lines())


def test_the_vocab_figure_at_one_width_draws_the_groups_and_their_reference_lines_for_transfer(tmp_path, fake):
    """Fig. 6 at one width (the CPU sweep): high, low and all against the vocabulary, with chance and the
    groups' bag-of-words lines; the second panel keeps all languages against total parameters."""
    for vocab in (4000, 16000):
        for seed in (0, 1):
            name = f"vocab_size={vocab},seed={seed}"
            rec = fake.result("t", name, fake.knobs(vocab_size=vocab, seed=seed))
            rec["groups"] = {g: {**v, "transfer_acc": 0.4 + vocab / 1e5, "transfer_bow_acc": 0.3,
                                 "transfer_chance": 1 / 6} for g, v in rec["groups"].items()}
            fake.write_run(tmp_path, "t", name, rec)
    df, _ = collect_runs(tmp_path)
    fig = fig_vocab(df, "transfer_acc")
    labels = [line["label"] for line in errorbar_values(fig)]
    assert labels[:2] == ["high-resource (en, fr)", "low-resource (sw, ur)"]
    assert labels[2].startswith("all languages (mean), H=128, capacity grows with vocab") and len(labels) == 4
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert np.allclose(lines["bag-of-words, high-resource"].get_ydata(), 0.3)
    assert np.allclose(lines["bag-of-words, low-resource"].get_ydata(), 0.3)
    assert any(label.startswith("chance") for label in lines)
    assert not any(line.get_label().startswith(("chance", "bag")) for line in fig.axes[1].get_lines())


def test_the_vocab_figure_draws_a_model_narrowed_as_the_vocabulary_grows_as_one_fixed_capacity_line(tmp_path, fake):
    """Fig. 6 as the paper runs it: one width per vocabulary size, total parameters held (here 4,000 pieces at
    H=256 and 16,000 at H=128: 2.73M and 2.50M in the fixture's count, within 10 %). One line along the
    vocabulary, labelled with its widths and as fixed capacity, with the groups and transfer's reference lines,
    and no second panel against total parameters (they do not vary)."""
    for vocab, hidden in ((4000, 256), (16000, 128)):
        for seed in (0, 1):
            name = f"vocab_size={vocab},model.hidden={hidden},seed={seed}"
            rec = fake.result("t", name, fake.knobs(vocab_size=vocab, hidden=hidden, seed=seed))
            rec["groups"] = {g: {**v, "transfer_acc": 0.4 + vocab / 1e5 + seed / 100, "transfer_bow_acc": 0.3,
                                 "transfer_chance": 1 / 6} for g, v in rec["groups"].items()}
            fake.write_run(tmp_path, "t", name, rec)
    df, _ = collect_runs(tmp_path)
    fig = fig_vocab(df, "transfer_acc")
    lines = errorbar_values(fig)
    labels = [line["label"] for line in lines]
    assert labels[:2] == ["high-resource (en, fr)", "low-resource (sw, ur)"]
    assert labels[2].startswith("all languages (mean), H=256→128, fixed capacity (~") and len(labels) == 3
    assert len(fig.axes) == 1  # one capacity: no panel against total parameters
    assert list(lines[2]["x"]) == [4000, 16000]
    assert np.allclose(lines[2]["y"], [0.445, 0.565]) and np.allclose(lines[2]["yerr"], 0.01 / np.sqrt(2))
    assert any(line.get_label().startswith("chance") for line in fig.axes[0].get_lines())
    legend = fig.legends[0]  # the long label fits: fewer legend columns, not a legend wider than the figure
    assert legend.get_window_extent(fig.canvas.get_renderer()).width <= fig.bbox.width
    # a vocabulary size at two widths is a grid: one line per width again, and the fixed-capacity points joined by
    # a dashed line of their own (H=128's one point is drawn on it, not as a line of its own)
    rec = fake.result("t", "extra", fake.knobs(vocab_size=16000, hidden=256, seed=0))
    rec["groups"] = {g: {**v, "transfer_acc": 0.5} for g, v in rec["groups"].items()}
    fake.write_run(tmp_path, "t", "vocab_size=16000,model.hidden=256,seed=0", rec)
    df, _ = collect_runs(tmp_path)
    lines = errorbar_values(fig_vocab(df, "transfer_acc"))
    labels = [line["label"] for line in lines]
    assert not any(label.startswith(("high", "low")) for label in labels)
    assert sum(label.startswith("H=256, capacity grows") for label in labels) == 2  # both panels
    chain = [line for line in lines if line["label"].startswith("H=256→128, fixed capacity (~")]
    assert len(chain) == 2 and list(chain[0]["x"]) == [4000, 16000]
    assert np.allclose(chain[0]["y"], [0.445, 0.565])
    assert not any(label.startswith("H=128") for label in labels)


def test_the_vocab_figure_labels_a_width_with_one_point_by_its_parameters(tmp_path, fake):
    """A width run at one vocabulary size only, with no point of the same capacity at another width, is neither
    fixed nor growing capacity: its label gives its parameter count."""
    for vocab, hidden in ((4000, 128), (16000, 128), (16000, 256)):
        name = f"vocab_size={vocab},model.hidden={hidden},seed=0"
        fake.write_run(tmp_path, "t", name, fake.result("t", name, fake.knobs(vocab_size=vocab, hidden=hidden)))
    df, _ = collect_runs(tmp_path)
    labels = [line["label"] for line in errorbar_values(fig_vocab(df, "mlm_bpc"))]
    assert sum(label.startswith("H=128, capacity grows") for label in labels) == 2
    assert sum(label.startswith("H=256, ") and label.endswith("M params") for label in labels) == 2
    assert not any("fixed capacity" in label for label in labels)
