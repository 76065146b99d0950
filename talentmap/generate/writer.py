"""Append-only writers for the data directory: one file per table, CSV or Parquet.

The column order and types are fixed here so that every chunk appends to the same file
and the bytes depend only on the data (same seed, same files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

Format = Literal["csv", "parquet"]

_S, _D, _I, _F, _B = pa.string(), pa.date32(), pa.int64(), pa.float64(), pa.bool_()

#: The contract's tables and columns, in order, with the Arrow type each is written with.
TABLES: dict[str, pa.Schema] = {
    "organizations": pa.schema(
        [
            ("org_id", _S),
            ("name", _S),
            ("founded_on", _D),
            ("closed_on", _D),
            ("first_seen_on", _D),
            ("country", _S),
            ("region", _S),
            ("city", _S),
            ("sector", _S),
        ]
    ),
    "people": pa.schema([("person_id", _S), ("full_name", _S), ("gender", _S), ("birth_year", _I)]),
    "roles": pa.schema(
        [
            ("person_id", _S),
            ("org_id", _S),
            ("role", _S),
            ("title", _S),
            ("started_on", _D),
            ("ended_on", _D),
        ]
    ),
    "education": pa.schema(
        [("person_id", _S), ("institution", _S), ("degree", _S), ("graduated_on", _D)]
    ),
    "funding_rounds": pa.schema(
        [
            ("round_id", _S),
            ("org_id", _S),
            ("announced_on", _D),
            ("round_type", _S),
            ("amount_eur", _F),
            ("n_investors", _I),
        ]
    ),
    "investments": pa.schema(
        [
            ("round_id", _S),
            ("investor_id", _S),
            ("investor_name", _S),
            ("investor_kind", _S),
            ("is_lead", _B),
        ]
    ),
    "programs": pa.schema(
        [
            ("org_id", _S),
            ("program_id", _S),
            ("program_name", _S),
            ("program_kind", _S),
            ("started_on", _D),
            ("ended_on", _D),
        ]
    ),
    "publications": pa.schema(
        [
            ("pub_id", _S),
            ("person_id", _S),
            ("org_id", _S),
            ("published_on", _D),
            ("kind", _S),
            ("venue", _S),
        ]
    ),
    "headcount": pa.schema([("org_id", _S), ("observed_on", _D), ("headcount", _I)]),
    "job_postings": pa.schema([("org_id", _S), ("posted_on", _D), ("category", _S)]),
    "exits": pa.schema([("org_id", _S), ("exit_kind", _S), ("exited_on", _D), ("amount_eur", _F)]),
    "opt_outs": pa.schema([("subject_kind", _S), ("subject_id", _S), ("since", _D)]),
    "jei_status": pa.schema([("org_id", _S), ("granted_on", _D), ("ended_on", _D)]),
}

ORACLE_SCHEMA = pa.schema(
    [("org_id", _S), ("as_of", _D), ("p_true", pa.float32()), ("p_path", pa.float32())]
)
HIDDEN_SCHEMA = pa.schema(
    [
        ("org_id", _S),
        ("latent", pa.float64()),
        ("quality", pa.float64()),
        ("team_talent", pa.float64()),
        ("women_led", _B),
        ("lead_gender", _S),
    ]
)


class _ParquetSink:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._w = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._w.write_table(table)

    def close(self) -> None:
        self._w.close()


class _CsvSink:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._f = path.open("wb")
        self._w = pacsv.CSVWriter(
            self._f, schema, write_options=pacsv.WriteOptions(quoting_style="needed")
        )

    def write(self, table: pa.Table) -> None:
        self._w.write_table(table)

    def close(self) -> None:
        self._w.close()
        self._f.close()


class DatasetWriter:
    """Opens every table file at once (so empty tables still get a header) and appends."""

    def __init__(self, out_dir: Path, fmt: Format, *, hidden: bool) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "truth").mkdir(exist_ok=True)
        other = "parquet" if fmt == "csv" else "csv"
        self.rows: dict[str, int] = dict.fromkeys(TABLES, 0)
        self._sinks: dict[str, _ParquetSink | _CsvSink] = {}
        for name, schema in TABLES.items():
            (out_dir / f"{name}.{other}").unlink(missing_ok=True)
            path = out_dir / f"{name}.{fmt}"
            self._sinks[name] = (_CsvSink if fmt == "csv" else _ParquetSink)(path, schema)
        self._sinks["_oracle"] = _ParquetSink(out_dir / "truth" / "oracle.parquet", ORACLE_SCHEMA)
        hidden_path = out_dir / "truth" / "hidden.parquet"
        hidden_path.unlink(missing_ok=True)
        if hidden:
            self._sinks["_hidden"] = _ParquetSink(hidden_path, HIDDEN_SCHEMA)

    def write(self, name: str, columns: dict[str, pa.Array]) -> None:
        schema = TABLES.get(name) or (ORACLE_SCHEMA if name == "_oracle" else HIDDEN_SCHEMA)
        if name not in self._sinks:
            return
        table = pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)
        self._sinks[name].write(table)
        if name in self.rows:
            self.rows[name] += table.num_rows

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()
