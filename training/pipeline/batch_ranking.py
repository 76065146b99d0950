"""The publish step's batch ranking: every candidate scored at the serving date, in one pass.

Features come from the version's OFFLINE store by one point-in-time retrieval for all
candidate rows (``backtest.retrieve_features``, the code the backtest uses), not entity by
entity from the online store. The model is the champion after the promotion gate: the
fresh challenger when it was promoted, else the registry's champion, downloaded. Reasons
(TreeSHAP, in words) are computed for the top ``serving.ranking_reasons_top_n`` rows only.

The ranking is written into the version's feature-tables folder (``ranking_file``), so it
goes live with the same pointer flip, and the same Parquet file is logged to the
champion's MLflow run (``ranking/ranking.parquet``) for audit.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from feast import FeatureStore

from talentmap.optouts import opted_out
from talentmap.settings import Settings
from talentmap.training.model.estimator import META_FILE as MODEL_META_FILE
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.model.explain import top_reasons
from talentmap.training.pipeline import ranking_file
from talentmap.training.pipeline.backtest import retrieve_features
from talentmap.training.pipeline.candidates import candidates

logger = logging.getLogger("talentmap.training.ranking")

ARTIFACT_DIR = "ranking"


@dataclass(frozen=True)
class RankedBy:
    """The model that produced a ranking, and where it is registered."""

    model: PromiseModel
    model_name: str
    model_version: str
    run_id: str | None


def serving_date(settings: Settings, snapshot_date: date) -> date:
    """The date the service ranks at (``serving.as_of``), as the service computes it."""
    return settings.serving.serving_date(snapshot_date)


def _reason_json(reason: Any) -> str:
    value = reason.value
    if isinstance(value, float) and not np.isfinite(value):
        value = None
    if isinstance(value, np.generic):
        value = value.item()
    return json.dumps(
        {
            "feature": reason.feature,
            "value": value,
            "contribution": round(float(reason.contribution), 6),
            "text": reason.text,
        },
        ensure_ascii=False,
    )


def _text(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), None)


def rank_candidates(
    settings: Settings,
    store: FeatureStore | None,
    tables: dict[str, pd.DataFrame],
    snapshot_date: date,
    ranked_by: RankedBy,
    reasons_top_n: int,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], date]:
    """(ranking rows, founders, known org ids, serving date) at the serving date.

    One point-in-time retrieval from the offline store for every candidate at once.
    """
    when = serving_date(settings, snapshot_date)
    blocked = opted_out(tables.get("opt_outs"))
    entity = candidates(tables, when, settings.training.rules)
    entity = entity.loc[~entity["org_id"].astype(str).isin(blocked.org_ids)]
    entity = entity.drop_duplicates("org_id").reset_index(drop=True)
    if len(entity):
        features = retrieve_features(settings, store, entity)
        features["org_id"] = entity["org_id"].astype(str).to_numpy(dtype=object)
    else:
        features = pd.DataFrame({"org_id": pd.Series(dtype=object)})
    frame, founders, known = ranking_rows(ranked_by.model, features, tables, reasons_top_n)
    return frame, founders, known, when


def ranking_rows(
    model: PromiseModel,
    features: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    reasons_top_n: int,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Score ``features`` (one row per candidate, with ``org_id``) and lay out the files'
    rows: (ranking rows in rank order, founders, known org ids). Opt-outs of ``tables``
    are honoured: those organisations are not ranked, those persons not listed."""
    blocked = opted_out(tables.get("opt_outs"))
    features = features.loc[~features["org_id"].astype(str).isin(blocked.org_ids)]
    features = features.drop_duplicates("org_id").reset_index(drop=True)
    ids = features["org_id"].astype(str).to_numpy(dtype=object)
    if len(features):
        scores = model.predict_proba(features)[:, 1].astype(np.float64)
    else:
        scores = np.empty(0, dtype=np.float64)
    order = np.lexsort((ids.astype(str), -scores))  # equal scores by org id, as the backtest
    ids, scores = ids[order], scores[order]

    orgs = tables["organizations"].drop_duplicates("org_id").set_index("org_id")
    meta = orgs.reindex(ids)
    missing = pd.Series(None, index=meta.index, dtype=object)
    founded = (
        pd.to_datetime(meta["founded_on"]).to_numpy(dtype="datetime64[ns]")
        if "founded_on" in meta
        else np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
    )
    names = _text(meta.get("name", missing)).to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "org_id": ids,
            "name": np.where(pd.isna(names), ids, names),
            "country": _text(meta.get("country", missing)).to_numpy(dtype=object),
            "region": _text(meta.get("region", missing)).to_numpy(dtype=object),
            "city": _text(meta.get("city", missing)).to_numpy(dtype=object),
            "sector": _text(meta.get("sector", missing)).to_numpy(dtype=object),
            "founded_on": founded,
            "score": scores,
            "rank": np.arange(1, len(ids) + 1, dtype=np.int64),
            "percentile": ranking_file.percentiles(scores),
        }
    )
    reasons: list[list[str | None]] = [[None] * len(frame) for _ in ranking_file.REASON_COLUMNS]
    top = min(max(reasons_top_n, 0), len(frame))
    if top:
        head = features.iloc[order[:top]].reset_index(drop=True)
        for row, found in enumerate(top_reasons(model, head, ranking_file.N_REASONS)):
            for i, reason in enumerate(found):
                reasons[i][row] = _reason_json(reason)
    for column, values in zip(ranking_file.REASON_COLUMNS, reasons, strict=True):
        frame[column] = pd.Series(values, dtype=object)
    founders = ranking_file.founder_rows(tables, ids, blocked.person_ids)
    known = tables["organizations"]["org_id"].astype(str)
    return frame, founders, sorted(set(known) - blocked.org_ids)


