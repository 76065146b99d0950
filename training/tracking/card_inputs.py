"""The fairness figures a run's model card and metrics carry, computed from its scores."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from talentmap.settings.training import FairnessConfig
from talentmap.training.tracking.target import metric_key


def aligned_audit(audit: pd.DataFrame | None, org_ids: pd.Series) -> pd.DataFrame | None:
    """The audit groups of ``org_ids``, in their order; a company without one is unknown."""
    if audit is None:
        return None
    from talentmap.training.evaluation.fairness_audit import AUDIT_COLUMNS, UNKNOWN

    columns = [c for c in AUDIT_COLUMNS if c in audit.columns]
    table = audit.drop_duplicates("org_id").set_index("org_id")[columns]
    return table.reindex(org_ids.astype(str).to_numpy()).fillna(UNKNOWN).reset_index(drop=True)


@dataclass(frozen=True)
class FairnessResult:
    """The fairness audit of one run: per-dimension tables and the regional floor's cost."""

    config: FairnessConfig
    tables: Mapping[str, pd.DataFrame]
    regional_floor: Mapping[str, Any] | None

    def metrics(self) -> dict[str, float]:
        from talentmap.training.evaluation.fairness import fairness_metrics

        out = fairness_metrics(self.tables, self.config.k)
        floor = self.regional_floor or {}
        k = self.config.k
        for key, name in (
            ("precision_at_k_without", f"precision@{k}_without"),
            ("precision_at_k_with", f"precision@{k}_with"),
            ("cost", f"precision@{k}_cost"),
            ("promoted", "promoted"),
        ):
            if floor.get(key) is not None:
                out[metric_key("fairness", "regional_floor", name)] = float(floor[key])
        return out


def fairness_of_run(
    config: FairnessConfig,
    y: np.ndarray,
    score: np.ndarray,
    groups: pd.DataFrame | None,
) -> FairnessResult | None:
    """Audit the model's top k by every group column, and price the regional floor."""
    if groups is None:
        return None
    from talentmap.contract import FR_REGIONS
    from talentmap.training.evaluation.fairness import fairness_audit
    from talentmap.training.evaluation.fairness_audit import REGION
    from talentmap.training.evaluation.regional_floor import regional_floor_cost

    tables = fairness_audit(score, groups, config, y_true=y)
    floor = None
    if config.floor_m > 0 and REGION in groups.columns:
        floor = regional_floor_cost(
            y, score, groups[REGION].to_numpy(dtype=object), config.k, config.floor_m, FR_REGIONS
        )
    return FairnessResult(config, tables, floor)
