"""Map the booster's raw log-odds to calibrated probabilities, fitted on the calib slice.

A calibrator is stored as a handful of numbers (Platt's two coefficients, or the
isotonic step points), not as a pickled estimator, so a saved model is plain text and
JSON that any version of scikit-learn can read back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.isotonic import IsotonicRegression

from talentmap.settings.model import CalibrationMethod


@dataclass(frozen=True)
class Calibrator:
    """``method`` plus its parameters; ``transform`` takes raw log-odds, returns P(y=1)."""

    method: CalibrationMethod
    params: dict[str, float | list[float]] = field(default_factory=dict)

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "none":
            return expit(raw)
        if self.method == "sigmoid":
            return expit(float(self.params["a"]) * raw + float(self.params["b"]))
        # Linear between the step points and flat beyond them, as scikit-learn's
        # IsotonicRegression(out_of_bounds="clip") predicts.
        return np.interp(raw, np.asarray(self.params["x"]), np.asarray(self.params["y"]))

    def to_dict(self) -> dict[str, object]:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        return cls(method=data["method"], params=dict(data["params"]))


def fit_calibrator(
    method: CalibrationMethod, raw: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
) -> Calibrator:
    """Fit ``method`` on raw log-odds ``raw`` and 0/1 labels ``y`` (both classes needed).

    ``weight``: sampled rows' weights (the rows each stands for), so the map restores the
    full rows' base rate.
    """
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
    if method == "none":
        return Calibrator("none")
    if len(np.unique(y)) < 2:
        raise ValueError("the calibration slice holds a single class; widen calib_fraction")
    if method == "sigmoid":
        a, b = _platt(raw, y, w)
        return Calibrator("sigmoid", {"a": a, "b": b})
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
        raw, y, sample_weight=None if weight is None else w
    )
    return Calibrator(
        "isotonic",
        {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()},
    )


def _platt(raw: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Platt (1999) scaling with his smoothed targets, which keep a tiny slice from
    producing probabilities of exactly 0 or 1. ``w``: each row's weight (1 unsampled)."""
    n_pos = float(w[y == 1].sum())
    n_neg = float(w.sum() - n_pos)
    target = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * raw + ab[1]
        nll = -(w * (target * log_expit(z) + (1 - target) * log_expit(-z))).sum()
        residual = w * (expit(z) - target)
        return float(nll), np.array([(residual * raw).sum(), residual.sum()])

    start = np.array([1.0, 0.0])
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])
