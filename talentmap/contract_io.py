"""Reading a data directory as the contract describes it.

A data directory holds ``<table>.csv`` or ``<table>.parquet`` per table and an optional
``dataset.json``. This module finds the files, reads them into Arrow (CSV cells stay text
so that unreadable values can be reported verbatim; Parquet keeps its native types) and
turns CSV record positions into the line numbers a person sees in an editor.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from talentmap.contract import TABLES, column_kinds
from talentmap.contract_parse import parse_array
from talentmap.memory import release_unused_memory

Format = Literal["csv", "parquet"]
DATASET_FILE = "dataset.json"
DATASET_KEYS = ("name", "source", "licence", "snapshot_date")
_CHUNK = 1 << 22
# Longest CSV field accepted: Arrow's default block size; a record must fit in one block.
MAX_FIELD_CHARS = 1 << 20


class UnreadableFileError(Exception):
    """A table file that cannot be read at all (encoding, CSV structure, Parquet)."""


@dataclass(frozen=True)
class TableFile:
    """One table's file in a data directory."""

    table: str
    path: Path
    format: Format

    @property
    def row_kind(self) -> str:
        """How rows are numbered for people: CSV line (header = 1) or Parquet row index."""
        return "line" if self.format == "csv" else "row"


@dataclass(frozen=True)
class DatasetInfo:
    """What ``dataset.json`` says about the dataset (every field optional)."""

    name: str | None = None
    source: str | None = None
    licence: str | None = None
    snapshot_date: date | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """A directory-level problem (no row): rule, file, table, column, value, message."""

    rule: str
    file: str
    table: str | None
    message: str
    column: str | None = None
    value: str | None = None


@dataclass
class DataDirectory:
    """The result of scanning a data directory."""

    path: Path
    files: dict[str, TableFile]
    dataset: DatasetInfo
    findings: list[Finding]
    warnings: list[str]


def scan_data_dir(path: Path) -> DataDirectory:
    """Find table files and read ``dataset.json``; never reads table contents."""
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a directory")
    findings: list[Finding] = []
    warnings: list[str] = []
    by_table: dict[str, list[TableFile]] = {}
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or entry.is_dir():
            continue  # sub-folders (e.g. the generator's truth/) are outside the contract
        if entry.name == DATASET_FILE:
            continue
        suffix = entry.suffix.lower()
        if suffix in (".csv", ".parquet") and entry.stem in TABLES:
            fmt: Format = "csv" if suffix == ".csv" else "parquet"
            by_table.setdefault(entry.stem, []).append(TableFile(entry.stem, entry, fmt))
        else:
            warnings.append(f"{entry.name}: not a table of the contract, ignored")
    files: dict[str, TableFile] = {}
    for table in TABLES:
        candidates = by_table.get(table, [])
        if len(candidates) > 1:
            names = " and ".join(c.path.name for c in candidates)
            findings.append(
                Finding(
                    "ambiguous_table",
                    names,
                    table,
                    f"both {names} exist; keep exactly one file per table",
                )
            )
        elif candidates:
            files[table] = candidates[0]
    dataset, dataset_findings = read_dataset_json(path / DATASET_FILE)
    findings.extend(dataset_findings)
    for key in dataset.extra:
        warnings.append(f"{DATASET_FILE}: unknown key {key!r} kept but not used")
    return DataDirectory(path, files, dataset, findings, warnings)


