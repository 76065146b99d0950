"""Column kinds of the contract and the vectorised parsing of raw values into them.

Raw values arrive as Arrow arrays: all strings when read from CSV, native types when read
from Parquet. Parsing happens in Arrow compute kernels (no per-row Python), and every value
that cannot be read is reported by position with its original text, so that validation can
name the exact cell instead of silently turning it into a missing value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class Kind(StrEnum):
    """What a contract column holds; decides its parser and its pandas dtype."""

    ID = "id"
    TEXT = "text"
    ENUM = "enum"
    COUNTRY = "country"
    DATE = "date"
    AMOUNT = "amount"
    COUNT = "count"
    YEAR = "year"
    BOOL = "bool"


STRING_KINDS = frozenset({Kind.ID, Kind.TEXT, Kind.ENUM, Kind.COUNTRY})
# ISO 3166 reserves ZZ for "unknown or unspecified"; sources use it for exactly that.
UNKNOWN_COUNTRY = "ZZ"

# The typed-table convention shared by validation, the lake, the generator and features.
KIND_DTYPES: dict[Kind, str] = {
    Kind.ID: "object",
    Kind.TEXT: "object",
    Kind.ENUM: "object",
    Kind.COUNTRY: "object",
    Kind.DATE: "datetime64[ns]",
    Kind.AMOUNT: "float64",
    Kind.COUNT: "Int64",
    Kind.YEAR: "Int64",
    Kind.BOOL: "boolean",
}

# Years outside this window are typos in practice, and they would also overflow the
# nanosecond timestamps of the typed convention (1677-2262).
_DATE_RE = r"^(1[89]\d\d|2[01]\d\d)-\d\d-\d\d$"
_FIRST_DAY = np.datetime64("1800-01-01", "s")
_LAST_DAY = np.datetime64("2199-12-31", "s")
_NUMBER_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
# "3.0" is accepted for integers because exporting a nullable integer column through a
# float (pandas does this whenever a value is missing) is the most common CSV artefact.
_INTEGER_RE = r"^[+-]?\d{1,15}(\.0*)?$"
# Rows parsed at a time (see parse_array): small enough that a slice's scratch arrays are
# a few tens of MB, large enough that the per-slice overhead is negligible.
_SLICE_ROWS = 1 << 20
_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]


@dataclass(frozen=True)
class Parsed:
    """A typed column plus the positions (and original text) of unreadable values."""

    values: pd.Series
    bad_positions: np.ndarray
    bad_values: list[str | None]

    @property
    def n_bad(self) -> int:
        return int(self.bad_positions.size)


def empty_series(kind: Kind, length: int) -> pd.Series:
    """An all-missing column of ``kind``'s dtype (missing is never faked as a value)."""
    if kind is Kind.DATE:
        return pd.Series(np.full(length, np.datetime64("NaT", "ns")))
    if kind is Kind.AMOUNT:
        return pd.Series(np.full(length, np.nan))
    if kind in STRING_KINDS:
        return pd.Series([None] * length, dtype=object)
    return pd.Series(pd.array([None] * length, dtype=KIND_DTYPES[kind]))


def parse_array(array: pa.Array | pa.ChunkedArray, kind: Kind) -> Parsed:
    """Parse one raw column into ``kind``'s pandas dtype, reporting unreadable cells."""
    arr = array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_null(arr.type):
        return Parsed(empty_series(kind, len(arr)), np.empty(0, np.int64), [])
    # Every kernel below works value by value, so parsing slice by slice gives the same
    # result while the scratch arrays (a dozen per date column) stay slice-sized.
    typed_chunks: list[pa.Array] = []
    found: list[np.ndarray] = []
    raw: list[str | None] = []
    for start in range(0, max(len(arr), 1), _SLICE_ROWS):
        part = arr.slice(start, _SLICE_ROWS)
        if pa.types.is_string(part.type) or pa.types.is_large_string(part.type):
            part = _unknown_to_null(part.cast(pa.string()), kind)
            typed, bad = _parse_strings(part, kind)
        else:
            typed, bad = _convert_typed(part, kind)
        typed_chunks.extend(typed.chunks if isinstance(typed, pa.ChunkedArray) else [typed])
        typed_type = typed.type
        positions = _positions(bad)
        if positions.size:
            raw.extend(pc.cast(part.take(positions), pa.string()).to_pylist())
            found.append(positions + start)
        del part, typed, bad
    values = pa.chunked_array(typed_chunks, type=typed_type)
    bad_positions = np.concatenate(found) if found else np.empty(0, np.int64)
    return Parsed(_to_pandas(values, kind), bad_positions, raw)


