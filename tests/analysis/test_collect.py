"""⑩ collect.py (run dirs → table) and wandb_source.py (W&B API → the same table), on fake run records."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis import collect, wandb_source

KNOBS = ["model", "model.layers", "model.hidden", "model.ffn", "model.heads", "langs", "num_langs", "alpha",
         "vocab_size", "corpus", "seed", "train", "train.max_steps", "train.batch_tokens", "train.seq_len", "train.lr",
         "model.init_std", "model.norm", "train.schedule", "train.decay_fraction", "tokenizer.langs"]  # the fake
# records predate these last five: filled in with the values they ran with


@pytest.fixture(scope="module")
def table(runs_root):
    return collect.collect_runs([runs_root], warn=False)


def test_rows_columns_and_skips(table, fake, runs_root):
    df, skipped = table
    n_done = sum(fake.DONE.values())
    assert collect.n_runs(df) == n_done
    assert len(df) == n_done * fake.ROWS_PER_RUN
    assert list(df.columns) == (collect.ID_COLUMNS + KNOBS + collect.EXTRA_COLUMNS)
    assert set(df["status"]) == {"done"}
    assert df.groupby("sweep")["run_dir"].nunique().to_dict() == fake.DONE
    # one row per (run, language, metric)
    assert not df.duplicated(["run_dir", "lang", "metric"]).any()
    # skipped: every broken dir once, with its reason; Hydra's .hydra/ and the sweep folder are not runs
    reasons = {Path(s.run_dir).name: s.reason for s in skipped}
    assert set(reasons) == set(fake.BROKEN)
    for run, words in fake.BROKEN.items():
        assert words in reasons[run], (run, reasons[run])
    assert "CUDA out of memory" in reasons["langs=60,seed=0"]


def test_values_match_result_json(table, runs_root):
    df, _ = table
    run_dir = runs_root / "fig4_capacity" / "langs=30,model=mini,seed=1"
    record = json.loads((run_dir / "result.json").read_text())
    rows = df[df["run_dir"] == str(run_dir.resolve())]
    assert rows["run"].iloc[0] == "langs=30,model=mini,seed=1" and rows["sweep"].iloc[0] == "fig4_capacity"
    for knob, value in record["knobs"].items():
        assert (rows[knob] == value).all(), knob
    assert (rows["params_total"] == record["params"]["total"]).all()
    assert (rows["params_non_embedding"] == record["params"]["non_embedding"]).all()
    assert (rows["tokens_seen"] == record["tokens_seen"]).all()
    langs = rows[~rows["is_group"]]
    assert set(langs["lang"]) == set(record["languages"])
    for r in langs.itertuples():
        assert r.value == record["languages"][r.lang][r.metric]


def test_group_rows(table, fake):
    df, _ = table
    groups = df[df["is_group"]]
    assert set(groups["lang"]) == {"high", "low", "all"}
    assert len(groups) == sum(fake.DONE.values()) * 3 * len(fake.METRICS)
    # high = mean(en, fr), recomputed from the language rows
    for run_dir, rows in list(df.groupby("run_dir"))[:5]:
        by = rows.set_index(["lang", "metric"])["value"]
        assert by[("high", "mlm_loss")] == pytest.approx((by[("en", "mlm_loss")] + by[("fr", "mlm_loss")]) / 2)
        assert by[("low", "mlm_bpc")] == pytest.approx((by[("sw", "mlm_bpc")] + by[("ur", "mlm_bpc")]) / 2)


def test_skips_warn_one_line_each(runs_root, capsys):
    df, skipped = collect.collect_runs([runs_root / "fig2_langs"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == len(skipped) == 5
    assert all(line.startswith("warning: skipped ") for line in err)
    assert collect.n_runs(df) == 9


def test_corner_cases(tmp_path, fake):
    with pytest.raises(FileNotFoundError, match="not found"):
        collect.collect_runs([tmp_path / "nope"])
    df, skipped = collect.collect_runs([tmp_path], warn=False)  # an empty folder: an empty table
    assert df.empty and skipped == [] and list(df.columns[:8]) == collect.ID_COLUMNS
    # the root itself is a run dir; a second root that contains it does not count it twice
    run = fake.write_run(tmp_path, "s", "r", fake.result("s", "r", fake.knobs()))
    df, _ = collect.collect_runs([run, tmp_path], warn=False)
    assert collect.n_runs(df) == 1
    # a non-numeric metric, a non-object record, a missing params key: skipped, no crash
    bad = fake.result("s", "bad", fake.knobs())
    bad["languages"]["en"]["mlm_loss"] = "n/a"
    fake.write_run(tmp_path, "s", "bad", bad)
    fake.write_run(tmp_path, "s", "list", None, raw="[1, 2]")
    noparams = fake.result("s", "noparams", fake.knobs())
    del noparams["params"]["non_embedding"]
    fake.write_run(tmp_path, "s", "noparams", noparams)
    nulls = fake.result("s", "nulls", fake.knobs(seed=5))
    nulls["languages"]["en"]["mlm_acc"] = None  # not measured: NaN, still a row
    fake.write_run(tmp_path, "s", "nulls", nulls)
    df, skipped = collect.collect_runs([tmp_path], warn=False)
    reasons = {Path(s.run_dir).name: s.reason for s in skipped}
    assert "non-numeric" in reasons["bad"] and "not a JSON object" in reasons["list"]
    assert "params.non_embedding" in reasons["noparams"]
    assert collect.n_runs(df) == 2 and df["value"].isna().sum() == 1


def test_knobs_added_later_get_the_value_older_runs_used(tmp_path, fake):
    fake.write_run(tmp_path, "s", "old", fake.result("s", "old", fake.knobs()))  # recorded before model.init_std
    fake.write_run(tmp_path, "s", "new", fake.result("s", "new", {**fake.knobs(seed=1), "model.init_std": 0.05}))
    odd = fake.result("s", "odd", fake.knobs(seed=2))
    odd["knobs"] = {k: v for k, v in odd["knobs"].items() if not k.startswith("model.")}  # no model section at all
    fake.write_run(tmp_path, "s", "odd", odd)
    df, skipped = collect.collect_runs([tmp_path], warn=False)
    assert skipped == []
    by_run = df.groupby("run")["model.init_std"].first()
    assert by_run["old"] == 0.02 and by_run["new"] == 0.05 and math.isnan(by_run["odd"])
    norm = df.groupby("run")["model.norm"].first()
    assert norm["old"] == "post" and norm["new"] == "post" and norm.isna()["odd"]
    # synthetic-corpus knobs are filled only where the record has the corpus' other knobs
    assert "corpus.subgroups" not in df.columns


def test_a_runs_tokenizer_languages_are_its_own_where_not_recorded(tmp_path, fake):
    """tokenizer.langs: older records (no key) and null ones trained the tokenizer on their own languages, so a
    7-language run with the 15-language tokenizer and a 15-language run are one tokenizer condition."""
    fake.write_run(tmp_path, "s", "old15", fake.result("s", "old15", fake.knobs(num_langs=15)))
    fake.write_run(tmp_path, "s", "null7", fake.result("s", "null7", {**fake.knobs(num_langs=7), "tokenizer.langs": None}))
    fake.write_run(tmp_path, "s", "tok15", fake.result("s", "tok15", {**fake.knobs(num_langs=7), "tokenizer.langs": "15"}))
    df, skipped = collect.collect_runs([tmp_path], warn=False)
    assert skipped == []
    tok = df.groupby("run")["tokenizer.langs"].first()
    assert (tok["old15"], tok["null7"], tok["tok15"]) == ("15", "7", "15")


def _with_extra_language(fake, record, lang="hi", value=9.0):
    """A record with one more language than the fixture's four (far off, so a mean over it shows), its groups
    recomputed as a run records them: `all` over every language it has."""
    record["languages"][lang] = {m: value for m in fake.METRICS}
    record["groups"] = fake.groups(record["languages"])
    return record


def test_all_is_recomputed_over_the_languages_every_run_has(tmp_path, fake):
    """A 7-language run's `all` and a 15-language run's average different languages; over runs that differ in
    their languages, `all` becomes the mean over the shared ones, and the table is untouched where they agree."""
    fake.write_run(tmp_path, "s", "seven", fake.result("s", "seven", fake.knobs(num_langs=7)))
    fake.write_run(tmp_path, "s", "more", _with_extra_language(fake, fake.result("s", "more", fake.knobs(num_langs=15))))
    df, _ = collect.collect_runs([tmp_path], warn=False)
    out, shared = collect.all_over_shared_languages(df)
    assert shared == {m: ["en", "fr", "sw", "ur"] for m in fake.METRICS}

    def all_of(table, run, metric="mlm_bpc"):
        return float(table[(table["run"] == run) & (table["lang"] == "all") & (table["metric"] == metric)]["value"].iloc[0])

    def mean_of_four(table, run, metric="mlm_bpc"):
        rows = table[(table["run"] == run) & ~table["is_group"] & (table["metric"] == metric)
                     & table["lang"].isin(["en", "fr", "sw", "ur"])]
        return float(rows["value"].mean())

    assert all_of(df, "more", "mlm_bpc") > mean_of_four(df, "more") + 1  # as recorded: over five, hi included
    for run in ("seven", "more"):
        assert all_of(out, run) == pytest.approx(mean_of_four(df, run))
    assert all_of(out, "seven") == pytest.approx(all_of(df, "seven"))  # its own languages are the shared ones
    untouched = out[~((out["lang"] == "all") & out["is_group"])]
    pd.testing.assert_frame_equal(untouched, df[~((df["lang"] == "all") & df["is_group"])])
    assert "all = mean over the 4 languages every run has (en, fr, sw, ur)" == collect.shared_languages_note(shared, "mlm_bpc")
    same, none = collect.all_over_shared_languages(df[df["run"] == "more"])
    assert none == {} and collect.shared_languages_note(none, "mlm_bpc") == ""
    assert all_of(same, "more") == all_of(df, "more")


def test_runs_of_one_configuration_on_different_data_are_named_not_merged_silently(tmp_path, fake, capsys):
    # data_key is the shards artifact's cache key (corpus, generator version, tokenizer). Seeds of one
    # configuration share it; when the generator changed between them the table says so, in one line.
    def run(name: str, seed: int, key: str | None, **over: Any) -> None:
        record = fake.result("s", name, fake.knobs(seed=seed, **over))
        if key is not None:
            record["artifacts"] = {"tokenizer": {"key": "t" + key}, "shards": {"key": key}}
        fake.write_run(tmp_path, "s", name, record)

    run("old0", 0, "aaaa1111"), run("old1", 1, "aaaa1111"), run("new2", 2, "bbbb2222")
    run("other", 0, "cccc3333", alpha=0.7)  # another configuration: its own data, no warning
    run("unrecorded", 3, None)  # a record without artifacts: no key, never flagged
    df, _ = collect.collect_runs([tmp_path])
    keys = df.drop_duplicates("run").set_index("run")["data_key"]
    assert pd.isna(keys["unrecorded"]) and keys.drop("unrecorded").to_dict() == {
        "old0": "aaaa1111", "old1": "aaaa1111", "new2": "bbbb2222", "other": "cccc3333"}
    lines = collect.mixed_data_lines(df)
    assert len(lines) == 1 and "data aaaa1111: 2 run(s)" in lines[0] and "data bbbb2222: 1 run(s)" in lines[0]
    assert "new2" in lines[0] and "force=true" in lines[0]
    assert capsys.readouterr().err.count("different data") == 1
    assert collect.mixed_data_lines(df[df["run"] != "new2"]) == []


def test_write_table_roundtrip(table, tmp_path):
    df, _ = table
    paths = collect.write_table(df, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["results.csv", "results.parquet"]  # no temp left
    back = collect.read_table(paths["parquet"])
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    csv = collect.read_table(paths["csv"])
    assert csv.shape == df.shape and list(csv.columns) == list(df.columns)
    assert np.allclose(csv["value"], df["value"])


def test_group_pivot_sorted_naturally(table):
    df, _ = table
    pivot = collect.group_pivot(df[df["sweep"] == "fig2_langs"], "mlm_loss")
    assert list(pivot.columns) == ["high", "low", "all"]
    assert [r for _, r in pivot.index][:3] == ["langs=7,seed=0", "langs=7,seed=1", "langs=7,seed=2"]
    assert len(pivot) == 9


def test_load_metrics_csv(runs_root):
    curves = collect.load_metrics_csv(runs_root / "fig2_langs" / "langs=7,seed=0")
    assert list(curves.columns) == ["step", "name", "value", "split", "lang", "is_group", "metric"]
    assert len(curves) == 6  # the truncated last line dropped, the duplicate (200, train/loss) merged
    assert curves.set_index(["step", "name"]).loc[(200, "train/loss"), "value"] == 4.0
    val = curves[curves["name"] == "val/group/high/mlm_loss"].iloc[0]
    assert (val["split"], val["lang"], val["metric"], bool(val["is_group"])) == ("val", "high", "mlm_loss", True)
    train = curves[curves["name"] == "train/loss"].iloc[0]
    assert train["split"] == "train" and pd.isna(train["lang"]) and train["metric"] == "loss"
    sampling = collect.load_sampling_tsv(runs_root / "fig2_langs" / "langs=7,seed=0")
    assert list(sampling["lang"]) == ["en", "sw"]
    with pytest.raises(FileNotFoundError):
        collect.load_metrics_csv(runs_root / "fig2_langs" / "langs=100,seed=1")


# ---------------------------------------------------------------------------------------------- W&B


class FakeApi:
    """Stands in for wandb.Api(): .runs(path, filters) over duck-typed runs."""

    def __init__(self, runs):
        self._runs, self.calls = runs, []

    def runs(self, path, filters=None):
        self.calls.append((path, filters))
        group = (filters or {}).get("group")
        return iter([r for r in self._runs if group is None or r.group == group])


class FakeSummary:
    """Like wandb's HTTPSummary: items() and [], not a dict."""

    def __init__(self, d):
        self._d = d

    def items(self):
        return self._d.items()


