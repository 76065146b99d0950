"""Trees trained on a Dask cluster rank like trees trained here (issue 10 §3).

One generated world goes through the real backtest twice, in two homes, with the same
settings but ``training.engine``: ``local``, then ``dask`` (a ``distributed.LocalCluster``
of 2 worker processes, started and closed by the fit; ``training.dask.scheduler_address``
empty). The served scorer is pinned to the trees (``scorer = "lightgbm"``), so the
comparison is of the trees themselves and not of a selection that might pick the
logistic part in both runs.

Tolerance (also in docs/SCALE.md): on the candidates at the as-of date, Spearman's rank
correlation of the two models' scores is at least 0.95, and the two top-50 lists share
at least 80% of their companies. Not equality: with data-parallel training each worker
bins its own share of the rows, so split thresholds, and the chosen number of rounds,
differ a little.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import numpy as np
import psutil
import pytest
from scipy.stats import spearmanr

from talentmap.generate.world import generate_world
from talentmap.settings import Settings
from talentmap.settings.engine import DaskConfig
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline.backtest import MODEL_NAME, run_backtest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ORGS, SEED = 1500, 31
AS_OF = date(2023, 6, 30)
MIN_SPEARMAN = 0.95
TOP_K, MIN_TOP_K_OVERLAP = 50, 0.8


def _settings(home: Path, engine: str) -> Settings:
    model = ModelConfig(num_threads=1, scorer="lightgbm", tree_variants=("binary",))
    training = TrainingConfig(
        model=model, engine=engine, dask=DaskConfig(local_workers=2, threads_per_worker=1)
    )
    return Settings(home=home, training=training)


def _dask_workers() -> list[psutil.Process]:
    """This process's children started as multiprocessing workers (the Nannies' workers)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.is_running() and "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def test_a_dask_trained_model_ranks_like_the_local_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = tmp_path / "world"
    generate_world(world, ORGS, SEED)
    local = run_backtest(_settings(tmp_path / "local", "local"), world, AS_OF, None, tmp_path / "l")
    with caplog.at_level(logging.INFO, logger="talentmap.training"):
        dask = run_backtest(
            _settings(tmp_path / "dask", "dask"), world, AS_OF, None, tmp_path / "d"
        )
    # The trees really went through Dask, and the cluster the fit started is gone: no
    # worker process is left (multiprocessing's resource tracker may stay, by design).
    assert "training the trees on a Dask LocalCluster (2 workers)" in caplog.text
    assert not _dask_workers(), "the LocalCluster's workers survived the fit"

    for result in (local, dask):
        assert result.model.selection_.name.startswith("lightgbm")
        assert result.model.tree_engine is None  # nothing of the cluster is kept
    assert list(local.predictions["org_id"]) and set(local.predictions["org_id"]) == set(
        dask.predictions["org_id"]
    )
    a, b = local.scores[MODEL_NAME], dask.scores[MODEL_NAME]
    assert len(a) == len(b) > TOP_K
    assert not np.allclose(a, b)  # two real fits, not one model read twice
    rho = spearmanr(a, b).statistic
    top_a = set(np.argsort(-a, kind="stable")[:TOP_K])
    top_b = set(np.argsort(-b, kind="stable")[:TOP_K])
    overlap = len(top_a & top_b) / TOP_K
    print(
        f"spearman {rho:.4f}, top-{TOP_K} overlap {overlap:.2f}, rounds "
        f"{local.model.best_iteration_} local vs {dask.model.best_iteration_} dask"
    )
    assert rho >= MIN_SPEARMAN, rho
    assert overlap >= MIN_TOP_K_OVERLAP, overlap
