"""W&B dashboards built in code: one workspace per paper figure, for `python -m analysis dashboard`.

The figures (figures.py) are drawn once the runs are finished; the workspace is the live view of the same
sweep in the W&B app, while it trains and after, built the same way in every project rather than clicked
together by hand. It needs the `[dashboards]` extra (wandb-workspaces, pinned: its API moves between
releases). Building needs no network; only `save` talks to W&B.

Which figure a sweep serves is read from its name, the one thing W&B knows the sweep by (the run group):
the sweeps are named after the figures (`fig2_langs`, `fig5_alpha_cpu`, …), so a `fig<N>_` prefix picks
Fig. N and the knobs it compares. Any other sweep (`controls_*`, `gain_monolingual_cpu`) gets a generic
workspace grouped by the knobs its sweep file sweeps (`sweeps/<name>.yaml`, `hydra.sweeper.params` but
`seed`), i.e. one group per seed-less configuration. A name with neither is an error.

Every workspace shows the runs of W&B group = the sweep, grouped by the figure's knobs (config
`knobs.<knob>`), so bars and curves are the mean ± std over seeds of one configuration, as in the figures:

    group metrics     final/group/{high,low,all}/{mlm_bpc,transfer_acc}: bars, and each group vs the knob
    held-out curves   val/group/{high,low,all}/mlm_bpc against trainer/global_step
    per language      final/<lang>/{mlm_bpc,transfer_acc} and val/<lang>/mlm_bpc for en, fr, sw, ur
    training health   train/{loss,lr,grad_norm,tokens_per_s,mfu}; final/{train_tokens_per_s,mfu}
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import wandb_workspaces.reports.v2 as wr
import wandb_workspaces.workspaces as ws
import yaml
from wandb_workspaces import expr
from wandb_workspaces.reports.v2.interface import MetricType, Panel

from analysis.collect import GROUPS
from analysis.wandb_source import STEP_KEY, SUMMARY_PREFIX

# W&B config = {"knobs": {<dotted knob>: value}, "implementation": …, "params": …} (xlmr/run.py; wandb_source
# reads it back from config["knobs"]). Knob names keep their dots: Config("knobs.train.batch_tokens") is stored
# by wandb-workspaces as the backend key "knobs.value.train.batch_tokens", the app's flattened config path.
KNOBS_CONFIG_KEY = "knobs"
# The languages the paper's groups average (xlmr/data/languages.py GROUPS; analysis never imports xlmr).
GROUP_LANGS = {"high": ("en", "fr"), "low": ("sw", "ur")}
LANGS = tuple(lang for members in GROUP_LANGS.values() for lang in members)
FINAL_METRICS = ("mlm_bpc", "transfer_acc")  # the figures' metrics (figures.METRIC_PREFERENCE)
CURVE_METRIC = "mlm_bpc"  # bits/char: per character, unlike nats/token (tokenizers still shift it: tokenizer.langs)
HEALTH_CURVES = ("train/loss", "train/lr", "train/grad_norm", "train/tokens_per_s", "train/mfu")
HEALTH_FINAL = ("train_tokens_per_s", "mfu")
# sweeps/ of a clone, as the package installs it (xlmr/conf/sweep links to sweeps/): found from a clone and a wheel
SWEEPS_DIR = Path(__file__).resolve().parent.parent / "xlmr" / "conf" / "sweep"
MAX_RUNS = 100  # runs drawn per panel (W&B's default, 10, is fewer than one sweep)
COLUMNS = 3


class UnknownSweep(ValueError):
    """The sweep serves no paper figure and has no sweep file to read its knobs from; str(err) says so."""


@dataclass(frozen=True)
class FigureSpec:
    """What one workspace is about: its title, the question it answers and the knobs its runs are grouped by
    (the first is the figure's x axis)."""

    title: str
    question: str
    knobs: tuple[str, ...]
    log_x: bool = False


FIGURES = {
    2: FigureSpec("Fig. 2 (languages)", "at fixed capacity, how does adding languages change high- vs "
                  "low-resource quality?", ("num_langs",), log_x=True),
    4: FigureSpec("Fig. 4 (capacity)", "does growing the model with the number of languages recover the "
                  "quality lost to capacity dilution?", ("num_langs", "model"), log_x=True),
    5: FigureSpec("Fig. 5 (sampling alpha)", "how does the sampling exponent trade high- against "
                  "low-resource quality?", ("alpha",)),
    6: FigureSpec("Fig. 6 (vocabulary)", "does a larger shared vocabulary help, at fixed and at growing "
                  "capacity?", ("vocab_size", "model"), log_x=True),
    7: FigureSpec("Fig. 7 (batch size)", "do larger batches help at a fixed number of updates?",
                  ("train.batch_tokens",), log_x=True),
}


# ---------------------------------------------------------------------------------------------- which figure


def swept_knobs(sweep_file: Path) -> tuple[str, ...]:
    """The knobs a sweep file varies, seed aside. Its override keys are knob names (`langs`, `model`,
    `corpus.anchors`: xlmr.config.science_knobs names a config group's option by the group's key)."""
    config = yaml.safe_load(sweep_file.read_text()) or {}
    params = config.get("hydra", {}).get("sweeper", {}).get("params") or {}
    return tuple(knob for knob in params if knob != "seed")


def figure_for(sweep: str, sweeps_dir: Path = SWEEPS_DIR) -> FigureSpec:
    """The figure a sweep serves, from its name (`fig<N>_…`), else a generic one grouped by its swept knobs."""
    match = re.match(r"fig(\d+)_", sweep)
    if match and int(match[1]) in FIGURES:
        return FIGURES[int(match[1])]
    sweep_file = sweeps_dir / f"{sweep}.yaml"
    if not sweep_file.is_file():
        known = ", ".join(f"fig{n}_" for n in FIGURES)
        raise UnknownSweep(f"sweep {sweep!r} serves no paper figure (names start {known}) and has no "
                           f"sweep file {sweep_file} to read its knobs from")
    knobs = swept_knobs(sweep_file)
    if not knobs:
        raise UnknownSweep(f"sweep {sweep!r} varies only the seed ({sweep_file}): no configurations to compare")
    return FigureSpec("Sweep", f"how do {', '.join(knobs)} change quality?", knobs)


# ---------------------------------------------------------------------------------------------- panels


def config_key(knob: str) -> str:
    """A knob's path in a W&B run's config, as wandb-workspaces' Config takes it."""
    return f"{KNOBS_CONFIG_KEY}.{knob}"


def final_key(*parts: str) -> str:
    """Summary key of a final value: final_key("sw", "mlm_bpc"), final_key("group", "low", "mlm_bpc"),
    final_key("mfu") (xlmr/run.py writes them at the end of a run)."""
    return "/".join((SUMMARY_PREFIX, *parts))


def _bars(title: str, metrics: Sequence[str]) -> wr.BarPlot:
    """One bar per (metric, configuration): the mean over its seeds, ± 1 std."""
    return wr.BarPlot(title=title, metrics=list(metrics), groupby_aggfunc="mean", groupby_rangefunc="stddev",
                      aggregate=True)


def _curve(metric: str) -> wr.LinePlot:
    """A history metric against the optimizer step, one line per configuration (mean ± 1 std over seeds).
    The step is trainer/global_step, not W&B's _step, which restarts when a requeued run resumes."""
    return wr.LinePlot(title=metric, x=STEP_KEY, y=[metric], groupby_aggfunc="mean", groupby_rangefunc="stddev",
                       aggregate=True)


def _scatter(figure: FigureSpec, metric: str) -> wr.ScatterPlot:
    """One point per run: the metric against the figure's x knob, seeds as the vertical spread."""
    knob = figure.knobs[0]
    return wr.ScatterPlot(title=f"{metric} vs {knob}", x=wr.Config(config_key(knob)), y=wr.SummaryMetric(metric),
                          log_x=figure.log_x or None)


def _section(name: str, panels: Sequence[Panel]) -> ws.Section:
    rows = max(1, math.ceil(len(panels) / COLUMNS))  # every panel on the section's first page
    return ws.Section(name=name, panels=list(panels), is_open=True,
                      layout_settings=ws.SectionLayoutSettings(columns=COLUMNS, rows=rows))


def _note(sweep: str, figure: FigureSpec) -> wr.MarkdownPanel:
    knobs = ", ".join(f"`{config_key(k)}`" for k in figure.knobs)
    groups = ", ".join(f"{g} = mean({', '.join(langs)})" for g, langs in GROUP_LANGS.items())
    return wr.MarkdownPanel(markdown=f"**{figure.title}**: {figure.question}\n\nRuns of W&B group `{sweep}`, "
                            f"grouped by {knobs}; bars and curves are the mean ± 1 std over seeds. "
                            f"{groups}, all = mean of every language.")


def _group_sections(sweep: str, figure: FigureSpec) -> list[ws.Section]:
    final = [_note(sweep, figure)]
    for metric in FINAL_METRICS:
        keys = [final_key("group", g, metric) for g in GROUPS]
        final += [_bars(f"final {metric}: high, low, all", keys), *(_scatter(figure, key) for key in keys)]
    curves = [_curve(f"val/group/{g}/{CURVE_METRIC}") for g in GROUPS]
    return [_section("Group metrics: final", final), _section("Group metrics: held-out curves", curves)]


def _language_section() -> ws.Section:
    bars = [_bars(f"final {metric} per language", [final_key(lang, metric) for lang in LANGS])
            for metric in FINAL_METRICS]
    return _section("Per language", [*bars, *(_curve(f"val/{lang}/{CURVE_METRIC}") for lang in LANGS)])


def _health_section() -> ws.Section:
    curves = [_curve(metric) for metric in HEALTH_CURVES]
    finals = [_bars(f"final {metric}", [final_key(metric)]) for metric in HEALTH_FINAL]
    return _section("Training health", [*curves, *finals])


def build_workspace(sweep: str, entity: str, project: str, figure: FigureSpec | None = None) -> ws.Workspace:
    """The workspace for one sweep (its figure from `figure_for` unless given); nothing is saved."""
    figure = figure or figure_for(sweep)
    runs = ws.RunsetSettings(filters=expr.And(expr.Metric("Group") == sweep),
                             groupby=[expr.Config(config_key(k)) for k in figure.knobs])
    return ws.Workspace(
        name=f"{figure.title}: {sweep}", entity=entity, project=project, runset_settings=runs,
        settings=ws.WorkspaceSettings(x_axis=STEP_KEY, max_runs=MAX_RUNS),
        sections=[*_group_sections(sweep, figure), _language_section(), _health_section()],
    )


# ---------------------------------------------------------------------------------------------- description


def _key_name(metric: MetricType) -> str:
    if isinstance(metric, str):
        return metric
    return f"config.{metric.name}" if isinstance(metric, wr.Config) else metric.name


def panel_keys(panel: Panel) -> list[str]:
    """The W&B keys a panel reads: history or summary names, config keys as `config.<path>`."""
    if isinstance(panel, wr.LinePlot):
        return [_key_name(m) for m in panel.y]
    if isinstance(panel, wr.BarPlot):
        return [_key_name(m) for m in panel.metrics]
    if isinstance(panel, wr.ScatterPlot):
        return [_key_name(panel.y), _key_name(panel.x)]
    return []


def _panel_line(panel: Panel) -> str:
    kind = type(panel).__name__
    if isinstance(panel, wr.MarkdownPanel):
        return f"{kind}: {panel.markdown.splitlines()[0]}"
    return f"{kind} {panel.title!r}: {', '.join(panel_keys(panel))}"


def describe(workspace: ws.Workspace) -> str:
    """What a workspace holds, one line per panel: what the dry run prints, and what `save` would store."""
    runs = workspace.runset_settings
    lines = [f"workspace {workspace.name!r} in {workspace.entity}/{workspace.project}",
             f"  runs: {runs.filters}, grouped by " + ", ".join(f"config.{g.name}" for g in runs.groupby)
             + f", x axis {workspace.settings.x_axis}"]
    for section in workspace.sections:
        lines.append(f"  section {section.name!r}")
        lines += [f"    {_panel_line(panel)}" for panel in section.panels]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- saving


def logged_in() -> bool:
    """Whether wandb has credentials, looked up where `wandb.login(prompt=False)` looks (environment, the host's
    netrc entry, the settings file) but without its call to the server, so no network when there are none."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    try:
        from wandb.sdk import wandb_setup
        from wandb.sdk.lib import wbauth
    except ImportError:  # an older wandb: the same lookup, behind its (since deprecated) wandb.api
        import wandb

        return bool(wandb.api.api_key)
    settings = wandb_setup.singleton().settings
    return bool(wbauth.read_netrc_auth(host=settings.base_url) or settings.api_key)


def default_entity() -> str:
    """The logged-in user's default entity (asks the server)."""
    import wandb

    entity = wandb.Api().default_entity
    if not entity:
        raise ValueError("W&B has no default entity for this login: pass --entity")
    return entity


def save(workspace: ws.Workspace) -> str:
    """Save the workspace to W&B (a new view each call) and return its URL."""
    return workspace.save().url
