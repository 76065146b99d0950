"""The service's state: one reference to what is served, and the reloads that replace it.

``ServingState.served`` is the only thing requests read: a frozen ``Served`` (champion facts
+ ranking). Reloads build a complete new ``Served`` off the request path (in the poller
thread, or in a worker thread for ``POST /admin/reload``) and publish it with one
attribute assignment, which is atomic in Python; a request that read ``served`` once at its
start answers from one model and one ranking whatever happens meanwhile. Reloads are
serialised by a lock, so two never interleave.

Subjects forgotten at run time (``forget``) are kept in ``forgotten`` and applied to every
ranking built afterwards, so a reload cannot bring them back even before the lake records
their opt-out.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from talentmap.features.store import read_lineage
from talentmap.optouts import register_stamp
from talentmap.serving.champion import ChampionInfo, champion_version, load_champion
from talentmap.serving.inputs import load_inputs, online_features
from talentmap.serving.ranking import OptOuts, Ranking, RankingLineage, build_ranking
from talentmap.settings import Settings
from talentmap.settings.serving import ServingConfig
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.tracking.target import TrackingTarget, resolve_target

logger = logging.getLogger("talentmap.serving")


@dataclass(frozen=True)
class Served:
    champion: ChampionInfo
    ranking: Ranking
    known_org_ids: frozenset[str]  # in the lake and not opted out: what /score may answer
    loaded_at: float  # time.time()
    build_seconds: float
    # features' (snapshot, built_at), then the forget register's size and mtime
    feature_stamp: tuple[str | None, ...] = (None, None, None)


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

    # ------------------------------------------------------------------ status
    def readiness(self) -> tuple[bool, str]:
        served = self.served
        if served is None:
            return False, self.problem or "no ranking loaded"
        if self.store_problem is not None:
            return False, self.store_problem
        return True, served.champion.warning or "ok"

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

    def build(self, champion: ChampionInfo, model: PromiseModel) -> Served:
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
        """Online features of ``org_ids`` at the served ranking's date (for ``/score``).

        Serialised: the Feast store opened by the last reload is shared, and its SQLite
        connection is not meant for concurrent use.
        """
        with self._store_lock:
            try:
                if self._store is None:
                    self._store = self._open_store()
                return online_features(
                    self.settings, org_ids, served.ranking.lineage.as_of, self._store
                )
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
        if served is None or not served.known_org_ids:
            return True
        some = min(served.known_org_ids)
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
            self.served = served  # the one atomic swap
            self.problem = None
            self.store_problem = None
            logger.info(
                "serving %s v%s (%s): %d candidates ranked in %.1fs (%s)",
                champion.model_name,
                champion.version,
                served.ranking.ranking_id,
                len(served.ranking),
                served.build_seconds,
                trigger,
                extra={
                    "step": "load",
                    "trigger": trigger,
                    "duration_s": round(served.build_seconds, 3),
                    "rows": len(served.ranking),
                    "model_version": champion.version,
                    "outcome": "ok",
                },
            )
            return ReloadOutcome(True, previous, served)

    def forget(self, org_ids: list[str], person_ids: list[str]) -> tuple[Served, int, int]:
        """Drop subjects from the running ranking now (and from every later one)."""
        with self._reload_lock:
            self.forgotten = self.forgotten.union(
                OptOuts(frozenset(org_ids), frozenset(person_ids))
            )
            before = self.served
            if before is None:
                raise RuntimeError("no ranking loaded yet")
            ranking = before.ranking.without(org_ids, person_ids, ranking_id=new_ranking_id())
            hidden = sum(len(t) for t in before.ranking.founders) - sum(
                len(t) for t in ranking.founders
            )
            known = before.known_org_ids - frozenset(org_ids)
            served = Served(before.champion, ranking, known, time.time(), 0.0, before.feature_stamp)
            self.served = served
            return served, len(before.ranking) - len(ranking), hidden

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
        delay = 2.0
        while self.served is None and not self._stop.is_set():
            try:
                self.reload(force=True, trigger="start-up")
            except Exception as exc:
                self.problem = f"cannot load a ranking: {type(exc).__name__}: {exc}"
                logger.error(
                    "%s; retrying in %.0fs",
                    self.problem,
                    delay,
                    extra={"step": "load", "outcome": "failed", "reason": self.problem},
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


def lineage_dict(served: Served) -> dict[str, Any]:
    return served.ranking.lineage.as_dict()


def timestamp(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat(timespec="seconds")
