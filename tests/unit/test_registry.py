"""The champion/challenger gate, in both directions, on a real MLflow (SQLite) store.

One scenario per module, run entirely in the fixture and recorded step by step; the
tests only read the record (so their order does not matter):

1. ``first``: a weak model (no PhD signal) is promoted, as there is no champion yet;
2. ``shuffled``: a model trained on shuffled labels is refused; the champion stays;
3. ``measure``/``above``/``default``: the full model against the weak champion, first
   with margins it cannot meet (1.0, then its real lead + 0.001), then with the
   default margin, which it beats;
4. ``tie_default``/``tie_zero``: the full model retrained identically ties the champion:
   refused with the default margin, promoted with a zero margin;
5. ``again``: promoting the champion itself changes nothing.

A second store (``refusals``) holds the cases where the gate cannot compare, after a first
champion: a challenger whose rows lack a feature the champion needs (the champion cannot be
scored), then a window without a single positive label (AUC-PR is undefined). Both are
refused with a zero margin, so only the refusal itself can keep the champion in place.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from mlflow_helpers import CATEGORICAL, NUMERIC, ToyData, target_in
from typer.testing import CliRunner

from talentmap.app.cli import app as talentmap_app
from talentmap.training.model.estimator import PromiseModel
from talentmap.training.tracking.registry import (
    CHAMPION,
    PromotionDecision,
    PromotionError,
    history_from_runs,
    promote,
    read_history,
)
from talentmap.training.tracking.run_logging import log_training_run
from talentmap.training.tracking.target import TrackingTarget, activate


@dataclass
class Scenario:
    target: TrackingTarget
    versions: dict[str, str] = field(default_factory=dict)
    decisions: dict[str, PromotionDecision] = field(default_factory=dict)
    champion_after: dict[str, str] = field(default_factory=dict)
    history_lines: dict[str, list[str]] = field(default_factory=dict)


def _champion(target: TrackingTarget) -> str:
    with activate(target) as client:
        return str(client.get_model_version_by_alias(target.registered_model, CHAMPION).version)


def _lines(target: TrackingTarget) -> list[str]:
    path = target.history_path
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _lead(decision: PromotionDecision) -> float:
    assert decision.champion_metrics is not None
    return decision.challenger_metrics["auc_pr"] - decision.champion_metrics["auc_pr"]


def _logger(state: Scenario, toy: ToyData) -> Callable[[str, PromiseModel], None]:
    def log(label: str, model: PromiseModel) -> None:
        inputs = toy.inputs(model, label)
        state.versions[label] = log_training_run(state.target, inputs).model_version

    return log


def _stepper(state: Scenario) -> Callable[..., PromotionDecision]:
    def step(label: str, margin: float | None = None) -> PromotionDecision:
        state.decisions[label] = promote(state.target, margin=margin)
        state.champion_after[label] = _champion(state.target)
        state.history_lines[label] = _lines(state.target)
        return state.decisions[label]

    return step


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    toy = ToyData(seed=5)
    state = Scenario(target_in(tmp_path_factory.mktemp("home")))
    log, step = _logger(state, toy), _stepper(state)
    log("weak", toy.fit(features=[c for c in NUMERIC if c != "n_founders_phd"]))
    step("first")
    log("shuffled", toy.fit(shuffle_labels=True, seed=1))
    step("shuffled")
    log("good", toy.fit())
    lead = _lead(step("measure", margin=1.0))
    step("above", margin=lead + 0.001)
    step("default")
    log("tie", toy.fit())
    step("tie_default")
    step("tie_zero", margin=0.0)
    step("again")
    return state


def test_first_challenger_becomes_champion(scenario: Scenario) -> None:
    first = scenario.decisions["first"]
    assert first.promoted
    assert first.champion_before is None and first.champion_metrics is None
    assert scenario.champion_after["first"] == scenario.versions["weak"] == "1"
    assert "no champion" in first.reason


def test_shuffled_labels_challenger_is_refused(scenario: Scenario) -> None:
    decision = scenario.decisions["shuffled"]
    assert not decision.promoted
    assert decision.challenger_version == scenario.versions["shuffled"]
    assert decision.champion_before == scenario.versions["weak"]
    assert scenario.champion_after["shuffled"] == scenario.versions["weak"]
    assert _lead(decision) < 0
    assert "champion stays" in decision.reason
    # Both models were scored on the same rows: same size, same labels.
    assert decision.champion_metrics is not None
    assert decision.challenger_metrics["n"] == decision.champion_metrics["n"]
    assert decision.challenger_metrics["base_rate"] == decision.champion_metrics["base_rate"]


def test_better_challenger_is_promoted_only_past_the_margin(scenario: Scenario) -> None:
    weak, good = scenario.versions["weak"], scenario.versions["good"]
    measure, above, default = (scenario.decisions[k] for k in ("measure", "above", "default"))
    assert _lead(measure) > 0.05  # the PhD signal is worth a lot on the toy rows
    assert not measure.promoted and scenario.champion_after["measure"] == weak
    assert not above.promoted and scenario.champion_after["above"] == weak
    assert _lead(above) == pytest.approx(_lead(measure))  # same rows, same models
    assert default.promoted and default.margin == 0.005
    assert default.champion_before == weak
    assert scenario.champion_after["default"] == good


def test_a_tie_needs_a_zero_margin(scenario: Scenario) -> None:
    tie_default, tie_zero = scenario.decisions["tie_default"], scenario.decisions["tie_zero"]
    assert _lead(tie_default) == pytest.approx(0.0, abs=1e-12)  # deterministic retraining
    assert not tie_default.promoted and "margin 0.0050" in tie_default.reason
    assert scenario.champion_after["tie_default"] == scenario.versions["good"]
    assert tie_zero.promoted
    assert scenario.champion_after["tie_zero"] == scenario.versions["tie"]


def test_already_champion_is_a_no_op(scenario: Scenario) -> None:
    again = scenario.decisions["again"]
    assert not again.promoted and "already the champion" in again.reason
    assert scenario.champion_after["again"] == scenario.versions["tie"]
    assert scenario.history_lines["again"] == scenario.history_lines["tie_zero"]


def test_history_is_append_only_and_matches_the_runs(scenario: Scenario) -> None:
    lines = scenario.history_lines
    order = ["first", "shuffled", "measure", "above", "default", "tie_default", "tie_zero"]
    for before, after in itertools.pairwise(order):
        assert lines[after][: len(lines[before])] == lines[before]  # never rewritten
    assert [len(lines[k]) for k in order] == [1, 1, 1, 1, 2, 2, 3]
    entries = [json.loads(line) for line in lines["tie_zero"]]
    versions = scenario.versions
    assert [(e["champion"], e["previous"]) for e in entries] == [
        (versions["weak"], None),
        (versions["good"], versions["weak"]),
        (versions["tie"], versions["good"]),
    ]
    assert entries[1]["challenger_auc_pr"] > entries[1]["champion_auc_pr"]
    file_story = [(e["champion"], e["previous"]) for e in read_history(scenario.target)]
    run_story = [(e["champion"], e["previous"]) for e in history_from_runs(scenario.target)]
    assert file_story == run_story == [(e["champion"], e["previous"]) for e in entries]


def test_decision_is_logged_on_the_version_and_as_a_run(scenario: Scenario) -> None:
    decision = scenario.decisions["shuffled"]
    target = scenario.target
    with activate(target) as client:
        version = client.get_model_version(target.registered_model, decision.challenger_version)
        run = client.get_run(decision.promotion_run_id)
    assert version.tags["promotion.decision"] == "kept"
    assert version.tags["promotion.run_id"] == decision.promotion_run_id
    assert float(version.tags["promotion.champion_auc_pr"]) == pytest.approx(
        decision.champion_metrics["auc_pr"], abs=1e-6
    )
    assert run.data.tags["promotion.decision"] == "kept"
    assert run.data.params["champion_before"] == scenario.versions["weak"]
    assert run.data.metrics["challenger.auc_pr"] == pytest.approx(
        decision.challenger_metrics["auc_pr"]
    )
    assert run.data.metrics["champion.auc_pr"] == pytest.approx(decision.champion_metrics["auc_pr"])
    assert "champion.precision_at_100" in run.data.metrics


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    toy = ToyData(seed=7)
    state = Scenario(target_in(tmp_path_factory.mktemp("refusals")))
    log, step = _logger(state, toy), _stepper(state)
    log("full", toy.fit())
    step("first")
    # Evaluation rows hold the challenger's features only: ``noise`` is missing from them.
    log("no_noise", toy.fit(features=[c for c in (*NUMERIC, *CATEGORICAL) if c != "noise"]))
    step("unscorable", margin=0.0)
    toy.evaluation = toy.evaluation.assign(label=0)  # nobody in the window succeeded
    log("no_positives", toy.fit())
    step("undefined", margin=0.0)
    return state


def _assert_refused_and_recorded(state: Scenario, label: str) -> PromotionDecision:
    """The champion stays, no history line is added, and the reason is on the record."""
    decision = state.decisions[label]
    champion = state.versions["full"]
    assert not decision.promoted and decision.decision == "kept"
    assert decision.champion_before == decision.champion_after == champion
    assert state.champion_after[label] == champion
    assert state.history_lines[label] == state.history_lines["first"]
    assert len(state.history_lines[label]) == 1
    target = state.target
    with activate(target) as client:
        version = client.get_model_version(target.registered_model, decision.challenger_version)
        run = client.get_run(decision.promotion_run_id)
    assert version.tags["promotion.decision"] == "kept"
    assert version.tags["promotion.reason"] == decision.reason
    assert version.tags["promotion.run_id"] == decision.promotion_run_id
    assert "champion.since" not in version.tags
    assert run.data.tags["promotion.decision"] == "kept"
    assert run.data.tags["promotion.reason"] == decision.reason
    assert run.data.params["champion_after"] == champion
    return decision


def test_first_champion_of_the_refusal_store(refusals: Scenario) -> None:
    first = refusals.decisions["first"]
    assert first.promoted and first.champion_before is None
    assert refusals.champion_after["first"] == refusals.versions["full"]
    assert len(refusals.history_lines["first"]) == 1


def test_unscorable_champion_refuses_the_challenger(refusals: Scenario) -> None:
    decision = _assert_refused_and_recorded(refusals, "unscorable")
    assert decision.challenger_version == refusals.versions["no_noise"]
    assert f"champion v{refusals.versions['full']} cannot be scored" in decision.reason
    assert "noise" in decision.reason and "until a person decides" in decision.reason
    assert decision.champion_metrics is None
    assert decision.challenger_metrics["auc_pr"] is not None  # the challenger itself scored


def test_undefined_auc_pr_refuses_the_challenger(refusals: Scenario) -> None:
    decision = _assert_refused_and_recorded(refusals, "undefined")
    assert decision.challenger_version == refusals.versions["no_positives"]
    assert "AUC-PR is undefined" in decision.reason and "no positive label" in decision.reason
    assert decision.challenger_metrics["n_positive"] == 0
    assert decision.challenger_metrics["auc_pr"] is None  # NaN, recorded as null
    assert decision.champion_metrics is not None
    assert decision.champion_metrics["auc_pr"] is None
    with activate(refusals.target) as client:
        tags = client.get_model_version(
            refusals.target.registered_model, decision.challenger_version
        ).tags
    assert tags["promotion.challenger_auc_pr"] == tags["promotion.champion_auc_pr"] == "n/a"


def test_promote_without_challenger_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PromotionError, match="no @challenger"):
        promote(target_in(tmp_path))


def test_cli_prints_the_decision_and_exits_zero(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from talentmap.settings import get_settings

    app = talentmap_app
    runner = CliRunner()
    home = scenario.target.history_path.parent.parent
    monkeypatch.setenv("TALENTMAP_HOME", str(home))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["promote", "--margin", "0.01"])
        assert result.exit_code == 0, result.output
        assert "AUC-PR (gate)" in result.output and "champion" in result.output
        monkeypatch.setenv("TALENTMAP_HOME", str(tmp_path))  # an empty store: nothing to decide
        get_settings.cache_clear()
        failed = runner.invoke(app, ["promote"])
        assert failed.exit_code == 1
        assert "could not decide" in failed.output
    finally:
        get_settings.cache_clear()
