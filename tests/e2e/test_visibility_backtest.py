"""Issue 6 at the level of a backtest: a company is ranked at t only if it was on the record.

The world's organisations table carries ``first_seen_on``; the late-seen ones exist in the
data (with back-filled founding dates) but must get no prediction until the source saw
them, unless the source is declared to list companies from birth.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from talentmap.features.age import FIRST_EVENTS, age_anchor, first_event_on
from talentmap.generate.world import generate_world
from talentmap.settings import Settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import PromiseRules, TrainingConfig
from talentmap.training.pipeline.backtest import run_backtest

pytestmark = pytest.mark.e2e

AS_OF = date(2021, 6, 30)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("visibility") / "world"
    generate_world(out, 800, 21)
    return out


def _settings(home: Path, require_visibility: bool) -> Settings:
    training = TrainingConfig(
        rules=PromiseRules(require_visibility=require_visibility),
        model=ModelConfig(num_threads=1),
    )
    return Settings(home=home, training=training)


def _late_seen(world: Path) -> set[str]:
    """Young companies at t (issue 13's age rule) first recorded by the source after t.

    Young: founded within 5 years before t or, for a founding date after t of a company
    with dated events by t (here: founders who start before the founding day), first
    event within those 5 years.
    """
    orgs = pd.read_csv(world / "organizations.csv", parse_dates=["founded_on", "first_seen_on"])
    tables = {"organizations": orgs}
    for table, column in FIRST_EVENTS:
        tables[table] = pd.read_csv(world / f"{table}.csv", parse_dates=[column])
    t = pd.Timestamp(AS_OF)
    anchor, _ = age_anchor(
        orgs["founded_on"].to_numpy("datetime64[ns]"),
        first_event_on(tables).to_numpy("datetime64[ns]"),
        np.datetime64(t, "ns"),
        fallback=True,
    )
    young = (anchor <= np.datetime64(t, "ns")) & (
        anchor > np.datetime64(t - pd.DateOffset(years=5), "ns")
    )
    alive = orgs["closed_on"].isna() | (pd.to_datetime(orgs["closed_on"]) > t)
    late = orgs["first_seen_on"].gt(t)
    return set(orgs.loc[young & alive & late, "org_id"])


def test_late_seen_companies_get_no_prediction_until_seen(world: Path, tmp_path: Path) -> None:
    late = _late_seen(world)
    assert len(late) >= 10, "the generated world must contain late-seen young companies"

    strict = run_backtest(_settings(tmp_path / "on", True), world, AS_OF, 24, tmp_path / "o1")
    assert not set(strict.predictions["org_id"]) & late
    assert strict.metrics["candidates"]["left_out_not_visible"] > 0

    # A source known to list companies from birth turns the rule off: they come back.
    lenient = run_backtest(_settings(tmp_path / "off", False), world, AS_OF, 24, tmp_path / "o2")
    strict_ids, lenient_ids = set(strict.predictions["org_id"]), set(lenient.predictions["org_id"])
    assert strict_ids <= lenient_ids
    back = lenient_ids - strict_ids
    assert back and back <= late
    assert len(back) == strict.metrics["candidates"]["left_out_not_visible"]
    assert lenient.metrics["candidates"]["left_out_not_visible"] == 0
