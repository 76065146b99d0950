"""The regional report's figures (issue 11 §5): dated events in their year, nothing after
the report's date, the privacy floor, JEI only from the data, foreign hubs.

On hand-made tables (exact figures), on a generated world and on a messy, long-history
Crunchbase-style export imported by the real importer.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from talentmap.contract import DATE_COLUMNS, to_typed
from talentmap.generate.world import generate_world
from talentmap.serving.report.aggregate import (
    INDICATOR_KEYS,
    NONE,
    NOT_IN_DATA,
    OK,
    SUPPRESSED,
    build_report,
    report_rows,
)
from talentmap.serving.report.render import render_csv, render_html
from talentmap.settings.report import ReportConfig
from talentmap.validate import validate_dataset

AS_OF = date(2024, 6, 30)
CONFIG = ReportConfig(min_group_size=3, years=4, top_k=4, max_hubs=3)


def _typed(tables: dict[str, dict[str, list]]) -> dict[str, pd.DataFrame]:
    return {name: to_typed(pd.DataFrame(cols, dtype=object), name) for name, cols in tables.items()}


def _orgs() -> dict[str, list]:
    ids = [f"oc{i}" for i in range(6)] + [f"br{i}" for i in range(2)]
    ids += [f"ld{i}" for i in range(4)] + [f"be{i}" for i in range(2)] + ["unk"]
    country = ["FR"] * 8 + ["GB"] * 4 + ["DE"] * 2 + [""]
    region = ["Occitanie"] * 6 + ["Bretagne"] * 2 + ["England"] * 4 + ["Berlin"] * 2 + [""]
    city = ["Toulouse"] * 6 + ["Rennes"] * 2 + ["London", "london ", "LONDON", "Londön"]
    city += ["Berlin"] * 2 + ["London"]
    return {
        "org_id": ids,
        "name": [f"Company {i}" for i in ids],
        "founded_on": ["2019-01-01"] * len(ids),
        "country": country,
        "region": region,
        "city": city,
    }


def _rounds(rows: list[tuple[str, str, str, str]]) -> dict[str, list]:
    return {
        "round_id": [f"r{i}" for i in range(len(rows))],
        "org_id": [r[0] for r in rows],
        "announced_on": [r[1] for r in rows],
        "round_type": [r[2] for r in rows],
        "amount_eur": [r[3] for r in rows],
    }


def _cells(report: dict, area: int, key: str) -> dict[int, dict]:
    return dict(zip(report["years"], report["areas"][area]["values"][key], strict=True))


def test_a_round_counts_in_the_year_it_is_dated_and_never_after_the_report_date() -> None:
    rounds = [(f"oc{i}", "2022-12-31", "seed", "100") for i in range(3)]
    rounds += [(f"oc{i}", "2023-01-01", "pre_seed", "") for i in range(3)]
    rounds += [("oc0", "2023-05-01", "series_a", "9000000")]  # not seed-stage
    rounds += [(f"oc{i}", "2024-07-01", "seed", "50") for i in range(4)]  # after AS_OF
    rounds += [(f"br{i}", "2022-03-01", "seed", "1") for i in range(2)]  # another region
    report = build_report(
        _typed({"organizations": _orgs(), "funding_rounds": _rounds(rounds)}),
        "Occitanie",
        AS_OF,
        CONFIG,
    )
    assert report["years"] == [2021, 2022, 2023, 2024] and report["partial_year"] == 2024
    seed = _cells(report, 0, "seed_rounds")
    assert seed[2022] == {"status": OK, "value": 3}
    assert seed[2023] == {"status": OK, "value": 3}
    assert seed[2024] == {"status": OK, "value": 0}  # July's rounds are after the report date
    amount = _cells(report, 0, "seed_amount_eur")
    assert amount[2022] == {"status": OK, "value": 300.0}
    assert amount[2023] == {"status": NONE}  # no known amount: no figure, not zero


def test_figures_over_fewer_than_the_minimum_group_are_suppressed_never_shown() -> None:
    rounds = [(f"oc{i}", "2023-02-01", "seed", "1234567") for i in range(2)]  # 2 companies
    rounds += [("oc0", "2023-03-01", "seed", "7654321")] * 1  # a third round, same company
    rounds += [(f"oc{i}", "2022-02-01", "seed", "10") for i in range(5)]
    tables = _typed({"organizations": _orgs(), "funding_rounds": _rounds(rounds)})
    report = build_report(tables, "Occitanie", AS_OF, CONFIG)
    seed = _cells(report, 0, "seed_rounds")
    # Three rounds but two companies: below the floor of 3.
    assert seed[2023] == {"status": SUPPRESSED}
    assert _cells(report, 0, "seed_amount_eur")[2023] == {"status": SUPPRESSED}
    assert seed[2022] == {"status": OK, "value": 5}
    # The suppressed amounts appear nowhere: not in the JSON, the CSV or the HTML.
    for text in (json.dumps(report), render_csv(report, "en"), render_html(report, "fr")):
        assert "1234567" not in text and "7654321" not in text and "8888888" not in text
    # A floor of 6 suppresses the five as well; the floor is a setting.
    higher = build_report(
        tables, "Occitanie", AS_OF, CONFIG.model_copy(update={"min_group_size": 6})
    )
    assert _cells(higher, 0, "seed_rounds")[2022] == {"status": SUPPRESSED}
    assert higher["min_group_size"] == 6


def test_jei_status_comes_only_from_the_data_and_only_while_it_is_held() -> None:
    tables = {"organizations": _orgs(), "funding_rounds": _rounds([])}
    # Every Occitanie company in the R&D programme "JEI" by name: not a JEI status.
    tables["programs"] = {
        "org_id": [f"oc{i}" for i in range(6)],
        "program_id": ["prg-jei"] * 6,
        "program_name": ["Jeune Entreprise Innovante (JEI)"] * 6,
        "program_kind": ["public_program"] * 6,
        "started_on": ["2021-01-01"] * 6,
    }
    report = build_report(_typed(tables), "Occitanie", AS_OF, CONFIG)
    assert report["jei_in_data"] is False
    assert all(c == {"status": NOT_IN_DATA} for c in report["areas"][0]["values"]["jei_companies"])
    assert _cells(report, 0, "program_companies")[2021] == {"status": OK, "value": 6}
    assert "JEI" in render_html(report, "en") and "not in this source" in render_html(report, "en")

    tables["jei_status"] = {
        "org_id": ["oc0", "oc1", "oc2", "oc3", "oc4"],
        "granted_on": ["2021-03-01", "2021-03-01", "2021-06-01", "2022-01-01", "2024-08-01"],
        # oc0 ended mid-2022; oc1's end is after the report date, so not yet known.
        "ended_on": ["2022-06-30", "2025-01-01", "", "", ""],
    }
    report = build_report(_typed(tables), "Occitanie", AS_OF, CONFIG)
    jei = _cells(report, 0, "jei_companies")
    assert jei[2021] == {"status": OK, "value": 3}
    assert jei[2022] == {"status": OK, "value": 4}
    assert jei[2023] == {"status": OK, "value": 3}  # oc1, oc2, oc3; oc4 is granted after
    # A foreign hub cannot hold a French status: not applicable, rather than zero.
    assert all(c == {"status": NONE} for c in report["areas"][1]["values"]["jei_companies"])


def test_foreign_hubs_group_a_city_across_spellings_and_leave_out_small_and_unknown() -> None:
    report = build_report(
        _typed({"organizations": _orgs(), "funding_rounds": _rounds([])}),
        "Occitanie",
        AS_OF,
        CONFIG,
    )
    areas = [(a["kind"], a["label"], a["organisations"]) for a in report["areas"]]
    # London, london, LONDON (and Londön, folded) are one hub; Berlin (2) is under the
    # floor of 3; the company of unknown country is nowhere; French companies are no hub.
    assert areas == [
        ("region", "Occitanie", {"status": OK, "value": 6}),
        ("hub", "London (GB)", {"status": OK, "value": 4}),
    ]
    assert report["areas"][1]["country"] == "GB"
    with pytest.raises(ValueError, match="18 official"):
        build_report(_typed({"organizations": _orgs()}), "Occitania", AS_OF, CONFIG)


def test_hiring_talent_and_top_k() -> None:
    o = [f"oc{i}" for i in range(6)]
    tables = {"organizations": _orgs(), "funding_rounds": _rounds([])}
    tables["headcount"] = {
        "org_id": o[:3] * 3 + ["oc5"],
        "observed_on": ["2022-03-01"] * 3
        + ["2022-11-01"] * 3
        + ["2023-10-01"] * 3
        + ["2023-01-01"],
        "headcount": ["1", "1", "1", "10", "10", "10", "15", "15", "15", "4"],
    }
    tables["job_postings"] = {"org_id": o, "posted_on": ["2023-05-05"] * 6}
    tables["people"] = {"person_id": [f"p{i}" for i in range(6)], "full_name": ["x"] * 6}
    tables["roles"] = {
        "person_id": [f"p{i}" for i in range(6)],
        "org_id": o,
        "role": ["founder"] * 5 + ["employee"],
        "started_on": ["2022-02-01"] * 4 + ["", "2022-02-01"],  # p4: the company's founding
    }
    tables["education"] = {
        "person_id": ["p0", "p1", "p2", "p3", "p4", "p5"],
        "institution": ["U"] * 6,
        "degree": ["phd", "phd", "phd", "phd", "phd", "phd"],
        # p3's doctorate comes after the founding year; p2's is undated; p5 is no founder.
        "graduated_on": ["2015-01-01", "2020-01-01", "", "2023-06-01", "2018-01-01", "2010-01-01"],
    }
    report = build_report(
        _typed(tables),
        "Occitanie",
        AS_OF,
        CONFIG,
        ranked=pd.DataFrame(
            {
                "org_id": ["ld0", "oc0", "oc1", "br0", "oc2", "oc3", "ld1", "oc4"],
                "country": ["GB", "FR", "FR", "FR", "FR", "FR", "GB", "FR"],
            }
        ),
    )
    growth = _cells(report, 0, "headcount_growth_pct")
    assert growth[2023] == {"status": OK, "value": 50.0}  # 30 -> 45 over the 3 seen both years
    assert growth[2022] == {"status": NONE}
    assert _cells(report, 0, "job_postings")[2023] == {"status": OK, "value": 6}
    phd = _cells(report, 0, "founders_phd")
    assert phd[2022] == {"status": OK, "value": 3}  # p0, p1, p2; not p3 (2023)
    assert _cells(report, 0, "founders_phd")[2021] == {"status": OK, "value": 0}
    # p4 has no start date: the company's founding (2019) dates the role, outside the years.
    top = report["areas"][0]["top_k"]
    # National top 4: oc0, oc1, br0, oc2 -> 3 of Occitanie; overall top 4: ld0 oc0 oc1 br0.
    assert top["national"] == {"status": OK, "value": 3, "share_pct": 75.0}
    assert top["overall"] == {"status": SUPPRESSED}
    assert report["areas"][1]["top_k"]["national"] == {"status": NONE}
    # Opted-out companies leave every figure.
    fewer = build_report(
        _typed(tables), "Occitanie", AS_OF, CONFIG, excluded_orgs=frozenset({"oc0", "oc1"})
    )
    assert _cells(fewer, 0, "job_postings")[2023] == {"status": OK, "value": 4}
    assert fewer["areas"][0]["organisations"] == {"status": OK, "value": 4}


# ----------------------------------------------------------------- point in time, at scale
def cut_at(tables: dict[str, pd.DataFrame], t: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The tables as they stood at ``t``: rows dated after it gone, later ends unknown."""
    events = {
        "funding_rounds": "announced_on",
        "job_postings": "posted_on",
        "headcount": "observed_on",
        "publications": "published_on",
        "programs": "started_on",
        "jei_status": "granted_on",
        "roles": "started_on",
        "education": "graduated_on",
    }
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        when = events.get(name)
        if when is not None and when in frame.columns:
            frame = frame[frame[when].isna() | (frame[when] <= t)]
        for column in DATE_COLUMNS.get(name, ()):
            if column != when and column in frame.columns and column.endswith("ended_on"):
                frame[column] = frame[column].where(frame[column] <= t)
        out[name] = frame
    return out


