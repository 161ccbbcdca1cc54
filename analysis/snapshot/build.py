"""What a snapshot publishes: the responses that may be published, their input hash, and the
published (suppressed) tables of one :class:`Snapshot`, before any file is written.

Suppression convention: a value resting on fewer than ``min_cell`` responses (its own metric
base ``<family>_n``) is replaced, together with its interval, test and base, by the marker
``suppressed`` in the CSV files, by null in Parquet with ``<family>_suppressed = true``, and by
"masqué" / "suppressed" in the reports. A company under ``min_cell`` responses shows its ``n``
only. Group cells are also suppressed when the suppressed company cells of the group would
otherwise be recoverable by difference (secondary suppression). Survival curves are published
per company only and stop before the first day with fewer than ``min_cell`` incidents at risk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from analysis import dashboard, design, disclosure, kpis, metrics
from analysis.snapshot import releases
from survey import i18n
from survey import store as storage
from survey.updates import KNOWN_ON_COLUMN, known_on_base

SEED = dashboard.DEFAULT_SEED
"""Seed of the bootstrap intervals: the dashboard's, so both show the same intervals."""
DEFAULT_MIN_CELL = disclosure.MIN_CELL
SUPPRESSED = "suppressed"
"""The marker written in CSV files in place of every suppressed value."""
SIGNIFICANT_DIGITS = 6
UNLISTED = metrics.UNLISTED

