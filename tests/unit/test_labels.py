"""The promise label: window boundaries (t, t + H], what counts, and refused windows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from talentmap.settings.training import PromiseRules
from talentmap.training.pipeline.labels import (
    UncoveredWindowError,
    label,
    label_coverage_ok,
    label_window_end,
    split_covered,
    training_as_of_dates,
)

T = pd.Timestamp("2019-03-31")
H_END = pd.Timestamp("2021-03-31")  # t + 24 months
DAY = pd.Timedelta(days=1)
DATA_END = pd.Timestamp("2025-12-31")
RULES = PromiseRules()


def tables(
    rounds: list[tuple[str, pd.Timestamp, str, float | None]],
    exits: list[tuple[str, str, pd.Timestamp]] | None = None,
) -> dict[str, pd.DataFrame]:
    ids = sorted({r[0] for r in rounds} | {e[0] for e in exits or []} | {"nobody"})
    out = {
        "organizations": pd.DataFrame({"org_id": pd.Series(ids, dtype=object), "name": ids}),
        "funding_rounds": pd.DataFrame(
            {
                "round_id": pd.Series([f"r{i}" for i in range(len(rounds))], dtype=object),
                "org_id": pd.Series([r[0] for r in rounds], dtype=object),
                "announced_on": pd.Series([r[1] for r in rounds], dtype="datetime64[ns]"),
                "round_type": pd.Series([r[2] for r in rounds], dtype=object),
                "amount_eur": pd.Series([r[3] for r in rounds], dtype="float64"),
            }
        ),
    }
    if exits is not None:
        out["exits"] = pd.DataFrame(
            {
                "org_id": pd.Series([e[0] for e in exits], dtype=object),
                "exit_kind": pd.Series([e[1] for e in exits], dtype=object),
                "exited_on": pd.Series([e[2] for e in exits], dtype="datetime64[ns]"),
            }
        )
    return out


def entity(*rows: tuple[str, pd.Timestamp]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "org_id": pd.Series([r[0] for r in rows], dtype=object),
            "as_of": pd.Series([r[1] for r in rows], dtype="datetime64[ns]"),
        }
    )


def labels_of(world: dict[str, pd.DataFrame], rules: PromiseRules = RULES) -> dict[str, int]:
    orgs = world["organizations"]["org_id"]
    frame = label(world, entity(*((o, T) for o in orgs)), rules, DATA_END)
    return dict(zip(frame["org_id"], frame["label"].tolist(), strict=True))


def test_window_is_open_at_t_and_closed_at_t_plus_h() -> None:
    world = tables(
        [
            ("on_t", T, "series_a", None),
            ("next_day", T + DAY, "series_b", None),
            ("on_end", H_END, "series_c_plus", None),
            ("after_end", H_END + DAY, "series_a", None),
            ("before_t", T - DAY, "series_a", None),
        ]
    )
    assert labels_of(world) == {
        "on_t": 0,
        "next_day": 1,
        "on_end": 1,
        "after_end": 0,
        "before_t": 0,
        "nobody": 0,
    }


def test_what_counts_as_promise() -> None:
    world = tables(
        [
            ("seed_5m", T + DAY, "seed", 5_000_000.0),
            ("seed_499", T + DAY, "seed", 4_990_000.0),
            ("grant_big", T + DAY, "grant", 8_000_000.0),
            ("seed_unknown", T + DAY, "seed", None),
            ("acquired", T - DAY, "seed", 100_000.0),
        ],
        exits=[("acquired", "acquired", H_END), ("ipo", "ipo", T + DAY)],
    )
    assert labels_of(world) == {
        "seed_5m": 1,
        "seed_499": 0,
        "grant_big": 1,
        "seed_unknown": 0,
        "acquired": 1,
        "ipo": 1,
        "nobody": 0,
    }
    only_ipo = PromiseRules(exit_kinds=("ipo",))
    assert labels_of(world, only_ipo)["acquired"] == 0
    assert labels_of(world, only_ipo)["ipo"] == 1


def test_horizon_is_configurable() -> None:
    world = tables([("a", pd.Timestamp("2020-03-31"), "series_a", None)])
    assert labels_of(world, PromiseRules(horizon_months=12))["a"] == 1
    assert labels_of(world, PromiseRules(horizon_months=11))["a"] == 0


def test_events_of_one_org_never_label_another() -> None:
    # Neighbouring ids and interleaved dates: a sorting slip would leak events across orgs.
    world = tables([("a", T + DAY, "series_a", None), ("c", H_END + DAY, "series_a", None)])
    frame = label(world, entity(("b", T), ("a", T), ("c", T), ("a", H_END)), RULES, DATA_END)
    assert frame["label"].tolist() == [0, 1, 0, 0]


def test_output_keeps_input_order_and_types() -> None:
    world = tables([("a", T + DAY, "series_a", None)])
    rows = entity(("a", H_END), ("a", T), ("zz", T), ("a", T - pd.Timedelta(days=300)))
    rows.index = [10, 3, 7, 1]
    frame = label(world, rows, RULES, DATA_END)
    assert list(frame.columns) == ["org_id", "as_of", "label", "label_window_end"]
    assert frame["org_id"].tolist() == ["a", "a", "zz", "a"]
    assert frame["as_of"].tolist() == rows["as_of"].tolist()
    assert frame["label"].tolist() == [0, 1, 0, 1]
    assert frame["label"].dtype == np.int8
    assert frame["label_window_end"].dtype == "datetime64[ns]"
    assert frame["label_window_end"].iloc[1] == H_END


def test_uncovered_windows_are_refused_never_negative() -> None:
    world = tables([("a", T + DAY, "series_a", None)])
    rows = entity(("a", T), ("a", T + DAY))
    # t + H == data end: the window is covered, events dated on the cut-off included.
    assert label(world, rows.iloc[:1], RULES, H_END)["label"].tolist() == [1]
    with pytest.raises(UncoveredWindowError, match="1 row"):
        label(world, rows, RULES, H_END)
    covered, refused = split_covered(rows, RULES.horizon_months, H_END)
    assert covered["as_of"].tolist() == [T]
    assert refused["as_of"].tolist() == [T + DAY]
    assert len(label(world, covered, RULES, H_END)) == 1


def test_coverage_helpers() -> None:
    assert label_window_end(date(2019, 8, 31), 6) == pd.Timestamp("2020-02-29")
    assert label_window_end("2019-03-31", 24) == H_END
    assert label_coverage_ok(T, 24, H_END)
    assert not label_coverage_ok(T, 24, H_END - DAY)


def test_training_as_of_dates_are_anchored_and_covered() -> None:
    dates = training_as_of_dates(date(2015, 1, 31), date(2020, 1, 1), 24, every_months=3)
    assert dates[:5] == [
        date(2015, 1, 31),
        date(2015, 4, 30),
        date(2015, 7, 31),  # anchored on the first date: no month-end drift
        date(2015, 10, 31),
        date(2016, 1, 31),
    ]
    assert dates[-1] == date(2017, 10, 31)  # window ends 2019-10-31 <= cut-off
    assert all(label_coverage_ok(d, 24, date(2020, 1, 1)) for d in dates)
    assert not label_coverage_ok(date(2018, 1, 31), 24, date(2020, 1, 1))  # the next one
    assert training_as_of_dates(date(2019, 1, 1), date(2020, 1, 1), 24) == []
    # a window ending exactly on the cut-off is included
    assert training_as_of_dates(date(2018, 1, 1), date(2020, 1, 1), 24)[-1] == date(2018, 1, 1)
    with pytest.raises(ValueError):
        training_as_of_dates(date(2018, 1, 1), date(2020, 1, 1), 24, every_months=0)


def test_matches_a_row_by_row_reading_on_a_random_world() -> None:
    rng = np.random.default_rng(3)
    ids = [f"o{i:02d}" for i in range(40)]
    start = pd.Timestamp("2012-01-01")

    def day() -> pd.Timestamp:
        return start + pd.Timedelta(days=int(rng.integers(0, 3000)))

    rounds = [
        (
            ids[int(rng.integers(0, 40))],
            day(),
            str(rng.choice(["seed", "series_a", "grant"])),
            float(rng.lognormal(14, 1.3)),
        )
        for _ in range(120)
    ]
    exits = [(ids[int(rng.integers(0, 40))], "ipo", day()) for _ in range(8)]
    world = tables(rounds, exits)
    rows = entity(*((ids[int(rng.integers(0, 40))], day()) for _ in range(400)))
    got = label(world, rows, RULES, DATA_END)["label"].tolist()

    events = [(o, on) for o, on, kind, amount in rounds if kind == "series_a" or amount >= 5e6]
    events += [(o, on) for o, _, on in exits]
    expected = [
        int(any(o == org and t < on <= t + pd.DateOffset(months=24) for o, on in events))
        for org, t in zip(rows["org_id"], rows["as_of"], strict=True)
    ]
    assert 0 < sum(expected) < len(expected)
    assert got == expected


def test_rows_without_a_date_are_an_error_not_a_negative() -> None:
    world = tables([("a", T + DAY, "series_a", None)])
    with pytest.raises(ValueError, match="as_of"):
        label(world, entity(("a", T), ("a", pd.NaT)), RULES, DATA_END)
