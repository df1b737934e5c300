"""`python -m analysis dashboard`: the W&B workspaces are built offline and checked against what training logs.

Nothing here talks to W&B: the workspaces are built, never saved (`dashboard.save` is replaced wherever the
command could reach it), and the credentials lookup runs against an empty HOME.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("wandb_workspaces", reason="needs the [dashboards] extra")

import analysis  # noqa: E402  (the project's package: tests/analysis/conftest.py)
import wandb_workspaces.reports.v2 as wr  # noqa: E402
from analysis import dashboard, wandb_source  # noqa: E402
from analysis.__main__ import MISSING_EXTRA, NOT_LOGGED_IN, WANDB_PROJECT, main  # noqa: E402
from wandb_workspaces import expr  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))
FIGURE_KNOB = {2: "num_langs", 4: "num_langs", 5: "alpha", 6: "vocab_size", 7: "train.batch_tokens"}


def _panels(workspace) -> list[Any]:
    return [panel for section in workspace.sections for panel in section.panels]


def _keys(workspace) -> set[str]:
    return {key for panel in _panels(workspace) for key in dashboard.panel_keys(panel)}


def _workspace(sweep: str = "fig2_langs_cpu"):
    return dashboard.build_workspace(sweep, "team", "xlmr-scaling")


# ---------------------------------------------------------------------------------------------- which figure


@pytest.mark.parametrize("sweep", [s for s in SWEEPS if s.startswith("fig")])
def test_a_figure_sweep_gets_its_figure_and_knob(sweep):
    number = int(re.match(r"fig(\d+)_", sweep)[1])
    figure = dashboard.figure_for(sweep)
    assert figure.title.startswith(f"Fig. {number} ")
    assert figure.knobs[0] == FIGURE_KNOB[number]
    assert _workspace(sweep).name == f"{figure.title}: {sweep}"


def test_the_name_alone_picks_the_figure_and_other_sweeps_are_grouped_by_their_swept_knobs(tmp_path):
    assert dashboard.figure_for("fig5_alpha_h100", sweeps_dir=tmp_path) is dashboard.FIGURES[5]  # W&B-only sweep
    assert dashboard.figure_for("gain_monolingual_cpu").knobs == ("monolingual", "langs")
    assert dashboard.figure_for("controls_transfer_cpu").knobs == ("corpus.p_code_switch", "corpus.anchors")
    (tmp_path / "seeds_only.yaml").write_text("hydra:\n  sweeper:\n    params:\n      seed: 0,1\n")
    for sweep in ("fig3_other", "my_sweep", "seeds_only"):  # no such figure, no sweep file / nothing swept
        with pytest.raises(dashboard.UnknownSweep, match=sweep):
            dashboard.figure_for(sweep, sweeps_dir=tmp_path)


# ---------------------------------------------------------------------------------------------- runs and grouping


def test_the_runset_is_the_sweeps_w_and_b_group():
    runs = _workspace("fig5_alpha_cpu")._to_model().spec.section.run_sets[0]
    assert [(f["key"], f["op"], f["value"]) for f in runs.filters["filters"]] == [
        ({"section": "run", "name": "group"}, "=", "fig5_alpha_cpu")]


@pytest.mark.parametrize("sweep", ["fig2_langs", "fig4_capacity", "fig7_batch_cpu", "gain_monolingual_cpu"])
def test_runs_are_grouped_by_the_figures_knobs_as_config_keys(sweep):
    figure = dashboard.figure_for(sweep)
    workspace = _workspace(sweep)
    groupby = workspace.runset_settings.groupby
    assert all(type(g) is expr.Config for g in groupby)  # == on expr metrics builds a filter: compare fields
    assert [g.name for g in groupby] == [f"knobs.{k}" for k in figure.knobs]
    # wandb-workspaces' backend key: the top-level config key wraps its dict in {"value": …}
    assert [(k.section, k.name) for k in workspace._to_model().spec.section.run_sets[0].grouping] == [
        ("config", f"knobs.value.{k}") for k in figure.knobs]
    scatters = [p for p in _panels(workspace) if isinstance(p, wr.ScatterPlot)]
    assert scatters and all(p.x == wr.Config(f"knobs.{figure.knobs[0]}") for p in scatters)


@pytest.mark.parametrize("sweep", SWEEPS)
def test_the_grouping_knobs_are_knobs_runs_log_where_wandb_source_reads_them(sweep):
    from _shared import compose_cfg
    from xlmr.config import science_knobs

    knobs = science_knobs(compose_cfg(f"sweep={sweep}"))
    run = SimpleNamespace(config={"knobs": knobs, "implementation": {}, "params": {}},  # as xlmr/run.py logs it
                          summary={}, group=sweep, state="finished", name=f"{sweep}/seed=0", id="abc")
    read_back = wandb_source.run_record(run)["knobs"]
    for group in dashboard.build_workspace(sweep, "team", "p").runset_settings.groupby:
        top, _, knob = group.name.partition(".")
        assert top == dashboard.KNOBS_CONFIG_KEY and knob in run.config[top] and knob in read_back


def test_run_py_logs_the_knobs_under_the_config_key():
    source = (ROOT / "xlmr" / "run.py").read_text()
    assert f'{{"{dashboard.KNOBS_CONFIG_KEY}": knobs' in source, "W&B config layout changed: update KNOBS_CONFIG_KEY"


# ---------------------------------------------------------------------------------------------- panel keys


def test_curves_are_the_keys_training_defines_against_its_step():
    from xlmr.loggers import define_wandb_metrics

    defined: dict[str, str] = {}
    define_wandb_metrics(SimpleNamespace(define_metric=lambda name, step_metric, summary: defined.update(
        {name: step_metric})), list(dashboard.LANGS))
    lines = [p for p in _panels(_workspace()) if isinstance(p, wr.LinePlot)]
    val = {m for p in lines for m in p.y if m.startswith("val/")}
    assert val == {f"val/{name}/mlm_bpc" for name in (*dashboard.LANGS, "group/high", "group/low", "group/all")}
    assert val <= set(defined)
    assert {p.x for p in lines} == {defined["val/en/mlm_bpc"]} == {wandb_source.STEP_KEY}
    assert _workspace().settings.x_axis == wandb_source.STEP_KEY


def test_training_curves_are_keys_the_module_logs():
    logged = set(re.findall(r'"(train/\w+)"', (ROOT / "xlmr" / "lit.py").read_text()))
    train = {k for k in _keys(_workspace()) if k.startswith("train/")}
    assert train == set(dashboard.HEALTH_CURVES) and train <= logged, logged


def test_final_values_are_summary_keys_the_run_writes():
    from xlmr.data.languages import GROUPS
    from xlmr.lit import language_metrics
    from xlmr.record import SUMMARY_METRICS

    run_py = (ROOT / "xlmr" / "run.py").read_text()
    assert re.search(r'f"final/\{\w+\}/\{\w+\}"', run_py) and re.search(r'f"final/group/\{\w+\}/\{\w+\}"', run_py)
    assert '"final/train_tokens_per_s"' in run_py and '"final/mfu"' in run_py
    assert dashboard.GROUP_LANGS == GROUPS
    metrics = set(language_metrics(1.0, 1.0, 1.0, 1.0)) | set(SUMMARY_METRICS)
    written = ({f"final/{lang}/{m}" for lang in dashboard.LANGS for m in metrics}
               | {f"final/group/{g}/{m}" for g in ("high", "low", "all") for m in metrics}
               | {"final/train_tokens_per_s", "final/mfu"})
    final = {k for k in _keys(_workspace()) if k.startswith("final/")}
    assert final <= written, final - written
    assert {f"final/group/{g}/{m}" for g in ("high", "low", "all") for m in ("mlm_bpc", "transfer_acc")} <= final
    assert {f"final/{lang}/mlm_bpc" for lang in ("en", "fr", "sw", "ur")} <= final
    assert all(not k.startswith("final/") for p in _panels(_workspace()) if isinstance(p, wr.LinePlot)
               for k in dashboard.panel_keys(p))  # summaries are never drawn as history


def test_sections_and_mean_std_over_seeds():
    workspace = _workspace()
    assert [s.name for s in workspace.sections] == [
        "Group metrics: final", "Group metrics: held-out curves", "Per language", "Training health"]
    aggregated = [p for p in _panels(workspace) if isinstance(p, (wr.LinePlot, wr.BarPlot))]
    assert aggregated and all((p.groupby_aggfunc, p.groupby_rangefunc) == ("mean", "stddev") for p in aggregated)


def test_the_description_names_every_section_panel_and_key():
    workspace = _workspace("fig6_vocab")
    text = dashboard.describe(workspace)
    assert "grouped by config.knobs.vocab_size, config.knobs.model" in text and "fig6_vocab" in text
    for section in workspace.sections:
        assert f"section {section.name!r}" in text
        for panel in section.panels:
            assert all(key in text for key in dashboard.panel_keys(panel))
            assert getattr(panel, "title", None) is None or repr(panel.title) in text


# ---------------------------------------------------------------------------------------------- the command


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    import wandb

    for name in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    yield tmp_path
    # logged_in() made wandb's process-wide settings from this test's environment: drop them, or later
    # tests' runs (W&B offline) would inherit them
    wandb.teardown()


@pytest.fixture
def saved(monkeypatch) -> list[Any]:
    """dashboard.save and default_entity replaced: the workspaces that would have been saved."""
    workspaces: list[Any] = []
    monkeypatch.setattr(dashboard, "save", lambda w: workspaces.append(w) or "https://wandb.example/team/p?nw=v1")
    monkeypatch.setattr(dashboard, "default_entity", lambda: "my-team")
    return workspaces


def test_credentials_come_from_the_environment_or_netrc(no_credentials, monkeypatch):
    from wandb.sdk import wandb_setup

    assert not dashboard.logged_in()
    host = re.sub(r"^https?://", "", wandb_setup.singleton().settings.base_url).split("/")[0]
    (no_credentials / ".netrc").write_text(f"machine {host}\n  login user\n  password {'k' * 40}\n")
    (no_credentials / ".netrc").chmod(0o600)
    assert dashboard.logged_in()
    (no_credentials / ".netrc").unlink()
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert dashboard.logged_in()


def test_not_logged_in_prints_what_it_would_build_and_saves_nothing(no_credentials, saved, capsys):
    assert main(["dashboard", "--sweep", "fig5_alpha_cpu"]) == 0
    out = capsys.readouterr().out
    assert "workspace 'Fig. 5 (sampling alpha): fig5_alpha_cpu'" in out and f"/{WANDB_PROJECT}" in out
    assert "config.knobs.alpha" in out and "final/group/low/mlm_bpc" in out and "train/grad_norm" in out
    assert out.rstrip().splitlines()[-1] == NOT_LOGGED_IN
    assert saved == []


def test_logged_in_saves_and_prints_the_url(no_credentials, saved, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert main(["dashboard", "--sweep", "fig2_langs_cpu"]) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == "saved: https://wandb.example/team/p?nw=v1"
    assert [(w.entity, w.project) for w in saved] == [("my-team", WANDB_PROJECT)]
    assert main(["dashboard", "--sweep", "fig2_langs_cpu", "--entity", "e", "--project", "p", "--dry-run"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("dry run: nothing saved") and len(saved) == 1


def test_a_save_error_is_one_line_and_exit_1(no_credentials, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)

    def refuse(workspace):
        raise ConnectionError("no route to host\nmore detail")

    monkeypatch.setattr(dashboard, "save", refuse)
    assert main(["dashboard", "--sweep", "fig7_batch", "--entity", "team"]) == 1
    assert capsys.readouterr().err == "error: could not save the dashboard to W&B: ConnectionError: no route to host\n"


def test_an_unknown_sweep_is_exit_2(capsys):
    assert main(["dashboard", "--sweep", "no_such_sweep"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: sweep 'no_such_sweep' serves no paper figure") and err.count("\n") == 1


def test_without_the_extra_it_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb_workspaces", None)  # import wandb_workspaces → ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "analysis.dashboard")
    monkeypatch.delattr(analysis, "dashboard")
    assert main(["dashboard", "--sweep", "fig2_langs", "--dry-run"]) == 2
    assert capsys.readouterr() == ("", f"error: {MISSING_EXTRA}\n")
    assert MISSING_EXTRA == "dashboards need the [dashboards] extra: pip install -e '.[dashboards]'"


def test_the_default_project_is_the_one_training_logs_to():
    from _shared import compose_cfg

    cfg = compose_cfg()  # conf/config.yaml's default logger: conf/logger/wandb.yaml
    assert (cfg.logger.wandb, cfg.logger.project) == (True, WANDB_PROJECT)
