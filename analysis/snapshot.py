"""The published comparison snapshot: frozen aggregates, private by construction, citable, offline.

``clientroi publish`` (and the researchers' *Publier* page) turn the responses that may be
published into a folder ``<out>/<as_of>-<first 8 hex of the input hash>/`` holding a
self-contained French report (``index.html``, English ``index.en.html``), the aggregates
(``kpis.csv``, ``kpis.parquet``, ``survival_curves.csv``), a Frictionless Data descriptor
(``datapackage.json``) and a ``manifest.json`` that says how to reproduce every byte.

The work is split so each part can be tested alone:

- :func:`fetch_qualifying` reads the responses that may be published (consented, unflagged,
  non-synthetic, submitted on or before ``as_of``; deleted responses no longer exist);
- :func:`build_snapshot` is pure: responses in, a :class:`Snapshot` of published (suppressed)
  tables out;
- :func:`render` turns a snapshot into the bytes of every file;
- :func:`write_snapshot` writes them into a temporary folder beside the target and renames it,
  so a folder of that name is either complete or absent;
- :func:`publish` chains the three, and refuses with :class:`SnapshotRefused` (one-line reason).

Suppression convention: a value resting on fewer than ``min_cell`` responses (its own metric
base ``<family>_n``) is replaced, together with its interval, test and base, by the marker
``suppressed`` in the CSV files, by null in Parquet with ``<family>_suppressed = true``, and by
"masqué" / "suppressed" in the reports. A company under ``min_cell`` responses shows its ``n``
only. Group cells are also suppressed when the suppressed company cells of the group would
otherwise be recoverable by difference (secondary suppression). Survival curves are published
per company only and stop before the first day with fewer than ``min_cell`` incidents at risk.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import html
import importlib.metadata
import io
import json
import math
import os
import platform
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from analysis import charts, dashboard, kpis
from survey import store as storage
from survey.questionnaire import QUESTIONNAIRE_VERSION, TOO_FAST_SECONDS
from survey.validation import paris_today

__all__ = [
    "DEFAULT_MIN_CELL",
    "FILES",
    "INPUT_COLUMNS",
    "SEED",
    "SUPPRESSED",
    "Publication",
    "Snapshot",
    "SnapshotRefused",
    "build_snapshot",
    "fetch_qualifying",
    "input_sha256",
    "list_snapshots",
    "open_database",
    "parse_as_of",
    "prepare_snapshot",
    "publish",
    "qualifying_filters",
    "render",
    "software_versions",
    "write_snapshot",
    "zip_snapshot",
]

SEED = dashboard.DEFAULT_SEED
"""Seed of the bootstrap intervals: the dashboard's, so both show the same intervals."""
DEFAULT_MIN_CELL = 10
SUPPRESSED = "suppressed"
"""The marker written in CSV files in place of every suppressed value."""
FILES = (
    "datapackage.json",
    "index.en.html",
    "index.html",
    "kpis.csv",
    "kpis.parquet",
    "manifest.json",
    "survival_curves.csv",
)
AT_RISK_DAYS = dashboard.AT_RISK_DAYS
CHART_WIDTH = 760
SIGNIFICANT_DIGITS = 6

# The columns a snapshot reads, with the Arrow type of their canonical form (the input hash).
INPUT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("response_id", pa.string()),
    ("submitted_on", pa.date32()),
    ("company", pa.string()),
    ("company_name", pa.string()),
    ("sector", pa.string()),
    ("origin", pa.string()),
    ("status", pa.string()),
    ("started_on", pa.date32()),
    ("ended_on", pa.date32()),
    ("refund_requested", pa.bool_()),
    ("refund_outcome", pa.string()),
    ("refund_requested_on", pa.date32()),
    ("refund_received_on", pa.date32()),
    ("wasted_trips", pa.int64()),
    ("wasted_km", pa.float64()),
    ("technician_visits_useless", pa.int64()),
    ("callbacks_promised", pa.int64()),
    ("callbacks_received", pa.int64()),
    ("false_resolved_count", pa.int64()),
    ("loaner_offered", pa.bool_()),
    ("loaner_obtained", pa.bool_()),
    ("loaner_cut_before_resolution", pa.bool_()),
    ("csat", pa.int64()),
    ("effort", pa.int64()),
    ("nps", pa.int64()),
)
# Read only to check, once more, that every row may be published.
ELIGIBILITY_COLUMNS = (
    "source",
    "flag_honeypot",
    "flag_too_fast",
    "flag_duplicate",
    "consent_research",
)
# company_name, sector and origin come from the reference list, joined by the store.
_JOINED = ("company_name", "sector", "origin")
FETCHED_COLUMNS = tuple(n for n, _ in INPUT_COLUMNS if n not in _JOINED) + ELIGIBILITY_COLUMNS
_CSV_WRITE = {
    "include_header": True,
    "delimiter": ",",
    "eol": "\n",
    "null_string": "",
    "quoting_style": "needed",
    "quoting_header": "needed",
}
UNLISTED = dashboard.UNLISTED


class SnapshotRefused(Exception):
    """A snapshot cannot be published; the message is the one-line reason."""


@dataclass(frozen=True)
class Snapshot:
    """What a snapshot publishes, before it is turned into files (see :func:`render`).

    Attributes
    ----------
    as_of : datetime.date
        Responses submitted on or before this day (Paris time).
    min_cell : int
        Smallest number of responses a published value may rest on.
    seed : int
        Seed of the bootstrap intervals.
    rows : int
        Responses used.
    input_sha256 : str
        SHA-256 of the canonical input rows (:func:`input_sha256`).
    submitted_from, submitted_to : datetime.date
        First and last submission day among the responses used.
    kpis : pandas.DataFrame
        The published table: one row per company then per sector x origin group, suppressed
        cells null and flagged in ``<family>_suppressed``.
    curves : pandas.DataFrame
        The published Kaplan-Meier curves per company (``metric`` resolution or refund_time);
        a curve that is suppressed entirely is one row with ``suppressed`` true.
    settings : dict
        The statistics' settings (confidence level, small base, resamples...).
    """

    as_of: date
    min_cell: int
    seed: int
    rows: int
    input_sha256: str
    submitted_from: date
    submitted_to: date
    kpis: pd.DataFrame
    curves: pd.DataFrame
    settings: dict

    @property
    def name(self) -> str:
        """The folder name: ``<as_of>-<first 8 hex of the input hash>``."""
        return f"{self.as_of.isoformat()}-{self.input_sha256[:8]}"

    @property
    def companies(self) -> pd.DataFrame:
        return self.kpis[self.kpis["level"] == "company"].reset_index(drop=True)

    @property
    def groups(self) -> pd.DataFrame:
        return self.kpis[self.kpis["level"] == "group"].reset_index(drop=True)

    def n_per_company(self) -> dict[str, int]:
        return {
            str(c): int(n) for c, n in zip(self.companies["id"], self.companies["n"], strict=True)
        }

    def overview(self, locale: str = "fr") -> pd.DataFrame:
        """What would be published, per company then group: its n, whether its figures are
        shown (n >= min_cell) and how many of its metric families are suppressed."""
        flags = [c for c in self.kpis.columns if c.endswith("_suppressed")]
        return pd.DataFrame(
            {
                "level": self.kpis["level"].to_numpy(),
                "name": [_display_name(row, locale) for _, row in self.kpis.iterrows()],
                "n": self.kpis["n"].astype(int).to_numpy(),
                "shown": (self.kpis["n"] >= self.min_cell).to_numpy(dtype=bool),
                "suppressed_metrics": self.kpis[flags].sum(axis=1).astype(int).to_numpy(),
                "metrics": len(flags),
            }
        )

    def suppressed_cells(self) -> dict[str, int]:
        """Number of suppressed (row, metric family) cells per level."""
        flags = [c for c in self.kpis.columns if c.endswith("_suppressed")]
        counts = self.kpis.groupby("level")[flags].sum().sum(axis=1)
        return {level: int(counts.get(level, 0)) for level in ("company", "group")}


@dataclass(frozen=True)
class Publication:
    """Where a snapshot was written; ``created`` is False when an identical one was there."""

    folder: Path
    snapshot: Snapshot
    created: bool


# --- reading ----------------------------------------------------------------------------------


def qualifying_filters(as_of: date) -> storage.Filters:
    """The only responses a snapshot may use: consented, unflagged, real, up to ``as_of``."""
    return storage.Filters(
        include_synthetic=False, include_flagged=False, consented_only=True, submitted_to=as_of
    )


def fetch_qualifying(store: storage.Store, *, as_of: date) -> pd.DataFrame:
    """The publishable responses as of ``as_of``, with only the columns a snapshot reads."""
    # In a fixed order (ordered=True): floating-point totals (kilometres) are summed in row
    # order, and an unordered parallel scan could change their last bits from run to run.
    return store.fetch_responses(
        qualifying_filters(as_of), columns=list(FETCHED_COLUMNS), ordered=True
    )


def open_database(path: str | os.PathLike) -> storage.Store:
    """The store at ``path``, read-only; refuses when there is no database there."""
    path = Path(path)
    if not path.is_file():
        raise SnapshotRefused(f"no database at {path}")
    return storage.connect(path, read_only=True)


# --- the input hash ---------------------------------------------------------------------------


