"""The contract as encoded: names, enumerations, regions and the typed convention."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from talentmap import contract
from talentmap.contract_parse import Kind, parse_array
from talentmap.contract_sample import sample_tables

ISSUE_COLUMNS = {
    "organizations": [
        "org_id",
        "name",
        "founded_on",
        "closed_on",
        "first_seen_on",
        "country",
        "region",
        "city",
        "sector",
    ],
    "people": ["person_id", "full_name", "gender", "birth_year"],
    "roles": ["person_id", "org_id", "role", "title", "started_on", "ended_on"],
    "education": ["person_id", "institution", "degree", "graduated_on"],
    "funding_rounds": [
        "round_id",
        "org_id",
        "announced_on",
        "round_type",
        "amount_eur",
        "n_investors",
    ],
    "investments": ["round_id", "investor_id", "investor_name", "investor_kind", "is_lead"],
    "programs": ["org_id", "program_id", "program_name", "program_kind", "started_on", "ended_on"],
    "publications": ["pub_id", "person_id", "org_id", "published_on", "kind", "venue"],
    "headcount": ["org_id", "observed_on", "headcount"],
    "job_postings": ["org_id", "posted_on", "category"],
    "exits": ["org_id", "exit_kind", "exited_on", "amount_eur"],
    "opt_outs": ["subject_kind", "subject_id", "since"],
    # issue 11: the JEI status, dated and optional
    "jei_status": ["org_id", "granted_on", "ended_on"],
}

CONVENTION_DATES = {
    "founded_on",
    "closed_on",
    "first_seen_on",
    "started_on",
    "ended_on",
    "graduated_on",
    "announced_on",
    "published_on",
    "observed_on",
    "posted_on",
    "exited_on",
    "since",
    "granted_on",
}


def test_tables_and_columns_are_exactly_the_issues() -> None:
    assert list(contract.TABLES) == list(ISSUE_COLUMNS)
    assert contract.REQUIRED_TABLES == ("organizations", "funding_rounds")
    for table, names in ISSUE_COLUMNS.items():
        assert list(contract.schema(table).columns) == names, table


def test_optional_and_required_columns_follow_the_issue() -> None:
    optional = {
        (s.table, s.name) for t in contract.TABLES for s in contract.columns(t) if not s.required
    }
    assert ("organizations", "first_seen_on") in optional
    assert ("funding_rounds", "amount_eur") in optional
    assert ("publications", "person_id") in optional and ("publications", "org_id") in optional
    assert ("funding_rounds", "announced_on") not in optional
    assert ("headcount", "headcount") not in optional
    assert ("programs", "started_on") not in optional
    assert contract.UNIQUE_COLUMNS["organizations"] == ("org_id",)
    assert contract.UNIQUE_COLUMNS["publications"] == ("pub_id",)
    assert contract.UNIQUE_COLUMNS["roles"] == ()


def test_enumerations() -> None:
    assert contract.ROUND_TYPES == (
        "pre_seed",
        "seed",
        "angel",
        "series_a",
        "series_b",
        "series_c_plus",
        "venture_unknown",
        "grant",
        "debt",
        "crowdfunding",
        "other",
    )
    assert contract.ROLE_KINDS == ("founder", "executive", "employee", "advisor", "board")
    assert contract.DEGREES == ("bachelor", "master", "engineer", "phd", "mba", "other")
    assert contract.INVESTOR_KINDS == ("vc", "angel", "corporate", "public", "accelerator", "other")
    assert contract.PROGRAM_KINDS == ("incubator", "accelerator", "public_program", "competition")
    assert contract.PUBLICATION_KINDS == ("paper", "preprint", "patent", "software")
    assert contract.EXIT_KINDS == ("acquired", "ipo")
    assert contract.GENDERS == ("F", "M", "X")
    assert contract.SUBJECT_KINDS == ("person", "org")
    by_column = {(s.table, s.name): s.values for t in contract.TABLES for s in contract.columns(t)}
    assert by_column[("funding_rounds", "round_type")] == contract.ROUND_TYPES
    assert by_column[("opt_outs", "subject_kind")] == contract.SUBJECT_KINDS


def test_the_eighteen_french_regions_with_insee_codes() -> None:
    assert len(contract.FR_REGIONS) == 18
    assert contract.FR_REGIONS["Île-de-France"] == "11"
    assert contract.FR_REGIONS["Provence-Alpes-Côte d'Azur"] == "93"
    assert contract.FR_REGIONS["Mayotte"] == "06"
    assert len(set(contract.FR_REGIONS.values())) == 18
    overseas = {name for name, code in contract.FR_REGIONS.items() if code.startswith("0")}
    assert overseas == contract.FR_OVERSEAS_REGIONS


def test_countries_are_iso_alpha2() -> None:
    assert len(contract.COUNTRIES) == 249
    assert {"FR", "DE", "US", "GB", "RE"} <= contract.COUNTRIES
    assert "UK" not in contract.COUNTRIES and "fr" not in contract.COUNTRIES


def test_date_columns_are_the_conventions() -> None:
    found = {name for names in contract.DATE_COLUMNS.values() for name in names}
    assert found == CONVENTION_DATES
    assert contract.DATE_COLUMNS["organizations"] == ("founded_on", "closed_on", "first_seen_on")


def test_to_typed_gives_the_shared_dtypes() -> None:
    special = {
        "amount_eur": "float64",
        "n_investors": "Int64",
        "headcount": "Int64",
        "birth_year": "Int64",
        "is_lead": "boolean",
    }
    for table, raw in sample_tables().items():
        typed = contract.to_typed(raw, table)
        for name in typed.columns:
            expected = "datetime64[ns]" if name in CONVENTION_DATES else special.get(name, "object")
            assert str(typed[name].dtype) == expected, (table, name)
        assert contract.to_typed(typed, table).equals(typed)
    orgs = contract.to_typed(sample_tables()["organizations"], "organizations")
    assert orgs["region"].iloc[3] is None  # empty text is missing, not ""
    assert isinstance(orgs["org_id"].iloc[0], str)
    assert orgs["founded_on"].iloc[0] == pd.Timestamp("2018-03-01")


def test_to_typed_refuses_unreadable_values() -> None:
    raw = sample_tables()["funding_rounds"]
    raw.loc[0, "amount_eur"] = "1,5 M€"
    with pytest.raises(ValueError, match=r"funding_rounds\.amount_eur.*1,5 M€"):
        contract.to_typed(raw, "funding_rounds")


def test_ensure_columns_adds_only_what_is_asked() -> None:
    orgs = sample_tables()["organizations"].drop(columns=["first_seen_on", "sector"])
    typed = contract.ensure_columns(
        contract.to_typed(orgs, "organizations"), "organizations", ["sector"]
    )
    assert "sector" in typed.columns and "first_seen_on" not in typed.columns
    assert typed["sector"].isna().all()


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2020-02-29", True),
        ("2021-02-29", False),
        ("2020-02-30", False),
        ("2020-1-5", False),
        ("05/01/2020", False),
        ("2020-01-05T00:00", False),
        ("1799-12-31", False),
    ],
)
def test_dates_are_strict_iso(text: str, ok: bool) -> None:
    parsed = parse_array(pa.array([text, ""]), Kind.DATE)
    assert parsed.n_bad == (0 if ok else 1)
    assert pd.isna(parsed.values.iloc[1])
    if not ok:
        assert parsed.bad_values == [text]


def test_numbers_integers_and_booleans_from_text() -> None:
    amounts = parse_array(pa.array(["1e6", "2.5", "", "abc", "inf"]), Kind.AMOUNT)
    assert amounts.values.iloc[0] == 1e6 and amounts.values.iloc[1] == 2.5
    assert list(amounts.bad_positions) == [3, 4]
    counts = parse_array(pa.array(["3", "3.0", "2.5", "-1", ""]), Kind.COUNT)
    assert list(counts.bad_positions) == [2]
    assert counts.values.iloc[1] == 3 and counts.values.iloc[3] == -1
    assert str(counts.values.dtype) == "Int64" and counts.values.isna().iloc[4]
    flags = parse_array(pa.array(["true", "False", "1", "no", "maybe", ""]), Kind.BOOL)
    assert flags.values.iloc[:4].tolist() == [True, False, True, False]
    assert flags.bad_values == ["maybe"]


def test_native_parquet_types_are_accepted() -> None:
    stamps = pa.array(
        [pd.Timestamp("2021-03-04 23:30", tz="UTC"), None], type=pa.timestamp("us", tz="UTC")
    )
    dates = parse_array(stamps, Kind.DATE)
    assert dates.n_bad == 0 and dates.values.iloc[0] == pd.Timestamp("2021-03-04")
    assert str(dates.values.dtype) == "datetime64[ns]"
    counts = parse_array(pa.array([3.0, np.nan, 2.5]), Kind.COUNT)
    assert counts.bad_values == ["2.5"] and counts.values.iloc[0] == 3
    ids = parse_array(pa.array([12, 13]), Kind.ID)
    assert ids.values.tolist() == ["12", "13"]
    flags = parse_array(pa.array([1, 0, 2]), Kind.BOOL)
    assert flags.values.iloc[:2].tolist() == [True, False] and flags.bad_values == ["2"]


# Written out by hand, on purpose: the validation tests are generated from the contract's
# own lists, so a rule deleted or renamed there would take its test away with it. These
# follow data/CONTRACT.md ("References" and the column tables).
REFERENCES = [
    ("roles", "person_id", "people", "person_id", None),
    ("roles", "org_id", "organizations", "org_id", None),
    ("education", "person_id", "people", "person_id", None),
    ("funding_rounds", "org_id", "organizations", "org_id", None),
    ("investments", "round_id", "funding_rounds", "round_id", None),
    ("programs", "org_id", "organizations", "org_id", None),
    ("publications", "person_id", "people", "person_id", None),
    ("publications", "org_id", "organizations", "org_id", None),
    ("headcount", "org_id", "organizations", "org_id", None),
    ("job_postings", "org_id", "organizations", "org_id", None),
    ("exits", "org_id", "organizations", "org_id", None),
    ("jei_status", "org_id", "organizations", "org_id", None),
    ("opt_outs", "subject_id", "people", "person_id", ("subject_kind", "person")),
    ("opt_outs", "subject_id", "organizations", "org_id", ("subject_kind", "org")),
]
ROW_RULES = {
    ("organizations", "fr_region", "region"),
    ("organizations", "date_order", "founded_on"),
    ("roles", "date_order", "started_on"),
    ("programs", "date_order", "ended_on"),
    ("jei_status", "date_order", "ended_on"),
    ("publications", "publication_subject", "person_id/org_id"),
}
COLUMN_RULES = {
    ("organizations", "org_id"): {"required_value", "unique"},
    ("organizations", "name"): {"required_value"},
    ("organizations", "country"): {"country"},
    ("people", "person_id"): {"required_value", "unique"},
    ("people", "full_name"): {"required_value"},
    ("people", "gender"): {"enum"},
    ("people", "birth_year"): {"range"},
    ("roles", "person_id"): {"required_value"},
    ("roles", "org_id"): {"required_value"},
    ("roles", "role"): {"required_value", "enum"},
    ("education", "person_id"): {"required_value"},
    ("education", "institution"): {"required_value"},
    ("education", "degree"): {"required_value", "enum"},
    ("funding_rounds", "round_id"): {"required_value", "unique"},
    ("funding_rounds", "org_id"): {"required_value"},
    ("funding_rounds", "announced_on"): {"required_value"},
    ("funding_rounds", "round_type"): {"required_value", "enum"},
    ("funding_rounds", "amount_eur"): {"non_negative"},
    ("funding_rounds", "n_investors"): {"non_negative"},
    ("investments", "round_id"): {"required_value"},
    ("investments", "investor_id"): {"required_value"},
    ("investments", "investor_kind"): {"enum"},
    ("programs", "org_id"): {"required_value"},
    ("programs", "program_id"): {"required_value"},
    ("programs", "program_kind"): {"required_value", "enum"},
    ("programs", "started_on"): {"required_value"},
    ("publications", "pub_id"): {"required_value", "unique"},
    ("publications", "published_on"): {"required_value"},
    ("publications", "kind"): {"required_value", "enum"},
    ("headcount", "org_id"): {"required_value"},
    ("headcount", "observed_on"): {"required_value"},
    ("headcount", "headcount"): {"required_value", "non_negative"},
    ("job_postings", "org_id"): {"required_value"},
    ("job_postings", "posted_on"): {"required_value"},
    ("exits", "org_id"): {"required_value"},
    ("exits", "exit_kind"): {"required_value", "enum"},
    ("exits", "exited_on"): {"required_value"},
    ("exits", "amount_eur"): {"non_negative"},
    ("opt_outs", "subject_kind"): {"required_value", "enum"},
    ("opt_outs", "subject_id"): {"required_value"},
    ("opt_outs", "since"): {"required_value"},
    ("jei_status", "org_id"): {"required_value"},
    ("jei_status", "granted_on"): {"required_value"},
}


def test_referential_integrity_rules_are_exactly_the_documented_ones() -> None:
    found = [(k.table, k.column, k.parent, k.parent_column, k.when) for k in contract.FOREIGN_KEYS]
    assert sorted(found, key=repr) == sorted(REFERENCES, key=repr)  # sorted: duplicates count
    assert contract.ANY_OF_COLUMNS == {"publications": ("person_id", "org_id")}


def test_row_and_column_rules_are_exactly_the_documented_ones() -> None:
    rows = [(t, r.name, r.column) for t, rules in contract.ROW_RULES.items() for r in rules]
    assert sorted(rows) == sorted(ROW_RULES)
    for table in contract.TABLES:  # each row rule is a check of its table's schema
        checks = [check.name for check in contract.schema(table).checks]
        assert sorted(checks) == sorted(name for t, name, _ in ROW_RULES if t == table), table
    columns: dict[tuple[str, str], set[str]] = {}
    for table in contract.TABLES:
        for name, column in contract.schema(table).columns.items():
            rules = {check.name for check in column.checks}
            rules |= {"required_value"} if not column.nullable else set()
            rules |= {"unique"} if column.unique else set()
            if rules:
                columns[(table, name)] = rules
    assert columns == COLUMN_RULES
    named = {rule for rules in COLUMN_RULES.values() for rule in rules}
    named |= {name for _, name, _ in ROW_RULES} | {"foreign_key"}
    assert named <= set(contract.RULES)  # every rule the contract applies is explained


def test_unknown_values_are_one_spelling_null() -> None:
    # Empty, blank or ZZ (ISO's "unknown" code) for a country: all parse to missing.
    countries = parse_array(pa.array(["FR", "", "  ", "ZZ", None, "zz"]), Kind.COUNTRY)
    assert countries.n_bad == 0
    assert countries.values.tolist() == ["FR", None, None, None, None, "zz"]
    # ZZ means unknown only for a country; a blank date is unknown, not unreadable.
    assert parse_array(pa.array(["ZZ"]), Kind.TEXT).values.tolist() == ["ZZ"]
    dates = parse_array(pa.array([" ", "2020-01-01"]), Kind.DATE)
    assert dates.n_bad == 0 and pd.isna(dates.values.iloc[0])
    orgs = sample_tables()["organizations"]
    orgs.loc[0, "country"], orgs.loc[1, "region"] = "ZZ", " "
    typed = contract.to_typed(orgs, "organizations")
    assert typed["country"].iloc[0] is None and typed["region"].iloc[1] is None
    assert contract.to_typed(typed, "organizations").equals(typed)


def test_unknown_country_region_city_sector_and_founding_date_are_optional() -> None:
    optional = {s.name for s in contract.columns("organizations") if not s.required}
    assert {"country", "region", "city", "sector", "founded_on"} <= optional
    assert contract.required_columns("organizations") == ("org_id", "name")
