"""The watchlist store: named watchlists per key holder, their state and their events.

One SQLite database (``serving.watchlists.db``, next to the workers' forget file) shared by
every worker of the service and by ``talentmap forget``. Why SQLite: several processes
write it (``serving.workers`` > 1), and SQLite's write lock (WAL mode, ``BEGIN
IMMEDIATE``, a busy timeout) serialises them without a server to run. Each call opens
its own connection, so no connection is shared between threads.

Events are derived once per served ranking (``sync``): the first request, in any worker,
that sees a ranking id the store has not seen yet evaluates every watchlist against it
inside one write transaction and records the id; a worker that still serves an older
ranking (it has not followed a new publish yet) finds that ranking already seen and
derives nothing, so events never flap back and forth. Events are kept, so a feed is
stable between polls.

Only ids, names chosen by staff, filters, and what a shortlist row shows are stored;
forgetting a company (``forget``) deletes it from every watchlist, every state and every
event, in one transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from talentmap.serving.watch_events import (
    Event,
    Filters,
    RankingView,
    WatchState,
    derive,
    shown,
)

BUSY_TIMEOUT_S = 30.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS watchlists (
    id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    name TEXT NOT NULL,
    filters TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state TEXT,
    UNIQUE (holder, name)
);
CREATE TABLE IF NOT EXISTS watch_companies (
    watchlist_id TEXT NOT NULL REFERENCES watchlists(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    added_at TEXT NOT NULL,
    added_as_of TEXT,
    PRIMARY KEY (watchlist_id, org_id)
);
CREATE TABLE IF NOT EXISTS watch_events (
    id TEXT PRIMARY KEY,
    watchlist_id TEXT NOT NULL REFERENCES watchlists(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    org_id TEXT NOT NULL,
    at TEXT NOT NULL,
    ranking_id TEXT NOT NULL,
    previous_ranking_id TEXT,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS watch_events_by_list ON watch_events (watchlist_id, seq);
CREATE INDEX IF NOT EXISTS watch_events_by_org ON watch_events (org_id);
CREATE TABLE IF NOT EXISTS rankings_seen (
    ranking_id TEXT PRIMARY KEY,
    as_of TEXT,
    seen_at TEXT NOT NULL,
    seq INTEGER NOT NULL
);
"""


class WatchlistError(ValueError):
    """A request the store refuses (duplicate name, too many lists...): a 4xx."""


