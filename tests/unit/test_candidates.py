"""Candidate selection (training issue §1) and the visibility rule (issue 6), on tiny
hand-built worlds where each organisation sits on exactly one rule boundary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from fixtures.toy_world import messy_founding_dates, random_world

from talentmap.features.pit_check import alter_after, truncate_after
from talentmap.settings.training import PromiseRules, TrainingConfig
from talentmap.training.pipeline.candidates import (
    EXCLUSION_REASONS,
    STATUSES,
    candidate_status,
    candidates,
    exclusion_counts,
    first_visible_on,
    visible_on,
)

T = pd.Timestamp("2020-06-30")
DAY = pd.Timedelta(days=1)
EARLY = T - pd.Timedelta(days=400)  # a date comfortably inside the 5-year window

DATE_COLUMNS = {
    "founded_on",
    "closed_on",
    "first_seen_on",
    "announced_on",
    "started_on",
    "observed_on",
    "posted_on",
    "published_on",
    "exited_on",
    "since",
}


def typed(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A table in the typed-table convention (dates datetime64[ns], ids object)."""
    frame = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if column in DATE_COLUMNS:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        elif column == "amount_eur":
            frame[column] = frame[column].astype("float64")
        else:
            frame[column] = frame[column].astype(object)
    return frame


def org(org_id: str, founded_on: Any = None, closed_on: Any = None, **extra: Any) -> dict:
    return {
        "org_id": org_id,
        "name": org_id.upper(),
        "founded_on": founded_on,
        "closed_on": closed_on,
        "country": "FR",
        **extra,
    }


def rnd(org_id: str, on: Any, round_type: str = "seed", amount: float | None = 500_000.0) -> dict:
    return {
        "round_id": f"{org_id}-{pd.Timestamp(on).date()}-{round_type}",
        "org_id": org_id,
        "announced_on": on,
        "round_type": round_type,
        "amount_eur": amount,
    }