class _HashingSink(io.RawIOBase):
    """A write-only file that feeds SHA-256 instead of keeping the bytes."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.digest.update(data)
        return len(data)


def _canonical_table(responses: pd.DataFrame) -> pa.Table:
    arrays = []
    for name, kind in INPUT_COLUMNS:
        series = responses[name]
        if pa.types.is_date32(kind):
            values = pd.to_datetime(series)
            if isinstance(values.dtype, pd.DatetimeTZDtype):
                values = values.dt.tz_localize(None)
            array = pa.array(values.to_numpy().astype("datetime64[D]"), from_pandas=True)
        elif pa.types.is_integer(kind):
            array = pa.array(pd.to_numeric(series), from_pandas=True).cast(kind)
        else:
            array = pa.array(series, type=kind, from_pandas=True)
        arrays.append(array.cast(kind))
    return pa.Table.from_arrays(arrays, names=[name for name, _ in INPUT_COLUMNS])


def input_sha256(responses: pd.DataFrame) -> str:
    """SHA-256 of the canonical form of the input rows (the recipe is in ``manifest.json``).

    The columns of :data:`INPUT_COLUMNS`, cast to their Arrow types, rows sorted by
    ``response_id``, written by ``pyarrow.csv.write_csv`` (header, ``,``, ``\\n``, missing
    values empty, strings quoted, dates ``YYYY-MM-DD``, booleans ``true``/``false``), hashed.
    Free text, e-mails and quality flags are not part of it.
    """
    table = _canonical_table(responses).sort_by([("response_id", "ascending")])
    sink = _HashingSink()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(**_CSV_WRITE))
    return sink.digest.hexdigest()


# --- building ---------------------------------------------------------------------------------


def _validate_min_cell(min_cell) -> int:
    if isinstance(min_cell, bool) or not isinstance(min_cell, (int, np.integer)) or min_cell < 1:
        raise ValueError("`min_cell` must be a whole number of at least 1.")
    return int(min_cell)


def parse_as_of(text: str | None) -> date | None:
    """``--as-of`` as a date (None stays None: today)."""
    return None if text is None else _validate_as_of(text)


def _validate_as_of(as_of) -> date:
    if isinstance(as_of, str):
        try:
            return date.fromisoformat(as_of)
        except ValueError:
            raise ValueError("`as_of` must be a date (YYYY-MM-DD).") from None
    if isinstance(as_of, pd.Timestamp):
        return as_of.date()
    if isinstance(as_of, date):
        return as_of if type(as_of) is date else date(as_of.year, as_of.month, as_of.day)
    raise ValueError("`as_of` must be a date (YYYY-MM-DD).")


def _check_publishable(responses: pd.DataFrame, as_of: date) -> None:
    """Refuse rows that no snapshot may hold, whoever fetched them."""
    missing = [c for c in FETCHED_COLUMNS + _JOINED if c not in responses.columns]
    if missing:
        raise ValueError(f"`responses` lacks the columns: {', '.join(missing)}.")
    problems = []
    if responses["source"].eq("synthetic").any():
        problems.append("synthetic rows")
    flagged = responses[["flag_honeypot", "flag_too_fast", "flag_duplicate"]].fillna(True)
    if flagged.astype(bool).any(axis=None):
        problems.append("flagged rows")
    if not responses["consent_research"].fillna(False).astype(bool).all():
        problems.append("rows without research consent")
    submitted = pd.to_datetime(responses["submitted_on"])
    if submitted.isna().any() or (submitted > pd.Timestamp(as_of)).any():
        problems.append("rows submitted after `as_of` or undated")
    if problems:
        raise ValueError(
            f"`responses` holds {', '.join(problems)}, which may not be published; "
            "read them with `fetch_qualifying`."
        )


def build_snapshot(
    responses: pd.DataFrame,
    *,
    as_of,
    min_cell: int = DEFAULT_MIN_CELL,
    seed: int = SEED,
) -> Snapshot:
    """The published aggregates of ``responses`` as of ``as_of``, suppressed below ``min_cell``.

    Parameters
    ----------
    responses : pandas.DataFrame
        The publishable responses (:func:`fetch_qualifying`), with the columns
        :data:`FETCHED_COLUMNS` and the store's ``company_name``, ``sector``, ``origin``.
        Rows that may not be published (synthetic, flagged, unconsented, after ``as_of``) are
        refused with ``ValueError``, not dropped.
    as_of : datetime.date or str
        The snapshot's date.
    min_cell : int, default 10
        A value resting on fewer responses than this is suppressed.
    seed : int
        Seed of the bootstrap intervals.

    Returns
    -------
    Snapshot

    Raises
    ------
    SnapshotRefused
        When ``responses`` is empty.

    Examples
    --------
    >>> from survey.demo import generate_frame
    >>> frame = generate_frame(400, seed=1, today=date(2026, 6, 15)).assign(source="web")
    >>> frame = frame[~frame["flag_too_fast"]]  # flagged rows may not be published
    >>> snap = build_snapshot(frame, as_of="2026-06-15", min_cell=10)
    >>> snap.name.startswith("2026-06-15-"), snap.rows
    (True, 400)
    >>> companies = snap.companies.set_index("id")
    >>> int(companies.loc["orange", "n"]), float(companies.loc["orange", "resolution_median_days"])
    (68, 12.0)
    >>> int(companies.loc["starlink", "n"]), bool(companies.loc["starlink", "resolution_suppressed"])
    (6, True)
    >>> bool(np.isnan(companies.loc["starlink", "resolution_median_days"]))  # suppressed
    True
    """
    as_of = _validate_as_of(as_of)
    min_cell = _validate_min_cell(min_cell)
    if not isinstance(responses, pd.DataFrame):
        raise ValueError("`responses` must be a pandas DataFrame.")
    if responses.empty:
        raise SnapshotRefused(
            f"no response qualifies as of {as_of.isoformat()} (consented, unflagged, "
            "non-synthetic, submitted on or before that day)"
        )
    _check_publishable(responses, as_of)
    digest = input_sha256(responses)
    frame = responses.assign(
        sector=responses["sector"].fillna(UNLISTED), origin=responses["origin"].fillna(UNLISTED)
    )
    tables = kpis.summary_tables(frame, as_of=as_of, rng=np.random.default_rng(seed))
    companies, groups = tables.companies, tables.groups
    layout = _layout(companies)
    company_hidden = _company_suppression(companies, layout, min_cell)
    group_hidden = _group_suppression(groups, companies, company_hidden, layout, min_cell)
    published = pd.concat(
        [
            _published_rows(companies, "company", layout, company_hidden),
            _published_rows(groups, "group", layout, group_hidden),
        ],
        ignore_index=True,
    )
    curves = _published_curves(frame, companies, company_hidden, as_of, min_cell)
    submitted = pd.to_datetime(responses["submitted_on"])
    attrs = companies.attrs
    settings = {
        "confidence_level": attrs.get("confidence_level", kpis.CONFIDENCE_LEVEL),
        "small_base": attrs.get("small_base", kpis.SMALL_BASE),
        "false_discovery_rate": attrs.get("significance_level", kpis.SIGNIFICANCE_LEVEL),
        "bootstrap_resamples": attrs.get("n_resamples"),
        "median_interval": attrs.get("median_method", kpis.MEDIAN_METHOD),
        "resolved_within_days": list(kpis.RESOLVED_WITHIN_DAYS),
        "rmst_horizon_days": kpis.RMST_HORIZON_DAYS,
    }
    return Snapshot(
        as_of=as_of,
        min_cell=min_cell,
        seed=int(seed),
        rows=len(responses),
        input_sha256=digest,
        submitted_from=submitted.min().date(),
        submitted_to=submitted.max().date(),
        kpis=published,
        curves=curves,
        settings=settings,
    )


# Disclosure control is shared with the public dashboard (analysis/dashboard.py).
_family_of = dashboard.family_of
_layout = dashboard.metric_layout
_company_suppression = dashboard.company_suppression
_group_suppression = dashboard.group_suppression
_FAMILY_LABELS = dashboard.FAMILY_LABELS


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "string"


def _round_significant(values: np.ndarray) -> np.ndarray:
    """Floats rounded to 6 significant digits, so CSV and Parquet hold the same numbers."""
    out = np.array(values, dtype=float)
    finite = np.isfinite(out) & (out != 0)
    out[finite] = [float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in out[finite]]
    return out


def _typed(values, kind: str, hidden: np.ndarray) -> pd.Series:
    if kind == "integer":
        series = pd.Series(values, dtype="Int64")
        series[hidden] = pd.NA
    elif kind == "number":
        series = pd.Series(_round_significant(values))
        series[hidden] = np.nan
    elif kind == "boolean":
        series = pd.Series(values, dtype="boolean")
        series[hidden] = pd.NA
    else:
        series = pd.Series(np.asarray(values, dtype=object))
        series[hidden] = None
    return series


def _flags(flags: pd.Series, p_adj: pd.Series) -> np.ndarray:
    """kpis writes "" for both "not significant" and "no test": say "none" for the first."""
    values = flags.fillna("").astype(str).to_numpy(dtype=object)
    untested = p_adj.isna().to_numpy()
    return np.where(values != "", values, np.where(untested, None, "none"))


def _published_rows(table, level, layout, hidden) -> pd.DataFrame:
    if level == "company":
        names = [name if isinstance(name, str) else None for name in table["company_name"].tolist()]
        identity = {
            "id": table["company"].astype(str).to_numpy(dtype=object),
            "name": names,
            "companies": [None] * len(table),
        }
    else:
        identity = {
            "id": table["group"].astype(str).to_numpy(dtype=object),
            "name": [_group_name(g, "en") for g in table["group"]],
            "companies": table["companies"].astype(str).to_numpy(dtype=object),
        }
    columns: dict[str, pd.Series] = {
        "level": pd.Series([level] * len(table), dtype=object),
        "id": pd.Series(identity["id"], dtype=object),
        "name": pd.Series(identity["name"], dtype=object),
        "sector": pd.Series(table["sector"].astype(str).to_numpy(), dtype=object),
        "origin": pd.Series(table["origin"].astype(str).to_numpy(), dtype=object),
        "companies": pd.Series(identity["companies"], dtype=object),
        "n": pd.Series(table["n"].to_numpy(), dtype="Int64"),
    }
    for family, family_columns in layout:
        mask = hidden[family]
        for column in family_columns:
            values = table[column]
            kind = _kind(values)
            if column.endswith("_vs_others_flag"):
                values = _flags(values, table[column.replace("_flag", "_p_adj")])
            columns[column] = _typed(np.asarray(values), kind, mask)
        columns[f"{family}_suppressed"] = pd.Series(mask, dtype=bool)
    return pd.DataFrame(columns)


def _published_curves(frame, companies, hidden, as_of, min_cell) -> pd.DataFrame:
    """Company curves, each cut before its first point with fewer than ``min_cell`` at risk."""
    pieces = []
    for metric in ("resolution", "refund_time"):
        curves = kpis.survival_curves(frame, as_of=as_of, metric=metric, by="company")
        by_company = dict(tuple(curves.groupby("company", sort=False))) if len(curves) else {}
        for position, company in enumerate(companies["company"].astype(str)):
            curve = by_company.get(company)
            if hidden[metric][position] or curve is None:
                pieces.append(
                    pd.DataFrame({"metric": [metric], "company": [company], "suppressed": [True]})
                )
                continue
            at_risk = curve["n_at_risk"].to_numpy()
            kept = curve[np.minimum.accumulate(at_risk) >= min_cell]
            pieces.append(kept.assign(metric=metric, suppressed=False))
    columns = ["metric", "company", "time", "n_at_risk", "n_events", "n_censored"]
    columns += ["survival", "low", "high", "suppressed"]
    curves = pd.concat(pieces, ignore_index=True).reindex(columns=columns)
    out = pd.DataFrame(
        {
            "metric": curves["metric"].astype(object),
            "company": curves["company"].astype(object),
            "time": pd.Series(np.round(curves["time"].to_numpy(dtype=float)), dtype="Int64"),
        }
    )
    for column in ("n_at_risk", "n_events", "n_censored"):
        out[column] = pd.Series(curves[column].to_numpy(dtype=float), dtype="Int64")
    for column in ("survival", "low", "high"):
        out[column] = _round_significant(curves[column].to_numpy(dtype=float))
    out["suppressed"] = curves["suppressed"].astype(bool).to_numpy()
    return out


# --- files: tables ----------------------------------------------------------------------------


def _field_kind(series: pd.Series) -> str:
    if isinstance(series.dtype, pd.BooleanDtype) or series.dtype == bool:
        return "boolean"
    if isinstance(series.dtype, pd.Int64Dtype):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "string"


def _hidden_by_column(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """For each published column, the rows where it holds a suppressed value."""
    hidden = {}
    for column in frame.columns:
        if column.endswith("_suppressed"):
            continue
        family = _family_of(column)
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


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV with fixed formatting: ``\\n`` line ends, minimal quoting, floats positional (shortest
    representation of the 6-significant-digit value), booleans true/false, missing empty,
    suppressed cells ``suppressed``."""
    kinds = {column: _field_kind(frame[column]) for column in frame.columns}
    hidden = _hidden_by_column(frame)
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


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet written by pyarrow with an explicit schema and no pandas metadata: the bytes
    depend only on the values and the pyarrow version (``created_by``), never on the clock."""
    schema = pa.schema(
        [pa.field(c, _ARROW_TYPES[_field_kind(frame[c])]) for c in frame.columns],
        metadata={"clientroi.suppression": PARQUET_NOTE},
    )
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    table = table.replace_schema_metadata({"clientroi.suppression": PARQUET_NOTE})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", store_schema=True)
    return sink.getvalue().to_pybytes()


# --- files: descriptions ----------------------------------------------------------------------

_FIXED_DESCRIPTIONS = {
    "level": "'company' (one company) or 'group' (companies of one sector and origin pooled)",
    "id": "company identifier (reference list), or group 'sector/origin'",
    "name": "company name, or group name in English",
    "sector": "isp (internet and telephone providers) or retailer; 'unlisted' for other companies",
    "origin": "fr (French company) or foreign; 'unlisted' for other companies",
    "companies": "for a group: its companies (identifiers, comma-separated)",
    "n": "responses used for this company or group (always published)",
    "metric": "resolution (time to resolution) or refund_time (time to refund)",
    "company": "company identifier (reference list)",
    "time": "days since the problem started (resolution) or since the refund request",
    "n_at_risk": "incidents still followed and not yet resolved (refunded) at this time",
    "n_events": "resolutions (refunds) on this day",
    "n_censored": "incidents leaving follow-up on this day without resolution (refund)",
    "survival": "Kaplan-Meier share not yet resolved (refunded) after this day",
    "low": "lower bound of the pointwise 95% interval (log-log)",
    "high": "upper bound of the pointwise 95% interval (log-log)",
    "suppressed": "true when the whole curve is suppressed (fewer than min_cell responses)",
    "callbacks_kept_promised_total": "callbacks promised in all, over the responses of the base",
    "wasted_km_total": "kilometres driven for nothing in all, over the answers (wasted_km_n)",
}
_SUFFIX_DESCRIPTIONS = (
    (
        "_suppressed",
        "true when fewer than min_cell responses enter this metric: its other "
        "columns then hold 'suppressed' (CSV) or null (Parquet)",
    ),
    (
        "_vs_others_flag",
        "better / worse than all others pooled (Benjamini-Hochberg adjusted "
        "p < 0.05), none: no significant difference, empty: no test possible",
    ),
    (
        "_vs_others_p_adj",
        "p-value of the comparison with all others, Benjamini-Hochberg "
        "adjusted across every comparison of the level's table",
    ),
    ("_vs_others_p", "p-value of the comparison with all others pooled"),
    ("_small_base", "true when fewer than 30 responses enter the metric (wide interval)"),
    ("_n", "responses entering the metric (its base)"),
    ("_events", "responses whose event (resolution, refund) was observed"),
    ("_excluded", "responses left out of the metric: missing or negative duration"),
    ("_median_days", "Kaplan-Meier median in days; empty when not reached"),
    ("_median_low", "lower bound of the median's 95% interval (Brookmeyer-Crowley, log-log)"),
    ("_median_high", "upper bound of the median's 95% interval; empty when not reached"),
    ("_days", "restricted mean to 90 days (days)"),
    ("_share", "share, from 0 to 1"),
    ("_mean", "mean per response"),
    ("_score", "score from -100 to 100"),
    ("_ratio", "callbacks received / callbacks promised, from 0 to 1"),
    ("_total", "total over the responses"),
    ("_low", "lower bound of the 95% interval"),
    ("_high", "upper bound of the 95% interval"),
)


def _describe(column: str, min_cell: int) -> str:
    if column in _FIXED_DESCRIPTIONS:
        text = _FIXED_DESCRIPTIONS[column]
    else:
        family = _family_of(column)
        label = _FAMILY_LABELS.get(family or "", family or column)
        within = re.match(r"(resolved|refunded)_within_(\d+)d_", column)
        if within:
            label = f"{label}, share {within.group(1)} within {within.group(2)} days"
        text = label
        for suffix, meaning in _SUFFIX_DESCRIPTIONS:
            if column.endswith(suffix):
                text = f"{label}: {meaning}"
                break
    text = text.replace("fewer than 30 ", f"fewer than {kpis.SMALL_BASE} ")
    return text.replace("min_cell", str(min_cell))


def _schema(frame: pd.DataFrame, *, min_cell: int, primary_key=None) -> dict:
    fields = []
    for column in frame.columns:
        field = {"name": column, "type": _field_kind(frame[column])}
        field["description"] = _describe(column, min_cell)
        if column == "level":
            field["constraints"] = {"required": True, "enum": ["company", "group"]}
        elif column.endswith("_vs_others_flag"):
            field["constraints"] = {"enum": ["better", "worse", "none"]}
        elif column in ("n", "id", "metric", "company"):
            field["constraints"] = {"required": True}
        fields.append(field)
    schema = {"fields": fields, "missingValues": ["", SUPPRESSED]}
    if primary_key:
        schema["primaryKey"] = primary_key
    return schema


def _json_bytes(value) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False) + "\n").encode()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def software_versions() -> dict[str, str]:
    """Versions of everything that shapes the published bytes."""
    versions = {"clientroi": _version("clientroi"), "python": platform.python_version()}
    for package in (
        "numpy",
        "pandas",
        "scipy",
        "pyarrow",
        "altair",
        "vl-convert-python",
        "duckdb",
    ):
        versions[package] = _version(package)
    return versions


METHODS = (
    "Kaplan-Meier estimator of time to resolution and time to refund, ongoing incidents censored "
    "at their report day, refusals censored at as_of (never refunded)",
    "Median with the Brookmeyer-Crowley 95% interval on the log-log scale; shares resolved "
    "within 2, 7, 30 and 90 days with log-log pointwise intervals; restricted mean to 90 days",
    "Log-rank test of each company against all others pooled",
    "Wilson score 95% interval for shares; Fisher's exact test against all others pooled",
    "BCa bootstrap 95% interval for means, the NPS and the callbacks ratio (seeded)",
    "Mann-Whitney U test for means and the NPS; linearised (delta-method) z-test for the "
    "callbacks ratio",
    "Benjamini-Hochberg adjustment across every comparison of a table (companies; groups), "
    "false discovery rate 0.05",
    "Small base mark under 30 responses; suppression under min_cell responses, with secondary "
    "suppression of group cells that would reveal suppressed company cells by difference",
)


def _manifest(snapshot: Snapshot, data_files: dict[str, bytes]) -> dict:
    groups = snapshot.groups
    return {
        "snapshot": snapshot.name,
        "title": "Client Roi: comparison snapshot of customer service",
        "as_of": snapshot.as_of.isoformat(),
        "period": {
            "submitted_from": snapshot.submitted_from.isoformat(),
            "submitted_to": snapshot.submitted_to.isoformat(),
        },
        "software": software_versions(),
        "questionnaire_version": QUESTIONNAIRE_VERSION,
        "input": {
            "rows": snapshot.rows,
            "sha256": snapshot.input_sha256,
            "selection": (
                "responses with consent_research true, no quality flag (honeypot, filled in "
                f"under {TOO_FAST_SECONDS:g} s, likely duplicate), source other than "
                "'synthetic', submitted_on on or before as_of (Europe/Paris); responses deleted "
                "by their authors are erased from the database and cannot enter"
            ),
            "canonical_form": {
                "columns": [
                    {"name": name, "type": _arrow_kind(kind)} for name, kind in INPUT_COLUMNS
                ],
                "row_order": "response_id ascending",
                "format": (
                    "CSV as written by pyarrow.csv.write_csv with include_header=True, "
                    "delimiter ',', eol '\\n', null_string '', quoting_style 'needed' and "
                    "quoting_header 'needed': header and strings in double quotes, missing "
                    "values empty, dates YYYY-MM-DD, booleans true/false, UTF-8"
                ),
                "digest": "SHA-256 of those bytes, hexadecimal",
                "function": "analysis.snapshot.input_sha256",
            },
        },
        "n_per_company": snapshot.n_per_company(),
        "n_per_group": {str(g): int(n) for g, n in zip(groups["id"], groups["n"], strict=True)},
        "thresholds": {"min_cell": snapshot.min_cell, **snapshot.settings},
        "random_seed": snapshot.seed,
        "methods": list(METHODS),
        "suppression": {
            "marker": SUPPRESSED,
            "rule": (
                "a value whose base (<family>_n) is under min_cell is suppressed with its "
                "interval, tests and base; a company or group under min_cell responses shows "
                "its n only; a group cell is also suppressed when the suppressed company cells "
                "of its group hold 1 to min_cell - 1 responses; curves are per company and stop "
                "before the first day with fewer than min_cell incidents at risk"
            ),
            "csv": "the cell holds 'suppressed'",
            "parquet": "the cell is null and <family>_suppressed is true",
            "suppressed_cells": snapshot.suppressed_cells(),
            "pools": (
                "responses of suppressed companies still count among 'all others' in the "
                "comparisons and in their sector x origin group"
            ),
        },
        "files": {
            name: {"bytes": len(data), "sha256": _digest(data)}
            for name, data in sorted(data_files.items())
        },
    }


def _arrow_kind(kind: pa.DataType) -> str:
    if pa.types.is_date32(kind):
        return "date"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind):
        return "number"
    return "string"


_CSV_DIALECT = {
    "delimiter": ",",
    "lineTerminator": "\n",
    "quoteChar": '"',
    "doubleQuote": True,
    "skipInitialSpace": False,
    "header": True,
}


def _datapackage(snapshot: Snapshot, files: dict[str, bytes]) -> dict:
    def stamp(name):
        return {"bytes": len(files[name]), "hash": f"sha256:{_digest(files[name])}"}

    kpis_schema = _schema(snapshot.kpis, min_cell=snapshot.min_cell, primary_key=["level", "id"])
    kpis_text = (
        "One row per company then per sector x origin group: every metric with its 95% interval, "
        f"base, small-base mark and comparison with all others. Values resting on fewer than "
        f"{snapshot.min_cell} responses are suppressed."
    )
    return {
        "profile": "data-package",
        "name": f"clientroi-snapshot-{snapshot.name}",
        "title": f"Client Roi: comparison snapshot as of {snapshot.as_of.isoformat()}",
        "description": (
            "Aggregates of volunteer reports of customer-service failures (not a representative "
            "sample). Input rows: SHA-256 " + snapshot.input_sha256 + " (see manifest.json)."
        ),
        "keywords": ["customer service", "barometer", "survival analysis", "France"],
        "resources": [
            {
                "name": "kpis",
                "path": "kpis.csv",
                "profile": "tabular-data-resource",
                "title": "Company and group table",
                "description": kpis_text,
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **stamp("kpis.csv"),
                "dialect": _CSV_DIALECT,
                "schema": kpis_schema,
            },
            {
                "name": "kpis-parquet",
                "path": "kpis.parquet",
                "profile": "tabular-data-resource",
                "title": "Company and group table (Parquet)",
                "description": kpis_text + " Suppressed values are null here.",
                "format": "parquet",
                "mediatype": "application/vnd.apache.parquet",
                **stamp("kpis.parquet"),
                "schema": kpis_schema,
            },
            {
                "name": "survival-curves",
                "path": "survival_curves.csv",
                "profile": "tabular-data-resource",
                "title": "Kaplan-Meier curves per company",
                "description": (
                    "Time to resolution and time to refund per company, one row per day with "
                    "an event or a censoring, cut before the first day with fewer than "
                    f"{snapshot.min_cell} incidents at risk; a suppressed curve is one row."
                ),
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                **stamp("survival_curves.csv"),
                "dialect": _CSV_DIALECT,
                "schema": _schema(snapshot.curves, min_cell=snapshot.min_cell),
            },
            {
                "name": "manifest",
                "path": "manifest.json",
                "title": "Provenance: versions, input hash and recipe, thresholds, seed, methods",
                "format": "json",
                "mediatype": "application/json",
                "encoding": "utf-8",
                **stamp("manifest.json"),
            },
            {
                "name": "report-fr",
                "path": "index.html",
                "title": "Rapport (français)",
                "format": "html",
                "mediatype": "text/html",
                "encoding": "utf-8",
                **stamp("index.html"),
            },
            {
                "name": "report-en",
                "path": "index.en.html",
                "title": "Report (English)",
                "format": "html",
                "mediatype": "text/html",
                "encoding": "utf-8",
                **stamp("index.en.html"),
            },
        ],
    }


def render(snapshot: Snapshot) -> dict[str, bytes]:
    """Every file of the snapshot folder, by name. Deterministic: same snapshot, same bytes."""
    files = {
        "kpis.csv": _csv_bytes(snapshot.kpis),
        "kpis.parquet": _parquet_bytes(snapshot.kpis),
        "survival_curves.csv": _csv_bytes(snapshot.curves),
    }
    manifest = _manifest(snapshot, files)
    files["manifest.json"] = _json_bytes(manifest)
    for locale, name in (("fr", "index.html"), ("en", "index.en.html")):
        files[name] = _report(snapshot, manifest, locale).encode("utf-8")
    files["datapackage.json"] = _json_bytes(_datapackage(snapshot, files))
    return {name: files[name] for name in FILES}


# --- writing ----------------------------------------------------------------------------------


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _holds(folder: Path, files: dict[str, bytes]) -> bool:
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else None
    if present != sorted(files):
        return False
    return all((folder / name).read_bytes() == data for name, data in files.items())


def write_snapshot(snapshot: Snapshot, out: str | os.PathLike) -> Publication:
    """Write the snapshot into ``out/<snapshot.name>``, all or nothing.

    The files go to a hidden temporary folder beside the target, which is then renamed (an
    atomic step): a folder of that name is complete or absent. Writing again a snapshot that
    is already there, byte for byte, succeeds without touching it (``created`` False); a
    *different* snapshot under the same name is refused.
    """
    out = Path(out)
    files = render(snapshot)
    target = out / snapshot.name
    if target.exists():
        if _holds(target, files):
            return Publication(target, snapshot, created=False)
        raise SnapshotRefused(f"{target} already holds a different snapshot of the same name")
    out.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{snapshot.name}.", suffix=".partial", dir=out))
    try:
        for name, data in files.items():
            _write_file(partial / name, data)
        partial.chmod(0o755)
        try:
            os.rename(partial, target)
        except OSError:
            if not target.exists():
                raise
            # another publisher won the race: fine if it wrote the same snapshot
            if _holds(target, files):
                return Publication(target, snapshot, created=False)
            raise SnapshotRefused(
                f"{target} already holds a different snapshot of the same name"
            ) from None
        _fsync_directory(out)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return Publication(target, snapshot, created=True)


def _fsync_directory(folder: Path) -> None:
    """Make the rename durable (best effort: not every file system syncs a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def prepare_snapshot(
    store: storage.Store,
    *,
    as_of=None,
    min_cell: int = DEFAULT_MIN_CELL,
    seed: int = SEED,
) -> Snapshot:
    """Read the publishable responses of ``store`` and build their snapshot (nothing written).

    ``as_of`` defaults to today in Paris; a day after today is refused, since responses could
    still arrive for it.
    """
    today = paris_today()
    as_of = today if as_of is None else _validate_as_of(as_of)
    min_cell = _validate_min_cell(min_cell)
    if as_of > today:
        raise SnapshotRefused(
            f"as_of {as_of.isoformat()} is in the future (today is {today.isoformat()}, Paris)"
        )
    responses = fetch_qualifying(store, as_of=as_of)
    return build_snapshot(responses, as_of=as_of, min_cell=min_cell, seed=seed)


def publish(
    store: storage.Store,
    *,
    out: str | os.PathLike | None = None,
    as_of=None,
    min_cell: int = DEFAULT_MIN_CELL,
    seed: int = SEED,
) -> Publication:
    """Build the snapshot of ``store`` as of ``as_of`` and write it under ``out``.

    Parameters
    ----------
    store : survey.store.Store
    out : path, optional
        Parent folder of snapshots; default ``snapshots/`` next to the database.
    as_of : datetime.date or str, optional
        Default: today (Europe/Paris). Written only as given, never the clock time.
    min_cell : int, default 10
    seed : int

    Returns
    -------
    Publication

    Raises
    ------
    SnapshotRefused
        Nothing qualifies, ``as_of`` is in the future, or ``out`` already holds a different
        snapshot of the same name.
    """
    snapshot = prepare_snapshot(store, as_of=as_of, min_cell=min_cell, seed=seed)
    out = Path(store.path).parent / "snapshots" if out is None else Path(out)
    return write_snapshot(snapshot, out)


def list_snapshots(out: str | os.PathLike) -> list[dict]:
    """The snapshots under ``out`` (newest name first), from their manifests."""
    out = Path(out)
    if not out.is_dir():
        return []
    found = []
    for folder in sorted(out.iterdir(), reverse=True):
        manifest = folder / "manifest.json"
        if folder.name.startswith(".") or not manifest.is_file():
            continue
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.append(
            {
                "snapshot": folder.name,
                "as_of": data.get("as_of"),
                "rows": data.get("input", {}).get("rows"),
                "sha256": data.get("input", {}).get("sha256"),
                "min_cell": data.get("thresholds", {}).get("min_cell"),
                "clientroi": data.get("software", {}).get("clientroi"),
                "path": str(folder),
            }
        )
    return found


def zip_snapshot(folder: str | os.PathLike) -> bytes:
    """The snapshot folder as a zip archive with fixed timestamps (same folder, same bytes)."""
    folder = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                info = zipfile.ZipInfo(
                    f"{folder.name}/{path.name}", date_time=(1980, 1, 1, 0, 0, 0)
                )
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


# --- the report -------------------------------------------------------------------------------

_MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip
_SECTORS = charts.SECTOR_LABELS  # (fr, en), shared with the dashboard
_ORIGINS = charts.ORIGIN_LABELS


def _t(locale: str, fr: str, en: str) -> str:
    return en if locale == "en" else fr


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _long_date(day: date, locale: str) -> str:
    month = _MONTHS["en" if locale == "en" else "fr"][day.month - 1]
    first = "1er" if locale != "en" and day.day == 1 else str(day.day)
    return f"{first} {month} {day.year}"


def _number(value: float, digits: int, locale: str) -> str:
    text = f"{value:,.{digits}f}"
    if locale != "en":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text.replace("-", "−")


def _count(value, locale: str) -> str:
    return _number(int(value), 0, locale)


def _group_name(group: str, locale: str) -> str:
    if group == f"{UNLISTED}/{UNLISTED}":
        return _t(locale, "Entreprises hors liste", "Companies not in the list")
    return dashboard.group_label(group, locale)


def _display_name(row, locale: str) -> str:
    if row["level"] == "group":
        return _group_name(row["id"], locale)
    if isinstance(row["name"], str) and row["name"]:
        return row["name"]
    if row["id"] == "other":
        return _t(locale, "Autres entreprises (hors liste)", "Other companies (not listed)")
    return str(row["id"])


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans",
  Arial, sans-serif; color: #1b1b1b; background: #fff; line-height: 1.5; margin: 0 auto;
  max-width: 74rem; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.7rem; margin: .5rem 0 .25rem; }
