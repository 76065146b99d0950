"""The raw data contract, encoded once as pandera schemas.

Validation, the lake, the generator and the tests all read the contract from here;
``data/CONTRACT.md`` documents it for people. Every column is a ``pandera`` ``Column``
whose ``metadata["kind"]`` says how raw values are parsed and which pandas dtype the typed
table uses, so derived views (``DATE_COLUMNS``, ``columns(table)``) can never drift from
the schemas themselves.

Schemas validate *typed* frames (see ``to_typed``); parsing raw text into types is a
separate step so that unreadable cells are reported with their original text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import pandas as pd
import pandera.pandas as pa
import pyarrow

from talentmap.contract_countries import ISO_COUNTRIES
from talentmap.contract_parse import (
    KIND_DTYPES,
    STRING_KINDS,
    UNKNOWN_COUNTRY,
    Kind,
    empty_series,
    parse_array,
    unknown_text,
)
from talentmap.contract_vocab import (  # re-exported: the contract's vocabulary
    EXIT_KINDS as EXIT_KINDS,
)
from talentmap.contract_vocab import (
    FR_OVERSEAS_REGIONS as FR_OVERSEAS_REGIONS,
)
from talentmap.contract_vocab import (
    FR_REGIONS as FR_REGIONS,
)
from talentmap.contract_vocab import (
    ROUND_TYPES as ROUND_TYPES,
)

# Bump when a change to the contract changes what a stored snapshot means.
CONTRACT_VERSION = "1"

TABLES: tuple[str, ...] = (
    "organizations",
    "people",
    "roles",
    "education",
    "funding_rounds",
    "investments",
    "programs",
    "publications",
    "headcount",
    "job_postings",
    "exits",
    "opt_outs",
    "jei_status",
)
REQUIRED_TABLES: tuple[str, ...] = ("organizations", "funding_rounds")

ROLE_KINDS: tuple[str, ...] = ("founder", "executive", "employee", "advisor", "board")
DEGREES: tuple[str, ...] = ("bachelor", "master", "engineer", "phd", "mba", "other")
INVESTOR_KINDS: tuple[str, ...] = ("vc", "angel", "corporate", "public", "accelerator", "other")
PROGRAM_KINDS: tuple[str, ...] = ("incubator", "accelerator", "public_program", "competition")
PUBLICATION_KINDS: tuple[str, ...] = ("paper", "preprint", "patent", "software")
# Used only to audit fairness, never as a model feature.
GENDERS: tuple[str, ...] = ("F", "M", "X")
SUBJECT_KINDS: tuple[str, ...] = ("person", "org")

COUNTRIES: frozenset[str] = ISO_COUNTRIES
BIRTH_YEAR_RANGE: tuple[int, int] = (1900, 2100)

# Rule identifiers, as they appear in validation reports and quarantine files.
RULES: dict[str, str] = {
    "missing_table": "a required table has no file",
    "ambiguous_table": "a table has both a .csv and a .parquet file",
    "unreadable_file": "the file cannot be read as UTF-8 CSV with a header, or as Parquet",
    "dataset_json": "dataset.json is not valid",
    "missing_column": "a required column is absent",
    "duplicate_column": "a column name appears twice in the header",
    "type": "the value cannot be read as the column's type",
    "date": "not a valid YYYY-MM-DD date (years 1800-2199)",
    "required_value": "a required column is empty",
    "enum": "the value is outside the column's enumeration",
    "unique": "the identifier appears more than once",
    "country": "not an ISO 3166-1 alpha-2 country code",
    "fr_region": "a French organisation's region is not one of the 18 official names",
    "non_negative": "the amount or count is negative",
    "range": "the value is outside its plausible range",
    "foreign_key": "the id does not exist in the table it refers to",
    "publication_subject": "a publication has neither person_id nor org_id",
    "after_snapshot": "the date is after the snapshot date",
    "date_order": "the end date is before the start date",
    "parent_rejected": "the row refers to a row that was set aside",
}
# Problems that concern a whole file or table: quarantine cannot set them aside row by row.
FATAL_RULES: frozenset[str] = frozenset(
    {
        "missing_table",
        "ambiguous_table",
        "unreadable_file",
        "dataset_json",
        "missing_column",
        "duplicate_column",
    }
)


@dataclass(frozen=True)
class ColumnSpec:
    """A column of the contract, as derived from its pandera ``Column``."""

    table: str
    name: str
    kind: Kind
    required: bool
    unique: bool
    description: str
    values: tuple[str, ...] = ()

    @property
    def dtype(self) -> str:
        return KIND_DTYPES[self.kind]


@dataclass(frozen=True)
class RowRule:
    """A rule over several columns of one row, reported against ``column``.

    ``column`` is also the one a repair blanks (see ``talentmap.repair``), so the report
    names the value that would change.
    """

    name: str
    columns: tuple[str, ...]
    column: str
    check: pa.Check
    message: str = ""


@dataclass(frozen=True)
class ForeignKey:
    """``table.column`` must exist in ``parent.parent_column`` (when ``when`` holds)."""

    table: str
    column: str
    parent: str
    parent_column: str
    when: tuple[str, str] | None = None

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column} -> {self.parent}.{self.parent_column}"


FOREIGN_KEYS: tuple[ForeignKey, ...] = (
    ForeignKey("roles", "person_id", "people", "person_id"),
    ForeignKey("roles", "org_id", "organizations", "org_id"),
    ForeignKey("education", "person_id", "people", "person_id"),
    ForeignKey("funding_rounds", "org_id", "organizations", "org_id"),
    ForeignKey("investments", "round_id", "funding_rounds", "round_id"),
    ForeignKey("programs", "org_id", "organizations", "org_id"),
    ForeignKey("publications", "person_id", "people", "person_id"),
    ForeignKey("publications", "org_id", "organizations", "org_id"),
    ForeignKey("headcount", "org_id", "organizations", "org_id"),
    ForeignKey("job_postings", "org_id", "organizations", "org_id"),
    ForeignKey("exits", "org_id", "organizations", "org_id"),
    ForeignKey("jei_status", "org_id", "organizations", "org_id"),
    ForeignKey("opt_outs", "subject_id", "people", "person_id", when=("subject_kind", "person")),
    ForeignKey("opt_outs", "subject_id", "organizations", "org_id", when=("subject_kind", "org")),
)

# Tables where at least one of these columns must be present (and filled on each row).
ANY_OF_COLUMNS: dict[str, tuple[str, ...]] = {"publications": ("person_id", "org_id")}


def _column(
    kind: Kind,
    description: str,
    *,
    required: bool = True,
    unique: bool = False,
    values: Iterable[str] = (),
    checks: list[pa.Check] | None = None,
) -> pa.Column:
    allowed = tuple(values)
    # ``error`` doubles as the rule id: pandera reports it as the failed check's name.
    all_checks = list(checks or [])
    if allowed:
        all_checks.append(pa.Check.isin(allowed, name="enum", error="enum"))
    if kind is Kind.COUNTRY:
        all_checks.append(pa.Check.isin(sorted(COUNTRIES), name="country", error="country"))
    if kind in (Kind.AMOUNT, Kind.COUNT):
        all_checks.append(pa.Check.ge(0, name="non_negative", error="non_negative"))
    return pa.Column(
        KIND_DTYPES[kind],
        checks=all_checks,
        # "Required" in the contract means: the column must be there and filled in.
        nullable=not required,
        required=required,
        unique=unique,
        description=description,
        metadata={"kind": kind.value, "values": allowed},
    )


def _fr_region(df: pd.DataFrame) -> pd.Series:
    french = df["country"].eq("FR")
    return ~(french & df["region"].notna() & ~df["region"].isin(list(FR_REGIONS)))


def _ordered(start: str, end: str) -> pa.Check:
    def check(df: pd.DataFrame) -> pd.Series:
        return ~(df[end] < df[start])

    return pa.Check(check, name="date_order", ignore_na=False)


def _has_subject(df: pd.DataFrame) -> pd.Series:
    present = [df[c].notna() for c in ("person_id", "org_id") if c in df.columns]
    if not present:
        return pd.Series(False, index=df.index)
    out = present[0]
    for other in present[1:]:
        out = out | other
    return out


ROW_RULES: dict[str, tuple[RowRule, ...]] = {
    "organizations": (
        RowRule(
            "fr_region",
            ("country", "region"),
            "region",
            pa.Check(_fr_region, name="fr_region", ignore_na=False),
        ),
        # Of two dates in the wrong order, the start is reported (and repaired) when it is
        # optional: sources back-fill founding and start dates, while a closing or an end
        # is recorded when it happens, and it decides whether a company is a candidate.
        RowRule(
            "date_order",
            ("founded_on", "closed_on"),
            "founded_on",
            _ordered("founded_on", "closed_on"),
            "founded_on is after the closing date closed_on",
        ),
    ),
    "roles": (
        RowRule(
            "date_order",
            ("started_on", "ended_on"),
            "started_on",
            _ordered("started_on", "ended_on"),
            "started_on is after the end date ended_on",
        ),
    ),
    "programs": (
        # started_on is required here, so the optional end date is the one in doubt.
        RowRule(
            "date_order",
            ("started_on", "ended_on"),
            "ended_on",
            _ordered("started_on", "ended_on"),
            "ended_on is before the start date started_on",
        ),
    ),
    "jei_status": (
        # granted_on is required, so the optional end date is the one in doubt.
        RowRule(
            "date_order",
            ("granted_on", "ended_on"),
            "ended_on",
            _ordered("granted_on", "ended_on"),
            "ended_on is before the grant date granted_on",
        ),
    ),
    "publications": (
        RowRule(
            "publication_subject",
            ("person_id", "org_id"),
            "person_id/org_id",
            pa.Check(_has_subject, name="publication_subject", ignore_na=False),
        ),
    ),
}

_ID = Kind.ID
_TEXT = Kind.TEXT
_ENUM = Kind.ENUM
_DATE = Kind.DATE


def _build_columns() -> dict[str, dict[str, pa.Column]]:
    org = "org_id of organizations"
    person = "person_id of people"
    return {
        "organizations": {
            "org_id": _column(_ID, "Organisation identifier.", unique=True),
            "name": _column(_TEXT, "Organisation name."),
            "founded_on": _column(_DATE, "Founding date (often back-filled).", required=False),
            "closed_on": _column(_DATE, "Closing date, if closed.", required=False),
            "first_seen_on": _column(
                _DATE, "Date the source first recorded the organisation.", required=False
            ),
            "country": _column(
                Kind.COUNTRY,
                f"ISO 3166-1 alpha-2 country code; empty or {UNKNOWN_COUNTRY} = unknown.",
                required=False,
            ),
            "region": _column(
                _TEXT, "Region; for FR one of the 18 official region names.", required=False
            ),
            "city": _column(_TEXT, "City.", required=False),
            "sector": _column(_TEXT, "Sector label.", required=False),
        },
        "people": {
            "person_id": _column(_ID, "Person identifier.", unique=True),
            "full_name": _column(_TEXT, "Full name."),
            "gender": _column(
                _ENUM,
                "F, M or X; for fairness audits only, never a model feature.",
                required=False,
                values=GENDERS,
            ),
            "birth_year": _column(
                Kind.YEAR,
                "Year of birth.",
                required=False,
                checks=[pa.Check.in_range(*BIRTH_YEAR_RANGE, name="range", error="range")],
            ),
        },
        "roles": {
            "person_id": _column(_ID, f"The person ({person})."),
            "org_id": _column(_ID, f"The organisation ({org})."),
            "role": _column(_ENUM, "Kind of role.", values=ROLE_KINDS),
            "title": _column(_TEXT, "Job title.", required=False),
            "started_on": _column(_DATE, "Start of the role.", required=False),
            "ended_on": _column(_DATE, "End of the role.", required=False),
        },
        "education": {
            "person_id": _column(_ID, f"The person ({person})."),
            "institution": _column(_TEXT, "School or university."),
            "degree": _column(_ENUM, "Degree obtained.", values=DEGREES),
            "graduated_on": _column(_DATE, "Graduation date.", required=False),
        },
        "funding_rounds": {
            "round_id": _column(_ID, "Round identifier.", unique=True),
            "org_id": _column(_ID, f"The funded organisation ({org})."),
            "announced_on": _column(_DATE, "Announcement date."),
            "round_type": _column(_ENUM, "Kind of round.", values=ROUND_TYPES),
            "amount_eur": _column(Kind.AMOUNT, "Amount raised, in euros.", required=False),
            "n_investors": _column(Kind.COUNT, "Number of investors.", required=False),
        },
        "investments": {
            "round_id": _column(_ID, "The round (round_id of funding_rounds)."),
            "investor_id": _column(_ID, "Investor identifier."),
            "investor_name": _column(_TEXT, "Investor name.", required=False),
            "investor_kind": _column(
                _ENUM, "Kind of investor.", required=False, values=INVESTOR_KINDS
            ),
            "is_lead": _column(Kind.BOOL, "Whether the investor led the round.", required=False),
        },
        "programs": {
            "org_id": _column(_ID, f"The member organisation ({org})."),
            "program_id": _column(_ID, "Programme identifier."),
            "program_name": _column(_TEXT, "Programme name.", required=False),
            "program_kind": _column(_ENUM, "Kind of programme.", values=PROGRAM_KINDS),
            "started_on": _column(_DATE, "Start of membership."),
            "ended_on": _column(_DATE, "End of membership.", required=False),
        },
        "publications": {
            "pub_id": _column(_ID, "Publication identifier.", unique=True),
            "person_id": _column(_ID, f"Author ({person}); this or org_id.", required=False),
            "org_id": _column(_ID, f"Organisation ({org}); this or person_id.", required=False),
            "published_on": _column(_DATE, "Publication date."),
            "kind": _column(_ENUM, "Kind of publication.", values=PUBLICATION_KINDS),
            "venue": _column(_TEXT, "Venue, journal or office.", required=False),
        },
        "headcount": {
            "org_id": _column(_ID, f"The organisation ({org})."),
            "observed_on": _column(_DATE, "Observation date."),
            "headcount": _column(Kind.COUNT, "Number of employees observed."),
        },
        "job_postings": {
            "org_id": _column(_ID, f"The hiring organisation ({org})."),
            "posted_on": _column(_DATE, "Posting date."),
            "category": _column(_TEXT, "Job category.", required=False),
        },
        "exits": {
            "org_id": _column(_ID, f"The organisation ({org})."),
            "exit_kind": _column(_ENUM, "Kind of exit.", values=EXIT_KINDS),
            "exited_on": _column(_DATE, "Exit date."),
            "amount_eur": _column(Kind.AMOUNT, "Exit value, in euros.", required=False),
        },
        "opt_outs": {
            "subject_kind": _column(_ENUM, "person or org.", values=SUBJECT_KINDS),
            "subject_id": _column(_ID, "person_id or org_id, according to subject_kind."),
            "since": _column(_DATE, "Date the opt-out was recorded."),
        },
        # Jeune Entreprise Innovante: a dated status (issue 11). Optional: a source that
        # does not know it leaves the table out, and reports say "not in the data".
        "jei_status": {
            "org_id": _column(_ID, f"The organisation ({org})."),
            "granted_on": _column(_DATE, "Start of the JEI status (first year it applied)."),
            "ended_on": _column(_DATE, "End of the JEI status, if it ended.", required=False),
        },
    }


@cache
def _schemas() -> dict[str, pa.DataFrameSchema]:
    built = {}
    for table, cols in _build_columns().items():
        built[table] = pa.DataFrameSchema(
            cols,
            checks=[rule.check for rule in ROW_RULES.get(table, ())],
            name=table,
            strict=False,  # extra columns are kept and ignored
            ordered=False,
        )
    return built


def schema(table: str) -> pa.DataFrameSchema:
    """The pandera schema of a typed ``table`` (raises ``KeyError`` for unknown tables)."""
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; known tables: {', '.join(TABLES)}")
    return _schemas()[table]


@cache
def columns(table: str) -> tuple[ColumnSpec, ...]:
    """The contract's columns of ``table``, in contract order."""
    out = []
    for name, col in schema(table).columns.items():
        meta = col.metadata or {}
        out.append(
            ColumnSpec(
                table=table,
                name=name,
                kind=Kind(meta["kind"]),
                required=bool(col.required),
                unique=bool(col.unique),
                description=col.description or "",
                values=tuple(meta.get("values", ())),
            )
        )
    return tuple(out)


