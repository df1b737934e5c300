"""The figure notebooks in analysis/notebooks/ run top to bottom against fixture runs (nbclient).

Each notebook reads `XLMR_RUNS` / `XLMR_OUT` from the environment over its parameter cell, so the
test points it at the fixture sweep folder and a temp output folder, and checks the figure it saved.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "analysis" / "notebooks"
SWEEPS = ["fig2_langs", "fig4_capacity", "fig5_alpha", "fig6_vocab", "fig7_batch"]


def test_one_notebook_per_figure():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == SWEEPS
    for sweep in SWEEPS:
        nb = nbformat.read(NOTEBOOKS / f"{sweep}.ipynb", as_version=4)
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and f'RUNS = "runs/{sweep}"' in params[0].source
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # stored without outputs


@pytest.mark.parametrize("sweep", SWEEPS)
def test_notebook_runs(sweep, runs_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XLMR_RUNS", str(runs_root / sweep))
    monkeypatch.setenv("XLMR_OUT", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOKS / f"{sweep}.ipynb", as_version=4)
    # the kernel starts in the project root and inherits this environment
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    assert (tmp_path / f"{sweep}.png").stat().st_size > 20_000
    assert (tmp_path / f"{sweep}.pdf").stat().st_size > 5_000
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the figure is shown
    assert not [o for o in outputs if o.get("output_type") == "error"]
