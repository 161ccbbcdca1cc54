"""Files in: CSV and Excel exports of other survey tools, every row checked like a form answer.

Columns are recognised by questionnaire id or by their French or English label; choices by
value or label; yes/no in French or English; dates as YYYY-MM-DD or DD/MM/YYYY. Each row is
validated by the same ``Response`` model as the form. Valid rows are stored in one
transaction with ``source = 'import'``; every rejected row gets a line number, a field and a
reason in ``FILE.rejected.csv``. Importing the same rows again stores nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from survey import questionnaire as qn
from survey import store as storage
from survey.validation import Response, paris_today, validate_answers

MAX_FILE_BYTES = 2_000_000_000
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
TRUE_WORDS = {"true", "yes", "oui", "vrai", "1", "y", "o", "x"}
FALSE_WORDS = {"false", "no", "non", "faux", "0", "n"}
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
    return names


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


def read_table(path: Path) -> pd.DataFrame:
    """The file as a DataFrame of strings; raises ImportRefused with one clear line."""
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
        return frame
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise ImportRefused(f"{path.name}: binary content, not a CSV or Excel table")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            f"{path.name}: not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8' or .xlsx"
        ) from exc
    if not text.strip():
        raise ImportRefused(f"{path.name}: the file is empty")
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            engine="c",
            quoting=csv.QUOTE_MINIMAL,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise ImportRefused(f"{path.name}: not a readable table ({exc})") from exc
    return frame


def _normalise(frame: pd.DataFrame, report: ImportReport) -> tuple[pd.DataFrame, np.ndarray]:
    """Recognised columns renamed to question ids; values cleaned column by column."""
    headers = _header_map()
    renamed: dict[str, str] = {}
    for column in frame.columns:
        target = headers.get(_fold(column))
        if target is None or target in renamed.values():
            report.ignored_columns.append(str(column))
        else:
            renamed[column] = target
    if not renamed:
        raise ImportRefused(
            f"{report.path.name}: no recognised column (expected questionnaire ids such as "
            "company, problem, started_on, status, consent_research, or their labels)"
        )
    frame = frame[list(renamed)].rename(columns=renamed)
    clean: dict[str, pd.Series] = {}
    other_names = np.zeros(len(frame), dtype=bool)
    for column in frame.columns:
        values = frame[column].astype(str).str.strip()
        folded = values.map(_fold)
        blank = folded.isin(DONT_KNOW_WORDS)
        if column == SUBMITTED_COLUMN:
            clean[column] = _dates(values.str.slice(0, 10)).where(~blank, None)
            continue
        q = qn.QUESTIONS[column]
        if q.kind == "choice":
            mapped = folded.map(_choice_map(q))
            if q.id == "company":
                unknown = mapped.isna() & ~blank
                other_names = unknown.to_numpy()
                mapped = mapped.where(~unknown, "other")
                if unknown.any():
                    given = clean.get("company_other")
                    clean["company_other"] = values.where(
                        unknown, given if given is not None else None
                    )
            # Unknown labels are kept as typed so the model reports them as "not a choice".
            clean[column] = mapped.where(mapped.notna(), values).where(~blank, None)
        elif q.kind in ("bool", "flag", "consent"):
            truth = folded.map(
                lambda v: True if v in TRUE_WORDS else False if v in FALSE_WORDS else v
            )
            clean[column] = truth.where(~blank, None)
        elif q.kind == "date":
            clean[column] = _dates(values).where(~blank, None)
        elif q.kind in ("int", "float"):
            # Decimal commas ("12,5") are French; thousands separators are not accepted.
            clean[column] = values.str.replace(",", ".", regex=False).where(~blank, None)
        else:
            clean[column] = values.where(values != "", None)
    if "company_other" in clean and "company_other" in frame.columns:
        typed = frame["company_other"].astype(str).str.strip()
        clean["company_other"] = typed.where(typed != "", clean["company_other"])
    report.mapped_to_other = int(other_names.sum())
    return pd.DataFrame(clean, index=frame.index), other_names


def _dates(values: pd.Series) -> pd.Series:
    """ISO dates kept; DD/MM/YYYY (and DD-MM-YYYY) turned to ISO; anything else kept as typed."""
    iso = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    french = pd.to_datetime(
        values.str.replace("-", "/", regex=False), format="%d/%m/%Y", errors="coerce"
    )
    parsed = iso.fillna(french)
    as_text = parsed.dt.strftime("%Y-%m-%d")
    return as_text.where(parsed.notna(), values)


# --- importing -----------------------------------------------------------------------------


def _row_key(answers: dict, seen: Counter) -> str:
    canonical = json.dumps(answers, sort_keys=True, default=str, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    seen[digest] += 1
    return f"import:{digest[:40]}:{seen[digest]}"


def import_file(
    path: str | Path,
    store: storage.Store | None,
    *,
    dry_run: bool = False,
    locale: str = "en",
    today: date | None = None,
) -> ImportReport:
    """Validate every row of ``path``; store the valid ones (unless ``dry_run``).

    Raises :class:`ImportRefused` when the file cannot be read as a table at all.
    """
    path = Path(path)
    today = today or paris_today()
    report = ImportReport(path=path, dry_run=dry_run)
    frame = read_table(path)
    report.rows = len(frame)
    if report.rows == 0:
        raise ImportRefused(f"{path.name}: a header but no rows")
    clean, _ = _normalise(frame, report)
    submitted = clean.pop(SUBMITTED_COLUMN) if SUBMITTED_COLUMN in clean else None
    records = clean.to_dict("records")
    context = {"today": today}
    seen: Counter = Counter()
    valid_rows: list[dict] = []
    for index, record in enumerate(records):
        answers = {k: v for k, v in record.items() if v is not None and v == v}
        line = index + 2
        try:
            response = Response.model_validate(answers, context=context)
        except ValidationError:
            outcome = validate_answers(answers, today=today)
            for problem in outcome.problems:
                report.rejections.append(Rejection(line, problem.field, problem.message(locale)))
            report.rejected_rows += 1
            continue
        row = response.model_dump()
        row.pop("contact_email", None)  # e-mails are never imported in bulk
        row["submission_key"] = _row_key(row, seen)
        on = submitted.iloc[index] if submitted is not None else None
        row["submitted_on"] = _submitted_on(on, row, today)
        row["line"] = line
        valid_rows.append(row)
    if valid_rows:
        incoming = pd.DataFrame(valid_rows)
        if dry_run or store is None:
            report.already_imported = store.count_keys(incoming["submission_key"]) if store else 0
        else:
            report.already_imported = store.insert_imported(incoming.drop(columns=["line"]))
        report.stored = len(incoming) - report.already_imported
    report.report_path = _write_rejections(path, report.rejections)
    return report


def _submitted_on(value, row: dict, today: date) -> date:
    """The file's submission date when given and plausible, else today."""
    if value:
        try:
            on = date.fromisoformat(str(value))
        except ValueError:
            return today
        started = row.get("started_on")
        ended = row.get("ended_on")
        if on <= today and (started is None or on >= started) and (ended is None or on >= ended):
            return on
    return today


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
