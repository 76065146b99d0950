"""A tiny hand-made dataset that satisfies the contract, every table included.

Tests break it one cell at a time to prove each validation rule, and it doubles as a
readable example of the contract next to ``data/CONTRACT.md``. Values are raw text, as a
CSV file would hold them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pandas as pd

from talentmap.contract import to_typed

SAMPLE_SNAPSHOT_DATE = "2025-06-30"


def sample_tables() -> dict[str, pd.DataFrame]:
    """Raw (all-text) frames of a small valid world; empty string = missing."""
    t = {
        "organizations": {
            "org_id": ["o1", "o2", "o3", "o4"],
            "name": ["Alpha Bio", "Beta Robotics", "Gamma Data", "Delta Foods"],
            "founded_on": ["2018-03-01", "2019-07-15", "2020-01-10", ""],
            "closed_on": ["", "", "2024-02-01", ""],
            "first_seen_on": ["2018-06-01", "2019-09-01", "2020-03-01", "2021-05-05"],
            "country": ["FR", "FR", "DE", "FR"],
            "region": ["Île-de-France", "La Réunion", "Bayern", ""],
            "city": ["Paris", "Saint-Denis", "München", ""],
            "sector": ["biotech", "robotics", "data", "food"],
        },
        "people": {
            "person_id": ["p1", "p2", "p3"],
            "full_name": ["Ada Martin", "Bruno Petit", "Chloé Durand"],
            "gender": ["F", "M", ""],
            "birth_year": ["1985", "1990", ""],
        },
        "roles": {
            "person_id": ["p1", "p2", "p3"],
            "org_id": ["o1", "o2", "o1"],
            "role": ["founder", "founder", "advisor"],
            "title": ["CEO", "CTO", ""],
            "started_on": ["2018-03-01", "2019-07-15", "2021-01-01"],
            "ended_on": ["", "", "2023-12-31"],
        },
        "education": {
            "person_id": ["p1", "p2"],
            "institution": ["École polytechnique", "Université de Lyon"],
            "degree": ["engineer", "phd"],
            "graduated_on": ["2008-06-30", ""],
        },
        "funding_rounds": {
            "round_id": ["r1", "r2", "r3", "r4"],
            "org_id": ["o1", "o1", "o2", "o3"],
            "announced_on": ["2019-01-15", "2021-06-01", "2020-11-20", "2021-02-02"],
            "round_type": ["seed", "series_a", "grant", "pre_seed"],
            "amount_eur": ["1500000", "8000000.5", "", "250000"],
            "n_investors": ["3", "5", "", "1"],
        },
        "investments": {
            "round_id": ["r1", "r1", "r2"],
            "investor_id": ["i1", "i2", "i1"],
            "investor_name": ["Fonds Un", "Ange Deux", "Fonds Un"],
            "investor_kind": ["vc", "angel", "vc"],
            "is_lead": ["true", "false", ""],
        },
        "programs": {
            "org_id": ["o1", "o2"],
            "program_id": ["pg1", "pg2"],
            "program_name": ["Station F Founders", "i-Lab"],
            "program_kind": ["incubator", "competition"],
            "started_on": ["2018-09-01", "2020-05-01"],
            "ended_on": ["2019-09-01", ""],
        },
        "publications": {
            "pub_id": ["pub1", "pub2", "pub3"],
            "person_id": ["p1", "", "p2"],
            "org_id": ["", "o1", "o2"],
            "published_on": ["2017-04-01", "2020-10-10", "2022-01-20"],
            "kind": ["paper", "patent", "software"],
            "venue": ["Nature", "INPI", ""],
        },
        "headcount": {
            "org_id": ["o1", "o1", "o2"],
            "observed_on": ["2020-01-01", "2022-01-01", "2021-01-01"],
            "headcount": ["5", "24", "3"],
        },
        "job_postings": {
            "org_id": ["o1", "o2"],
            "posted_on": ["2021-07-01", "2022-03-15"],
            "category": ["engineering", ""],
        },
        "exits": {
            "org_id": ["o3"],
            "exit_kind": ["acquired"],
            "exited_on": ["2023-10-01"],
            "amount_eur": ["12000000"],
        },
        "opt_outs": {
            "subject_kind": ["person", "org"],
            "subject_id": ["p3", "o4"],
            "since": ["2024-01-01", "2024-05-01"],
        },
        "jei_status": {
            "org_id": ["o1", "o2"],
            "granted_on": ["2020-01-01", "2021-01-01"],
            "ended_on": ["", "2023-12-31"],
        },
    }
    return {name: pd.DataFrame(cols, dtype=object) for name, cols in t.items()}


def sample_dataset_info() -> dict[str, str]:
    return {
        "name": "sample",
        "source": "hand-made example of the TalentMap contract",
        "licence": "CC0-1.0",
        "snapshot_date": SAMPLE_SNAPSHOT_DATE,
    }


def write_dataset(
    out: Path,
    tables: dict[str, pd.DataFrame],
    *,
    fmt: Literal["csv", "parquet"] = "csv",
    dataset: dict[str, object] | None = None,
) -> Path:
    """Write ``tables`` as a data directory (Parquet is written typed, as a source would)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(out / f"{name}.csv", index=False)
        else:
            to_typed(frame, name).to_parquet(out / f"{name}.parquet", index=False)
    if dataset is not None:
        (out / "dataset.json").write_text(json.dumps(dataset, ensure_ascii=False), encoding="utf-8")
    return out


def write_sample_dataset(out: Path, fmt: Literal["csv", "parquet"] = "csv") -> Path:
    """Write the sample world with its ``dataset.json`` into ``out``."""
    return write_dataset(out, sample_tables(), fmt=fmt, dataset=sample_dataset_info())
