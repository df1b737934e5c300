"""Command line: run directories (or W&B) → results table (+ the paper's figures).

    python -m analysis figures runs/fig2_langs --out figures/fig2 [--metric mlm_loss]
    python -m analysis table runs/fig2_langs runs/fig5_alpha --out tables/
    python -m analysis figures --wandb my-entity/xlmr-scaling --group fig2_langs --out figures/fig2

Exit codes: 0 done; 2 bad input (a RUNS_DIR that does not exist, no finished run found, unknown metric);
1 W&B could not be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis import collect

MAX_PIVOT_ROWS = 40


class UsageError(Exception):
    """A one-line error for the user; exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("figures", "collect runs, write the results table and every figure the table supports"),
                        ("table", "collect runs and write the results table (results.parquet, results.csv)")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("runs", nargs="*", type=Path, metavar="RUNS_DIR",
                       help="run directories or folders above them (e.g. runs/fig2_langs)")
        p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
        p.add_argument("--metric", default=None,
                       help="metric to summarise and plot (default: transfer_acc, else mlm_bpc, else mlm_loss)")
        p.add_argument("--wandb", default=None, metavar="ENTITY/PROJECT",
                       help="build the table from the W&B API instead of run directories")
        p.add_argument("--group", default=None, help="with --wandb: only this W&B group (= one sweep)")
    return parser


def _load(args: argparse.Namespace) -> tuple[pd.DataFrame, list[collect.Skipped], str]:
    if args.wandb and args.runs:
        raise UsageError("give RUNS_DIR or --wandb ENTITY/PROJECT, not both")
    if args.group and not args.wandb:
        raise UsageError("--group needs --wandb")
    if args.wandb:
        from analysis.wandb_source import collect_wandb_with_skipped

        entity, _, project = args.wandb.rpartition("/")
        df, skipped = collect_wandb_with_skipped(project, entity or None, args.group)
        return df, skipped, f"W&B {args.wandb}" + (f" group {args.group}" if args.group else "")
    if not args.runs:
        raise UsageError("no RUNS_DIR given (or --wandb ENTITY/PROJECT)")
    missing = [str(p) for p in args.runs if not p.is_dir()]
    if missing:
        raise UsageError(f"runs directory not found: {', '.join(missing)}")
    df, skipped = collect.collect_runs(args.runs)
    return df, skipped, ", ".join(map(str, args.runs))


def _summary(df: pd.DataFrame, skipped: list[collect.Skipped], metric: str) -> str:
    from analysis.figures import metric_label

    sweeps = ", ".join(sorted(df["sweep"].unique()))
    lines = [f"runs: {collect.n_runs(df)} finished, {len(skipped)} skipped; sweeps: {sweeps}; {len(df):,} rows",
             f"metric: {metric} ({metric_label(metric)}); group means per run:"]
    pivot = collect.group_pivot(df, metric)
    if pivot.empty:
        lines.append("  (no group rows for this metric)")
    else:
        lines.append(pivot.to_string(float_format=lambda v: f"{v:.4g}", max_rows=MAX_PIVOT_ROWS))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        try:
            df, skipped, source = _load(args)
        except UsageError:
            raise
        except Exception as err:  # W&B: no login, no network, unknown project
            if not args.wandb:
                raise
            first = str(err).splitlines()[0] if str(err) else ""
            print(f"error: could not read {args.wandb}: {type(err).__name__}: {first}", file=sys.stderr)
            return 1
        if df.empty:
            note = f" ({len(skipped)} run(s) skipped)" if skipped else ""
            raise UsageError(f"no finished runs found in {source}{note}")
        from analysis.figures import available_metrics, pick_metric

        metrics = available_metrics(df)
        if args.metric is not None and args.metric not in metrics:
            raise UsageError(f"metric {args.metric!r} not in the table (metrics: {', '.join(metrics)})")
        try:
            metric = args.metric or pick_metric(df)
        except ValueError:
            metric = metrics[0]
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    print(_summary(df, skipped, metric))
    paths = collect.write_table(df, args.out)
    print(f"table: {paths['parquet']}, {paths['csv']}")
    if args.command == "figures":
        from analysis.figures import make_all

        for name, result in make_all(df, args.out, metric).items():
            if isinstance(result, Path):
                print(f"{name}: {result} (+ .pdf)")
            else:
                print(f"{name}: skipped: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
