"""Where the LightGBM trees are trained: this process, or a Dask cluster (issue 10 §3).

``training.engine = "local"`` (the default) trains every booster in the process running
``train``/``retrain``/``backtest``. ``"dask"`` trains them through ``lightgbm.dask`` on a
Dask cluster: ``training.dask.scheduler_address`` names a running scheduler
(``tcp://host:8786``); empty starts a ``distributed.LocalCluster`` for the fit and closes
it afterwards. Only the trees move: the scorer selection, the linear part, the
calibration, the explanations and the saved model stay in the calling process. It
imports neither Dask nor LightGBM, so reading the settings stays cheap.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TrainingEngine = Literal["local", "dask"]


class DaskConfig(BaseModel):
    """The Dask cluster that trains the trees when ``training.engine = "dask"``."""

    model_config = ConfigDict(extra="forbid")

    scheduler_address: str = Field(
        "",
        description="Address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786); "
        "empty starts a LocalCluster on this machine for the fit and closes it after.",
    )
    local_workers: int = Field(
        2, ge=1, le=256, description="Worker processes of the LocalCluster (empty address)."
    )
    threads_per_worker: int = Field(
        1, ge=1, le=256, description="Threads of each LocalCluster worker (empty address)."
    )
    partitions: int = Field(
        0,
        ge=0,
        description="Partitions of the Dask dataframes of training rows; 0 = one per "
        "worker of the cluster (LightGBM trains one local part per worker).",
    )
    timeout_seconds: float = Field(
        60.0, gt=0, description="How long to wait for the scheduler and its workers."
    )
