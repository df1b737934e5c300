"""⑪ The paper's figures, as pure functions of the results table (collect.py's columns).

Each `fig_*` takes the table and a metric name and returns a matplotlib Figure (Agg canvas; pyplot's
global state is never touched), or raises FigureSkipped with a one-line reason when the table cannot
answer the figure's question (its knob does not vary, the group rows are missing, …).

    Fig. 2 fig_langs           metric vs number of languages at fixed capacity: high, low, all
    Fig. 4 fig_langs_capacity  the same while capacity (hidden size) grows with the language count
    Fig. 5 fig_alpha           metric vs sampling exponent α: high vs low resource
    Fig. 6 fig_vocab           metric vs vocabulary size (and vs total parameters), one line per width
    Fig. 7 fig_batch           metric vs batch size (tokens per update)

Every point is the mean over seeds of one configuration; error bars are ± 1 sample standard deviation
(ddof = 1) over those seeds (`seed_stats`), and each legend says so. A configuration is "all knobs equal
except `seed`"; knobs that vary inside one point of a figure (e.g. two sweeps mixed in one table) split
the figure's lines instead of being averaged away.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from analysis.collect import (GROUPS, all_over_shared_languages, atomic_write, is_monolingual, knob_columns,
                              monolingual_gain, shared_languages_note)

METRIC_PREFERENCE = ("transfer_acc", "mlm_bpc", "mlm_loss")
METRIC_LABELS = {
    "mlm_loss": "held-out MLM loss (nats/token)",
    "mlm_bpc": "held-out MLM loss (bits/char)",
    "mlm_ppl": "held-out MLM perplexity (exp of nats/token)",
    "mlm_acc": "masked-token accuracy (fraction correct)",
    "transfer_acc": "zero-shot transfer accuracy (fraction correct)",
    "mlm_bpc_gain": "gain over monolingual (bits/char; > 0 = helped)",
    "retrieval_acc_en2x": "retrieval accuracy en→x (fraction correct)",
    "retrieval_acc_x2en": "retrieval accuracy x→en (fraction correct)",
}
LOWER_IS_BETTER = ("loss", "bpc", "ppl")
ERROR_BARS = "error bars: ± 1 std over seeds"
GROUP_STYLE = {
    "high": {"color": "tab:blue", "marker": "o", "label": "high-resource (en, fr)"},
    "low": {"color": "tab:red", "marker": "s", "label": "low-resource (sw, ur)"},
    "all": {"color": "black", "marker": "^", "label": "all languages (mean)"},
}
LINESTYLES = ("-", "--", ":", "-.")
SAVE_FORMATS = ("png", "pdf")


class FigureSkipped(Exception):
    """The table cannot answer this figure's question; str(err) says why (one line)."""


# ---------------------------------------------------------------------------------------------- metric


def lower_is_better(metric: str) -> bool | None:
    if metric.endswith("_gain"):  # a loss difference signed so that positive = better
        return False
    if any(word in metric for word in LOWER_IS_BETTER):
        return True
    if "acc" in metric:
        return False
    return None


def metric_label(metric: str) -> str:
    """Axis label with units and the direction of better, e.g. 'held-out MLM loss (bits/char), lower is better'."""
    label = METRIC_LABELS.get(metric, metric)
    better = lower_is_better(metric)
    # two lines: the quantity, then its direction (one line is clipped at the figure's height)
    return label if better is None else f"{label}\n{'lower' if better else 'higher'} is better"


def available_metrics(df: pd.DataFrame) -> list[str]:
    """Metrics with at least one value in the table, in table order."""
    if df.empty:
        return []
    return list(dict.fromkeys(df.loc[df["value"].notna(), "metric"]))


def pick_metric(df: pd.DataFrame) -> str:
    """The figures' default metric: transfer_acc when the runs have it, else mlm_bpc, else mlm_loss."""
    present = set(available_metrics(df))
    for metric in METRIC_PREFERENCE:
        if metric in present:
            return metric
    raise ValueError(f"none of {', '.join(METRIC_PREFERENCE)} in the table (metrics: {sorted(present) or 'none'})")