def read_dataset_json(path: Path) -> tuple[DatasetInfo, list[Finding]]:
    """Parse the optional ``dataset.json``; problems are findings, not exceptions."""
    if not path.exists():
        return DatasetInfo(), []

    def bad(message: str, column: str | None = None, value: str | None = None) -> Finding:
        return Finding("dataset_json", DATASET_FILE, None, message, column, value)

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return DatasetInfo(), [bad(f"not valid UTF-8 JSON: {exc}")]
    if not isinstance(raw, dict):
        return DatasetInfo(), [bad("must hold a JSON object")]
    findings = []
    texts: dict[str, str | None] = {}
    for key in ("name", "source", "licence"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            findings.append(bad(f"{key} must be a string", key, repr(value)))
            value = None
        texts[key] = value
    snapshot = None
    if raw.get("snapshot_date") is not None:
        text = raw["snapshot_date"]
        try:
            if not isinstance(text, str) or len(text) != 10:
                raise ValueError
            snapshot = date.fromisoformat(text)
        except ValueError:
            findings.append(bad("snapshot_date must be YYYY-MM-DD", "snapshot_date", repr(text)))
    extra = {k: v for k, v in raw.items() if k not in DATASET_KEYS}
    info = DatasetInfo(texts["name"], texts["source"], texts["licence"], snapshot, extra)
    return info, findings


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file (raises ``UnreadableFileError``)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (UnicodeDecodeError, csv.Error) as exc:
        # Say where and why (issue 5, hostile input): the codec's own message gives a
        # position inside an 8 KB chunk, which a person cannot use.
        raise UnreadableFileError(diagnose_csv(path, None) or f"not UTF-8: {exc}") from exc
    if not header:
        raise UnreadableFileError("empty file: a header row is required")
    if any("\x00" in name for name in header):
        raise UnreadableFileError(diagnose_csv(path, None) or "NUL byte in the header")
    return header


def file_columns(tf: TableFile) -> list[str]:
    """Column names of a table file, without reading its rows."""
    if tf.format == "csv":
        return csv_header(tf.path)
    try:
        return list(pq.read_schema(tf.path).names)
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFileError(f"not a readable Parquet file: {exc}") from exc


def read_raw(tf: TableFile, columns: list[str] | None = None) -> pa.Table:
    """Read a table file into Arrow: CSV cells as text (empty = ""), Parquet natively."""
    if tf.format == "parquet":
        try:
            return pq.read_table(tf.path, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise UnreadableFileError(f"not a readable Parquet file: {exc}") from exc
    header = csv_header(tf.path)
    try:
        table = pacsv.read_csv(
            tf.path,
            read_options=pacsv.ReadOptions(encoding="utf8"),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                include_columns=columns,
            ),
        )
    except (pa.ArrowException, OSError) as exc:
        # Arrow's messages name no line ("Expected 9 columns, got 2", "straddling object
        # straddles two block boundaries"): find the first bad record the slow way.
        found = diagnose_csv(tf.path, len(header))
        arrow = f"not a valid UTF-8 CSV file: {_shorten(str(exc))}"
        raise UnreadableFileError(f"{found} [{arrow}]" if found else arrow) from exc
    if _has_nul(table):
        # Arrow reads NUL bytes as text; a NUL in a CSV means binary or UTF-16 content,
        # and it would break every C-string consumer downstream: refuse the file.
        raise UnreadableFileError(diagnose_csv(tf.path, len(header)) or "NUL byte in a value")
    return table


def _shorten(text: str, limit: int = 200) -> str:
    # Arrow quotes the offending row, which may be megabytes long.
    return text if len(text) <= limit else text[:limit] + "…"


def _has_nul(table: pa.Table) -> bool:
    return any(
        pc.any(pc.match_substring(column, "\x00")).as_py()
        for column in table.columns
        if pa.types.is_string(column.type) and column.null_count < len(column)
    )


def diagnose_csv(path: Path, n_columns: int | None) -> str | None:
    """Where and why a CSV file cannot be read: "line N: ..." (None if nothing is found).

    The slow path, run only after a fast reader failed. Checks, in file order: UTF-16
    text, bytes that are not UTF-8, NUL bytes, a field longer than ``MAX_FIELD_CHARS``, a
    quoted field never closed (a truncated file), and a record whose number of fields
    differs from the header's (``n_columns``).
    """
    with path.open("rb") as handle:
        start = handle.read(4)
    if start[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "looks like UTF-16 text (byte-order mark); save the file as UTF-8"
    line, offset = 1, 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = chunk[exc.start : exc.start + 1].hex()
                line += chunk.count(b"\n", 0, exc.start)
                return (
                    f"line {line}: byte 0x{bad} at offset {offset + exc.start} is not UTF-8 "
                    "(Latin-1 or Windows-1252 text? save the file as UTF-8)"
                )
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line += chunk.count(b"\n", 0, nul)
                return f"line {line}: NUL byte at offset {offset + nul}; not a text CSV file"
            line += chunk.count(b"\n")
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        # The chunks decoded, but the file ends inside a multi-byte character.
        return f"line {line}: the file ends inside a UTF-8 character (a truncated file?)"
    with _field_limit(), path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        previous_end = 0
        try:
            header = next(reader, None)
            expected = n_columns if n_columns is not None else len(header or [])
            previous_end = reader.line_num
            for record in reader:
                start_line = previous_end + 1
                previous_end = reader.line_num
                if record and len(record) != expected:
                    return (
                        f"line {start_line}: {len(record)} field(s) where the header has "
                        f"{expected} (a truncated or misquoted row?)"
                    )
        except csv.Error as exc:
            where = f"line {previous_end + 1}"
            if "field larger than field limit" in str(exc):
                return f"{where}: a field is longer than {MAX_FIELD_CHARS:,} characters"
            if "unexpected end of data" in str(exc) or "EOF" in str(exc):
                return f"{where}: a quoted field is never closed (a truncated file?)"
            return f"{where}: {exc}"
    return None


@contextmanager
def _field_limit() -> Iterator[None]:
    """Python's csv module with the same longest field as Arrow (its default is 128 KiB)."""
    previous = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


@dataclass
class ParsedTable:
    """A typed table (all rows, unreadable cells missing) and its unreadable cells."""

    frame: pd.DataFrame
    problems: pd.DataFrame  # columns: pos, column, value, rule


def parse_table(table: str, raw: pa.Table) -> ParsedTable:
    """Parse the contract columns of ``raw``; extra columns are kept untouched.

    Each raw column is let go as soon as it is parsed (and Arrow's pool asked to return
    what it freed), so a large table never holds its raw text and its typed values, nor
    the parsing's intermediate arrays, all at once: the caller should not keep ``raw``.
    """
    kinds = column_kinds(table)
    data: dict[str, pd.Series] = {}
    problems = []
    n_rows = raw.num_rows
    names = raw.column_names
    columns = dict(zip(names, raw.columns, strict=True))
    del raw
    for name in names:
        column = columns.pop(name)
        if name in kinds:
            parsed = parse_array(column, kinds[name])
            data[name] = parsed.values
            if parsed.n_bad:
                rule = "date" if kinds[name].value == "date" else "type"
                problems.append(
                    pd.DataFrame(
                        {
                            "pos": parsed.bad_positions,
                            "column": name,
                            "value": pd.Series(parsed.bad_values, dtype=object),
                            "rule": rule,
                        }
                    )
                )
        else:
            data[name] = _extra_to_pandas(column)
        del column
        release_unused_memory()
    frame = pd.DataFrame(data, index=pd.RangeIndex(n_rows), copy=False)
    found = pd.concat(problems, ignore_index=True) if problems else empty_problems()
    return ParsedTable(frame, found)


def _extra_to_pandas(column: pa.ChunkedArray) -> pd.Series:
    if pa.types.is_string(column.type):
        # Same missing-value rule as contract columns: an empty CSV cell is unknown.
        column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    return column.to_pandas()


def empty_problems() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pos": pd.Series(dtype=np.int64),
            "column": pd.Series(dtype=object),
            "value": pd.Series(dtype=object),
            "rule": pd.Series(dtype=object),
        }
    )


def row_numbers(tf: TableFile, positions: np.ndarray, n_rows: int) -> np.ndarray:
    """Map 0-based record positions to what people see: CSV lines or Parquet rows.

    For CSV the answer is position + 2 unless some record spans several lines (a quoted
    newline) or blank lines were skipped; only then is the file walked record by record.
    """
    positions = np.asarray(positions, dtype=np.int64)
    if tf.format == "parquet":
        return positions
    if _physical_lines(tf.path) == n_rows + 1:
        return positions + 2
    starts = np.fromiter(_record_start_lines(tf.path), dtype=np.int64)
    return starts[positions]


def _physical_lines(path: Path) -> int:
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _record_start_lines(path: Path) -> Iterator[int]:
    """1-based first line of every data record (the rare slow path)."""
    with _field_limit(), path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        previous_end = reader.line_num
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not record:
                continue  # blank line: Arrow skips it too
            yield start
