"""The per-table and per-row rules of validation: structure, columns, rows, dates.

Per-column rules (types, required values, enumerations, uniqueness, ranges) come from the
pandera schemas of ``talentmap.contract``; rules across columns of a row come from
``contract.ROW_RULES``; the snapshot-date rule is vectorised pandas. Every function
returns a problem frame (see ``validate_problems``) with positions, not yet row numbers.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from talentmap.contract import (
    ANY_OF_COLUMNS,
    DATE_COLUMNS,
    ROW_RULES,
    column_kinds,
    required_columns,
    schema,
)
from talentmap.contract_io import (
    DataDirectory,
    DatasetInfo,
    Finding,
    TableFile,
    UnreadableFileError,
    empty_problems,
    file_columns,
    parse_table,
    read_raw,
)
from talentmap.validate_problems import as_text, empty_with_table, findings_frame, with_messages

_PANDERA_RULES = {"not_nullable": "required_value", "field_uniqueness": "unique"}


def is_ambiguous(scan: DataDirectory, table: str) -> bool:
    return any(f.rule == "ambiguous_table" and f.table == table for f in scan.findings)


def check_table(tf: TableFile) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Read, parse and check one table; returns (typed frame or None, problems)."""
    table = tf.table
    try:
        names = file_columns(tf)
    except UnreadableFileError as exc:
        return None, findings_frame([Finding("unreadable_file", tf.path.name, table, str(exc))])
    structural = structural_findings(tf, names)
    if structural:
        return None, findings_frame(structural)
    try:
        # No name keeps the raw table here: parse_table lets each column go once parsed.
        parsed = parse_table(table, read_raw(tf))
    except UnreadableFileError as exc:
        return None, findings_frame([Finding("unreadable_file", tf.path.name, table, str(exc))])
    frame = parsed.frame
    kinds = column_kinds(table)
    found = [with_messages(parsed.problems, table, kinds)]
    checked = schema_checks(table, frame)
    if not parsed.problems.empty and not checked.empty:
        # An unreadable value in a required column became missing: one problem, not two.
        unreadable = pd.MultiIndex.from_frame(parsed.problems[["pos", "column"]])
        cells = pd.MultiIndex.from_arrays(
            [checked["pos"].fillna(-1).astype("int64"), checked["column"]]
        )
        checked = checked[~((checked["rule"] == "required_value") & cells.isin(unreadable))]
    found.append(checked)
    found.append(row_rules(table, frame))
    problems = pd.concat([f for f in found if not f.empty] or [empty_problems()], ignore_index=True)
    problems["table"] = table
    return frame, problems


def structural_findings(tf: TableFile, names: list[str]) -> list[Finding]:
    """Duplicate and missing columns: problems no row-by-row handling can fix."""
    table, file = tf.table, tf.path.name
    found = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            found.append(
                Finding("duplicate_column", file, table, f"column {name} appears twice", name)
            )
        seen.add(name)
    for name in required_columns(table):
        if name not in seen:
            found.append(
                Finding("missing_column", file, table, f"required column {name} is absent", name)
            )
    for table_name, options in ANY_OF_COLUMNS.items():
        if table_name == table and not seen.intersection(options):
            found.append(
                Finding(
                    "missing_column",
                    file,
                    table,
                    f"needs at least one of the columns {', '.join(options)}",
                    "/".join(options),
                )
            )
    return found