# The columns a snapshot reads, with the Arrow type of their canonical form (the input hash).
INPUT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("response_id", pa.string()),
    ("submitted_on", pa.date32()),
    ("company", pa.string()),
    ("company_name", pa.string()),
    ("sector", pa.string()),
    ("origin", pa.string()),
    ("problem", pa.string()),
    ("collected_from", pa.date32()),
    ("status", pa.string()),
    # The latest day the status was known, updates included (survey.updates.fold_events).
    ("status_known_on", pa.date32()),
    ("started_on", pa.date32()),
    ("ended_on", pa.date32()),
    ("status_known_on", pa.date32()),
    ("refund_requested", pa.bool_()),
    ("refund_outcome", pa.string()),
    ("refund_requested_on", pa.date32()),
    ("refund_received_on", pa.date32()),
    ("refund_amount_requested", pa.float64()),
    ("refund_amount_obtained", pa.float64()),
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
    "flag_burst",
    "consent_research",
)
# company_name, sector and origin come from the reference list, joined by the store.
JOINED_COLUMNS = ("company_name", "sector", "origin")
FETCHED_COLUMNS = (
    tuple(n for n, _ in INPUT_COLUMNS if n not in JOINED_COLUMNS) + ELIGIBILITY_COLUMNS
)
CANONICAL_CSV = {
    "include_header": True,
    "delimiter": ",",
    "eol": "\n",
    "null_string": "",
    "quoting_style": "needed",
    "quoting_header": "needed",
}
"""``pyarrow.csv.WriteOptions`` of the canonical input rows (the input hash)."""
HASH_BATCH_ROWS = 65_536
"""Rows of the sorted canonical table written into the hash at a time (its memory, not its
bytes: a sorted copy of every input column is 0.17 GB at 1M rows)."""


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
    launch: date | None = None
    design_effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    design_inputs: pd.DataFrame = field(default_factory=pd.DataFrame)
    design_groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    design_notes: dict = field(default_factory=dict)
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)
    release_control: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The folder name: ``<as_of>-<first 8 hex of the input hash>``."""
        return f"{self.as_of.isoformat()}-{self.input_sha256[:8]}"

    # Cut from the published table once: the reports read them about twenty times (a copy of
    # every column of a wide table each time). Read them, do not write into them.
    @cached_property
    def companies(self) -> pd.DataFrame:
        return self.kpis[self.kpis["level"] == "company"].reset_index(drop=True)

    @cached_property
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
                "name": display_names(self.kpis, locale),
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


# --- names shown to people --------------------------------------------------------------------


def group_name(group: str, locale: str) -> str:
    """A sector x origin group as people read it ("Commerçants français")."""
    if group == metrics.UNLISTED_GROUP:
        return i18n.t("report.group_unlisted", locale)
    return metrics.group_label(group, locale)


def display_name(level: str, unit: str, name, locale: str) -> str:
    """A published row's name: the group's label, the company's name, or the neutral label of
    companies outside the list (their free-text names are never published)."""
    if level == "group":
        return group_name(unit, locale)
    if isinstance(name, str) and name:
        return name
    if unit == metrics.OTHER_COMPANY:
        return i18n.t("report.company_other", locale)
    return str(unit)


def display_names(rows: pd.DataFrame, locale: str) -> list[str]:
    """:func:`display_name` of every row of a published table."""
    return [
        display_name(level, str(unit), name, locale)
        for level, unit, name in zip(rows["level"], rows["id"], rows["name"], strict=True)
    ]


# --- reading ----------------------------------------------------------------------------------


def qualifying_filters(as_of: date) -> storage.Filters:
    """The only responses a snapshot may use: consented, unflagged, real, up to ``as_of``."""
    return storage.Filters(
        include_synthetic=False, include_flagged=False, consented_only=True, submitted_to=as_of
    )


def fetch_qualifying(store: storage.Store, *, as_of: date) -> pd.DataFrame:
    """The publishable responses as known on ``as_of``, with only the columns a snapshot
    reads: the updates recorded on or before ``as_of`` are folded in (none recorded later),
    so a snapshot republished as of the same day after an update is the same, byte for byte,
    and the input hash covers the updates it used (through the columns they changed)."""
    # In a fixed order (ordered=True): floating-point totals (kilometres) are summed in row
    # order, and an unordered parallel scan could change their last bits from run to run.
    # Text as categoricals: a few bytes a row instead of a Python string per cell (memory),
    # and the tables count their codes.
    responses = store.fetch_responses(
        qualifying_filters(as_of),
        columns=list(FETCHED_COLUMNS),
        ordered=True,
        categorical=True,
        known_on=as_of,
    )
    _release_arrow_memory()  # the read's Arrow buffers, now in pandas
    return responses


def _release_arrow_memory() -> None:
    """Give the memory pyarrow's allocator keeps for reuse back to the system: the tables
    are built by numpy, which allocates elsewhere, so what it keeps only adds to the peak."""
    pa.default_memory_pool().release_unused()


def open_database(path: str | os.PathLike) -> storage.Store:
    """The store at ``path`` (a DuckDB file or a PostgreSQL URL), read-only; refuses when
    there is no database file there."""
    if storage.is_server_url(str(path)):
        return storage.connect(str(path), read_only=True)
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


def _canonical_array(series: pd.Series, kind: pa.DataType) -> pa.Array:
    """One column in its canonical Arrow type, without a Python object per value where the
    column is already typed (dates as datetime64, text as categoricals)."""
    if pa.types.is_date32(kind):
        if not pd.api.types.is_datetime64_dtype(series.dtype):  # text, objects, time zones
            series = pd.to_datetime(series)
            if isinstance(series.dtype, pd.DatetimeTZDtype):
                series = series.dt.tz_localize(None)
        return pa.array(series.to_numpy().astype("datetime64[D]"), from_pandas=True)
    if isinstance(series.dtype, pd.CategoricalDtype) and pa.types.is_string(kind):
        # Kept dictionary-encoded: sorting moves the small indices, not the text, and
        # pyarrow.csv writes a dictionary column as its values (the same bytes).
        array = pa.array(series, from_pandas=True)
        return array.cast(pa.dictionary(array.type.index_type, kind))
    if isinstance(series.dtype, pd.ArrowDtype):  # identifiers: Arrow text, no Python object
        return pa.chunked_array(series.array.__arrow_array__()).combine_chunks().cast(kind)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if pa.types.is_integer(kind):
        return pa.array(pd.to_numeric(series), from_pandas=True).cast(kind)
    return pa.array(series, type=kind, from_pandas=True).cast(kind)


def _canonical_source(series: pd.Series, kind: pa.DataType) -> pa.Array:
    """:func:`_canonical_array` before its last cast, taken from then on a batch at a time:
    counts stay as they were read (float64 where there are gaps), sharing their memory."""
    if pa.types.is_integer(kind) and not isinstance(series.dtype, pd.CategoricalDtype):
        return pa.array(pd.to_numeric(series), from_pandas=True)
    return _canonical_array(series, kind)


class _CanonicalColumn:
    """One input column, ready to give its canonical Arrow array for any rows (a batch of
    the sorted rows): no sorted copy of the column, and no canonical copy of the counts.

    The column is converted once by the hash thread (:func:`_canonical_source`), then each
    batch taken and cast by Arrow, without the GIL. A categorical's text (its categories) is
    converted once, into the dictionary every batch shares. Numbers held as float64 (counts
    with gaps, amounts, kilometres) are taken by numpy from the frame's own array, each batch
    then made an Arrow array (NaN missing) and cast: no converted copy of the column."""

    def __init__(self, series: pd.Series, kind: pa.DataType) -> None:
        self.kind, self.rows = kind, len(series)
        self.series, self.codes, self.categories, self.dictionary = series, None, None, None
        self.source, self.numbers = None, None
        if isinstance(series.dtype, pd.CategoricalDtype) and pa.types.is_string(kind):
            # Only the codes and the text are kept: the text (a Python string per response
            # for response_id) is freed as soon as the hash thread has converted it.
            self.series, self.codes = None, series.cat.codes.to_numpy()
            self.categories = series.cat.categories
        elif series.dtype == np.float64 and (pa.types.is_integer(kind) or kind == pa.float64()):
            # (what _canonical_source converts whole: the same values, NaN missing)
            self.series, self.numbers = None, series.to_numpy()

    def whole(self) -> pa.Array:
        """Every row in its canonical type, in the frame's order, without taking each row
        (the identifiers are sorted from it: no copy of their text)."""
        if self.codes is None and self.numbers is None:
            if self.source is None:
                self.source, self.series = _canonical_source(self.series, self.kind), None
            return self.source.cast(self.kind)
        return self.take(np.arange(self.rows))

    def take(self, rows: np.ndarray) -> pa.Array:
        if self.numbers is not None:
            return pa.array(self.numbers[rows], from_pandas=True).cast(self.kind)
        if self.codes is None:
            if self.source is None:
                self.source, self.series = _canonical_source(self.series, self.kind), None
            return self.source.take(pa.array(rows)).cast(self.kind)
        if self.dictionary is None:
            self.dictionary = pa.array(self.categories, from_pandas=True).cast(self.kind)
            self.categories = None
        codes = self.codes[rows]
        # (the same array as _canonical_array of those rows: the codes as indices, -1 null)
        return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), self.dictionary)


def _canonical_columns(responses: pd.DataFrame) -> list[_CanonicalColumn]:
    """The columns of :data:`INPUT_COLUMNS`, picked from the frame in the calling thread (the
    hash thread then reads no DataFrame, only these columns)."""
    return [_CanonicalColumn(responses[name], kind) for name, kind in INPUT_COLUMNS]


def input_sha256(responses: pd.DataFrame) -> str:
    """SHA-256 of the canonical form of the input rows (the recipe is in ``manifest.json``).

    The columns of :data:`INPUT_COLUMNS`, cast to their Arrow types, rows sorted by
    ``response_id``, written by ``pyarrow.csv.write_csv`` (header, ``,``, ``\\n``, missing
    values empty, strings quoted, dates ``YYYY-MM-DD``, booleans ``true``/``false``), hashed.
    Free text, e-mails and quality flags are not part of it.
    """
    return _digest(_canonical_columns(responses))


def _digest_of(handed: list[list[_CanonicalColumn]]) -> str:
    return _digest(handed.pop())


_NIBBLES = np.full(256, 255, dtype=np.uint8)
_NIBBLES[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def _uuid_order(text: pa.Array, *, chunk_rows: int = HASH_BATCH_ROWS) -> np.ndarray | None:
    """``pyarrow.compute.sort_indices(text)`` when every value is 36 bytes long and begins
    like a UUID in lower case (``xxxxxxxx-xxxx-xxxx-``, ``x`` in ``0-9a-f``) and no two
    values share those 16 digits, else None (Arrow then sorts the text): the 16 digits as
    one 64-bit number a row, sorted by numpy (a third of the input hash's time otherwise).

    The same order: two values that differ in those digits first differ at one of them (the
    dashes are in the same places), where byte order is the digits' order (``0-9a-f``), so
    comparing the bytes compares the numbers; with no two numbers equal the order is strict.
    """
    rows = len(text)
    if rows < 2 or text.null_count or not pa.types.is_string(text.type):
        return None
    offsets = np.frombuffer(
        text.buffers()[1], dtype=np.int32, count=rows + 1, offset=4 * text.offset
    )
    if offsets[-1] - offsets[0] != 36 * rows or np.any(np.diff(offsets) != 36):
        return None
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    data = data.reshape(rows, 36)
    keys = np.empty(rows, dtype=np.uint64)
    for start in range(0, rows, chunk_rows):  # (a few MB at a time)
        chunk = data[start : start + chunk_rows]
        if np.any(chunk[:, 8] != ord("-")) or np.any(chunk[:, 13] != ord("-")):
            return None
        digits = np.concatenate((chunk[:, 0:8], chunk[:, 9:13], chunk[:, 14:18]), axis=1)
        nibbles = _NIBBLES[digits]
        if np.any(nibbles > 15):
            return None
        packed = np.ascontiguousarray((nibbles[:, 0::2] << 4) | nibbles[:, 1::2])
        keys[start : start + chunk_rows] = packed.view(">u8")[:, 0]
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    if np.any(ranked[1:] == ranked[:-1]):  # two values share the digits: Arrow decides
        return None
    return order


def _digest(columns: list[_CanonicalColumn], *, batch_rows: int = HASH_BATCH_ROWS) -> str:
    # (pyarrow sorts by a plain column only: the identifiers' text, not their codes)
    identifiers = columns[0].whole().cast(pa.string())
    order = _uuid_order(identifiers)
    if order is None:
        order = pc.sort_indices(identifiers).to_numpy()
    del identifiers
    names = [name for name, _ in INPUT_COLUMNS]
    sink = _HashingSink()
    writer = None
    # The sorted rows a batch at a time: the same bytes as ``write_csv`` of the whole sorted
    # table (one header, then the rows in order), without that table (0.17 GB at 1M rows).
    for start in range(0, max(len(order), 1), batch_rows):
        rows = order[start : start + batch_rows]
        batch = pa.Table.from_arrays([column.take(rows) for column in columns], names=names)
        if writer is None:
            options = pa_csv.WriteOptions(**CANONICAL_CSV)
            writer = pa_csv.CSVWriter(sink, batch.schema, write_options=options)
        writer.write_table(batch)
    writer.close()
    del columns, order
    _release_arrow_memory()
    return sink.digest.hexdigest()


# --- building ---------------------------------------------------------------------------------


def _with_columns(frame: pd.DataFrame, *, drop=(), **columns: pd.Series) -> pd.DataFrame:
    """``frame`` without the columns ``drop``, with ``columns`` replaced or added, the others
    shared, not copied (pandas' ``assign`` and ``drop`` copy every column)."""
    kept = {c: columns.get(c, frame[c]) for c in frame.columns if c not in drop}
    return pd.DataFrame({**kept, **columns}, copy=False)


def _statistics_frame(responses: pd.DataFrame) -> pd.DataFrame:
    """The columns the tables read, ``sector`` and ``origin`` filled for the companies outside
    the list; the identifiers and the eligibility columns (read once by
    :func:`_check_publishable`) are left out."""
    return _with_columns(
        responses,
        drop={"response_id", *ELIGIBILITY_COLUMNS},
        sector=_filled(responses["sector"], UNLISTED),
        origin=_filled(responses["origin"], UNLISTED),
    )


def _filled(series: pd.Series, value: str) -> pd.Series:
    """``series`` with its missing values replaced by ``value`` (a categorical gains it)."""
    if isinstance(series.dtype, pd.CategoricalDtype) and value not in series.cat.categories:
        series = series.cat.add_categories([value])
    return series.fillna(value)


def validate_min_cell(min_cell) -> int:
    if isinstance(min_cell, bool) or not isinstance(min_cell, (int, np.integer)) or min_cell < 1:
        raise ValueError("`min_cell` must be a whole number of at least 1.")
    return int(min_cell)


def parse_as_of(text: str | None) -> date | None:
    """``--as-of`` as a date (None stays None: today)."""
    return None if text is None else validate_as_of(text)


def validate_as_of(as_of) -> date:
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
    missing = [c for c in FETCHED_COLUMNS + JOINED_COLUMNS if c not in responses.columns]
    if missing:
        raise ValueError(f"`responses` lacks the columns: {', '.join(missing)}.")
    problems = []
    if responses["source"].eq("synthetic").any():
        problems.append("synthetic rows")
    flagged = responses[list(storage.FLAG_COLUMNS)].fillna(True)
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
    launch: date | None = None,
    previous=(),
    ahead=None,
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
    launch : datetime.date, optional
        The survey's opening: incidents that began before it enter late (delayed entry).
    previous : sequence of analysis.snapshot.releases.Release
        The releases already published: a figure that would change on 1 to ``min_cell - 1``
        responses since any of them is suppressed (held back) and listed in
        ``release_control`` (see :func:`analysis.snapshot.releases.held_back`).
    ahead : callable, optional
        Called with the snapshot once built, before its input hash is known (its
        ``input_sha256`` is then empty), while the hash's thread finishes: a publication
        sends its charts to be drawn then (:func:`analysis.snapshot.report.figures`).

    Returns
    -------
    Snapshot
        With ``ahead``: ``(snapshot, what ahead returned)``.

    Raises
    ------
    SnapshotRefused
        When ``responses`` is empty.

    Examples
    --------
    >>> from survey.demo import generate_frame
    >>> frame = generate_frame(400, seed=1, today=date(2026, 6, 15))
    >>> frame = frame.assign(source="web")
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
    as_of = validate_as_of(as_of)
    min_cell = validate_min_cell(min_cell)
    if not isinstance(responses, pd.DataFrame):
        raise ValueError("`responses` must be a pandas DataFrame.")
    if responses.empty:
        raise SnapshotRefused(
            f"no response qualifies as of {as_of.isoformat()} (consented, unflagged, "
            "non-synthetic, submitted on or before that day)"
        )
    if KNOWN_ON_COLUMN not in responses:  # rows read without updates: known when submitted
        responses = responses.assign(**{KNOWN_ON_COLUMN: known_on_base(responses)})
    _check_publishable(responses, as_of)
    # The input hash (sorting, CSV and SHA-256: pyarrow and hashlib, which release the GIL)
    # runs in a thread beside the tables, a batch of the sorted rows at a time.
    hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="input-hash")
    # (handed over in a list the thread empties, so that its columns are freed once hashed)
    digest = hashing.submit(_digest_of, [_canonical_columns(responses)])
    hashing.shutdown(wait=False)
    # each column of the responses is read once for every table, curve, cut and hold, and
    # released before the hash is waited for
    submitted = pd.to_datetime(responses["submitted_on"])
    rows, first, last = len(responses), submitted.min().date(), submitted.max().date()
    frame = _statistics_frame(responses)
    # (no longer held here: what the statistics do not read, the identifiers first, can be
    # freed while they run when the caller does not hold the responses either)
    del responses
    with kpis.shared_reading():
        published = _build_snapshot(
            frame, as_of=as_of, min_cell=min_cell, seed=seed, launch=launch, previous=previous
        )
    built = Snapshot(
        input_sha256="", rows=rows, submitted_from=first, submitted_to=last, **published
    )
    # what needs every figure but the input hash starts while the hash thread finishes
    early = None if ahead is None else ahead(built)
    snapshot = dataclasses.replace(built, input_sha256=digest.result())
    for cut in ("companies", "groups"):  # (cut from the same table: not cut again)
        if cut in built.__dict__:
            snapshot.__dict__[cut] = built.__dict__[cut]
    return snapshot if ahead is None else (snapshot, early)


def _build_snapshot(
    frame: pd.DataFrame,
    *,
    as_of,
    min_cell: int = DEFAULT_MIN_CELL,
    seed: int = SEED,
    launch: date | None = None,
    previous=(),
) -> dict:
    """The fields of :func:`build_snapshot`'s snapshot but its input hash and its rows, from
    the statistics' frame of responses already checked (:func:`_statistics_frame`)."""
    # one disclosure control over both tables: what is hidden takes no part in any comparison
    previous = list(previous)
    try:
        holds = releases.held_back(
            frame, as_of=as_of, previous=previous, min_cell=min_cell, launch=launch
        )
    except ValueError as error:
        raise SnapshotRefused(str(error)) from None
    tables = disclosure.published_tables(
        frame,
        as_of=as_of,
        rng=np.random.default_rng(seed),
        launch=launch,
        min_cell=min_cell,
        held_companies=holds.companies,
        held_groups=holds.groups,
    )
    companies, groups, layout = tables.companies, tables.groups, tables.layout
    company_hidden, group_hidden = tables.company_hidden, tables.group_hidden
    published = pd.concat(
        [
            _published_rows(companies, "company", layout, company_hidden),
            _published_rows(groups, "group", layout, group_hidden),
        ],
        ignore_index=True,
    )
    curves = _published_curves(frame, companies, company_hidden, as_of, min_cell, launch)
    answer = design.analyse(
        disclosure.published_design_cells(
            kpis.design_cells(frame, as_of=as_of, launch=launch), companies, company_hidden
        ),
        metrics=kpis.DESIGN_METRICS,
        min_n=min_cell,
    )
    attrs = companies.attrs
    settings = {
        "confidence_level": attrs.get("confidence_level", kpis.CONFIDENCE_LEVEL),
        "small_base": attrs.get("small_base", kpis.SMALL_BASE),
        "false_discovery_rate": attrs.get("significance_level", kpis.SIGNIFICANCE_LEVEL),
        "bootstrap_resamples": attrs.get("n_resamples"),
        "median_interval": attrs.get("median_method", kpis.MEDIAN_METHOD),
        "resolved_within_days": list(kpis.RESOLVED_WITHIN_DAYS),
        "rmst_horizon_days": kpis.RMST_HORIZON_DAYS,
        "methodology_version": kpis.METHODOLOGY_VERSION,
    }
    return dict(
        as_of=as_of,
        min_cell=min_cell,
        seed=int(seed),
        kpis=published,
        curves=curves,
        settings=settings,
        launch=launch,
        design_effects=_rounded_frame(answer.effects[list(design.TABLE_COLUMNS)]),
        design_inputs=_rounded_frame(answer.inputs[list(DESIGN_INPUT_COLUMNS)]),
        design_groups=_rounded_frame(
            answer.groups.reindex(columns=list(DESIGN_GROUP_COLUMNS))
            if len(answer.groups)
            else pd.DataFrame(columns=list(DESIGN_GROUP_COLUMNS))
        ),
        design_notes={
            "shared_problem_types": {m: list(t) for m, t in answer.shared_types.items()},
            "left_out": {m: list(c) for m, c in answer.dropped.items()},
        },
        sensitivity=_sensitivity(frame, companies, as_of, launch, min_cell, seed, company_hidden),
        release_control={
            "rule": (
                "a figure that would change on 1 to min_cell - 1 responses (added or removed) "
                "since an earlier release that published it is suppressed, with every figure "
                "of a company or group whose total changed that little and of the group of a "
                "held company"
            ),
            "cadence": "monthly, as of the last day of the month (the default as_of)",
            "earlier_releases": [release.name for release in previous],
            "held": holds.records,
        },
    )


DESIGN_INPUT_COLUMNS = ("metric", "company", "sector", "origin", "estimate", "standard_error", "n")
DESIGN_GROUP_COLUMNS = (
    "metric",
    "sector",
    "origin",
    "companies",
    "unweighted_mean",
    "unweighted_se",
    "unweighted_low",
    "unweighted_high",
    "companies_weighted",
    "weighted_mean",
    "weighted_se",
    "weighted_low",
    "weighted_high",
    "without_weight",
)


def _rounded_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Floats to SIGNIFICANT_DIGITS, so the published bytes do not hang on the last bit."""
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        kind = out[column].dtype.kind
        if kind == "f":
            out[column] = _round_significant(out[column].to_numpy(dtype=float))
        elif kind in "iu":
            out[column] = out[column].astype("Int64")
        elif kind == "b":
            out[column] = out[column].astype("boolean")
    return out


def _sensitivity(frame, companies, as_of, launch, min_cell, seed, hidden=None) -> pd.DataFrame:
    """Per company, the headline figures on the incidents that began after the launch, and
    the refunds within 30 days reweighted by outcome (missing dates), beside the published
    ones. A figure on a subset is published only when the subset and what it leaves out
    both hold 0 or at least ``min_cell`` responses, so the two cannot be differenced."""
    published = companies.set_index("company")
    out = pd.DataFrame({"company": companies["company"].astype(str).to_numpy()})
    out["resolution_n"] = published["resolution_n"].to_numpy()
    out["resolved_within_30d_share"] = published["resolved_within_30d_share"].to_numpy()
    out["resolution_unresolved90_days"] = published["resolution_unresolved90_days"].to_numpy()
    if launch is not None:
        # The figures of the incidents that began after the launch alone, from the readings
        # the tables made of the same frame (no copy of the rows, no column read again).
        began_after = (pd.to_datetime(frame["started_on"]) >= pd.Timestamp(launch)).to_numpy()
        later = (
            kpis.resolution_figures(frame, as_of=as_of, launch=launch, rows=began_after)
            .set_index("company")
            .reindex(out["company"])
        )
        n_after = pd.to_numeric(later["resolution_n"], errors="coerce").fillna(0).to_numpy()
        left_out = out["resolution_n"].to_numpy() - n_after
        safe = (n_after >= min_cell) & ((left_out == 0) | (left_out >= min_cell))
        out["after_launch_n"] = np.where(safe, n_after, np.nan)
        for column in ("resolved_within_30d_share", "resolution_unresolved90_days"):
            out[f"after_launch_{column}"] = np.where(safe, later[column].to_numpy(), np.nan)
    refunds = kpis.refund_sensitivity(frame, as_of=as_of).set_index("company")
    refunds = refunds.reindex(out["company"])
    safe = (refunds["complete"].to_numpy() >= min_cell) & (refunds["n"].to_numpy() >= min_cell)
    out["refund_requests"] = np.where(safe, refunds["n"].to_numpy(), np.nan)
    out["refund_complete"] = np.where(safe, refunds["complete"].to_numpy(), np.nan)
    out["refunded_within_30d_share"] = np.where(
        safe, refunds["refunded_within_30d_share"].to_numpy(), np.nan
    )
    out["refunded_within_30d_reweighted"] = np.where(
        safe, refunds["reweighted_share"].to_numpy(), np.nan
    )
    small = out["resolution_n"].to_numpy() < min_cell
    resolution_hidden = small if hidden is None else small | hidden["resolution"]
    for column in ("resolved_within_30d_share", "resolution_unresolved90_days"):
        out.loc[resolution_hidden, column] = np.nan
    if hidden is not None:  # what the disclosure control hides stays hidden here too
        after = [c for c in out.columns if c.startswith("after_launch_")]
        out.loc[resolution_hidden, after] = np.nan
        refund = ["refund_requests", "refund_complete", "refunded_within_30d_share"]
        refund.append("refunded_within_30d_reweighted")
        out.loc[hidden["refund_success"] | hidden["refund_time"], refund] = np.nan
    return _rounded_frame(out.drop(columns=["resolution_n"]))


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


def _typed(values, kind: str, hidden: np.ndarray):
    """A published column's values with the hidden ones missing, as an array of its kind."""
    if kind == "integer":
        array = pd.array(values, dtype="Int64")
        array[hidden] = pd.NA
    elif kind == "number":
        array = np.where(hidden, np.nan, _round_significant(values))
    elif kind == "boolean":
        array = pd.array(values, dtype="boolean")
        array[hidden] = pd.NA
    else:
        array = np.array(values, dtype=object)
        array[hidden] = None
    return array


def _flags(flags: pd.Series, p_adj: pd.Series) -> np.ndarray:
    """kpis writes "" for both "not significant" and "no test": say "none" for the first."""
    values = flags.fillna("").astype(str).to_numpy(dtype=object)
    untested = p_adj.isna().to_numpy()
    return np.where(values != "", values, np.where(untested, None, "none"))


def _published_rows(table, level, layout, hidden) -> pd.DataFrame:
    # The same columns without the table's attrs, which pandas deep-copies into every column
    # read (several hundred here: most of the time this took).
    table = pd.DataFrame(table, copy=False)
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
            "name": [group_name(g, "en") for g in table["group"]],
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
        mask = np.asarray(hidden[family], dtype=bool)
        for column in family_columns:
            values = table[column]
            kind = _kind(values)
            if column.endswith("_vs_others_flag"):
                values = _flags(values, table[column.replace("_flag", "_p_adj")])
            columns[column] = _typed(np.asarray(values), kind, mask)
        columns[f"{family}_suppressed"] = mask.copy()
    return pd.DataFrame(columns)


def _published_curves(frame, companies, hidden, as_of, min_cell, launch=None) -> pd.DataFrame:
    """Company curves, each cut before its first point with fewer than ``min_cell`` at risk."""
    pieces = []
    for metric in ("resolution", "refund_time"):
        curves = kpis.survival_curves(
            frame,
            as_of=as_of,
            metric=metric,
            by="company",
            launch=launch if metric == "resolution" else None,
        )
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