def wandb_run(record, run_id, state="finished"):
    """The W&B mirror of one result.json, with the keys the training side logs (docs/analysis.md)."""
    summary = {f"final/{lang}/{m}": v for lang, ms in record["languages"].items() for m, v in ms.items()}
    summary.update({f"final/group/{g}/{m}": v for g, ms in record["groups"].items() for m, v in ms.items()})
    summary.update({"final/tokens_seen": record["tokens_seen"], "train/loss": 3.2, "_step": 99,
                    "val/en/mlm_loss": 9.9})
    return SimpleNamespace(id=run_id, name=f"{record['sweep']}/{record['run']}", group=record["sweep"], state=state,
                           config={"knobs": record["knobs"], "params": record["params"]}, summary=FakeSummary(summary))


def test_wandb_matches_run_dirs(table, fake):
    df, _ = table
    done = [fake.result(sweep, run, k) for sweep, run, k in fake.all_runs()]
    runs = [wandb_run(r, f"id{i:03d}") for i, r in enumerate(done)]
    runs.append(wandb_run(done[0], "crashed1", state="crashed"))
    api = FakeApi(runs)
    wdf, skipped = wandb_source.collect_wandb_with_skipped("xlmr-scaling", "me", api=api, warn=False)
    assert api.calls == [("me/xlmr-scaling", {})]
    assert [s.reason for s in skipped] == ["status 'crashed' (unfinished)"]
    assert list(wdf.columns) == list(df.columns)
    assert wdf["run_dir"].str.startswith("wandb:me/xlmr-scaling/id").all()
    key = ["sweep", "run", "lang", "metric"]
    a = df.drop(columns="run_dir").sort_values(key).reset_index(drop=True)
    b = wdf.drop(columns="run_dir").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_wandb_group_filter_and_variants(fake):
    rec = fake.result("fig5_alpha", "alpha=0.3,seed=0", fake.knobs())
    other = fake.result("fig2_langs", "langs=7,seed=0", fake.knobs(num_langs=7))
    run = wandb_run(rec, "a1")
    # a flattened config ("knobs.x" keys, W&B's {"value": ...} wrappers), no final/tokens_seen: derived from steps
    run.config = {**{f"knobs.{k}": {"value": v} for k, v in rec["knobs"].items()}, "params": rec["params"]}
    summary = dict(run.summary.items())
    del summary["final/tokens_seen"]
    summary["trainer/global_step"] = 400
    run.summary = summary
    nolangs = wandb_run(fake.result("fig5_alpha", "alpha=1.0,seed=0", fake.knobs(alpha=1.0)), "a2")
    nolangs.summary = {}
    api = FakeApi([run, nolangs, wandb_run(other, "b1")])
    df, skipped = wandb_source.collect_wandb_with_skipped("p", None, "fig5_alpha", api=api, warn=False)
    assert api.calls == [("p", {"group": "fig5_alpha"})]
    assert set(df["sweep"]) == {"fig5_alpha"} and set(df["run"]) == {"alpha=0.3,seed=0"}
    assert (df["tokens_seen"] == 400 * rec["knobs"]["train.batch_tokens"]).all()
    assert (df["alpha"] == 0.3).all() and len(df) == fake.ROWS_PER_RUN
    assert len(skipped) == 1 and "languages" in skipped[0].reason
    assert wandb_source.collect_wandb("p", group="fig2_langs", api=api)["sweep"].unique().tolist() == ["fig2_langs"]


def test_parse_summary():
    langs, groups = wandb_source.parse_summary({"final/en/mlm_loss": 1.0, "final/group/high/mlm_loss": 2.0,
                                               "final/tokens_seen": 5, "val/en/mlm_loss": 3.0, "x": 1})
    assert langs == {"en": {"mlm_loss": 1.0}} and groups == {"high": {"mlm_loss": 2.0}}
    assert math.isnan(collect._number(None, "x"))
