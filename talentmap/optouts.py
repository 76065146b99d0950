"""Opt-outs (GDPR): the register of ``talentmap forget``, and the filter every pipeline entry
point applies to lake tables before using them.

Two sources say who opted out, and their union binds everywhere:

- the lake's ``opt_outs`` table, delivered by the data source with each snapshot;
- the **register**, an append-only JSON-lines file written by ``talentmap forget``. It lives
  outside the lake on purpose: snapshots are immutable and content-addressed, and an
  erasure request cannot wait for the next delivery. One line per subject::

      {"format": 1, "subject_kind": "person", "subject_id": "p-42",
       "since": "2026-03-01", "recorded_at": "2026-03-01T09:12:44.120+00:00"}

  Lines are appended with ``O_APPEND`` and one ``os.write`` each, then fsynced, so
  concurrent ``forget`` commands never interleave inside a line and a recorded opt-out
  survives a crash. Nothing ever rewrites the file; a malformed line is an error (never
  skipped: skipping it could silently serve someone who asked to be forgotten).

``apply_opt_outs`` removes every row about an opted-out *person* from every table with a
``person_id`` column (people, roles, education, publications), so the feature build never
sees their roles, degrees, papers or prior ventures: organisation-level features stop
counting them from the next build on. Publications attributed to an organisation only
(no ``person_id``) are kept. Opted-out *organisations* keep their rows (other companies'
features, e.g. a founder's prior ventures, are facts about those companies); they are
excluded as candidates at every date (``training.candidates``), never served, and their
rows are cut from the feature tables (``drop_opted_out_features``) so that no store holds
their features. ``since`` is deliberately ignored: an opt-out applies to everything from
the next run on, including rows dated before it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from talentmap.settings import Settings

REGISTER_FORMAT = 1
SUBJECT_KINDS: tuple[str, ...] = ("person", "org")
PERSON_KEY = "person_id"
ORG_KEY = "org_id"
OPT_OUT_COLUMNS = ("subject_kind", "subject_id", "since")
REGISTER_COLUMNS = (*OPT_OUT_COLUMNS, "recorded_at")
SubjectKind = Literal["person", "org"]


class RegisterError(ValueError):
    """The register cannot be read as a list of opt-outs (the message names the line)."""


@dataclass(frozen=True)
class OptedOut:
    """The opted-out ids, by kind."""

    org_ids: frozenset[str] = frozenset()
    person_ids: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.org_ids or self.person_ids)


# ------------------------------------------------------------------ configuration


def register_path(settings: Settings) -> Path:
    """The register's absolute path (relative paths are resolved against ``home``)."""
    return settings.path(settings.privacy.register_file)


# ------------------------------------------------------------------ the register


def _empty_register() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject_kind": pd.Series(dtype=object),
            "subject_id": pd.Series(dtype=object),
            "since": pd.Series(dtype="datetime64[ns]"),
            "recorded_at": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )


def _check_subject(kind: str, subject_id: str) -> None:
    if kind not in SUBJECT_KINDS:
        raise ValueError(f"subject_kind must be one of {', '.join(SUBJECT_KINDS)}, not {kind!r}")
    if not isinstance(subject_id, str) or not subject_id.strip():
        raise ValueError("subject_id must be a non-empty string")
    if "\n" in subject_id or "\r" in subject_id:
        raise ValueError("subject_id must not contain line breaks")


