"""Files in: CSV and Excel exports of other survey tools, every row checked like a form answer.

Columns are recognised by questionnaire id or by their French or English label; choices by
value or label; yes/no in French or English; dates as YYYY-MM-DD or DD/MM/YYYY. Each row is
validated by the same ``Response`` model as the form. The file is read, checked and staged
in batches (memory holds one batch, not the file); its valid rows are then stored all at once
with ``source = 'import'``, or none of them (see ``Store.insert_imported``). Rows whose
``source`` column says ``synthetic`` (demo rows exported then imported back) are refused: they
never become real responses. Every rejected row gets a line number, a field and a reason in
``FILE.rejected.csv``. Importing the same rows again stores nothing twice.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import logging
import multiprocessing as mp
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from pydantic import ValidationError

from survey import questionnaire as qn
from survey import store as storage
from survey.validation import (
    DERIVED,
    Response,
    clean_text,
    paris_today,
    proven_valid,
    validate_answers,
    with_derived,
)

MAX_FILE_BYTES = 2_000_000_000
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
TRUE_WORDS = {"true", "yes", "oui", "vrai", "1", "y", "o", "x", "on", "t"}
FALSE_WORDS = {"false", "no", "non", "faux", "0", "n", "off", "f"}
DONT_KNOW_WORDS = {
    "",
    "nsp",
    "ne sais pas",
    "je ne sais pas",
    "don't know",
    "dont know",
    "na",
    "n/a",
    "nan",
    "null",
    "none",
}
SUBMITTED_COLUMN = "submitted_on"
SOURCE_COLUMN = "source"
# An export's ``source`` values (folded) that mark demo rows: such rows are refused.
SYNTHETIC_WORDS = ("synthetic", "synthetique", "demo", "demonstration")
_NO_COLUMN = (
    "{name}: no recognised column (expected questionnaire ids such as company, problem, "
    "started_on, status, consent_research, or their French or English labels)"
)
BATCH_ROWS = 65_536  # rows read, checked and staged at a time: memory holds one batch
MIN_BLOCK_BYTES = 1 << 16  # Arrow's CSV block holds whole rows: more than any answer's length
# Arrow's CSV parser needs about ten times its block in memory: a batch is several blocks.
MAX_BLOCK_BYTES = 1 << 22
PARALLEL_ROWS = 50_000  # below this, validating in one process is faster than forking
DELIMITERS = (",", ";", "\t")
SNIFF_ROWS = 20  # rows of the file's start read with each candidate separator
SNIFF_BYTES = 1 << 16

log = logging.getLogger(__name__)


class ImportRefused(ValueError):
    """The file cannot be read as a table of responses at all; nothing was changed."""


@dataclass(frozen=True)
class Rejection:
    line: int  # line in the file (the header is line 1)
    field: str
    reason: str


@dataclass
class ImportReport:
    path: Path
    rows: int = 0
    stored: int = 0
    already_imported: int = 0
    rejected_rows: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    mapped_to_other: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    report_path: Path | None = None
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would store" if self.dry_run else "stored"
        parts = [
            f"{self.path.name}: {self.rows:,} rows read",
            f"{self.stored:,} {verb}",
            f"{self.already_imported:,} already imported",
            f"{self.rejected_rows:,} rejected",
        ]
        text = ", ".join(parts)
        if self.rejected_rows and self.report_path:
            text += f" (reasons in {self.report_path})"
        if self.mapped_to_other:
            text += f"; {self.mapped_to_other:,} unknown company names kept as 'other'"
        if self.ignored_columns:
            text += f"; ignored columns: {', '.join(self.ignored_columns)}"
        return text


def _fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form of a header or a label."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return " ".join(text.lower().replace("*", " ").replace("’", "'").split())


@cache
def _header_map() -> dict[str, str]:
    names: dict[str, str] = {}
    for q in qn.FIELDS:
        for name in (q.id, q.label.fr, q.label.en):
            names[_fold(name)] = q.id
    # Survey tools name their timestamp column in many ways.
    for name in (
        SUBMITTED_COLUMN,
        "submitted_at",
        "horodatage",
        "timestamp",
        "date de soumission",
        "date d'envoi",
        "submission date",
    ):
        names[_fold(name)] = SUBMITTED_COLUMN
    source_label = next(label for name, _, label in qn.METADATA if name == SOURCE_COLUMN)
    for name in (SOURCE_COLUMN, source_label.fr, source_label.en):
        names[_fold(name)] = SOURCE_COLUMN
    return names


@cache
def _choice_map(q: qn.Question) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for choice in q.choices:
        for name in (choice.value, choice.label.fr, choice.label.en):
            mapping[_fold(name)] = choice.value
    if q.id == "company":
        for row in qn.companies():
            for alias in [row["name"], *(row["aliases"] or "").split("|")]:
                if alias:
                    mapping[_fold(alias)] = row["id"]
    if q.id == "department":
        for row in qn.departments():
            mapping[_fold(row["name"])] = row["code"]
            if row["code"].isdigit() and len(row["code"]) == 2:
                mapping[str(int(row["code"]))] = row["code"]  # "6" for "06"
    return mapping


# --- reading ------------------------------------------------------------------------------------


def read_batches(path: Path, *, rows: int = BATCH_ROWS) -> Iterator[pa.Table]:
    """The file as Arrow tables of strings of about ``rows`` rows each, in the file's order.

    A CSV is streamed (Arrow's reader, one block at a time), so memory holds one batch and not
    the file. Raises :class:`ImportRefused` with one clear line, before the first batch when
    the file cannot be a table at all, or when a later block turns out unreadable.
    """
    if not path.exists():
        raise ImportRefused(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise ImportRefused(f"{path.name}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise ImportRefused(f"{path.name}: the file is larger than 2 GB")
    if path.suffix.lower() in EXCEL_SUFFIXES:
        try:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001  (openpyxl raises many kinds)
            raise ImportRefused(f"{path.name}: not a readable Excel workbook ({exc})") from exc
        frame.columns = [str(c) for c in frame.columns]
        table = pa.Table.from_pandas(frame.astype(str), preserve_index=False)
        return iter([table.slice(i, rows) for i in range(0, table.num_rows, rows)] or [table])
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if b"\x00" in head[:4096]:
        raise ImportRefused(f"{path.name}: binary content, not a CSV or Excel table")
    bad_byte = _first_non_utf8_byte(path)
    if bad_byte is not None:
        raise ImportRefused(
            f"{path.name}: not UTF-8 text (byte {bad_byte}); save it as 'CSV UTF-8' or .xlsx"
        )
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise ImportRefused(f"{path.name}: the file is empty")
    sample = head.decode("utf-8-sig", errors="ignore")  # a character cut at the end
    delimiter, header = choose_delimiter(sample, complete=len(head) < SNIFF_BYTES)
    if not any(_fold(name) in _header_map() for name in header):
        raise ImportRefused(_NO_COLUMN.format(name=path.name))
    if len(set(header)) != len(header):
        raise ImportRefused(f"{path.name}: two columns have the same name")
    # Arrow's blocks are counted in bytes: one of about ``rows`` rows of this file.
    row_bytes = max(len(head) // max(sample.count("\n"), 1), 1)

    def open_reader(block_size: int) -> pa_csv.CSVStreamingReader:
        try:
            return pa_csv.open_csv(
                str(path),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.string() for name in header},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
                read_options=pa_csv.ReadOptions(block_size=block_size),
            )
        except (pa.ArrowInvalid, ValueError) as exc:
            raise ImportRefused(_unreadable(path, exc)) from exc

    block_size = min(max(rows * row_bytes, MIN_BLOCK_BYTES), MAX_BLOCK_BYTES)
    return _streamed(path, open_reader, block_size, rows)


def _streamed(path: Path, open_reader, block_size: int, rows: int) -> Iterator[pa.Table]:
    """Arrow's blocks gathered into tables of at least ``rows`` rows (the last one fewer).

    A row longer than a block (a pasted ten-megabyte narrative) stops Arrow's reader: the
    file is then read again with blocks four times larger, from the first row not yet given.
    """
    given = 0  # rows already yielded
    while True:
        reader = open_reader(block_size)
        gathered: list[pa.RecordBatch] = []
        skip = given
        try:
            with reader:
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    if skip:
                        dropped = min(skip, batch.num_rows)
                        batch, skip = batch.slice(dropped), skip - dropped
                    gathered.append(batch)
                    if sum(b.num_rows for b in gathered) >= rows:
                        table, gathered = pa.Table.from_batches(gathered), []
                        given += table.num_rows
                        yield table
        except (pa.ArrowInvalid, ValueError) as exc:
            if "straddl" in str(exc) and block_size < MAX_FILE_BYTES:
                block_size = min(block_size * 4, MAX_FILE_BYTES)
                continue
            raise ImportRefused(_unreadable(path, exc)) from exc
        if gathered:
            yield pa.Table.from_batches(gathered)
        return


def _unreadable(path: Path, exc: Exception) -> str:
    return f"{path.name}: not a readable table ({str(exc).splitlines()[0]})"


def read_table(path: Path) -> pa.Table:
    """The whole file as one Arrow table of strings (see :func:`read_batches`)."""
    batches = list(read_batches(path))
    return pa.concat_tables(batches) if len(batches) > 1 else batches[0]


def choose_delimiter(sample: str, *, complete: bool = True) -> tuple[str, list[str]]:
    r"""The separator of a CSV file, from its first lines, and the header it gives.

    Each candidate (comma, semicolon, tab) parses the first rows; the one whose header maps
    the most columns to questions wins, then the one giving the most rows as wide as the
    header, then the one :class:`csv.Sniffer` picks. Counting characters of the first line is
    not enough: French labels hold commas ("Déplacements pour rien (boutique, point relais)")
    in files separated by semicolons. ``complete`` is False when ``sample`` is the cut start
    of a longer file (its last row is then left out).

    >>> choose_delimiter("Entreprise;Déplacements pour rien (boutique, point relais)\nfree;2\n")
    (';', ['Entreprise', 'Déplacements pour rien (boutique, point relais)'])
    """
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:  # the sniffer gives up on short or irregular samples
        sniffed = None
    headers = _header_map()
    best: tuple[tuple[int, int, bool], str, list[str]] | None = None
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        try:
            rows = list(itertools.islice(reader, SNIFF_ROWS + 1))
        except csv.Error:  # a stray carriage return: Arrow's reader will say what is wrong
            first_line = sample.splitlines()[0] if sample else ""
            rows = [next(csv.reader([first_line], delimiter=delimiter), [])]
        if not complete and len(rows) > 1:
            rows = rows[:-1]
        header = rows[0] if rows else []
        mapped = len({headers[_fold(name)] for name in header if _fold(name) in headers})
        as_wide = sum(len(row) == len(header) for row in rows[1:] if row)
        score = (mapped, as_wide, delimiter == sniffed)
        if best is None or score > best[0]:
            best = (score, delimiter, header)
    assert best is not None  # DELIMITERS is not empty
    return best[1], best[2]


def _first_non_utf8_byte(path: Path, *, chunk: int = 1 << 22) -> int | None:
    """Position of the first byte that is not UTF-8, read in pieces (the file is not held)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    position = 0
    with open(path, "rb") as f:
        while piece := f.read(chunk):
            try:
                decoder.decode(piece)
            except UnicodeDecodeError as exc:
                return position + exc.start
            position += len(piece)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return position
    return None


@dataclass(frozen=True)
class Unreadable:
    """A value the importer could not put in canonical form, kept as typed for the message.

    The model refuses it for dates, numbers and yes/no, so the row is rejected with a reason
    instead of reaching the database in a form that pydantic would accept and DuckDB would
    not (``on``, a Unix timestamp, ``1_000``...).
    """

    typed: str

    def __str__(self) -> str:
        return self.typed


_NUMBER = re.compile(r"^[+-]?\d+(\.\d*)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _cleaner(column: str):
    """A function turning one distinct raw value of ``column`` into what the model reads:
    canonical text (``true``, ``2023-07-10``, ``12.5``, a choice's value) or, when that is not
    possible, an :class:`Unreadable` that the model reports next to its field."""
    if column == SUBMITTED_COLUMN:
        return lambda raw: _date_text(raw.strip()[:10])
    if column == SOURCE_COLUMN:
        return _fold
    q = qn.QUESTIONS[column]
    if q.kind == "choice":
        mapping = _choice_map(q)
        return lambda raw: mapping.get(_fold(raw), raw.strip())
    if q.kind in ("bool", "flag", "consent", "option"):

        def yes_no(raw: str):
            folded = _fold(raw)
            if folded in TRUE_WORDS:
                return "true"
            return "false" if folded in FALSE_WORDS else Unreadable(raw)

        return yes_no
    if q.kind == "date":

        def iso(raw: str):
            text = _date_text(raw.strip())
            return text if _ISO_DATE.match(text) else Unreadable(raw)

        return iso
    if q.kind in ("int", "float"):

        def number(raw: str):
            # Decimal commas ("12,5") are French; thousands separators are not accepted.
            text = raw.strip().replace(",", ".")
            return text if _NUMBER.match(text) else Unreadable(raw)

        return number
    # Free text: no NUL nor bidi control is stored (validation.clean_text).
    return lambda raw: clean_text(raw).strip()


def _date_text(raw: str) -> str:
    """YYYY-MM-DD kept; DD/MM/YYYY or DD-MM-YYYY turned into YYYY-MM-DD; else as typed."""
    parts = raw.replace("-", "/").split("/")
    if len(parts) == 3 and len(parts[0]) <= 2 and len(parts[2]) == 4:
        day, month, year = parts
        return f"{year}-{month.zfill(2)}-{day.zfill(2)}"
    return raw


def _chosen_columns(names: list[str], report: ImportReport) -> dict[str, str]:
    """The file's column for each recognised question id (the first one wins)."""
    headers = _header_map()
    chosen: dict[str, str] = {}
    for name in names:
        target = headers.get(_fold(name))
        if target is None or target in chosen:
            report.ignored_columns.append(name)
        else:
            chosen[target] = name
    if not chosen:
        raise ImportRefused(_NO_COLUMN.format(name=report.path.name))
    return chosen


def _dont_know(raw: str) -> bool:
    """Whether ``raw`` says "don't know" (:data:`DONT_KNOW_WORDS`). A digit survives
    :func:`_fold` and no such word holds one: numbers and dates skip the folding."""
    return not _DIGIT.search(raw) and _fold(raw) in DONT_KNOW_WORDS


_DIGIT = re.compile(r"[0-9]")
Coded = tuple[np.ndarray, np.ndarray]  # each row's code into the distinct texts (-1: none)


def _normalise(
    table: pa.Table, chosen: dict[str, str], report: ImportReport
) -> tuple[dict[str, np.ndarray], dict[str, Coded]]:
    """Recognised columns, by question id, as object arrays (None = unanswered), and the
    same columns as codes into their distinct cleaned texts (whose last one is None), for
    the column-wise work that follows.

    Each column is cleaned once per distinct value of the batch, not once per row.
    """
    columns: dict[str, np.ndarray] = {}
    coded: dict[str, Coded] = {}
    for target, name in chosen.items():
        raw = table.column(name).combine_chunks()
        if target == SUBMITTED_COLUMN:
            # A timestamp is distinct in every row; only its day is read (see _cleaner).
            dated = pc.match_substring_regex(raw, r"^\d{4}-\d{2}-\d{2}")
            raw = pc.if_else(dated, pc.utf8_slice_codeunits(raw, 0, 10), raw)
        # Arrow's dictionary encoding: only the distinct values become Python strings.
        encoded = raw.dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        uniques = encoded.dictionary.to_pylist()
        clean = _cleaner(target)
        cleaned = np.array(
            [None if _dont_know(u) else clean(u) for u in uniques] + [None], dtype=object
        )
        columns[target] = cleaned[codes]  # code -1 (missing) takes the trailing None
        coded[target] = (codes, cleaned)
    if "company" in columns:
        known = set(_choice_map(qn.QUESTIONS["company"]).values())
        company = columns["company"]
        present = pd.Series(company)
        unknown = (present.notna() & ~present.isin(list(known))).to_numpy()
        if unknown.any():
            typed = columns.get("company_other")
            other = company.copy() if typed is None else np.where(typed == None, company, typed)  # noqa: E711
            columns["company_other"] = np.where(
                unknown, other, typed if typed is not None else None
            )
            columns["company"] = np.where(unknown, "other", company)
            report.mapped_to_other += int(unknown.sum())
            for changed in ("company", "company_other"):
                coded.pop(changed, None)
    return columns, coded


# --- importing -----------------------------------------------------------------------------

_WORK: dict = {}


def _failing_rows(bounds: tuple[int, int]) -> list[int]:
    """Indices of rows in [start, stop) that the Response model refuses (run in a worker)."""
    names, arrays, context = _WORK["names"], _WORK["arrays"], _WORK["context"]
    start, stop = bounds
    failing = []
    validate = Response.model_validate
    for offset, values in enumerate(zip(*(a[start:stop] for a in arrays), strict=True)):
        answers = {n: v for n, v in zip(names, values, strict=True) if v is not None}
        try:
            validate(answers, context=context)
        except ValidationError:
            failing.append(start + offset)
    return failing


def _validate_all(names: list[str], arrays: list[np.ndarray], today: date) -> list[int]:
    """Every row through the model, on both cores for large files (forked workers)."""
    _WORK.update(names=names, arrays=arrays, context={"today": today})
    rows = len(arrays[0]) if arrays else 0
    workers = min(os.cpu_count() or 1, 4)
    try:
        if rows < PARALLEL_ROWS or workers < 2 or "fork" not in mp.get_all_start_methods():
            return _failing_rows((0, rows))
        step = -(-rows // workers)
        chunks = [(i, min(i + step, rows)) for i in range(0, rows, step)]
        with mp.get_context("fork").Pool(workers) as pool:
            return [i for part in pool.map(_failing_rows, chunks) for i in part]
    finally:
        _WORK.clear()


def _failing_rows_of(
    columns: dict[str, np.ndarray], today: date, coded: dict[str, Coded] | None = None
) -> list[int]:
    """Indices of the rows the Response model refuses. The rows a column-wise check proves
    valid (``validation.proven_valid``: 1-2 µs a row instead of the model's 64-150) skip the
    model; every other row goes through it, so what is refused, and why, is the model's.
    ``coded`` gives some columns already as codes (see :func:`_normalise`)."""
    coded = {name: _coded(columns[name], (coded or {}).get(name)) for name in columns}
    doubtful = np.flatnonzero(~proven_valid(coded, today=today))
    if not doubtful.size:
        return []
    names = list(columns)
    failing = _validate_all(names, [columns[n][doubtful] for n in names], today)
    return doubtful[failing].tolist()


def _coded(values: np.ndarray, known: Coded | None) -> Coded:
    if known is not None:
        return known
    codes, texts = pd.factorize(values, use_na_sentinel=True)
    return codes, np.append(np.asarray(texts, dtype=object), None)


def import_file(
    path: str | Path,
    store: storage.Store | None,
    *,
    dry_run: bool = False,
    locale: str = "en",
    today: date | None = None,
    collected_from: date | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Validate every row of ``path`` with the form's model; store the valid ones all at once
    (unless ``dry_run``); write the reasons for rejected rows next to the file.

    The file is read and checked ``batch_rows`` rows at a time (about that many: a CSV is read
    in blocks of bytes), so memory holds one batch whatever the file's size.

    ``collected_from`` is the day the survey the file comes from opened: an incident that began
    before it entered that survey late (delayed entry, as before Client Roi's own launch); it is
    stored with every row (None: Client Roi's launch applies).

    Raises :class:`ImportRefused` when the file cannot be read as a table at all (logged
    as a warning with its one-line reason).
    """
    path = Path(path)
    try:
        report = _import(
            path,
            store,
            dry_run=dry_run,
            locale=locale,
            today=today,
            collected_from=collected_from,
            batch_rows=batch_rows,
        )
    except ImportRefused as exc:
        log.warning("import refused: %s", exc)
        raise
    log.info("import: %s", report.summary())
    return report


def _import(
    path: Path,
    store: storage.Store | None,
    *,
    dry_run: bool,
    locale: str,
    today: date | None,
    collected_from: date | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    if batch_rows < 1:
        raise ValueError("`batch_rows` must be a positive number of rows.")
    today = today or paris_today()
    report = ImportReport(path=path, dry_run=dry_run)
    batches = read_batches(path, rows=batch_rows)
    first = next((b for b in batches if b.num_rows), None)
    if first is None:
        raise ImportRefused(f"{path.name}: a header but no rows")
    chosen = _chosen_columns(first.column_names, report)
    checked = (
        _checked(table, chosen, report, today=today, locale=locale)
        for table in itertools.chain([first], batches)
    )
    kept = (table for table in checked if table.num_rows)
    if store is None:
        for _ in kept:  # every row checked, nothing to compare with
            pass
    elif dry_run:
        report.already_imported = store.count_imported(kept)
    else:
        try:
            report.already_imported = store.insert_imported(
                kept, today=today, collected_from=collected_from
            )
        except storage.DataRejected as exc:
            raise ImportRefused(f"{path.name}: {exc}; nothing was imported") from exc
    report.stored = report.rows - report.rejected_rows - report.already_imported
    report.rejections.sort(key=lambda r: r.line)
    report.report_path = _write_rejections(path, report.rejections)
    return report


def _checked(
    table: pa.Table, chosen: dict[str, str], report: ImportReport, *, today: date, locale: str
) -> pa.Table:
    """One batch of the file: its rejections added to ``report``, its valid rows returned as
    Arrow text columns (compact, and scanned by DuckDB without conversion) with their line."""
    first_line = report.rows + 2  # the header is line 1
    rows = table.num_rows
    report.rows += rows
    columns, coded = _normalise(table, chosen, report)
    del table
    submitted = columns.pop(SUBMITTED_COLUMN, None)
    submitted_coded = coded.pop(SUBMITTED_COLUMN, None)
    source = columns.pop(SOURCE_COLUMN, None)
    _add_derived(columns)
    for changed in DERIVED:
        coded.pop(changed, None)
    names = list(columns)
    arrays = [columns[n] for n in names]
    failing = set(_failing_rows_of(columns, today, coded))
    for index in sorted(failing):
        answers = {n: a[index] for n, a in zip(names, arrays, strict=True) if a[index] is not None}
        outcome = validate_answers(answers, today=today)
        for problem in outcome.problems:
            report.rejections.append(
                Rejection(first_line + index, problem.field, problem.message(locale))
            )
    late = _known_after_submission(coded.get("status_known_on"), submitted_coded)
    if late.size:
        reason = qn.error_message("known_after_submission", locale)
        report.rejections.extend(
            Rejection(first_line + int(i), "status_known_on", reason) for i in late
        )
        failing.update(late.tolist())
    if source is not None:
        # Demo rows exported then imported would become real, published responses.
        synthetic = np.flatnonzero(np.isin(source.astype(str), SYNTHETIC_WORDS))
        reason = qn.error_message("synthetic_row", locale)
        report.rejections.extend(
            Rejection(first_line + int(i), SOURCE_COLUMN, reason) for i in synthetic
        )
        failing.update(synthetic.tolist())
    report.rejected_rows += len(failing)
    keep = np.ones(rows, dtype=bool)
    keep[list(failing)] = False
    everything = bool(keep.all())  # then no copy of the columns is needed

    def kept(values: np.ndarray, known: Coded | None) -> pa.Array:
        if known is None:
            return pa.array(values if everything else values[keep], type=pa.string())
        # Arrow picks the kept rows' texts: no Python string per cell. A rejected row's
        # unreadable value is in the distinct texts, never among those picked.
        codes, texts = known
        codes = codes if everything else codes[keep]
        distinct = pa.array([None if t is None else str(t) for t in texts], pa.string())
        return distinct.take(pa.array(np.where(codes < 0, len(texts) - 1, codes)))

    return pa.table(
        {
            **{
                n: kept(a, coded.get(n))
                for n, a in zip(names, arrays, strict=True)
                if n != "contact_email"
            },
            "line": pa.array(np.flatnonzero(keep) + first_line),
            "submitted_on": kept(submitted, submitted_coded)
            if submitted is not None
            else pa.nulls(int(keep.sum()), pa.string()),
        }
    )


def _add_derived(columns: dict[str, np.ndarray]) -> None:
    """The columns the form no longer asks (``validation.DERIVED``: the loaner cut off, the
    effort), computed from the question asked instead where a file gives only that one, so
    that an imported version-2 file stores them as the form does. A file giving both keeps
    its values; the model refuses the rows where they disagree."""
    for column, (source, _) in DERIVED.items():
        if source not in columns:
            continue
        given = columns.get(column)
        codes, uniques = pd.factorize(columns[source], use_na_sentinel=True)
        derived = [with_derived({source: value})[0].get(column) for value in uniques]
        # canonical text, as the cleaner writes it ("true", "5"); once per distinct value
        text = np.array([None if v is None else str(v).lower() for v in derived] + [None])
        text = text.astype(object)[codes]
        columns[column] = text if given is None else np.where(given == None, text, given)  # noqa: E711


def _known_after_submission(known: Coded | None, submitted: Coded | None) -> np.ndarray:
    """Rows whose ``status_known_on`` falls after their own submission date (the file's),
    both as cleaned texts in codes (see :func:`_normalise`)."""
    if known is None or submitted is None:
        return np.empty(0, dtype=np.int64)
    late = _iso_days(*known) > _iso_days(*submitted)  # NaN (not a YYYY-MM-DD) is never late
    return np.flatnonzero(late)


def _iso_days(codes: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """Each row's YYYY-MM-DD text as the number YYYYMMDD (ordered as the text is, even for an
    impossible day such as 2023-02-31), NaN for any other text."""
    digits = [
        float(t.replace("-", "")) if isinstance(t, str) and _ISO_DATE.match(t) else np.nan
        for t in texts
    ]
    return np.append(np.array(digits, dtype=float), np.nan)[codes]


def _write_rejections(path: Path, rejections: list[Rejection]) -> Path | None:
    target = path.with_name(path.name + ".rejected.csv")
    if not rejections:
        if target.exists():
            target.unlink()
        return None
    with open(target, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["line", "field", "reason"])
        for r in rejections:
            writer.writerow([r.line, r.field, r.reason])
    return target
