"""Two configurations compared language by language: what one arm of a control changes, and by how much
against the seed spread.

A control asks whether adding something (a related language, a knob) moves a language's metric. Each side is
one configuration trained with several seeds. Per language:

    Δ = mean(arm) − mean(base),    se(Δ) = sqrt(s_arm² / n_arm + s_base² / n_base)

(s: the seeds' standard deviation, ddof = 1; se: Welch's standard error of a difference of two means). |Δ| / se
is printed beside it: about 2 or more is a difference beyond the seed spread, about 1 or less is not.

With `against` (a language the arm is not expected to help: sw when hi joins for ur), every run's value is
first taken relative to that language in the same run, d = value(lang) − value(against). What the arm does to
every language alike cancels (the dilution: each language's share of the updates, and the seed's own luck),
and Δ is the arm's effect on `lang` beyond it: the difference in differences that the related-language
controls of docs/synthetic-corpus.md read.

Pure functions on the results table (analysis/collect.py); the command line is `python -m analysis compare`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pandas as pd

from analysis.collect import knob_columns, natural_key

COLUMNS = ["lang", "base_mean", "base_std", "base_n", "arm_mean", "arm_std", "arm_n", "delta", "se", "ratio"]


class ContrastError(ValueError):
    """A contrast that cannot be computed as asked; the message is one line for the user."""


def _one_configuration(df: pd.DataFrame, side: str) -> None:
    """Every knob but the seed takes one value on a side: two configurations averaged as seeds would be a
    silently merged result."""
    mixed = []
    for knob in knob_columns(df):
        values = df[knob].drop_duplicates()
        if knob != "seed" and len(values) > 1:
            shown = sorted((v if isinstance(v, str) else json.dumps(v) for v in values), key=natural_key)
            mixed.append(f"{knob} ({', '.join(shown)})")
    if mixed:
        raise ContrastError(f"--{side} mixes configurations: {'; '.join(mixed)}; give one configuration per side "
                            f"(only the seed may differ)")


def _per_run(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per run, one column per language or group (the metric's values)."""
    sel = df[(df["status"] == "done") & (df["metric"] == metric) & df["value"].notna()]
    return sel.pivot_table(index="run_dir", columns="lang", values="value", aggfunc="first")


def contrast(base: pd.DataFrame, arm: pd.DataFrame, metric: str, langs: Sequence[str] | None = None,
             against: str | None = None) -> pd.DataFrame:
    """Per language (and group): the base's and the arm's mean, std and seed count, Δ = arm − base, its
    standard error and |Δ| / se (columns COLUMNS). `langs`: which, in that order (default: every language
    and group both sides have, languages first). `against`: values relative to that language, run by run.
    Raises ContrastError (one line) for a side with no run of `metric`, a side mixing configurations, or a
    language that a side does not have."""
    tables = {}
    for side, df in (("base", base), ("arm", arm)):
        table = _per_run(df, metric)
        if table.empty:
            raise ContrastError(f"--{side} has no finished run with {metric}")
        _one_configuration(df[df["run_dir"].isin(table.index)], side)
        tables[side] = table
    shared = [c for c in tables["base"].columns if c in tables["arm"].columns]
    if against is not None:
        for side, table in tables.items():
            if against not in table.columns or table[against].isna().any():
                raise ContrastError(f"--against {against}: not in every run of --{side} "
                                    f"(languages: {', '.join(sorted(table.columns, key=natural_key))})")
        tables = {side: table.sub(table[against], axis=0) for side, table in tables.items()}
    groups = set(base.loc[base["is_group"].astype(bool), "lang"])
    if langs is None:
        langs = [c for c in shared if c not in groups] + [c for c in shared if c in groups]
    else:
        missing = [lang for lang in langs if lang not in shared]
        if missing:
            raise ContrastError(f"--langs {','.join(missing)}: not in both sides (both have: "
                                f"{', '.join(sorted(shared, key=natural_key))})")
    rows = []
    for lang in langs:
        if lang == against:
            continue
        b, a = tables["base"][lang].dropna(), tables["arm"][lang].dropna()
        delta = a.mean() - b.mean()
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)) if min(len(a), len(b)) > 1 else math.nan
        rows.append({"lang": lang, "base_mean": b.mean(), "base_std": b.std(ddof=1), "base_n": len(b),
                     "arm_mean": a.mean(), "arm_std": a.std(ddof=1), "arm_n": len(a), "delta": delta, "se": se,
                     "ratio": abs(delta) / se if se > 0 else math.nan})
    return pd.DataFrame(rows, columns=COLUMNS)


def format_contrast(table: pd.DataFrame, metric: str, against: str | None = None) -> str:
    """The contrast as the terminal shows it: a header saying what Δ is, then one line per language."""
    what = f"{metric} − {metric} of {against} in the same run" if against else metric
    lines = [f"Δ = arm − base of mean {what}; se: Welch's standard error over seeds; |Δ|/se ≳ 2: beyond the "
             f"seed spread"]
    shown = table.rename(columns={"base_n": "n", "arm_n": "n ", "ratio": "|Δ|/se"})
    lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return "\n".join(lines)
