"""Two configurations compared language by language: what one arm of a control changes, and whether the
change is larger than the seeds' spread.

A control asks whether adding something (a related language, a knob) moves a language's metric. Each side is
one configuration trained with several seeds. Per language:

    Δ = mean(arm) − mean(base),    se(Δ) = sqrt(s_arm² / n_arm + s_base² / n_base)

(s: the seeds' standard deviation, ddof = 1), Welch's degrees of freedom
ν = se⁴ / ((s_arm²/n_arm)² / (n_arm − 1) + (s_base²/n_base)² / (n_base − 1)), and the 95 % interval
Δ ± t(0.975, ν)·se. An interval that excludes 0 is a difference beyond the seed spread; with 3 seeds a side
ν is 2–4 and t is 2.8–4.3, so it takes |Δ| of about 3–4 se.

With `against` (a language the arm is not expected to help: sw when hi joins for ur), every run's value is
first taken relative to that language in the same run, d = value(lang) − value(against). What the arm does to
every language alike cancels (the dilution: each language's share of the updates, and the seed's own luck),
and Δ is the arm's effect on `lang` beyond it: the difference in differences that the related-language
controls of docs/synthetic-corpus.md read. (Bits/char of runs with different tokenizers compare different
tokenizations, and a tokenizer's change can differ by language: hold it with tokenizer.langs.)

Pure functions on the results table (analysis/collect.py); the command line is `python -m analysis compare`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pandas as pd

from analysis.collect import all_over_shared_languages, knob_columns, natural_key, shared_languages_note

COLUMNS = ["lang", "base_mean", "base_std", "base_n", "arm_mean", "arm_std", "arm_n", "delta", "se", "df", "ci_low",
           "ci_high"]
# t(0.975, ν) for ν = 1 … 30 (two-sided 95 %); ν is rounded down (a wider interval) and held at 30's beyond
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


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
    standard error, Welch's degrees of freedom and 95 % interval (columns COLUMNS). `langs`: which, in that
    order (default: every language and group both sides have, languages first). `against`: values relative
    to that language, run by run.
    Raises ContrastError (one line) for a side with no run of `metric`, a side mixing configurations, a
    language that a side does not have, or nothing left to compare. Where the sides' runs differ in their
    languages (7 against 15), `all` is the mean over the languages every run has (the table's attrs["note"]
    says which): each run's recorded `all` averages its own languages."""
    both, recomputed = all_over_shared_languages(pd.concat([base, arm], ignore_index=True))
    base, arm = both[both["run_dir"].isin(set(base["run_dir"]))], both[both["run_dir"].isin(set(arm["run_dir"]))]
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
        rows.append({"lang": lang, "base_mean": b.mean(), "base_std": b.std(ddof=1), "base_n": len(b),
                     "arm_mean": a.mean(), "arm_std": a.std(ddof=1), "arm_n": len(a),
                     **welch(a.mean() - b.mean(), a.var(ddof=1), len(a), b.var(ddof=1), len(b))})
    if not rows:
        raise ContrastError(f"nothing to compare: --langs names only --against {against}")
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs["note"] = shared_languages_note(recomputed, metric)
    return table


def t975(df: float) -> float:
    """t(0.975, df) from T975, df rounded down (never a narrower interval than the exact one)."""
    return T975[min(max(int(df), 1), len(T975)) - 1]


def welch(delta: float, var_a: float, n_a: int, var_b: float, n_b: int) -> dict[str, float]:
    """Δ's standard error, Welch–Satterthwaite degrees of freedom and 95 % interval (NaN with one seed a side;
    no spread at all: the interval is Δ itself)."""
    if min(n_a, n_b) < 2:
        return {"delta": delta, "se": math.nan, "df": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    wa, wb = var_a / n_a, var_b / n_b
    se = math.sqrt(wa + wb)
    if se == 0:
        return {"delta": delta, "se": 0.0, "df": math.nan, "ci_low": delta, "ci_high": delta}
    df = (wa + wb) ** 2 / (wa ** 2 / (n_a - 1) + wb ** 2 / (n_b - 1))
    half = t975(df) * se
    return {"delta": delta, "se": se, "df": df, "ci_low": delta - half, "ci_high": delta + half}


def format_contrast(table: pd.DataFrame, metric: str, against: str | None = None) -> str:
    """The contrast as the terminal shows it: a header saying what Δ is, then one line per language, marked
    `*` where the 95 % interval excludes 0."""
    what = f"{metric} − {metric} of {against} in the same run" if against else metric
    lines = [f"Δ = arm − base of mean {what}; 95 % interval Δ ± t(0.975, df)·se (Welch, over seeds); "
             f"* = the interval excludes 0"]
    shown = table.rename(columns={"base_n": "n", "arm_n": "n "})
    shown[""] = ["*" if lo > 0 or hi < 0 else "" for lo, hi in zip(table["ci_low"], table["ci_high"])]
    if table.attrs.get("note"):
        lines.append(table.attrs["note"])
    lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return "\n".join(lines)
