"""The model-review notebook runs against a home where a retrain promoted a champion.

It must show all three scorers' metrics, at least one figure (the reliability curve) and
worded reasons for the top candidates; against a home with no MLflow store it must stop
at once with a message that says what to run, not with a library traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.model.explain import LOWERS, RAISES
from talentmap.training.pipeline.retrain import retrain

pytestmark = pytest.mark.e2e

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_model_review.ipynb"
SCORERS = ("model", "logistic_regression", "total_raised")


def _execute(home: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    # The kernel is started as `python`; the venv's interpreter must be the one found.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TALENTMAP_HOME", str(home))
    monkeypatch.setenv("TALENTMAP_TRAINING__MODEL__NUM_THREADS", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    return notebook


def _texts(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(str(output.get("text", "")))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_model_review_notebook_shows_metrics_calibration_and_reasons(
    small_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path, training=TrainingConfig(model=ModelConfig(num_threads=1)))
    outcome = retrain(settings, small_world)
    assert outcome.promoted, outcome.decision_reason

    notebook = _execute(tmp_path, monkeypatch)

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    texts = _texts(notebook)
    assert all(scorer in texts for scorer in SCORERS), texts
    assert outcome.run_id is not None and outcome.run_id in texts  # the champion's own run
    assert [o for o in outputs if "image/png" in o.get("data", {})]
    assert RAISES in texts or LOWERS in texts


def test_model_review_notebook_without_a_champion_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CellExecutionError) as failed:
        _execute(tmp_path, monkeypatch)
    message = str(failed.value)
    assert "No champion to review" in message
    assert "talentmap retrain" in message
    # Reading must not create an MLflow store in the home it was pointed at.
    assert not (tmp_path / "mlflow").exists()
