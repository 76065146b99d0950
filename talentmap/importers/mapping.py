"""Any other set of CSV files, mapped to the contract by a YAML file (data/importers/mapping.md).

The YAML says, per contract table, which file to read, which source column feeds each
contract column, value maps, date formats and the currency of amounts; conversion uses
the fixed rates it states. It is validated by pydantic before any file is read, and every
problem is reported with its path in the YAML.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from talentmap.contract import TABLES, column_kinds, required_columns
from talentmap.contract import columns as contract_columns
from talentmap.contract_parse import Kind
from talentmap.importers.common import Imported, ImportOptions, LatestDate
from talentmap.importers.normalise import (
    amounts,
    countries,
    dates,
    exact_duplicates,
    regions,
    text,
    to_eur,
)
from talentmap.importers.reading import SourceError, file_columns, read_frame
from talentmap.importers.report import ImportReport, SourceCount
from talentmap.importers.writing import frame

SOURCE = ""
LICENCE = ""
DEFAULT_MAPPING = "mapping.yaml"
_TRUE = {"true", "t", "yes", "y", "1", "oui", "vrai"}
_FALSE = {"false", "f", "no", "n", "0", "non", "faux"}


class Currency(BaseModel):
    """The currency of an amount: a source column holding ISO codes, or one fixed code."""

    model_config = ConfigDict(extra="forbid")
    column: str | None = None
    code: str | None = Field(None, pattern=r"^[A-Z]{3}$")

    @model_validator(mode="after")
    def _one(self) -> Currency:
        if (self.column is None) == (self.code is None):
            raise ValueError("give exactly one of 'column' (ISO codes per row) or 'code'")
        return self


class TableMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str = Field(description="CSV file, relative to the source folder.")
    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    columns: dict[str, str] = Field(description="contract column -> source column")
    constants: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    date_formats: dict[str, list[str]] = Field(default_factory=dict)
    currency: dict[str, Currency] = Field(default_factory=dict)


class MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1)
    licence: str = Field(min_length=1)
    name: str = "mapped-source"
    snapshot_date: date | None = None
    date_formats: list[str] = Field(default_factory=list)
    currency_rates: dict[str, float] = Field(default_factory=dict)
    tables: dict[str, TableMapping]

    @field_validator("currency_rates")
    @classmethod
    def _rates(cls, rates: dict[str, float]) -> dict[str, float]:
        for code, rate in rates.items():
            if len(code) != 3 or not code.isupper() or rate <= 0:
                raise ValueError(f"{code}: {rate}: expected an ISO code and a positive rate")
        return rates

    @field_validator("date_formats")
    @classmethod
    def _formats(cls, formats: list[str]) -> list[str]:
        for fmt in formats:
            if "%" not in fmt:
                raise ValueError(f"{fmt!r} is not a strftime format (e.g. %d/%m/%Y)")
        return formats

    @model_validator(mode="after")
    def _against_contract(self) -> MappingFile:
        problems = []
        if "organizations" not in self.tables:
            problems.append("tables: organizations is required by the contract")
        for table, spec in self.tables.items():
            if table not in TABLES:
                problems.append(f"tables.{table}: not a contract table ({', '.join(TABLES)})")
                continue
            kinds = column_kinds(table)
            enums = {s.name: s.values for s in contract_columns(table) if s.values}
            named = {**spec.columns, **spec.constants}
            for column in named:
                if column not in kinds:
                    problems.append(
                        f"tables.{table}: {column!r} is not a column of {table} "
                        f"({', '.join(kinds)})"
                    )
            for column in required_columns(table):
                if column not in named:
                    problems.append(f"tables.{table}.columns: required column {column} missing")
            for column, mapping in spec.values.items():
                allowed = enums.get(column)
                if allowed is None:
                    continue
                for source_value, target in mapping.items():
                    if target not in allowed:
                        problems.append(
                            f"tables.{table}.values.{column}: {source_value!r} -> {target!r} "
                            f"is not one of {', '.join(allowed)}"
                        )
            for column, formats in spec.date_formats.items():
                if kinds.get(column) is not Kind.DATE:
                    problems.append(f"tables.{table}.date_formats: {column} is not a date column")
                for fmt in formats:
                    if "%" not in fmt:
                        problems.append(f"tables.{table}.date_formats.{column}: {fmt!r}")
            for column in spec.currency:
                if kinds.get(column) is not Kind.AMOUNT:
                    problems.append(f"tables.{table}.currency: {column} is not an amount column")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_mapping(path: Path) -> MappingFile:
    """Parse and validate a mapping YAML; raises ``SourceError`` with readable messages."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourceError(f"{path}: not a readable YAML file ({exc})") from exc
    if not isinstance(raw, dict):
        raise SourceError(f"{path}: the mapping must be a YAML mapping (key: value)")
    try:
        return MappingFile.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "(top level)"
            lines.append(f"  {where}: {error['msg']}")
        raise SourceError(f"{path}: invalid mapping\n" + "\n".join(lines)) from None


