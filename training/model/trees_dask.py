"""The promise model's trees trained on a Dask cluster through ``lightgbm.dask``.

The training rows become Dask dataframes (label and weight in the same frame as the
features, so their partitions line up by construction) and ``DaskLGBMClassifier`` trains
one booster across the cluster's workers with LightGBM's own data-parallel learner.
What comes back is an ordinary ``lgb.Booster``, cut at the chosen round exactly as a
local fit is, so the rest of ``PromiseModel`` (selection, linear part, calibration,
explanations, saving) cannot tell the engines apart.

Early stopping: ``lightgbm.dask`` takes no callbacks, so the booster is trained for
``n_estimators`` rounds on the cluster; then, in this process, the valid slice's metric
is computed after each round on *every* valid row (``validation_curve``; the Dask
``evals_result_`` holds one worker's share only) and the round is chosen by LightGBM's
own rule (the best value so far, stop once ``early_stopping_rounds`` rounds bring no
strict improvement): the round a local early stop would pick on the same curve. The
rounds after the stop are the price (trees trained, then cut away): lower
``training.model.n_estimators`` on a cluster once the usual round count is known.

Not the same numbers as a local fit: each worker bins its own part of the rows and the
histograms are summed across workers, so split thresholds (and with them the scores)
differ slightly. ``tests/e2e/test_dask_training.py`` states the tolerance.

Ranking objectives (``rank_xendcg``, ``lambdarank``) need whole query groups on one
worker; they are refused with ``training.engine = "dask"`` rather than trained wrong.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np

from talentmap.settings.engine import DaskConfig
from talentmap.settings.model import ModelConfig
from talentmap.training.model import trees

logger = logging.getLogger("talentmap.training")

LABEL = "__label__"
HIGHER_IS_BETTER = frozenset({"auc", "average_precision", "map"})


def best_round(curve: Sequence[float], higher_is_better: bool, patience: int) -> int:
    """LightGBM's early-stopping rule on a recorded curve: the 1-based best round.

    The best value so far improves only strictly; once ``patience`` rounds pass without
    an improvement, later rounds are not looked at (as if training had stopped there).
    """
    if not curve:
        raise ValueError("an empty validation curve")
    best_i, best = 0, curve[0]
    for i, value in enumerate(curve[1:], start=1):
        if (value > best) if higher_is_better else (value < best):
            best_i, best = i, value
        elif i - best_i >= patience:
            break
    return best_i + 1


def validation_curve(
    booster: lgb.Booster,
    valid: trees.TreeRows,
    metric: str,
    weight: np.ndarray | None,
    patience: int,
) -> list[float]:
    """The valid slice's ``metric`` after each round, computed here on every valid row.

    Not ``evals_result_``: ``lightgbm.dask`` reports the curve of one worker's share of
    the eval set only (LightGBM issue 6963). The booster's trees are summed one round at
    a time; the curve ends where ``best_round`` stops looking, as a local early stop's.
    """
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    higher = metric in HIGHER_IS_BETTER
    raw = np.zeros(len(valid.y), dtype=np.float64)
    curve: list[float] = []
    best_i = 0
    for i in range(booster.num_trees()):
        raw += booster.predict(valid.x, start_iteration=i, num_iteration=1, raw_score=True)
        if metric == "binary_logloss":
            value = log_loss(
                valid.y, 1.0 / (1.0 + np.exp(-raw)), sample_weight=weight, labels=[0, 1]
            )
        elif metric == "auc":
            value = roc_auc_score(valid.y, raw, sample_weight=weight)
        elif metric == "average_precision":
            value = average_precision_score(valid.y, raw, sample_weight=weight)
        else:  # pragma: no cover - the settings allow no other metric
            raise ValueError(f"unknown early-stopping metric {metric!r}")
        curve.append(float(value))
        if i and ((value > curve[best_i]) if higher else (value < curve[best_i])):
            best_i = i
        elif i - best_i >= patience:
            break
    return curve


class DaskTrees:
    """Trees of ``PromiseModel`` trained on the cluster behind ``client``."""

    name = "dask"

    def __init__(self, client: Any, partitions: int = 0) -> None:
        self.client = client
        self.partitions = partitions

    def _workers(self) -> int:
        return max(1, len(self.client.scheduler_info()["workers"]))

    def _frames(self, rows: trees.TreeRows) -> tuple[Any, Any]:
        """``(x, y)`` as Dask collections: the label rides in the features' frame, so the
        two are partitioned alike by construction."""
        import dask.dataframe as dd

        frame = rows.x.reset_index(drop=True).assign(**{LABEL: rows.y.astype(np.int64)})
        wanted = self.partitions or self._workers()
        # No empty partition: a worker holding no rows cannot take part in the fit.
        npartitions = max(1, min(wanted, len(frame) // 2 or 1))
        data = dd.from_pandas(frame, npartitions=npartitions, sort=True).persist()
        return data.drop(columns=[LABEL]), data[LABEL]

    def _classifier(self, p: dict[str, Any], rounds: int) -> Any:
        from lightgbm.dask import DaskLGBMClassifier

        # Each worker trains with its own Dask threads (lightgbm.dask sets num_threads
        # from the worker), not with this process's training.model.num_threads.
        params = {k: v for k, v in p.items() if k != "num_threads"}
        return DaskLGBMClassifier(client=self.client, n_estimators=int(rounds), **params)

    def early_stopped(
        self,
        config: ModelConfig,
        objective: str,
        train: trees.TreeRows,
        valid: trees.TreeRows,
        categorical: Sequence[str],
        pos_weight: float,
        monotone: Sequence[int] = (),
    ) -> trees.EarlyStop:
        _refuse_ranking(objective)
        p = trees.params(config, objective, pos_weight, monotone)
        metric = config.early_stopping_metric
        valid_weight = trees.valid_weight(metric, pos_weight, valid.y)  # the local fit's rule
        x, y = self._frames(train)
        model = self._classifier(p, config.n_estimators)
        model.fit(x, y, categorical_feature=list(categorical) or "auto")
        booster = model.booster_
        curve = validation_curve(booster, valid, metric, valid_weight, config.early_stopping_rounds)
        best = best_round(curve, metric in HIGHER_IS_BETTER, config.early_stopping_rounds)
        cut = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        return trees.EarlyStop(cut, best, curve, metric)

    def refit(
        self,
        config: ModelConfig,
        objective: str,
        rows: trees.TreeRows,
        categorical: Sequence[str],
        rounds: int,
        monotone: Sequence[int] = (),
    ) -> lgb.Booster:
        _refuse_ranking(objective)
        p = trees.params(config, objective, trees.positive_weight(config, rows.y), monotone)
        x, y = self._frames(rows)
        model = self._classifier(p, rounds)
        model.fit(x, y, categorical_feature=list(categorical) or "auto")
        return lgb.Booster(model_str=model.booster_.model_to_string())


def _refuse_ranking(objective: str) -> None:
    if trees.is_ranking(objective):
        raise ValueError(
            f"training.engine = 'dask' trains the binary tree variants only; "
            f"tree variant {objective!r} needs training.engine = 'local' "
            "(or drop it from training.model.tree_variants)"
        )


@contextlib.contextmanager
def dask_trees(config: DaskConfig) -> Iterator[DaskTrees]:
    """A client to the configured scheduler, or to a LocalCluster started (and closed) here."""
    from distributed import Client, LocalCluster

    if config.scheduler_address:
        client = Client(config.scheduler_address, timeout=config.timeout_seconds)
        try:
            logger.info(
                "training the trees on the Dask scheduler %s (%d workers)",
                config.scheduler_address,
                len(client.scheduler_info()["workers"]),
            )
            yield DaskTrees(client, config.partitions)
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=config.local_workers,
        threads_per_worker=config.threads_per_worker,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=":0",
    )
    try:
        client = Client(cluster, timeout=config.timeout_seconds)
        try:
            client.wait_for_workers(config.local_workers, timeout=config.timeout_seconds)
            logger.info(
                "training the trees on a Dask LocalCluster (%d workers)", config.local_workers
            )
            yield DaskTrees(client, config.partitions)
        finally:
            client.close()
    finally:
        cluster.close()