def column_kinds(table: str) -> dict[str, Kind]:
    """Column name -> kind for ``table``."""
    return {spec.name: spec.kind for spec in columns(table)}


def required_columns(table: str) -> tuple[str, ...]:
    return tuple(spec.name for spec in columns(table) if spec.required)


DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(spec.name for spec in columns(table) if spec.kind is Kind.DATE) for table in TABLES
}
UNIQUE_COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(spec.name for spec in columns(table) if spec.unique) for table in TABLES
}


def dtypes(table: str) -> dict[str, str]:
    """Column name -> pandas dtype of the typed convention."""
    return {spec.name: spec.dtype for spec in columns(table)}


def to_typed(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Coerce ``df``'s contract columns to the typed convention; other columns are kept.

    Accepts raw strings (CSV-style), native types or already-typed columns. Raises
    ``ValueError`` naming the column and a few values when something cannot be read;
    callers that want per-cell reports should use validation instead.
    """
    out = df.copy(deep=False)
    for spec in columns(table):
        if spec.name not in out.columns:
            continue
        series = out[spec.name]
        if spec.kind in STRING_KINDS and series.dtype == object and _holds_str(series):
            unknown = unknown_text(series, spec.kind)
            if unknown.any():
                out[spec.name] = series.where(~unknown, None)
            continue
        if spec.kind not in STRING_KINDS and str(series.dtype) == KIND_DTYPES[spec.kind]:
            continue
        parsed = parse_array(pyarrow.array(series, from_pandas=True), spec.kind)
        if parsed.n_bad:
            examples = ", ".join(repr(v) for v in parsed.bad_values[:5])
            raise ValueError(
                f"{table}.{spec.name}: {parsed.n_bad} value(s) cannot be read as "
                f"{spec.kind.value}, e.g. {examples}"
            )
        parsed.values.index = out.index
        out[spec.name] = parsed.values
    return out


def known_text(values: pd.Series, kind: Kind = Kind.TEXT) -> pd.Series:
    """Text values with every spelling of *unknown* as None (see ``contract_parse``).

    Feature builders read text through this, so an empty, blank or ``ZZ`` value is a
    missing feature and never a category of its own.
    """
    unknown = unknown_text(values, kind)
    return values.astype(object).where(~unknown.to_numpy(), None)


def _holds_str(series: pd.Series) -> bool:
    # A sample is enough: the parse path would accept the same columns, only slower.
    sample = series.dropna().head(1000)
    return bool(sample.map(type).eq(str).all())


def ensure_columns(
    df: pd.DataFrame, table: str, names: Iterable[str] | None = None
) -> pd.DataFrame:
    """Add absent optional contract columns as all-missing typed columns.

    Convenience for consumers that want a fixed shape. Not applied by default: an absent
    column can carry meaning (``first_seen_on`` absent means visibility is inferred from
    events), so callers choose which columns to add.
    """
    wanted = set(names) if names is not None else {s.name for s in columns(table)}
    out = df.copy(deep=False)
    for spec in columns(table):
        if spec.name in wanted and spec.name not in out.columns:
            series = empty_series(spec.kind, len(out))
            series.index = out.index
            out[spec.name] = series
    return out