def record_opt_outs(
    path: Path,
    subjects: Iterable[tuple[str, str]],
    since: date | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Append one register line per ``(subject_kind, subject_id)``; returns the records.

    Durable when it returns: each line is one ``os.write`` on an ``O_APPEND`` descriptor,
    then the file (and, on creation, its folder) is fsynced. The file is created mode 0600:
    it lists people who asked to be forgotten.
    """
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    day = since or stamp.date()
    records = []
    for kind, subject_id in subjects:
        _check_subject(kind, subject_id)
        records.append(
            {
                "format": REGISTER_FORMAT,
                "subject_kind": kind,
                "subject_id": subject_id,
                "since": day.isoformat(),
                "recorded_at": stamp.isoformat(timespec="milliseconds"),
            }
        )
    if not records:
        return []
    path = Path(path)
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        for record in records:
            line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode()
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(f"register {path}: short write ({written}/{len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)
    return records


def _parse_line(text: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegisterError(f"{where}: not valid JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise RegisterError(f"{where}: expected a JSON object")
    missing = [c for c in REGISTER_COLUMNS if c not in record]
    if missing:
        raise RegisterError(f"{where}: missing field(s) {', '.join(missing)}")
    try:
        _check_subject(record["subject_kind"], record["subject_id"])
        since = date.fromisoformat(str(record["since"]))
        recorded = datetime.fromisoformat(str(record["recorded_at"]))
    except (TypeError, ValueError) as exc:
        raise RegisterError(f"{where}: {exc}") from exc
    if recorded.tzinfo is None:
        recorded = recorded.replace(tzinfo=UTC)
    return {
        "subject_kind": record["subject_kind"],
        "subject_id": record["subject_id"],
        "since": pd.Timestamp(since),
        "recorded_at": pd.Timestamp(recorded).tz_convert("UTC"),
    }


def read_register(path: Path) -> pd.DataFrame:
    """Every register line as ``[subject_kind, subject_id, since, recorded_at]``.

    A missing file is an empty register. Any line that is not a complete record raises
    ``RegisterError`` naming the file and line: an opt-out is never skipped silently.
    """
    path = Path(path)
    if not path.is_file():
        return _empty_register()
    rows = []
    with path.open(encoding="utf-8", errors="strict") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    rows.append(_parse_line(line, f"{path}:{number}"))
        except UnicodeDecodeError as exc:
            raise RegisterError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    if not rows:
        return _empty_register()
    frame = pd.DataFrame(rows, columns=list(REGISTER_COLUMNS))
    frame["since"] = frame["since"].astype("datetime64[ns]")
    frame["subject_kind"] = frame["subject_kind"].astype(object)
    frame["subject_id"] = frame["subject_id"].astype(object)
    return frame


def read_settings_register(settings: Settings) -> pd.DataFrame:
    """The register at the settings' configured path."""
    return read_register(register_path(settings))


# ------------------------------------------------------------------ applying opt-outs


def effective_opt_outs(
    tables: Mapping[str, pd.DataFrame], register: pd.DataFrame | None
) -> pd.DataFrame:
    """The lake's ``opt_outs`` table ∪ the register, one row per subject (earliest since),
    typed as the contract's ``opt_outs`` table."""
    parts = []
    lake = tables.get("opt_outs")
    if lake is not None and len(lake):
        parts.append(lake[list(OPT_OUT_COLUMNS)])
    if register is not None and len(register):
        parts.append(register[list(OPT_OUT_COLUMNS)])
    if not parts:
        return pd.DataFrame(
            {
                "subject_kind": pd.Series(dtype=object),
                "subject_id": pd.Series(dtype=object),
                "since": pd.Series(dtype="datetime64[ns]"),
            }
        )
    merged = pd.concat(parts, ignore_index=True)
    merged["since"] = pd.to_datetime(merged["since"]).astype("datetime64[ns]")
    merged = merged.dropna(subset=["subject_kind", "subject_id"])
    merged = merged.sort_values("since", kind="stable", na_position="last")
    merged = merged.drop_duplicates(["subject_kind", "subject_id"], keep="first")
    merged = merged.sort_values(["subject_kind", "subject_id"], kind="stable")
    out = merged.reset_index(drop=True)
    out["subject_kind"] = out["subject_kind"].astype(str).astype(object)
    out["subject_id"] = out["subject_id"].astype(str).astype(object)
    return out


def opted_out(opt_outs: pd.DataFrame | None) -> OptedOut:
    """The ids of an ``opt_outs``-shaped frame, by kind."""
    if opt_outs is None or opt_outs.empty:
        return OptedOut()
    kind = opt_outs["subject_kind"].astype(str)
    ids = opt_outs["subject_id"].astype(str)
    return OptedOut(frozenset(ids[kind == "org"]), frozenset(ids[kind == "person"]))


def apply_opt_outs(
    tables: Mapping[str, pd.DataFrame], register: pd.DataFrame | None
) -> dict[str, pd.DataFrame]:
    """The tables without any row about an opted-out person, with the merged ``opt_outs``.

    Every table with a ``person_id`` column loses the rows of opted-out persons
    (publications with no ``person_id`` are the organisation's own and stay). The
    ``opt_outs`` table becomes ``effective_opt_outs`` (absent when nobody opted out and
    the lake had no such table), so ``training.candidates`` and serving keep excluding
    opted-out organisations. The input frames are not modified.
    """
    out = dict(tables)
    merged = effective_opt_outs(tables, register)
    if "opt_outs" in tables or len(merged):
        out["opt_outs"] = merged
    persons = opted_out(merged).person_ids
    if not persons:
        return out
    wanted = list(persons)
    for name, frame in tables.items():
        if name == "opt_outs" or PERSON_KEY not in frame.columns:
            continue
        drop = frame[PERSON_KEY].isin(wanted).to_numpy()
        if drop.any():
            out[name] = frame.loc[~drop].reset_index(drop=True)
    return out


def apply_settings_opt_outs(
    tables: Mapping[str, pd.DataFrame], settings: Settings
) -> dict[str, pd.DataFrame]:
    """``apply_opt_outs`` with the register at the settings' configured path."""
    return apply_opt_outs(tables, read_settings_register(settings))


def drop_opted_out_features(
    feature_tables: Mapping[str, pd.DataFrame], opt_outs: pd.DataFrame | None
) -> dict[str, pd.DataFrame]:
    """Feature tables without rows keyed by an opted-out organisation or person, so neither
    the offline nor the online store holds their features."""
    ids = opted_out(opt_outs)
    if not ids:
        return dict(feature_tables)
    out = {}
    for family, frame in feature_tables.items():
        if ORG_KEY in frame.columns and ids.org_ids:
            frame = frame.loc[~frame[ORG_KEY].isin(list(ids.org_ids))]
        elif PERSON_KEY in frame.columns and ids.person_ids:
            frame = frame.loc[~frame[PERSON_KEY].isin(list(ids.person_ids))]
        out[family] = frame.reset_index(drop=True)
    return out


def opt_outs_fingerprint(opt_outs: pd.DataFrame | None) -> str:
    """A short hash of the set of opted-out subjects (no id can be read back from it).

    A retrain whose snapshot, code and config match the champion's must still run when
    this changed, or a forgotten person would stay in the model until the next delivery.
    """
    ids = opted_out(opt_outs)
    text = "\n".join(
        [
            *(f"org\t{o}" for o in sorted(ids.org_ids)),
            *(f"person\t{p}" for p in sorted(ids.person_ids)),
        ]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def register_stamp(settings: Settings) -> str | None:
    """``"<size>:<mtime_ns>"`` of the register (None when absent): changes on every append."""
    try:
        found = register_path(settings).stat()
    except OSError:
        return None
    return f"{found.st_size}:{found.st_mtime_ns}"
