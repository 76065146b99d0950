"""Configuration of the serving stage, nested into ``talentmap.settings.Settings`` as ``serving``.

Every field is overridable from the environment, e.g.
``TALENTMAP_SERVING__RELOAD_POLL_SECONDS=30`` or
``TALENTMAP_SERVING__API_KEYS='[{"name":"alice","role":"staff","sha256":"…"}]'``.
``bentoml serve`` starts worker processes, so the service reads its configuration from
the environment (``get_settings()``) rather than from arguments.

API keys are stored as SHA-256 digests only. A key is 32 random bytes (``talentmap keys
new``), so a plain fast hash is enough: there is nothing to brute-force that a slow
password hash would protect (a slow hash would only slow every request down).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from talentmap.settings.watchlists import WatchlistConfig

Role = Literal["staff", "admin"]
AsOfMode = Literal["snapshot", "today"]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ApiKeyEntry(BaseModel):
    """One configured key: who holds it, what it may do, and its SHA-256 (hex)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, description="Holder, written to the audit log.")
    role: Role = Field(description="staff: read endpoints; admin: also /admin/*.")
    sha256: str = Field(description="Hex SHA-256 of the key (64 lowercase hex digits).")

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        value = value.strip().lower()
        if not _HEX64.match(value):
            raise ValueError("sha256 must be 64 hex digits (use `talentmap keys hash`)")
        return value


class ServingConfig(BaseModel):
    """The shortlist service: network, reload, keys, audit and limits."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Interface to bind; loopback by default.")
    port: int = Field(3000, ge=1, le=65535, description="HTTP port of the service.")
    reload_poll_seconds: float = Field(
        60.0,
        ge=0,
        description="How often the champion alias is polled; 0 turns polling off.",
    )
    api_keys: tuple[ApiKeyEntry, ...] = Field(
        (), description="Accepted API keys, hashed. Without any, every call gets 401."
    )
    api_keys_file: Path | None = Field(
        None,
        description="Optional JSON file holding more keys (a list of {name, role, sha256}, "
        "like api_keys), relative to home. Re-read without a restart when it changes: the "
        "way to rotate keys on a running service.",
    )
    keys_check_seconds: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="How often (at most) a request checks whether the key file or the "
        "TALENTMAP_SERVING__API_KEYS variable changed; 0 checks on every request.",
    )
    rate_limit_per_minute: float = Field(
        600.0,
        ge=0,
        description="Requests each key may make per minute on authenticated routes (a "
        "token bucket refilled at this rate); 0 turns the limit off. Over it: 429 with "
        "Retry-After.",
    )
    rate_limit_burst: int = Field(
        120,
        ge=1,
        description="Requests a key may make at once before the per-minute rate applies "
        "(the bucket's size).",
    )
    audit_log: Path = Field(
        Path("data/audit/shortlists.jsonl"),
        description="Append-only JSONL audit trail of shortlist requests (relative to home).",
    )
    max_body_bytes: int = Field(
        65_536, ge=1024, le=16 * 1024 * 1024, description="Larger request bodies get 413."
    )
    default_k: int = Field(50, ge=1, le=1000, description="Shortlist length when k is omitted.")
    max_score_ids: int = Field(1000, ge=1, description="Most org ids one /score call may list.")
    precompute_reasons: int = Field(
        1000,
        ge=0,
        description="Reasons are computed at load time for this many top candidates; the "
        "others on first request (then cached).",
    )
    as_of: AsOfMode | date = Field(
        "snapshot",
        description="Date the candidates are ranked at: 'snapshot' (the date the data "
        "describes), 'today', or a fixed YYYY-MM-DD.",
    )
    alias: str = Field("champion", description="Registry alias that is served.")
    cache_dir: Path = Field(
        Path("data/serving"),
        description="Local copy of the last champion, served if MLflow is unreachable.",
    )
    workers: int = Field(
        1,
        ge=1,
        le=32,
        description="BentoML worker processes. Several work when the retrain chain "
        "published a ranking: every worker maps the same file and follows the published "
        "pointer, and forgets reach every worker through a shared file. Without a "
        "published ranking each worker computes its own from the online store.",
    )
    ranking_reasons_top_n: int = Field(
        1000,
        ge=0,
        description="The retrain chain's publish step stores the reasons of this many top "
        "candidates in the published ranking; the service computes the others on request "
        "from the online store.",
    )
    first_load_wait_seconds: float = Field(
        15.0,
        ge=0,
        le=300,
        description="How long a request that reaches a worker still loading its first "
        "ranking waits for it before answering 503. With several workers, a client that "
        "saw one worker ready may reach another that is a second or two behind; waiting "
        "briefly answers it instead of refusing. A load that fails ends the wait at once; "
        "0 answers 503 straight away.",
    )
    check_published_seconds: float = Field(
        0.0,
        ge=0,
        le=60,
        description="How often (at most) a request checks whether a new ranking was "
        "published or a subject forgotten (two stat calls); 0 checks on every request.",
    )

    mlflow_ui_url: str | None = Field(
        None,
        description="Base URL of the MLflow UI the company page links runs to (e.g. "
        "https://mlflow.example.org); unset: http://<tracking.ui_host>:<tracking.ui_port>.",
    )
    changes_k: int = Field(
        10, ge=1, le=1000, description="Default top k that 'what changed' compares per region."
    )
    watchlists: WatchlistConfig = Field(
        default_factory=WatchlistConfig,
        description="Staff watchlists and their Atom feeds (serving/watchlists.py).",
    )

    def serving_date(self, snapshot_date: date, today: date | None = None) -> date:
        """The date candidates are ranked at ("now", issue 6), by ``as_of``: the service
        and the retrain chain's batch ranking both ask here."""
        if isinstance(self.as_of, date):
            return self.as_of
        if self.as_of == "today":
            return today or datetime.now(UTC).date()
        return snapshot_date

    @model_validator(mode="after")
    def _unique_names(self) -> ServingConfig:
        names = [k.name for k in self.api_keys]
        if len(names) != len(set(names)):
            raise ValueError("api_keys: each key needs a distinct name (it is the audit identity)")
        return self
