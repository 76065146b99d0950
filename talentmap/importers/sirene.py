"""INSEE SIRENE stock files (Licence Ouverte / Etalab 2.0). Mapping: data/importers/sirene.md.

The real files hold tens of millions of rows, so each is streamed once in Arrow batches
and filtered with Arrow compute kernels; only the units that pass every filter (a few
percent) are ever held in memory, as compact Arrow columns until the very end.

Privacy: a unit whose ``statutDiffusionUniteLegale`` is not ``O`` is never exported, and
neither is its head office; natural-person businesses (legal category 1000) are skipped
unless asked for.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from talentmap.contract import FR_REGIONS
from talentmap.importers.common import Imported, ImportOptions
from talentmap.importers.normalise import dates
from talentmap.importers.reading import SourceError, find_files, iter_batches
from talentmap.importers.report import ImportReport, SourceCount
from talentmap.importers.value_maps import SIRENE_HEADCOUNT_MIDPOINTS
from talentmap.importers.writing import frame

SOURCE = "INSEE, base SIRENE des entreprises et de leurs établissements (fichiers stock)"
LICENCE = "Licence Ouverte / Open Licence 2.0 (Etalab)"
UNITS, SITES, HISTORY = "StockUniteLegale", "StockEtablissement", "StockUniteLegaleHistorique"
DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "importers"
DEFAULT_NAF_SECTORS = DATA_DIR / "sirene_naf_sectors.csv"
DEPARTMENTS = DATA_DIR / "cog_departements.csv"
DEFAULT_WINDOW_YEARS = 15
# SIRENE writes 1900-01-01 where the creation date of an old unit is not known.
PLACEHOLDER_DATE = "1900-01-01"
REGION_NAMES = {code: name for name, code in FR_REGIONS.items()}

UNIT_COLUMNS = (
    "siren",
    "statutDiffusionUniteLegale",
    "dateCreationUniteLegale",
    "sigleUniteLegale",
    "prenom1UniteLegale",
    "prenomUsuelUniteLegale",
    "trancheEffectifsUniteLegale",
    "anneeEffectifsUniteLegale",
    "dateDernierTraitementUniteLegale",
    "dateDebut",
    "etatAdministratifUniteLegale",
    "nomUniteLegale",
    "nomUsageUniteLegale",
    "denominationUniteLegale",
    "denominationUsuelle1UniteLegale",
    "categorieJuridiqueUniteLegale",
    "activitePrincipaleUniteLegale",
    "nomenclatureActivitePrincipaleUniteLegale",
    "nicSiegeUniteLegale",
)
KEPT_UNIT_COLUMNS = [c for c in UNIT_COLUMNS if c != "dateDernierTraitementUniteLegale"]
SITE_COLUMNS = (
    "siren",
    "nic",
    "statutDiffusionEtablissement",
    "etablissementSiege",
    "codeCommuneEtablissement",
    "libelleCommuneEtablissement",
    "codePaysEtrangerEtablissement",
    "dateDernierTraitementEtablissement",
)
HISTORY_COLUMNS = ("siren", "dateDebut", "dateFin", "etatAdministratifUniteLegale")


@dataclass(frozen=True)
class SectorFilter:
    """NAF rév. 2 prefixes kept and their sector labels (longest prefix wins)."""

    prefixes: dict[str, str]
    keep_all: bool = False

    @classmethod
    def load(cls, path: Path | None, keep_all: bool) -> SectorFilter:
        path = path or DEFAULT_NAF_SECTORS
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise SourceError(f"cannot read the NAF sector table {path}: {exc}") from exc
        if not rows or not {"naf_prefix", "sector"} <= set(rows[0]):
            raise SourceError(f"{path}: expected the columns naf_prefix,sector")
        prefixes = {r["naf_prefix"].strip().replace(".", ""): r["sector"].strip() for r in rows}
        return cls(prefixes, keep_all)

    def sector(self, code: str) -> str | None:
        bare = code.replace(".", "").strip().upper()
        for n in range(len(bare), 0, -1):
            if bare[:n] in self.prefixes:
                return self.prefixes[bare[:n]]
        return None


def load_departments(path: Path = DEPARTMENTS) -> dict[str, str]:
    """INSEE department code -> official region name (COG ``v_departement``)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["DEP"]: REGION_NAMES[row["REG"]] for row in csv.DictReader(handle)}


