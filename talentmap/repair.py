"""Apply an ingest policy to a validation report: what is repaired, dropped or refused.

Under ``repair`` (see ``talentmap.policy``), a problem is *repaired* when its rule is one of
``REPAIR_RULES`` and its column is optional and not an identifier: the value is blanked
(it becomes unknown, which the contract allows and the features treat as missing). Any
other row-level problem breaks a key or a required value: its row is *dropped*, and rows
that refer to a dropped row are dropped too (*cascaded*), so what is kept stays
referentially intact. ``quarantine`` drops every failing row; ``strict`` refuses any
problem. File-level problems are refused under every policy.

Every action is a row of ``RepairPlan.actions``: the validation problem (file, row,
column, value, rule, message) plus what was done about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table

from talentmap.contract import REQUIRED_TABLES, TABLES, columns
from talentmap.contract_parse import Kind
from talentmap.errors import UserDataError
from talentmap.policy import Policy
from talentmap.validate import ValidationReport
from talentmap.validate_problems import (
    PROBLEM_COLUMNS,
    Problem,
    example,
    finish,
    quoted,
    to_problems,
)
from talentmap.validate_refs import cascade_rejections

# The rules a repair can fix by blanking the value, and what the blank means. Only in an
# optional column that is not an identifier: a blank key or required value is not legal.
REPAIR_RULES: dict[str, str] = {
    "type": "the unreadable value is blanked (unknown)",
    "date": "the invalid date is blanked (unknown)",
    "enum": "the value outside the enumeration is blanked (unknown)",
    "country": "the country that is not an ISO code is blanked (unknown country)",
    "fr_region": "the region that is not one of the 18 is blanked (unknown region)",
    "non_negative": "the negative amount or count is blanked (unknown)",
    "range": "the implausible value is blanked (unknown)",
    "after_snapshot": "the date after the snapshot date is blanked (unknown)",
    "date_order": "the start date, the likelier typo, is blanked; the end date is kept",
}
REPAIRED, DROPPED, CASCADED = "repaired", "dropped", "cascaded"
ACTION_COLUMNS = (*PROBLEM_COLUMNS, "action")
# Dropping an opt-out would process the data of someone who asked us not to: refused.
# A reference to someone absent from the snapshot is harmless to drop (no data on them).
_PRIVACY_TABLE = "opt_outs"
_HARMLESS_OPT_OUT_RULES = frozenset({"foreign_key", "parent_rejected"})


class InvalidSnapshotError(UserDataError):
    """The data directory was not ingested under its policy; see ``report`` and ``plan``."""

    def __init__(
        self, report: ValidationReport, reason: str, plan: RepairPlan | None = None
    ) -> None:
        super().__init__(reason)
        self.report = report
        self.plan = plan


@dataclass
class RepairPlan:
    """What a policy does with a validated directory (nothing is applied until asked)."""

    policy: Policy
    report: ValidationReport
    actions: pd.DataFrame  # ACTION_COLUMNS, one row per problem or cascaded row
    dropped: dict[str, pd.Series]  # table -> "; "-joined reasons, indexed by position
    refusal: str | None  # why the policy refuses the directory; None if it can be stored

    @property
    def accepted(self) -> bool:
        return self.refusal is None

    @property
    def changed(self) -> bool:
        """Whether the stored snapshot differs from the source (a repair or a drop)."""
        return not self.actions.empty

    @property
    def problems(self) -> list[Problem]:
        return to_problems(self.actions)

    def repairs(self) -> pd.DataFrame:
        """The repaired cells: problem columns plus ``action``, in table and row order."""
        return self.actions[self.actions["action"] == REPAIRED].reset_index(drop=True)

    def n_repaired_cells(self) -> int:
        return len(self.repairs().drop_duplicates(["table", "pos", "column"]))

    def n_dropped_rows(self, action: str | None = None) -> int:
        rows = self.actions[self.actions["action"] != REPAIRED]
        if action is not None:
            rows = rows[rows["action"] == action]
        return len(rows.drop_duplicates(["table", "pos"]))

    def tables(self) -> dict[str, pd.DataFrame]:
        """The typed tables to store: repaired cells blanked, dropped rows removed."""
        return {table: self.table(table) for table in self.table_names()}

    def table_names(self) -> list[str]:
        """The tables to store, in contract order."""
        return [table for table in TABLES if table in self.report.tables]

    def table(self, table: str) -> pd.DataFrame:
        """One typed table to store (see ``tables``): ingest builds them one at a time.

        Only a table with repairs or drops is copied; the others are the report's frames.
        """
        repairs = self.repairs()
        frame = self.report.tables[table]
        cells = repairs[repairs["table"] == table]
        if len(cells):
            frame = frame.copy()
            for column, group in cells.groupby("column", sort=True):
                positions = np.unique(group["pos"].to_numpy(dtype=np.int64))
                blanked = frame[column].copy()
                # None is each dtype's own missing value: None, NaT, NaN or <NA>.
                blanked.iloc[positions] = None
                frame[column] = blanked
        drop = self.dropped.get(table)
        if drop is not None and len(drop):
            frame = frame.drop(index=drop.index).reset_index(drop=True)
        return frame

    def counts(self) -> dict[str, Any]:
        """What was done, for the manifest and the command's output."""
        by_table: dict[str, dict[str, int]] = {}
        rows = self.actions.drop_duplicates(["table", "pos", "column", "action"])
        for table in TABLES:
            part = rows[rows["table"] == table]
            if part.empty:
                continue
            whole = part[part["action"] != REPAIRED].drop_duplicates("pos")
            by_table[table] = {
                "repaired_cells": int((part["action"] == REPAIRED).sum()),
                "dropped_rows": int((whole["action"] == DROPPED).sum()),
                "cascaded_rows": int((whole["action"] == CASCADED).sum()),
            }
        return {
            "repaired_cells": self.n_repaired_cells(),
            "dropped_rows": self.n_dropped_rows(DROPPED),
            "cascaded_rows": self.n_dropped_rows(CASCADED),
            "repaired_by_rule": _by_rule(self.actions, REPAIRED),
            "dropped_by_rule": _by_rule(self.actions, DROPPED),
            "by_table": by_table,
        }

    def summary_line(self) -> str:
        cascaded = self.n_dropped_rows(CASCADED)
        return (
            f"policy {self.policy}: {self.n_repaired_cells():,} value(s) repaired (blanked), "
            f"{self.n_dropped_rows():,} row(s) dropped"
            + (f" ({cascaded:,} because a row they refer to was dropped)" if cascaded else "")
        )

    def render(self, examples: int = 3) -> Table:
        """Actions grouped by what was done and why: count, meaning and a few examples."""
        out = Table(title=self.summary_line(), title_justify="left")
        out.add_column("action", no_wrap=True)
        out.add_column("rule", no_wrap=True)
        out.add_column("count", justify="right", no_wrap=True)
        out.add_column("what is done")
        out.add_column("examples")
        for (action, rule), group in self.actions.groupby(["action", "rule"], sort=False):
            if action == REPAIRED:
                what = REPAIR_RULES[rule]
            elif action == DROPPED and self.policy == "quarantine":
                what = "the row breaks a rule: set aside (kept in quarantine/)"
            else:
                what = _DROP_WORDS[action]
            lines = [example(p) for p in to_problems(group.head(examples))]
            out.add_row(action, rule, f"{len(group):,}", what, "\n".join(lines))
        return out


