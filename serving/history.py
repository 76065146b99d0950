"""Earlier rankings: where they are kept, and how one is read as a comparable frame.

Two places hold rankings the service served or could have served:

- **published version folders** (``<retrain.versions_dir>/<version>/features/ranking/``):
  the retrain chain's publish step writes one per feature-store version, with its
  ``ranking.json`` (model version, run, feature and lake snapshots, serving date,
  ``created_at``). The chain keeps the last ``retrain.keep_versions`` versions on disk;
- **MLflow runs**: the same ``ranking.parquet`` is logged to the run of the model that
  produced it (``ranking/ranking.parquet``, or ``ranking/<version folder>/ranking.parquet``
  when a champion kept by the gate ranked newer features). These stay as long as the runs
  do, so they give the whole history of every model version that was ever champion
  (registry tag ``champion.since``, set by the promotion gate). Artefacts are immutable:
  each is downloaded once into ``<serving.cache_dir>/rankings/<run_id>/``.

Both lists are merged by file digest (the logged file is a copy of the published one),
the published entry's metadata winning. ``previous_ranking`` picks what "what changed"
compares the served ranking with: the newest earlier ranking other than the served one
(the previous published snapshot while it is on disk, else the previous champion's last
logged ranking). Only organisation-level columns are read: no founder, no person.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from talentmap.serving.regions import map_region
from talentmap.settings import Settings
from talentmap.training.pipeline import ranking_file
from talentmap.training.tracking.target import activate, resolve_target

logger = logging.getLogger("talentmap.serving")

CHAMPION_SINCE_TAG = "champion.since"
CACHE_FOLDER = "rankings"
FRAME_COLUMNS = (
    "org_id",
    "name",
    "region",
    "city",
    "sector",
    "founded_on",
    "score",
    "rank",
    "percentile",
)


@dataclass(frozen=True)
class HistoricRanking:
    """One earlier (or the current) ranking and what produced it."""

    source: str  # "published" (a version folder) or "mlflow" (a run's artefact)
    parquet: Path  # a local copy of ranking.parquet
    digest: str  # sha256 of that file: the same list found in both places is one entry
    model_version: str | None = None
    run_id: str | None = None
    ranking_id: str | None = None
    as_of: str | None = None
    feature_snapshot_id: str | None = None
    created_at: str | None = None  # when it was ranked (published) or champion since (MLflow)
    artifact_path: str | None = None  # the run's artefact path, when logged to MLflow

    def describe(self) -> dict[str, Any]:
        """What the API says about it (no local path)."""
        return {
            "source": self.source,
            "model_version": self.model_version,
            "run_id": self.run_id,
            "ranking_id": self.ranking_id,
            "as_of": self.as_of,
            "feature_snapshot_id": self.feature_snapshot_id,
            "created_at": self.created_at,
            "artifact_path": self.artifact_path,
        }


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_rankings(settings: Settings) -> list[HistoricRanking]:
    """The rankings of the version folders still on disk (oldest first)."""
    root = settings.path(settings.retrain.versions_dir)
    found: list[HistoricRanking] = []
    if not root.is_dir():
        return found
    for meta_path in sorted(
        root.glob(f"*/features/{ranking_file.FOLDER}/{ranking_file.META_FILE}")
    ):
        if meta_path.parts[-4].startswith("."):
            continue  # a version still being staged
        folder = meta_path.parent
        parquet = folder / ranking_file.PARQUET_FILE
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            digest = _digest(parquet)
        except (OSError, ValueError) as exc:
            logger.warning("published ranking %s unreadable: %s", folder, exc)
            continue
        found.append(
            HistoricRanking(
                source="published",
                parquet=parquet,
                digest=digest,
                model_version=None
                if meta.get("model_version") is None
                else str(meta["model_version"]),
                run_id=meta.get("run_id"),
                ranking_id=meta.get("ranking_id"),
                as_of=meta.get("as_of"),
                feature_snapshot_id=meta.get("feature_snapshot_id"),
                created_at=meta.get("created_at"),
            )
        )
    return sorted(found, key=lambda r: (r.created_at or "", r.ranking_id or ""))


def _ranking_artifacts(client: Any, run_id: str, path: str = "ranking") -> list[str]:
    out: list[str] = []
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            out.extend(_ranking_artifacts(client, run_id, info.path))
        elif info.path.endswith(ranking_file.PARQUET_FILE):
            out.append(info.path)
    return sorted(out)


def _download(client: Any, run_id: str, artifact: str, local: Path) -> None:
    """Download into a staging folder, then rename: a reader never sees half a file."""
    local.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=local.parent) as staging:
        got = Path(client.download_artifacts(run_id, artifact, staging))
        os.replace(got, local)


def mlflow_rankings(settings: Settings) -> list[HistoricRanking]:
    """The rankings logged to the runs of every version that was ever champion."""
    target = resolve_target(settings)
    cache = settings.path(settings.serving.cache_dir) / CACHE_FOLDER
    found: list[HistoricRanking] = []
    with activate(target) as client:
        versions = client.search_model_versions(f"name='{target.registered_model}'")
        try:
            current = str(
                client.get_model_version_by_alias(
                    target.registered_model, settings.serving.alias
                ).version
            )
        except Exception:  # no alias yet
            current = None
        for version in versions:
            tags = dict(version.tags or {})
            if CHAMPION_SINCE_TAG not in tags and str(version.version) != current:
                continue
            run_id = version.run_id
            if not run_id:
                continue
            run = client.get_run(run_id)
            snapshot_id = run.data.params.get("lineage.snapshot_id")
            snapshot_date = run.data.params.get("lineage.snapshot_date")
            for artifact in _ranking_artifacts(client, run_id):
                local = cache / run_id / artifact
                if not local.is_file():
                    _download(client, run_id, artifact, local)
                first = artifact.count("/") == 1  # ranking/ranking.parquet: the run's own
                found.append(
                    HistoricRanking(
                        source="mlflow",
                        parquet=local,
                        digest=_digest(local),
                        model_version=str(version.version),
                        run_id=run_id,
                        as_of=snapshot_date if first else None,
                        feature_snapshot_id=snapshot_id if first else None,
                        created_at=tags.get(CHAMPION_SINCE_TAG),
                        artifact_path=artifact,
                    )
                )
    return found


def merged(
    published: Iterable[HistoricRanking], logged: Iterable[HistoricRanking]
) -> list[HistoricRanking]:
    """One entry per distinct list (by digest), the published metadata completed by the
    MLflow artefact path; oldest first."""
    by_digest: dict[str, HistoricRanking] = {}
    for entry in published:
        by_digest.setdefault(entry.digest, entry)
    for entry in logged:
        known = by_digest.get(entry.digest)
        if known is None:
            by_digest[entry.digest] = entry
        elif known.artifact_path is None:
            by_digest[entry.digest] = replace(known, artifact_path=entry.artifact_path)
    return sorted(
        by_digest.values(), key=lambda r: (r.created_at or "", r.as_of or "", r.ranking_id or "")
    )


def all_rankings(settings: Settings, with_mlflow: bool = True) -> list[HistoricRanking]:
    """Every ranking still found, oldest first (MLflow trouble only logs a warning)."""
    logged: list[HistoricRanking] = []
    if with_mlflow:
        try:
            logged = mlflow_rankings(settings)
        except Exception as exc:  # MLflow down: the published folders still answer
            logger.warning("rankings logged to MLflow unavailable: %s", exc)
    return merged(published_rankings(settings), logged)


_CACHE: dict[tuple[str, bool], tuple[float, list[HistoricRanking]]] = {}
_CACHE_LOCK = threading.Lock()


def cached_rankings(
    settings: Settings, ttl_seconds: float = 30.0, with_mlflow: bool = True
) -> list[HistoricRanking]:
    """``all_rankings``, reused for ``ttl_seconds`` (a page view makes one registry query
    at most every interval; a new publish or promotion shows within it)."""
    key = (str(settings.home), with_mlflow)
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and now - hit[0] < ttl_seconds:
            return hit[1]
    found = all_rankings(settings, with_mlflow)
    with _CACHE_LOCK:
        _CACHE[key] = (now, found)
    return found


def is_current(entry: HistoricRanking, ranking_id: str) -> bool:
    """Whether ``entry`` is the published ranking being served (a served published id is
    the file's id, suffixed when opt-outs were removed on read)."""
    return entry.ranking_id is not None and entry.ranking_id == ranking_id.split("-")[0]


def previous_ranking(
    history: list[HistoricRanking], ranking_id: str, model_version: str, run_id: str | None
) -> HistoricRanking | None:
    """The newest ranking older than the served one.

    With the served ranking among them (a published one): the entry just before it. A
    served ranking computed by the service itself (no published file) is newer than all
    of them; then the newest one that is not the served champion's own run's list.
    """
    position = next((i for i, e in enumerate(history) if is_current(e, ranking_id)), None)
    if position is not None:
        return history[position - 1] if position > 0 else None
    others = [e for e in history if not (e.run_id == run_id and e.model_version == model_version)]
    return others[-1] if others else None


@lru_cache(maxsize=16)
def _frame(path: str, digest: str) -> pd.DataFrame:
    table = pd.read_parquet(path)
    pairs = (
        table[["country", "region"]]
        .astype(object)
        .where(table[["country", "region"]].notna(), None)
    )
    mapped = {
        (c, r): map_region(c, r)
        for c, r in set(zip(pairs["country"], pairs["region"], strict=True))
    }
    table["region"] = [
        mapped[(c, r)] for c, r in zip(pairs["country"], pairs["region"], strict=True)
    ]
    return table[[c for c in FRAME_COLUMNS if c in table]].copy()


def read_frame(entry: HistoricRanking) -> pd.DataFrame:
    """The ranking as a frame for ``changes.ranking_changes`` (map regions; a copy)."""
    return _frame(str(entry.parquet), entry.digest).copy()
