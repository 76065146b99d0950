"""Vectorised builders of Arrow columns from the generator's integer codes.

Every categorical column is kept as integer codes until written, then turned into
strings through a dictionary cast, so no Python loop ever runs over rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def categorical(codes: np.ndarray, categories: list[str]) -> pa.Array:
    """Strings from codes; a negative code means missing."""
    codes = np.asarray(codes)
    idx = pa.array(np.maximum(codes, 0).astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(idx, pa.array(categories, pa.string())).cast(pa.string())


def identifiers(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number; a negative number means missing."""
    numbers = np.asarray(numbers)
    digits = pc.utf8_lpad(pa.array(np.maximum(numbers, 0)).cast(pa.string()), width, "0")
    joined = pc.binary_join_element_wise(pa.scalar(prefix), digits, "")
    return pc.if_else(pa.array(numbers < 0), pa.scalar(None, pa.string()), joined)


def dates(days: np.ndarray) -> pa.Array:
    days = np.asarray(days).astype("datetime64[D]")
    return pa.array(days, type=pa.date32(), mask=np.isnat(days))


def integers(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values).astype(np.int64), type=pa.int64(), mask=missing)


def floats(values: np.ndarray) -> pa.Array:
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


def booleans(codes: np.ndarray) -> pa.Array:
    """1 true, 0 false, negative missing."""
    codes = np.asarray(codes)
    return pa.array(codes > 0, type=pa.bool_(), mask=codes < 0)
