"""The figures every training run carries in MLflow, as pure functions returning a Figure.

Figures are built with ``matplotlib.figure.Figure`` directly, never through pyplot: no
global figure registry to leak memory in a long-lived scheduler process, no GUI backend
to pick (rendering goes through Agg when saved). Callers save or log them
(``mlflow.log_figure``) and drop them.

Scorers are passed as ``{name: score}`` dicts aligned with one 0/1 label array, the
model first by convention; a scorer whose scores are not probabilities (the "total
raised" heuristic) is left out of the calibration plot, where it would mean nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve

from talentmap.training.evaluation.metrics import auc_pr, lift_at_k

SIZE = (7.0, 5.0)
WIDE = (10.0, 5.0)


def _is_probability(score: np.ndarray) -> bool:
    return bool(len(score)) and bool(((score >= 0) & (score <= 1)).all())


def pr_curve(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """Precision against recall for every scorer, with the base rate as the floor."""
    y = np.asarray(y_true, dtype=np.int64)
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    for name, score in scores.items():
        s = np.asarray(score, dtype=np.float64)
        if y.sum() == 0:
            continue
        precision, recall, _ = precision_recall_curve(y, s)
        ax.step(recall, precision, where="post", label=f"{name} (AUC-PR {auc_pr(y, s):.3f})")
    if len(y):
        ax.axhline(y.mean(), color="grey", linestyle=":", label=f"base rate {y.mean():.3f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("Precision-recall on the evaluation window")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def calibration_curve(
    y_true: np.ndarray, scores: Mapping[str, np.ndarray], n_bins: int = 10
) -> Figure:
    """Observed rate against mean predicted probability, quantile bins, probability scorers only.

    Quantile bins: with a low base rate almost every probability is small, and equal-width
    bins would put nearly all rows in the first one.
    """
    y = np.asarray(y_true, dtype=np.int64)
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    top = 0.0
    for name, score in scores.items():
        s = np.asarray(score, dtype=np.float64)
        if not _is_probability(s):
            continue
        bins = pd.qcut(pd.Series(s).rank(method="first"), q=min(n_bins, len(s)), labels=False)
        table = pd.DataFrame({"bin": bins, "p": s, "y": y}).groupby("bin").mean()
        ax.plot(table["p"], table["y"], marker="o", label=name)
        top = max(top, float(table["p"].max()), float(table["y"].max()))
    limit = min(1.0, max(0.05, top * 1.1))
    ax.set(xlabel="mean predicted probability", ylabel="observed rate")
    ax.set(xlim=(0, limit), ylim=(0, limit))
    ax.set_title(f"Calibration ({n_bins} quantile bins)")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


def feature_importance(importance: pd.Series, top: int = 25) -> Figure:
    """Horizontal bars of the ``top`` largest importances (LightGBM gain), largest on top."""
    shown = importance.sort_values(ascending=False).head(top)[::-1]
    fig = Figure(figsize=(7.0, max(3.0, 0.28 * len(shown) + 1.2)))
    ax = fig.add_subplot()
    ax.barh(shown.index.astype(str), shown.to_numpy(dtype=np.float64), color="tab:blue")
    ax.set_xlabel(f"importance ({importance.name or 'gain'})")
    ax.set_title(f"Feature importance (top {len(shown)} of {len(importance)})")
    ax.tick_params(axis="y", labelsize="small")
    fig.tight_layout()
    return fig


def lift_chart(
    y_true: np.ndarray, scores: Mapping[str, np.ndarray], ks: Sequence[int] | None = None
) -> Figure:
    """lift@k (precision@k over the base rate) as k grows, for every scorer."""
    y = np.asarray(y_true, dtype=np.int64)
    if ks is None:
        ks = sorted({int(k) for k in np.unique(np.geomspace(10, max(10, len(y)), 40).round())})
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    plotted = False
    for name, score in scores.items():
        lifts = [lift_at_k(y, np.asarray(score, dtype=np.float64), k) for k in ks]
        ax.plot(list(ks), lifts, label=name)
        plotted = plotted or bool(np.isfinite(lifts).any())
    ax.axhline(1.0, color="grey", linestyle=":", label="random pick")
    if not plotted:
        # Without a positive label every lift is NaN, and a log axis with no finite data
        # cannot choose its own limits (matplotlib raises): the run could not be logged.
        ax.set_xlim(min(ks), max(ks))
    ax.set_xscale("log")
    ax.set(xlabel="k (size of the shortlist)", ylabel="lift@k")
    ax.set_title("Lift of the top-k shortlist over the base rate")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def metrics_by_group(table: pd.DataFrame, title: str, scorer: str = "model") -> Figure:
    """Left: AUC-PR per group and scorer. Right: the model's selection in the top k.

    ``table`` is ``talentmap.training.evaluation.fairness_audit.group_metrics`` output. The right panel puts
    each group's share of the top-k shortlist next to its share of the positives: a
    group whose bar falls well short of its dot is under-selected.
    """
    fig = Figure(figsize=WIDE)
    left, right = fig.subplots(1, 2)
    groups = sorted(table["group"].unique())
    scorers = list(dict.fromkeys(table["scorer"]))
    width = 0.8 / max(1, len(scorers))
    x = np.arange(len(groups))
    for i, name in enumerate(scorers):
        rows = table[table["scorer"] == name].set_index("group").reindex(groups)
        left.bar(x + i * width, rows["auc_pr"].to_numpy(dtype=np.float64), width, label=name)
    left.set_xticks(x + width * (len(scorers) - 1) / 2, groups, rotation=45, ha="right")
    left.set(ylabel="AUC-PR", title="AUC-PR by group")
    left.legend(fontsize="small")
    own = table[table["scorer"] == scorer].set_index("group").reindex(groups)
    right.bar(x, own["share_of_selected"].to_numpy(dtype=np.float64), 0.6, label="top-k share")
    right.plot(
        x,
        own["share_of_positives"].to_numpy(dtype=np.float64),
        "o",
        color="black",
        label="share of positives",
    )
    right.set_xticks(x, groups, rotation=45, ha="right")
    right.set(ylabel="share", title=f"{scorer}: who makes the shortlist")
    right.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def fairness_ratios(audit: Mapping[str, pd.DataFrame], k: int, four_fifths: float = 0.8) -> Figure:
    """Per audit dimension: each group's selection ratio in the top k (bars) and exposure ratio.

    ``audit`` is ``talentmap.training.evaluation.fairness.fairness_audit`` output. Bars under the
    four-fifths line are drawn in red; hatched bars are small (noisy) groups; the
    reference group's bar is 1 by construction.
    """
    dimensions = list(audit)
    heights = [max(1, len(audit[d])) for d in dimensions]
    fig = Figure(figsize=(8.0, max(3.0, 0.32 * sum(heights) + 1.2 * len(dimensions))))
    grid = fig.subplots(len(dimensions), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    axes = grid[:, 0]
    for ax, dimension in zip(axes, dimensions, strict=True):
        table = audit[dimension]
        y = np.arange(len(table))
        ratios = table["selection_ratio"].to_numpy(dtype=np.float64)
        colours = ["tab:red" if f else "tab:blue" for f in table["flagged"].astype(bool)]
        bars = ax.barh(y, np.nan_to_num(ratios), color=colours, height=0.6)
        for bar, small in zip(bars, table["small"].astype(bool), strict=True):
            if small:
                bar.set_hatch("//")
                bar.set_alpha(0.6)
        ax.plot(
            table["exposure_ratio"].to_numpy(dtype=np.float64),
            y,
            "o",
            color="black",
            markersize=4,
            label="exposure ratio",
        )
        ax.axvline(four_fifths, color="grey", linestyle=":", label=f"{four_fifths:g} rule")
        ax.set_yticks(y, [str(g) for g in table["group"]], fontsize="small")
        ax.invert_yaxis()
        ax.set_title(f"{dimension}: selection ratio in the top {k}", fontsize="medium")
        ax.legend(loc="lower right", fontsize="x-small")
    axes[-1].set_xlabel("ratio to the reference group (most selected)")
    fig.tight_layout()
    return fig
