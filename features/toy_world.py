"""A small random world in the typed-table convention, for feature tests and benchmarks.

It is not the realistic generator (``talentmap.generate``): it only exercises every table
and column the feature builders read, with ties, undated fields and out-of-order rows, so
point-in-time properties can be checked on many shapes cheaply.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from talentmap.features.catalog import PROGRAM_KINDS, ROUND_TYPES


def _dates(rng: np.random.Generator, low: np.ndarray, span_days: int) -> pd.Series:
    offsets = rng.integers(0, span_days, size=len(low))
    return pd.Series(pd.to_datetime(low) + pd.to_timedelta(offsets, unit="D")).astype(
        "datetime64[ns]"
    )


def _with_missing(rng: np.random.Generator, values: pd.Series, share: float) -> pd.Series:
    return values.mask(rng.random(len(values)) < share)


def random_world(
    n_orgs: int, seed: int, start: date = date(2012, 1, 1), end: date = date(2025, 12, 31)
) -> dict[str, pd.DataFrame]:
    """Every contract table, with dates between ``start`` and ``end``."""
    rng = np.random.default_rng(seed)
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    span = (t1 - t0).days
    org_ids = np.array([f"o{i:06d}" for i in range(n_orgs)], dtype=object)
    founded = _dates(rng, np.repeat(t0, n_orgs), max(span - 400, 1))
    orgs = pd.DataFrame(
        {
            "org_id": org_ids,
            "name": [f"Org {i}" for i in range(n_orgs)],
            "founded_on": _with_missing(rng, founded, 0.1),
            "closed_on": founded.where(rng.random(n_orgs) < 0.9, founded + pd.Timedelta(days=900)),
            "country": np.where(rng.random(n_orgs) < 0.9, "FR", "DE").astype(object),
            "region": rng.choice(["Île-de-France", "Occitanie", "Bretagne", None], n_orgs),
            "city": None,
            "sector": rng.choice(["ai", "health", "energy", "fintech"], n_orgs),
        }
    )
    orgs.loc[orgs["closed_on"] == founded, "closed_on"] = pd.NaT
    orgs["closed_on"] = orgs["closed_on"].where(orgs["closed_on"] <= t1)

    def org_sample(rate: float) -> tuple[np.ndarray, pd.Series]:
        counts = rng.poisson(rate, n_orgs)
        idx = np.repeat(np.arange(n_orgs), counts)
        base = founded.to_numpy()[idx] - np.timedelta64(200, "D")
        days = _dates(rng, base, 2500)
        return org_ids[idx], days.where(days <= t1, t1)

    r_org, r_day = org_sample(3.0)
    rounds = pd.DataFrame(
        {
            "round_id": [f"r{i:07d}" for i in range(len(r_org))],
            "org_id": r_org,
            "announced_on": r_day,
            "round_type": rng.choice(ROUND_TYPES, len(r_org)),
            "amount_eur": _with_missing(
                rng, pd.Series(np.exp(rng.normal(13, 1.5, len(r_org)))), 0.2
            ),
            "n_investors": pd.array(rng.integers(0, 6, len(r_org)), dtype="Int64"),
        }
    )
    n_inv = len(rounds) * 2
    investments = pd.DataFrame(
        {
            "round_id": rng.choice(rounds["round_id"].to_numpy(), n_inv),
            "investor_id": [f"i{k:04d}" for k in rng.integers(0, max(n_orgs // 2, 5), n_inv)],
            "investor_name": None,
            "investor_kind": rng.choice(["vc", "angel", "corporate", "public", None], n_inv),
            "is_lead": pd.array(rng.choice([True, False, None], n_inv), dtype="boolean"),
        }
    ).drop_duplicates(["round_id", "investor_id"])

    n_people = n_orgs * 3
    person_ids = np.array([f"p{i:07d}" for i in range(n_people)], dtype=object)
    people = pd.DataFrame(
        {
            "person_id": person_ids,
            "full_name": [f"Person {i}" for i in range(n_people)],
            "gender": rng.choice(["F", "M", "X", None], n_people),
            "birth_year": pd.array(rng.integers(1960, 2000, n_people), dtype="Int64"),
        }
    )
    n_roles = int(n_people * 1.2)
    role_org = rng.integers(0, n_orgs, n_roles)
    role_start = _dates(rng, founded.to_numpy()[role_org] - np.timedelta64(100, "D"), 1500)
    roles = pd.DataFrame(
        {
            "person_id": rng.choice(person_ids, n_roles),
            "org_id": org_ids[role_org],
            "role": rng.choice(["founder", "executive", "employee", "advisor"], n_roles),
            "title": None,
            "started_on": _with_missing(rng, role_start.where(role_start <= t1, t1), 0.1),
            "ended_on": (role_start + pd.to_timedelta(rng.integers(30, 4000, n_roles), "D")),
        }
    )
    roles["ended_on"] = roles["ended_on"].where(
        (roles["ended_on"] <= t1) & (rng.random(n_roles) < 0.4)
    )
    n_edu = n_people
    education = pd.DataFrame(
        {
            "person_id": rng.choice(person_ids, n_edu),
            "institution": rng.choice(
                ["École polytechnique", "HEC Paris", "Université de Lyon", "INSA Lyon", "MIT"],
                n_edu,
            ),
            "degree": rng.choice(["bachelor", "master", "engineer", "phd", "mba", "other"], n_edu),
            "graduated_on": _with_missing(
                rng, _dates(rng, np.repeat(t0 - pd.Timedelta(days=3000), n_edu), span + 3000), 0.2
            ),
        }
    )
    p_org, p_day = org_sample(2.0)
    programs = pd.DataFrame(
        {
            "org_id": p_org,
            "program_id": rng.choice(["p_ilab", "p_station_f", "p_bpi", "p_wilco"], len(p_org)),
            "program_name": None,
            "program_kind": rng.choice(PROGRAM_KINDS, len(p_org)),
            "started_on": p_day,
            "ended_on": p_day + pd.to_timedelta(rng.integers(30, 800, len(p_org)), "D"),
        }
    )
    programs["ended_on"] = programs["ended_on"].where(
        (programs["ended_on"] <= t1) & (rng.random(len(p_org)) < 0.7)
    )
    n_pub = n_orgs * 3
    pub_org = rng.integers(0, n_orgs, n_pub)
    has_org = rng.random(n_pub) < 0.5
    publications = pd.DataFrame(
        {
            "pub_id": [f"u{i:07d}" for i in range(n_pub)],
            "person_id": np.where(
                ~has_org | (rng.random(n_pub) < 0.3), rng.choice(person_ids, n_pub), None
            ),
            "org_id": np.where(has_org, org_ids[pub_org], None),
            "published_on": _dates(
                rng, np.repeat(t0 - pd.Timedelta(days=1500), n_pub), span + 1500
            ),
            "kind": rng.choice(["paper", "preprint", "patent", "software"], n_pub),
            "venue": None,
        }
    )
    h_org, h_day = org_sample(4.0)
    headcount = pd.DataFrame(
        {
            "org_id": h_org,
            "observed_on": h_day,
            "headcount": pd.array(rng.integers(1, 200, len(h_org)), dtype="Int64"),
        }
    )
    j_org, j_day = org_sample(5.0)
    job_postings = pd.DataFrame({"org_id": j_org, "posted_on": j_day, "category": None})
    exited = rng.random(n_orgs) < 0.1
    exits = pd.DataFrame(
        {
            "org_id": org_ids[exited],
            "exit_kind": rng.choice(["acquired", "ipo"], int(exited.sum())),
            "exited_on": _dates(rng, founded.to_numpy()[exited], 3000).clip(upper=t1),
            "amount_eur": np.nan,
        }
    )
    return {
        "organizations": orgs,
        "funding_rounds": rounds,
        "investments": investments,
        "people": people,
        "roles": roles,
        "education": education,
        "programs": programs,
        "publications": publications,
        "headcount": headcount,
        "job_postings": job_postings,
        "exits": exits,
    }
