"""Shared helpers for the MLflow tests: a toy training run with ids, names and baselines.

The toy rows (``fixtures.toy_rows``) get org ids, a people table whose full
names must never reach MLflow, founders linking them to the orgs, and an extra
``founder_name`` column in the evaluation frame that logging must drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from fixtures.toy_rows import toy_training_rows

from talentmap.settings.model import ModelConfig
from talentmap.settings.tracking import TrackingConfig
from talentmap.settings.training import PromiseRules
from talentmap.training.evaluation.baselines import fit_logistic_baseline, logistic_score
from talentmap.training.evaluation.fairness_audit import audit_groups
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.tracking.lineage import SnapshotLineage
from talentmap.training.tracking.run_inputs import TrainingRunInputs
from talentmap.training.tracking.target import TrackingTarget, resolve_target

FIRST_NAMES = ("Amandine", "Gwenaëlle", "Théophile", "Maëlys", "Corentin", "Solène", "Baptiste")
LAST_NAMES = ("Verstraeten", "Kerhervé", "Duplessix", "Marchadier", "Lefebvrier", "Quéméner")
PEOPLE_NAMES: tuple[str, ...] = tuple(f"{f} {n}" for f in FIRST_NAMES for n in LAST_NAMES)
TRAIN_DATES = 16  # quarterly dates 0..15; + 24 months = date 23, the evaluation date
EVAL_DATE = 23
NUMERIC = ("n_rounds", "days_since_last_round", "headcount_growth_12m", "n_founders_phd", "noise")
CATEGORICAL = ("region",)
MANIFEST = {
    "snapshot_id": "20201231-0123456789abcdef",
    "snapshot_date": "2020-12-31",
    "source_dir": "/home/someone/private/world",
    "dataset": {"name": "toy"},
    "time_span": {"start": "2015-03-31", "end": "2020-12-31"},
    "tables": {
        "organizations": {"rows": 7200, "content_hash": "a" * 64, "sha256": "b" * 64},
        "funding_rounds": {"rows": 999, "content_hash": "c" * 64, "sha256": "d" * 64},
    },
}


def target_in(home: Path, **overrides: object) -> TrackingTarget:
    """The default (SQLite + local artifacts) tracking setup, rooted in ``home``."""
    return resolve_target(config=TrackingConfig(**overrides), home=home)  # type: ignore[arg-type]


class ToyData:
    """Toy rows split into a training part and one evaluation window, plus name tables."""

    def __init__(self, seed: int = 0) -> None:
        frame, y, as_of = toy_training_rows(seed=seed, n_dates=EVAL_DATE + 1, per_date=250)
        frame = frame.copy()
        frame.insert(0, "org_id", [f"org-{i:05d}" for i in range(len(frame))])
        frame["as_of"] = as_of.to_numpy()
        frame["label"] = y.to_numpy()
        dates = sorted(as_of.unique())
        self.train = frame[frame["as_of"] <= dates[TRAIN_DATES - 1]].reset_index(drop=True)
        evaluation = frame[frame["as_of"] == dates[EVAL_DATE]].reset_index(drop=True)
        n = len(evaluation)
        rng = np.random.default_rng(seed)
        names = np.array(PEOPLE_NAMES, dtype=object)
        # An identifying column that must never survive into MLflow.
        evaluation["founder_name"] = names[rng.integers(0, len(names), n)]
        self.evaluation = evaluation
        self.train_dates = [pd.Timestamp(d) for d in dates[:TRAIN_DATES]]
        self.tables = self._tables(rng)

    def _tables(self, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
        ids = self.evaluation["org_id"].to_numpy()
        people = pd.DataFrame(
            {
                "person_id": [f"p-{i:03d}" for i in range(len(PEOPLE_NAMES))],
                "full_name": list(PEOPLE_NAMES),
                "gender": rng.choice(
                    np.array(["F", "M", "X", None], dtype=object), len(PEOPLE_NAMES)
                ),
            }
        )
        founders = rng.integers(0, len(people), len(ids))
        roles = pd.DataFrame(
            {
                "person_id": people["person_id"].to_numpy()[founders],
                "org_id": ids,
                "role": "founder",
                "started_on": pd.NaT,
            }
        )
        organizations = pd.DataFrame(
            {
                "org_id": ids,
                "name": [f"Company {i}" for i in range(len(ids))],
                "region": self.evaluation["region"].to_numpy(),
            }
        )
        return {"organizations": organizations, "people": people, "roles": roles}

    def fit(
        self, features: Sequence[str] | None = None, shuffle_labels: bool = False, seed: int = 0
    ) -> PromiseModel:
        names = list(features) if features is not None else [*NUMERIC, *CATEGORICAL]
        y = self.train["label"].to_numpy()
        if shuffle_labels:
            y = np.random.default_rng(seed).permutation(y)
        model = PromiseModel(ModelConfig(num_threads=1, n_estimators=300), features=names)
        return model.fit(self.train, y, self.train["as_of"])

    def inputs(self, model: PromiseModel, run_name: str = "toy") -> TrainingRunInputs:
        logistic = fit_logistic_baseline(
            self.train, self.train["label"], list(NUMERIC), list(CATEGORICAL), seed=0
        )
        evaluation = self.evaluation
        return TrainingRunInputs(
            model=model,
            rules=PromiseRules(),
            snapshot=SnapshotLineage.from_manifest(MANIFEST),
            feature_service="promise",
            training_as_of=self.train_dates,
            training_labels=self.train["label"].to_numpy(),
            evaluation=evaluation,
            baseline_scores={
                "logistic_regression": logistic_score(
                    logistic, evaluation, list(NUMERIC), list(CATEGORICAL)
                ),
                "total_raised": evaluation["n_rounds"].fillna(0).to_numpy(dtype=float),
            },
            audit=audit_groups(self.tables, evaluation["org_id"], evaluation["as_of"].iloc[0]),
            run_name=run_name,
        )
