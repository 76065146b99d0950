"""The problem type of validation and its frame form: one row per contract violation.

Validation keeps problems in a DataFrame (``PROBLEM_COLUMNS``) because a real export can
have hundreds of thousands of them; ``Problem`` is the per-item view used in reports and
errors. Every problem names its file, table, row (CSV: line in the file, header = line 1;
Parquet: 0-based row index), column, value and rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from talentmap.contract import BIRTH_YEAR_RANGE, RULES, TABLES, columns
from talentmap.contract_io import Finding, TableFile, empty_problems, row_numbers
from talentmap.contract_parse import Kind

PROBLEM_COLUMNS = ("rule", "table", "file", "pos", "row", "row_kind", "column", "value", "message")
_TYPE_WORDS = {
    Kind.AMOUNT: "a number",
    Kind.COUNT: "an integer",
    Kind.YEAR: "an integer",
    Kind.BOOL: "true or false",
    Kind.ID: "text",
    Kind.TEXT: "text",
    Kind.ENUM: "text",
    Kind.COUNTRY: "text",
}


@dataclass(frozen=True)
class Problem:
    """One contract violation, located as precisely as the rule allows."""

    rule: str
    table: str | None
    file: str
    row: int | None
    row_kind: str | None  # "line": CSV line (header = 1); "row": Parquet 0-based index
    column: str | None
    value: str | None
    message: str
    # What an ingest policy does about it ("repaired", "dropped", "cascaded"); None in a
    # plain validation report.
    action: str | None = None

    @property
    def location(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" {self.row_kind} {self.row}"
        return where

    def __str__(self) -> str:
        column = f" {self.column}" if self.column else ""
        value = f"={self.value!r}" if self.value is not None else ""
        action = f", {self.action}" if self.action else ""
        return f"[{self.rule}{action}] {self.location}{column}{value}: {self.message}"


def with_messages(problems: pd.DataFrame, table: str, kinds: dict[str, Kind]) -> pd.DataFrame:
    """Add the ``message`` column: what the rule means for that column."""
    if problems.empty:
        return problems
    specs = {spec.name: spec for spec in columns(table)}
    keys = problems[["rule", "column"]].drop_duplicates()
    messages = {}
    for rule, column in keys.itertuples(index=False):
        messages[(rule, column)] = _message(rule, column, specs, kinds)
    out = problems.copy()
    out["message"] = [messages[k] for k in zip(out["rule"], out["column"], strict=True)]
    return out


def _message(rule: str, column: str | None, specs: dict[str, Any], kinds: dict[str, Kind]) -> str:
    spec = specs.get(column) if column else None
    if rule == "enum" and spec is not None:
        return f"must be one of {', '.join(spec.values)}"
    if rule == "type" and column in kinds:
        return f"cannot be read as {_TYPE_WORDS.get(kinds[column], kinds[column].value)}"
    if rule == "range" and column == "birth_year":
        low, high = BIRTH_YEAR_RANGE
        return f"must be between {low} and {high}"
    if rule == "fr_region":
        return "for country FR, region must be one of the 18 official region names"
    if rule == "date_order":
        return f"{column} is before the start date"
    return RULES.get(rule, rule)


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Directory-level findings (no row) as a problem frame."""
    if not findings:
        return empty_with_table()
    return pd.DataFrame(
        {
            "rule": [f.rule for f in findings],
            "table": [f.table for f in findings],
            "file": [f.file for f in findings],
            "pos": pd.array([None] * len(findings), dtype="Int64"),
            "column": [f.column for f in findings],
            "value": [f.value for f in findings],
            "message": [f.message for f in findings],
        }
    )


def empty_with_table() -> pd.DataFrame:
    out = empty_problems()
    out["table"] = pd.Series(dtype=object)
    out["message"] = pd.Series(dtype=object)
    return out


def finish(
    collected: list[pd.DataFrame], files: dict[str, TableFile], tables: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """One frame of problems, with user-facing row numbers, in a stable order."""
    parts = [c for c in collected if not c.empty]
    frame = pd.concat(parts, ignore_index=True) if parts else empty_with_table()
    frame["pos"] = pd.array(frame["pos"], dtype="Int64")
    if "file" not in frame.columns:
        frame["file"] = None
    frame["file"] = frame["file"].astype(object)
    frame["row"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["row_kind"] = pd.Series([None] * len(frame), dtype=object)
    for table, tf in files.items():
        in_table = (frame["table"] == table).to_numpy(dtype=bool)
        located = in_table & frame["pos"].notna().to_numpy(dtype=bool)
        frame.loc[in_table & frame["file"].isna().to_numpy(dtype=bool), "file"] = tf.path.name
        if located.any() and table in tables:
            positions = frame.loc[located, "pos"].to_numpy(dtype=np.int64)
            frame.loc[located, "row"] = row_numbers(tf, positions, len(tables[table]))
            frame.loc[located, "row_kind"] = tf.row_kind
    order = {t: i for i, t in enumerate(TABLES)}
    frame["_t"] = frame["table"].map(order).fillna(-1)
    frame = frame.sort_values(["_t", "pos", "column"], na_position="first", kind="stable")
    frame = frame.drop(columns="_t").reset_index(drop=True)
    frame["value"] = frame["value"].astype(object).where(frame["value"].notna(), None)
    return frame[list(PROBLEM_COLUMNS)]


def quoted(values: pd.Series) -> pd.Series:
    """Values as ``'text'`` for reasons, ``(empty)`` when missing."""
    return ("'" + values.astype(object).where(values.notna(), "").astype(str) + "'").where(
        values.notna(), "(empty)"
    )


def as_text(values: pd.Series) -> pd.Series:
    """Failure values as text: dates as YYYY-MM-DD, integral floats without '.0'."""

    def one(v: object) -> str | None:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
        if isinstance(v, pd.Timestamp):
            return v.strftime("%Y-%m-%d")
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def to_problems(frame: pd.DataFrame) -> list[Problem]:
    return [
        Problem(
            rule=r.rule,
            table=r.table,
            file=r.file,
            row=None if pd.isna(r.row) else int(r.row),
            row_kind=r.row_kind,
            column=r.column,
            value=r.value,
            message=r.message,
            action=getattr(r, "action", None),
        )
        for r in frame.itertuples(index=False)
    ]


def example(problem: Problem) -> str:
    """A problem as one short line of a report's examples column."""
    text = problem.location
    if problem.column:
        text += f" {problem.column}"
    if problem.value is not None:
        text += f"={problem.value!r}"
    if problem.message != RULES.get(problem.rule):
        text += f" ({problem.message})"
    return text
