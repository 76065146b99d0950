"""Real data, first-class (issue 13 §2 and §5): a messy Crunchbase 2013 export, end to end.

The export is made by ``tests/fixtures/messy_crunchbase.py`` from a generated world (so
there is signal and there are positives), in the real source's files and columns, with
the mess of a real export: blank and unknown countries, a tail of companies back to 1900,
founding dates after the first rounds, after the closing and after the export date,
duplicates, orphans, late listings, and snapshot-time fields describing the export date.
Every step runs through the ``talentmap`` command in its own process, with
``TALENTMAP_HOME`` in a temporary folder (lake, Feast, MLflow and all):

- ``import crunchbase2013`` → ``validate`` → ``backtest`` → ``retrain``, without help;
- snapshot honesty: the same source as it stood at an earlier date d (rows after d gone,
  statuses and totals recomputed for d) and as exported later give byte-identical
  predictions at d, and identical features for every company ranked at d.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from fixtures.messy_crunchbase import CrunchbaseSource, build_source

from talentmap.features.asof_reference import asof_join_duckdb
from talentmap.settings import Settings
from talentmap.training.tracking.target import activate, resolve_target

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ORGS, SEED = 3000, 7
EXPORT = date(2025, 12, 31)
BACKTEST_AS_OF = date(2023, 6, 30)  # its 24-month label window closes on the export date
# The earlier export: its label windows of training rows close by d, 8 years of them.
EARLIER = date(2021, 6, 30)
TALENTMAP = Path(sys.executable).parent / "talentmap"
# Fields of the 2013 snapshot that describe the export date (data/importers/crunchbase2013.md).
SNAPSHOT_FIELDS = {
    "status",
    "funding_total_usd",
    "funding_rounds",
    "first_funding_at",
    "last_funding_at",
    "investment_rounds",
    "invested_companies",
    "milestones",
    "relationships",
    "updated_at",
    "is_first_round",
    "is_last_round",
    "is_past",
    "affiliation_name",
}
# Source table -> the contract table its mapped rows become.
MAPPED_TO = {
    "objects": "organizations",
    "funding_rounds": "funding_rounds",
    "investments": "investments",
    "people": "people",
    "relationships": "roles",
    "degrees": "education",
}


def talentmap(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed command as a user would, everything stored under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALENTMAP_")}
    env.update(
        TALENTMAP_HOME=str(home),
        # One thread: faster on a busy 2-core machine for small data, and deterministic.
        TALENTMAP_TRAINING__MODEL__NUM_THREADS="1",
        COLUMNS="200",
        NO_COLOR="1",
    )
    return subprocess.run(
        [str(TALENTMAP), *args], cwd=home, env=env, capture_output=True, text=True, timeout=1200
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def rows(path: Path) -> int:
    return len(pd.read_csv(path, dtype=str, keep_default_na=False))


@pytest.fixture(scope="module")
def source() -> CrunchbaseSource:
    return build_source(SEED, ORGS, EXPORT)


@pytest.fixture(scope="module")
def export_dir(source: CrunchbaseSource, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "crunchbase-2013"
    source.write(out)
    return out


@pytest.fixture(scope="module")
def imported(export_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("imported")
    ok(talentmap(root / "home", "import", "crunchbase2013", str(export_dir), "--out", "data"))
    return root / "home" / "data"


def test_the_export_is_really_messy(source: CrunchbaseSource, export_dir: Path) -> None:
    objects = pd.read_csv(export_dir / "cb_objects.csv", dtype=str, keep_default_na=False)
    companies = objects[objects["entity_type"].eq("Company")]
    assert companies.loc[companies["founded_at"].ne(""), "founded_at"].min() == "1900-01-01"
    old = companies["founded_at"].between("1900", "2000")
    assert 100 <= old.sum() <= 300  # one to three a year: a sparse tail
    assert 0.10 <= companies["country_code"].eq("").mean() <= 0.20
    assert (companies["founded_at"] > EXPORT.isoformat()).sum() == 2
    assert set(companies["status"]) == {"operating", "acquired", "ipo", "closed"}
    assert objects.duplicated().sum() == source.notes["objects.duplicates"] > 0
    assert source.notes["objects.serial_founders_earlier_venture_listed_late"] > 0
    stamps = pd.concat([objects["created_at"], objects["updated_at"]]).str[:10]
    assert stamps.max() == EXPORT.isoformat()


def test_an_export_goes_from_import_to_a_promoted_champion(
    source: CrunchbaseSource, export_dir: Path, imported: Path, tmp_path: Path
) -> None:
    # The import report accounts for every source row and every written row.
    report = json.loads((imported / "import_report.json").read_text())
    assert report["consistent"] and report["snapshot_date"] == EXPORT.isoformat()
    tables = report["tables"]
    for name, table in tables.items():
        assert table["read"] == rows(export_dir / f"cb_{name}.csv"), name
        assert table["read"] == table["mapped"] + table["dropped"], name
        assert sum(table["drop_reasons"].values()) == table["dropped"], name
    written = {p.stem: rows(p) for p in imported.glob("*.csv")}
    assert report["written"] == written
    for name, contract in MAPPED_TO.items():
        assert tables[name]["mapped"] == written[contract], name
    assert tables["acquisitions"]["mapped"] + tables["ipos"]["mapped"] == written["exits"]
    assert tables["milestones"]["mapped"] == 0
    for name in ("objects", "funding_rounds", "investments", "relationships"):
        duplicates = tables[name]["drop_reasons"]["exact duplicate row"]
        assert duplicates == source.notes[f"{name}.duplicates"], name
    rounds = tables["funding_rounds"]
    assert rounds["drop_reasons"]["org_id: absent from organizations"] == 2
    assert rounds["kept_as_is"]  # rounds dated before their company's founding date
    repairs = tables["objects"]["repair_reasons"]
    assert repairs["country_code: unknown country code left unknown"] > 0
    assert repairs["country, region and city taken from the company's first office"] > 0
    # What the validator still sees is what the repair policy mends: two founding dates
    # after the export date, four after the closing date.
    assert report["validation"]["problems_by_rule"] == {"after_snapshot": 2, "date_order": 4}
    for path in imported.glob("*.csv"):
        header = set(pd.read_csv(path, nrows=0).columns)
        assert not header & SNAPSHOT_FIELDS, path.name

    home = tmp_path / "home"
    assert "ingest would accept it" in " ".join(
        ok(talentmap(home, "validate", str(imported))).split()
    )

    out = tmp_path / "backtest"
    args = ["--data", str(imported), "--as-of", BACKTEST_AS_OF.isoformat(), "--out", str(out)]
    printed = ok(talentmap(home, "backtest", *args))
    assert "LightGBM model" in printed and "logistic regression" in printed
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) > 100
    assert predictions["rank"].tolist() == list(range(1, len(predictions) + 1))
    metrics = json.loads((out / "metrics.json").read_text())
    training = metrics["training"]
    dates = pd.to_datetime(training["as_of_dates"])
    last = pd.Timestamp(BACKTEST_AS_OF) - pd.DateOffset(months=24)
    # The export reaches back to 1900; the history window bounds the training dates.
    assert dates.max() == last
    assert dates.min() >= last - pd.DateOffset(years=training["history_years"])
    dropped = training["dropped_as_of_dates"]
    assert set(dropped["counts"]) == {"too_few_candidates", "too_few_positives"}
    assert sum(dropped["counts"].values()) == len(dropped["dates"])
    assert training["age_fallback_rows"] > 0 and metrics["candidates"]["age_fallback"] > 0
    evaluation = metrics["evaluation"]
    assert evaluation["available"] and evaluation["n_positive"] > 20
    scorers = evaluation["scorers"]
    print(
        f"\nbacktest at {BACKTEST_AS_OF}: {evaluation['n']} candidates, "
        f"base rate {evaluation['base_rate']:.3f}"
    )
    for name, scores in scorers.items():
        print(
            f"  {name:20} AUC-ROC {scores['auc_roc']:.3f}  AUC-PR {scores['auc_pr']:.3f}  "
            f"precision@100 {scores['precision@100']:.3f}  lift@100 {scores['lift@100']:.2f}"
        )
    # Signal survives the conversion and the mess: the model ranks better than chance.
    assert scorers["model"]["auc_pr"] > evaluation["base_rate"]

    # Captured, as cron would: the verdict is the last JSON line on stderr.
    done = talentmap(home, "retrain", "--data", str(imported))
    ok(done)
    verdict = json.loads(done.stderr.strip().splitlines()[-1])
    assert verdict["step"] == "retrain" and verdict["promoted"] is True, verdict
    settings = Settings(home=home)
    target = resolve_target(settings)
    with activate(target) as client:
        champion = client.get_model_version_by_alias(target.registered_model, "champion")
    assert str(champion.version) == "1"


def test_an_earlier_export_and_the_later_one_agree_at_its_date(
    source: CrunchbaseSource, export_dir: Path, imported: Path, tmp_path: Path
) -> None:
    earlier_src = tmp_path / "crunchbase-2013-then"
    source.write(earlier_src, stood_at=EARLIER)
    ok(talentmap(tmp_path, "import", "crunchbase2013", str(earlier_src), "--out", "then"))
    then = tmp_path / "then"
    assert json.loads((then / "dataset.json").read_text())["snapshot_date"] == EARLIER.isoformat()
    # The two sources disagree about the same companies: the later export's statuses and
    # totals describe its own date, a future the earlier one cannot know.
    then_objects, now_objects = (
        pd.read_csv(path / "cb_objects.csv", dtype=str, keep_default_na=False)
        .drop_duplicates("id")
        .set_index("id")
        for path in (earlier_src, export_dir)
    )
    shared = then_objects.index.intersection(now_objects.index)
    assert len(shared) < len(now_objects)
    for field in ("status", "funding_total_usd", "last_funding_at", "updated_at"):
        changed = then_objects.loc[shared, field] != now_objects.loc[shared, field]
        assert changed.sum() > 0, field

    outputs = {}
    for name, data in (("then", then), ("now", imported)):
        home = tmp_path / f"home-{name}"
        out = tmp_path / f"backtest-{name}"
        args = ["--data", str(data), "--as-of", EARLIER.isoformat(), "--out", str(out)]
        ok(talentmap(home, "backtest", *args))
        outputs[name] = (home, out)
    (home_then, out_then), (home_now, out_now) = outputs["then"], outputs["now"]
    predictions = (out_then / "predictions.csv").read_bytes()
    assert len(predictions.splitlines()) > 100
    assert predictions == (out_now / "predictions.csv").read_bytes()
    a = json.loads((out_then / "metrics.json").read_text())["training"]
    b = json.loads((out_now / "metrics.json").read_text())["training"]
    for key in ("rows", "positives", "as_of_dates", "dropped_as_of_dates", "age_fallback_rows"):
        assert a[key] == b[key], key

    # Stronger than the ranking (a model may ignore a leaked feature): every feature of
    # every company ranked at d, at d and at every training date, is the same in both.
    ranked = pd.read_csv(out_then / "predictions.csv")["org_id"]
    when = pd.to_datetime([*a["as_of_dates"], EARLIER.isoformat()])
    entity = pd.MultiIndex.from_product([ranked, when], names=["org_id", "as_of"]).to_frame(
        index=False
    )
    features = {
        home: asof_join_duckdb(entity, Settings(home=home).feature_tables_dir)
        for home in (home_then, home_now)
    }
    pd.testing.assert_frame_equal(features[home_then], features[home_now])