_DROP_WORDS = {
    DROPPED: "a key or required value is broken: the row is dropped (kept in quarantine/)",
    CASCADED: "refers to a dropped row: dropped too (kept in quarantine/)",
}


def plan_repairs(report: ValidationReport, policy: Policy) -> RepairPlan:
    """Decide, for every problem of ``report``, what ``policy`` does about it."""
    frame = report.problem_frame
    if frame.empty:
        return RepairPlan(policy, report, _empty_actions(), {}, None)
    if report.fatal:
        return RepairPlan(
            policy,
            report,
            _empty_actions(),
            {},
            "the data directory has file-level problems (a missing or unreadable file or "
            "column), which no policy can store",
        )
    if policy == "strict":
        return RepairPlan(
            policy,
            report,
            _empty_actions(),
            {},
            f"the data breaks the contract ({len(frame):,} problem(s)) and policy strict "
            "refuses any (--policy repair keeps what can be kept)",
        )
    rows = frame[frame["pos"].notna()].copy()
    rows["pos"] = rows["pos"].astype(np.int64)
    fixable = repairable(rows) if policy == "repair" else np.zeros(len(rows), dtype=bool)
    broken = rows.loc[~fixable, ["table", "pos"]].drop_duplicates()
    in_broken_row = _member(rows, broken)
    rows["action"] = np.where(in_broken_row, DROPPED, REPAIRED)

    reasons = _reasons(rows[rows["action"] == DROPPED])
    cascaded = cascade_rejections(report.tables, reasons)
    if not cascaded.empty:
        cascaded = finish([cascaded], report.files, report.tables)
        cascaded["action"] = CASCADED
        # A repair in a row that goes anyway is moot: report it as part of the drop.
        moot = _member(rows, cascaded[["table", "pos"]]) & (rows["action"] == REPAIRED)
        rows.loc[moot, "action"] = CASCADED
    actions = pd.concat([rows, cascaded] if not cascaded.empty else [rows], ignore_index=True)
    actions = _ordered(actions)
    plan = RepairPlan(policy, report, actions, reasons, None)
    plan.refusal = _guard(plan)
    return plan