# ---------------------------------------------------------------------------------------------- seed statistics


def _done(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "done"] if "status" in df.columns else df


def condition_columns(df: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """Knobs (and `sweep`) other than seed and `keys` that take several values inside one `keys` cell:
    they distinguish configurations and must split lines, not be averaged as if they were seeds."""
    candidates = [c for c in ["sweep", *knob_columns(df)] if c not in keys and c != "seed"]
    if df.empty or not candidates:
        return []
    counts = df.groupby(list(keys), dropna=False)[candidates].nunique(dropna=False)
    return [c for c in candidates if (counts[c] > 1).any()]


def seed_stats(df: pd.DataFrame, metric: str, x: str, by: Sequence[str] = ()) -> pd.DataFrame:
    """One row per configuration (by…, x, conditions): mean, std (ddof=1; NaN for one seed), n seeds,
    mean params_total, and `condition` (a label of the extra varying knobs, "" when none)."""
    sel = _done(df)
    sel = sel[(sel["metric"] == metric) & sel["value"].notna()]
    keys = [*by, x]
    conds = condition_columns(sel, keys)
    cols = keys + conds
    if sel.empty:
        return pd.DataFrame(columns=[*cols, "mean", "std", "n", "params_total", "condition"])
    stats = (sel.groupby(cols, dropna=False)
             .agg(mean=("value", "mean"), std=("value", "std"), n=("value", "count"),
                  params_total=("params_total", "mean"))
             .reset_index())
    stats["condition"] = [", ".join(f"{c}={r[c]}" for c in conds) for _, r in stats.iterrows()] if conds else ""
    return stats.sort_values(cols, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- drawing helpers


def _new_figure(panels: int = 1) -> tuple[Figure, list[Any]]:
    fig = Figure(figsize=(5.6 * panels + 0.6, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False, sharey=True)[0]
    return fig, list(axes)


def _human(n: float) -> str:
    """Tick text: 7 → '7', 32000 → '32k', 150000 → '150k', 1048576 → '1Mi', 0.3 → '0.3'."""
    if float(n) != int(n):
        return f"{n:g}"
    n = int(n)
    if abs(n) < 10_000:
        return str(n)
    for div, suffix in ((10**9, "G"), (10**6, "M"), (1000, "k")):
        if n % div == 0:
            return f"{n // div}{suffix}"
    for div, suffix in ((2**30, "Gi"), (2**20, "Mi"), (2**10, "Ki")):
        if n % div == 0:
            return f"{n // div}{suffix}"
    return f"{n:,}"


def _si(n: float) -> str:
    """A parameter count in 3 significant digits: 1234567 → '1.23M'."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.3g}"


def _set_ticks(ax: Any, values: Sequence[float], labels: Sequence[str] | None = None) -> None:
    values = sorted(set(float(v) for v in values))
    ax.set_xticks(values, labels if labels is not None else [_human(v) for v in values])
    ax.xaxis.set_minor_locator(NullLocator())


def _seeds_note(stats: pd.DataFrame) -> str:
    n = stats["n"].astype(int) if len(stats) else pd.Series([0])
    lo, hi = int(n.min()), int(n.max())
    if hi <= 1:
        return "one seed per point: no error bars"
    return f"{ERROR_BARS} (n = {lo if lo == hi else f'{lo}–{hi}'} seeds per point)"


def _draw(ax: Any, stats: pd.DataFrame, x: str, label: str, style: dict[str, Any], linestyle: str = "-",
          xs: pd.Series | None = None) -> Any:
    """One line: means with ± std error bars (std of one seed drawn as 0)."""
    g = stats.sort_values(x)
    xv = (xs.loc[g.index] if xs is not None else g[x]).astype(float).to_numpy()
    yerr = g["std"].astype(float).fillna(0.0).to_numpy()
    return ax.errorbar(xv, g["mean"].astype(float).to_numpy(), yerr=yerr, label=label, capsize=3, linestyle=linestyle,
                       **{k: v for k, v in style.items() if k != "label"})


def _finish(fig: Figure, axes: list[Any], title: str, xlabel: str, metric: str, notes: Sequence[str]) -> Figure:
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(metric_label(metric))
    handles: dict[str, Any] = {}
    for ax in axes:  # one legend for all panels, below them (never over the data)
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    for ncols in range(min(3, max(1, len(handles))), 0, -1):  # as many columns as fit the figure's width
        legend = fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=ncols,
                            title="\n".join(n for n in notes if n), fontsize="small", title_fontsize="small")
        if ncols == 1 or legend.get_window_extent(fig.canvas.get_renderer()).width <= fig.bbox.width:
            break
        legend.remove()
    rows = -(-len(handles) // ncols) + sum(1 for n in notes if n)
    fig.set_figheight(fig.get_figheight() + 0.2 * max(0, rows - 5))  # a tall legend does not squeeze the axes
    fig.suptitle(title, fontsize="medium")
    return fig


def _require_varying(df: pd.DataFrame, knob: str, what: str) -> list[Any]:
    if knob not in df.columns:
        raise FigureSkipped(f"no `{knob}` column in the table: no {what} to compare")
    values = sorted(df[knob].dropna().unique())
    if len(values) < 2:
        shown = ", ".join(map(str, values)) or "none"
        raise FigureSkipped(f"`{knob}` does not vary in the table (values: {shown})")
    return values


def _group_rows(df: pd.DataFrame, metric: str, groups: Sequence[str]) -> pd.DataFrame:
    sel = _done(df)
    sel = sel[~is_monolingual(sel)]  # baselines are read through fig_gain, not as configurations
    sel = sel[sel["is_group"].astype(bool) & sel["lang"].isin(groups) & (sel["metric"] == metric)
              & sel["value"].notna()]
    if sel.empty:
        have = ", ".join(available_metrics(df)) or "none"
        raise FigureSkipped(f"no {'/'.join(groups)} group rows for metric {metric!r} (metrics: {have})")
    return sel


def _constant(df: pd.DataFrame, knob: str) -> Any | None:
    if knob in df.columns:
        values = df[knob].dropna().unique()
        if len(values) == 1:
            return values[0]
    return None


def _group_lines(ax: Any, stats: pd.DataFrame, x: str, groups: Sequence[str],
                 baseline: pd.DataFrame | None = None) -> None:
    """One line per (group, condition): groups by colour, conditions by line style. `baseline`: the same
    layout for a reference metric (transfer's bag-of-words line), drawn thin and dotted in the group's colour."""
    conditions = list(dict.fromkeys(stats["condition"]))
    for group in groups:
        for i, cond in enumerate(conditions):
            g = stats[(stats["lang"] == group) & (stats["condition"] == cond)]
            if g.empty:
                continue
            style = GROUP_STYLE.get(group, {"color": "gray", "marker": "x", "label": group})
            label = style["label"] + (f" [{cond}]" if cond else "")
            _draw(ax, g, x, label, style, LINESTYLES[i % len(LINESTYLES)])
            if baseline is not None:
                b = baseline[(baseline["lang"] == group) & (baseline["condition"] == cond)]
                if not b.empty:
                    b = b.sort_values(x)
                    ax.plot(b[x].astype(float), b["mean"].astype(float), color=style["color"], linestyle=":",
                            linewidth=1.2, marker="", label=f"bag-of-words, {style['label'].split(' (')[0]}"
                            + (f" [{cond}]" if cond else ""))


def _transfer_references(ax: Any, df: pd.DataFrame, plotted: pd.DataFrame, metric: str, x: str,
                         groups: Sequence[str]) -> pd.DataFrame | None:
    """For transfer accuracy: the chance level (a grey line) and, per group, the bag-of-words baseline's
    seed means over the runs of `plotted` (returned for _group_lines). None for other metrics or tables
    without them."""
    if metric != "transfer_acc":
        return None
    df = _done(df)
    df = df[df["run_dir"].isin(plotted["run_dir"])]
    chance = df[(df["metric"] == "transfer_chance") & df["value"].notna()]["value"]
    if len(chance):
        ax.axhline(float(chance.mean()), color="gray", linestyle="--", linewidth=1,
                   label=f"chance ({float(chance.mean()):.3g})")
    bow = df[df["is_group"].astype(bool) & df["lang"].isin(groups) & (df["metric"] == "transfer_bow_acc")]
    return seed_stats(bow, "transfer_bow_acc", x, by=["lang"]) if len(bow) else None


# ---------------------------------------------------------------------------------------------- the figures


def fig_langs(df: pd.DataFrame, metric: str) -> Figure:
    """Fig. 2: metric vs number of languages at fixed capacity; high-resource, low-resource, all.
    Several widths in the table give one panel each (capacity fixed within a panel). `all` is the mean over
    the languages every run has (the seven of a 7 → 30 sweep), so that its points average the same languages."""
    df, shared = all_over_shared_languages(df)
    sel = _group_rows(df, metric, GROUPS)
    langs = _require_varying(sel, "num_langs", "language counts")
    widths = sorted(sel["model.hidden"].dropna().unique()) if "model.hidden" in sel.columns else []
    panels = ([(h, sel[sel["model.hidden"] == h]) for h in widths] if len(widths) > 1
              else [(_constant(sel, "model.hidden"), sel)])
    fig, axes = _new_figure(len(panels))
    all_stats = []
    for ax, (hidden, part) in zip(axes, panels):
        stats = seed_stats(part, metric, "num_langs", by=["lang"])
        all_stats.append(stats)
        refs = _transfer_references(ax, df, part, metric, "num_langs", GROUPS)
        _group_lines(ax, stats, "num_langs", GROUPS, refs)
        ax.set_xscale("log")
        _set_ticks(ax, langs)
        model = _constant(part, "model")
        ax.set_title(f"fixed capacity: {model or ''} H={hidden}" if hidden is not None else "fixed capacity",
                     fontsize="small")
    return _finish(fig, axes, "Fig. 2: at fixed capacity, how does adding languages change quality\n"
                   "for high- vs low-resource languages? (the curse of multilinguality)",
                   "number of pretraining languages (log scale)", metric,
                   [_seeds_note(pd.concat(all_stats)), _budget_note(sel), _tokenizer_note(sel),
                    shared_languages_note(shared, metric)])


def _tokenizer_note(sel: pd.DataFrame) -> str:
    """When every language count shares one tokenizer (tokenizer.langs), which; else "" (each count its own)."""
    tokenizer = _constant(sel, "tokenizer.langs")
    if tokenizer is None:
        return ""
    named = f"the {tokenizer}-language set" if str(tokenizer).isdigit() else str(tokenizer).replace("+", ", ")
    return f"one tokenizer for every count: trained on {named}"


def _budget_note(sel: pd.DataFrame) -> str:
    """When the update budget changes with the language count (one budget per count, e.g. grown so that each
    language sees as many of its own tokens: sweeps/fig2_matched_cpu.yaml), the budgets; else ""."""
    if "train.max_steps" not in sel.columns:
        return ""
    per_count = _one_value_each(sel, "num_langs", "train.max_steps")
    if per_count is None or per_count.nunique() <= 1:
        return ""
    return "updates grow with the languages: " + ", ".join(f"{int(n)} → {int(v):,}" for n, v in per_count.items())


def _one_value_each(df: pd.DataFrame, key: str, knob: str) -> pd.Series | None:
    """knob's value for each value of key (a Series indexed by key, sorted), or None when some key value comes with
    several: e.g. one width per vocabulary size, one budget per language count."""
    values = df.groupby(key)[knob].unique()
    return None if any(len(v) > 1 for v in values) else values.map(lambda v: v[0]).sort_index()


def _diagonal(stats: pd.DataFrame) -> pd.DataFrame | None:
    """The configurations where capacity grows with the language count: the i-th smallest language count
    with the i-th smallest width (a full grid's diagonal), or the only width of each language count."""
    langs = sorted(stats["num_langs"].unique())
    widths = sorted(stats["model.hidden"].unique())
    if _one_value_each(stats, "num_langs", "model.hidden") is not None:
        return stats
    if len(langs) == len(widths):
        pairs = set(zip(langs, widths))
        diag = stats[[(n, h) in pairs for n, h in zip(stats["num_langs"], stats["model.hidden"])]]
        if len(diag.drop_duplicates(["num_langs", "model.hidden"])) == len(pairs):
            return diag
    return None


def fig_langs_capacity(df: pd.DataFrame, metric: str) -> Figure:
    """Fig. 4: metric vs number of languages while capacity (hidden size) grows with it.
    One panel per group (high, low, all); a point per (num_langs, hidden) pair present, labelled by H;
    dashed lines hold the width fixed, the solid line grows it with the language count. `all`: the mean over
    the languages every run has, as in fig_langs."""
    df, shared = all_over_shared_languages(df)
    sel = _group_rows(df, metric, GROUPS)
    langs = _require_varying(sel, "num_langs", "language counts")
    widths = _require_varying(sel, "model.hidden", "capacities (hidden sizes)")
    groups = [g for g in GROUPS if g in set(sel["lang"])]
    fig, axes = _new_figure(len(groups))
    cmap = {h: f"C{i % 10}" for i, h in enumerate(widths)}
    all_stats = []
    grown_any = False
    for ax, group in zip(axes, groups):
        stats = seed_stats(sel[sel["lang"] == group], metric, "num_langs", by=["model.hidden"])
        all_stats.append(stats)
        bow = _transfer_references(ax, df, sel[sel["lang"] == group], metric, "num_langs", [group])
        if bow is not None:  # the bag-of-words baseline reads the run's tokens only: one line for all widths
            bow = bow.groupby("num_langs", as_index=False)["mean"].mean()
            ax.plot(bow["num_langs"].astype(float), bow["mean"].astype(float), color="gray", linestyle=":",
                    linewidth=1.2, label="bag-of-words")
        for i, cond in enumerate(dict.fromkeys(stats["condition"])):
            part = stats[stats["condition"] == cond]
            suffix = f" [{cond}]" if cond else ""
            for h in widths:
                line = part[part["model.hidden"] == h]
                if len(line):
                    _draw(ax, line, "num_langs", f"fixed H={h}{suffix}",
                          {"color": cmap[h], "marker": "o", "alpha": 0.75}, "--")
            diag = _diagonal(part)
            if diag is not None and len(diag) > 1:
                grown_any = True
                _draw(ax, diag, "num_langs", f"capacity grown with languages{suffix}",
                      {"color": "black", "marker": "D", "linewidth": 2.2}, LINESTYLES[i % len(LINESTYLES)])
            for _, r in part.iterrows():
                ax.annotate(f"H={r['model.hidden']}", (float(r["num_langs"]), float(r["mean"])),
                            textcoords="offset points",
                            xytext=(4, 4), fontsize="x-small")
        ax.set_xscale("log")
        _set_ticks(ax, langs)
        ax.set_title(GROUP_STYLE[group]["label"], fontsize="small")
    notes = [_seeds_note(pd.concat(all_stats)),
             "" if grown_any else "no (languages, width) diagonal: fixed-width lines only",
             shared_languages_note(shared, metric)]
    return _finish(fig, axes, "Fig. 4: does growing capacity (hidden size H) with the number of languages\n"
                   "recover the quality lost to capacity dilution?",
                   "number of pretraining languages (log scale)", metric, notes)


def fig_alpha(df: pd.DataFrame, metric: str) -> Figure:
    """Fig. 5: metric vs language-sampling exponent α (q_i ∝ p_i^α), high- vs low-resource languages."""
    sel = _group_rows(df, metric, ("high", "low"))
    alphas = _require_varying(sel, "alpha", "sampling exponents")
    fig, axes = _new_figure(1)
    ax = axes[0]
    stats = seed_stats(sel, metric, "alpha", by=["lang"])
    refs = _transfer_references(ax, df, sel, metric, "alpha", ("high", "low"))
    _group_lines(ax, stats, "alpha", ("high", "low"), refs)
    _set_ticks(ax, alphas)
    if min(alphas) <= 0.3 <= max(alphas):
        ax.axvline(0.3, color="gray", linestyle=":", linewidth=1, label="XLM-R's choice, α = 0.3")
    return _finish(fig, axes, "Fig. 5: how does the sampling exponent α trade quality between\n"
                   "high- and low-resource languages?",
                   "language sampling exponent α (q_i ∝ p_i^α; 1 = proportional, 0 = uniform)", metric,
                   [_seeds_note(stats)])


def _widths_along_vocab(sel: pd.DataFrame) -> str | None:
    """The width label of a table that is one line along the vocabulary: one width ("128"), or one width per
    vocabulary size, as when the model narrows while the vocabulary grows ("128→92→56", in vocabulary
    order: the paper's Fig. 6 at fixed capacity); "" when the table has no width. None when some vocabulary
    size comes at several widths."""
    if "model.hidden" not in sel.columns or sel["model.hidden"].isna().all():
        return ""
    per_vocab = _one_value_each(sel, "vocab_size", "model.hidden")
    return None if per_vocab is None else _width_path(per_vocab)


def _width_path(hiddens: Iterable[Any]) -> str:
    """Widths in line order, repeats dropped: 128, 92, 56 → "128→92→56"."""
    return "→".join(dict.fromkeys(f"{int(h)}" for h in hiddens))


def _fixed_capacity(params: pd.Series) -> str:
    return f"fixed capacity (~{_si(params.mean())} params)"


def _fixed_capacity_chains(stats: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """In a vocabulary × width grid, the points the paper's fixed-capacity design would run: from a point not yet on
    a chain (smallest vocabulary first), the point at each larger vocabulary, at another width, whose total
    parameters lie within 10% of the first's (the closest if several). (condition, points in vocabulary order)
    for each chain of two or more points."""
    chains = []
    for cond, part in stats.groupby("condition", sort=True):
        part = part.sort_values(["vocab_size", "model.hidden"])
        taken: set[Any] = set()
        for idx, start in part.iterrows():
            if idx in taken:
                continue
            rows = [idx]
            for vocab in sorted(v for v in part["vocab_size"].unique() if v > start["vocab_size"]):
                there = part[(part["vocab_size"] == vocab) & (part["model.hidden"] != start["model.hidden"])]
                gap = (there["params_total"].astype(float) / float(start["params_total"]) - 1).abs()
                if len(gap) and gap.min() <= 0.1:
                    rows.append(gap.idxmin())
            if len(rows) > 1:
                taken.update(rows)
                chains.append((cond, part.loc[rows]))
    return chains


def fig_vocab(df: pd.DataFrame, metric: str) -> Figure:
    """Fig. 6: metric (all languages) vs vocabulary size (log x), one line per width; a second panel puts the same
    points against total parameters (left out when they all lie within 10%: one capacity). A line whose total
    parameters stay within 10% is labelled fixed capacity, otherwise capacity grows with the vocabulary (the
    embedding is V × H). A table with one width, or with one width per vocabulary size (the model narrowed as
    the vocabulary grows), is one line, and then the first panel shows the high- and low-resource groups too,
    and for transfer the chance and bag-of-words lines (whether a vocabulary helps every group alike is half
    the question). In a grid of widths, points at about the same total parameters across widths (the paper's
    fixed-capacity design beside the growing one) are also joined by a dashed line (_fixed_capacity_chains)."""
    sel = _group_rows(df, metric, ("all",))
    vocabs = _require_varying(sel, "vocab_size", "vocabulary sizes")
    widths = _widths_along_vocab(sel)
    by = [] if widths is not None else ["model.hidden"]
    stats = seed_stats(sel, metric, "vocab_size", by=by)
    params = stats["params_total"].astype(float)
    vs_params = bool(params.notna().any() and params.max() > 1.1 * params.min())  # else one capacity: no 2nd panel
    fig, axes = _new_figure(2 if vs_params else 1)
    one_width = widths is not None
    if one_width:
        with contextlib.suppress(FigureSkipped):  # a table without the paper's groups draws `all` alone
            part = _group_rows(df, metric, ("high", "low"))
            groups = tuple(g for g in ("high", "low") if g in set(part["lang"]))
            refs = _transfer_references(axes[0], df, part, metric, "vocab_size", groups)
            _group_lines(axes[0], seed_stats(part, metric, "vocab_size", by=["lang"]), "vocab_size", groups, refs)
    chains = [] if one_width else _fixed_capacity_chains(stats)
    on_chains = {(h, v, c) for c, chain in chains for h, v in zip(chain["model.hidden"], chain["vocab_size"])}
    keys = [*by, "condition"]
    for i, (key, line) in enumerate(stats.groupby(keys, sort=True, dropna=False)):
        key = key if isinstance(key, tuple) else (key,)
        hidden, cond = (key[0], key[-1]) if by else (widths, key[-1])
        if len(line) == 1 and (hidden, line["vocab_size"].iloc[0], cond) in on_chains:
            continue  # a width with one point that a fixed-capacity line below draws
        p = line["params_total"].astype(float)
        if p.notna().any() and line["vocab_size"].nunique() == 1:  # one point: neither fixed nor growing
            kind = f"{_si(p.mean())} params"
        elif p.notna().any() and p.max() <= 1.1 * p.min():
            kind = _fixed_capacity(p)
        elif p.notna().any():
            kind = f"capacity grows with vocab ({_si(p.min())}→{_si(p.max())} params)"
        else:
            kind = ""
        label = ", ".join(s for s in (f"H={hidden}" if hidden else "", kind, cond) if s)
        style = {"color": f"C{i % 10}", "marker": "o"}
        if one_width:  # beside the groups' lines: in the `all` group's style
            style = {"color": GROUP_STYLE["all"]["color"], "marker": GROUP_STYLE["all"]["marker"]}
            label = f"{GROUP_STYLE['all']['label']}, {label}"
        _draw(axes[0], line, "vocab_size", label, style)
        if vs_params:
            _draw(axes[1], line, "vocab_size", label, style, xs=line["params_total"])
    for cond, chain in chains:
        label = ", ".join(s for s in ("H=" + _width_path(chain["model.hidden"]),
                                      _fixed_capacity(chain["params_total"].astype(float)), cond) if s)
        style = {"color": GROUP_STYLE["all"]["color"], "marker": "s"}
        _draw(axes[0], chain, "vocab_size", label, style, linestyle="--")
        if vs_params:
            _draw(axes[1], chain, "vocab_size", label, style, linestyle="--", xs=chain["params_total"])
    axes[0].set_xscale("log")
    _set_ticks(axes[0], vocabs)
    _finish(fig, axes, "Fig. 6: does a larger shared vocabulary help, at fixed and at growing capacity?",
            "", metric, [_seeds_note(stats)])
    axes[0].set_xlabel("vocabulary size (SentencePiece pieces, log scale)")
    if vs_params:
        axes[1].set_xscale("log")
        axes[1].set_xlabel("total parameters (log scale)")
        axes[0].set_title("vs vocabulary size", fontsize="small")
        axes[1].set_title("vs total parameters", fontsize="small")
    return fig


def fig_batch(df: pd.DataFrame, metric: str) -> Figure:
    """Fig. 7: metric vs batch size in tokens per update (log₂ x); high, low, all."""
    sel = _group_rows(df, metric, GROUPS)
    batches = _require_varying(sel, "train.batch_tokens", "batch sizes")
    fig, axes = _new_figure(1)
    ax = axes[0]
    stats = seed_stats(sel, metric, "train.batch_tokens", by=["lang"])
    _group_lines(ax, stats, "train.batch_tokens", GROUPS)
    ax.set_xscale("log", base=2)
    seq_len = _constant(sel, "seq_len")
    labels = [_human(b) + (f"\n({int(b) // int(seq_len)} seq)" if seq_len and int(b) % int(seq_len) == 0 else "")
              for b in batches]
    _set_ticks(ax, batches, labels)
    steps = _constant(sel, "train.max_steps")
    budget = f"at a fixed {int(steps):,} updates" if steps is not None else "(the update budget varies too)"
    return _finish(fig, axes, f"Fig. 7: do larger batches help, {budget}?",
                   "batch size (tokens per update, log scale)"
                   + (f"; sequences of {int(seq_len)} tokens" if seq_len else ""), metric, [_seeds_note(stats)])


def fig_gain(df: pd.DataFrame, metric: str) -> Figure:
    """The curse measured directly (Chang et al. 2023): per-group gain of each multilingual run over its
    matched monolingual baselines (monolingual − multilingual bits/char; > 0 = the other languages
    helped) against the language count. Needs runs with `monolingual=<lang>` beside their multilingual
    runs; always drawn on bits/char, whatever `metric` (a gain needs a lower-is-better loss)."""
    gain = monolingual_gain(_done(df), "mlm_bpc")
    if gain.empty:
        raise FigureSkipped("no monolingual baselines matched to multilingual runs (run with monolingual=<lang>)")
    sel = gain[gain["is_group"].astype(bool) & gain["lang"].isin(("high", "low"))]
    if sel.empty:
        raise FigureSkipped("no group has a baseline for each of its languages (high: en, fr; low: sw, ur)")
    counts = sorted(sel["num_langs"].dropna().unique()) if "num_langs" in sel.columns else []
    fig, axes = _new_figure(1)
    ax = axes[0]
    stats = seed_stats(sel, "mlm_bpc_gain", "num_langs", by=["lang"])
    ax.axhline(0.0, color="gray", linestyle="--", linewidth=1, label="no gain: as good as monolingual")
    _group_lines(ax, stats, "num_langs", ("high", "low"))
    if len(counts) > 1:
        ax.set_xscale("log")
    _set_ticks(ax, counts)
    return _finish(fig, axes, "Transfer gain over matched monolingual baselines (Chang et al. 2023):\n"
                   "does multilingual pretraining help or hurt each group as languages are added?",
                   "number of pretraining languages", "mlm_bpc_gain", [_seeds_note(stats)])


FIGURES: dict[str, Callable[[pd.DataFrame, str], Figure]] = {
    "fig2_langs": fig_langs,
    "fig4_capacity": fig_langs_capacity,
    "fig5_alpha": fig_alpha,
    "fig6_vocab": fig_vocab,
    "fig7_batch": fig_batch,
    "gain_monolingual": fig_gain,
}


# ---------------------------------------------------------------------------------------------- saving


def save_figure(fig: Figure, out_dir: str | Path, name: str, dpi: int = 150) -> dict[str, Path]:
    """Write `<name>.png` and `<name>.pdf` into out_dir, each through a temp file + rename."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt in SAVE_FORMATS:
        paths[fmt] = atomic_write(out_dir / f"{name}.{fmt}", lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi))
    return paths


def make_all(df: pd.DataFrame, out_dir: str | Path, metric: str | None = None) -> dict[str, Path | str]:
    """Draw every figure the table supports into out_dir: name → PNG path (a PDF beside it), or the
    reason (str) it was skipped."""
    if metric is None:
        try:
            metric = pick_metric(df)
        except ValueError as err:
            return {name: str(err) for name in FIGURES}
    out: dict[str, Path | str] = {}
    for name, draw in FIGURES.items():
        try:
            fig = draw(df, metric)
        except FigureSkipped as err:
            out[name] = str(err)
            continue
        out[name] = save_figure(fig, out_dir, name)["png"]
    return out


def errorbar_values(fig: Figure) -> list[dict[str, np.ndarray]]:
    """What the figure drew, per errorbar line: label, x, y (means) and yerr. For tests and notebooks."""
    lines = []
    for ax in fig.axes:
        for container in ax.containers:
            if not hasattr(container, "has_yerr"):
                continue
            data_line, _, bar_cols = container.lines
            x, y = (np.asarray(v, dtype=float) for v in data_line.get_data())
            yerr = np.zeros_like(y)
            if container.has_yerr and bar_cols:
                segs = bar_cols[0].get_segments()
                yerr = np.array([(s[1][1] - s[0][1]) / 2 for s in segs], dtype=float)
            lines.append({"label": container.get_label(), "x": x, "y": y, "yerr": yerr, "axes_title": ax.get_title()})
    return lines
