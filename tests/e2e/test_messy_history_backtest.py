"""Issue 13 end to end: a generated world made messy the way real exports are.

The test adds three centuries' worth of old companies (founding dates from 1900, three a
year before 2000, each with a seed round), blanks a third of the founding dates, and moves
a fifth of them to after the company's first dated event (a date corrected later). Then:

- ``talentmap backtest`` runs through the command, trains only inside the history window,
  and reports the dropped dates and the rows aged by the first-event fallback;
- deleting every event after --as-of (founding dates after it cleared for companies on
  the record, as the rule reads them) leaves ``predictions.csv`` byte-identical.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from truncation import DATED, after, read_text_table, truncate_world
from typer.testing import CliRunner

from talentmap.app.cli import app
from talentmap.generate.world import generate_world
from talentmap.settings import Settings, get_settings
from talentmap.settings.model import ModelConfig
from talentmap.settings.training import TrainingConfig
from talentmap.training.pipeline.backtest import METRICS_FILE, PREDICTIONS_FILE, run_backtest

pytestmark = pytest.mark.e2e

ORGS, SEED = 800, 19
AS_OF = date(2021, 6, 30)
OLD_YEARS = range(1900, 2000)


def _first_events(t: dict[str, pd.DataFrame]) -> pd.Series:
    parts = []
    for table, column in DATED:
        frame = t[table]
        if table == "roles":
            frame = frame.loc[frame["role"] == "founder"]
        frame = frame.loc[frame["org_id"].ne("") & frame[column].ne("")]
        parts.append(frame[["org_id", column]].set_axis(["org_id", "on"], axis=1))
    return pd.concat(parts).groupby("org_id")["on"].min()


def make_messy(src: Path, dst: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("truth"))
    t = {p.stem: read_text_table(p) for p in dst.glob("*.csv")}
    orgs = t["organizations"]
    first = orgs["org_id"].map(_first_events(t)).fillna("")
    pick = rng.random(len(orgs))
    blank = pick < 0.3
    moved = (pick > 0.8) & first.ne("")
    later = pd.to_datetime(first[moved]) + pd.to_timedelta(rng.integers(30, 900, moved.sum()), "D")
    # Never after the snapshot date: the contract refuses a date from the future.
    later = later.clip(upper=pd.Timestamp("2025-12-31"))
    orgs.loc[moved, "founded_on"] = later.dt.strftime("%Y-%m-%d")
    orgs.loc[blank, "founded_on"] = ""
    orgs.loc[orgs["closed_on"].ne("") & (orgs["closed_on"] < orgs["founded_on"]), "closed_on"] = ""

    # The long, sparse past: three companies a year from 1900 to 1999, each raising a seed
    # round a month after its founding and seen by the source from then on.
    template = orgs.iloc[0]
    old_years = np.repeat(np.array(OLD_YEARS), 3)
    months = rng.integers(1, 12, len(old_years))
    founded = [f"{y}-{m:02d}-15" for y, m in zip(old_years, months, strict=True)]
    ids = [f"org-old-{i:04d}" for i in range(len(old_years))]
    old = pd.DataFrame([template] * len(ids)).reset_index(drop=True)
    old["org_id"], old["name"], old["founded_on"] = ids, [f"Old {i}" for i in ids], founded
    old["closed_on"] = ""
    old["first_seen_on"] = [f"{d[:4]}-12-31" for d in founded]
    t["organizations"] = pd.concat([orgs, old], ignore_index=True)
    rounds = t["funding_rounds"]
    new_rounds = pd.DataFrame({c: "" for c in rounds.columns}, index=range(len(ids)))
    new_rounds["round_id"] = [f"rnd-old-{i:04d}" for i in range(len(ids))]
    new_rounds["org_id"] = ids
    new_rounds["announced_on"] = [f"{d[:4]}-{d[5:7]}-28" for d in founded]
    new_rounds["round_type"] = "seed"
    t["funding_rounds"] = pd.concat([rounds, new_rounds], ignore_index=True)
    for table, frame in t.items():
        frame.to_csv(dst / f"{table}.csv", index=False)


@pytest.fixture(scope="module")
def messy_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("messy")
    generate_world(root / "clean", ORGS, SEED)
    make_messy(root / "clean", root / "messy", SEED)
    return root / "messy"


def test_the_world_is_really_messy(messy_world: Path) -> None:
    orgs = read_text_table(messy_world / "organizations.csv")
    generated = ~orgs["org_id"].str.startswith("org-old-")
    assert orgs.loc[generated, "founded_on"].eq("").mean() > 0.25
    assert orgs["founded_on"].str[:4].eq("1900").sum() == 3
    t = {p.stem: read_text_table(p) for p in messy_world.glob("*.csv")}
    first = orgs["org_id"].map(_first_events(t)).fillna("")
    corrected = orgs["founded_on"].ne("") & first.ne("") & (orgs["founded_on"] > first)
    # Companies on the record at AS_OF whose founding date lies after it.
    day = AS_OF.isoformat()
    assert (corrected & after(orgs["founded_on"], day) & ~after(first, day)).sum() >= 1


def test_backtest_trains_inside_the_history_window(
    messy_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALENTMAP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TALENTMAP_TRAINING__MODEL__NUM_THREADS", "1")
    get_settings.cache_clear()
    try:
        args = ["backtest", "--data", str(messy_world), "--as-of", AS_OF.isoformat()]
        done = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    metrics = json.loads((tmp_path / "out" / METRICS_FILE).read_text())
    training = metrics["training"]
    dates = pd.to_datetime(training["as_of_dates"])
    last = pd.Timestamp("2019-06-30")  # AS_OF - 24 months
    assert dates.max() == last
    assert (
        dates.min()
        >= last - pd.DateOffset(years=training["history_years"])
        == pd.Timestamp("2011-06-30")
    )
    assert training["n_as_of_dates"] <= 8 * 4 + 1
    dropped = training["dropped_as_of_dates"]
    assert set(dropped["counts"]) == {"too_few_candidates", "too_few_positives"}
    assert sum(dropped["counts"].values()) == len(dropped["dates"])
    assert not set(dropped["dates"]) & set(training["as_of_dates"])
    assert training["age_fallback_rows"] > 0
    assert metrics["candidates"]["age_fallback"] > 0
    assert metrics["evaluation"]["available"] is True


def test_deleting_the_future_of_a_messy_world_leaves_predictions_identical(
    messy_world: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated"
    truncate_world(messy_world, truncated, AS_OF)
    cut = read_text_table(truncated / "organizations.csv")
    full = read_text_table(messy_world / "organizations.csv")
    cleared = full.set_index("org_id")["founded_on"].reindex(cut["org_id"]).ne("").to_numpy()
    # The copy did clear founding dates of companies already on the record at AS_OF.
    assert (cleared & cut["founded_on"].eq("").to_numpy()).sum() >= 1

    def settings(home: Path) -> Settings:
        return Settings(home=home, training=TrainingConfig(model=ModelConfig(num_threads=1)))

    a = run_backtest(settings(tmp_path / "a"), messy_world, AS_OF, None, tmp_path / "o1")
    b = run_backtest(settings(tmp_path / "b"), truncated, AS_OF, None, tmp_path / "o2")
    assert a.snapshot_id != b.snapshot_id
    assert len(a.predictions) > 50
    assert (tmp_path / "o1" / PREDICTIONS_FILE).read_bytes() == (
        tmp_path / "o2" / PREDICTIONS_FILE
    ).read_bytes()
    for key in ("rows", "as_of_dates", "dropped_as_of_dates", "age_fallback_rows"):
        assert a.metrics["training"][key] == b.metrics["training"][key], key
    assert a.metrics["candidates"]["age_fallback"] == b.metrics["candidates"]["age_fallback"]