def _unknown_to_null(arr: pa.ChunkedArray, kind: Kind) -> pa.ChunkedArray:
    # An empty or blank cell means "unknown" in both CSV and Parquet sources, and so does
    # ZZ for a country: one spelling (null) downstream, so no feature can treat it as data.
    unknown = pc.equal(pc.utf8_trim_whitespace(arr), "")
    if kind is Kind.COUNTRY:
        unknown = pc.or_(unknown, pc.equal(arr, UNKNOWN_COUNTRY))
    return pc.if_else(unknown, pa.scalar(None, pa.string()), arr)


def unknown_text(values: pd.Series, kind: Kind = Kind.TEXT) -> pd.Series:
    """Where a text column of a pandas frame says *unknown* (the rule of ``parse_array``).

    Missing, empty or blank, or ``ZZ`` for a country. For frames that did not come
    through parsing (built in Python, read from elsewhere).
    """
    text = values.astype(object)
    as_str = text.map(lambda v: v.strip() if isinstance(v, str) else v)
    unknown = text.isna() | as_str.eq("")
    if kind is Kind.COUNTRY:
        unknown |= as_str.eq(UNKNOWN_COUNTRY)
    return unknown.astype(bool)


def _positions(bad: pa.ChunkedArray | None) -> np.ndarray:
    if bad is None:
        return np.empty(0, np.int64)
    mask = pc.fill_null(bad, False).to_numpy(zero_copy_only=False)
    return np.flatnonzero(mask).astype(np.int64)


def _parse_strings(
    arr: pa.ChunkedArray, kind: Kind
) -> tuple[pa.ChunkedArray, pa.ChunkedArray | None]:
    if kind in STRING_KINDS:
        return arr, None
    if kind is Kind.DATE:
        shaped = pc.match_substring_regex(arr, _DATE_RE)
        candidate = pc.if_else(shaped, arr, pa.scalar(None, pa.string()))
        parsed = pc.strptime(candidate, format="%Y-%m-%d", unit="s", error_is_null=True)
        # Arrow rolls impossible days over (2020-02-30 -> 2020-03-01): the parsed month
        # and day must be the written ones (cheaper than a strftime round trip).
        written_month = pc.utf8_slice_codeunits(candidate, 5, 7).cast(pa.int64())
        written_day = pc.utf8_slice_codeunits(candidate, 8, 10).cast(pa.int64())
        same = pc.and_(
            pc.equal(pc.month(parsed), written_month), pc.equal(pc.day(parsed), written_day)
        )
        ok = pc.fill_null(same, False)
        typed = pc.if_else(ok, parsed, pa.scalar(None, pa.timestamp("s")))
        return typed.cast(pa.timestamp("ns")), pc.and_(pc.is_valid(arr), pc.invert(ok))
    if kind is Kind.AMOUNT:
        shaped = pc.fill_null(pc.match_substring_regex(arr, _NUMBER_RE), False)
        typed = pc.if_else(shaped, arr, pa.scalar(None, pa.string())).cast(pa.float64())
        ok = pc.and_(shaped, pc.fill_null(pc.is_finite(typed), False))
        typed = pc.if_else(ok, typed, pa.scalar(None, pa.float64()))
        return typed, pc.and_(pc.is_valid(arr), pc.invert(ok))
    if kind in (Kind.COUNT, Kind.YEAR):
        ok = pc.fill_null(pc.match_substring_regex(arr, _INTEGER_RE), False)
        digits = pc.replace_substring_regex(arr, pattern=r"\.0*$", replacement="")
        typed = pc.if_else(ok, digits, pa.scalar(None, pa.string())).cast(pa.int64())
        return typed, pc.and_(pc.is_valid(arr), pc.invert(ok))
    if kind is Kind.BOOL:
        lowered = pc.utf8_lower(arr)
        is_true = pc.is_in(lowered, value_set=pa.array(_TRUE))
        is_false = pc.is_in(lowered, value_set=pa.array(_FALSE))
        ok = pc.or_(is_true, is_false)
        typed = pc.if_else(ok, is_true, pa.scalar(None, pa.bool_()))
        return typed, pc.and_(pc.is_valid(arr), pc.invert(ok))
    raise ValueError(f"unknown column kind {kind!r}")