def assert_floor_holds(report: dict) -> None:
    floor = report["min_group_size"]
    for row in report_rows(report):
        assert row["status"] in (OK, SUPPRESSED, NOT_IN_DATA, NONE)
        if row["status"] != OK:
            assert row["value"] is None
    for area in report["areas"]:
        for key in ("seed_rounds", "jei_companies", "program_companies", "founders_phd"):
            for c in area["values"][key]:
                if c["status"] == OK:
                    assert c["value"] == 0 or c["value"] >= floor, (area["label"], key, c)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("world") / "world"
    generate_world(out, 1200, 5)
    report = validate_dataset(out)
    return report.tables


@pytest.mark.parametrize("t", ["2021-12-31", "2023-06-30"])
def test_a_generated_world_report_at_t_sees_nothing_after_t(
    generated: dict[str, pd.DataFrame], t: str
) -> None:
    when = pd.Timestamp(t)
    config = ReportConfig(years=6)
    full = build_report(generated, "Île-de-France", when.date(), config)
    cut = build_report(cut_at(generated, when), "Île-de-France", when.date(), config)
    assert full == cut
    assert_floor_holds(full)
    # The generator delivers JEI status; the region has figures, and hubs are abroad.
    assert full["jei_in_data"]
    jei = [c for c in full["areas"][0]["values"]["jei_companies"] if c["status"] == OK]
    assert jei and max(c["value"] for c in jei) >= config.min_group_size
    hubs = [a for a in full["areas"] if a["kind"] == "hub"]
    assert hubs and all(a["country"] != "FR" for a in hubs)
    labels = {a["label"] for a in hubs}
    assert "London (GB)" in labels


