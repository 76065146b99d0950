"""The regional ecosystem report's figures (issue 11): pure functions of lake tables.

One *area* is a French region or a foreign hub (organisations outside France grouped by
country and city). For each area and calendar year the report counts what happened in
that year, by the date each event carries, up to the report's date ``as_of``:

- seed-stage rounds (``pre_seed``, ``seed``, ``angel``) by ``announced_on``: how many,
  and the euros raised over the rounds whose amount is known;
- companies holding JEI status during the year (``jei_status``, granted by the year's
  end and not ended before its start) and companies in a programme during the year;
- job postings by ``posted_on``; headcount growth from the last observation of each
  year against the previous year's, over the companies observed in both;
- founders whose founder role started in the year (by ``started_on``, else the
  company's ``founded_on``) holding a PhD, or an engineering degree, obtained by the
  year's end (an undated degree counts: the source omits the date, not the degree);
  papers (and preprints), patents and software by ``published_on``;
- at ``as_of`` only: how many of the served national top k (French candidates in rank
  order) and of the overall top k are in the area.

Nothing dated after ``as_of`` counts, and an end date after ``as_of`` is read as not yet
known. Export-time fields (a status, a total) are not in the lake at all.

**Privacy.** Every figure carries the size of the group it describes (the companies, or
the founders, behind it). A group smaller than ``min_group_size`` is *suppressed*: the
cell says so and holds no value. Zero is shown: an empty group describes nobody. No
organisation or person is ever named.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from talentmap.serving.regions import FRANCE, FRENCH_REGIONS
from talentmap.settings.report import ReportConfig

SEED_ROUND_TYPES: tuple[str, ...] = ("pre_seed", "seed", "angel")
FOUNDER = "founder"

# Indicators in report order: (key, unit). Units let the page and the HTML format values.
INDICATORS: tuple[tuple[str, str], ...] = (
    ("seed_rounds", "count"),
    ("seed_amount_eur", "eur"),
    ("jei_companies", "count"),
    ("program_companies", "count"),
    ("job_postings", "count"),
    ("headcount_growth_pct", "percent"),
    ("founders_phd", "count"),
    ("founders_engineer", "count"),
    ("papers", "count"),
    ("patents", "count"),
    ("software", "count"),
)
INDICATOR_KEYS: tuple[str, ...] = tuple(key for key, _ in INDICATORS)

OK, SUPPRESSED, NOT_IN_DATA, NONE = "ok", "suppressed", "not_in_data", "none"


class UnknownAreaError(ValueError):
    """The region asked for is not one of the 18 official French regions."""


@dataclass(frozen=True)
class Area:
    key: str  # "region:<name>" or "hub:<country>:<city>"
    label: str
    kind: str  # "region" | "hub"
    country: str
    org_ids: frozenset[str]


def cell(value: float | int | None, group: int, floor: int, *, zero_ok: bool = True) -> dict:
    """One figure, or its suppression: the value never leaves when the group is small."""
    if group == 0:
        if zero_ok and value is not None:
            return {"status": OK, "value": 0}
        return {"status": NONE}
    if group < floor:
        return {"status": SUPPRESSED}
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return {"status": NONE}
    return {"status": OK, "value": round(float(value), 1) if isinstance(value, float) else value}


def _fold(text: str) -> str:
    """A city key: accents, case and spacing folded (``Berlin``, ``berlin ``, ``BERLIN``)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", plain.lower()).strip()


def _orgs(tables: Mapping[str, pd.DataFrame], excluded: frozenset[str]) -> pd.DataFrame:
    orgs = tables["organizations"]
    keep = ~orgs["org_id"].astype(str).isin(excluded)
    cols = [c for c in ("org_id", "country", "region", "city") if c in orgs.columns]
    out = orgs.loc[keep, cols].copy()
    for col in ("country", "region", "city"):
        if col not in out.columns:
            out[col] = None
    out["org_id"] = out["org_id"].astype(str)
    return out


def region_area(orgs: pd.DataFrame, region: str) -> Area:
    if region not in FRENCH_REGIONS:
        raise UnknownAreaError(
            f"unknown region {region!r}: use one of the 18 official French region names "
            f"({', '.join(FRENCH_REGIONS)})"
        )
    ids = orgs.loc[orgs["country"].eq(FRANCE) & orgs["region"].eq(region), "org_id"]
    return Area(f"region:{region}", region, "region", FRANCE, frozenset(ids))


def _label(cities: pd.Series) -> str:
    """The commonest spelling of a city, a capitalised one first on a tie (London, not LONDON)."""
    counts = cities.astype(str).str.strip().value_counts()
    return min(counts.index, key=lambda name: (-counts[name], not name.istitle(), name))


