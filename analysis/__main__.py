"""Command line: run directories (or W&B) → results table (+ the paper's figures); W&B dashboards.

    python -m analysis figures runs/fig2_langs --out figures/fig2 [--metric mlm_loss]
    python -m analysis table runs/fig2_langs runs/fig5_alpha --out tables/
    python -m analysis figures --wandb my-entity/xlmr-scaling --group fig2_langs --out figures/fig2
    python -m analysis dashboard --sweep fig2_langs [--entity E] [--project P] [--dry-run]
    python -m analysis status runs/fig2_langs
    python -m analysis compare --base 'runs/ctl/langs=7,seed=*' --arm 'runs/ctl/langs=15,seed=*' --against sw

`status` shows each run of a sweep (done, running, queued, interrupted, stopped, failed, lost) with its last
step, from the run directories and squeue (analysis/status.py); it needs nothing but the core install.

`compare` prints, language by language, what one configuration (--arm) changes against another (--base):
Δ of the seed means and its Welch 95 % interval; with --against L, each run's values relative to language L
in the same run (analysis/contrast.py).

`dashboard` builds the sweep's W&B workspace (analysis/dashboard.py; needs the [dashboards] extra) and saves it
when logged in to W&B, printing its URL; otherwise (or with --dry-run) it prints what it would build.

Exit codes: 0 done; 2 bad input (a RUNS_DIR that does not exist, no finished run found, unknown metric, a sweep
with no figure or sweep file, no [dashboards] extra); 1 W&B could not be read or written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas (the [analysis] extra) is imported by the commands that build tables
    import pandas as pd

    from analysis import collect

MAX_PIVOT_ROWS = 40
# The project the training side logs to: xlmr/config.py LoggerConfig.project, which conf/logger/wandb.yaml
# keeps (analysis never imports xlmr; tests/analysis/test_dashboard.py checks that the two agree).
WANDB_PROJECT = "xlmr-scaling"
MISSING_EXTRA = "dashboards need the [dashboards] extra: pip install -e '.[dashboards]'"
NOT_LOGGED_IN = "not logged in to W&B: nothing saved; `wandb login` (or set WANDB_API_KEY), then re-run"
DRY_RUN = "dry run: nothing saved"
DRY_RUN_ENTITY = "<your default entity>"  # only printed: a dry run asks W&B for nothing


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
    p = sub.add_parser("status", help="each run of a sweep: done, running, queued, failed…, with its last step")
    p.add_argument("runs", type=Path, metavar="RUNS_DIR", help="a sweep's folder, e.g. runs/fig2_langs")
    p = sub.add_parser("compare", help="what one configuration changes against another, language by language")
    p.add_argument("--base", nargs="+", type=Path, required=True, metavar="RUNS_DIR",
                   help="the base configuration's runs (one per seed), e.g. 'runs/ctl/langs=7,seed=*'")
    p.add_argument("--arm", nargs="+", type=Path, required=True, metavar="RUNS_DIR",
                   help="the compared configuration's runs")
    p.add_argument("--metric", default=None,
                   help="metric to compare (default: transfer_acc, else mlm_bpc, else mlm_loss)")
    p.add_argument("--langs", default=None, metavar="L1,L2",
                   help="languages or groups to show, in this order (default: all both sides have)")
    p.add_argument("--against", default=None, metavar="LANG",
                   help="take each run's values relative to this language in the same run (difference in differences)")
    p = sub.add_parser("dashboard", help="build the sweep's W&B workspace (one per paper figure) and save it")
    p.add_argument("--sweep", required=True, metavar="NAME", help="sweep name = W&B group, e.g. fig2_langs")
    p.add_argument("--entity", default=None, help="W&B entity (default: your default entity)")
    p.add_argument("--project", default=WANDB_PROJECT, help=f"W&B project (default: {WANDB_PROJECT})")
    p.add_argument("--dry-run", action="store_true", help="print what would be built; save nothing")
    return parser


def _load(args: argparse.Namespace) -> tuple[pd.DataFrame, list[collect.Skipped], str]:
    from analysis import collect

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
    df, skipped = _collect_dirs(args.runs)
    return df, skipped, ", ".join(map(str, args.runs))


def _collect_dirs(paths: list[Path]) -> tuple[pd.DataFrame, list[collect.Skipped]]:
    """The results table of run directories (or quoted patterns); UsageError for one that does not exist."""
    from analysis import collect

    runs = _expand(paths)
    missing = [str(p) for p in runs if not p.is_dir()]
    if missing:
        raise UsageError(f"runs directory not found: {', '.join(missing)}")
    return collect.collect_runs(runs)


def _expand(paths: list[Path]) -> list[Path]:
    """A quoted pattern ('runs/fig2_langs_cpu/langs=7,seed=*', as the sweep headers write them) names the
    directories it matches, as the shell would expand it unquoted, less the files beside them (Hydra's
    multirun.yaml in a sweep folder); a path that exists is taken as it is, and a pattern that matches no
    directory stays, to be reported as not found."""
    import glob

    expanded: list[Path] = []
    for path in paths:
        # brackets are literal: run names hold lists (langs=[en,fr,sw]); * and ? are the wildcards
        is_pattern = any(c in str(path) for c in "*?")
        literal = str(path).replace("[", "[[]")
        matches = sorted(glob.glob(literal)) if is_pattern and not path.exists() else []
        matches = [m for m in matches if Path(m).is_dir()]
        expanded += [Path(m) for m in matches] or [path]
    return expanded


def _summary(df: pd.DataFrame, skipped: list[collect.Skipped], metric: str) -> str:
    from analysis import collect
    from analysis.figures import metric_label

    sweeps = ", ".join(sorted(df["sweep"].unique()))
    lines = [f"runs: {collect.n_runs(df)} finished, {len(skipped)} skipped; sweeps: {sweeps}; {len(df):,} rows",
             f"metric: {metric} ({metric_label(metric)}); group means per run:"]
    shown, shared = collect.all_over_shared_languages(df)  # the figures' `all`, so that rows compare
    note = collect.shared_languages_note(shared, metric)
    if note:
        lines.append(note)
    pivot = collect.group_pivot(shown, metric)
    if pivot.empty:
        lines.append("  (no group rows for this metric)")
    else:
        lines.append(pivot.to_string(float_format=lambda v: f"{v:.4g}", max_rows=MAX_PIVOT_ROWS))
    return "\n".join(lines)


def _one_line(err: BaseException) -> str:
    first = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {first}"


def _save_failed(err: BaseException) -> int:
    print(f"error: could not save the dashboard to W&B: {_one_line(err)}", file=sys.stderr)
    return 1


def _dashboard(args: argparse.Namespace) -> int:
    """Build the sweep's workspace; save it and print its URL when logged in, else print what it would be."""
    try:
        from analysis import dashboard
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] != "wandb_workspaces":
            raise
        print(f"error: {MISSING_EXTRA}", file=sys.stderr)
        return 2
    try:
        figure = dashboard.figure_for(args.sweep)
    except dashboard.UnknownSweep as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        saving = not args.dry_run and dashboard.logged_in()
        entity = args.entity or (dashboard.default_entity() if saving else DRY_RUN_ENTITY)
    except Exception as err:  # W&B: malformed credentials, no network
        return _save_failed(err)
    workspace = dashboard.build_workspace(args.sweep, entity, args.project, figure)
    print(dashboard.describe(workspace))
    if not saving:
        print(DRY_RUN if args.dry_run else NOT_LOGGED_IN)
        return 0
    try:
        url = dashboard.save(workspace)
    except Exception as err:  # W&B: rejected credentials, no network, no such entity or project
        return _save_failed(err)
    print(f"saved: {url}")
    return 0