class NotFoundError(WatchlistError):
    """No such watchlist for this holder (another holder's lists are not found either)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Watchlist:
    id: str
    holder: str
    name: str
    filters: Filters
    companies: tuple[str, ...]
    created_at: str
    updated_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "filters": self.filters.as_dict(),
            "companies": list(self.companies),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "feed": f"/watchlists/{self.id}/feed.atom",
        }


@dataclass(frozen=True)
class StoredEvent:
    id: str
    watchlist_id: str
    kind: str
    org_id: str
    at: str
    ranking_id: str
    previous_ranking_id: str | None
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "org_id": self.org_id,
            "at": self.at,
            "ranking_id": self.ranking_id,
            "previous_ranking_id": self.previous_ranking_id,
            **self.details,
        }


def _filters(text: str) -> Filters:
    data = json.loads(text)
    return Filters(
        region=data.get("region"),
        sector=data.get("sector"),
        max_age_years=data.get("max_age_years"),
        k=data.get("k"),
    )


class WatchlistStore:
    """CRUD, sync and forget over one SQLite file; safe across threads and processes."""

    def __init__(self, path: Path, max_per_holder: int = 100, max_companies: int = 500) -> None:
        self.path = Path(path)
        self.max_per_holder = max_per_holder
        self.max_companies = max_companies
        self._ready = False

    # ------------------------------------------------------------------ connection
    def _open(self) -> sqlite3.Connection:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # private file
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        connection.execute("PRAGMA foreign_keys = ON")
        if not self._ready:
            # Switching to WAL needs the database to itself, and SQLite answers "database
            # is locked" at once (no busy wait) when another process is switching it too:
            # workers starting together take turns through a lock file.
            with FileLock(f"{self.path}.init.lock", timeout=BUSY_TIMEOUT_S):
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("BEGIN IMMEDIATE")
                try:
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            connection.execute(statement)
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
            self._ready = True
        return connection

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        connection = self._open()
        try:
            yield connection
        finally:
            connection.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``BEGIN IMMEDIATE`` takes the lock before any read, so
        two workers never derive from the same state."""
        connection = self._open()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    # ------------------------------------------------------------------ reading
    def _companies(self, db: sqlite3.Connection, watchlist_id: str) -> tuple[str, ...]:
        rows = db.execute(
            "SELECT org_id FROM watch_companies WHERE watchlist_id = ? ORDER BY rowid",
            (watchlist_id,),
        )
        return tuple(r[0] for r in rows)

    def _one(self, db: sqlite3.Connection, holder: str, watchlist_id: str) -> Watchlist:
        row = db.execute(
            "SELECT id, holder, name, filters, created_at, updated_at FROM watchlists "
            "WHERE id = ? AND holder = ?",
            (watchlist_id, holder),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no watchlist {watchlist_id!r} for this key")
        return Watchlist(
            row[0], row[1], row[2], _filters(row[3]), self._companies(db, row[0]), row[4], row[5]
        )

    def get(self, holder: str, watchlist_id: str) -> Watchlist:
        with self._read() as db:
            return self._one(db, holder, watchlist_id)

    def list(self, holder: str) -> list[Watchlist]:
        with self._read() as db:
            ids = [
                r[0]
                for r in db.execute(
                    "SELECT id FROM watchlists WHERE holder = ? ORDER BY created_at, name",
                    (holder,),
                )
            ]
            return [self._one(db, holder, i) for i in ids]

    def events(self, holder: str, watchlist_id: str, limit: int = 200) -> list[StoredEvent]:
        """The watchlist's latest events, newest first."""
        with self._read() as db:
            self._one(db, holder, watchlist_id)
            rows = db.execute(
                "SELECT id, watchlist_id, kind, org_id, at, ranking_id, previous_ranking_id, "
                "details FROM watch_events WHERE watchlist_id = ? ORDER BY seq DESC, id "
                "LIMIT ?",
                (watchlist_id, limit),
            ).fetchall()
        return [StoredEvent(*r[:7], json.loads(r[7])) for r in rows]

    def has_seen(self, ranking_id: str) -> bool:
        with self._read() as db:
            found = db.execute(
                "SELECT 1 FROM rankings_seen WHERE ranking_id = ?", (ranking_id,)
            ).fetchone()
        return found is not None

    # ------------------------------------------------------------------ writing
    def create(
        self,
        holder: str,
        name: str,
        filters: Filters,
        companies: Iterable[str] = (),
        view: RankingView | None = None,
    ) -> Watchlist:
        """A new watchlist; with ``view``, its state is recorded at once (no event)."""
        name = name.strip()
        if not name:
            raise WatchlistError("a watchlist needs a name")
        followed = list(dict.fromkeys(map(str, companies)))
        if len(followed) > self.max_companies:
            raise WatchlistError(f"at most {self.max_companies} companies per watchlist")
        watchlist_id = uuid.uuid4().hex
        stamp = now_iso()
        as_of = view.as_of.isoformat() if view is not None else None
        with self._write() as db:
            count = db.execute(
                "SELECT COUNT(*) FROM watchlists WHERE holder = ?", (holder,)
            ).fetchone()[0]
            if count >= self.max_per_holder:
                raise WatchlistError(f"at most {self.max_per_holder} watchlists per key")
            try:
                db.execute(
                    "INSERT INTO watchlists (id, holder, name, filters, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (watchlist_id, holder, name, json.dumps(filters.as_dict()), stamp, stamp),
                )
            except sqlite3.IntegrityError as exc:
                raise WatchlistError(f"you already have a watchlist named {name!r}") from exc
            db.executemany(
                "INSERT INTO watch_companies (watchlist_id, org_id, added_at, added_as_of) "
                "VALUES (?, ?, ?, ?)",
                [(watchlist_id, o, stamp, as_of) for o in followed],
            )
            if view is not None:
                self._evaluate(db, watchlist_id, view, threshold=1, record=False)
        return self.get(holder, watchlist_id)

    def update(
        self, holder: str, watchlist_id: str, name: str | None, filters: Filters | None
    ) -> Watchlist:
        """Rename and/or change the filters; the shortlist's state restarts from the next
        ranking (a filter change is not news)."""
        with self._write() as db:
            self._one(db, holder, watchlist_id)
            if name is not None:
                if not name.strip():
                    raise WatchlistError("a watchlist needs a name")
                try:
                    db.execute(
                        "UPDATE watchlists SET name = ? WHERE id = ?",
                        (name.strip(), watchlist_id),
                    )
                except sqlite3.IntegrityError as exc:
                    raise WatchlistError(f"you already have a watchlist named {name!r}") from exc
            if filters is not None:
                state = self._state(db, watchlist_id)
                if state is not None:
                    state.shortlist = {}
                db.execute(
                    "UPDATE watchlists SET filters = ?, state = ? WHERE id = ?",
                    (
                        json.dumps(filters.as_dict()),
                        json.dumps(state.as_json()) if state else None,
                        watchlist_id,
                    ),
                )
                self._rebaseline_shortlist(db, watchlist_id)
            db.execute(
                "UPDATE watchlists SET updated_at = ? WHERE id = ?", (now_iso(), watchlist_id)
            )
        return self.get(holder, watchlist_id)

    def _rebaseline_shortlist(self, db: sqlite3.Connection, watchlist_id: str) -> None:
        # Without a previous shortlist the next ranking would report every row as an
        # entrant; mark it "to record" instead (the next sync records it silently).
        state = self._state(db, watchlist_id)
        if state is not None:
            data = state.as_json()
            data["shortlist_pending"] = True
            db.execute(
                "UPDATE watchlists SET state = ? WHERE id = ?", (json.dumps(data), watchlist_id)
            )

    def delete(self, holder: str, watchlist_id: str) -> None:
        with self._write() as db:
            self._one(db, holder, watchlist_id)
            db.execute("DELETE FROM watchlists WHERE id = ?", (watchlist_id,))

    def add_company(
        self, holder: str, watchlist_id: str, org_id: str, view: RankingView | None = None
    ) -> Watchlist:
        """Follow ``org_id`` (idempotent). With ``view``, its rank and rounds there are
        what is known from now on: later moves and new rounds are measured from them."""
        as_of = view.as_of.isoformat() if view is not None else None
        seen = [r.round_id for r in view.rounds([org_id])] if view is not None else None
        now = view.lookup(org_id) if view is not None else None
        with self._write() as db:
            found = self._one(db, holder, watchlist_id)
            if org_id in found.companies:
                return found
            if len(found.companies) >= self.max_companies:
                raise WatchlistError(f"at most {self.max_companies} companies per watchlist")
            db.execute(
                "INSERT INTO watch_companies (watchlist_id, org_id, added_at, added_as_of) "
                "VALUES (?, ?, ?, ?)",
                (watchlist_id, org_id, now_iso(), as_of),
            )
            state = self._state(db, watchlist_id)
            if state is not None and seen is not None:
                state.followed[org_id] = now.rank if now is not None else None
                state.rounds[org_id] = sorted(set(seen))
                if now is not None:
                    state.shown[org_id] = shown(now)
                self._save_state(db, watchlist_id, state)
            db.execute(
                "UPDATE watchlists SET updated_at = ? WHERE id = ?", (now_iso(), watchlist_id)
            )
        return self.get(holder, watchlist_id)

    def remove_company(self, holder: str, watchlist_id: str, org_id: str) -> Watchlist:
        with self._write() as db:
            self._one(db, holder, watchlist_id)
            db.execute(
                "DELETE FROM watch_companies WHERE watchlist_id = ? AND org_id = ?",
                (watchlist_id, org_id),
            )
            state = self._state(db, watchlist_id)
            if state is not None:
                state.followed.pop(org_id, None)
                state.rounds.pop(org_id, None)
                if org_id not in state.shortlist:
                    state.shown.pop(org_id, None)
                self._save_state(db, watchlist_id, state)
            db.execute(
                "UPDATE watchlists SET updated_at = ? WHERE id = ?", (now_iso(), watchlist_id)
            )
        return self.get(holder, watchlist_id)

    # ------------------------------------------------------------------ state and events
    def _state(self, db: sqlite3.Connection, watchlist_id: str) -> WatchState | None:
        row = db.execute("SELECT state FROM watchlists WHERE id = ?", (watchlist_id,)).fetchone()
        return WatchState.from_json(json.loads(row[0])) if row and row[0] else None

    def _save_state(self, db: sqlite3.Connection, watchlist_id: str, state: WatchState) -> None:
        db.execute(
            "UPDATE watchlists SET state = ? WHERE id = ?",
            (json.dumps(state.as_json()), watchlist_id),
        )

    def _evaluate(
        self,
        db: sqlite3.Connection,
        watchlist_id: str,
        view: RankingView,
        threshold: int,
        record: bool = True,
        seq: int = 0,
    ) -> list[Event]:
        row = db.execute(
            "SELECT filters, state FROM watchlists WHERE id = ?", (watchlist_id,)
        ).fetchone()
        filters = _filters(row[0])
        raw = json.loads(row[1]) if row[1] else None
        previous = WatchState.from_json(raw) if record else None
        pending = bool(raw and raw.get("shortlist_pending"))
        followed = [
            r[0]
            for r in db.execute(
                "SELECT org_id FROM watch_companies WHERE watchlist_id = ? ORDER BY rowid",
                (watchlist_id,),
            )
        ]
        events, state = derive(watchlist_id, filters, followed, previous, view, threshold)
        if pending:  # filters changed: record the new shortlist, report nothing about it
            events = [e for e in events if e.details.get("scope") != "shortlist"]
        self._save_state(db, watchlist_id, state)
        if record and events:
            stamp = now_iso()
            db.executemany(
                "INSERT OR IGNORE INTO watch_events (id, watchlist_id, seq, kind, org_id, at, "
                "ranking_id, previous_ranking_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.id,
                        watchlist_id,
                        seq,
                        e.kind,
                        e.org_id,
                        stamp,
                        view.ranking_id,
                        previous.ranking_id if previous else None,
                        json.dumps(e.details),
                    )
                    for e in events
                ],
            )
        return events

    def sync(self, view: RankingView, threshold: int) -> int | None:
        """Derive every watchlist's events against ``view`` if its ranking is new.

        Returns the number of events recorded, or None when the ranking was already seen
        (by this or another worker). Opted-out companies in ``view`` are forgotten too.
        """
        if self.has_seen(view.ranking_id):  # the usual case: one read, no lock
            return None
        with self._write() as db:
            seen = db.execute(
                "SELECT 1 FROM rankings_seen WHERE ranking_id = ?", (view.ranking_id,)
            ).fetchone()
            if seen is not None:  # another worker got the lock first
                return None
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM rankings_seen").fetchone()[0]
            watched = {
                r[0]
                for r in db.execute("SELECT org_id FROM watch_companies")
                if r[0] in view.opted_out
            }
            if watched:
                self._forget(db, watched)
            total = 0
            for (watchlist_id,) in db.execute("SELECT id FROM watchlists").fetchall():
                total += len(self._evaluate(db, watchlist_id, view, threshold, seq=seq))
            db.execute(
                "INSERT INTO rankings_seen (ranking_id, as_of, seen_at, seq) VALUES (?, ?, ?, ?)",
                (view.ranking_id, view.as_of.isoformat(), now_iso(), seq),
            )
        return total

    # ------------------------------------------------------------------ forget
    def _forget(self, db: sqlite3.Connection, org_ids: set[str]) -> dict[str, int]:
        marks = ",".join("?" for _ in org_ids)
        ids = sorted(org_ids)
        follows = db.execute(f"DELETE FROM watch_companies WHERE org_id IN ({marks})", ids)
        removed_follows = follows.rowcount
        events = db.execute(f"DELETE FROM watch_events WHERE org_id IN ({marks})", ids)
        removed_events = events.rowcount
        for (watchlist_id,) in db.execute("SELECT id FROM watchlists").fetchall():
            state = self._state(db, watchlist_id)
            if state is not None:
                self._save_state(db, watchlist_id, state.without(org_ids))
        return {"companies": removed_follows, "events": removed_events}

    def forget(self, org_ids: Iterable[str]) -> dict[str, int]:
        """Delete these companies from every watchlist, state and event (one transaction)."""
        wanted = {str(o) for o in org_ids}
        if not wanted or not self.path.exists():
            return {"companies": 0, "events": 0}
        with self._write() as db:
            return self._forget(db, wanted)


def store_for(settings: Any) -> WatchlistStore:
    """The store the settings name (``serving.watchlists``)."""
    config = settings.serving.watchlists
    return WatchlistStore(
        settings.path(config.db),
        max_per_holder=config.max_per_holder,
        max_companies=config.max_companies,
    )