def test_a_later_event_changes_a_later_report(generated: dict[str, pd.DataFrame]) -> None:
    # The cut test could pass if the report ignored every date; this one fails then.
    early = build_report(generated, "Île-de-France", date(2021, 12, 31), ReportConfig(years=3))
    late = build_report(generated, "Île-de-France", date(2023, 12, 31), ReportConfig(years=5))
    early_2021 = early["areas"][0]["values"]["job_postings"][-1]
    late_2021 = late["areas"][0]["values"]["job_postings"][late["years"].index(2021)]
    assert early_2021 == late_2021  # the same year, seen later, is the same
    assert late["areas"][0]["values"]["job_postings"][-1] != early_2021


# ----------------------------------------------------------------- messy long history
@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    from fixtures.messy_crunchbase import build_source

    from talentmap.importers.common import ImportOptions
    from talentmap.importers.run import run_import

    root = tmp_path_factory.mktemp("messy")
    build_source(11, 1500, date(2025, 12, 31)).write(root / "export")
    run_import("crunchbase2013", ImportOptions(src=root / "export", out=root / "data"))
    report = validate_dataset(root / "data")
    return report.tables


def test_messy_history_reports_without_inventing_jei_and_without_the_future(
    messy: dict[str, pd.DataFrame],
) -> None:
    assert "jei_status" not in messy  # the importer has no JEI status to give
    config = ReportConfig(years=10)
    t = pd.Timestamp("2019-12-31")
    full = build_report(messy, "Île-de-France", t.date(), config)
    assert full == build_report(cut_at(messy, t), "Île-de-France", t.date(), config)
    assert_floor_holds(full)
    assert not full["jei_in_data"]
    for area in full["areas"]:
        assert all(c["status"] in (NOT_IN_DATA, NONE) for c in area["values"]["jei_companies"])
    region = full["areas"][0]["values"]
    assert any(c["status"] == OK and c["value"] > 0 for c in region["seed_rounds"])
    # Long history: the companies founded in 1900 and the blank countries break nothing,
    # and the foreign companies form hubs.
    assert any(a["kind"] == "hub" for a in full["areas"])
    csv_rows = render_csv(full, "fr").splitlines()
    assert len(csv_rows) == 1 + len(report_rows(full))
    assert set(INDICATOR_KEYS) <= {r.split(",")[2] for r in csv_rows[1:]}


