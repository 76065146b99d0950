"""Which machinery trains the promise model's LightGBM trees (``training.engine``).

``PromiseModel.fit`` asks its engine for two things only: trees early-stopped on a later
slice, and trees refitted for a given number of rounds (``trees.early_stopped`` and
``trees.refit``). ``LocalTrees`` runs them in this process; ``DaskTrees``
(``trees_dask.py``) on a Dask cluster through ``lightgbm.dask``. Everything else of a
fit (the selection among scorers, the linear part, calibration, explanations, saving)
never leaves the calling process, whatever the engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Protocol

import lightgbm as lgb

from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.model import trees


class TreeEngine(Protocol):
    name: str

    def early_stopped(
        self,
        config: ModelConfig,
        objective: str,
        train: trees.TreeRows,
        valid: trees.TreeRows,
        categorical: Sequence[str],
        pos_weight: float,
        monotone: Sequence[int] = (),
    ) -> trees.EarlyStop: ...

    def refit(
        self,
        config: ModelConfig,
        objective: str,
        rows: trees.TreeRows,
        categorical: Sequence[str],
        rounds: int,
        monotone: Sequence[int] = (),
    ) -> lgb.Booster: ...


class LocalTrees:
    """The trees trained in this process (``training.engine = "local"``)."""

    name = "local"

    def early_stopped(self, *args: object, **kwargs: object) -> trees.EarlyStop:
        return trees.early_stopped(*args, **kwargs)  # type: ignore[arg-type]

    def refit(self, *args: object, **kwargs: object) -> lgb.Booster:
        return trees.refit(*args, **kwargs)  # type: ignore[arg-type]


LOCAL = LocalTrees()


@contextlib.contextmanager
def open_tree_engine(config: TrainingConfig) -> Iterator[TreeEngine]:
    """The engine ``config.engine`` names, for the duration of a fit.

    With ``dask``, a client to ``config.dask.scheduler_address``, or to a LocalCluster
    started here (and closed on exit) when the address is empty.
    """
    if config.engine == "local":
        yield LOCAL
        return
    from talentmap.training.model.trees_dask import dask_trees

    with dask_trees(config.dask) as engine:
        yield engine
