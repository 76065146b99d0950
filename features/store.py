"""The Feast feature store of TalentMap: open, write tables, apply, materialize, retrieve.

Configuration comes from the one YAML file (``feature_store.yaml``) with its ``${VAR}``
placeholders expanded from the environment, overlaid with the folders of the settings.
Retrieval takes as-of dates as dates or timestamps; naive timestamps are read as UTC and
every returned ``as_of`` is a UTC timestamp.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from feast import FeatureStore
from feast.repo_config import RepoConfig

from talentmap.features.catalog import (
    AS_OF_FIELD,
    EVENT_TS,
    FAMILIES,
    ON_DEMAND_FAMILIES,
    ORG_KEY,
    SERVICE_NAME,
    linked_entities,
    model_feature_refs,
    table_path,
)
from talentmap.features.definitions.repo import repo_objects
from talentmap.features.online_load import load_online
from talentmap.settings import Settings
from talentmap.settings.root import FEAST_REDIS_URL_VAR, FEAST_REGISTRY_URL_VAR

CONFIG_FILE = "feature_store.yaml"
SNAPSHOT_FILE = "snapshot.json"
STORE_DIR_VAR = "TALENTMAP_FEAST_STORE_DIR"
TABLES_DIR_VAR = "TALENTMAP_FEATURE_TABLES_DIR"
PACKAGED_REPO = Path(__file__).resolve().parent / "feature_repo"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_TS_SUFFIX = "__ts"  # Feast's suffix for a feature's event timestamp in online responses
# The key of an organisation that links nowhere (unknown sector, no round yet): no row has
# it, so the linked features come back missing. Feast's join keys cannot be null.
NO_LINK = ""

# Feast's modules reset the DeprecationWarning filters when imported, so the notice that
# ibis (under Feast's DuckDB offline store) prints on every query is silenced here, after.
warnings.filterwarnings("ignore", message=r"fetch_arrow_table\(\) is deprecated")
# The on-demand `timing` view is deliberate (see features/README.md); Feast warns on every
# retrieval that ODFVs are experimental.
warnings.filterwarnings("ignore", message=r"On demand feature view is an experimental feature")


def config_file(settings: Settings) -> Path:
    """The configured ``feature_store.yaml``, or the packaged default when the configured
    repo folder has none (e.g. a ``Settings(home=tmp_path)`` in tests)."""
    configured = settings.feature_repo_dir / CONFIG_FILE
    return configured if configured.is_file() else PACKAGED_REPO / CONFIG_FILE


def feast_environment(settings: Settings) -> dict[str, str]:
    """The variables the YAML file may reference, taken from the settings."""
    return {
        STORE_DIR_VAR: str(settings.feature_store_dir),
        TABLES_DIR_VAR: str(settings.feature_tables_dir),
    }


def expand(text: str, env: Mapping[str, str]) -> str:
    """``os.path.expandvars`` over an explicit mapping (unknown names are left as is)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    return _PLACEHOLDER.sub(replace, text)


def project_name(settings: Settings, base: str = "talentmap") -> str:
    """The Feast project of this store: ``base`` on embedded stores; with a shared registry
    or online store, ``base`` plus a hash of the store folder's resolved path.

    Retraining builds each version in its own folder and publishes it by switching a
    symlink; on shared stores (one PostgreSQL registry, one Redis) the project plays the
    folder's part: a version's rows live under its own project, and the live link names
    the published one.
    """
    features = settings.features
    if features.registry == "file" and features.online_store == "sqlite":
        return base
    real = str(settings.feature_store_dir.resolve())
    return f"{base}_{hashlib.sha256(real.encode()).hexdigest()[:12]}"