def world(
    orgs: list[dict],
    rounds: list[dict] | None = None,
    first_seen: bool = False,
    **optional: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    org_columns = ["org_id", "name", "founded_on", "closed_on", "country"]
    if first_seen:
        org_columns.append("first_seen_on")
    round_columns = ["round_id", "org_id", "announced_on", "round_type", "amount_eur"]
    return {
        "organizations": typed(orgs, org_columns),
        "funding_rounds": typed(rounds or [], round_columns),
        **optional,
    }


def status_at(tables: dict[str, pd.DataFrame], rules: PromiseRules | None = None) -> dict:
    frame = candidate_status(tables, T, rules)
    return dict(zip(frame["org_id"], frame["status"].astype(str), strict=True))


# --- the defaults -------------------------------------------------------------------


def test_defaults_follow_the_issues() -> None:
    rules = TrainingConfig().rules
    assert rules.max_age_years == 5
    assert rules.horizon_months == 24
    assert rules.milestone_round_types == ("series_a", "series_b", "series_c_plus")
    assert rules.large_round_eur == 5_000_000
    assert set(rules.exit_kinds) == {"acquired", "ipo"}
    assert rules.require_visibility is True
    assert all(f.description for f in PromiseRules.model_fields.values())


def test_rules_reject_unknown_round_types_and_are_frozen() -> None:
    with pytest.raises(ValueError):
        PromiseRules(milestone_round_types=("series_z",))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PromiseRules().horizon_months = 12  # type: ignore[misc]


# --- age ----------------------------------------------------------------------------


def test_age_window_is_open_at_five_years_and_closed_at_t() -> None:
    five_years_before = pd.Timestamp("2015-06-30")
    tables = world(
        [
            org("exactly_5y", five_years_before),
            org("just_inside", five_years_before + DAY),
            org("founded_on_t", T),
            org("founded_after_t", T + DAY),
        ],
        [rnd(o, EARLY) for o in ("exactly_5y", "just_inside", "founded_on_t")],
    )
    # founded_on_t's round predates its founding date, as back-filled sources do; it still
    # makes it visible, which isolates the age rule.
    assert status_at(tables) == {
        "exactly_5y": "too_old",
        "just_inside": "candidate",
        "founded_on_t": "candidate",
        "founded_after_t": "not_yet_founded",
    }


def test_unknown_founding_date_falls_back_on_the_first_round() -> None:
    tables = world(
        [org("first_inside"), org("first_outside"), org("first_after_t"), org("no_round")],
        [
            rnd("first_inside", "2016-01-01"),
            rnd("first_outside", "2015-06-30"),  # exactly 5 years before t: out
            rnd("first_outside", "2019-01-01"),  # a later round inside does not rescue it
            rnd("first_after_t", T + DAY),
        ],
    )
    assert status_at(tables) == {
        "first_inside": "candidate",
        "first_outside": "too_old",
        "first_after_t": "age_unknown",
        "no_round": "age_unknown",
    }


def test_founding_date_after_t_is_unknown_for_a_company_already_on_record() -> None:
    # Issue 13: real exports hold rounds dated before a founding date corrected later.
    postings = typed([{"org_id": "posted", "posted_on": "2019-02-01"}], ["org_id", "posted_on"])
    tables = world(
        [
            org("raised", T + DAY),  # raised before its (later corrected) founding date
            org("posted", T + DAY),  # a job posting before it, no round at all
            org("silent", T + DAY),  # nothing on record by t: simply not founded yet
            org("old_round", T + DAY),  # on record by t, but its first round is too old
        ],
        [rnd("raised", EARLY), rnd("old_round", "2015-06-30")],
        job_postings=postings,
    )
    assert status_at(tables) == {
        "raised": "candidate",
        "posted": "candidate",
        "silent": "not_yet_founded",
        "old_round": "too_old",
    }
    frame = candidate_status(tables, T)
    assert dict(zip(frame["org_id"], frame["age_fallback"], strict=True)) == {
        "raised": True,
        "posted": True,
        "silent": False,
        "old_round": True,
    }
    # Without the fallback the age of a company on record is unknown until its founding.
    off = status_at(tables, PromiseRules(age_fallback=False))
    assert off == {
        "raised": "age_unknown",
        "posted": "age_unknown",
        "silent": "not_yet_founded",
        "old_round": "age_unknown",
    }


def test_unknown_founding_date_falls_back_on_any_first_dated_event() -> None:
    programs = typed(
        [{"org_id": "incubated", "program_id": "p", "started_on": "2016-01-01"}],
        ["org_id", "program_id", "started_on"],
    )
    tables = world(
        [org("incubated"), org("late_round")],
        [rnd("incubated", "2019-01-01"), rnd("late_round", "2019-01-01")],
        programs=programs,
    )
    # incubated's programme (2016) anchors its age, not its later round: it is too old
    # for a 3-year window where the round alone would have made it young.
    three = PromiseRules(max_age_years=3)
    assert status_at(tables, three) == {"incubated": "too_old", "late_round": "candidate"}
    assert status_at(tables, three.model_copy(update={"age_fallback": False})) == {
        "incubated": "age_unknown",
        "late_round": "age_unknown",
    }


@pytest.mark.parametrize("age_fallback", [True, False])
def test_candidates_at_t_ignore_the_future_in_a_messy_world(age_fallback: bool) -> None:
    """Deleting or rewriting every event after t (founding dates after t included) leaves
    the candidates at t, and which of them are aged by the fallback, unchanged."""
    rules = PromiseRules(age_fallback=age_fallback)
    full = messy_founding_dates(random_world(120, 41), seed=41)

    def picked(tables: dict[str, pd.DataFrame], t: pd.Timestamp) -> pd.DataFrame:
        status = candidate_status(tables, [t - pd.Timedelta(days=90), t], rules)
        chosen = status.loc[status["status"] == "candidate", ["org_id", "as_of", "age_fallback"]]
        return chosen.sort_values(["as_of", "org_id"]).reset_index(drop=True)

    rng = np.random.default_rng(41)
    fallbacks = 0
    for t in [pd.Timestamp("2015-06-30"), pd.Timestamp("2019-03-31"), pd.Timestamp("2022-12-31")]:
        expected = picked(full, t)
        assert len(expected) >= 5
        fallbacks += int(expected["age_fallback"].sum())
        pd.testing.assert_frame_equal(picked(truncate_after(full, t.date()), t), expected)
        pd.testing.assert_frame_equal(picked(alter_after(full, t.date(), rng), t), expected)
    assert (fallbacks > 0) == age_fallback


def test_max_age_is_configurable() -> None:
    tables = world([org("four_years", "2016-06-01")], [rnd("four_years", EARLY)])
    assert status_at(tables)["four_years"] == "candidate"
    assert status_at(tables, PromiseRules(max_age_years=3))["four_years"] == "too_old"


# --- closed, exited, milestones ---------------------------------------------------------


def test_closed_and_exited_on_or_before_t_are_excluded() -> None:
    names = ["closed_before", "closed_on_t", "closed_after", "exit_on_t", "exit_after"]
    exits = typed(
        [
            {"org_id": "exit_on_t", "exit_kind": "ipo", "exited_on": T, "amount_eur": None},
            {
                "org_id": "exit_after",
                "exit_kind": "acquired",
                "exited_on": T + DAY,
                "amount_eur": 1e7,
            },
        ],
        ["org_id", "exit_kind", "exited_on", "amount_eur"],
    )
    tables = world(
        [
            org("closed_before", EARLY, closed_on=T - DAY),
            org("closed_on_t", EARLY, closed_on=T),
            org("closed_after", EARLY, closed_on=T + DAY),
            org("exit_on_t", EARLY),
            org("exit_after", EARLY),
        ],
        [rnd(o, EARLY) for o in names],
        exits=exits,
    )
    assert status_at(tables) == {
        "closed_before": "closed",
        "closed_on_t": "closed",
        "closed_after": "candidate",
        "exit_on_t": "exited",
        "exit_after": "candidate",
    }


def test_any_exit_kind_excludes_even_when_it_does_not_count_for_the_label() -> None:
    exits = typed(
        [{"org_id": "a", "exit_kind": "acquired", "exited_on": T - DAY}],
        ["org_id", "exit_kind", "exited_on"],
    )
    tables = world([org("a", EARLY)], [rnd("a", EARLY)], exits=exits)
    assert status_at(tables, PromiseRules(exit_kinds=("ipo",)))["a"] == "exited"


def test_milestone_rounds_on_or_before_t_exclude() -> None:
    tables = world(
        [org(o, EARLY) for o in ("a_on_t", "a_after", "seed_5m", "seed_499", "seed_nan", "b")],
        [
            rnd("a_on_t", T, "series_a", None),
            rnd("a_after", EARLY),
            rnd("a_after", T + DAY, "series_a"),
            rnd("seed_5m", EARLY, "seed", 5_000_000.0),
            rnd("seed_499", EARLY, "seed", 4_990_000.0),
            rnd("seed_nan", EARLY, "seed", None),
            rnd("b", EARLY, "series_b", 1_000_000.0),
        ],
    )
    assert status_at(tables) == {
        "a_on_t": "milestone_reached",
        "a_after": "candidate",
        "seed_5m": "milestone_reached",
        "seed_499": "candidate",
        "seed_nan": "candidate",
        "b": "milestone_reached",
    }


def test_milestone_definition_is_configurable() -> None:
    tables = world([org("seed_3m", EARLY)], [rnd("seed_3m", EARLY, "seed", 3_000_000.0)])
    assert status_at(tables)["seed_3m"] == "candidate"
    lower = PromiseRules(large_round_eur=3_000_000)
    assert status_at(tables, lower)["seed_3m"] == "milestone_reached"


# --- opt-outs -----------------------------------------------------------------------


def test_opted_out_orgs_are_excluded_whatever_their_since_date() -> None:
    opt_outs = typed(
        [
            {"subject_kind": "org", "subject_id": "later", "since": T + pd.Timedelta(days=900)},
            {"subject_kind": "org", "subject_id": "earlier", "since": EARLY},
            # a person who shares the id of an org is not an org opt-out
            {"subject_kind": "person", "subject_id": "kept", "since": EARLY},
        ],
        ["subject_kind", "subject_id", "since"],
    )
    tables = world(
        [org(o, EARLY) for o in ("later", "earlier", "kept")],
        [rnd(o, EARLY) for o in ("later", "earlier", "kept")],
        opt_outs=opt_outs,
    )
    assert status_at(tables) == {"later": "opted_out", "earlier": "opted_out", "kept": "candidate"}


# --- visibility (issue 6) -------------------------------------------------------------


def test_first_event_after_t_means_not_a_candidate_until_then() -> None:
    tables = world([org("late", EARLY), org("seen", EARLY)], [rnd("late", T + DAY), rnd("seen", T)])
    assert status_at(tables) == {"late": "not_visible", "seen": "candidate"}
    later = candidates(tables, [T, T + DAY])
    assert list(zip(later["org_id"], later["as_of"], strict=True)) == [
        ("seen", T),
        ("late", T + DAY),
        ("seen", T + DAY),
    ]


def test_founding_date_alone_never_makes_visible_and_rule_can_be_turned_off() -> None:
    tables = world([org("silent", EARLY)])
    assert status_at(tables)["silent"] == "not_visible"
    assert pd.isna(first_visible_on(tables)["silent"])
    off = PromiseRules(require_visibility=False)
    assert status_at(tables, off)["silent"] == "candidate"


@pytest.mark.parametrize(
    ("table", "row"),
    [
        (
            "programs",
            {"org_id": "x", "program_id": "p", "program_kind": "incubator", "started_on": EARLY},
        ),
        ("headcount", {"org_id": "x", "observed_on": EARLY, "headcount": 4}),
        ("job_postings", {"org_id": "x", "posted_on": EARLY}),
        ("roles", {"person_id": "p", "org_id": "x", "role": "founder", "started_on": EARLY}),
        (
            "publications",
            {
                "pub_id": "u",
                "person_id": None,
                "org_id": "x",
                "published_on": EARLY,
                "kind": "patent",
            },
        ),
        ("exits", {"org_id": "x", "exit_kind": "acquired", "exited_on": EARLY}),
    ],
)
def test_each_kind_of_dated_event_makes_visible(table: str, row: dict[str, Any]) -> None:
    tables = world([org("x", EARLY)], **{table: typed([row], list(row))})
    assert first_visible_on(tables)["x"] == EARLY
    flags = visible_on(tables, [EARLY - DAY, EARLY])
    assert flags["visible"].tolist() == [False, True]


def test_events_that_do_not_put_the_org_on_record() -> None:
    roles = typed(
        [{"person_id": "p", "org_id": "x", "role": "employee", "started_on": EARLY}],
        ["person_id", "org_id", "role", "started_on"],
    )
    publications = typed(
        [{"pub_id": "u", "person_id": "p", "org_id": None, "published_on": EARLY, "kind": "paper"}],
        ["pub_id", "person_id", "org_id", "published_on", "kind"],
    )
    tables = world([org("x", EARLY)], roles=roles, publications=publications)
    assert pd.isna(first_visible_on(tables)["x"])


def test_first_seen_on_wins_when_present_and_events_fill_its_gaps() -> None:
    tables = world(
        [
            org("backfilled", EARLY, first_seen_on=T + DAY),  # round before t, seen after
            org("listed", EARLY, first_seen_on=T - DAY),  # no event at all, but listed
            org("unknown", EARLY, first_seen_on=None),  # null: fall back on events
            org("unknown_late", EARLY, first_seen_on=None),
        ],
        [rnd("backfilled", EARLY), rnd("unknown", EARLY), rnd("unknown_late", T + DAY)],
        first_seen=True,
    )
    assert status_at(tables) == {
        "backfilled": "not_visible",
        "listed": "candidate",
        "unknown": "candidate",
        "unknown_late": "not_visible",
    }


def test_not_visible_count_is_what_the_rule_leaves_out() -> None:
    tables = world(
        [org("a", EARLY), org("b", EARLY), org("c", EARLY), org("old")],
        [rnd("a", EARLY), rnd("b", T + DAY), rnd("old", "2010-01-01")],
    )
    dates = [T, T + DAY]
    counts = exclusion_counts(candidate_status(tables, dates))
    assert list(counts.columns) == list(STATUSES)
    assert counts.loc[T, "not_visible"] == 2  # b (first round after t) and c (no event)
    assert counts.loc[T + DAY, "not_visible"] == 1  # c
    assert counts.loc[T, "too_old"] == 1
    assert (counts.sum(axis=1) == 4).all()  # every organisation gets exactly one status
    on = candidates(tables, dates).groupby("as_of").size()
    off = candidates(tables, dates, PromiseRules(require_visibility=False)).groupby("as_of").size()
    assert ((off - on) == counts["not_visible"]).all()


# --- shapes and the big picture --------------------------------------------------------


def test_output_frames_are_typed_and_ordered() -> None:
    tables = world([org("b", EARLY), org("a", EARLY)], [rnd("a", EARLY), rnd("b", EARLY)])
    frame = candidates(tables, [T, T - DAY, T])  # duplicate and unsorted dates
    assert list(frame.columns) == ["org_id", "as_of"]
    assert frame["as_of"].dtype == "datetime64[ns]"
    assert frame["org_id"].dtype == object
    assert list(frame["as_of"]) == [T - DAY, T - DAY, T, T]
    assert list(frame["org_id"]) == ["b", "a", "b", "a"]
    empty = candidates(tables, [])
    assert list(empty.columns) == ["org_id", "as_of"] and len(empty) == 0


def test_scalar_date_and_only_required_tables() -> None:
    from datetime import date

    tables = world([org("a", EARLY)], [rnd("a", EARLY)])
    frame = candidates(tables, date(2020, 6, 30))
    assert frame.to_dict("records") == [{"org_id": "a", "as_of": T}]


def test_reasons_follow_their_documented_priority() -> None:
    # An organisation that fails several rules gets the first reason in order: an
    # opted-out, closed, invisible company is reported as opted out, not as invisible.
    opt_outs = typed(
        [{"subject_kind": "org", "subject_id": "x", "since": EARLY}],
        ["subject_kind", "subject_id", "since"],
    )
    tables = world(
        [org("x", EARLY, closed_on=T - DAY), org("y", EARLY, closed_on=T - DAY)], opt_outs=opt_outs
    )
    assert status_at(tables) == {"x": "opted_out", "y": "closed"}
    assert EXCLUSION_REASONS[0] == "opted_out" and EXCLUSION_REASONS[-1] == "not_visible"


def test_matches_a_row_by_row_reading_of_the_rule_on_a_random_world() -> None:
    rng = np.random.default_rng(7)
    n = 300
    ids = [f"o{i}" for i in range(n)]
    start = pd.Timestamp("2010-01-01")

    def some_date() -> pd.Timestamp:
        return start + pd.Timedelta(days=int(rng.integers(0, 4000)))

    orgs = [
        org(
            i,
            None if rng.random() < 0.2 else some_date(),
            closed_on=some_date() if rng.random() < 0.15 else None,
            first_seen_on=some_date() if rng.random() < 0.3 else None,
        )
        for i in ids
    ]
    rounds = [
        rnd(
            ids[int(rng.integers(0, n))],
            some_date(),
            str(rng.choice(["seed", "series_a", "grant"])),
            float(rng.lognormal(14, 1.2)),
        )
        for _ in range(500)
    ]
    tables = world(orgs, rounds, first_seen=True)
    dates = [pd.Timestamp("2013-01-01"), pd.Timestamp("2015-07-31"), pd.Timestamp("2019-03-31")]
    got = set(zip(*candidates(tables, dates).to_dict("list").values(), strict=True))

    o, r = tables["organizations"], tables["funding_rounds"]
    expected = set()
    for t in dates:
        for _, row in o.iterrows():
            mine = r[r["org_id"] == row["org_id"]]
            before = mine[mine["announced_on"] <= t]
            # The founding date if known at t; else (missing, or after t while the
            # company already raised) the first round, if on or before t.
            born, first = row["founded_on"], mine["announced_on"].min()
            if pd.isna(born) or born > t:
                born = first if pd.notna(first) and first <= t else pd.NaT
            if pd.isna(born) or not (t - pd.DateOffset(years=5) < born <= t):
                continue
            if pd.notna(row["closed_on"]) and row["closed_on"] <= t:
                continue
            milestone = before["round_type"].eq("series_a") | before["amount_eur"].ge(5e6)
            if milestone.any():
                continue
            seen = (
                row["first_seen_on"]
                if pd.notna(row["first_seen_on"])
                else (mine["announced_on"].min())
            )
            if pd.isna(seen) or seen > t:
                continue
            expected.add((row["org_id"], t))
    assert expected  # the world is not degenerate
    assert got == expected
