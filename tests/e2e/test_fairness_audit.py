"""The fairness audit finds the funding bias the generator plants (issue 5, section 2).

One generated world, one ``talentmap train`` run (backtest at the latest covered window,
logged to MLflow). The test reads the generator's hidden state (``truth/hidden.parquet``;
the pipeline never does) to show three things:

1. the bias is real: at equal hidden quality, women-led companies reach milestones less
   often (the generator multiplies their hazards and amounts by 0.7);
2. the model learns it: at equal hidden quality, it scores women-led candidates lower,
   although gender is never one of its features (it sees funding, which carries the bias);
3. the audit logged with the run shows it: women-led teams are selected into the top 100
   at a lower rate than men-led teams.

Measured on this world (8,000 organisations, seed 7; about 2,000 candidates): women-led
selection ratio about 0.79 at k=100. The effect is modest and k=100 holds only ~15
women-led companies, so other seeds give 0.64 to 0.98: the audit is a signal to read with
its group sizes, and the card says so. The regional floor's cost is reported too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.artifacts import download_artifacts

from talentmap.generate.world import generate_world
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.evaluation.fairness import FAIRNESS_ARTIFACT
from talentmap.training.evaluation.fairness_audit import (
    LEAD_GENDER,
    MEN_LED,
    WOMEN_LED,
    audit_groups,
)
from talentmap.training.pipeline.train import TrainingRun, train
from talentmap.training.tracking.target import activate, resolve_target

pytestmark = pytest.mark.e2e

ORGS, SEED = 8_000, 7
MILESTONE_TYPES = ("series_a", "series_b", "series_c_plus")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fair") / "world"
    generate_world(out, ORGS, SEED, write_hidden=True)
    return out


@pytest.fixture(scope="module")
def run(world: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, TrainingRun]:
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))
    return settings, train(settings, world, home / "out")


@pytest.fixture(scope="module")
def hidden(world: Path) -> pd.DataFrame:
    return pd.read_parquet(world / "truth" / "hidden.parquet").set_index("org_id")


def test_planted_bias_at_equal_hidden_quality(world: Path, hidden: pd.DataFrame) -> None:
    rounds = pd.read_csv(world / "funding_rounds.csv")
    exits = pd.read_csv(world / "exits.csv")
    orgs = pd.read_csv(world / "organizations.csv", parse_dates=["founded_on"])
    big = rounds["round_type"].isin(MILESTONE_TYPES) | (rounds["amount_eur"] >= 5e6)
    reached = set(rounds.loc[big, "org_id"]) | set(exits["org_id"])
    # Companies old enough to have had their chance by the snapshot.
    frame = orgs.loc[orgs["founded_on"] <= "2021-12-31", ["org_id"]].join(hidden, on="org_id")
    frame["reached"] = frame["org_id"].isin(reached)
    frame["decile"] = pd.qcut(frame["latent"], 10, labels=False)
    rates = frame.groupby(["decile", "women_led"])["reached"].mean().unstack()
    women = frame.loc[frame["women_led"]].groupby("decile").size()
    # Standardised to the women-led companies' quality mix: what men-led companies of the
    # same hidden quality achieved, against what women-led ones did.
    ratio = float((rates[True] * women).sum() / (rates[False] * women).sum())
    print(f"milestone rate, women-led / men-led at equal latent: {ratio:.3f}")
    assert ratio < 0.9
    assert int((rates[True] < rates[False]).sum()) >= 7  # in most quality deciles


def test_model_scores_women_led_lower_at_equal_quality(
    run: tuple[Settings, TrainingRun], hidden: pd.DataFrame
) -> None:
    result = run[1].backtest
    score = result.scores["model"]
    logit = np.log(score / (1 - score))
    ids = pd.Series(result.candidate_ids)
    women = ids.map(hidden["women_led"]).astype(float).to_numpy()
    latent = ids.map(hidden["latent"]).to_numpy(dtype=float)
    design = np.column_stack([np.ones_like(latent), latent, women])
    coef = np.linalg.lstsq(design, logit, rcond=None)[0]
    print(f"model log-odds ~ latent {coef[1]:+.3f}, women-led {coef[2]:+.3f}")
    assert coef[1] > 0  # the model does find quality
    assert coef[2] < 0  # and, through funding signals, the historical bias
    # The audit's lead-founder category is the generator's women-led flag, seen from data
    # (almost always: a handful of leads' titles or genders are not recorded).
    groups = audit_groups(result.tables, result.candidate_ids, result.as_of)
    known = groups[LEAD_GENDER].isin([WOMEN_LED, MEN_LED]).to_numpy()
    agree = (groups[LEAD_GENDER] == WOMEN_LED).to_numpy() == (women == 1)
    assert known.mean() > 0.9 and agree[known].mean() > 0.99


def test_audit_in_mlflow_finds_women_led_under_selected(
    run: tuple[Settings, TrainingRun], tmp_path: Path
) -> None:
    settings, training = run
    target = resolve_target(settings)
    with activate(target) as client:
        metrics = client.get_run(training.logged.run_id).data.metrics
        folder = Path(download_artifacts(run_id=training.logged.run_id, dst_path=str(tmp_path)))
    document = json.loads((folder / FAIRNESS_ARTIFACT).read_text())
    assert document["k"] == 100 and document["four_fifths"] == 0.8
    assert {"region", "gender", "lead_gender", "age_band", "school"} <= set(document["dimensions"])
    lead = {g["group"]: g for g in document["dimensions"]["lead_gender"]["groups"]}
    women, men = lead[WOMEN_LED], lead[MEN_LED]
    print(
        "selection rate at 100: women-led "
        f"{women['selection_rate']:.4f} ({women['selected']}/{women['n']}), men-led "
        f"{men['selection_rate']:.4f} ({men['selected']}/{men['n']}), ratio "
        f"{women['selection_ratio']:.3f}"
    )
    assert women["n"] >= 200 and not women["small"]
    assert women["selection_rate"] < men["selection_rate"]
    assert women["selection_ratio"] < men["selection_ratio"]
    assert metrics["fairness.lead_gender.women-led.selection_rate_at_100"] == pytest.approx(
        women["selection_rate"]
    )
    for key in ("selection_rate", "selection_ratio", "exposure_share", "exposure_ratio"):
        assert f"fairness.gender.women_only.{key}_at_100" in metrics
    assert (folder / "plots" / "fairness_ratios.png").read_bytes()[:4] == b"\x89PNG"
    card = (folder / "model_card.md").read_text()
    assert "## Fairness of the top-100 shortlist" in card and "What a flag means" in card


def test_regional_floor_cost_in_metrics_json_and_mlflow(
    run: tuple[Settings, TrainingRun],
) -> None:
    settings, training = run
    written = json.loads(training.backtest.metrics_path.read_text())
    floor = written["evaluation"]["regional_floor"]
    print(f"regional floor: {floor}")
    assert floor["m"] == 2 and floor["k"] == 100
    assert floor["regions_floored"] >= 10 and floor["feasible"]
    assert floor["promoted"] > 0  # the plain top 100 misses some regions
    assert floor["cost"] == pytest.approx(
        floor["precision_at_k_without"] - floor["precision_at_k_with"]
    )
    with activate(resolve_target(settings)) as client:
        metrics = client.get_run(training.logged.run_id).data.metrics
    assert metrics["fairness.regional_floor.precision_at_100_cost"] == pytest.approx(floor["cost"])
    assert metrics["fairness.regional_floor.promoted"] == floor["promoted"]
