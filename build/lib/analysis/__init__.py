"""⑩ ⑪ of the pipeline: run directories (or W&B) → a tidy pandas table → the paper's figures.

`analysis/` depends only on the run-record format (docs/run-record.md); it never imports `xlmr`.

    from analysis import collect, figures
    df, skipped = collect.collect_runs(["runs/fig2_langs"])
    fig = figures.fig_langs(df, figures.pick_metric(df))

Command line: `python -m analysis figures runs/fig2_langs --out figures/fig2` (docs/analysis.md).
"""

from __future__ import annotations

__all__ = ["collect", "figures", "wandb_source"]
