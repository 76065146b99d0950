"""The model card of a training run, in Markdown, from explicit numbers only.

Written for the auditors who open a run in the MLflow UI: what the model is for and what
it must never be used for, which data it saw (snapshot, time span, rows, base rate), how
it does against the baselines, per region and per founding-team gender, and what it
cannot know. ``render_model_card`` is a pure function of ``CardData``; no names or
personal data go in (audit groups are team-level categories, see ``audit.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from talentmap.settings.training import PromiseRules

SMALL_GROUP = 30  # rows under which a group's metrics are flagged as noisy
SHOWN = (
    ("auc_pr", "AUC-PR"),
    ("auc_roc", "AUC-ROC"),
    ("precision@100", "precision@100"),
    ("lift@100", "lift@100"),
    ("recall@100", "recall@100"),
    ("ndcg@100", "NDCG@100"),
    ("brier", "Brier"),
    ("ece", "calibration error"),
)
SCORER_LABELS = {
    "model": "LightGBM promise model",
    "logistic_regression": "baseline: logistic regression",
    "total_raised": "baseline: total raised so far",
}


@dataclass(frozen=True)
class CardData:
    """Everything the card states; every number comes from the run being logged."""

    model_name: str
    snapshot_id: str
    snapshot_date: str | None
    horizon_months: int
    rules: PromiseRules
    feature_service: str
    features: Sequence[str]
    training_as_of: Sequence[str]  # ISO dates, sorted
    training_rows: int
    training_positives: int
    evaluation_as_of: str
    evaluation_rows: int
    evaluation_positives: int
    metrics: Mapping[str, Mapping[str, float | None]]  # scorer -> ranking_report
    by_region: pd.DataFrame | None = None  # audit.group_metrics
    by_founder_gender: pd.DataFrame | None = None
    group_k: int = 100
    run_id: str | None = None
    notes: Sequence[str] = field(default_factory=tuple)
    # fairness.fairness_audit output ({dimension: table}) and regional_floor_cost output
    fairness: Mapping[str, pd.DataFrame] | None = None
    fairness_k: int = 100
    four_fifths: float = 0.8
    regional_floor: Mapping[str, Any] | None = None
    selection: Mapping[str, Any] | None = None  # PromiseModel.selection_.to_dict()


def _num(value: object, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def _rate(positives: int, rows: int) -> str:
    return _num(positives / rows) if rows else "n/a"


def _metrics_table(metrics: Mapping[str, Mapping[str, float | None]]) -> list[str]:
    head = "| scorer | " + " | ".join(label for _, label in SHOWN) + " |"
    lines = [head, "|" + "---|" * (len(SHOWN) + 1)]
    for scorer, report in metrics.items():
        cells = [_num(report.get(key)) for key, _ in SHOWN]
        lines.append(f"| {SCORER_LABELS.get(scorer, scorer)} | " + " | ".join(cells) + " |")
    return lines


def _group_table(table: pd.DataFrame | None, what: str, k: int) -> list[str]:
    if table is None or table.empty:
        return [f"No {what} information was available for this run."]
    lines = [
        f"| {what} | rows | positives | base rate | AUC-PR model | AUC-PR logistic | "
        f"model top-{k} rows | their precision | top-{k} share | share of positives |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    model = table[table["scorer"] == "model"].set_index("group")
    logistic = table[table["scorer"] == "logistic_regression"].set_index("group")
    for group, row in model.iterrows():
        flag = " (small group: noisy)" if row["n"] < SMALL_GROUP else ""
        other = logistic["auc_pr"].get(group) if not logistic.empty else None
        lines.append(
            f"| {group}{flag} | {int(row['n']):,} | {int(row['n_positive']):,} | "
            f"{_num(row['base_rate'])} | {_num(row['auc_pr'])} | {_num(other)} | "
            f"{int(row['selected']):,} | {_num(row['precision_selected'])} | "
            f"{_num(row['share_of_selected'])} | "
            f"{_num(row['share_of_positives'])} |"
        )
    return lines


FAIRNESS_TITLES = {
    "region": "region",
    "gender": "founding-team gender",
    "lead_gender": "lead founder's gender (CEO or président)",
    "age_band": "founders' age band (team median)",
    "school": "founders' type of school (best in the team)",
}


def _fairness_table(table: pd.DataFrame, what: str, k: int, threshold: float) -> list[str]:
    lines = [
        f"| {what} | candidates | share | in top {k} | selection rate | selection ratio | "
        f"exposure share | exposure ratio | base rate | four-fifths |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in table.iterrows():
        if bool(row["reference"]):
            verdict = "reference"
        elif bool(row["flagged"]):
            verdict = f"**below {threshold:g}**"
        elif math.isnan(float(row["selection_ratio"])):
            verdict = "n/a"
        else:
            verdict = "ok"
        if bool(row["small"]):
            verdict += " (small group: noisy)"
        lines.append(
            f"| {row['group']} | {int(row['n']):,} | {_num(row['candidate_share'])} | "
            f"{int(row['selected']):,} | {_num(row['selection_rate'])} | "
            f"{_num(row['selection_ratio'], 2)} | {_num(row['exposure_share'])} | "
            f"{_num(row['exposure_ratio'], 2)} | {_num(row['base_rate'])} | {verdict} |"
        )
    return lines


def _fairness_section(data: CardData) -> list[str]:
    k, threshold = data.fairness_k, data.four_fifths
    lines = [f"## Fairness of the top-{k} shortlist (audit only)", ""]
    if not data.fairness:
        return [*lines, "No audit group was available for this run.", ""]
    lines += [
        f"For each group: its share of the candidates, how many of its candidates make the "
        f"model's top {k} (selection rate), that rate divided by the rate of the most-selected "
        "known group that is not small (selection ratio, the four-fifths rule), and its "
        "share of the "
        "shortlist's attention (exposure: rank r counts 1/log2(1 + r), so the first places "
        "weigh most; the exposure ratio compares exposure per candidate with the reference "
        "group's). The base rate is the group's share of companies that reached a milestone. "
        "A group is small (noisy) when it has few candidates or would place only a handful "
        f"in the top {k} at the overall rate; one company more or less moves its rate a lot, "
        "so it never serves as the reference.",
        "",
    ]
    for dimension, table in data.fairness.items():
        title = FAIRNESS_TITLES.get(dimension, dimension)
        lines += [f"### By {title}", "", *_fairness_table(table, title, k, threshold), ""]
    lines += [
        f"**What a flag means.** A group marked *below {threshold:g}* is picked for this "
        f"shortlist at less than {threshold:g} times the rate of the most-picked group. It "
        "is a signal for a person to look into, not a finding of discrimination.",
        "",
        "**What it does not mean.** It does not say why. The label records what investors "
        "did, and their past decisions carry biases (for instance against women-led teams), "
        "which the model learns; groups also differ in how well the sources cover them, and "
        "small groups move a lot by chance. A flag is not proof that the model is unfair, "
        "and the absence of flags is not proof that it is fair. Compare the selection ratio "
        "with the base rates: a gap that only follows them mirrors history rather than "
        "correcting it.",
        "",
    ]
    floor = data.regional_floor
    if floor:
        from talentmap.training.evaluation.regional_floor import floor_summary

        lines += [
            "### Regional floor (French Tech 120 rule)",
            "",
            floor_summary(floor),
            "",
            "The floor is optional in the service (`region_floor` on `/shortlist`): it "
            "trades this much precision for a shortlist that covers every region.",
            "",
        ]
    return lines


def _limitations(data: CardData) -> list[str]:
    items = [
        "The label is what investors and acquirers did: a Series A or later, a round of at "
        f"least €{data.rules.large_round_eur:,.0f}, or an exit within {data.horizon_months} "
        "months. The model learns their past preferences, including their biases (for "
        "instance against all-women founding teams); it predicts funding, not merit.",
        "The model only knows companies the sources have seen. Companies that are less "
        "covered (outside Île-de-France, without press or public funding) carry fewer "
        "signals and may rank lower for that reason alone.",
        "A missing signal means unknown, not zero; rankings among companies with few "
        "signals are less reliable.",
        f"Metrics come from one backtest window (as of {data.evaluation_as_of}); a different "
        "economic period can change them. Probabilities are calibrated on the latest "
        "training slice and drift as base rates change.",
        "Founding-team gender is known only where the source records it; the "
        "'unknown' group shows how much of the audit is blind.",
    ]
    for table, what in ((data.by_region, "region"), (data.by_founder_gender, "team gender")):
        if table is None or table.empty:
            continue
        model = table[table["scorer"] == "model"]
        small = sorted(model.loc[model["n"] < SMALL_GROUP, "group"].astype(str))
        if small:
            items.append(
                f"Groups by {what} with fewer than {SMALL_GROUP} evaluation rows have noisy "
                f"metrics: {', '.join(small)}."
            )
        undefined = sorted(model.loc[model["n_positive"] == 0, "group"].astype(str))
        if undefined:
            items.append(
                f"Groups by {what} without a single positive in the window (AUC-PR "
                f"undefined): {', '.join(undefined)}."
            )
    return [*items, *data.notes]


def _selection_section(selection: Mapping[str, Any] | None) -> list[str]:
    if not selection:
        return []
    scores = selection.get("scores") or {}
    lines = [
        "## The served scorer",
        "",
        f"Served: **{selection['name']}**. It was chosen among the logistic regression, "
        "the LightGBM trees and blends of the two on the latest as-of dates of the "
        "training rows (the calibration slice), scored by models that had not seen them; "
        "the evaluation window above played no part in the choice. Criterion: the mean, "
        "over those dates, of each date's average precision "
        f"({selection.get('dates', 0)} dates, {selection.get('rows', 0):,} rows, "
        f"{selection.get('positives', 0):,} positives).",
    ]
    if selection.get("reason"):
        lines += ["", f"No comparison was possible: {selection['reason']}."]
    if scores:
        best = sorted(scores.items(), key=lambda kv: -(kv[1] if kv[1] == kv[1] else -1.0))
        lines += ["", "| candidate | inner score |", "|---|---|"]
        lines += [f"| {name} | {_num(value)} |" for name, value in best]
    return [*lines, ""]


def render_model_card(data: CardData) -> str:
    """The card as Markdown text."""
    first = data.training_as_of[0] if data.training_as_of else "n/a"
    last = data.training_as_of[-1] if data.training_as_of else "n/a"
    run = f" (MLflow run `{data.run_id}`)" if data.run_id else ""
    lines = [
        f"# Model card: {data.model_name}{run}",
        "",
        "## Intended use",
        "",
        "Rank young French **companies** by their chance of reaching a milestone (a Series A "
        f"or later, a round of at least €{data.rules.large_round_eur:,.0f}, or an exit) "
        f"within {data.horizon_months} months, so that analysts and investors review "
        "promising companies early, region by region. The score uses team-level signals "
        "(for instance, that a founder holds a PhD) only as facts about the company. "
        "Every score comes with its reasons; a person reviews the shortlist before any "
        "decision.",
        "",
        "## Out of scope and misuse",
        "",
        "- **Never use it to recruit, hire, evaluate or select people** (founders, "
        "employees, candidates). Doing so would make it a high-risk AI system under the "
        "EU AI Act (Annex III, employment) and would be profiling of individuals under the "
        "GDPR, for which it was neither designed nor assessed.",
        "- Not a credit, investment or grant decision on its own: it ranks, it does not decide.",
        "- Not for companies outside its data (non-French, older than "
        f"{data.rules.max_age_years} years, or already past a milestone).",
        "- Gender is used **only** to audit fairness below; it is never a model feature, "
        "and the model refuses such a feature. No ethnic category exists anywhere.",
        "",
        "## Data",
        "",
        f"- Lake snapshot `{data.snapshot_id}`, snapshot date {data.snapshot_date or 'n/a'}.",
        f"- Feature service `{data.feature_service}`: {len(data.features)} features "
        "(point-in-time, no raw dates, no gender).",
        f"- Training: {data.training_rows:,} rows (company, as-of date) at "
        f"{len(data.training_as_of)} as-of dates from {first} to {last}; "
        f"{data.training_positives:,} positives, base rate "
        f"{_rate(data.training_positives, data.training_rows)}. Every label window ends "
        f"on or before {data.evaluation_as_of}.",
        f"- Evaluation: the candidates as of {data.evaluation_as_of}, "
        f"{data.evaluation_rows:,} rows, {data.evaluation_positives:,} positives, base rate "
        f"{_rate(data.evaluation_positives, data.evaluation_rows)}, labelled with what "
        f"happened in the following {data.horizon_months} months.",
        "- Only ids leave the lake: no personal names are logged with this run.",
        "",
        "## Metrics on the evaluation window",
        "",
        *_metrics_table(data.metrics),
        "",
        *_selection_section(data.selection),
        "Brier score and calibration error are undefined (n/a) for the 'total raised' "
        "heuristic, which is a ranking, not a probability.",
        "",
        "## Per region",
        "",
        *_group_table(data.by_region, "region", data.group_k),
        "",
        "## Per founding-team gender (audit only)",
        "",
        *_group_table(data.by_founder_gender, "founding team", data.group_k),
        "",
        f"'top-{data.group_k} share' is the group's share of the overall top-{data.group_k} "
        "shortlist; compare it with its share of the positives.",
        "",
        *_fairness_section(data),
        "## Limitations",
        "",
        *[f"- {item}" for item in _limitations(data)],
        "",
    ]
    return "\n".join(lines)
