"""Today's Crunchbase CSV export (uuid keys). Mapping document: data/importers/crunchbase-csv.md.

``organizations.created_at`` (when Crunchbase first listed the record) becomes
``first_seen_on``. Snapshot-time fields (status, totals, counts, last funding date,
employee band, rank, ``updated_at``) are never written.
"""

from __future__ import annotations

import pandas as pd

from talentmap.importers.common import (
    Imported,
    ImportOptions,
    LatestDate,
    load,
    people_with_roles_only,
)
from talentmap.importers.normalise import (
    UNKNOWN_WORDS,
    amounts,
    countries,
    dates,
    regions,
    text,
    to_eur,
)
from talentmap.importers.reading import SourceError, find_files
from talentmap.importers.report import ImportReport, SourceCount
from talentmap.importers.value_maps import (
    CB_GENDER_UNKNOWN,
    CB_GENDERS,
    CB_INVESTMENT_TYPES,
    CB_INVESTOR_TYPES,
    degree_from,
    role_from,
)
from talentmap.importers.writing import frame

SOURCE = "Crunchbase CSV export (crunchbase.com)"
LICENCE = "Crunchbase licence agreement (proprietary; check your contract before sharing)"
TABLES = (
    "organizations",
    "funding_rounds",
    "investments",
    "investors",
    "people",
    "jobs",
    "degrees",
    "acquisitions",
    "ipos",
)
STAMP_LABELS = tuple(f"{t}.{c}" for t in TABLES for c in ("created_at", "updated_at"))