def schema_checks(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The pandera column rules, on the columns the file actually has."""
    full = schema(table)
    present = {name: col for name, col in full.columns.items() if name in frame.columns}
    per_column = pa.DataFrameSchema(present, strict=False, name=table)
    try:
        # inplace: no copy of a possibly huge frame; nothing is coerced, so nothing changes.
        per_column.validate(frame, lazy=True, inplace=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return empty_problems()
    cases = cases[cases["column"].notna()]
    rule = cases["check"].map(lambda c: _PANDERA_RULES.get(c, c)).astype(object)
    out = pd.DataFrame(
        {
            "pos": pd.array(cases["index"], dtype="Int64"),
            "column": cases["column"].astype(object).to_numpy(),
            "value": as_text(cases["failure_case"]).to_numpy(),
            "rule": rule.to_numpy(),
        }
    )
    # A duplicated empty id is a required_value problem, already reported once.
    out = out[~((out["rule"] == "unique") & out["value"].isna())]
    return with_messages(out, table, column_kinds(table))


def row_rules(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rules across columns of a row, each reported against one column."""
    found = []
    for rule in ROW_RULES.get(table, ()):
        if rule.name == "publication_subject":
            if not frame.columns.intersection(list(rule.columns)).size:
                continue  # already a missing_column problem
        elif not set(rule.columns).issubset(frame.columns):
            continue
        cols = [c for c in rule.columns if c in frame.columns]
        result = rule.check(frame[cols])
        failed = np.flatnonzero(~result.check_output.to_numpy(dtype=bool))
        if not failed.size:
            continue
        value_column = rule.column if rule.column in frame.columns else None
        values = (
            as_text(frame[value_column].iloc[failed])
            if value_column
            else pd.Series([None] * failed.size, dtype=object)
        )
        found.append(
            pd.DataFrame(
                {
                    "pos": failed.astype(np.int64),
                    "column": rule.column,
                    "value": values.to_numpy(),
                    "rule": rule.name,
                }
            )
        )
    if not found:
        return empty_problems()
    out = with_messages(pd.concat(found, ignore_index=True), table, column_kinds(table))
    for rule in ROW_RULES.get(table, ()):
        if rule.message:
            out.loc[(out["rule"] == rule.name) & (out["column"] == rule.column), "message"] = (
                rule.message
            )
    return out


def after_snapshot(tables: dict[str, pd.DataFrame], snapshot: date) -> pd.DataFrame:
    """Dates after the snapshot date, and birth years after its year."""
    limit = pd.Timestamp(snapshot)
    found = []
    for table, frame in tables.items():
        for name in DATE_COLUMNS[table]:
            if name not in frame.columns:
                continue
            positions = np.flatnonzero((frame[name] > limit).to_numpy(dtype=bool))
            if positions.size:
                found.append(
                    pd.DataFrame(
                        {
                            "table": table,
                            "pos": positions,
                            "column": name,
                            "value": frame[name].iloc[positions].dt.strftime("%Y-%m-%d").to_numpy(),
                            "rule": "after_snapshot",
                            "message": f"after the snapshot date {snapshot.isoformat()}",
                        }
                    )
                )
    people = tables.get("people")
    if people is not None and "birth_year" in people.columns:
        late = (people["birth_year"] > snapshot.year).fillna(False).to_numpy(dtype=bool)
        positions = np.flatnonzero(late)
        if positions.size:
            found.append(
                pd.DataFrame(
                    {
                        "table": "people",
                        "pos": positions,
                        "column": "birth_year",
                        "value": people["birth_year"].iloc[positions].astype(str).to_numpy(),
                        "rule": "after_snapshot",
                        "message": f"after the snapshot year {snapshot.year}",
                    }
                )
            )
    return pd.concat(found, ignore_index=True) if found else empty_with_table()


def snapshot_date(dataset: DatasetInfo, tables: dict[str, pd.DataFrame]) -> tuple[date | None, str]:
    """The snapshot date and where it came from (dataset.json, else the latest date)."""
    if dataset.snapshot_date is not None:
        return dataset.snapshot_date, "dataset.json"
    latest = [date_span(frame, DATE_COLUMNS[table])[1] for table, frame in tables.items()]
    known = [d for d in latest if d is not None]
    if not known:
        return None, "no dates found"
    return max(known), "latest date in the data"


def date_span(frame: pd.DataFrame, names: tuple[str, ...]) -> tuple[date | None, date | None]:
    """Earliest and latest value over the given date columns of ``frame``."""
    present = [frame[n] for n in names if n in frame.columns]
    lows = [s.min() for s in present]
    highs = [s.max() for s in present]
    lows = [v for v in lows if not pd.isna(v)]
    highs = [v for v in highs if not pd.isna(v)]
    return (min(lows).date() if lows else None, max(highs).date() if highs else None)
