"""Where the Spark feature engine runs, and how big its driver may grow.

Used only when ``features.engine = spark``: the feature build then runs its family
builders on Spark, and Feast's Spark offline store serves historical retrieval. Tests run
on ``local[*]``; production points ``master`` at a cluster (``spark://host:7077``,
``yarn``, ``k8s://...``). Cluster credentials never go here: Spark reads them from its own
environment (``HADOOP_CONF_DIR``, ``AWS_*``...).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class SparkSettings(BaseModel):
    """The Spark session of the feature build and of Feast's Spark offline store."""

    master: str = Field(
        "local[*]",
        description="Spark master URL (TALENTMAP_FEATURES__SPARK__MASTER): local[*] in tests, "
        "a cluster URL in production.",
    )
    driver_memory: str = Field("2g", description="spark.driver.memory.")
    buckets: int = Field(
        16,
        ge=1,
        description="Organisation buckets (hash of org_id) the organisation-local families "
        "are built in; each bucket is one Spark task.",
    )
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Spark properties, e.g. spark.executor.memory or S3 settings.",
    )