def run(options: ImportOptions, report: ImportReport) -> Imported:
    path = options.extra.get("mapping") or options.src / DEFAULT_MAPPING
    mapping = load_mapping(Path(str(path)))
    rates = {**options.fx_rates, **mapping.currency_rates}
    latest = LatestDate()
    frames: dict[str, pd.DataFrame] = {}
    for table, spec in mapping.tables.items():
        source = options.src / spec.file
        if not source.is_file():
            raise SourceError(f"tables.{table}.file: {source} does not exist")
        needed = list(dict.fromkeys([*spec.columns.values(), *_currency_columns(spec)]))
        header = file_columns(source, spec.delimiter, spec.encoding)
        missing = [c for c in needed if c not in header]
        if missing:
            raise SourceError(f"{spec.file}: column(s) {', '.join(missing)} not in the header")
        key = f"{spec.file} -> {table}"
        loaded = _load(report, key, source, needed, spec, options)
        raw, counts = loaded
        frames[table] = _map_table(table, spec, raw, counts, rates, mapping, latest, key)
    if "funding_rounds" not in frames:
        frames["funding_rounds"] = frame(
            "funding_rounds",
            {
                c: pd.Series(dtype=object)
                for c in ("round_id", "org_id", "announced_on", "round_type")
            },
            "_none",
            pd.RangeIndex(0),
        )
        report.note("no funding_rounds in the mapping: funding_rounds.csv is written empty")
    snapshot, label = latest.latest()
    origin = f"latest {label} in the source" if label else "none"
    if mapping.snapshot_date is not None:
        snapshot, origin = mapping.snapshot_date, "snapshot_date of the mapping file"
    report.source, report.licence = mapping.source, mapping.licence
    return Imported(
        frames=frames,
        source=mapping.source,
        licence=mapping.licence,
        name=mapping.name,
        snapshot_date=snapshot,
        snapshot_date_source=origin,
    )


def _currency_columns(spec: TableMapping) -> list[str]:
    return [c.column for c in spec.currency.values() if c.column]


def _load(
    report: ImportReport,
    key: str,
    source: Path,
    needed: list[str],
    spec: TableMapping,
    options: ImportOptions,
) -> tuple[pd.DataFrame, SourceCount]:
    raw = read_frame(
        source,
        needed,
        progress=options.progress,
        delimiter=spec.delimiter,
        encoding=spec.encoding,
    )
    counts = report.table(key, spec.file)
    counts.read = len(raw)
    duplicate = exact_duplicates(raw)
    counts.drop("exact duplicate row", int(duplicate.sum()))
    return raw[~duplicate], counts


def _map_table(
    table: str,
    spec: TableMapping,
    raw: pd.DataFrame,
    counts: SourceCount,
    rates: dict[str, float],
    mapping: MappingFile,
    latest: LatestDate,
    key: str,
) -> pd.DataFrame:
    kinds = column_kinds(table)
    enums = {s.name: s.values for s in contract_columns(table) if s.values}
    data: dict[str, Any] = {}
    for column, source_column in spec.columns.items():
        values = text(raw[source_column], counts, source_column)
        if column in spec.values:
            values = _value_map(values, spec.values[column], enums.get(column), counts, column)
        kind = kinds[column]
        if kind is Kind.DATE:
            formats = spec.date_formats.get(column) or mapping.date_formats
            values = dates(values, counts, source_column, formats)
            latest.see(f"{table}.{column}", values)
        elif kind is Kind.AMOUNT:
            number, symbol = amounts(values, counts, source_column)
            currency = spec.currency.get(column)
            if currency is None:
                values = number  # the column is stated in euros
            else:
                codes = (
                    text(raw[currency.column])
                    if currency.column
                    else pd.Series(currency.code, index=raw.index, dtype=object)
                )
                values = to_eur(
                    number, codes.where(codes.notna(), symbol), rates, counts, source_column
                )
        elif kind in (Kind.COUNT, Kind.YEAR):
            number, _ = amounts(values, counts, source_column)
            whole = number.notna() & (number % 1 == 0)
            counts.repair(
                f"{source_column}: not a whole number, left unknown",
                int((number.notna() & ~whole).sum()),
            )
            values = pd.array(number.where(whole), dtype="Int64")
        elif kind is Kind.BOOL:
            lowered = values.str.lower()
            values = lowered.map(lambda v: True if v in _TRUE else (False if v in _FALSE else None))
        elif kind is Kind.COUNTRY:
            values = countries(values, counts, source_column)
        data[column] = values
    for column, value in spec.constants.items():
        data[column] = value
    if table == "organizations" and "region" in data and "country" in data:
        data["region"] = regions(
            pd.Series(data["region"], index=raw.index, dtype=object),
            pd.Series(data["country"], index=raw.index, dtype=object),
            counts,
            spec.columns.get("region", "region"),
        )
    return frame(table, data, key, raw.index)


def _value_map(
    values: pd.Series,
    mapping: dict[str, str],
    allowed: tuple[str, ...] | None,
    counts: SourceCount,
    column: str,
) -> pd.Series:
    mapped = values.map(lambda v: mapping.get(v, v) if v is not None else None)
    changed = values.notna() & (mapped != values)
    counts.repair(f"{column}: value mapped by the value map", int(changed.sum()))
    if allowed:
        outside = mapped.notna() & ~mapped.isin(allowed)
        if "other" in allowed:
            counts.repair(
                f"{column}: value not in the value map, filed as other", int(outside.sum())
            )
            mapped = mapped.where(~outside, "other")
        else:
            counts.repair(f"{column}: value not in the value map, left unknown", int(outside.sum()))
            mapped = mapped.where(~outside, None)
    return mapped
