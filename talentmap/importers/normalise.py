"""Vectorised normalisation of source text, counting every change it makes.

Each function takes a text column (object dtype, ``None`` or ``""`` = unknown) and the
``SourceCount`` of the table it comes from, and returns the normalised column. A value
that cannot be read becomes unknown and is counted; nothing is ever guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pycountry

from talentmap.contract import COUNTRIES
from talentmap.importers.report import SourceCount
from talentmap.importers.value_maps import fr_region

# What SQL dumps write for NULL.
NULL_MARKERS = frozenset({"NULL", "null", "\\N", "None", "NaN", "nan", "N/A", "n/a"})
UNKNOWN_WORDS = frozenset({"unknown", "n/a", "none", "-", "?"})
FIRST_DATE = pd.Timestamp("1800-01-01")
LAST_DATE = pd.Timestamp("2199-12-31")


def text(
    series: pd.Series,
    counts: SourceCount | None = None,
    column: str = "",
    placeholders: frozenset[str] = frozenset(),
) -> pd.Series:
    """Trim, unwrap single-quoted values and turn NULL markers and blanks into None.

    ``placeholders`` are words a source writes for "unknown" in this column (compared
    case-insensitively), such as Crunchbase's region "unknown".
    """
    out = series.astype(object).where(series.notna(), None)
    as_str = out.map(lambda v: v if v is None else str(v))
    stripped = as_str.map(lambda v: v if v is None else v.strip())
    if counts is not None:
        padded = (stripped != as_str) & stripped.notna() & stripped.ne("")
        counts.repair(f"{column}: surrounding spaces trimmed", int(padded.sum()))
    quoted = stripped.map(
        lambda v: v is not None and len(v) >= 2 and v[0] == "'" and v[-1] == "'"
    ).astype(bool)
    if quoted.any():
        stripped = stripped.where(~quoted, stripped[quoted].str[1:-1].str.strip())
        if counts is not None:
            counts.repair(f"{column}: single quotes of a SQL dump removed", int(quoted.sum()))
    null = stripped.isin(NULL_MARKERS)
    if counts is not None:
        counts.repair(f"{column}: NULL marker read as unknown", int(null.sum()))
    if placeholders:
        said = stripped.str.lower().isin(placeholders)
        if counts is not None:
            counts.repair(f"{column}: placeholder for unknown read as unknown", int(said.sum()))
        null |= said
    blank = stripped.isna() | stripped.eq("") | null
    return stripped.where(~blank, None)


def dates(
    series: pd.Series,
    counts: SourceCount,
    column: str,
    formats: Sequence[str] = (),
) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` text (None = unknown).

    Accepts ISO dates and timestamps (the time of day is dropped), then any ``formats``
    given (strftime patterns, tried in order). Unreadable dates, SQL zero dates and dates
    outside the contract's 1800-2199 range become unknown, counted.
    """
    values = text(series)
    out = pd.Series([None] * len(values), index=values.index, dtype=object)
    present = values.notna()
    if not present.any():
        return out
    raw = values[present]
    iso = raw.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    stamp = raw.str.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}") & ~iso
    candidate = raw.where(~stamp, raw.str[:10])
    parsed = pd.to_datetime(candidate.where(iso | stamp), format="%Y-%m-%d", errors="coerce")
    counts.repair(f"{column}: timestamp cut to its date", int(stamp.sum()))
    for fmt in formats:
        missing = parsed.isna() & raw.notna()
        if not missing.any():
            break
        again = pd.to_datetime(raw[missing], format=fmt, errors="coerce")
        parsed = parsed.where(~missing, again)
        counts.repair(f"{column}: date read with format {fmt}", int(again.notna().sum()))
    zero = raw.str.match(r"^0000-00-00")
    counts.repair(f"{column}: zero date read as unknown", int(zero.sum()))
    bad = parsed.isna() & ~zero
    counts.repair(f"{column}: unreadable date left unknown", int(bad.sum()))
    in_range = (parsed >= FIRST_DATE) & (parsed <= LAST_DATE)
    outside = parsed.notna() & ~in_range
    counts.repair(f"{column}: date outside 1800-2199 left unknown", int(outside.sum()))
    ok = parsed.notna() & in_range
    out.loc[ok[ok].index] = parsed[ok].dt.strftime("%Y-%m-%d")
    return out


_AMOUNT_SUFFIX = {"k": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9}
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_AMOUNT_RE = re.compile(r"^([+-]?)([0-9][0-9.,'\s\u00a0\u202f]*|[.,][0-9]+)\s*([a-z]{0,2})$")


def _one_amount(raw: str) -> tuple[float | None, str | None]:
    """(value, currency symbol's code) of one amount such as '$1,500,000' or '2.5M€'."""
    s = raw.strip()
    currency = None
    for symbol, code in _SYMBOLS.items():
        if symbol in s:
            currency = code
            s = s.replace(symbol, "")
    s = s.strip().lower()
    match = _AMOUNT_RE.match(s)
    if not match:
        return None, currency
    sign, number, suffix = match.groups()
    if suffix and suffix not in _AMOUNT_SUFFIX:
        return None, currency
    number = re.sub(r"[\s\u00a0\u202f']", "", number)
    if "," in number and "." in number:
        # The separator written last is the decimal one ("1.500.000,50", "1,500,000.50").
        if number.rfind(",") > number.rfind("."):
            number = number.replace(".", "").replace(",", ".")
        else:
            number = number.replace(",", "")
    elif "," in number:
        groups = number.split(",")
        if len(groups) > 2 or (len(groups) == 2 and len(groups[1]) == 3 and not suffix):
            number = number.replace(",", "")  # thousands separators
        else:
            number = number.replace(",", ".")  # a decimal comma
    elif number.count(".") > 1:
        number = number.replace(".", "")  # "1.500.000"
    try:
        value = float(number)
    except ValueError:
        return None, currency
    value *= _AMOUNT_SUFFIX.get(suffix, 1.0)
    return (-value if sign == "-" else value), currency