def _convert_typed(
    arr: pa.ChunkedArray, kind: Kind
) -> tuple[pa.ChunkedArray, pa.ChunkedArray | None]:
    """Native (Parquet) values: accept the sensible types, flag the rest as bad."""
    t = arr.type
    valid = pc.is_valid(arr)
    all_bad_string = (pa.nulls(len(arr), pa.string()), valid)
    if kind in STRING_KINDS:
        if pa.types.is_integer(t):
            return arr.cast(pa.string()), None
        return all_bad_string
    if kind is Kind.DATE:
        if pa.types.is_date(t):
            ts = arr.cast(pa.date32()).cast(pa.timestamp("s"))
        elif pa.types.is_timestamp(t):
            # Timestamps are stored in UTC; the date is taken in UTC, time of day dropped.
            ts = pc.floor_temporal(arr.cast(pa.timestamp(t.unit)), unit="day")
            ts = ts.cast(pa.timestamp("s"))
        else:
            return pa.nulls(len(arr), pa.timestamp("ns")), valid
        in_range = pc.and_(
            pc.greater_equal(ts, pa.scalar(_FIRST_DAY, pa.timestamp("s"))),
            pc.less_equal(ts, pa.scalar(_LAST_DAY, pa.timestamp("s"))),
        )
        ok = pc.fill_null(in_range, False)
        typed = pc.if_else(ok, ts, pa.scalar(None, pa.timestamp("s"))).cast(pa.timestamp("ns"))
        return typed, pc.and_(valid, pc.invert(ok))
    if kind is Kind.AMOUNT:
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            as_float = arr.cast(pa.float64())
            # NaN in a float column is the pandas spelling of "missing", not a bad value.
            finite = pc.is_finite(as_float)
            nan = pc.is_nan(as_float)
            typed = pc.if_else(pc.fill_null(finite, False), as_float, pa.scalar(None, pa.float64()))
            bad = pc.and_(valid, pc.invert(pc.or_(finite, nan)))
            return typed, bad
        return pa.nulls(len(arr), pa.float64()), valid
    if kind in (Kind.COUNT, Kind.YEAR):
        if pa.types.is_integer(t):
            return arr.cast(pa.int64()), None
        if pa.types.is_floating(t):
            nan = pc.fill_null(pc.is_nan(arr), False)
            integral = pc.fill_null(
                pc.and_(
                    pc.equal(pc.floor(arr), arr),
                    pc.less_equal(pc.abs(arr), pa.scalar(1e15, t)),
                ),
                False,
            )
            typed = pc.if_else(integral, arr, pa.scalar(None, t)).cast(pa.int64())
            bad = pc.and_(valid, pc.invert(pc.or_(integral, nan)))
            return typed, bad
        return pa.nulls(len(arr), pa.int64()), valid
    if kind is Kind.BOOL:
        if pa.types.is_boolean(t):
            return arr, None
        if pa.types.is_integer(t):
            ok = pc.is_in(arr, value_set=pa.array([0, 1], t))
            typed = pc.if_else(ok, pc.equal(arr, pa.scalar(1, t)), pa.scalar(None, pa.bool_()))
            return typed, pc.and_(valid, pc.invert(ok))
        return pa.nulls(len(arr), pa.bool_()), valid
    raise ValueError(f"unknown column kind {kind!r}")


def _to_pandas(arr: pa.ChunkedArray, kind: Kind) -> pd.Series:
    if kind in STRING_KINDS:
        return pd.Series(arr.to_pandas(), dtype=object)
    if kind is Kind.DATE:
        return pd.Series(arr.cast(pa.timestamp("ns")).to_pandas(), dtype="datetime64[ns]")
    if kind is Kind.AMOUNT:
        return pd.Series(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")
    if kind in (Kind.COUNT, Kind.YEAR):
        return pd.Series(pd.Int64Dtype().__from_arrow__(arr.cast(pa.int64())))
    if kind is Kind.BOOL:
        return pd.Series(pd.BooleanDtype().__from_arrow__(arr.cast(pa.bool_())))
    raise ValueError(f"unknown column kind {kind!r}")