def test_csv_headers_are_translated(generated: dict[str, pd.DataFrame]) -> None:
    report = build_report(generated, "Occitanie", date(2024, 12, 31), ReportConfig(years=2))
    fr = render_csv(report, "fr").splitlines()[0]
    en = render_csv(report, "en").splitlines()[0]
    assert fr.startswith("Zone,Type de zone") and en.startswith("Area,Area kind")


def test_source_text_is_escaped_in_the_html_and_neutralised_in_the_csv() -> None:
    orgs = _orgs()
    orgs["city"] = orgs["city"][:8] + ["=HYPERLINK(1)"] * 4 + ["<b>x</b>"] * 2 + [""]
    orgs["country"] = [*orgs["country"][:12], "GB", "GB", ""]
    report = build_report(
        _typed({"organizations": orgs, "funding_rounds": _rounds([])}),
        "Occitanie",
        AS_OF,
        CONFIG.model_copy(update={"min_group_size": 2}),
    )
    labels = [a["label"] for a in report["areas"]]
    assert "=HYPERLINK(1) (GB)" in labels and "<b>x</b> (GB)" in labels
    html = render_html(report, "en")
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt; (GB)" in html
    cells = [line.split(",")[0] for line in render_csv(report, "en").splitlines()[1:]]
    assert "'=HYPERLINK(1) (GB)" in cells and "=HYPERLINK(1) (GB)" not in cells