def _status(root: Path) -> int:
    from analysis.status import format_status, sweep_status

    if not root.is_dir():
        print(f"error: runs directory not found: {root}", file=sys.stderr)
        return 2
    print(format_status(root, sweep_status(root)))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from analysis import collect
    from analysis.contrast import ContrastError, contrast, format_contrast
    from analysis.figures import available_metrics, pick_metric

    sides = {}
    for side in ("base", "arm"):
        try:
            df, _ = _collect_dirs(getattr(args, side))
        except UsageError as err:
            print(f"error: --{side}: {err}", file=sys.stderr)
            return 2
        if df.empty:
            print(f"error: --{side}: no finished runs found in {', '.join(map(str, getattr(args, side)))}",
                  file=sys.stderr)
            return 2
        sides[side] = df
    metrics = [m for m in available_metrics(sides["base"]) if m in set(available_metrics(sides["arm"]))]
    if not metrics:
        print(f"error: the two sides share no metric (base: {', '.join(available_metrics(sides['base']))}; "
              f"arm: {', '.join(available_metrics(sides['arm']))})", file=sys.stderr)
        return 2
    if args.metric is not None and args.metric not in metrics:
        print(f"error: --metric {args.metric!r} not in both sides (metrics: {', '.join(metrics)})", file=sys.stderr)
        return 2
    try:
        metric = args.metric or pick_metric(sides["base"][sides["base"]["metric"].isin(metrics)])
    except ValueError:  # none of the preferred metrics: the first both sides have
        metric = metrics[0]
    langs = [lang.strip() for lang in args.langs.split(",") if lang.strip()] if args.langs else None
    try:
        table = contrast(sides["base"], sides["arm"], metric, langs, args.against)
    except ContrastError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"base: {collect.n_runs(sides['base'])} runs; arm: {collect.n_runs(sides['arm'])} runs")
    print(format_contrast(table, metric, args.against))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "compare":
        return _compare(args)
    if args.command == "dashboard":
        return _dashboard(args)
    if args.command == "status":
        return _status(args.runs)
    try:
        try:
            df, skipped, source = _load(args)
        except UsageError:
            raise
        except Exception as err:  # W&B: no login, no network, unknown project
            if not args.wandb:
                raise
            print(f"error: could not read {args.wandb}: {_one_line(err)}", file=sys.stderr)
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
    from analysis import collect

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
    try:
        sys.exit(main())
    except BrokenPipeError:  # `python -m analysis … | head`: the reader has what it wanted; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit would fail again
        sys.exit(1)