def run(options: ImportOptions, report: ImportReport) -> Imported:
    files, unused = find_files(options.src, TABLES)
    if "organizations" not in files and "funding_rounds" not in files:
        raise SourceError(
            f"{options.src}: no organizations.csv or funding_rounds.csv; the crunchbase-csv "
            "importer needs at least one"
        )
    for name in unused:
        report.note(f"{name}: not a table this importer reads, ignored")
    latest = LatestDate()
    frames: dict[str, pd.DataFrame] = {}

    def read(name: str, cols: tuple[str, ...]) -> tuple[pd.DataFrame, SourceCount] | None:
        loaded = load(report, files, name, (*cols, "created_at", "updated_at"), options.progress)
        if loaded is not None:
            for stamp in ("created_at", "updated_at"):
                latest.see(f"{name}.{stamp}", loaded[0][stamp])
        return loaded

    orgs = read(
        "organizations",
        (
            "uuid",
            "name",
            "roles",
            "primary_role",
            "country_code",
            "region",
            "city",
            "founded_on",
            "closed_on",
            "category_list",
            "category_groups_list",
        ),
    )
    if orgs is not None:
        frames["organizations"] = _organizations(*orgs, latest)

    investors = read("investors", ("uuid", "investor_types"))
    investor_kinds: dict[str, str] = {}
    if investors is not None:
        raw, counts = investors
        uuid = text(raw["uuid"], counts, "uuid")
        kinds = text(raw["investor_types"]).map(_investor_kind)
        investor_kinds = dict(zip(uuid[uuid.notna()], kinds[uuid.notna()], strict=True))
        counts.mapped += len(raw)  # read only to type the investors of investments
        report.note("investors: read only to give investments their investor_kind")

    rounds = read(
        "funding_rounds",
        (
            "uuid",
            "org_uuid",
            "announced_on",
            "investment_type",
            "raised_amount_usd",
            "raised_amount",
            "raised_amount_currency_code",
            "investor_count",
        ),
    )
    if rounds is not None:
        frames["funding_rounds"] = _rounds(*rounds, options, latest)

    investments = read(
        "investments",
        (
            "uuid",
            "funding_round_uuid",
            "investor_uuid",
            "investor_name",
            "investor_type",
            "is_lead_investor",
        ),
    )
    if investments is not None:
        raw, counts = investments
        investor = text(raw["investor_uuid"], counts, "investor_uuid")
        kind = investor.map(investor_kinds.get)
        person = text(raw["investor_type"]).str.lower().eq("person")
        kind = kind.where(kind.notna() | ~person, "angel")
        lead = text(raw["is_lead_investor"], counts, "is_lead_investor").str.lower()
        frames["investments"] = frame(
            "investments",
            {
                "round_id": text(raw["funding_round_uuid"], counts, "funding_round_uuid"),
                "investor_id": investor,
                "investor_name": text(raw["investor_name"], counts, "investor_name"),
                "investor_kind": kind,
                "is_lead": lead.map({"true": True, "t": True, "false": False, "f": False}),
            },
            "investments",
            raw.index,
        )

    people = read("people", ("uuid", "name", "first_name", "last_name", "gender"))
    if people is not None:
        raw, counts = people
        full = text(raw["name"], counts, "name")
        joined = text(raw["first_name"]).fillna("") + " " + text(raw["last_name"]).fillna("")
        joined = joined.str.strip()
        use_parts = full.isna() & joined.ne("")
        counts.repair("name blank, first_name + last_name used", int(use_parts.sum()))
        full = full.where(~use_parts, joined)
        frames["people"] = frame(
            "people",
            {
                "person_id": text(raw["uuid"], counts, "uuid"),
                "full_name": full,
                "gender": _gender(text(raw["gender"]), counts),
            },
            "people",
            raw.index,
        )

    jobs = read(
        "jobs", ("uuid", "person_uuid", "org_uuid", "started_on", "ended_on", "title", "job_type")
    )
    if jobs is not None:
        raw, counts = jobs
        title = text(raw["title"], counts, "title")
        job_type = text(raw["job_type"], counts, "job_type")
        started = dates(raw["started_on"], counts, "started_on")
        latest.see("jobs.started_on", started)
        frames["roles"] = frame(
            "roles",
            {
                "person_id": text(raw["person_uuid"], counts, "person_uuid"),
                "org_id": text(raw["org_uuid"], counts, "org_uuid"),
                "role": [role_from(t, j) for t, j in zip(title, job_type, strict=True)],
                "title": title,
                "started_on": started,
                "ended_on": dates(raw["ended_on"], counts, "ended_on"),
            },
            "jobs",
            raw.index,
        )

    degrees = read(
        "degrees",
        ("uuid", "person_uuid", "institution_name", "degree_type", "subject", "completed_on"),
    )
    if degrees is not None:
        raw, counts = degrees
        degree = text(raw["degree_type"], counts, "degree_type").map(degree_from)
        counts.repair(
            "degree type not recognised (or blank), filed as other", int(degree.eq("other").sum())
        )
        graduated = dates(raw["completed_on"], counts, "completed_on")
        latest.see("degrees.completed_on", graduated)
        frames["education"] = frame(
            "education",
            {
                "person_id": text(raw["person_uuid"], counts, "person_uuid"),
                "institution": text(raw["institution_name"], counts, "institution_name"),
                "degree": degree,
                "graduated_on": graduated,
            },
            "degrees",
            raw.index,
        )

    exits = []
    acquisitions = read(
        "acquisitions",
        ("uuid", "acquiree_uuid", "acquired_on", "price_usd", "price", "price_currency_code"),
    )
    if acquisitions is not None:
        exits.append(
            _exits(
                *acquisitions,
                "acquisitions",
                "acquiree_uuid",
                "acquired",
                "acquired_on",
                ("price", "price_currency_code", "price_usd"),
                options,
                latest,
            )
        )
    ipos = read(
        "ipos",
        (
            "uuid",
            "org_uuid",
            "went_public_on",
            "valuation_price_usd",
            "valuation_price",
            "valuation_price_currency_code",
        ),
    )
    if ipos is not None:
        exits.append(
            _exits(
                *ipos,
                "ipos",
                "org_uuid",
                "ipo",
                "went_public_on",
                ("valuation_price", "valuation_price_currency_code", "valuation_price_usd"),
                options,
                latest,
            )
        )
    if exits:
        frames["exits"] = pd.concat(exits, ignore_index=True)
    if "organizations" not in frames:
        frames["organizations"] = frame(
            "organizations",
            {"org_id": pd.Series(dtype=object), "name": None, "country": None},
            "_none",
            pd.RangeIndex(0),
        )
        report.note("no organizations.csv: every dependent row is dropped as orphaned")

    snapshot, origin = latest.snapshot_date(STAMP_LABELS)
    return Imported(
        frames=frames,
        source=SOURCE,
        licence=LICENCE,
        name="crunchbase-csv-export",
        snapshot_date=snapshot,
        snapshot_date_source=origin,
        after_rules=people_with_roles_only("job"),
    )


def _investor_kind(types: str | None) -> str | None:
    for item in (types or "").split(","):
        kind = CB_INVESTOR_TYPES.get(item.strip().lower())
        if kind:
            return kind
    return "other" if types else None


