"""The promise model as an MLflow pyfunc, stored without pickling any Python object.

MLflow's default way to log a ``PythonModel`` cloudpickles the instance, and unpickling
runs arbitrary code. Here the model is logged *from code* instead: a three-line code file
(``MODEL_CODE``, written next to the model at log time) builds a ``PromisePyfunc`` and
hands it to ``mlflow.models.set_model``, and the fitted estimator travels as an artifact
directory written by ``PromiseModel.save`` (LightGBM's text format + one JSON file), which
``load_context`` reads back with ``PromiseModel.load``. Loading therefore needs the
``talentmap`` package installed (the serving stage has it), and nothing else is trusted.

``predict`` takes the feature columns (extra columns such as ``org_id`` are ignored) and
returns a frame with ``probability`` (calibrated P(promise)); with the inference parameter
``include_raw_score=True`` it adds ``raw_score``, the booster's log-odds, the scale of the
explanations.
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, DataType, Schema

from talentmap.training.model.estimator import PromiseModel

ARTIFACT_KEY = "promise_model"
PROBABILITY = "probability"
RAW_SCORE = "raw_score"
RAW_PARAM = "include_raw_score"
MODEL_CODE = (
    "# Written by talentmap.training.tracking.pyfunc: MLflow runs this file to build the model.\n"
    "from mlflow.models import set_model\n"
    "from talentmap.training.tracking.pyfunc import PromisePyfunc\n"
    "\n"
    "set_model(PromisePyfunc())\n"
)
# Pinned from the running environment: what the model needs besides talentmap itself.
REQUIREMENTS = ("mlflow", "lightgbm", "pandas", "numpy", "scikit-learn", "pyarrow")


class PromisePyfunc(PythonModel):
    """Serves ``PromiseModel.predict_proba`` (and optionally ``predict_raw``) to MLflow."""

    def __init__(self) -> None:
        self.model: PromiseModel | None = None

    def load_context(self, context: PythonModelContext) -> None:
        self.model = PromiseModel.load(context.artifacts[ARTIFACT_KEY])

    # ``pd.DataFrame`` is one of the hints MLflow accepts without inferring a schema from
    # it (any other hint warns): the logged signature is the schema.
    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        model = self.model
        if model is None:  # MLflow always calls load_context first; be safe all the same
            model = self.model = PromiseModel.load(context.artifacts[ARTIFACT_KEY])
        return predictions(model, pd.DataFrame(model_input), bool((params or {}).get(RAW_PARAM)))


def predictions(
    model: PromiseModel, frame: pd.DataFrame, include_raw: bool = False
) -> pd.DataFrame:
    """The pyfunc's output for ``frame``, also used to build the signature."""
    out = pd.DataFrame({PROBABILITY: model.predict_proba(frame)[:, 1]}, index=frame.index)
    if include_raw:
        out[RAW_SCORE] = model.predict_raw(frame)
    return out.reset_index(drop=True)


def input_example(model: PromiseModel, frame: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The first ``n`` rows of the model's feature columns: ids and labels never go in."""
    return frame.loc[:, list(model.feature_names_)].head(n).reset_index(drop=True)


def signature(model: PromiseModel, example: pd.DataFrame) -> ModelSignature:
    """Input schema from the example's feature columns; output and params from a real call.

    Every input column is optional: a missing signal is a fact the model handles (NaN),
    and a few example rows cannot tell which features are sometimes unknown.
    """
    inferred = infer_signature(example, predictions(model, example), params={RAW_PARAM: False})
    # A categorical column that is empty in the example would be typed ``Any``.
    text = set(model.categorical_features_)
    columns = [
        ColSpec(
            type=DataType.string if spec.name in text else spec.type,
            name=spec.name,
            required=False,
        )
        for spec in inferred.inputs.inputs
    ]
    return ModelSignature(Schema(columns), inferred.outputs, inferred.params)


def pip_requirements() -> list[str]:
    """Exact versions of the libraries the pyfunc imports, read from this environment."""
    pins = []
    for name in REQUIREMENTS:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


@contextmanager
def model_files(model: PromiseModel) -> Iterator[tuple[Path, Path]]:
    """``(code file, model directory)`` in a temporary folder, for ``mlflow.pyfunc.log_model``."""
    with tempfile.TemporaryDirectory(prefix="talentmap-pyfunc-") as tmp:
        folder = Path(tmp)
        code = folder / "promise_pyfunc.py"
        code.write_text(MODEL_CODE, encoding="utf-8")
        yield code, model.save(folder / ARTIFACT_KEY)


def log_pyfunc(model: PromiseModel, example_rows: pd.DataFrame, name: str = "model") -> Any:
    """Log ``model`` into the active run; returns MLflow's ``ModelInfo``.

    ``example_rows`` may carry ids or labels: only the feature columns make the example.
    """
    import mlflow.pyfunc

    example = input_example(model, example_rows)
    with model_files(model) as (code, folder):
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(code),
            artifacts={ARTIFACT_KEY: str(folder)},
            signature=signature(model, example),
            input_example=example,
            pip_requirements=pip_requirements(),
            metadata={"talentmap_version": _talentmap_version(), "loader": "PromiseModel.load"},
        )


def _talentmap_version() -> str:
    try:
        return importlib.metadata.version("talentmap")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
