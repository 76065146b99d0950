"""The service's state: one reference to what is served, and the reloads that replace it.

``ServingState.served`` is the only thing requests read: a frozen ``Served`` (champion facts
+ ranking). Reloads build a complete new ``Served`` off the request path (in the poller
thread, or in a worker thread for ``POST /admin/reload``) and publish it with one
attribute assignment, which is atomic in Python; a request that read ``served`` once at its
start answers from one model and one ranking whatever happens meanwhile. Reloads are
serialised by a lock, so two never interleave.

Subjects forgotten at run time (``forget``) are kept in ``forgotten`` and applied to every
ranking built afterwards, so a reload cannot bring them back even before the lake records
their opt-out. They are also appended to a file shared by every worker
(``forgotten.py``); each request compares that file's and the ``talentmap forget``
register's stamps with those its ``Served`` honours (two ``stat`` calls) and drops newly
forgotten subjects at once, so a forget reaches every worker.

Published rankings (issue 10): when the retrain chain published a ranking with the live
feature version (``training.pipeline.ranking_file``) and it was produced by the champion
being served, at the serving date, a reload maps that file instead of scoring every
candidate from the online store. Otherwise (an older publish, a champion moved by hand)
the ranking is computed as before, with a log line saying why. Each request also checks
the published ranking's stamp (one ``stat`` through the live link): a new publish is
followed at once by every worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talentmap.optouts import read_settings_register, register_stamp
from talentmap.serving.champion import (
    ChampionInfo,
    LazyModel,
    champion_version,
    load_champion,
    load_version,
)
from talentmap.serving.forgotten import (
    forgotten_path,
    forgotten_stamp,
    read_forgotten,
    record_forgotten,
)
from talentmap.serving.known import KnownIds, any_known
from talentmap.serving.ranking import (
    OptOuts,
    Ranking,
    RankingLineage,
    _FileIndex,
    ranking_from_published,
)
from talentmap.serving.reload_marker import bump_marker, marker_path, marker_stamp, read_marker
from talentmap.settings import Settings
from talentmap.settings.serving import ServingConfig
from talentmap.training.pipeline.ranking_file import PublishedRanking, ranking_stamp, read_ranking
from talentmap.training.tracking.target import TrackingTarget, resolve_target

if TYPE_CHECKING:
    import pandas as pd

    from talentmap.training.model.estimator import PromiseModel

logger = logging.getLogger("talentmap.serving")


# Feast (about 3 s to import) is imported on first use, not with the service module:
# ``bentoml serve`` imports the module in its arbiter and again in each worker, and a
# worker serving a published ranking needs Feast only for ``/score``.
LINEAGE_FILE = "snapshot.json"  # features.store.SNAPSHOT_FILE (a test checks they agree)


def read_lineage(tables_dir: Any) -> dict[str, Any] | None:
    """``features.store.read_lineage``, without importing Feast."""
    path = Path(tables_dir) / LINEAGE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def load_inputs(settings: Settings, config: ServingConfig) -> Any:
    from talentmap.serving.inputs import load_inputs as load

    return load(settings, config)


def build_ranking(*args: Any, **kwargs: Any) -> Ranking:
    from talentmap.serving.ranking import build_ranking as build

    return build(*args, **kwargs)


def online_features(*args: Any, **kwargs: Any) -> pd.DataFrame:
    from talentmap.serving.inputs import online_features as read

    return read(*args, **kwargs)


@dataclass(frozen=True)
class Served:
    champion: ChampionInfo
    ranking: Ranking
    # in the lake and not opted out: what /score may answer (a frozenset, or for a
    # published ranking the mapped known.arrow column: ``known.KnownIds``)
    known_org_ids: frozenset[str] | KnownIds
    loaded_at: float  # time.time()
    build_seconds: float
    # features' (snapshot, built_at), then the forget register's size and mtime
    feature_stamp: tuple[str | None, ...] = (None, None, None)
    source: str = "computed"  # "published": mapped from the retrain chain's ranking file
    published_stamp: str | None = None  # the published ranking's stamp when this was built
    forget_stamps: tuple[str | None, str | None] = (None, None)  # (register, shared file)
    reload_stamp: str | None = None  # the reload marker's stamp when this was built


@dataclass(frozen=True)
class ReloadOutcome:
    reloaded: bool
    previous_version: str | None
    served: Served


# Programming errors raised while reading features: never mistaken for a store fault.
_CODE_ERRORS = (NameError, AttributeError, TypeError, ImportError, AssertionError)


class OnlineStoreError(RuntimeError):
    """The online store cannot be read: no ranking or score may be computed from it."""


def new_ranking_id() -> str:
    return uuid.uuid4().hex[:12]


class ServingState:
    """Holds what is served and knows how to rebuild it."""

    def __init__(
        self,
        settings: Settings,
        config: ServingConfig,
        target: TrackingTarget | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.target = target or resolve_target(settings)
        self.served: Served | None = None
        self.problem: str | None = "starting: loading the champion and ranking candidates"
        # Set while the online store cannot be read (issue 5, faults): readiness fails and
        # /shortlist and /score answer 503 with this reason rather than an answer that can
        # no longer be checked against the store; a successful reload clears it.
        self.store_problem: str | None = None
        self.forgotten = OptOuts()
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: Any = None
        self._store_lock = threading.Lock()
        self.forgotten_file = forgotten_path(settings.path(config.cache_dir))
        self._swap_lock = threading.Lock()
        self._checked_at = 0.0
        self._failed_publish: str | None = None
        self.reload_file = marker_path(settings.path(config.cache_dir))
        self._failed_marker: str | None = None
        # The marker this worker bumped itself: its own requests keep the current ranking
        # while it reloads (a hot reload), instead of following their own worker's bump.
        self._own_marker: str | None = None
        self._follow_lock = threading.Lock()  # concurrent requests follow a marker once
        self._follower: threading.Thread | None = None
        self._follower_lock = threading.Lock()
        self._index: tuple[str, _FileIndex] | None = None  # (file stamp, its indexes)
        # False while serving a published ranking whose champion the registry has not
        # confirmed yet (the fast start): see ``start_from_published``.
        self.confirmed = True
        # Set once the first load has an outcome (a ranking served, or a failed attempt):
        # requests that arrive before it wait for it (``first_load_settled``).
        self._first_load = threading.Event()

    # ------------------------------------------------------------------ status
    def readiness(self) -> tuple[bool, str]:
        served = self.served
        if served is None:
            return False, self.problem or "no ranking loaded"
        if self.store_problem is not None:
            return False, self.store_problem
        return True, served.champion.warning or "ok"

    def first_load_settled(self) -> bool:
        """Whether the start-up load has served a ranking or failed at least once."""
        return self._first_load.is_set()

    def refusal(self) -> str | None:
        """Why no answer may be given now (None: answer from ``served``)."""
        if self.served is None:
            return self.problem or "no ranking loaded yet"
        return self.store_problem

    # ------------------------------------------------------------------ building
    def feature_stamp(self) -> tuple[str | None, ...]:
        """Which feature build the online store holds (a retrain changes it), and which
        state of the forget register (a `talentmap forget` that could not reach this
        service changes it, so the poller drops the subject within one interval)."""
        lineage = read_lineage(self.settings.feature_tables_dir) or {}
        return lineage.get("snapshot_id"), lineage.get("built_at"), register_stamp(self.settings)

    def forget_stamps(self) -> tuple[str | None, str | None]:
        return register_stamp(self.settings), forgotten_stamp(self.forgotten_file)

    def build(
        self,
        champion: ChampionInfo,
        model: PromiseModel | LazyModel,
        published: PublishedRanking | None = None,
    ) -> Served:
        """A complete new ``Served``: the published ranking if it fits, else computed.

        ``published``: the file already read (the fast start), else it is read here.
        """
        forget_stamps = self.forget_stamps()  # before reading: a later append is re-checked
        reload_stamp = marker_stamp(self.reload_file)  # likewise: a later bump is followed
        self.forgotten = self.forgotten.union(read_forgotten(self.forgotten_file))
        published_stamp = ranking_stamp(self.settings.feature_tables_dir)
        published = self._usable_published(champion, published)
        if published is not None:
            served = self._build_published(champion, model, published)
        else:
            if isinstance(model, LazyModel):
                model = model()
            served = self._build_computed(champion, model)
        return replace(
            served,
            published_stamp=published.stamp if published is not None else published_stamp,
            forget_stamps=forget_stamps,
            reload_stamp=reload_stamp,
        )

    def _read_published(self) -> PublishedRanking | None:
        tables_dir = self.settings.feature_tables_dir
        try:
            published = read_ranking(tables_dir)
        except Exception as exc:  # unreadable file: the computed ranking is still right
            logger.warning("published ranking unreadable (%s); ranking candidates here", exc)
            return None
        if published is None:
            logger.info(
                "no ranking published with the feature version at %s (an older publish): "
                "ranking every candidate from the online store",
                tables_dir,
            )
        return published

    def _serving_date_problem(self, meta: dict[str, Any]) -> str | None:
        """Why the published ranking is not at the serving date this service computes."""
        lineage = read_lineage(self.settings.feature_tables_dir) or {}
        snapshot_day = lineage.get("snapshot_date")
        expected = (
            self.config.serving_date(date.fromisoformat(snapshot_day)) if snapshot_day else None
        )
        if expected is not None and meta.get("as_of") != expected.isoformat():
            return f"it ranks at {meta.get('as_of')}, not at the serving date {expected}"
        return None

    def _usable_published(
        self, champion: ChampionInfo, published: PublishedRanking | None = None
    ) -> PublishedRanking | None:
        """The published ranking, if the served champion produced it at the serving date."""
        published = published or self._read_published()
        if published is None:
            return None
        meta = published.meta
        why = None
        if (str(meta.get("model_version")), meta.get("run_id")) != (
            champion.version,
            champion.run_id,
        ):
            why = f"it was produced by version {meta.get('model_version')}"
        else:
            why = self._serving_date_problem(meta)
        if why is not None:
            logger.info(
                "published ranking %s not used for champion v%s: %s; ranking every candidate "
                "from the online store",
                meta.get("ranking_id"),
                champion.version,
                why,
            )
            return None
        return published

    def _published_opt_outs(self) -> OptOuts:
        """Opt-outs that bind now: the register, the latest lake snapshot's, the forgotten."""
        from talentmap.lake import Lake

        found = OptOuts.from_table(read_settings_register(self.settings))
        lake = Lake(self.settings.lake_dir)
        latest = lake.latest()
        if latest is not None:
            table = lake.load(latest.snapshot_id, ["opt_outs"]).get("opt_outs")
            found = found.union(OptOuts.from_table(table))
        return found.union(self.forgotten)

    def _file_index(self, published: PublishedRanking) -> _FileIndex:
        """The indexes over this published file: those of the last ranking built from the
        same file (same stamp) when there is one, so a reload does not rebuild them."""
        held = self._index
        if held is not None and held[0] == published.stamp:
            return held[1]
        index = _FileIndex(published.table, published.founders)
        self._index = (published.stamp, index)
        return index

    def _build_published(
        self,
        champion: ChampionInfo,
        model: PromiseModel | LazyModel,
        published: PublishedRanking,
    ) -> Served:
        started = time.perf_counter()
        stamp = self.feature_stamp()
        meta = published.meta
        opt_outs = self._published_opt_outs()
        as_of = date.fromisoformat(meta["as_of"])
        lineage = RankingLineage(
            model_name=champion.model_name,
            model_version=champion.version,
            run_id=champion.run_id,
            feature_snapshot_id=meta.get("feature_snapshot_id"),
            lake_snapshot_id=meta.get("lake_snapshot_id"),
            as_of=as_of,
            ranking_id=_derived_id(str(meta["ranking_id"]), opt_outs),
        )
        ranking = ranking_from_published(
            published,
            model,
            lineage,
            opt_outs,
            fetch_features=lambda ids: self.online_at(ids, as_of),
            base=self._file_index(published),
        )
        known = KnownIds(published.known.column("org_id"), opt_outs.org_ids)
        elapsed = time.perf_counter() - started
        return Served(champion, ranking, known, time.time(), elapsed, stamp, source="published")

    def _build_computed(self, champion: ChampionInfo, model: PromiseModel) -> Served:
        """A complete new ``Served`` from the lake, the online store and ``model``."""
        started = time.perf_counter()
        stamp = self.feature_stamp()
        inputs = load_inputs(self.settings, self.config)
        try:
            store = self._open_store()
            features = online_features(self.settings, inputs.candidate_ids, inputs.as_of, store)
        except _CODE_ERRORS:
            raise  # a bug is not an unreadable store: report it as what it is
        except Exception as exc:
            raise self._store_fault(exc) from exc
        lineage = RankingLineage(
            model_name=champion.model_name,
            model_version=champion.version,
            run_id=champion.run_id,
            feature_snapshot_id=inputs.feature_snapshot_id,
            lake_snapshot_id=inputs.lake_snapshot_id,
            as_of=inputs.as_of,
            ranking_id=new_ranking_id(),
        )
        ranking = build_ranking(
            model,
            features,
            inputs.tables,
            lineage,
            opt_outs=inputs.opt_outs.union(self.forgotten),
            precompute_reasons=self.config.precompute_reasons,
        )
        with self._store_lock:
            self._store = store
        known = frozenset(inputs.tables["organizations"]["org_id"].astype(str))
        known = known - ranking.opt_outs.org_ids
        elapsed = time.perf_counter() - started
        return Served(champion, ranking, known, time.time(), elapsed, stamp)

    def _open_store(self) -> Any:
        from talentmap.features.store import open_store

        return open_store(self.settings)

    def online(self, org_ids: list[str], served: Served) -> pd.DataFrame:
        """Online features of ``org_ids`` at the served ranking's date (for ``/score``)."""
        return self.online_at(org_ids, served.ranking.lineage.as_of)

    def online_at(self, org_ids: list[str], as_of: date) -> pd.DataFrame:
        """Online features of ``org_ids`` at ``as_of``.

        Serialised: the Feast store opened by the last reload is shared, and its SQLite
        connection is not meant for concurrent use.
        """
        with self._store_lock:
            try:
                if self._store is None:
                    self._store = self._open_store()
                return online_features(self.settings, org_ids, as_of, self._store)
            except _CODE_ERRORS:
                raise
            except Exception as exc:
                raise self._store_fault(exc) from exc

    def _store_fault(self, exc: Exception) -> OnlineStoreError:
        """Record that the online store cannot be read, and the error to raise."""
        where = str(self.settings.feature_store_dir)
        if os.path.islink(where) and not os.path.exists(where):
            where += f" -> {os.readlink(where)}, a missing folder"
        self.store_problem = f"online store unreadable ({where}): {type(exc).__name__}: {exc}"
        logger.error("%s", self.store_problem)
        return OnlineStoreError(self.store_problem)

    def probe_store(self) -> bool:
        """Read one organisation from a freshly opened online store (the poller's check).

        A fresh store, because an open SQLite connection keeps reading a file that was
        replaced or deleted underneath it; the probe must see what a restart would see.
        """
        served = self.served
        if served is None:
            return True
        some = any_known(served.known_org_ids)
        if some is None:
            return True
        try:
            online_features(self.settings, [some], served.ranking.lineage.as_of, self._open_store())
        except _CODE_ERRORS:
            raise
        except Exception as exc:
            self._store_fault(exc)
            return False
        return True

    # ------------------------------------------------------------------ reloading
    def reload(self, force: bool = True, trigger: str = "manual") -> ReloadOutcome:
        """Load the champion and recompute the ranking, then swap; serialised.

        Without ``force`` (the poller), nothing happens unless the champion's version or
        the feature build behind the online store changed since the last load.
        """
        with self._reload_lock:
            before = self.served
            previous = before.champion.version if before else None
            if before is not None and not force:
                try:
                    version = champion_version(self.target, self.config.alias)
                except Exception as exc:  # registry down: keep serving what we have
                    logger.warning("champion poll failed (%s); keeping version %s", exc, previous)
                    return ReloadOutcome(False, previous, before)
                unchanged = version == previous and before.champion.source == "registry"
                if unchanged and self.feature_stamp() == before.feature_stamp:
                    return ReloadOutcome(False, previous, before)
            cache_dir = self.settings.path(self.config.cache_dir)
            champion, model = load_champion(self.target, self.config.alias, cache_dir)
            served = self.build(champion, model)
            served.ranking.warm()  # its indexes before it is served (shared when unchanged)
            self.served = served  # the one atomic swap
            self.confirmed = True
            self.problem = None
            self.store_problem = None
            logger.info(
                "serving %s v%s (%s): %d candidates %s in %.1fs (%s)",
                champion.model_name,
                champion.version,
                served.ranking.ranking_id,
                len(served.ranking),
                "loaded from the published ranking" if served.source == "published" else "ranked",
                served.build_seconds,
                trigger,
                extra={
                    "step": "load",
                    "trigger": trigger,
                    "duration_s": round(served.build_seconds, 3),
                    "rows": len(served.ranking),
                    "model_version": champion.version,
                    "source": served.source,
                    "outcome": "ok",
                },
            )
            return ReloadOutcome(True, previous, served)

    def forget(self, org_ids: list[str], person_ids: list[str]) -> tuple[Served, int, int]:
        """Drop subjects from the running ranking now (and from every later one)."""
        # First the file every worker reads: from here on, no worker serves them.
        try:
            record_forgotten(self.forgotten_file, org_ids, person_ids)
        except OSError as exc:  # this worker still drops them; the register reaches all
            logger.error("cannot record the forget for the other workers: %s", exc)
        with self._reload_lock:
            self.forgotten = self.forgotten.union(
                OptOuts(frozenset(org_ids), frozenset(person_ids))
            )
            before = self.served
            if before is None:
                raise RuntimeError("no ranking loaded yet")
            if before.source == "published":  # the same id in every worker
                removed = OptOuts(frozenset(org_ids), frozenset(person_ids))
                base = before.ranking.ranking_id.split("-")[0]
                new_id = _derived_id(base, before.ranking.opt_outs.union(removed))
            else:
                new_id = new_ranking_id()
            ranking = before.ranking.without(org_ids, person_ids, ranking_id=new_id)
            hidden = before.ranking.founder_count() - ranking.founder_count()
            known = before.known_org_ids - frozenset(org_ids)
            served = replace(
                before,
                ranking=ranking,
                known_org_ids=known,
                loaded_at=time.time(),
                build_seconds=0.0,
            )
            with self._swap_lock:
                self.served = served
            return served, len(before.ranking) - len(ranking), hidden

    # ------------------------------------------------------------------ per request
    def current(self) -> Served | None:
        """``served``, with every subject forgotten since it was built dropped (cheap).

        Two ``stat`` calls (the register and the workers' shared file) unless
        ``check_published_seconds`` says it is too soon to look again.
        """
        served = self.served
        if served is None:
            return None
        interval = self.config.check_published_seconds
        now = time.monotonic()
        if interval and now - self._checked_at < interval:
            return served
        self._checked_at = now
        stamps = self.forget_stamps()
        if stamps != served.forget_stamps:
            served = self._apply_forgets(served, stamps)
        return served

    def _apply_forgets(self, served: Served, stamps: tuple[str | None, str | None]) -> Served:
        shared = read_forgotten(self.forgotten_file)
        self.forgotten = self.forgotten.union(shared)
        wanted = OptOuts.from_table(read_settings_register(self.settings)).union(self.forgotten)
        before = served.ranking.opt_outs
        orgs = wanted.org_ids - before.org_ids
        persons = wanted.person_ids - before.person_ids
        ranking = served.ranking
        if orgs or persons:
            if served.source == "published":
                base = ranking.ranking_id.split("-")[0]
                new_id = _derived_id(base, before.union(OptOuts(orgs, persons)))
            else:
                new_id = new_ranking_id()
            ranking = ranking.without(orgs, persons, ranking_id=new_id)
        updated = replace(
            served,
            ranking=ranking,
            known_org_ids=served.known_org_ids - orgs,
            forget_stamps=stamps,
        )
        with self._swap_lock:
            if self.served is served:
                self.served = updated
        return updated

    def published_changed(self, served: Served) -> bool:
        """A ranking was published since ``served`` was built (one ``stat``)."""
        stamp = ranking_stamp(self.settings.feature_tables_dir)
        return stamp is not None and stamp not in (served.published_stamp, self._failed_publish)

    def follow_publish(self) -> None:
        """Reload now because a new ranking was published (every worker does, on request).

        Serialised with the other reloads; a failure keeps the current ranking and is
        not retried on every request (the poller retries).
        """
        stamp = ranking_stamp(self.settings.feature_tables_dir)
        try:
            served = self.served
            if served is not None and self.published_changed(served):
                self.reload(force=True, trigger="published ranking changed")
        except Exception as exc:
            self._failed_publish = stamp
            logger.error("following the new published ranking failed: %s", exc)

    def reload_everywhere(self, force: bool, trigger: str) -> ReloadOutcome:
        """``POST /admin/reload``: bump the marker every worker follows, then reload here.

        The marker goes first, so this worker's build records the new stamp; this worker's
        own requests ignore its bump (they keep answering from the current ranking while it
        reloads); the other workers reload on their next request.
        """
        try:
            bump_marker(self.reload_file, force, trigger)
            self._own_marker = marker_stamp(self.reload_file)
        except OSError as exc:  # this worker still reloads; the poller reaches the others
            logger.error("cannot write the reload marker for the other workers: %s", exc)
        outcome = self.reload(force=force, trigger=trigger)
        if not outcome.reloaded:
            self._note_marker(outcome.served)
        return outcome

    def reload_requested(self, served: Served) -> bool:
        """``POST /admin/reload`` was answered by a worker since ``served`` was built."""
        stamp = marker_stamp(self.reload_file)
        ignored = (served.reload_stamp, self._failed_marker, self._own_marker)
        return stamp is not None and stamp not in ignored

    def follow_reload(self) -> None:
        """Reload because another worker was asked to (every worker does, on request).

        Serialised with the other reloads. A reload that finds nothing to do (``force``
        off, same champion, same features) records the marker as seen; a failure keeps
        the current ranking and is not retried on every request (the poller retries).
        """
        with self._follow_lock:
            stamp = marker_stamp(self.reload_file)
            body = read_marker(self.reload_file)
            try:
                served = self.served
                if served is None or not self.reload_requested(served):
                    return  # another request of this worker already followed it
                outcome = self.reload(
                    force=bool(body.get("force", True)),
                    trigger=f"reload marker from {body.get('by', 'another worker')}",
                )
                if not outcome.reloaded:
                    self._note_marker(outcome.served, stamp)
            except Exception as exc:
                self._failed_marker = stamp
                logger.error("following /admin/reload from another worker failed: %s", exc)

    def follow_reload_in_background(self) -> None:
        """Start ``follow_reload`` in a thread, unless one is running; return at once.

        The worker keeps answering from its current ranking meanwhile, and swaps when the
        new one is complete, exactly as the worker that answered ``/admin/reload`` does.
        """
        with self._follower_lock:
            if self._follower is not None and self._follower.is_alive():
                return
            self._follower = threading.Thread(
                target=self.follow_reload, name="talentmap-follow-reload", daemon=True
            )
            self._follower.start()

    def catch_up(self) -> Served | None:
        """Follow a new publish (blocking), start following another worker's reload (in the
        background); the current ``Served``.

        Run it off the event loop. The one place both per-request follows are made, for
        the service's APIs and the web app's watchlist routes alike. A new publish is
        followed before answering (every answer after a publish is the new ranking; with a
        mapped file it is quick); ``/admin/reload`` answered by another worker is followed
        in the background, so no request of this worker waits for that reload.
        """
        served = self.current()
        if served is not None and self.published_changed(served):
            self.follow_publish()
            served = self.current()
        if served is not None and self.reload_requested(served):
            self.follow_reload_in_background()
        return served

    # ------------------------------------------------------------------ fast start
    def start_from_published(self) -> bool:
        """Serve the published ranking at once, before the registry is asked (start-up).

        The retrain chain publishes the ranking together with the champion it promotes, so
        at start the file names the champion unless the alias was moved by hand since.
        Asking the registry first costs seconds (MLflow's import, its client's start on the
        store, the model's download and LightGBM's import): the file is served as soon as
        it is mapped, with the champion facts it records (``/model``: ``source`` =
        ``"published"``), and ``_run`` asks the registry right after, in the same thread,
        as the poller would: the answer replaces this ``Served`` (the same ranking and id
        when the alias names the file's model; otherwise what the alias names, ranked as
        usual). The model is loaded on first use (``/score``, reasons below the stored top
        N), that version exactly. False when there is no usable file (then the usual load).
        """
        published = self._read_published()
        if published is None:
            return False
        meta = published.meta
        why = self._serving_date_problem(meta)
        if why is not None or not meta.get("model_version"):
            logger.info("published ranking not served before the registry answers: %s", why)
            return False
        champion = ChampionInfo(
            model_name=str(meta.get("model_name") or self.target.registered_model),
            alias=self.config.alias,
            version=str(meta["model_version"]),
            run_id=meta.get("run_id"),
            trained_at=None,
            registered_at=None,
            metrics={},
            source="published",
        )
        cache_dir = self.settings.path(self.config.cache_dir)
        model = LazyModel(lambda: load_version(self.target, champion, cache_dir))
        with self._reload_lock:
            if self.served is not None:
                return True
            served = self.build(champion, model, published)
            self.confirmed = False
            self.served = served
            self.problem = None
        logger.info(
            "serving %s v%s (%s): %d candidates mapped from the published ranking in %.2fs, "
            "before the registry confirms the champion (start-up)",
            champion.model_name,
            champion.version,
            served.ranking.ranking_id,
            len(served.ranking),
            served.build_seconds,
            extra={
                "step": "load",
                "trigger": "start-up, published",
                "duration_s": round(served.build_seconds, 3),
                "rows": len(served.ranking),
                "model_version": champion.version,
                "source": "published",
                "outcome": "ok",
            },
        )
        return True

    def _unconfirmed(self, reason: str) -> None:
        """The registry could not confirm the fast start's champion: say so (``/readyz``
        and ``/model`` carry the warning) and keep serving the published ranking."""
        served = self.served
        if served is None:
            return
        warning = (
            f"the registry has not confirmed the champion yet ({reason}); serving the "
            f"ranking published with version {served.champion.version}"
        )
        updated = replace(served, champion=replace(served.champion, warning=warning))
        with self._swap_lock:
            if self.served is served:
                self.served = updated

    def _warm(self) -> None:
        """Right after the fast start, before the registry is asked: what the first
        requests would otherwise wait for (the reasons' wording tables; the ranking's
        indexes)."""
        served = self.served
        if served is None:
            return
        try:
            import talentmap.training.model.wording  # noqa: F401  (wording of stored reasons)

            served.ranking.warm()
        except Exception:  # a request builds or imports what it needs itself
            logger.exception("building the ranking's indexes ahead of requests failed")

    def _note_marker(self, served: Served, stamp: str | None = None) -> None:
        """Record the marker as followed by ``served`` without rebuilding it."""
        updated = replace(served, reload_stamp=stamp or marker_stamp(self.reload_file))
        with self._swap_lock:
            if self.served is served:
                self.served = updated

    # ------------------------------------------------------------------ background
    def start(self) -> None:
        """Load in the background, then poll the alias; readiness says when it is done."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="talentmap-reloader", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, sleep: Callable[[float], bool] | None = None) -> None:
        wait = sleep or self._stop.wait
        if self.served is None:
            try:
                if self.start_from_published():
                    self._warm()
            except Exception as exc:  # the usual load below says what is wrong
                logger.warning("fast start from the published ranking failed: %s", exc)
        if self.served is not None:
            self._first_load.set()
        delay = 2.0
        while (self.served is None or not self.confirmed) and not self._stop.is_set():
            try:
                self.reload(force=True, trigger="start-up")
                self._first_load.set()
            except Exception as exc:
                self._first_load.set()  # the waiting requests get the reason now
                reason = f"{type(exc).__name__}: {exc}"
                if self.served is None:
                    self.problem = f"cannot load a ranking: {reason}"
                else:
                    self._unconfirmed(reason)
                logger.error(
                    "cannot load a ranking: %s; retrying in %.0fs",
                    reason,
                    delay,
                    extra={"step": "load", "outcome": "failed", "reason": reason},
                )
                if wait(delay):
                    return
                delay = min(delay * 2, 60.0)
        interval = self.config.reload_poll_seconds
        if interval <= 0:
            return
        while not wait(interval):
            try:
                if self.store_problem is not None:  # recover as soon as the store is back
                    if self.probe_store():
                        self.reload(force=True, trigger="poll after an online-store fault")
                else:
                    self.reload(force=False, trigger="poll")
                    self.probe_store()
            except Exception as exc:  # keep the current ranking (refused if store_problem)
                reason = f"{type(exc).__name__}: {exc}"
                logger.error(
                    "reload after poll failed: %s",
                    reason,
                    extra={"step": "load", "outcome": "failed", "reason": reason},
                )


def _derived_id(base: str, opt_outs: OptOuts) -> str:
    """The published ranking's id, suffixed by a digest of the subjects removed on read.

    Deterministic, so every worker serving the same file with the same opt-outs reports
    the same ranking id.
    """
    if not opt_outs.org_ids and not opt_outs.person_ids:
        return base
    text = "\n".join(
        [
            *(f"o{o}" for o in sorted(opt_outs.org_ids)),
            *(f"p{p}" for p in sorted(opt_outs.person_ids)),
        ]
    )
    return f"{base}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def lineage_dict(served: Served) -> dict[str, Any]:
    return served.ranking.lineage.as_dict()


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")
