"""A data directory as it was on the record at a date: the leakage tests' "deleted future".

Text in, text out (CSV cells are compared as ISO date strings), so the copy differs from
the source only by what it drops or clears, and stays contract-valid.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd

# (table, its own event date): rows dated after the cut are future events.
DATED = (
    ("funding_rounds", "announced_on"),
    ("programs", "started_on"),
    ("publications", "published_on"),
    ("headcount", "observed_on"),
    ("job_postings", "posted_on"),
    ("exits", "exited_on"),
    ("roles", "started_on"),
)


def read_text_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def after(values: pd.Series, day: str) -> pd.Series:
    return values.ne("") & values.gt(day)  # ISO dates compare as text


def _on_record(t: dict[str, pd.DataFrame], day: str) -> set[str]:
    """Organisations with a dated event on or before ``day`` (talentmap.features.age)."""
    ids: set[str] = set()
    for table, column in DATED:
        if table not in t or "org_id" not in t[table]:
            continue
        frame = t[table]
        if table == "roles":
            frame = frame.loc[frame["role"] == "founder"]
        dated = frame.loc[frame[column].ne("") & ~after(frame[column], day)]
        ids.update(dated["org_id"].loc[dated["org_id"].ne("")])
    return ids


def truncate_world(src: Path, dst: Path, as_of: date) -> None:
    """Copy ``src`` keeping only what was on the record on ``as_of`` (contract-valid).

    Rows dated after ``as_of`` go; end dates after it are cleared (still open then).
    Organisations first seen after it go with every row about them, and so do those
    founded after it with nothing on the record by then. A founding date after ``as_of``
    of a company already on the record is cleared: it was not known then (a date
    corrected later, issue 13). Opt-outs are compliance instructions, not history: they
    bind every run whatever their date, so they are kept, their ``since`` clamped to the
    new snapshot date.
    """
    day = as_of.isoformat()
    dst.mkdir(parents=True)
    t = {p.stem: read_text_table(p) for p in src.glob("*.csv")}
    orgs = t["organizations"]
    seen = orgs["first_seen_on"] if "first_seen_on" in orgs else pd.Series("", index=orgs.index)
    recorded = orgs["org_id"].isin(_on_record(t, day)) | (seen.ne("") & ~after(seen, day))
    late_founding = after(orgs["founded_on"], day)
    gone = orgs.loc[after(seen, day) | (late_founding & ~recorded), "org_id"]
    orgs = orgs.loc[~orgs["org_id"].isin(gone)].copy()
    orgs.loc[after(orgs["founded_on"], day), "founded_on"] = ""
    orgs.loc[after(orgs["closed_on"], day), "closed_on"] = ""
    t["organizations"] = orgs

    def keep(table: str, date_column: str | None, org_column: str | None = "org_id") -> None:
        frame = t[table]
        drop = pd.Series(False, index=frame.index)
        if date_column is not None:
            drop |= after(frame[date_column], day)
        if org_column is not None:
            drop |= frame[org_column].isin(gone)
        t[table] = frame.loc[~drop].copy()

    keep("funding_rounds", "announced_on")
    t["investments"] = t["investments"].loc[
        t["investments"]["round_id"].isin(t["funding_rounds"]["round_id"])
    ]
    for table, column in DATED[1:]:
        keep(table, column)
    keep("education", "graduated_on", org_column=None)
    for table in ("programs", "roles"):
        frame = t[table]
        frame.loc[after(frame["ended_on"], day), "ended_on"] = ""
    opt = t["opt_outs"]
    opt = opt.loc[~((opt["subject_kind"] == "org") & opt["subject_id"].isin(gone))].copy()
    opt.loc[after(opt["since"], day), "since"] = day
    t["opt_outs"] = opt
    for table, frame in t.items():
        frame.to_csv(dst / f"{table}.csv", index=False)
    meta = json.loads((src / "dataset.json").read_text(encoding="utf-8"))
    meta["snapshot_date"] = day
    (dst / "dataset.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