def publish_ranking(
    settings: Settings,
    store: FeatureStore | None,
    tables_dir: Path,
    tables: dict[str, pd.DataFrame],
    snapshot_id: str,
    snapshot_date: date,
    ranked_by: RankedBy,
) -> tuple[Path, dict[str, Any]]:
    """Rank, then write the ranking folder into ``tables_dir``; (folder, its metadata)."""
    top_n = settings.serving.ranking_reasons_top_n
    frame, founders, known, when = rank_candidates(
        settings, store, tables, snapshot_date, ranked_by, top_n
    )
    meta = {
        "ranking_id": uuid.uuid4().hex[:12],
        "model_name": ranked_by.model_name,
        "model_version": ranked_by.model_version,
        "run_id": ranked_by.run_id,
        "feature_snapshot_id": snapshot_id,
        "lake_snapshot_id": snapshot_id,
        "as_of": when.isoformat(),
        "reasons_top_n": top_n,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    folder = ranking_file.write_ranking(tables_dir, frame, founders, known, meta)
    logger.info(
        "ranked %d candidates at %s with %s v%s (reasons for the top %d)",
        len(frame),
        when,
        ranked_by.model_name,
        ranked_by.model_version,
        min(top_n, len(frame)),
    )
    return folder, json.loads((folder / ranking_file.META_FILE).read_text(encoding="utf-8"))


def load_registered_model(settings: Settings, version: str) -> RankedBy:
    """A registered version of the promise model, from its pyfunc's saved folder."""
    import mlflow.artifacts

    from talentmap.training.tracking.target import activate, resolve_target

    target = resolve_target(settings)
    with activate(target) as client:
        run_id = client.get_model_version(target.registered_model, version).run_id or None
        with tempfile.TemporaryDirectory(prefix="talentmap-ranking-model-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{target.registered_model}/{version}",
                dst_path=tmp,
                tracking_uri=target.tracking_uri,
                registry_uri=target.registry_uri or target.tracking_uri,
            )
            found = sorted(p.parent for p in Path(local).rglob(MODEL_META_FILE))
            if not found:
                raise RuntimeError(f"version {version} holds no {MODEL_META_FILE}")
            model = PromiseModel.load(found[0])
    return RankedBy(model, target.registered_model, str(version), run_id)


def artifact_path(promoted: bool, version_name: str) -> str:
    """Where the Parquet file goes in the run: ``ranking/`` for the run's own first
    ranking; a champion kept by the gate ranks the new features too, and that list goes
    to ``ranking/<version folder>/`` so that no earlier list is overwritten."""
    return ARTIFACT_DIR if promoted else f"{ARTIFACT_DIR}/{version_name}"


def log_ranking(settings: Settings, run_id: str, folder: Path, artifact_dir: str) -> None:
    """Log ``ranking.parquet`` (org-level data only) to the run that produced it."""
    from talentmap.training.tracking.target import activate, resolve_target

    with activate(resolve_target(settings)) as client:
        client.log_artifact(run_id, str(folder / ranking_file.PARQUET_FILE), artifact_dir)