def _gender(values: pd.Series, counts: SourceCount) -> pd.Series:
    lowered = values.str.lower()
    out = lowered.map(CB_GENDERS.get)
    stated_other = lowered.notna() & out.isna() & ~lowered.isin(CB_GENDER_UNKNOWN)
    counts.repair("gender other than female/male filed as X", int(stated_other.sum()))
    return out.where(~stated_other, "X")


def _organizations(raw: pd.DataFrame, counts: SourceCount, latest: LatestDate) -> pd.DataFrame:
    roles = text(raw["roles"]).str.lower()
    primary = text(raw["primary_role"]).str.lower()
    company = roles.str.contains("company", na=False) | primary.eq("company")
    if roles.isna().all() and primary.isna().all():
        company = pd.Series(True, index=raw.index)  # an export without role columns
    for role, n in roles[~company].fillna("(blank)").value_counts().items():
        counts.drop(f"roles {role}: not a company", int(n))
    part = raw[company]
    founded = dates(part["founded_on"], counts, "founded_on")
    closed = dates(part["closed_on"], counts, "closed_on")
    latest.see("organizations.founded_on", founded)
    latest.see("organizations.closed_on", closed)
    country = countries(part["country_code"], counts, "country_code")
    groups = text(part["category_groups_list"], counts, "category_groups_list")
    categories = text(part["category_list"], counts, "category_list")
    sector = groups.where(groups.notna(), categories).str.split(",").str[0].str.strip()
    return frame(
        "organizations",
        {
            "org_id": text(part["uuid"], counts, "uuid"),
            "name": text(part["name"], counts, "name"),
            "founded_on": founded,
            "closed_on": closed,
            "first_seen_on": dates(part["created_at"], counts, "created_at"),
            "country": country,
            "region": regions(part["region"], country, counts, "region"),
            "city": text(part["city"], counts, "city", placeholders=UNKNOWN_WORDS),
            "sector": sector,
        },
        "organizations",
        part.index,
    )


def _rounds(
    raw: pd.DataFrame, counts: SourceCount, options: ImportOptions, latest: LatestDate
) -> pd.DataFrame:
    announced = dates(raw["announced_on"], counts, "announced_on")
    latest.see("funding_rounds.announced_on", announced)
    kind = text(raw["investment_type"], counts, "investment_type").str.lower()
    round_type = kind.map(CB_INVESTMENT_TYPES.get)
    counts.repair(
        "investment_type not in the value map (or blank), filed as other",
        int(round_type.isna().sum()),
    )
    eur = _money(
        raw, counts, options, "raised_amount", "raised_amount_currency_code", "raised_amount_usd"
    )
    n_investors, _ = amounts(raw["investor_count"], counts, "investor_count")
    return frame(
        "funding_rounds",
        {
            "round_id": text(raw["uuid"], counts, "uuid"),
            "org_id": text(raw["org_uuid"], counts, "org_uuid"),
            "announced_on": announced,
            "round_type": round_type.where(round_type.notna(), "other"),
            "amount_eur": eur,
            "n_investors": pd.array(n_investors.round(), dtype="Int64"),
        },
        "funding_rounds",
        raw.index,
    )


def _money(
    raw: pd.DataFrame,
    counts: SourceCount,
    options: ImportOptions,
    amount_column: str,
    currency_column: str,
    usd_column: str,
) -> pd.Series:
    """Euros from the amount in its own currency, else from the USD figure."""
    value, symbol = amounts(raw[amount_column], counts, amount_column)
    currency = text(raw[currency_column])
    eur = to_eur(
        value, currency.where(currency.notna(), symbol), options.fx_rates, counts, amount_column
    )
    usd, _ = amounts(raw[usd_column], counts, usd_column)
    if "USD" in options.fx_rates:
        fill = eur.isna() & usd.notna()
        rate = options.fx_rates["USD"]
        counts.repair(f"amount from {usd_column} at fixed rate {rate}", int(fill.sum()))
        eur = eur.where(~fill, usd * rate)
    return eur


def _exits(
    raw: pd.DataFrame,
    counts: SourceCount,
    src: str,
    org_column: str,
    exit_kind: str,
    date_column: str,
    money: tuple[str, str, str],
    options: ImportOptions,
    latest: LatestDate,
) -> pd.DataFrame:
    exited = dates(raw[date_column], counts, date_column)
    latest.see(f"{src}.{date_column}", exited)
    return frame(
        "exits",
        {
            "org_id": text(raw[org_column], counts, org_column),
            "exit_kind": exit_kind,
            "exited_on": exited,
            "amount_eur": _money(raw, counts, options, *money),
        },
        src,
        raw.index,
    )