def foreign_hubs(orgs: pd.DataFrame, max_hubs: int, floor: int) -> list[Area]:
    """The largest cities outside France (known country and city), at least ``floor`` big.

    A hub smaller than the privacy floor would suppress every figure anyway, so it is
    left out rather than listed empty.
    """
    abroad = orgs[orgs["country"].notna() & orgs["country"].ne(FRANCE) & orgs["city"].notna()]
    if abroad.empty or max_hubs == 0:
        return []
    keyed = abroad.assign(_city=abroad["city"].astype(str).map(_fold))
    keyed = keyed[keyed["_city"].ne("")]
    groups = keyed.groupby(["country", "_city"], sort=False)
    sizes = groups.size().sort_values(ascending=False, kind="stable")
    hubs = []
    for (country, city_key), size in sizes.items():
        if size < floor or len(hubs) >= max_hubs:
            break
        members = groups.get_group((country, city_key))
        label = _label(members["city"])
        hubs.append(
            Area(
                f"hub:{country}:{city_key}",
                f"{label} ({country})",
                "hub",
                str(country),
                frozenset(members["org_id"]),
            )
        )
    return hubs


def _dated(frame: pd.DataFrame | None, column: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """Rows dated on or before ``as_of`` (undated rows cannot be placed in a year)."""
    if frame is None or column not in frame.columns:
        return pd.DataFrame(columns=["org_id", column, "_year"])
    dates = pd.to_datetime(frame[column])
    keep = dates.notna() & (dates <= as_of)
    out = frame.loc[keep].copy()
    out["_year"] = dates[keep].dt.year.astype(int)
    if "org_id" in out.columns:
        out["org_id"] = out["org_id"].astype(str)
    return out


def _active_orgs(
    frame: pd.DataFrame | None, start: str, end: str, as_of: pd.Timestamp, year: int
) -> set[str]:
    """Organisations with a period [start, end] overlapping ``year`` (end after as_of: open)."""
    if frame is None or frame.empty:
        return set()
    begin = pd.to_datetime(frame[start])
    finish = pd.to_datetime(frame[end]) if end in frame.columns else pd.Series(pd.NaT, frame.index)
    finish = finish.where(finish <= as_of)  # an end after as_of is not known yet
    y0, y1 = pd.Timestamp(year, 1, 1), min(pd.Timestamp(year, 12, 31), as_of)
    live = begin.notna() & (begin <= y1) & (finish.isna() | (finish >= y0))
    return set(frame.loc[live, "org_id"].astype(str))


@dataclass(frozen=True)
class _Prepared:
    """Every table cut at ``as_of`` once, so that each area only filters."""

    as_of: pd.Timestamp
    seed: pd.DataFrame
    jobs: pd.DataFrame
    heads: pd.DataFrame
    programs: pd.DataFrame | None
    jei: pd.DataFrame | None
    founders: pd.DataFrame  # org_id, person_id, _year, phd, engineer
    pubs: pd.DataFrame  # org_id, pub_id, kind, _year


def _founders(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    cols = ["org_id", "person_id", "_year", "phd", "engineer"]
    roles = tables.get("roles")
    if roles is None or roles.empty:
        return pd.DataFrame(columns=cols)
    founders = roles[roles["role"].eq(FOUNDER)].copy()
    founders["org_id"] = founders["org_id"].astype(str)
    founders["person_id"] = founders["person_id"].astype(str)
    orgs = tables["organizations"]
    founded = (
        pd.to_datetime(orgs.set_index(orgs["org_id"].astype(str))["founded_on"])
        if "founded_on" in orgs.columns
        else pd.Series(dtype="datetime64[ns]")
    )
    started = (
        pd.to_datetime(founders["started_on"])
        if "started_on" in founders.columns
        else pd.Series(pd.NaT, index=founders.index)
    )
    when = started.fillna(founders["org_id"].map(founded))
    keep = when.notna() & (when <= as_of)
    founders = founders.loc[keep, ["org_id", "person_id"]].assign(_year=when[keep].dt.year)
    education = tables.get("education")
    for degree, col in (("phd", "phd"), ("engineer", "engineer")):
        founders[col] = False
        if education is None or education.empty:
            continue
        held = education[education["degree"].eq(degree)]
        grad = pd.to_datetime(held["graduated_on"]) if "graduated_on" in held else None
        by_person = (
            pd.DataFrame(
                {
                    "person_id": held["person_id"].astype(str),
                    "_g": grad if grad is not None else pd.NaT,
                }
            )
            .assign(_gy=lambda d: d["_g"].dt.year.where(d["_g"] <= as_of, np.inf))
            .assign(_gy=lambda d: d["_gy"].where(d["_g"].notna(), -np.inf))
            .groupby("person_id")["_gy"]
            .min()
        )
        # A degree counts from the year it was obtained; undated degrees always count.
        first = founders["person_id"].map(by_person)
        founders[col] = first.notna() & (first <= founders["_year"])
    return founders.reset_index(drop=True)


def _publications(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Publications placed at organisations: by their ``org_id``, else by the author's
    roles in force on the publication date (a role with no start counts as in force)."""
    cols = ["org_id", "pub_id", "kind", "_year"]
    pubs = _dated(tables.get("publications"), "published_on", as_of)
    if pubs.empty:
        return pd.DataFrame(columns=cols)
    with_org = pubs[pubs["org_id"].notna()] if "org_id" in pubs.columns else pubs.iloc[:0]
    parts = [with_org[cols]] if not with_org.empty else []
    roles = tables.get("roles")
    if "person_id" in pubs.columns and roles is not None and not roles.empty:
        orphan = pubs[pubs["person_id"].notna()]
        if "org_id" in pubs.columns:
            orphan = orphan[orphan["org_id"].isna()]
        if not orphan.empty:
            r = roles[["person_id", "org_id"]].astype(str)
            r["_s"] = pd.to_datetime(roles.get("started_on"))
            r["_e"] = pd.to_datetime(roles.get("ended_on"))
            m = orphan.drop(columns=["org_id"], errors="ignore").assign(
                person_id=orphan["person_id"].astype(str)
            )
            m = m.merge(r, on="person_id")
            on = pd.to_datetime(m["published_on"])
            live = (m["_s"].isna() | (m["_s"] <= on)) & (m["_e"].isna() | (m["_e"] >= on))
            parts.append(m.loc[live, cols])
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["org_id"] = out["org_id"].astype(str)
    return out.drop_duplicates(["org_id", "pub_id"])


def _prepare(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> _Prepared:
    rounds = _dated(tables.get("funding_rounds"), "announced_on", as_of)
    seed = rounds[rounds["round_type"].isin(SEED_ROUND_TYPES)] if len(rounds) else rounds
    programs = tables.get("programs")
    jei = tables.get("jei_status")
    return _Prepared(
        as_of=as_of,
        seed=seed,
        jobs=_dated(tables.get("job_postings"), "posted_on", as_of),
        heads=_dated(tables.get("headcount"), "observed_on", as_of),
        programs=None
        if programs is None
        else programs[pd.to_datetime(programs["started_on"]) <= as_of],
        jei=None if jei is None else jei[pd.to_datetime(jei["granted_on"]) <= as_of],
        founders=_founders(tables, as_of),
        pubs=_publications(tables, as_of),
    )


def _headcount_growth(heads: pd.DataFrame, year: int) -> tuple[float | None, int]:
    """(growth in percent of the summed last observations, companies observed both years)."""
    if heads.empty:
        return None, 0
    h = heads[heads["_year"].isin((year - 1, year))].sort_values("observed_on")
    last = h.groupby(["org_id", "_year"])["headcount"].last().unstack()
    if year - 1 not in last.columns or year not in last.columns:
        return None, 0
    both = last.dropna(subset=[year - 1, year])
    before, after = float(both[year - 1].sum()), float(both[year].sum())
    if both.empty or before <= 0:
        return None, len(both)
    return 100.0 * (after - before) / before, len(both)


def _area_cells(
    prep: _Prepared, area: Area, years: Sequence[int], floor: int
) -> dict[str, list[dict[str, Any]]]:
    ids = area.org_ids

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["org_id"].isin(ids)] if len(frame) else frame

    seed, jobs, heads = mine(prep.seed), mine(prep.jobs), mine(prep.heads)
    founders, pubs = mine(prep.founders), mine(prep.pubs)
    programs = (
        None
        if prep.programs is None
        else mine(prep.programs.assign(org_id=prep.programs["org_id"].astype(str)))
    )
    jei = None if prep.jei is None else mine(prep.jei.assign(org_id=prep.jei["org_id"].astype(str)))
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in INDICATOR_KEYS}
    for year in years:
        s = seed[seed["_year"].eq(year)] if len(seed) else seed
        n_orgs = s["org_id"].nunique() if len(s) else 0
        out["seed_rounds"].append(cell(len(s), n_orgs, floor))
        known = s[s["amount_eur"].notna()] if len(s) else s
        out["seed_amount_eur"].append(
            cell(
                float(known["amount_eur"].sum()) if len(known) else 0.0,
                known["org_id"].nunique() if len(known) else 0,
                floor,
                zero_ok=False,
            )
        )
        if jei is None:
            out["jei_companies"].append({"status": NOT_IN_DATA})
        elif area.kind != "region":
            out["jei_companies"].append({"status": NONE})  # a French status: not abroad
        else:
            n = len(_active_orgs(jei, "granted_on", "ended_on", prep.as_of, year))
            out["jei_companies"].append(cell(n, n, floor))
        if programs is None:
            out["program_companies"].append({"status": NOT_IN_DATA})
        else:
            n = len(_active_orgs(programs, "started_on", "ended_on", prep.as_of, year))
            out["program_companies"].append(cell(n, n, floor))
        j = jobs[jobs["_year"].eq(year)] if len(jobs) else jobs
        out["job_postings"].append(cell(len(j), j["org_id"].nunique() if len(j) else 0, floor))
        growth, observed = _headcount_growth(heads, year)
        out["headcount_growth_pct"].append(cell(growth, observed, floor, zero_ok=False))
        f = founders[founders["_year"].eq(year)] if len(founders) else founders
        for key, col in (("founders_phd", "phd"), ("founders_engineer", "engineer")):
            n = f.loc[f[col].astype(bool), "person_id"].nunique() if len(f) else 0
            out[key].append(cell(n, n, floor))
        p = pubs[pubs["_year"].eq(year)] if len(pubs) else pubs
        for key, kinds in (
            ("papers", ("paper", "preprint")),
            ("patents", ("patent",)),
            ("software", ("software",)),
        ):
            k = p[p["kind"].isin(kinds)] if len(p) else p
            # The group is the companies behind the count: fewer than the floor could
            # point at one lab's output.
            out[key].append(
                cell(
                    k["pub_id"].nunique() if len(k) else 0,
                    k["org_id"].nunique() if len(k) else 0,
                    floor,
                )
            )
    return out


def _top_k(ranked: pd.DataFrame | None, area: Area, k: int, floor: int) -> dict[str, Any]:
    """The area's count and share of the national (French) and overall top k."""
    if ranked is None:
        return {"status": NOT_IN_DATA}
    overall = ranked.head(k)
    national = ranked[ranked["country"].eq(FRANCE)].head(k)
    out: dict[str, Any] = {"status": OK, "k": k}
    for name, top in (("national", national), ("overall", overall)):
        if name == "national" and area.kind != "region":
            out[name] = {"status": NONE}
            continue
        n = int(top["org_id"].astype(str).isin(area.org_ids).sum())
        count = cell(n, n, floor)
        if count["status"] == OK and len(top):
            count["share_pct"] = round(100.0 * n / len(top), 1)
        out[name] = count
    return out


def build_report(
    tables: Mapping[str, pd.DataFrame],
    region: str,
    as_of: date,
    config: ReportConfig,
    *,
    ranked: pd.DataFrame | None = None,
    excluded_orgs: frozenset[str] = frozenset(),
    lineage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report for ``region`` and the foreign hubs, as a JSON-ready dict.

    ``ranked``: the served ranking's ``org_id`` and ``country`` in rank order (None: the
    top-k share is "not in the data"). ``excluded_orgs``: opted-out organisations, left
    out of every figure.
    """
    when = pd.Timestamp(as_of)
    floor = config.min_group_size
    orgs = _orgs(tables, excluded_orgs)
    areas = [region_area(orgs, region), *foreign_hubs(orgs, config.max_hubs, floor)]
    years = list(range(as_of.year - config.years + 1, as_of.year + 1))
    prep = _prepare(tables, when)
    if ranked is not None:
        ranked = ranked[~ranked["org_id"].astype(str).isin(excluded_orgs)]
    return {
        "region": region,
        "as_of": as_of.isoformat(),
        "years": years,
        "partial_year": as_of.year if (as_of.month, as_of.day) != (12, 31) else None,
        "min_group_size": floor,
        "top_k": config.top_k,
        "jei_in_data": "jei_status" in tables,
        "indicators": [{"key": key, "unit": unit} for key, unit in INDICATORS],
        "lineage": dict(lineage or {}),
        "areas": [
            {
                "key": area.key,
                "label": area.label,
                "kind": area.kind,
                "country": area.country,
                "organisations": cell(len(area.org_ids), len(area.org_ids), floor),
                "values": _area_cells(prep, area, years, floor),
                "top_k": _top_k(ranked, area, config.top_k, floor),
            }
            for area in areas
        ],
    }


def report_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The report as long rows (area, indicator, year, status, value): the CSV's content."""
    rows = []
    for area in report["areas"]:
        for key in INDICATOR_KEYS:
            for year, c in zip(report["years"], area["values"][key], strict=True):
                rows.append(
                    {
                        "area": area["label"],
                        "area_kind": area["kind"],
                        "indicator": key,
                        "year": year,
                        "status": c["status"],
                        "value": c.get("value"),
                    }
                )
        top = area["top_k"]
        for scope in ("national", "overall"):
            c = top.get(scope, {"status": top["status"]})
            rows.append(
                {
                    "area": area["label"],
                    "area_kind": area["kind"],
                    "indicator": f"top_k_{scope}",
                    "year": int(report["as_of"][:4]),
                    "status": c["status"],
                    "value": c.get("value"),
                }
            )
    return rows
