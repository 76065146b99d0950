"""The Crunchbase 2013 Snapshot (CC BY 4.0): relational tables keyed by typed object ids.

Mapping document: ``data/importers/crunchbase2013.md``. Only dated events and static
profile fields pass; everything the objects table says about December 2013 (status,
funding totals, first/last funding dates, counts, ``updated_at``) is left behind, because
as a feature for an earlier date it would leak the future.
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
    CB2013_INVESTOR_KINDS,
    CB2013_ROUND_CODES,
    CB2013_ROUND_TYPES,
    degree_from,
    role_from,
)
from talentmap.importers.writing import drop, frame, kept

SOURCE = "Crunchbase 2013 Snapshot (crunchbase.com)"
LICENCE = "CC-BY-4.0"
TABLES = (
    "objects",
    "funding_rounds",
    "investments",
    "acquisitions",
    "ipos",
    "people",
    "relationships",
    "degrees",
    "offices",
    "milestones",
)
# Bookkeeping timestamps: the export cannot be older than the latest of them.
STAMP_LABELS = tuple(f"{t}.{c}" for t in TABLES for c in ("created_at", "updated_at"))

OBJECT_COLUMNS = (
    "id",
    "entity_type",
    "name",
    "normalized_name",
    "category_code",
    "founded_at",
    "closed_at",
    "country_code",
    "state_code",
    "city",
    "region",
    "created_at",
    "updated_at",
)


def run(options: ImportOptions, report: ImportReport) -> Imported:
    files, unused = find_files(options.src, TABLES, prefixes=("cb_", ""))
    if "objects" not in files and "funding_rounds" not in files:
        raise SourceError(
            f"{options.src}: no objects or funding_rounds table (cb_objects.csv, "
            "objects.csv, cb_funding_rounds.csv...); the Crunchbase 2013 importer needs one"
        )
    for name in unused:
        report.note(f"{name}: not a table this importer reads, ignored")
    latest = LatestDate()
    progress = options.progress
    frames: dict[str, pd.DataFrame] = {}

    def read(name: str, cols: tuple[str, ...]) -> tuple[pd.DataFrame, SourceCount] | None:
        loaded = load(report, files, name, (*cols, "created_at", "updated_at"), progress)
        if loaded is not None:
            raw, _ = loaded
            for stamp in ("created_at", "updated_at"):
                latest.see(f"{name}.{stamp}", raw[stamp])
        return loaded

    objects = read("objects", OBJECT_COLUMNS)
    kinds: dict[str, str] = {}  # object id -> entity_type
    names: dict[str, str] = {}
    if objects is not None:
        raw, counts = objects
        ids = text(raw["id"], counts, "id")
        etype = text(raw["entity_type"])
        typed = etype.isna() & ids.str.startswith("c:", na=False)
        counts.repair("entity_type blank, company by its c: id", int(typed.sum()))
        etype = etype.where(~typed, "Company")
        kinds = dict(zip(ids[ids.notna()], etype[ids.notna()], strict=True))
        name = text(raw["name"])
        named = ids.notna() & name.notna()
        names = dict(zip(ids[named], name[named], strict=True))
        frames["organizations"] = _organizations(raw, ids, etype, counts, latest)
        people_from_objects = "people" not in files
        if people_from_objects:
            frames["people"] = _people_from_objects(raw, ids, etype, name)
        other = ~etype.eq("Company")
        if people_from_objects:
            other &= ~etype.eq("Person")
        for entity, n in etype[other].fillna("(blank)").value_counts().items():
            counts.drop(f"entity_type {entity}: not a company (used for names only)", int(n))

    people = read("people", ("id", "object_id", "first_name", "last_name"))
    if people is not None:
        raw, counts = people
        pid = text(raw["object_id"], counts, "object_id")
        first, last = text(raw["first_name"]), text(raw["last_name"])
        full = (first.fillna("") + " " + last.fillna("")).str.strip()
        full = full.where(full.ne(""), pid.map(names.get))
        df = frame("people", {"person_id": pid, "full_name": full}, "people", raw.index)
        frames["people"] = df
        for p, n in zip(pid, full, strict=True):
            if p is not None and n:
                names.setdefault(p, n)

    rounds = read(
        "funding_rounds",
        (
            "id",
            "funding_round_id",
            "object_id",
            "funded_at",
            "funding_round_type",
            "funding_round_code",
            "raised_amount_usd",
            "raised_amount",
            "raised_currency_code",
            "participants",
        ),
    )
    if rounds is not None:
        frames["funding_rounds"] = _rounds(*rounds, kinds, options, latest)
        if "organizations" not in frames:
            frames["organizations"] = _stub_organizations(frames["funding_rounds"])
            report.note(
                "no objects table: organisations are only the c: ids of funding rounds, "
                "with unknown name and country (the validator decides)"
            )

    investments = read("investments", ("id", "funding_round_id", "investor_object_id"))
    if investments is not None:
        raw, counts = investments
        investor = text(raw["investor_object_id"], counts, "investor_object_id")
        prefix = investor.str.split(":").str[0]
        kind = prefix.map(CB2013_INVESTOR_KINDS.get)
        counts.repair(
            "investor id without a c:/f:/p: prefix: kind unknown",
            int((investor.notna() & kind.isna()).sum()),
        )
        df = frame(
            "investments",
            {
                "round_id": text(raw["funding_round_id"], counts, "funding_round_id"),
                "investor_id": investor,
                "investor_name": investor.map(names.get),
                "investor_kind": kind,
            },
            "investments",
            raw.index,
        )
        frames["investments"] = df

    exits = []
    acquisitions = read(
        "acquisitions",
        (
            "id",
            "acquisition_id",
            "acquired_object_id",
            "price_amount",
            "price_currency_code",
            "acquired_at",
        ),
    )
    if acquisitions is not None:
        raw, counts = acquisitions
        org = text(raw["acquired_object_id"], counts, "acquired_object_id")
        exits.append(
            _exits(
                raw,
                counts,
                "acquisitions",
                org,
                "acquired",
                "acquired_at",
                "price_amount",
                "price_currency_code",
                kinds,
                options,
                latest,
            )
        )
    ipos = read(
        "ipos",
        ("id", "ipo_id", "object_id", "valuation_amount", "valuation_currency_code", "public_at"),
    )
    if ipos is not None:
        raw, counts = ipos
        org = text(raw["object_id"], counts, "object_id")
        exits.append(
            _exits(
                raw,
                counts,
                "ipos",
                org,
                "ipo",
                "public_at",
                "valuation_amount",
                "valuation_currency_code",
                kinds,
                options,
                latest,
            )
        )
    if exits:
        frames["exits"] = pd.concat(exits, ignore_index=True)

    relationships = read(
        "relationships",
        (
            "id",
            "relationship_id",
            "person_object_id",
            "relationship_object_id",
            "start_at",
            "end_at",
            "title",
        ),
    )
    if relationships is not None:
        raw, counts = relationships
        org = text(raw["relationship_object_id"], counts, "relationship_object_id")
        title = text(raw["title"], counts, "title")
        started = dates(raw["start_at"], counts, "start_at")
        ended = dates(raw["end_at"], counts, "end_at")
        latest.see("relationships.start_at", started)
        df = frame(
            "roles",
            {
                "person_id": text(raw["person_object_id"], counts, "person_object_id"),
                "org_id": org,
                "role": title.map(role_from),
                "title": title,
                "started_on": started,
                "ended_on": ended,
            },
            "relationships",
            raw.index,
        )
        _not_company(df, "org_id", kinds, "relationship with an object that is not a company")
        frames["roles"] = df

    degrees = read(
        "degrees", ("id", "object_id", "degree_type", "subject", "institution", "graduated_at")
    )
    if degrees is not None:
        raw, counts = degrees
        degree_type = text(raw["degree_type"], counts, "degree_type")
        degree = degree_type.map(degree_from)
        counts.repair(
            "degree type not recognised (or blank), filed as other",
            int(degree.eq("other").sum()),
        )
        graduated = dates(raw["graduated_at"], counts, "graduated_at")
        latest.see("degrees.graduated_at", graduated)
        df = frame(
            "education",
            {
                "person_id": text(raw["object_id"], counts, "object_id"),
                "institution": text(raw["institution"], counts, "institution"),
                "degree": degree,
                "graduated_on": graduated,
            },
            "degrees",
            raw.index,
        )
        frames["education"] = df

    offices = read(
        "offices", ("id", "object_id", "office_id", "city", "region", "state_code", "country_code")
    )
    if offices is not None:
        _locate_from_offices(*offices, frames.get("organizations"), report)

    milestones = read("milestones", ("id", "object_id", "milestone_at", "milestone_code"))
    if milestones is not None:
        raw, counts = milestones
        counts.drop("no contract table holds milestones", len(raw))

    if "funding_rounds" in frames and "organizations" in frames:
        _observe_rounds_before_founding(frames, report)
    snapshot, source_of_date = latest.snapshot_date(STAMP_LABELS)
    return Imported(
        frames=frames,
        source=SOURCE,
        licence=LICENCE,
        name="crunchbase-2013-snapshot",
        snapshot_date=snapshot,
        snapshot_date_source=source_of_date,
        after_rules=people_with_roles_only("role"),
    )


def _organizations(
    raw: pd.DataFrame,
    ids: pd.Series,
    etype: pd.Series,
    counts: SourceCount,
    latest: LatestDate,
) -> pd.DataFrame:
    company = etype.eq("Company")
    part = raw[company]
    name = text(part["name"], counts, "name")
    fallback = text(part["normalized_name"])
    counts.repair("name blank, normalized_name used", int((name.isna() & fallback.notna()).sum()))
    name = name.where(name.notna(), fallback)
    founded = dates(part["founded_at"], counts, "founded_at")
    closed = dates(part["closed_at"], counts, "closed_at")
    first_seen = dates(part["created_at"], counts, "created_at")
    counts.observe(
        "founded_at on 1 January 1900 (often a placeholder), kept as is",
        int(founded.eq("1900-01-01").sum()),
    )
    for label, values in (("founded_at", founded), ("closed_at", closed)):
        latest.see(f"objects.{label}", values)
    country = countries(part["country_code"], counts, "country_code")
    df = frame(
        "organizations",
        {
            "org_id": ids[company],
            "name": name,
            "founded_on": founded,
            "closed_on": closed,
            "first_seen_on": first_seen,
            "country": country,
            "region": regions(part["region"], country, counts, "region"),
            "city": text(part["city"], counts, "city", placeholders=UNKNOWN_WORDS),
            "sector": text(part["category_code"], counts, "category_code"),
        },
        "objects",
        part.index,
    )
    return df


def _people_from_objects(
    raw: pd.DataFrame, ids: pd.Series, etype: pd.Series, name: pd.Series
) -> pd.DataFrame:
    person = etype.eq("Person")
    df = frame(
        "people",
        {"person_id": ids[person], "full_name": name[person]},
        "objects",
        raw.index[person],
    )
    return df


def _stub_organizations(rounds: pd.DataFrame) -> pd.DataFrame:
    ids = rounds["org_id"].dropna()
    ids = pd.Series(ids[ids.str.startswith("c:")].unique(), dtype=object)
    return frame(
        "organizations",
        {"org_id": ids, "name": None, "country": None},
        "_stub: org ids of funding_rounds",
        ids.index,
    )


def _not_company(df: pd.DataFrame, column: str, kinds: dict[str, str], reason: str) -> None:
    if not kinds:
        # Without the objects table the typed id is the only evidence.
        drop(df, df[column].notna() & ~df[column].str.startswith("c:", na=False), reason)
        return
    entity = df[column].map(kinds.get)
    drop(df, entity.notna() & entity.ne("Company"), reason)


def _round_types(code: pd.Series, kind: pd.Series, counts: SourceCount) -> pd.Series:
    by_code = code.str.lower().map(CB2013_ROUND_CODES.get)
    by_type = kind.str.lower().map(CB2013_ROUND_TYPES.get)
    out = by_code.where(by_code.notna(), by_type)
    unmapped = out.isna()
    counts.repair(
        "round type/code not in the value map (or blank), filed as other", int(unmapped.sum())
    )
    return out.where(~unmapped, "other")


def _rounds(
    raw: pd.DataFrame,
    counts: SourceCount,
    kinds: dict[str, str],
    options: ImportOptions,
    latest: LatestDate,
) -> pd.DataFrame:
    announced = dates(raw["funded_at"], counts, "funded_at")
    latest.see("funding_rounds.funded_at", announced)
    amount, symbol = amounts(raw["raised_amount"], counts, "raised_amount", zero_is_unknown=True)
    currency = text(raw["raised_currency_code"]).where(
        text(raw["raised_currency_code"]).notna(), symbol
    )
    eur = to_eur(amount, currency, options.fx_rates, counts, "raised_amount")
    usd, _ = amounts(raw["raised_amount_usd"], counts, "raised_amount_usd", zero_is_unknown=True)
    if "USD" in options.fx_rates:
        from_usd = eur.isna() & usd.notna()
        counts.repair(
            f"amount from raised_amount_usd at fixed rate {options.fx_rates['USD']}",
            int(from_usd.sum()),
        )
        eur = eur.where(~from_usd, usd * options.fx_rates["USD"])
    participants, _ = amounts(raw["participants"], counts, "participants")
    zero = participants.eq(0)
    counts.repair("participants 0 means not recorded, left unknown", int(zero.sum()))
    n_investors = pd.array(participants.where(~zero).round(), dtype="Int64")
    df = frame(
        "funding_rounds",
        {
            "round_id": text(raw["funding_round_id"], counts, "funding_round_id"),
            "org_id": text(raw["object_id"], counts, "object_id"),
            "announced_on": announced,
            "round_type": _round_types(
                text(raw["funding_round_code"], counts, "funding_round_code"),
                text(raw["funding_round_type"], counts, "funding_round_type"),
                counts,
            ),
            "amount_eur": eur,
            "n_investors": n_investors,
        },
        "funding_rounds",
        raw.index,
    )
    _not_company(df, "org_id", kinds, "funded object is not a company")
    return df


def _exits(
    raw: pd.DataFrame,
    counts: SourceCount,
    src: str,
    org: pd.Series,
    exit_kind: str,
    date_column: str,
    amount_column: str,
    currency_column: str,
    kinds: dict[str, str],
    options: ImportOptions,
    latest: LatestDate,
) -> pd.DataFrame:
    exited = dates(raw[date_column], counts, date_column)
    latest.see(f"{src}.{date_column}", exited)
    value, symbol = amounts(raw[amount_column], counts, amount_column, zero_is_unknown=True)
    currency = text(raw[currency_column])
    eur = to_eur(
        value, currency.where(currency.notna(), symbol), options.fx_rates, counts, amount_column
    )
    df = frame(
        "exits",
        {"org_id": org, "exit_kind": exit_kind, "exited_on": exited, "amount_eur": eur},
        src,
        raw.index,
    )
    _not_company(df, "org_id", kinds, f"{exit_kind} object is not a company")
    return df


def _locate_from_offices(
    raw: pd.DataFrame,
    counts: SourceCount,
    orgs: pd.DataFrame | None,
    report: ImportReport,
) -> None:
    """Fill an unknown company location from its first office (the source's own record)."""
    obj = text(raw["object_id"], counts, "object_id")
    if orgs is None:
        counts.drop("no objects table to attach offices to", len(raw))
        return
    live = orgs[kept(orgs)]
    is_org = obj.isin(live["org_id"])
    counts.drop("office of an object that is not an imported company", int((~is_org).sum()))
    unknown = live.loc[live["country"].isna(), "org_id"]
    needs = is_org & obj.isin(unknown)
    counts.drop("company location already known from objects", int((is_org & ~needs).sum()))
    candidates = raw[needs].assign(
        _obj=obj[needs], _order=pd.to_numeric(text(raw.loc[needs, "id"]), errors="coerce")
    )
    candidates = candidates.sort_values(["_obj", "_order"], kind="stable")
    first = ~candidates["_obj"].duplicated(keep="first")
    counts.drop("not the company's first office", int((~first).sum()))
    chosen = candidates[first]
    country = countries(chosen["country_code"], counts, "country_code")
    located = country.notna()
    counts.drop("office country unknown too", int((~located).sum()))
    counts.mapped += int(located.sum())
    chosen = chosen[located]
    country = country[located]
    region = regions(chosen["region"], country, counts, "region")
    city = text(chosen["city"], counts, "city")
    position = pd.Series(orgs.index, index=orgs["org_id"]).groupby(level=0).first()
    rows = position.loc[chosen["_obj"]].to_numpy()
    orgs.loc[rows, "country"] = country.to_numpy()
    orgs.loc[rows, "region"] = region.to_numpy()
    orgs.loc[rows, "city"] = city.to_numpy()
    objects = report.table("objects")
    objects.repair("country, region and city taken from the company's first office", len(rows))


def _observe_rounds_before_founding(frames: dict[str, pd.DataFrame], report: ImportReport) -> None:
    orgs, rounds = frames["organizations"], frames["funding_rounds"]
    if "founded_on" not in orgs.columns:
        return
    founded = orgs.drop_duplicates("org_id").set_index("org_id")["founded_on"]
    when = rounds["org_id"].map(founded)
    early = kept(rounds) & when.notna() & rounds["announced_on"].notna()
    early &= rounds["announced_on"] < when
    report.table("funding_rounds").observe(
        "round dated before the company's founding date (founding dates are often back-filled)",
        int(early.sum()),
    )