def repairable(problems: pd.DataFrame) -> np.ndarray:
    """Which problems a repair can fix: a ``REPAIR_RULES`` rule in an optional non-key column."""
    optional = {
        (spec.table, spec.name)
        for table in TABLES
        for spec in columns(table)
        if not spec.required and spec.kind is not Kind.ID
    }
    cells = zip(problems["table"], problems["column"], strict=True)
    in_optional = np.fromiter((cell in optional for cell in cells), dtype=bool, count=len(problems))
    return in_optional & problems["rule"].isin(list(REPAIR_RULES)).to_numpy(dtype=bool)


def _guard(plan: RepairPlan) -> str | None:
    """Refusals that no policy should get round: a lost opt-out, a required table emptied."""
    actions = plan.actions
    opt_outs = actions[
        (actions["table"] == _PRIVACY_TABLE)
        & (actions["action"] == DROPPED)
        & ~actions["rule"].isin(list(_HARMLESS_OPT_OUT_RULES))
    ]
    if not opt_outs.empty:
        first = to_problems(opt_outs.head(1))[0]
        return (
            f"{len(opt_outs.drop_duplicates('pos')):,} opt-out row(s) would be dropped, and "
            f"an opt-out must be honoured, not dropped; fix {example(first)} [{first.rule}]"
        )
    for table in REQUIRED_TABLES:
        frame = plan.report.tables.get(table)
        dropped = plan.dropped.get(table)
        if frame is not None and len(frame) and dropped is not None and len(dropped) == len(frame):
            return f"every row of {table} would be dropped: nothing usable would be left"
    return None


def _member(rows: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    wanted = pd.MultiIndex.from_frame(keys[["table", "pos"]].astype({"pos": np.int64}))
    here = pd.MultiIndex.from_arrays([rows["table"], rows["pos"].astype(np.int64)])
    return np.asarray(here.isin(wanted), dtype=bool)


def _reasons(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """Per table, the reasons of each dropped row ("rule: column='value'", "; "-joined)."""
    if rows.empty:
        return {}
    text = rows["rule"] + ": " + rows["column"].fillna("") + "=" + quoted(rows["value"])
    grouped = (
        pd.DataFrame({"table": rows["table"], "pos": rows["pos"], "r": text})
        .groupby(["table", "pos"], sort=True)["r"]
        .agg("; ".join)
    )
    return {str(table): part.droplevel("table") for table, part in grouped.groupby(level="table")}


def _ordered(actions: pd.DataFrame) -> pd.DataFrame:
    order = {t: i for i, t in enumerate(TABLES)}
    rank = {REPAIRED: 0, DROPPED: 1, CASCADED: 2}
    out = actions.assign(_t=actions["table"].map(order), _a=actions["action"].map(rank))
    out = out.sort_values(["_t", "pos", "_a", "column"], kind="stable")
    return out.drop(columns=["_t", "_a"]).reset_index(drop=True)[list(ACTION_COLUMNS)]


def _by_rule(actions: pd.DataFrame, action: str) -> dict[str, int]:
    counts = actions.loc[actions["action"] == action].groupby("rule", sort=True).size()
    return {str(k): int(v) for k, v in counts.items()}


def _empty_actions() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in ACTION_COLUMNS})
