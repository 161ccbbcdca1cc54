"""The published tables as bytes: CSV with fixed formatting, Parquet without a clock, JSON.

Every function here is deterministic: the same frame gives the same bytes, on any machine with
the same library versions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis import metrics
from analysis.snapshot.build import SUPPRESSED


def field_kind(series: pd.Series) -> str:
    if isinstance(series.dtype, pd.BooleanDtype) or series.dtype == bool:
        return "boolean"
    if isinstance(series.dtype, pd.Int64Dtype):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "string"


def hidden_by_column(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """For each published column, the rows where it holds a suppressed value."""
    hidden = {}
    for column in frame.columns:
        if column.endswith("_suppressed"):
            continue
        family = metrics.family_of(column)
        flag = f"{family}_suppressed" if family else None
        if flag in frame.columns:
            hidden[column] = frame[flag].to_numpy(dtype=bool)
    if "suppressed" in frame.columns:  # survival curves: a whole row
        for column in frame.columns:
            if column not in ("metric", "company", "suppressed"):
                hidden[column] = frame["suppressed"].to_numpy(dtype=bool)
    return hidden


def _csv_cell(value, kind: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "integer":
        return str(int(value))
    if kind == "number":
        value = float(value)
        if math.isinf(value):
            return "INF" if value > 0 else "-INF"
        return np.format_float_positional(value, trim="-")
    return str(value)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV with fixed formatting: ``\\n`` line ends, minimal quoting, floats positional (shortest
    representation of the 6-significant-digit value), booleans true/false, missing empty,
    suppressed cells ``suppressed``."""
    kinds = {column: field_kind(frame[column]) for column in frame.columns}
    hidden = hidden_by_column(frame)
    columns = []
    for column in frame.columns:
        cells = [_csv_cell(v, kinds[column]) for v in frame[column].tolist()]
        if column in hidden:
            cells = [SUPPRESSED if h else c for c, h in zip(cells, hidden[column], strict=True)]
        columns.append(cells)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(frame.columns)
    writer.writerows(zip(*columns, strict=True))
    return buffer.getvalue().encode("utf-8")


_ARROW_TYPES = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}
PARQUET_NOTE = (
    "Client Roi snapshot. A value resting on fewer than min_cell responses (manifest.json) is "
    "null here and its family's <family>_suppressed column is true; in the CSV files the same "
    "cells hold the marker 'suppressed'."
)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet written by pyarrow with an explicit schema and no pandas metadata: the bytes
    depend only on the values and the pyarrow version (``created_by``), never on the clock."""
    schema = pa.schema(
        [pa.field(c, _ARROW_TYPES[field_kind(frame[c])]) for c in frame.columns],
        metadata={"clientroi.suppression": PARQUET_NOTE},
    )
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    table = table.replace_schema_metadata({"clientroi.suppression": PARQUET_NOTE})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", store_schema=True)
    return sink.getvalue().to_pybytes()


def json_bytes(value) -> bytes:
    """``value`` as indented UTF-8 JSON, keys in their given order, with a final newline."""
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode()


def sha256(data: bytes) -> str:
    """Hexadecimal SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