def amounts(
    series: pd.Series, counts: SourceCount, column: str, *, zero_is_unknown: bool = False
) -> tuple[pd.Series, pd.Series]:
    """(amounts as float, currency read from a symbol or None); unreadable -> NaN, counted."""
    values = text(series)
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    symbol = pd.Series([None] * len(values), index=values.index, dtype=object)
    present = values.notna()
    if not present.any():
        return out, symbol
    raw = values[present]
    plain = raw.str.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
    out.loc[plain[plain].index] = raw[plain].astype(float)
    odd = raw[~plain]
    if len(odd):
        parsed = odd.map(_one_amount)
        got = parsed.map(lambda p: p[0])
        out.loc[odd.index] = got.astype(float)
        symbol.loc[odd.index] = parsed.map(lambda p: p[1])
        counts.repair(f"{column}: amount reformatted", int(got.notna().sum()))
        counts.repair(f"{column}: unreadable amount left unknown", int(got.isna().sum()))
    negative = out < 0
    counts.repair(f"{column}: negative amount left unknown", int(negative.sum()))
    out = out.where(~negative)
    if zero_is_unknown:
        zero = out == 0
        counts.repair(f"{column}: 0 means undisclosed, left unknown", int(zero.sum()))
        out = out.where(~zero)
    return out, symbol


def to_eur(
    amount: pd.Series,
    currency: pd.Series,
    rates: Mapping[str, float],
    counts: SourceCount,
    column: str,
) -> pd.Series:
    """Convert ``amount`` (in ``currency``, ISO 4217) to euros at the stated fixed rates."""
    codes = text(currency).map(lambda v: v if v is None else v.upper())
    has = amount.notna()
    known = codes.isin(list(rates))
    rate = codes.map(lambda c: rates.get(c, np.nan) if c is not None else np.nan).astype(float)
    out = amount * rate
    for code, n in codes[has & known & codes.ne("EUR")].value_counts().items():
        counts.repair(f"{column}: converted from {code} at fixed rate {rates[code]}", int(n))
    no_code = has & codes.isna()
    counts.repair(f"{column}: amount without currency left unknown", int(no_code.sum()))
    unknown = has & codes.notna() & ~known
    for code, n in codes[unknown].value_counts().items():
        counts.repair(f"{column}: no rate for currency {code}, amount left unknown", int(n))
    return out.where(has & known)


def _alpha3_map() -> dict[str, str]:
    out = {c.alpha_3: c.alpha_2 for c in pycountry.countries}
    # Crunchbase's own three-letter codes that are not ISO 3166-1.
    out.update({"ROM": "RO", "TAN": "TZ", "ANT": "CW"})
    return out


_ALPHA3: dict[str, str] | None = None


def countries(series: pd.Series, counts: SourceCount, column: str) -> pd.Series:
    """ISO 3166-1 alpha-2 codes from alpha-2, alpha-3 codes or English country names."""
    global _ALPHA3
    if _ALPHA3 is None:
        _ALPHA3 = _alpha3_map()
    alpha3 = _ALPHA3
    values = text(series)

    def one(v: str | None) -> str | None:
        if v is None:
            return None
        up = v.upper()
        if len(up) == 2 and up in COUNTRIES:
            return up
        if len(up) == 3 and up in alpha3:
            return alpha3[up]
        try:
            found = pycountry.countries.lookup(v)
        except LookupError:
            return None
        return found.alpha_2 if found.alpha_2 in COUNTRIES else None

    uniques = {v: one(v) for v in values.dropna().unique()}
    out = values.map(lambda v: None if v is None else uniques[v])
    converted = values.notna() & out.notna() & (values != out)
    counts.repair(f"{column}: country code converted to ISO alpha-2", int(converted.sum()))
    unknown = values.notna() & out.isna()
    counts.repair(f"{column}: unknown country code left unknown", int(unknown.sum()))
    return out


def regions(region: pd.Series, country: pd.Series, counts: SourceCount, column: str) -> pd.Series:
    """French regions as one of the 18 official names (or unknown); others kept as text."""
    values = text(region, counts, column, placeholders=UNKNOWN_WORDS)
    french = country.eq("FR") & values.notna()
    official = values[french].map(fr_region)
    out = values.copy()
    out.loc[official.index] = official
    renamed = official.notna() & (official != values[french])
    counts.repair(f"{column}: French region mapped to its official name", int(renamed.sum()))
    counts.repair(
        f"{column}: not a French region or known area, left unknown", int(official.isna().sum())
    )
    return out


def exact_duplicates(frame: pd.DataFrame, hash_column: str = "_row_hash") -> pd.Series:
    """Rows identical to an earlier row in every source column."""
    if hash_column in frame.columns:
        return frame[hash_column].duplicated(keep="first")
    return frame.duplicated(keep="first")
