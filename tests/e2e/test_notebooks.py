"""The notebooks are part of the product: the suite executes them end to end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.e2e
def test_explore_ecosystem_notebook_runs(
    small_world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel is started as `python`; the venv's interpreter must be the one found.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TALENTMAP_WORLD", str(small_world))
    notebook = nbformat.read(NOTEBOOKS / "01_explore_ecosystem.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # The region table must name Île-de-France: the notebook really read the world.
    texts = " ".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "Île-de-France" in texts
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3