def _required_env(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ValueError(f"{what} is configured but {name} is not set in the environment")
    return value


def shared_store_overlay(settings: Settings, raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` (the YAML file's content) with the registry and online store the settings
    choose; URLs and passwords come from the environment only."""
    out = dict(raw)
    features = settings.features
    if features.registry == "sql":
        previous = raw.get("registry") if isinstance(raw.get("registry"), dict) else {}
        out["registry"] = {
            "registry_type": "sql",
            "path": _required_env(FEAST_REGISTRY_URL_VAR, "features.registry = sql"),
            "cache_ttl_seconds": previous.get("cache_ttl_seconds", 60),
            "sqlalchemy_config_kwargs": {"pool_pre_ping": True},
        }
    if features.online_store == "redis":
        out["online_store"] = {
            "type": "redis",
            "connection_string": _required_env(
                FEAST_REDIS_URL_VAR, "features.online_store = redis"
            ),
        }
    if features.engine == "spark":
        # Historical retrieval on Spark, over the same Parquet tables (SparkSources).
        from talentmap.features.spark_build import spark_conf

        out["offline_store"] = {"type": "spark", "spark_conf": spark_conf(features.spark)}
    out["project"] = project_name(settings, str(raw.get("project", "talentmap")))
    return out


def load_config(settings: Settings) -> RepoConfig:
    env = {**os.environ, **feast_environment(settings)}
    raw = yaml.safe_load(expand(config_file(settings).read_text(encoding="utf-8"), env))
    config = RepoConfig(**shared_store_overlay(settings, raw))
    config.repo_path = settings.feature_repo_dir
    return config


def open_store(settings: Settings) -> FeatureStore:
    """A FeatureStore on the configured YAML file, with a freshly read registry."""
    settings.feature_store_dir.mkdir(parents=True, exist_ok=True)
    return FeatureStore(repo_path=str(settings.feature_repo_dir), config=load_config(settings))


def write_feature_tables(
    tables: Mapping[str, pd.DataFrame] | Iterable[tuple[str, pd.DataFrame]],
    out_dir: Path,
    snapshot_id: str,
    snapshot_date: date | None = None,
    engine: str = "duckdb",
) -> dict[str, Path]:
    """Write one Parquet file per family and ``snapshot.json`` (lineage to the lake).

    Each file is written under a temporary name and renamed, so a reader never sees a
    half-written table. For ``engine="spark"`` timestamps are stored in microseconds:
    Spark cannot read Parquet's nanosecond timestamps, and every ``event_timestamp`` is a
    midnight, so nothing is lost.
    """
    options: dict[str, Any] = {}
    if engine == "spark":
        options = {"coerce_timestamps": "us", "allow_truncated_timestamps": False}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    rows: dict[str, int] = {}
    # A mapping, or (family, table) pairs from a generator: each table is let go once
    # written, so a streamed build holds one family at a time.
    pairs = tables.items() if isinstance(tables, Mapping) else tables
    for family, frame in pairs:
        path = table_path(out_dir, family)
        tmp = path.with_suffix(".parquet.tmp")
        frame.to_parquet(tmp, index=False, **options)
        tmp.replace(path)
        written[family] = path
        rows[family] = len(frame)
        del frame
    _write_lineage(out_dir, snapshot_id, snapshot_date, rows)
    return written


def table_schema(family: str, engine: str = "duckdb") -> pa.Schema:
    """A family table's Parquet schema, from the catalogue (what ``finalize`` makes)."""
    spec = FAMILIES[family]
    unit = "us" if engine == "spark" else "ns"
    return pa.schema(
        [
            (spec.key, pa.string()),
            (EVENT_TS, pa.timestamp(unit, tz="UTC")),
            *((column, pa.string()) for column in spec.strings),
            *((column, pa.float64()) for column in spec.numeric),
        ]
    )


def write_feature_chunks(
    chunks: Iterable[tuple[str, pd.DataFrame]],
    out_dir: Path,
    snapshot_id: str,
    snapshot_date: date | None = None,
    engine: str = "duckdb",
) -> dict[str, int]:
    """``write_feature_tables`` for (family, chunk) pairs: each chunk is appended to its
    family's file as it comes (a family's chunks in key order), so no table is held whole.

    Files are written under temporary names and renamed once every chunk is in.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    rows: dict[str, int] = {}
    try:
        for family, frame in chunks:
            if family not in writers:
                schema = table_schema(family, engine)
                tmp = table_path(out_dir, family).with_suffix(".parquet.tmp")
                writers[family] = pq.ParquetWriter(tmp, schema)
                rows[family] = 0
            table = pa.Table.from_pandas(frame, schema=writers[family].schema, preserve_index=False)
            writers[family].write_table(table)
            rows[family] += len(frame)
            del frame, table
    finally:
        for writer in writers.values():
            writer.close()
    for family in writers:
        path = table_path(out_dir, family)
        path.with_suffix(".parquet.tmp").replace(path)
    # Chunks come family-interleaved (organisation-local families first): the lineage
    # lists families in the catalogue's order, as the one-shot writer does.
    rows = {f: rows[f] for f in [*FAMILIES, *sorted(set(rows) - set(FAMILIES))] if f in rows}
    _write_lineage(out_dir, snapshot_id, snapshot_date, rows)
    return rows


def _write_lineage(
    out_dir: Path, snapshot_id: str, snapshot_date: date | None, rows: dict[str, int]
) -> None:
    lineage = {
        "snapshot_id": snapshot_id,
        "snapshot_date": snapshot_date.isoformat() if snapshot_date else None,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows,
    }
    (out_dir / SNAPSHOT_FILE).write_text(json.dumps(lineage, indent=2), encoding="utf-8")


def read_lineage(tables_dir: Path) -> dict[str, Any] | None:
    path = Path(tables_dir) / SNAPSHOT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def apply(settings: Settings) -> FeatureStore:
    """Register every definition, pointed at the configured tables folder."""
    missing = [f for f in FAMILIES if not table_path(settings.feature_tables_dir, f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"feature tables missing in {settings.feature_tables_dir}: {', '.join(missing)}"
            " (run `talentmap features build` first)"
        )
    store = open_store(settings)
    store.apply(repo_objects(settings.feature_tables_dir, settings.features.engine))
    store.refresh_registry()
    return store


def to_utc(values: Iterable[Any] | pd.Series) -> pd.Series:
    """Dates or timestamps as UTC timestamps; naive values are taken to be UTC."""
    series = pd.Series(values)
    if series.dtype == object:
        series = series.map(
            lambda v: (
                datetime(v.year, v.month, v.day)
                if isinstance(v, date) and not isinstance(v, datetime)
                else v
            )
        )
    stamps = pd.to_datetime(series)
    if stamps.dt.tz is None:
        return stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC")


def materialize(settings: Settings, end: datetime | date) -> FeatureStore:
    """Load each entity's latest row dated on or before ``end``, within its view's TTL,
    into the online store (``online_load``: DuckDB picks the rows, Feast writes them)."""
    store = open_store(settings)
    end_utc = to_utc([end]).iloc[0].to_pydatetime()
    chunk = settings.features.materialize_batch_rows
    load_online(store, settings.feature_tables_dir, end_utc, chunk, online_views())
    return store


def online_views() -> set[str]:
    """The feature views ``get_online_features`` reads (the ``promise`` service, the
    on-demand views' inputs and the links): the only ones worth loading online. A person's
    research counts (``person_research``) are read by no online path, so personal data
    stays out of the online store too."""
    return {ref.split(":", 1)[0] for ref in [*_online_refs(), *_link_refs()]}


def promise_columns() -> list[str]:
    """Feature columns of the ``promise`` service, in retrieval order."""
    return [ref.split(":", 1)[1] for ref in model_feature_refs()]


def text_feature_names() -> set[str]:
    """The text (categorical) features, by the catalogue, never by a frame's dtype."""
    return {c for family in FAMILIES.values() for c in family.strings}


def pin_feature_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """``org_id`` plus the promise features: text as object (None missing), the rest float64.

    Training and serving both pass retrieved features through here, so a column that
    happens to be all missing in one retrieval cannot change type, and with it the model.
    """
    text = text_feature_names()
    out: dict[str, object] = {"org_id": frame["org_id"].astype(str).to_numpy(dtype=object)}
    for name in promise_columns():
        column = frame[name]
        if name in text:
            out[name] = column.astype(object).where(column.notna(), None).to_numpy()
        else:
            out[name] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    return pd.DataFrame(out)


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [ORG_KEY, AS_OF_FIELD, *promise_columns()]
    return frame[columns]


def get_training_frame(
    settings: Settings, entity_df: pd.DataFrame, store: FeatureStore | None = None
) -> pd.DataFrame:
    """Point-in-time ``promise`` features for (org_id, as_of) rows, in the input order.

    Rows go through Feast in batches of ``retrieval_batch`` rows, taken in as-of
    order (each batch spans few dates, so the join reads a narrow time range). Every row's
    join is independent of the others, so the batches give the same values as one call.
    Only the part of the join's memory that follows the entity rows is bounded by the
    batch: Feast's DuckDB store still reads the views' rows in each batch's time range.
    """
    store = store or open_store(settings)
    batch = retrieval_batch(settings, len(promise_columns()))
    if len(entity_df) <= batch:
        return _training_frame(store, entity_df)
    entity_df = entity_df.reset_index(drop=True)
    when = to_utc(entity_df[AS_OF_FIELD]).to_numpy()
    order = np.argsort(when, kind="stable")
    parts = [
        _training_frame(store, entity_df.iloc[order[start : start + batch]])
        for start in range(0, len(order), batch)
    ]
    frame = pd.concat(parts, ignore_index=True)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return frame.iloc[back].reset_index(drop=True)


def retrieval_batch(settings: Settings, n_columns: int) -> int:
    """Entity rows per Feast call: ``retrieval_batch_rows`` if set, else sized by cells.

    The join's memory follows rows × feature columns, so without an explicit row count
    the batch is ``retrieval_batch_cells // n_columns`` rows (at least one).
    """
    rows = settings.features.retrieval_batch_rows
    if rows is not None:
        return rows
    return max(1, settings.features.retrieval_batch_cells // max(1, n_columns))


def _training_frame(store: FeatureStore, entity_df: pd.DataFrame) -> pd.DataFrame:
    """One Feast point-in-time retrieval for ``entity_df``'s rows, in their order."""
    as_of = to_utc(entity_df[AS_OF_FIELD].reset_index(drop=True))
    entities = pd.DataFrame(
        {
            ORG_KEY: entity_df[ORG_KEY].astype(str).to_numpy(),
            EVENT_TS: as_of,
            AS_OF_FIELD: as_of,
            "_row": range(len(entity_df)),
        }
    )
    entities = _with_historical_links(store, entities)
    job = store.get_historical_features(
        entity_df=entities, features=store.get_feature_service(SERVICE_NAME)
    )
    frame = job.to_df().sort_values("_row").reset_index(drop=True)
    # Nanoseconds whatever the offline store returned (Spark's are microseconds).
    frame[AS_OF_FIELD] = to_utc(frame[AS_OF_FIELD]).astype("datetime64[ns, UTC]")
    return _tidy(frame)


def get_online_features(
    settings: Settings,
    org_ids: Iterable[str],
    as_of: datetime | date | None = None,
    store: FeatureStore | None = None,
) -> pd.DataFrame:
    """Latest materialized ``promise`` features, time-relative ones computed at ``as_of``
    (default: now, UTC)."""
    store = store or open_store(settings)
    when = to_utc([as_of or datetime.now(UTC)]).iloc[0].to_pydatetime()
    orgs = [str(org) for org in org_ids]
    links = _online_links(store, orgs, when)
    rows = [
        {ORG_KEY: org, AS_OF_FIELD: when, **{key: keys[i] for key, keys in links.items()}}
        for i, org in enumerate(orgs)
    ]
    frame = store.get_online_features(features=_online_refs(), entity_rows=rows).to_df(
        include_event_timestamps=True
    )
    frame[AS_OF_FIELD] = pd.Timestamp(when)
    return _tidy(_recompute_on_demand(_expire(frame, when)))


def _online_refs() -> list[str]:
    """The ``promise`` features plus the stored inputs of the on-demand views.

    Feast computes on-demand features online from inputs however old they are; historical
    retrieval blanks inputs past their TTL first (a round pool's median a month after the
    data ends). The inputs are read too, so ``_recompute_on_demand`` can do the same.
    """
    inputs = [
        f"{family}:{column}"
        for spec in ON_DEMAND_FAMILIES.values()
        for family, columns in spec.inputs
        for column in columns
    ]
    return list(dict.fromkeys([*model_feature_refs(), *inputs]))


def _recompute_on_demand(frame: pd.DataFrame) -> pd.DataFrame:
    """On-demand features from the (expired) inputs, by the views' own functions."""
    for spec in ON_DEMAND_FAMILIES.values():
        computed = spec.udf(frame)
        for column in spec.numeric:
            frame[column] = computed[column].to_numpy()
    return frame


def _link_refs() -> list[str]:
    return [f"{spec.link[0]}:{spec.link[1]}" for spec in linked_entities() if spec.link]


def _link_keys(values: pd.Series) -> np.ndarray:
    return values.astype(object).where(values.notna(), NO_LINK).astype(str).to_numpy()


def _with_historical_links(store: FeatureStore, entities: pd.DataFrame) -> pd.DataFrame:
    """``entities`` plus the key of every linked entity, looked up point in time.

    The organisation's link at t (its market cell, its last round's pool) is itself a
    feature value at t, so it is read through Feast first; the linked views are then
    joined on those keys at the same t.
    """
    if not _link_refs():
        return entities
    job = store.get_historical_features(
        entity_df=entities[[ORG_KEY, EVENT_TS, "_row"]], features=_link_refs()
    )
    found = job.to_df().sort_values("_row").reset_index(drop=True)
    out = entities.copy()
    for spec in linked_entities():
        assert spec.link is not None
        out[spec.key] = _link_keys(found[spec.link[1]])
    return out


def _online_links(store: FeatureStore, orgs: list[str], when: datetime) -> dict[str, np.ndarray]:
    """The linked entities' keys of ``orgs`` from the online store, expired as offline."""
    if not _link_refs() or not orgs:
        return {}
    frame = store.get_online_features(
        features=_link_refs(), entity_rows=[{ORG_KEY: org} for org in orgs]
    ).to_df(include_event_timestamps=True)
    frame = _expire(frame, when)
    return {spec.key: _link_keys(frame[spec.link[1]]) for spec in linked_entities() if spec.link}


def _expire(frame: pd.DataFrame, when: datetime) -> pd.DataFrame:
    """Blank values older than their view's TTL at ``when``, as historical retrieval does.

    Feast's online read returns the latest materialized row however old it is; without
    this, a stale hiring signal would be served where training saw it missing.
    """
    now = when.timestamp()
    for spec in FAMILIES.values():
        for column in spec.columns:
            stamp = f"{column}{_TS_SUFFIX}"
            if column not in frame.columns or stamp not in frame.columns:
                continue
            seconds = pd.to_numeric(frame[stamp], errors="coerce")
            stale = (seconds > 0) & (seconds + spec.ttl.total_seconds() < now)
            frame[column] = frame[column].where(~stale, None if column in spec.strings else np.nan)
    return frame