h2 { font-size: 1.3rem; margin-top: 2.5rem; border-bottom: 2px solid #1b1b1b; }
h3 { font-size: 1.05rem; margin-top: 1.6rem; }
a { color: #0b4f9c; }
.lead { font-size: 1.05rem; margin: 0 0 1rem; }
.notice { border-left: 5px solid #a35a00; background: #fff5e6; padding: .7rem 1rem; }
nav ol { columns: 2; margin: 1rem 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .84rem; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border-bottom: 1px solid #d0d0d0; padding: .35rem .5rem; vertical-align: top;
  text-align: right; }
thead th { border-bottom: 2px solid #1b1b1b; vertical-align: bottom; }
th[scope=row] { text-align: left; white-space: nowrap; }
.v { font-weight: 600; white-space: nowrap; }
.ci, .n { display: block; color: #555; font-size: .76rem; white-space: nowrap; }
.better { color: #0a6b2d; } .worse { color: #b00020; }
.suppressed { color: #6b6b6b; font-style: italic; }
figure.chart { margin: 1.5rem 0; break-inside: avoid; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: .85rem; color: #333; margin-top: .4rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; word-break: break-all; }
code { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace;
  font-size: .9em; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
@media print { nav, .lang { display: none; } body { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; } h2 { break-after: avoid; } }
"""


def _inline_svg(svg: str, prefix: str, label: str) -> str:
    """vl-convert's SVG made fit to sit inline in HTML: ids renamed ``<prefix>-<k>`` in order of
    appearance (unique in the page, and independent of the renderer's process-wide counter,
    which numbers gradients differently on every call), the XML namespaces (URLs that load
    nothing, but need not be there) dropped, a text alternative added."""
    svg = svg.replace(' xmlns="http://www.w3.org/2000/svg"', "")
    svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    renamed: dict[str, str] = {}
    for found in re.findall(r'\bid="([^"]+)"', svg):
        renamed.setdefault(found, f"{prefix}-{len(renamed)}")

    def rename(match: re.Match) -> str:
        old = match.group(2)
        return f"{match.group(1)}{renamed.get(old, old)}{match.group(3)}"

    svg = re.sub(r'(\bid=")([^"]+)(")', rename, svg)
    svg = re.sub(r"(url\(#)([^)]+)(\))", rename, svg)
    svg = re.sub(r'(href="#)([^"]+)(")', rename, svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{_e(label)}" ', 1)


def _svg(chart, prefix: str, label: str, locale: str) -> str:
    import vl_convert

    svg = vl_convert.vegalite_to_svg(
        chart.properties(width=CHART_WIDTH).to_dict(),
        format_locale="fr-FR" if locale != "en" else "en-US",
    )
    return _inline_svg(svg, prefix, label)


def _figure(figure_id: str, svg: str, caption: str) -> str:
    return (
        f'<figure class="chart" id="{figure_id}">\n{svg}\n'
        f"<figcaption>{caption}</figcaption>\n</figure>\n"
    )


def _not_shown(rows: pd.DataFrame, family: str, locale: str, min_cell: int) -> str:
    hidden = rows[rows[f"{family}_suppressed"]]
    if hidden.empty:
        return ""
    in_all = _t(locale, "réponses au total", "responses in all")
    names = ", ".join(
        f"{_e(_display_name(row, locale))} ({_count(row['n'], locale)} {in_all})"
        for _, row in hidden.iterrows()
    )
    return _t(
        locale,
        f" Non montrées (moins de {min_cell} réponses pour cet indicateur) : {names}.",
        f" Not shown (fewer than {min_cell} responses for this metric): {names}.",
    )


def _marks(row, family: str, locale: str) -> str:
    flag = row.get(f"{family}_vs_others_flag")
    out = ""
    if flag == "better":
        text = _t(locale, "meilleur que l'ensemble des autres", "better than all others")
        out += f' <span class="better" title="{text}">▲<span class="sr"> {text}</span></span>'
    elif flag == "worse":
        text = _t(locale, "moins bon que l'ensemble des autres", "worse than all others")
        out += f' <span class="worse" title="{text}">▼<span class="sr"> {text}</span></span>'
    return out


def _cell(row, spec, snapshot: Snapshot, locale: str) -> str:
    family, estimate, low, high, percent, digits, _, _ = spec
    min_cell, small_base = snapshot.min_cell, snapshot.settings["small_base"]
    if row[f"{family}_suppressed"]:
        word = _t(locale, "masqué", "suppressed")
        return f'<td class="suppressed">{word}<span class="n">n &lt; {min_cell}</span></td>'
    scale = 100.0 if percent else 1.0
    value = row[estimate]
    if _is_missing(value):
        if estimate.endswith("_median_days"):
            text = _t(locale, "non atteinte", "not reached")
        else:
            text = "–"
        body = f'<span class="v">{text}</span>'
    else:
        unit = _t(locale, "\u202f%", "%") if percent else ""
        body = f'<span class="v">{_number(value * scale, digits, locale)}{unit}'
        body += _marks(row, family, locale) + "</span>"
        lo, hi = row[low], row[high]
        if not (_is_missing(lo) and _is_missing(hi)):

            def bound(x):
                return "NA" if _is_missing(x) else _number(x * scale, digits, locale)

            body += f'<span class="ci">[{bound(lo)} – {bound(hi)}]</span>'
    n = int(row[f"{family}_n"])
    small = ""
    if n < small_base:
        small = f' <abbr title="{_t(locale, "petite base", "small base")}">°</abbr>'
    return f'<td>{body}<span class="n">n = {_count(n, locale)}{small}</span></td>'


def _headline_table(rows: pd.DataFrame, snapshot: Snapshot, locale: str, caption: str) -> str:
    heading = _t(locale, "Entreprise", "Company")
    if len(rows) and rows["level"].iloc[0] == "group":
        heading = _t(locale, "Groupe", "Group")
    head = f'<th scope="col">{heading}</th><th scope="col">n</th>' + "".join(
        f'<th scope="col">{_e(spec[7] if locale == "en" else _french_spaces(spec[6]))}</th>'
        for spec in dashboard.HEADLINE
    )
    body = []
    ordered = rows.assign(_label=[_display_name(r, locale) for _, r in rows.iterrows()])
    ordered = ordered.sort_values("_label", key=lambda s: s.str.casefold(), kind="stable")
    for _, row in ordered.iterrows():
        cells = [
            f'<th scope="row">{_e(row["_label"])}</th>',
            f"<td>{_count(row['n'], locale)}</td>",
        ]
        if row["n"] < snapshot.min_cell:
            text = _t(
                locale,
                f"Moins de {snapshot.min_cell} réponses : seul l'effectif est publié.",
                f"Fewer than {snapshot.min_cell} responses: only the count is published.",
            )
            cells.append(f'<td class="suppressed" colspan="{len(dashboard.HEADLINE)}">{text}</td>')
        else:
            cells += [_cell(row, spec, snapshot, locale) for spec in dashboard.HEADLINE]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="table-wrap"><table>\n<caption>{_e(caption)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table></div>\n"
    )


def _legend(snapshot: Snapshot, locale: str) -> str:
    level = round(snapshot.settings["confidence_level"] * 100)
    return _t(
        locale,
        f'<p class="legend">Sous chaque valeur : intervalle de confiance à {level} % et base n '
        "(réponses qui entrent dans l'indicateur). ▲ / ▼ : meilleur / moins bon que l'ensemble "
        "de toutes les autres entreprises réunies, après correction de Benjamini-Hochberg "
        f"(p ajustée &lt; {_number(snapshot.settings['false_discovery_rate'], 2, locale)}). "
        f"° petite base (n &lt; {snapshot.settings['small_base']}) : à lire avec prudence. "
        f"<em>masqué</em> : moins de {snapshot.min_cell} réponses, valeur non publiée (secret "
        "statistique). NA : borne non atteinte.</p>",
        f'<p class="legend">Under each value: its {level}% confidence interval and base n '
        "(responses entering the metric). ▲ / ▼: better / worse than all other companies "
        "pooled, after Benjamini-Hochberg correction (adjusted p &lt; "
        f"{_number(snapshot.settings['false_discovery_rate'], 2, locale)}). ° small base "
        f"(n &lt; {snapshot.settings['small_base']}): read with care. <em>suppressed</em>: "
        f"fewer than {snapshot.min_cell} responses, value not published (statistical "
        "disclosure control). NA: bound not reached.</p>",
    )


def _curve_frame(snapshot: Snapshot, metric: str) -> pd.DataFrame:
    curves = snapshot.curves
    shown = curves[(curves["metric"] == metric) & ~curves["suppressed"]]
    return pd.DataFrame(
        {
            "company": shown["company"].astype(str).to_numpy(),
            "time": shown["time"].astype(float).to_numpy(),
            "n_at_risk": shown["n_at_risk"].astype(float).to_numpy(),
            "survival": shown["survival"].to_numpy(dtype=float),
            "low": shown["low"].to_numpy(dtype=float),
            "high": shown["high"].to_numpy(dtype=float),
        }
    )


def _survival_figure(snapshot, metric, locale, *, fid) -> str:
    curve = charts.CURVES[metric]
    horizon = curve.horizon
    title = charts.pick(curve.title, locale)
    x_title, y_title = charts.pick(curve.x_title, locale), charts.pick(curve.y_title, locale)
    companies = snapshot.companies
    data = _curve_frame(snapshot, metric)
    family = metric
    shown = companies[~companies[f"{family}_suppressed"]]
    names = {
        row["id"]: f"{_display_name(row, locale)} (n = {_count(row[f'{family}_n'], locale)})"
        for _, row in shown.iterrows()
    }
    fr, en = {
        "resolution": ("incidents suivis", "incidents"),
        "refund_time": ("demandes suivies", "requests"),
    }[metric]
    caption = _t(
        locale,
        f"{_e(title)}. Entre parenthèses, la base n de chaque courbe ({fr}). "
        "Bandes : intervalles de confiance à 95 % point par point. Chaque courbe s'arrête "
        f"avant le premier jour où il reste moins de {snapshot.min_cell} {fr}.",
        f"{_e(title)}. In brackets, each curve's base n ({en} followed). Bands: pointwise "
        f"95% confidence intervals. Each curve stops before the first day with fewer than "
        f"{snapshot.min_cell} {en} still followed.",
    ) + _not_shown(companies, family, locale, snapshot.min_cell)
    if data.empty:
        return f'<p class="suppressed">{caption}</p>\n'
    # the axis ends where the published curves do (they stop where few remain at risk)
    horizon = int(min(horizon, max(30, math.ceil(data["time"].max() / 30) * 30)))
    chart = charts.survival_chart(
        data, names, title=title, x_title=x_title, y_title=y_title, horizon=horizon
    )
    return _figure(fid, _svg(chart, fid, title, locale), caption)


def _at_risk_table(snapshot: Snapshot, locale: str) -> str:
    curves = snapshot.curves
    shown = curves[(curves["metric"] == "resolution") & ~curves["suppressed"]]
    if shown.empty:
        return ""
    companies = snapshot.companies.set_index("id")
    rows = []
    for company, curve in shown.groupby("company", sort=False):
        times = curve["time"].to_numpy(dtype=float)
        at_risk = curve["n_at_risk"].to_numpy(dtype=float)
        cells = []
        for day in AT_RISK_DAYS:
            index = int(np.searchsorted(times, float(day), side="left"))
            if index < len(times):
                cells.append(f"<td>{_count(at_risk[index], locale)}</td>")
            else:
                cells.append(f'<td class="suppressed">&lt; {snapshot.min_cell}</td>')
        label = _display_name(companies.loc[company].to_dict() | {"id": company}, locale)
        rows.append((label, f'<tr><th scope="row">{_e(label)}</th>{"".join(cells)}</tr>'))
    rows.sort(key=lambda item: item[0].casefold())
    day_word = _t(locale, "jour", "day")
    head = "".join(f'<th scope="col">{day_word} {d}</th>' for d in AT_RISK_DAYS)
    caption = _t(
        locale,
        "Incidents encore suivis et non résolus (« à risque ») aux jours indiqués",
        "Incidents still followed and not resolved (“at risk”) on the given days",
    )
    return (
        f'<div class="table-wrap"><table>\n<caption>{caption}</caption>\n<thead><tr>'
        f'<th scope="col">{_t(locale, "Entreprise", "Company")}</th>{head}</tr></thead>\n'
        "<tbody>\n" + "\n".join(r for _, r in rows) + "\n</tbody></table></div>\n"
    )


def _forest_figure(snapshot, metric: charts.Metric, locale, *, fid):
    family, estimate, low, high = metric.family, metric.estimate, metric.low, metric.high
    percent = metric.percent
    title, x_title = charts.pick(metric.title, locale), charts.pick(metric.axis, locale)
    companies = snapshot.companies
    shown = companies[~companies[f"{family}_suppressed"] & companies[estimate].notna()]
    caption = _t(
        locale,
        f"{_e(title)}. Point : estimation ; trait : intervalle de confiance à 95 % ; nombre à "
        "droite : base n.",
        f"{_e(title)}. Dot: estimate; line: 95% confidence interval; number on the right: base n.",
    ) + _not_shown(companies, family, locale, snapshot.min_cell)
    if shown.empty:
        return f'<p class="suppressed">{caption}</p>\n'
    data = pd.DataFrame(
        {
            "label": [_display_name(row, locale) for _, row in shown.iterrows()],
            "estimate": shown[estimate].to_numpy(dtype=float),
            "low": shown[low].to_numpy(dtype=float),
            "high": shown[high].to_numpy(dtype=float),
            "n": shown[f"{family}_n"].to_numpy(dtype=int),
        }
    )
    chart = charts.forest_chart(
        data,
        estimate="estimate",
        low="low",
        high="high",
        n="n",
        title=title,
        x_title=x_title,
        percent=percent,
        label="label",
    )
    return _figure(fid, _svg(chart, fid, title, locale), caption)


def _sector_origin_figure(snapshot, metric: charts.Metric, locale, *, fid):
    family, estimate, low, high = metric.family, metric.estimate, metric.low, metric.high
    percent, title = metric.percent, charts.pick(metric.title, locale)
    groups = snapshot.groups
    design = groups[groups["sector"].isin(_SECTORS) & groups["origin"].isin(_ORIGINS)]
    shown = design[~design[f"{family}_suppressed"]]
    hidden = design[design[f"{family}_suppressed"]]
    caption = _t(
        locale,
        f"{_e(title)} par secteur (lignes) et origine (colonnes) : estimation, intervalle à "
        "95 % et base n dans chaque case.",
        f"{_e(title)} by sector (rows) and origin (columns): estimate, 95% interval and base n "
        "in each cell.",
    )
    if not hidden.empty:
        names = ", ".join(_e(_group_name(g, locale)) for g in hidden["id"])
        caption += _t(
            locale,
            f" Cases masquées (moins de {snapshot.min_cell} réponses, ou révéleraient par "
            f"différence une entreprise masquée) : {names}.",
            f" Suppressed cells (fewer than {snapshot.min_cell} responses, or would reveal a "
            f"suppressed company by difference): {names}.",
        )
    if shown.empty:
        return f'<p class="suppressed">{caption}</p>\n'
    data = pd.DataFrame(
        {
            "sector": shown["sector"].to_numpy(dtype=object),
            "origin": shown["origin"].to_numpy(dtype=object),
            "estimate": shown[estimate].to_numpy(dtype=float),
            "low": shown[low].to_numpy(dtype=float),
            "high": shown[high].to_numpy(dtype=float),
            "n": shown[f"{family}_n"].to_numpy(dtype=int),
        }
    )
    english = locale == "en"
    chart = charts.sector_origin_chart(
        data,
        estimate="estimate",
        low="low",
        high="high",
        n="n",
        title=title,
        sector_labels={k: v[english] for k, v in _SECTORS.items()},
        origin_labels={k: v[english] for k, v in _ORIGINS.items()},
        percent=percent,
        legend="%" if percent else _t(locale, "jours", "days"),
    )
    return _figure(fid, _svg(chart, fid, title, locale), caption)


def _paragraphs(texts) -> str:
    return "".join(f"<p>{text}</p>\n" for text in texts)


def _french_spaces(text: str) -> str:
    """No line break inside « » or before : ; ? ! (French typography), in prose only."""
    text = text.replace("« ", "«\u00a0").replace(" »", "\u00a0»")
    return re.sub(r" ([:;?!])", "\u00a0\\1", text)


def _annex(snapshot: Snapshot, locale: str) -> str:
    s = snapshot.settings
    values = {
        "as_of": _e(_long_date(snapshot.as_of, locale)),
        "first": _e(_long_date(snapshot.submitted_from, locale)),
        "last": _e(_long_date(snapshot.submitted_to, locale)),
        "rows": _count(snapshot.rows, locale),
        "min_cell": snapshot.min_cell,
        "min_cell_1": snapshot.min_cell - 1,
        "small_base": s["small_base"],
        "level": round(s["confidence_level"] * 100),
        "alpha": _number(s["false_discovery_rate"], 2, locale),
        "resamples": _count(s["bootstrap_resamples"] or 0, locale),
        "seed": snapshot.seed,
        "too_fast": f"{TOO_FAST_SECONDS:g}",
        "hash": _e(snapshot.input_sha256),
    }
    sections = ANNEX["en" if locale == "en" else "fr"]
    out = []
    for heading, paragraphs in sections:
        out.append(f"<h3>{_e(heading)}</h3>\n")
        texts = (p.format(**values) for p in paragraphs)
        if locale != "en":
            texts = (_french_spaces(text) for text in texts)
        out.append(_paragraphs(texts))
    return "".join(out)


# The methodology annex. Trusted static text: only the values above are formatted in.
ANNEX: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "fr": (
        (
            "A. Recrutement : des témoignages volontaires",
            (
                "Les réponses sont des témoignages volontaires, recueillis par un questionnaire "
                "en ligne ouvert à tous (source « web ») ou importés d'autres collectes faites "
                "avec le même questionnaire (source « import »). Personne n'est tiré au sort.",
                "<strong>Ces témoignages ne forment pas un échantillon représentatif</strong> des "
                "clients des entreprises ni de leurs incidents, et aucune pondération ne corrige "
                "leur composition. Les personnes mécontentes témoignent plus volontiers, et le "
                "nombre de témoignages d'une entreprise dépend aussi de sa notoriété, de sa "
                "clientèle et des appels à témoigner. Les chiffres décrivent les expériences "
                "rapportées, pas la qualité moyenne du service de chaque entreprise.",
            ),
        ),
        (
            "B. Période et règles d'inclusion",
            (
                "Instantané au {as_of} : {rows} réponses envoyées du {first} au {last} (heure "
                "de Paris). Seules comptent les réponses dont l'auteur a accepté l'usage pour "
                "la recherche, qui ne portent aucun signalement de qualité (champ piège rempli, "
                "questionnaire rempli en moins de {too_fast} secondes, doublon probable d'une "
                "même session de navigation) et qui ne sont pas des données synthétiques de "
                "démonstration.",
                "Une réponse supprimée par son auteur (avec son code de suppression) est effacée "
                "de la base : elle n'entre dans aucun calcul postérieur à sa suppression. Un "
                "instantané publié n'est jamais modifié ; un nouvel instantané porte un autre "
                "nom.",
            ),
        ),
        (
            "C. Définitions",
            (
                "<strong>Délai de résolution</strong> : du début du problème à sa résolution, en "
                "jours. Un incident encore en cours compte comme « non résolu au moins jusqu'au "
                "jour du témoignage » (donnée censurée) ; un incident terminé sans résolution "
                "(abandon, changement d'opérateur) compte comme non résolu jusqu'à sa date de "
                "fin. Les courbes sont des estimations de Kaplan-Meier de la part des incidents "
                "non encore résolus ; la médiane est le jour où cette part passe sous 50 % "
                "(« non atteinte » si moins de la moitié des incidents sont vus résolus) ; la "
                "part résolue en 30 jours se lit sur la même courbe.",
                "<strong>Remboursement obtenu</strong> : part des demandes tranchées (total, "
                "partiel ou refus) qui ont abouti à un remboursement total ou partiel ; les "
                "demandes en attente n'y entrent pas. <strong>Délai de remboursement</strong> : "
                "de la demande au versement ; un refus compte comme « jamais remboursé » "
                "jusqu'à la date de l'instantané, une demande en attente comme non remboursée "
                "jusqu'au témoignage.",
                "<strong>Déplacements pour rien</strong> : nombre moyen, par incident, de "
                "déplacements (boutique, point relais) qui n'ont servi à rien. "
                "<strong>Faux « résolu »</strong> : part des incidents déclarés résolus au "
                "moins une fois alors qu'ils ne l'étaient pas. <strong>Satisfaction</strong> : "
                "moyenne de 1 (très insatisfait) à 5 (très satisfait). <strong>NPS</strong> : "
                "pourcentage de promoteurs (9-10 sur 10) moins pourcentage de détracteurs (0 à "
                "6), de −100 à +100.",
                "« Je ne sais pas » et les questions sans réponse sont des valeurs manquantes, "
                "jamais des zéros : chaque indicateur a donc sa propre base n, affichée sous "
                "chaque valeur et à côté de chaque figure.",
            ),
        ),
        (
            "D. Intervalles, tests et seuils",
            (
                "Chaque valeur est donnée avec son intervalle de confiance à {level} % : "
                "médiane de Kaplan-Meier avec l'intervalle de Brookmeyer-Crowley sur l'échelle "
                "log-log ; parts avec l'intervalle de score de Wilson ; moyennes, NPS et part "
                "des rappels tenus avec un bootstrap BCa de {resamples} rééchantillonnages, "
                "graine aléatoire fixe {seed}.",
                "Chaque entreprise est comparée à l'ensemble de toutes les autres réunies : "
                "test du log-rank pour les délais, test exact de Fisher pour les parts, test de "
                "Mann-Whitney pour les moyennes et le NPS, test z linéarisé pour les rappels. "
                "Les p-valeurs de toutes les comparaisons du tableau sont corrigées ensemble "
                "par la procédure de Benjamini-Hochberg (taux de fausses découvertes {alpha}) ; "
                "▲ ou ▼ signale une différence dont la p-valeur corrigée est inférieure à "
                "{alpha}. L'absence de signe ne prouve pas l'égalité. Les groupes secteur × "
                "origine sont comparés entre eux de la même façon, dans une famille de tests "
                "distincte.",
                "° petite base : la valeur repose sur moins de {small_base} réponses, son "
                "intervalle est large.",
            ),
        ),
        (
            "E. Confidentialité et secret statistique",
            (
                "Toute valeur reposant sur moins de {min_cell} réponses est masquée, avec son "
                "intervalle, son test et sa base : « masqué » dans ce rapport, « suppressed » "
                "dans les fichiers CSV, valeur vide et colonne <code>&lt;indicateur&gt;_suppressed"
                "</code> vraie dans le fichier Parquet. Une entreprise qui a moins de "
                "{min_cell} réponses n'apparaît qu'avec son effectif. Ses réponses restent "
                "comptées parmi « toutes les autres » dans les comparaisons et dans son groupe "
                "secteur × origine : ce sont de vraies réponses, seules ses propres valeurs ne "
                "sont pas publiées.",
                "Pour qu'une valeur masquée ne puisse pas être retrouvée par différence entre "
                "un groupe et les entreprises qui le composent, la case du groupe est aussi "
                "masquée lorsque les cases masquées de ses entreprises réunissent de 1 à "
                "{min_cell_1} réponses (secret secondaire).",
                "Les courbes de délai ne sont publiées que par entreprise, et s'arrêtent avant "
                "le premier jour où moins de {min_cell} incidents restent suivis. Aucun texte "
                "libre, aucune adresse électronique, aucun identifiant de réponse et aucun "
                "chiffre par département n'est publié.",
            ),
        ),
        (
            "F. Reproductibilité",
            (
                "La même base de données et la même date donnent des fichiers identiques à "
                "l'octet près : graine fixe, lignes triées, format des nombres fixé, aucune "
                "heure d'horloge dans aucun fichier. L'empreinte SHA-256 des lignes d'entrée "
                "(<code>{hash}</code>) se recalcule avec la recette de "
                "<code>manifest.json</code>, qui donne aussi les versions du logiciel et des "
                "bibliothèques, les seuils et la liste des méthodes.",
            ),
        ),
        (
            "G. Limites",
            (
                "Les dates et les faits sont déclarés par les personnes, sans vérification "
                "auprès des entreprises. Une panne médiatisée ou un appel à témoigner peut "
                "faire affluer les témoignages sur une entreprise : les écarts reflètent aussi "
                "qui témoigne. Les comparaisons sont des associations, pas des effets : "
                "clientèles, offres et types de problèmes diffèrent d'une entreprise à l'autre. "
                "Les incidents signalés peu après leur début sont suivis peu de temps : aux "
                "longues durées, les courbes reposent sur peu d'incidents et leurs bandes "
                "s'élargissent.",
            ),
        ),
    ),
    "en": (
        (
            "A. Recruitment: volunteer reports",
            (
                "Responses are volunteer reports, collected through an online questionnaire "
                "open to anyone (source “web”) or imported from other collections made with the "
                "same questionnaire (source “import”). Nobody is sampled at random.",
                "<strong>These reports are not a representative sample</strong> of the "
                "companies' customers or of their incidents, and no weighting corrects their "
                "make-up. Dissatisfied people report more readily, and the number of reports a "
                "company gets also depends on its visibility, its customers and calls for "
                "testimony. The figures describe the experiences reported, not the average "
                "quality of each company's service.",
            ),
        ),
        (
            "B. Period and inclusion rules",
            (
                "Snapshot as of {as_of}: {rows} responses submitted from {first} to {last} "
                "(Paris time). Only responses whose authors agreed to research use count, with "
                "no quality flag (honeypot filled in, questionnaire filled in under {too_fast} "
                "seconds, likely duplicate from the same browser session), and no synthetic "
                "demonstration data.",
                "A response deleted by its author (with the deletion code) is erased from the "
                "database: it enters no computation made after its deletion. A published "
                "snapshot is never modified; a new snapshot has another name.",
            ),
        ),
        (
            "C. Definitions",
            (
                "<strong>Time to resolution</strong>: from the start of the problem to its "
                "resolution, in days. An incident still going on counts as “not resolved at "
                "least until the day of the report” (censored); an incident that ended without "
                "resolution (gave up, switched provider) counts as not resolved until its end "
                "date. Curves are Kaplan-Meier estimates of the share of incidents not yet "
                "resolved; the median is the day this share falls below 50% (“not reached” "
                "when fewer than half the incidents are seen resolved); the share resolved "
                "within 30 days is read on the same curve.",
                "<strong>Refund obtained</strong>: share of decided requests (full, partial or "
                "refused) that ended in a full or partial refund; pending requests do not "
                "enter. <strong>Time to refund</strong>: from the request to the payment; a "
                "refusal counts as “never refunded” until the snapshot date, a pending request "
                "as not refunded until the report.",
                "<strong>Wasted trips</strong>: mean number, per incident, of trips (shop, "
                "relay point) that achieved nothing. <strong>False “resolved”</strong>: share "
                "of incidents declared resolved at least once while they were not. "
                "<strong>Satisfaction</strong>: mean from 1 (very dissatisfied) to 5 (very "
                "satisfied). <strong>NPS</strong>: percentage of promoters (9-10 out of 10) "
                "minus percentage of detractors (0 to 6), from −100 to +100.",
                "“Don't know” and unanswered questions are missing values, never zeros: each "
                "metric therefore has its own base n, shown under every value and next to "
                "every figure.",
            ),
        ),
        (
            "D. Intervals, tests and thresholds",
            (
                "Every value comes with its {level}% confidence interval: Kaplan-Meier median "
                "with the Brookmeyer-Crowley interval on the log-log scale; shares with the "
                "Wilson score interval; means, NPS and share of callbacks kept with a BCa "
                "bootstrap of {resamples} resamples, fixed random seed {seed}.",
                "Each company is compared with all the others pooled: log-rank test for times, "
                "Fisher's exact test for shares, Mann-Whitney test for means and the NPS, "
                "linearised z-test for callbacks. The p-values of every comparison of the "
                "table are adjusted together by the Benjamini-Hochberg procedure (false "
                "discovery rate {alpha}); ▲ or ▼ marks a difference whose adjusted p-value is "
                "below {alpha}. No mark is not proof of equality. Sector × origin groups are "
                "compared with each other in the same way, as a separate family of tests.",
                "° small base: the value rests on fewer than {small_base} responses, its "
                "interval is wide.",
            ),
        ),
        (
            "E. Privacy and statistical disclosure control",
            (
                "Every value resting on fewer than {min_cell} responses is suppressed, with its "
                "interval, test and base: “suppressed” in this report and in the CSV files, "
                "empty with column <code>&lt;metric&gt;_suppressed</code> true in the Parquet "
                "file. A company with fewer than {min_cell} responses appears with its count "
                "only. Its responses still count among “all others” in the comparisons and in "
                "its sector × origin group: they are real responses, only its own figures are "
                "not published.",
                "So that a suppressed value cannot be recovered by difference between a group "
                "and its companies, a group cell is also suppressed when the suppressed cells "
                "of its companies pool 1 to {min_cell_1} responses (secondary suppression).",
                "Time curves are published per company only, and stop before the first day "
                "with fewer than {min_cell} incidents still followed. No free text, no e-mail "
                "address, no response identifier and no figure by département is published.",
            ),
        ),
        (
            "F. Reproducibility",
            (
                "The same database and the same date give byte-identical files: fixed seed, "
                "sorted rows, fixed number formatting, no clock time in any file. The SHA-256 "
                "fingerprint of the input rows (<code>{hash}</code>) can be recomputed with "
                "the recipe in <code>manifest.json</code>, which also gives the software and "
                "library versions, the thresholds and the list of methods.",
            ),
        ),
        (
            "G. Limits",
            (
                "Dates and facts are reported by people, not checked with the companies. A "
                "publicised outage or a call for testimony can bring a wave of reports about "
                "one company: differences also reflect who reports. Comparisons are "
                "associations, not effects: customers, offers and kinds of problems differ "
                "between companies. Incidents reported soon after they started are followed "
                "for a short time: at long durations, curves rest on few incidents and their "
                "bands widen.",
            ),
        ),
    ),
}


def _files_list(locale: str) -> str:
    descriptions = {
        "kpis.csv": _t(
            locale, "tableau entreprises et groupes (CSV)", "company and group table (CSV)"
        ),
        "kpis.parquet": _t(locale, "le même tableau (Parquet)", "the same table (Parquet)"),
        "survival_curves.csv": _t(
            locale, "courbes de Kaplan-Meier par entreprise", "Kaplan-Meier curves per company"
        ),
        "manifest.json": _t(
            locale,
            "versions, empreinte et recette, seuils, graine, méthodes",
            "versions, fingerprint and recipe, thresholds, seed, methods",
        ),
        "datapackage.json": _t(
            locale,
            "descripteur Frictionless Data (schémas des tables)",
            "Frictionless Data descriptor (table schemas)",
        ),
    }
    items = "".join(
        f'<li><a href="{_e(name)}">{_e(name)}</a> : {text}</li>'
        if locale != "en"
        else f'<li><a href="{_e(name)}">{_e(name)}</a>: {text}</li>'
        for name, text in descriptions.items()
    )
    return f"<ul>{items}</ul>\n"


def _report(snapshot: Snapshot, manifest: dict, locale: str) -> str:
    t = lambda fr, en: _t(locale, fr, en)  # noqa: E731
    companies, groups = snapshot.companies, snapshot.groups
    published = int((companies["n"] >= snapshot.min_cell).sum())
    as_of_text = _long_date(snapshot.as_of, locale)
    title = t(
        f"Client Roi · Baromètre du service client au {as_of_text}",
        f"Client Roi · Customer service barometer as of {as_of_text}",
    )
    other_lang = (
        '<a href="index.en.html" hreflang="en" lang="en">English version</a>'
        if locale != "en"
        else '<a href="index.html" hreflang="fr" lang="fr">Version française</a>'
    )
    software = manifest["software"]
    parts = [
        "<!DOCTYPE html>\n",
        f'<html lang="{"en" if locale == "en" else "fr"}">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<header>\n",
        f'<p class="lang">{other_lang}</p>\n',
        f"<h1>{t('Client Roi : baromètre du service client', 'Client Roi: customer service barometer')}</h1>\n",
        '<p class="lead">',
        t(
            f"Instantané comparatif au <strong>{_e(as_of_text)}</strong> : "
            f"{_count(snapshot.rows, locale)} témoignages envoyés du "
            f"{_e(_long_date(snapshot.submitted_from, locale))} au "
            f"{_e(_long_date(snapshot.submitted_to, locale))}, {len(companies)} entreprises "
            f"dont {published} avec au moins {snapshot.min_cell} réponses.",
            f"Comparison snapshot as of <strong>{_e(as_of_text)}</strong>: "
            f"{_count(snapshot.rows, locale)} reports submitted from "
            f"{_e(_long_date(snapshot.submitted_from, locale))} to "
            f"{_e(_long_date(snapshot.submitted_to, locale))}, {len(companies)} companies, "
            f"{published} of them with at least {snapshot.min_cell} responses.",
        ),
        "</p>\n",
        '<p class="notice"><strong>',
        t(
            "Témoignages volontaires : ce n'est pas un échantillon représentatif.",
            "Volunteer reports: this is not a representative sample.",
        ),
        "</strong> ",
        t(
            "Les chiffres décrivent les expériences rapportées par les personnes qui ont choisi "
            "de témoigner, pas la qualité moyenne du service de chaque entreprise (annexe A).",
            "The figures describe the experiences reported by people who chose to report, not "
            "the average quality of each company's service (annex A).",
        ),
        "</p>\n<nav><ol>\n",
    ]
    sections = [
        ("synthese", t("Synthèse par entreprise", "Headline table by company")),
        ("groupes", t("Par secteur et origine", "By sector and origin")),
        ("resolution", t("Délais de résolution", "Time to resolution")),
        ("remboursements", t("Remboursements", "Refunds")),
        ("deplacements", t("Déplacements pour rien", "Wasted trips")),
        ("secteur-origine", t("France ou secteur ?", "France or the sector?")),
        ("methodologie", t("Annexe méthodologique", "Methodology annex")),
        ("donnees", t("Données, reproduction et citation", "Data, reproduction and citation")),
    ]
    parts += [f'<li><a href="#{sid}">{_e(label)}</a></li>\n' for sid, label in sections]
    parts.append("</ol></nav>\n</header>\n<main>\n")
    heading = dict(sections)

    parts.append(f'<section id="synthese">\n<h2>1. {_e(heading["synthese"])}</h2>\n')
    parts.append(
        _headline_table(
            companies,
            snapshot,
            locale,
            t(
                f"Principaux indicateurs par entreprise au {as_of_text}",
                f"Main metrics by company as of {as_of_text}",
            ),
        )
    )
    parts.append(_legend(snapshot, locale) + "</section>\n")

    parts.append(f'<section id="groupes">\n<h2>2. {_e(heading["groupes"])}</h2>\n')
    parts.append(
        _headline_table(
            groups,
            snapshot,
            locale,
            t(
                "Principaux indicateurs par groupe (entreprises d'un même secteur et d'une même "
                "origine réunies), comparés aux autres groupes",
                "Main metrics by group (companies of one sector and origin pooled), compared "
                "with the other groups",
            ),
        )
    )
    parts.append("</section>\n")

    parts.append(f'<section id="resolution">\n<h2>3. {_e(heading["resolution"])}</h2>\n')
    parts.append(_survival_figure(snapshot, "resolution", locale, fid="fig-resolution"))
    parts.append(_at_risk_table(snapshot, locale) + "</section>\n")

    parts.append(f'<section id="remboursements">\n<h2>4. {_e(heading["remboursements"])}</h2>\n')
    parts.append(
        _forest_figure(snapshot, charts.METRICS["refund_success"], locale, fid="fig-refund-success")
    )
    parts.append(_survival_figure(snapshot, "refund_time", locale, fid="fig-refund-time"))
    parts.append("</section>\n")

    parts.append(f'<section id="deplacements">\n<h2>5. {_e(heading["deplacements"])}</h2>\n')
    parts.append(
        _forest_figure(snapshot, charts.METRICS["wasted_trips"], locale, fid="fig-wasted-trips")
    )
    parts.append("</section>\n")

    parts.append(f'<section id="secteur-origine">\n<h2>6. {_e(heading["secteur-origine"])}</h2>\n')
    parts.append(f"<p>{_e(charts.pick(charts.SECTOR_ORIGIN_INTRO, locale))}</p>\n")
    for family, fid in zip(
        charts.SECTOR_ORIGIN_METRICS,
        ("fig-so-resolution", "fig-so-refund", "fig-so-satisfied"),
        strict=True,
    ):
        parts.append(_sector_origin_figure(snapshot, charts.METRICS[family], locale, fid=fid))
    parts.append("</section>\n")

    parts.append(f'<section id="methodologie">\n<h2>7. {_e(heading["methodologie"])}</h2>\n')
    parts.append(_annex(snapshot, locale) + "</section>\n")

    parts.append(f'<section id="donnees">\n<h2>8. {_e(heading["donnees"])}</h2>\n')
    parts.append(
        "<p>"
        + t(
            "Les tableaux publiés, dans ce dossier (les cases masquées y portent la mention "
            "<code>suppressed</code>) :",
            "The published tables, in this folder (suppressed cells hold <code>suppressed</code>):",
        )
        + "</p>\n"
    )
    parts.append(_files_list(locale))
    facts = [
        (t("Instantané", "Snapshot"), f"<code>{_e(snapshot.name)}</code>"),
        (t("Date (as_of)", "Date (as_of)"), _e(snapshot.as_of.isoformat())),
        (
            t("Empreinte des lignes d'entrée (SHA-256)", "Input rows fingerprint (SHA-256)"),
            f"<code>{_e(snapshot.input_sha256)}</code>",
        ),
        (t("Réponses", "Responses"), _count(snapshot.rows, locale)),
        (
            t("Logiciel", "Software"),
            _e(
                f"clientroi {software['clientroi']}, Python {software['python']}, "
                f"numpy {software['numpy']}, scipy {software['scipy']}, "
                f"pandas {software['pandas']}"
            ),
        ),
        (t("Questionnaire", "Questionnaire"), f"version {QUESTIONNAIRE_VERSION}"),
        (t("Graine aléatoire", "Random seed"), str(snapshot.seed)),
        (t("Effectif minimal publié", "Minimum cell size"), str(snapshot.min_cell)),
    ]
    parts.append(
        '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>\n"
    )
    parts.append(f"<h3>{t('Citer cet instantané', 'How to cite this snapshot')}</h3>\n<p>")
    parts.append(
        t(
            f"Client Roi, <em>Baromètre du service client, instantané au {_e(as_of_text)}</em>, "
            f"dossier <code>{_e(snapshot.name)}</code>, empreinte SHA-256 des données d'entrée "
            f"<code>{_e(snapshot.input_sha256)}</code>, logiciel clientroi "
            f"{_e(software['clientroi'])}.",
            f"Client Roi, <em>Customer service barometer, snapshot as of {_e(as_of_text)}</em>, "
            f"folder <code>{_e(snapshot.name)}</code>, input data SHA-256 "
            f"<code>{_e(snapshot.input_sha256)}</code>, clientroi software "
            f"{_e(software['clientroi'])}.",
        )
    )
    parts.append("</p>\n</section>\n</main>\n</body>\n</html>\n")
    return "".join(parts)
