"""The ranking diff (serving/changes.py): entrants, leavers and moves per region, against
hand-made rankings and against a brute-force restatement of the rule on random ones."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from talentmap.serving.changes import Filters, normalise, ranking_changes


def frame(rows: list[tuple[str, str | None, float]], sector: str = "software") -> pd.DataFrame:
    """(org_id, region, score) rows -> a ranking frame (ranks from the scores)."""
    out = pd.DataFrame(rows, columns=["org_id", "region", "score"])
    out["name"] = "Company " + out["org_id"]
    out["sector"] = sector
    out = out.sort_values(["score", "org_id"], ascending=[False, True]).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


BEFORE = frame(
    [
        ("a", "Occitanie", 0.9),
        ("b", "Occitanie", 0.8),
        ("c", "Bretagne", 0.7),
        ("d", "Occitanie", 0.6),
        ("e", "Bretagne", 0.5),
        ("f", None, 0.4),
    ]
)
AFTER = frame(
    [
        ("d", "Occitanie", 0.95),  # 3rd in Occitanie -> 1st: enters Occitanie's top 2
        ("a", "Occitanie", 0.85),
        ("c", "Bretagne", 0.7),
        ("e", "Bretagne", 0.75),  # overtakes c
        ("g", "Bretagne", 0.3),  # new company
        ("f", None, 0.2),
        # b is no longer ranked (aged out)
    ]
)


def ids(changes) -> list[str]:
    return [c.org_id for c in changes]


def test_per_region_entrants_leavers_and_moves() -> None:
    result = ranking_changes(BEFORE, AFTER, k=2)
    occitanie = result.regions["Occitanie"]
    assert ids(occitanie.entrants) == ["d"]
    assert (occitanie.entrants[0].rank_before, occitanie.entrants[0].rank_after) == (3, 1)
    assert ids(occitanie.leavers) == ["b"]
    assert occitanie.leavers[0].rank_after is None  # no longer ranked at all
    assert occitanie.leavers[0].rank_before == 2
    assert occitanie.up == () and ids(occitanie.down) == ["a"]
    assert occitanie.down[0].places == -1
    bretagne = result.regions["Bretagne"]
    assert bretagne.entrants == () and bretagne.leavers == ()
    assert ids(bretagne.up) == ["e"] and ids(bretagne.down) == ["c"]
    assert bretagne.up[0].as_dict()["places"] == 1
    assert set(result.regions) == {"Bretagne", "Occitanie"}  # no-region rows: overall only


def test_overall_scope_ranks_nationally() -> None:
    result = ranking_changes(BEFORE, AFTER, k=3)
    assert ids(result.overall.entrants) == ["d", "e"]
    assert ids(result.overall.leavers) == ["b", "c"]
    assert result.overall.leavers[1].rank_after == 4  # still ranked, lower
    assert ids(result.overall.up) == [] and ids(result.overall.down) == ["a"]
    assert result.overall.ranked_before == 6 and result.overall.ranked_after == 6


def test_identical_rankings_have_no_change() -> None:
    result = ranking_changes(BEFORE, BEFORE, k=3)
    assert not result.overall.changed
    assert not any(scope.changed for scope in result.regions.values())


def test_excluded_orgs_leave_both_rankings() -> None:
    # b was forgotten: it must not show up as a leaver of the previous ranking.
    result = ranking_changes(BEFORE, AFTER, k=2, exclude=["b"])
    assert "b" not in ids(result.regions["Occitanie"].leavers)
    everything = result.as_dict()
    assert "'b'" not in repr(everything).replace("'Bretagne'", "")


def test_filters_apply_to_both_sides() -> None:
    result = ranking_changes(BEFORE, AFTER, k=1, filters=Filters(region="Bretagne"))
    assert set(result.regions) == {"Bretagne"}
    assert ids(result.overall.entrants) == ["e"] and ids(result.overall.leavers) == ["c"]
    with_sector = ranking_changes(BEFORE, AFTER, k=5, filters=Filters(sector="biotech"))
    assert with_sector.overall.ranked_before == 0 and not with_sector.overall.changed


def test_founded_after_and_min_score_filters() -> None:
    before, after = BEFORE.copy(), AFTER.copy()
    before["founded_on"] = pd.Timestamp("2020-01-01")
    after["founded_on"] = pd.Timestamp("2020-01-01")
    after.loc[after["org_id"] == "d", "founded_on"] = pd.NaT  # unknown never passes
    result = ranking_changes(before, after, k=2, filters=Filters(founded_after=date(2019, 1, 1)))
    assert "d" not in ids(result.overall.entrants)
    high = ranking_changes(before, after, k=10, filters=Filters(min_score=0.8))
    assert high.overall.ranked_after == 2 and high.overall.ranked_before == 2


def test_moves_are_capped_and_sorted() -> None:
    before = frame([(str(i), "Corse", 1.0 - i / 100) for i in range(20)])
    after = frame([(str(i), "Corse", 0.5 + ((i * 7) % 20) / 100) for i in range(20)])
    result = ranking_changes(before, after, k=20, moves=3)
    scope = result.regions["Corse"]
    assert len(scope.up) == 3 and len(scope.down) == 3
    assert [c.places for c in scope.up] == sorted((c.places for c in scope.up), reverse=True)
    assert all(c.places > 0 for c in scope.up) and all(c.places < 0 for c in scope.down)


def test_order_from_score_when_no_rank_column() -> None:
    shuffled = BEFORE.drop(columns="rank").sample(frac=1.0, random_state=1)
    assert list(normalise(shuffled)["org_id"]) == list(BEFORE["org_id"])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="k must be"):
        ranking_changes(BEFORE, AFTER, k=0)
    with pytest.raises(ValueError, match="org_id"):
        ranking_changes(BEFORE.drop(columns="org_id"), AFTER, k=2)


@pytest.mark.parametrize("seed", range(5))
def test_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    regions = ["Corse", "Bretagne", "Grand Est", None]

    def random_ranking(ids_: list[str]) -> pd.DataFrame:
        return frame([(o, regions[int(rng.integers(0, 4))], float(rng.random())) for o in ids_])

    before = random_ranking([f"o{i}" for i in range(60)])
    after = random_ranking([f"o{i}" for i in range(10, 75)])
    k = int(rng.integers(1, 12))
    result = ranking_changes(before, after, k=k, moves=1000)
    for name, scope in result.regions.items():
        b = list(before.loc[before["region"] == name, "org_id"])
        a = list(after.loc[after["region"] == name, "org_id"])
        assert set(ids(scope.entrants)) == set(a[:k]) - set(b[:k])
        assert set(ids(scope.leavers)) == set(b[:k]) - set(a[:k])
        both = set(a[:k]) & set(b[:k])
        expected_up = {o for o in both if b.index(o) > a.index(o)}
        expected_down = {o for o in both if b.index(o) < a.index(o)}
        assert set(ids(scope.up)) == expected_up and set(ids(scope.down)) == expected_down
        for change in (*scope.entrants, *scope.leavers, *scope.up, *scope.down):
            assert change.rank_before == (
                b.index(change.org_id) + 1 if change.org_id in b else None
            )
            assert change.rank_after == (a.index(change.org_id) + 1 if change.org_id in a else None)
