"""Finding source files and streaming them in bounded memory.

Every source file is read batch by batch (``pyarrow.csv.open_csv`` or
``ParquetFile.iter_batches``), only the columns an importer asks for, and always as
text: importers normalise values themselves so that every change can be counted.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

# (bytes or rows done, total) for one file; the command turns it into a progress bar.
Tick = Callable[[int, int], None]
# Opens a progress task for a file: (label, total) -> tick.
ProgressFactory = Callable[[str, int], Tick]

BLOCK_SIZE = 16 << 20
PARQUET_BATCH_ROWS = 200_000
SOURCE_SUFFIXES = (".csv", ".parquet")


class SourceError(Exception):
    """The source directory or one of its files cannot be used at all."""


def no_progress(label: str, total: int) -> Tick:
    def tick(done: int, total: int) -> None:
        return None

    return tick


def find_files(
    src: Path,
    names: Sequence[str],
    prefixes: Sequence[str] = ("",),
    suffixes: Sequence[str] = ("",),
) -> tuple[dict[str, Path], list[str]]:
    """Source files by table name (case-insensitive, optional prefixes and suffixes such as
    SIRENE's ``_utf8``); plus the files left unused."""
    if not src.is_dir():
        raise SourceError(f"{src} is not a directory")
    candidates: dict[str, list[Path]] = {}
    for entry in sorted(src.iterdir()):
        if entry.is_dir() or entry.name.startswith("."):
            continue
        if entry.suffix.lower() not in SOURCE_SUFFIXES:
            continue
        candidates.setdefault(entry.stem.lower(), []).append(entry)
    found: dict[str, Path] = {}
    used: set[Path] = set()
    for name in names:
        matches = [
            p
            for prefix in prefixes
            for suffix in suffixes
            for p in candidates.get(f"{prefix}{name}{suffix}".lower(), [])
        ]
        if len(matches) > 1:
            listed = ", ".join(p.name for p in matches)
            raise SourceError(f"table {name} has several files ({listed}); keep exactly one")
        if matches:
            found[name] = matches[0]
            used.add(matches[0])
    unused = [p.name for group in candidates.values() for p in group if p not in used]
    return found, unused


def clean_header_name(name: str) -> str:
    # Some conversions of SQL dumps quote every header ('id', "id") or keep a BOM.
    return name.strip().lstrip("\ufeff").strip().strip("'\"`").strip()


def read_header(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> list[str]:
    try:
        with path.open(
            encoding="utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding, newline=""
        ) as handle:
            header = next(csv.reader(handle, delimiter=delimiter), None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"{path.name}: cannot read the header row ({exc})") from exc
    if not header:
        raise SourceError(f"{path.name}: empty file, a header row is required")
    return [clean_header_name(h) for h in header]


def file_columns(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> list[str]:
    if path.suffix.lower() == ".parquet":
        try:
            return list(pq.read_schema(path).names)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"{path.name}: not a readable Parquet file ({exc})") from exc
    return read_header(path, delimiter, encoding)


def iter_batches(
    path: Path,
    columns: Sequence[str] | None = None,
    *,
    progress: ProgressFactory = no_progress,
    delimiter: str = ",",
    encoding: str = "utf-8",
    newlines_in_values: bool = True,
) -> Iterator[pa.Table]:
    """Yield ``path`` as Arrow tables of text columns, in order; absent columns are null.

    Memory stays bounded by one block (CSV) or one row group batch (Parquet) whatever the
    file size. Empty CSV cells come out as empty strings; importers decide what they mean.
    """
    header = file_columns(path, delimiter, encoding)
    wanted = list(dict.fromkeys(columns)) if columns is not None else list(header)
    present = [c for c in wanted if c in header]
    if path.suffix.lower() == ".parquet":
        yield from _parquet_batches(path, wanted, present, progress)
        return
    size = path.stat().st_size
    tick = progress(path.name, size)
    handle = path.open("rb")
    try:
        reader = pacsv.open_csv(
            handle,
            read_options=pacsv.ReadOptions(
                column_names=_unique(header),
                skip_rows=1,
                block_size=BLOCK_SIZE,
                encoding="utf8" if encoding.lower() in ("utf-8", "utf8") else encoding,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=newlines_in_values
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in _unique(header)},
                include_columns=present,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        for batch in reader:
            yield _complete(pa.Table.from_batches([batch]), wanted)
            tick(min(handle.tell(), size), size)
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{path.name}: not a readable CSV file ({_short(exc)})") from exc
    finally:
        handle.close()
    tick(size, size)


def _parquet_batches(
    path: Path, wanted: list[str], present: list[str], progress: ProgressFactory
) -> Iterator[pa.Table]:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{path.name}: not a readable Parquet file ({exc})") from exc
    total = parquet.metadata.num_rows
    tick = progress(path.name, total)
    done = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=present):
        table = pa.Table.from_batches([batch])
        yield _complete(_as_text(table), wanted)
        done += batch.num_rows
        tick(done, total)
    tick(total, total)


def _as_text(table: pa.Table) -> pa.Table:
    """Native Parquet values as the text a CSV export would hold (null -> empty)."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_timestamp(column.type):
            column = pc.strftime(column, format="%Y-%m-%d")
        elif pa.types.is_boolean(column.type):
            column = pc.if_else(column, "true", "false")
        elif not pa.types.is_string(column.type):
            column = column.cast(pa.string())
        columns.append(pc.fill_null(column.cast(pa.string()), ""))
    return pa.Table.from_arrays(columns, names=table.column_names)


def _complete(table: pa.Table, wanted: list[str]) -> pa.Table:
    if all(c in table.column_names for c in wanted):
        return table.select(wanted)
    arrays = [
        table.column(c) if c in table.column_names else pa.nulls(table.num_rows, pa.string())
        for c in wanted
    ]
    return pa.Table.from_arrays(arrays, names=wanted)


def _unique(header: list[str]) -> list[str]:
    # A repeated column name would make include_columns ambiguous: later copies get a suffix.
    seen: dict[str, int] = {}
    out = []
    for name in header:
        n = seen.get(name, 0)
        out.append(name if n == 0 else f"{name}__{n}")
        seen[name] = n + 1
    return out


def _short(exc: Exception, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "…"


def read_frame(
    path: Path,
    columns: Sequence[str] | None = None,
    *,
    progress: ProgressFactory = no_progress,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """A whole (small or column-pruned) source table as text; absent columns hold None.

    Also adds ``_row_hash``, a hash over *every* column of the file, so exact duplicate
    rows can be recognised even when only some columns are kept.
    """
    if columns is not None:
        columns = list(dict.fromkeys(columns))
    parts = []
    for batch in iter_batches(
        path, None, progress=progress, delimiter=delimiter, encoding=encoding
    ):
        frame = batch.to_pandas()
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        keep = [c for c in (columns or frame.columns) if c in frame.columns]
        part = frame[keep].copy()
        part["_row_hash"] = hashes
        parts.append(part)
    wanted = list(columns) if columns is not None else file_columns(path, delimiter, encoding)
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in wanted})
        empty["_row_hash"] = pd.Series(dtype="uint64")
        return empty
    out = pd.concat(parts, ignore_index=True)
    for c in wanted:
        if c not in out.columns:
            out[c] = None
    return out
