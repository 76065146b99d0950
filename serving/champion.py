"""The served model: the registry's ``champion`` alias, resolved, loaded and cached locally.

``resolve_champion`` asks the MLflow registry which version the alias points at and reads
that version's run (training time, backtest metrics). ``load_champion`` then returns the
``PromiseModel`` itself: the pyfunc's artifacts hold a ``PromiseModel.save`` folder (see
``talentmap.training.tracking.pyfunc``), which is read with ``PromiseModel.load`` — no pickle is
ever unpickled.

Every loaded version is copied to ``<cache_dir>/champion/<version>/`` with a
``champion.json`` describing it, and ``<cache_dir>/champion/current.json`` names the last
one. When the registry cannot be reached at start-up, the cached champion is served and
the ``ChampionInfo`` carries a warning, which the service shows in ``GET /model`` and its
readiness output (issue 5, faults). Downloads go to a temporary folder renamed into place,
so a killed download never leaves a half-written cache entry.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talentmap.training.tracking.target import TrackingTarget, activate

if TYPE_CHECKING:  # LightGBM: imported when a model is loaded, not with the service
    from talentmap.training.model.estimator import PromiseModel

CACHE_FOLDER = "champion"
META_FILE = "promise_model.json"  # estimator.META_FILE (a unit test checks they agree)
CURRENT_FILE = "current.json"
INFO_FILE = "champion.json"
MODEL_FOLDER = "model"


class ChampionUnavailableError(RuntimeError):
    """No champion can be served: none in the registry (or unreachable) and none cached."""


@dataclass(frozen=True)
class ChampionInfo:
    """What ``GET /model`` reports about the served model."""

    model_name: str
    alias: str
    version: str
    run_id: str | None
    trained_at: str | None  # the training run's start, ISO 8601 UTC
    registered_at: str | None
    metrics: dict[str, float]
    source: str = "registry"  # or "cache"
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChampionInfo:
        fields = {k: data.get(k) for k in cls.__dataclass_fields__}
        fields["metrics"] = dict(data.get("metrics") or {})
        return cls(**fields)


def _iso_ms(millis: int | None) -> str | None:
    if not millis:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="seconds")


def resolve_champion(target: TrackingTarget, alias: str) -> ChampionInfo:
    """The version behind ``alias`` and its run's facts (raises if MLflow says no)."""
    with activate(target) as client:
        version = client.get_model_version_by_alias(target.registered_model, alias)
        run_id = version.run_id or None
        metrics: dict[str, float] = {}
        trained_at = None
        if run_id:
            run = client.get_run(run_id)
            metrics = {k: float(v) for k, v in sorted(run.data.metrics.items())}
            trained_at = _iso_ms(run.info.start_time)
    return ChampionInfo(
        model_name=target.registered_model,
        alias=alias,
        version=str(version.version),
        run_id=run_id,
        trained_at=trained_at,
        registered_at=_iso_ms(version.creation_timestamp),
        metrics=metrics,
    )


def champion_version(target: TrackingTarget, alias: str) -> str:
    """Only the version number behind the alias: the cheap call the poller makes."""
    with activate(target) as client:
        return str(client.get_model_version_by_alias(target.registered_model, alias).version)


def _find_model_folder(root: Path) -> Path:
    found = sorted(p.parent for p in root.rglob(META_FILE))
    if not found:
        raise ChampionUnavailableError(
            f"no {META_FILE} in the downloaded model: not a talentmap promise model"
        )
    return found[0]


def _download(target: TrackingTarget, info: ChampionInfo, into: Path) -> Path:
    import mlflow.artifacts

    uri = f"models:/{info.model_name}/{info.version}"
    with activate(target):
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri,
            dst_path=str(into),
            tracking_uri=target.tracking_uri,
            registry_uri=target.registry_uri or target.tracking_uri,
        )
    return _find_model_folder(Path(local))


def _cache_root(cache_dir: Path) -> Path:
    return Path(cache_dir) / CACHE_FOLDER


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)