def department_of(commune: str) -> str | None:
    """A commune code's department by INSEE's rules (2A/2B Corsica; 97x/98x: 3 digits)."""
    code = commune.strip().upper()
    if len(code) != 5:
        return None
    return code[:3] if code.startswith(("97", "98")) else code[:2]


def run(options: ImportOptions, report: ImportReport) -> Imported:
    files, unused = find_files(options.src, (UNITS, SITES, HISTORY), suffixes=("", "_utf8"))
    if UNITS not in files:
        raise SourceError(f"{options.src}: no {UNITS}.csv or .parquet (SIRENE stock file)")
    for name in unused:
        report.note(f"{name}: not a SIRENE stock file this importer reads, ignored")
    extra = options.extra
    sectors = SectorFilter.load(extra.get("naf_sectors"), bool(extra.get("all_sectors")))
    include_people = bool(extra.get("include_natural_persons"))
    keep_undated = bool(extra.get("keep_undated"))

    counts = report.table(UNITS, files[UNITS].name)
    units, latest = _read_units(files[UNITS], counts, sectors, include_people, options)
    snapshot = options.snapshot_date or latest
    origin = "latest dateDernierTraitementUniteLegale in the source" if latest else "none"
    founded_from = extra.get("founded_from")
    if founded_from is None and snapshot is not None:
        founded_from = _years_before(snapshot, DEFAULT_WINDOW_YEARS)
    units = _window(units, counts, founded_from, keep_undated)
    if include_people:
        report.note("natural-person businesses included (--include-natural-persons)")

    closing = None
    if HISTORY in files:
        closing = _closing_dates(files[HISTORY], report, units, options)
    sites = None
    if SITES in files:
        sites = _head_offices(files[SITES], report, units, options)
    else:
        report.note(f"no {SITES} file: country, region and city stay unknown")
    orgs, headcount = _to_contract(units, closing, sites, counts, report, sectors)
    frames = {"organizations": orgs, "headcount": headcount}
    frames["funding_rounds"] = frame(
        "funding_rounds",
        {c: pd.Series(dtype=object) for c in ("round_id", "org_id", "announced_on", "round_type")},
        "_none",
        pd.RangeIndex(0),
    )
    report.note("SIRENE has no funding rounds: funding_rounds.csv is written empty")
    return Imported(
        frames=frames,
        source=SOURCE,
        licence=LICENCE,
        name="sirene-stock",
        snapshot_date=snapshot,
        snapshot_date_source=origin,
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _col(batch: pa.Table, name: str) -> pa.ChunkedArray:
    return pc.utf8_trim_whitespace(pc.fill_null(batch.column(name), ""))


def _read_units(
    path: Path,
    counts: SourceCount,
    sectors: SectorFilter,
    include_people: bool,
    options: ImportOptions,
) -> tuple[pa.Table, date | None]:
    """Stream the units: count every row, keep only the candidates, find the latest date."""
    kept: list[pa.Table] = []
    latest = ""
    naf_sectors: dict[str, str | None] = {}
    for batch in iter_batches(
        path, UNIT_COLUMNS, progress=options.progress, newlines_in_values=False
    ):
        counts.read += batch.num_rows
        processed = _col(batch, "dateDernierTraitementUniteLegale")
        top = pc.max(pc.utf8_slice_codeunits(processed, 0, 10)).as_py()
        if top and top > latest and top[:4].isdigit():
            latest = top
        siren = _col(batch, "siren")
        live = pc.match_substring_regex(siren, r"^\d{9}$")
        counts.drop("missing or malformed siren", _n(pc.invert(live)))
        public = pc.equal(_col(batch, "statutDiffusionUniteLegale"), "O")
        counts.drop(
            "restricted diffusion (statutDiffusionUniteLegale not O): never exported",
            _n(pc.and_(live, pc.invert(public))),
        )
        live = pc.and_(live, public)
        if not include_people:
            person = pc.equal(_col(batch, "categorieJuridiqueUniteLegale"), "1000")
            counts.drop(
                "natural-person business (legal category 1000), skipped by default",
                _n(pc.and_(live, person)),
            )
            live = pc.and_(live, pc.invert(person))
        if not sectors.keep_all:
            naf = _col(batch, "activitePrincipaleUniteLegale")
            nomenclature = _col(batch, "nomenclatureActivitePrincipaleUniteLegale")
            for code in pc.unique(naf).to_pylist():
                if code not in naf_sectors:
                    naf_sectors[code] = sectors.sector(code) if code else None
            wanted = [c for c, s in naf_sectors.items() if s is not None]
            in_filter = pc.is_in(naf, value_set=pa.array(wanted, pa.string()))
            rev2 = pc.is_in(nomenclature, value_set=pa.array(["NAFRev2", ""]))
            in_filter = pc.and_(in_filter, rev2)
            counts.drop(
                "NAF code outside the sector filter (or not NAF rév. 2)",
                _n(pc.and_(live, pc.invert(in_filter))),
            )
            live = pc.and_(live, in_filter)
        if _n(live):
            kept.append(batch.filter(live).select(KEPT_UNIT_COLUMNS))
    units = pa.concat_tables(kept) if kept else _empty(KEPT_UNIT_COLUMNS)
    return units, (date.fromisoformat(latest) if latest else None)


def _n(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(pc.cast(pc.fill_null(mask, False), pa.int64())).as_py() or 0)


def _empty(columns: list[str]) -> pa.Table:
    return pa.table({c: pa.array([], pa.string()) for c in columns})


def _window(
    units: pa.Table, counts: SourceCount, founded_from: object, keep_undated: bool
) -> pa.Table:
    created = _col(units, "dateCreationUniteLegale")
    created = pc.utf8_slice_codeunits(created, 0, 10)
    placeholder = pc.equal(created, PLACEHOLDER_DATE)
    counts.repair(
        f"dateCreationUniteLegale {PLACEHOLDER_DATE} is SIRENE's placeholder, read as unknown",
        _n(placeholder),
    )
    undated = pc.or_(pc.equal(created, ""), placeholder)
    keep = pa.chunked_array([pa.array([True] * units.num_rows)]) if units.num_rows else None
    if keep is None:
        return units
    if not keep_undated:
        counts.drop("creation date unknown: cannot tell whether the unit is young", _n(undated))
        keep = pc.invert(undated)
    if isinstance(founded_from, date):
        early = pc.and_(pc.invert(undated), pc.less(created, founded_from.isoformat()))
        counts.drop(f"created before {founded_from.isoformat()} (creation window)", _n(early))
        keep = pc.and_(keep, pc.invert(early))
    return units.filter(keep)


def _closing_dates(
    path: Path, report: ImportReport, units: pa.Table, options: ImportOptions
) -> dict[str, str]:
    """siren -> start of the last run of 'C' (ceased) periods in the history file."""
    counts = report.table(HISTORY, path.name)
    wanted = pa.array(units.column("siren").to_pylist(), pa.string())
    parts = []
    for batch in iter_batches(
        path, HISTORY_COLUMNS, progress=options.progress, newlines_in_values=False
    ):
        counts.read += batch.num_rows
        ours = pc.is_in(_col(batch, "siren"), value_set=wanted)
        counts.drop("unit not imported", _n(pc.invert(ours)))
        counts.mapped += _n(ours)
        if _n(ours):
            parts.append(batch.filter(ours).to_pandas())
    if not parts:
        return {}
    history = pd.concat(parts, ignore_index=True)
    history["start"] = history["dateDebut"].str.strip().str[:10]
    history["state"] = history["etatAdministratifUniteLegale"].str.strip()
    last_active = history[history["state"].eq("A")].groupby("siren")["start"].max()
    ceased = history[history["state"].eq("C") & history["start"].ne("")].copy()
    ceased["after"] = ceased["siren"].map(last_active).fillna("")
    ceased = ceased[ceased["start"] > ceased["after"]]
    return ceased.groupby("siren")["start"].min().to_dict()


def _head_offices(
    path: Path, report: ImportReport, units: pa.Table, options: ImportOptions
) -> pd.DataFrame:
    counts = report.table(SITES, path.name)
    wanted = pa.array(units.column("siren").to_pylist(), pa.string())
    parts = []
    for batch in iter_batches(
        path, SITE_COLUMNS, progress=options.progress, newlines_in_values=False
    ):
        counts.read += batch.num_rows
        siege = pc.is_in(
            pc.utf8_lower(_col(batch, "etablissementSiege")),
            value_set=pa.array(["true", "1", "t", "oui"]),
        )
        counts.drop("not a head office", _n(pc.invert(siege)))
        head = batch.filter(siege)
        ours = pc.is_in(_col(head, "siren"), value_set=wanted)
        counts.drop("head office of a unit not imported", _n(pc.invert(ours)))
        head = head.filter(ours)
        public = pc.equal(_col(head, "statutDiffusionEtablissement"), "O")
        counts.drop(
            "head office with restricted diffusion: its location is not used",
            _n(pc.invert(public)),
        )
        head = head.filter(public)
        if head.num_rows:
            parts.append(head.to_pandas())
    if not parts:
        return pd.DataFrame(columns=list(SITE_COLUMNS))
    sites = pd.concat(parts, ignore_index=True)
    for column in sites.columns:
        sites[column] = sites[column].str.strip().replace("", None)
    nic_siege = dict(
        zip(
            units.column("siren").to_pylist(),
            units.column("nicSiegeUniteLegale").to_pylist(),
            strict=True,
        )
    )
    sites["_declared"] = sites["nic"].eq(sites["siren"].map(nic_siege))
    sites = sites.sort_values(["siren", "_declared"], ascending=[True, False], kind="stable")
    extra = sites["siren"].duplicated(keep="first")
    counts.drop(
        "another head office row for the same unit (nicSiegeUniteLegale preferred)",
        int(extra.sum()),
    )
    sites = sites[~extra]
    counts.mapped += len(sites)
    return sites.set_index("siren")


def _to_contract(
    units: pa.Table,
    closing: dict[str, str] | None,
    sites: pd.DataFrame | None,
    counts: SourceCount,
    report: ImportReport,
    sectors: SectorFilter,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = units.to_pandas()
    for column in df.columns:
        df[column] = df[column].str.strip().replace("", None)
    duplicate = df.duplicated(keep="first")
    counts.drop("exact duplicate row", int(duplicate.sum()))
    df = df[~duplicate]
    siren = df["siren"]
    name = df["denominationUniteLegale"]
    for fallback in ("denominationUsuelle1UniteLegale", "sigleUniteLegale"):
        use = name.isna() & df[fallback].notna()
        counts.repair(f"name from {fallback}", int(use.sum()))
        name = name.where(~use, df[fallback])
    person = df["categorieJuridiqueUniteLegale"].eq("1000")
    if person.any():
        first = df["prenomUsuelUniteLegale"].fillna(df["prenom1UniteLegale"]).fillna("")
        last = df["nomUsageUniteLegale"].fillna(df["nomUniteLegale"]).fillna("")
        full = (first + " " + last).str.strip().replace("", None)
        name = name.where(~person | name.notna(), full)
    created = df["dateCreationUniteLegale"].where(
        df["dateCreationUniteLegale"].ne(PLACEHOLDER_DATE)
    )
    founded = dates(created, counts, "dateCreationUniteLegale")
    closed = _closed_on(df, closing, counts)
    country, region, city = _location(siren, sites, counts)
    naf = df["activitePrincipaleUniteLegale"].fillna("")
    sector = naf.map(lambda c: sectors.sector(c) if c else None)
    orgs = frame(
        "organizations",
        {
            "org_id": siren,
            "name": name,
            "founded_on": founded,
            "closed_on": closed,
            "country": country,
            "region": region,
            "city": city,
            "sector": sector,
        },
        UNITS,
        df.index,
    )
    return orgs, _headcount(df, counts, report)


def _closed_on(df: pd.DataFrame, closing: dict[str, str] | None, counts: SourceCount) -> pd.Series:
    ceased = df["etatAdministratifUniteLegale"].eq("C")
    from_history = df["siren"].map(closing or {}).where(ceased)
    period = df["dateDebut"].where(ceased)
    counts.repair("closed_on from the history file", int(from_history.notna().sum()))
    used_period = from_history.isna() & period.notna()
    counts.repair("closed_on from dateDebut of the closing period", int(used_period.sum()))
    undated = ceased & from_history.isna() & period.isna()
    counts.observe("ceased without a date: the status alone is not exported", int(undated.sum()))
    raw = from_history.where(from_history.notna(), period)
    return dates(raw, counts, "closed_on")


def _location(
    siren: pd.Series, sites: pd.DataFrame | None, counts: SourceCount
) -> tuple[pd.Series, pd.Series, pd.Series]:
    none = pd.Series([None] * len(siren), index=siren.index, dtype=object)
    if sites is None:
        return none, none.copy(), none.copy()
    departments = load_departments()
    commune = siren.map(sites["codeCommuneEtablissement"]).where(siren.isin(sites.index))
    abroad = siren.map(sites["codePaysEtrangerEtablissement"]).where(siren.isin(sites.index))
    city = siren.map(sites["libelleCommuneEtablissement"]).where(siren.isin(sites.index))
    dep = commune.map(lambda c: department_of(c) if isinstance(c, str) else None)
    region = dep.map(lambda d: departments.get(d) if d else None)
    in_france = commune.notna()
    country = none.copy()
    country[in_france] = "FR"
    no_site = ~siren.isin(sites.index)
    counts.observe("no usable head office: country, region and city unknown", int(no_site.sum()))
    foreign = ~in_france & abroad.notna()
    counts.observe("head office abroad: country left unknown", int(foreign.sum()))
    outside = in_france & region.isna()
    counts.observe(
        "head office in a collectivity outside the 18 regions (975, 977, 978, 98x): region unknown",
        int(outside.sum()),
    )
    return country, region.astype(object), city.astype(object)


def _headcount(df: pd.DataFrame, counts: SourceCount, report: ImportReport) -> pd.DataFrame:
    band = df["trancheEffectifsUniteLegale"]
    year = df["anneeEffectifsUniteLegale"].where(
        df["anneeEffectifsUniteLegale"].fillna("").str.fullmatch(r"\d{4}")
    )
    midpoint = band.map(SIRENE_HEADCOUNT_MIDPOINTS.get)
    unknown_band = band.notna() & midpoint.isna()
    counts.observe("unknown headcount band: no headcount row", int(unknown_band.sum()))
    undated = midpoint.notna() & year.isna()
    counts.observe("headcount band without its year: no headcount row", int(undated.sum()))
    # One observation per unit: a repeated siren keeps its first row, as organizations do.
    rows = midpoint.notna() & year.notna() & ~df["siren"].duplicated(keep="first")
    part = df[rows]
    # The contract's headcount is an integer: midpoints 1.5 and 7.5 round half up.
    value = (midpoint[rows] + 0.5).astype(int)
    out = frame(
        "headcount",
        {
            "org_id": part["siren"],
            "observed_on": year[rows] + "-12-31",
            "headcount": pd.array(value, dtype="Int64"),
            "headcount_band": band[rows],
        },
        "_derived: StockUniteLegale trancheEffectifsUniteLegale",
        part.index,
    )
    report.note(
        f"headcount: {len(out):,} row(s), one per unit with a band and its year "
        "(observed on 31 December of anneeEffectifsUniteLegale)"
    )
    return out
