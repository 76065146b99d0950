"""``forget``: record an opt-out, purge the subject from the online store, tell the service.

Four steps, in this order, so that a failure part-way leaves the strictest state:

1. the register line (``optouts.record_opt_outs``): from here on every run and every
   reload excludes the subject, whatever happens next;
2. the watchlists: the organisations leave every watchlist, and their events every
   feed (``serving.watchlists``; the service's database, written here directly);
3. the online store: the subject's entity rows are deleted from every feature view keyed
   by its kind (an organisation: every org view; a person: ``person_research``);
4. the running service (``POST /admin/forget``), which drops the subject from the ranking
   it serves without a restart. If no service answers, nothing is lost: the service reads
   the register at its next start and at every reload.

What is *not* immediate, by design: organisation-level features that aggregate a
forgotten person (a company's ``n_founders_phd``, its founders' paper counts...) are
computed by the feature build, which leaves the person out from the next build or retrain
on. Until then the company's online row still counts them as a number (never by name or
id); the served founder lists drop them at once.

Feast (0.67) has no API to delete entity keys from an online store, so for its SQLite
online store the rows are deleted with ``sqlite3`` by Feast's own serialized entity key
(``feast.infra.key_encoding_utils.serialize_entity_key``) from Feast's own table names
(``compute_table_id``). For its Redis online store (the production profile) Feast keeps one
hash per entity, keyed by the serialized entity key followed by the project's name; the
subject's hashes are deleted in every project (every published or older feature-store
version). Other online stores are refused with a clear error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from talentmap.optouts import ORG_KEY, PERSON_KEY, record_opt_outs, register_path
from talentmap.serving.watchlists import store_for
from talentmap.settings import Settings

ADMIN_KEY_ENV = "TALENTMAP_ADMIN_API_KEY"
SQLITE_BUSY_TIMEOUT_S = 30.0


class OnlineStoreUnsupportedError(RuntimeError):
    """The configured online store has no delete path here."""


@dataclass
class ServiceReply:
    """What the running service said (``reached`` False: nothing answered at ``url``)."""

    url: str
    reached: bool
    status: int | None = None
    body: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class ForgetOutcome:
    records: list[dict[str, Any]]
    register: Path
    online_deleted: dict[str, int] = field(default_factory=dict)  # feature view -> entities
    online_note: str | None = None
    service: ServiceReply | None = None
    watchlists: dict[str, int] = field(default_factory=dict)  # follows, events deleted


def _entity_key(join_key: str, value: str, version: int) -> bytes:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    key = EntityKey(join_keys=[join_key], entity_values=[Value(string_val=value)])
    return serialize_entity_key(key, entity_key_serialization_version=version)


def purge_online_store(
    settings: Settings, org_ids: Iterable[str] = (), person_ids: Iterable[str] = ()
) -> dict[str, int]:
    """Delete these entities' rows from the online store; entities deleted per feature view.

    A store that was never applied or materialized holds nothing: ``{}``.
    """
    from feast.infra.online_stores.helpers import compute_table_id

    from talentmap.features.store import load_config, open_store

    wanted = {
        ORG_KEY: sorted(set(map(str, org_ids))),
        PERSON_KEY: sorted(set(map(str, person_ids))),
    }
    if not any(wanted.values()):
        return {}
    config = load_config(settings)
    kind = str(config.online_store.type)
    if kind == "redis" or kind.endswith("RedisOnlineStore"):
        return _purge_redis(config, wanted)
    if kind != "sqlite" and not kind.endswith("SqliteOnlineStore"):
        raise OnlineStoreUnsupportedError(
            f"online store type {kind!r}: `forget` deletes rows from Feast's SQLite online "
            "store only; delete the entity keys with that store's own tools, or rematerialize "
            "after the next retrain"
        )
    path = Path(config.online_store.path)
    if not path.is_absolute() and config.repo_path:
        path = Path(config.repo_path) / path
    registry = settings.feature_store_dir / "registry.db"
    if not path.is_file() or not registry.is_file():
        return {}
    store = open_store(settings)
    version = int(config.entity_key_serialization_version)
    versioning = bool(getattr(config.registry, "enable_online_feature_view_versioning", False))
    deleted: dict[str, int] = {}
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)
    try:
        with connection:  # one transaction: all views or none
            existing = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            for view in store.list_feature_views():
                keys = list(view.join_keys)
                if len(keys) != 1 or not wanted.get(keys[0]):
                    continue
                table = compute_table_id(config.project, view, versioning)
                if table not in existing:
                    continue
                blobs = [_entity_key(keys[0], v, version) for v in wanted[keys[0]]]
                quoted = '"' + table.replace('"', '""') + '"'
                count = 0
                for blob in blobs:
                    cursor = connection.execute(
                        f"DELETE FROM {quoted} WHERE entity_key = ?",
                        (sqlite3.Binary(blob),),
                    )
                    count += int(cursor.rowcount > 0)
                deleted[view.name] = count
    finally:
        connection.close()
    return deleted


def _glob_escape(raw: bytes) -> bytes:
    """``raw`` as a literal in a Redis MATCH pattern."""
    return b"".join(b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c]) for c in raw)


def _purge_redis(config: Any, wanted: dict[str, list[str]]) -> dict[str, int]:
    """Delete the subjects' Feast hashes from Redis, in every TalentMap project.

    A key is the serialized entity key followed by the project name; the project of each
    feature-store version differs, so the key is matched by its prefix and the rest must
    be a project of this repo (``talentmap...``). Counts: keys deleted per join key.
    """
    from feast.infra.online_stores.redis import RedisOnlineStore

    base = config.project.split("_", 1)[0].encode()
    version = int(config.entity_key_serialization_version)
    client = RedisOnlineStore()._get_client(config.online_store)
    deleted: dict[str, int] = {}
    for join_key, values in wanted.items():
        count = 0
        for value in values:
            blob = _entity_key(join_key, value, version)
            for key in client.scan_iter(match=_glob_escape(blob) + b"*", count=1000):
                if bytes(key)[len(blob) :].startswith(base):
                    count += int(client.delete(key))
        if values:
            deleted[f"redis:{join_key}"] = count
    return deleted


def notify_service(
    url: str,
    admin_key: str | None,
    org_ids: list[str],
    person_ids: list[str],
    timeout: float = 30.0,
) -> ServiceReply:
    """``POST /admin/forget`` on a running service; ``reached=False`` if none answers."""
    import httpx

    base = url.rstrip("/")
    try:
        httpx.get(f"{base}/livez", timeout=min(timeout, 5.0))
    except httpx.HTTPError as exc:
        return ServiceReply(base, reached=False, error=f"{type(exc).__name__}: {exc}")
    if not admin_key:
        return ServiceReply(
            base, reached=True, error=f"no admin key: set {ADMIN_KEY_ENV} to reach /admin/forget"
        )
    try:
        response = httpx.post(
            f"{base}/admin/forget",
            json={"org_ids": org_ids, "person_ids": person_ids},
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        return ServiceReply(base, reached=False, error=f"{type(exc).__name__}: {exc}")
    try:
        body = response.json()
    except ValueError:
        body = {"text": response.text[:500]}
    ok = response.status_code == 200
    error = None if ok else str(body.get("error", body)) if isinstance(body, dict) else str(body)
    return ServiceReply(base, True, response.status_code, body, error)


def forget(
    settings: Settings,
    org_ids: Iterable[str] = (),
    person_ids: Iterable[str] = (),
    *,
    url: str | None = None,
    admin_key: str | None = None,
) -> ForgetOutcome:
    """Record, purge, notify (see the module docstring); ``url=None`` skips the service."""
    orgs = list(dict.fromkeys(map(str, org_ids)))
    persons = list(dict.fromkeys(map(str, person_ids)))
    if not orgs and not persons:
        raise ValueError("nothing to forget: give at least one organisation or person id")
    path = register_path(settings)
    records = record_opt_outs(path, [("org", o) for o in orgs] + [("person", p) for p in persons])
    outcome = ForgetOutcome(records=records, register=path)
    # Watchlists and their feeds (the service's SQLite file; the service need not run).
    outcome.watchlists = store_for(settings).forget(orgs)
    try:
        outcome.online_deleted = purge_online_store(settings, orgs, persons)
    except OnlineStoreUnsupportedError as exc:
        outcome.online_note = str(exc)
    if url:
        outcome.service = notify_service(url, admin_key, orgs, persons)
    return outcome