def _cache(cache_dir: Path, info: ChampionInfo, folder: Path) -> Path:
    """Copy a model folder into the cache (atomically) and mark it current."""
    root = _cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    entry = root / info.version
    if not (entry / MODEL_FOLDER / META_FILE).is_file():
        staging = Path(tempfile.mkdtemp(prefix=f".{info.version}-", dir=root))
        shutil.copytree(folder, staging / MODEL_FOLDER)
        _write_json(staging / INFO_FILE, info.to_dict())
        if entry.exists():
            shutil.rmtree(entry)
        staging.rename(entry)
    _write_json(root / CURRENT_FILE, {"version": info.version})
    return entry / MODEL_FOLDER


def cached_champion(cache_dir: Path) -> tuple[ChampionInfo, Path] | None:
    """The last champion cached locally, if any."""
    root = _cache_root(cache_dir)
    try:
        version = json.loads((root / CURRENT_FILE).read_text(encoding="utf-8"))["version"]
        info = ChampionInfo.from_dict(
            json.loads((root / str(version) / INFO_FILE).read_text(encoding="utf-8"))
        )
    except (OSError, KeyError, ValueError, TypeError):
        return None
    folder = root / str(version) / MODEL_FOLDER
    return (info, folder) if (folder / META_FILE).is_file() else None


def _load_model(folder: Path) -> PromiseModel:
    from talentmap.training.model.estimator import PromiseModel

    return PromiseModel.load(folder)


def load_version(target: TrackingTarget, info: ChampionInfo, cache_dir: Path) -> PromiseModel:
    """The model of the version ``info`` names (its run id checked), whatever the alias
    says now: the cache's copy when it holds that version, else downloaded (the cache's
    ``current`` mark is left alone: only ``load_champion`` moves it)."""
    entry = _cache_root(cache_dir) / info.version
    try:
        cached = ChampionInfo.from_dict(json.loads((entry / INFO_FILE).read_text(encoding="utf-8")))
    except (OSError, KeyError, ValueError, TypeError):
        cached = None
    folder = entry / MODEL_FOLDER
    if cached is not None and cached.run_id == info.run_id and (folder / META_FILE).is_file():
        return _load_model(folder)
    with tempfile.TemporaryDirectory(prefix="talentmap-model-") as tmp:
        return _load_model(_download(target, info, Path(tmp)))


class LazyModel:
    """A model loaded on first call, once (several requests may ask at the same time)."""

    def __init__(self, load: Callable[[], PromiseModel]) -> None:
        self._load = load
        self._model: PromiseModel | None = None
        self._lock = threading.Lock()

    def __call__(self) -> PromiseModel:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model


def load_champion(
    target: TrackingTarget, alias: str, cache_dir: Path
) -> tuple[ChampionInfo, PromiseModel]:
    """The champion's facts and model, from the registry, else from the local cache."""
    try:
        info = resolve_champion(target, alias)
    except Exception as exc:  # MLflow raises many kinds (HTTP, SQL, "alias not found")
        cached = cached_champion(cache_dir)
        if cached is None:
            raise ChampionUnavailableError(
                f"cannot resolve {target.registered_model}@{alias} in {target.tracking_uri} "
                f"({type(exc).__name__}: {exc}) and no champion is cached in {cache_dir}"
            ) from exc
        info, folder = cached
        warning = (
            f"MLflow registry unreachable or alias missing ({type(exc).__name__}); serving "
            f"the locally cached champion version {info.version}"
        )
        return replace(info, source="cache", warning=warning), _load_model(folder)
    cached = cached_champion(cache_dir)
    if cached is not None and (cached[0].version, cached[0].run_id) == (info.version, info.run_id):
        return info, _load_model(cached[1])
    with tempfile.TemporaryDirectory(prefix="talentmap-champion-") as tmp:
        folder = _cache(cache_dir, info, _download(target, info, Path(tmp)))
    return info, _load_model(folder)
