"""Storage of responses: schema and migrations, writes, reads. The only module that imports duckdb.

Callers get a :class:`Store` from :func:`connect` and never see SQL or a driver. The DuckDB
backend opens a short-lived connection per operation, so the command line (``export``,
``delete``...) can work on the same file while the app runs: a lock held by another process
is waited for with a bounded retry. The PostgreSQL backend (``survey/store_pg.py``, the only
module that imports psycopg) has the same public methods; :func:`connect` chooses it from a
``postgresql://`` URL. What both share lives here once: filters as bound SQL, the row a
submission becomes (keys, hashes, flags), the read and export queries, export formatting,
value codes and the migration files (one history, a DuckDB and a PostgreSQL text for each).
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import dataclasses
import hashlib
import hmac
import itertools
import json
import logging
import os
import re
import secrets
import shutil
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as day_time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from survey import spool
from survey.questionnaire import (
    FLAG_COLUMNS,
    LOCALES,
    METADATA,
    METADATA_ADDED_BY_MIGRATION,
    PRIVATE_COLUMNS,
    QUESTIONNAIRE_VERSION,
    QUESTIONS,
    REFERENCE_DIR,
    SOURCES,
    TIME_ZONE,
    TOO_FAST_SECONDS,
    columns_added_by_migrations,
    exported_columns,
    response_questions,
)
from survey.updates import (
    EVENT_COLUMNS,
    EVENT_KINDS,
    FOLD_INPUTS,
    FOLDED_COLUMNS,
    KNOWN_ON_COLUMN,
    empty_events,
    fold_events,
)

DEFAULT_DB = Path("data") / "clientroi.duckdb"
LOCK_RETRY_SECONDS = 15.0
MAX_HOLD_SECONDS = 2.0  # under continuous load the app lets a waiting CLI in at least this often
UNASKED_HOLD_SECONDS = 60.0  # and any other program (the duckdb shell) at least this often
YIELD_SECONDS = 0.15  # how long the file stays free for another process
CONFLICT_RETRIES = 20  # a transaction refused for a write-write conflict is tried again
WANTED_SUFFIX = ".wanted"
SPOOL_AFTER_SECONDS = 0.03
"""How long the app waits for a DuckDB file another process holds before it spools a
submission (:mod:`survey.spool`) or keeps a form's draft to write it once the file is free."""
BUSY_MEMORY_SECONDS = 0.5  # after that, the next brief operations spool at once for this long
"""``<database>.wanted``: a process waiting for the file says so there (its pid), so that the app
lets go of the file when someone waits rather than every few seconds: each release costs the
submissions arriving then a checkpoint, a pause and a reopening (the p99 of a busy form)."""
# Spreadsheet programs execute a cell starting with one of these: exports prefix it with '.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet may split a cell on "," or ";" (French Excel splits a .csv on ";") or tab,
# so a formula start right after one of them gets a ' too: "x;=1+2;y" becomes "x;'=1+2;y".
INNER_FORMULA = "([,;\t\r\n])([=+@-])"
CSV_DIALECTS = ("comma", "fr")  # fr: ";" between cells, UTF-8 with a byte order mark
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


def configure_logging(
    level: str | int | None = None, *, file: str | os.PathLike | None = None
) -> logging.Logger:
    """Send log records, one line each, to standard error or to ``file``; safe to repeat.

    ``level`` defaults to ``$CLIENTROI_LOG_LEVEL`` or ``INFO``. Configures the root logger
    (as :func:`logging.basicConfig` would) with one Client Roi handler: a second call replaces
    it, so a Streamlit rerun adds nothing. The app logs to standard error; the command line to
    a file (its standard error is for the one-line messages meant for the person typing). The
    file and its folder are created on the first record. Records never hold answers: a failed
    save names the submission key and the exception, not what was typed.

    >>> logger = configure_logging("warning")
    >>> logger.level == logging.WARNING
    True
    """
    level = level or os.environ.get("CLIENTROI_LOG_LEVEL") or "INFO"
    if isinstance(level, str):
        if level.upper() not in logging.getLevelNamesMapping():
            raise ValueError(f"`level` must be a logging level name such as INFO, not {level!r}.")
        level = level.upper()
    root = logging.getLogger()
    root.setLevel(level)
    for old in [h for h in root.handlers if isinstance(h, _StandardErrorHandler | _LogFile)]:
        root.removeHandler(old)
        old.close()
    handler = _StandardErrorHandler() if file is None else _LogFile(Path(file))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    return root


class _StandardErrorHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (as logging's last
    resort does), so a replaced stderr (a test's capture, Streamlit's) is followed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _LogFile(logging.FileHandler):
    """Appends to a UTF-8 file opened (and its folder made) at the first record only, so a
    command that logs nothing leaves no file behind."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


@contextlib.contextmanager
def _transaction(con: Any) -> Iterator[Any]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception (re-raised). The one transaction block."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def default_db_path() -> Path | str:
    """The database: ``$CLIENTROI_DB`` or ``data/clientroi.duckdb``.

    A file path comes back as a :class:`~pathlib.Path`; a ``postgresql://`` URL as the text
    itself (a ``Path`` would fold its ``//``).
    """
    setting = os.environ.get("CLIENTROI_DB") or ""
    if is_server_url(setting):
        return setting
    return Path(setting or DEFAULT_DB)


def is_server_url(target: object) -> bool:
    """True for a PostgreSQL URL (``postgresql://...`` or ``postgres://...``).

    >>> is_server_url("postgresql://clientroi@localhost/clientroi"), is_server_url("a.duckdb")
    (True, False)
    """
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


# --- codes and keys ---------------------------------------------------------------------------


def new_deletion_code() -> str:
    """A random code shown once to the respondent: 16 characters (80 bits), in groups of 4."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def new_submission_key() -> str:
    """A key for one filled-in form; storing twice with the same key stores one response."""
    return uuid.uuid4().hex


def hash_code(code: str) -> str:
    """SHA-256 of a deletion code, ignoring case, spaces and dashes (only this is stored)."""
    normalised = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normalised.encode()).hexdigest()


# --- researcher access -----------------------------------------------------------------------


def owner_only(*paths: Path) -> None:
    """Make existing files readable and writable by their owner only (0600): a database,
    its write-ahead log and its backups hold e-mails. Missing paths are skipped."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)


def researcher_token_path(db_path: str | os.PathLike) -> Path:
    """The researcher token lives next to the database, readable by its owner only."""
    return Path(f"{db_path}.researcher-token")


def ensure_researcher_token(db_path: str | os.PathLike) -> str:
    """The researcher token for this database, created on first use (mode 0600)."""
    path = researcher_token_path(db_path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(token + "\n")
    return path.read_text().strip()


def check_researcher_token(db_path: str | os.PathLike, candidate: str) -> bool:
    """Constant-time comparison with the stored token; False when there is none."""
    path = researcher_token_path(db_path)
    if not candidate or not path.exists():
        return False
    return hmac.compare_digest(path.read_text().strip().encode(), candidate.strip().encode())


# --- filters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a reader asks for. Every value becomes a bound parameter, never SQL text."""

    companies: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    started_from: date | None = None
    started_to: date | None = None
    submitted_to: date | None = None
    include_synthetic: bool = False
    include_flagged: bool = False
    consented_only: bool = True

    def where(self, *, paramstyle: str = "qmark", first: int = 1) -> tuple[str, list[Any]]:
        """The WHERE condition over ``responses r`` joined to ``companies c``, and its values.

        ``paramstyle``: ``"qmark"`` (``?``, DuckDB), ``"format"`` (``%s``, psycopg) or
        ``"numeric"`` (``$1``, ``$2``... from ``first``: PostgreSQL's own, used by ADBC).

        >>> Filters(companies=("free",), include_flagged=True).where(paramstyle="numeric")
        ("r.company IN ($1) AND r.source <> 'synthetic' AND r.consent_research", ['free'])
        """
        clauses: list[str] = []
        params: list[Any] = []
        mark = _placeholder(paramstyle, lambda: first + len(params))
        for column, values in (
            ("r.company", self.companies),
            ("c.sector", self.sectors),
            ("c.origin", self.origins),
            ("r.problem", self.problems),
            ("r.service", self.services),
            ("r.department", self.departments),
        ):
            if values:
                marks = []
                for value in values:
                    marks.append(mark())
                    params.append(value)
                clauses.append(f"{column} IN ({', '.join(marks)})")
        for column, op, value in (
            ("r.started_on", ">=", self.started_from),
            ("r.started_on", "<=", self.started_to),
            ("r.submitted_on", "<=", self.submitted_to),
        ):
            if value is not None:
                clauses.append(f"{column} {op} {mark()}")
                params.append(value)
        if not self.include_synthetic:
            clauses.append("r.source <> 'synthetic'")
        if not self.include_flagged:
            clauses.append(f"NOT ({' OR '.join(f'r.{flag}' for flag in FLAG_COLUMNS)})")
        if self.consented_only:
            clauses.append("r.consent_research")
        return (" AND ".join(clauses) or "TRUE"), params


def _placeholder(paramstyle: str, position: Any) -> Any:
    """A function giving the next parameter mark; ``position()`` is the number of the next."""
    if paramstyle == "qmark":
        return lambda: "?"
    if paramstyle == "format":
        return lambda: "%s"
    if paramstyle == "numeric":
        return lambda: f"${position()}"
    raise ValueError(f"`paramstyle` must be qmark, format or numeric, not {paramstyle!r}.")


@dataclass(frozen=True)
class SubmissionMeta:
    """What the form knows about a submission besides the answers."""

    submission_key: str
    deletion_code: str
    locale: str = "fr"
    source: str = "web"
    fill_seconds: float | None = None
    honeypot: bool = False
    session_id: str | None = None
    # Part of a burst of submissions for its company (survey.validation.BurstDetector).
    suspected_burst: bool = False
    # The respondent who left an e-mail ticked "me rappeler" (reminders at 30, 60, 90 days).
    remind: bool = False


@dataclass(frozen=True)
class Receipt:
    response_id: str
    created: bool  # False when the submission key was already stored (double click)


@dataclass(frozen=True)
class DataVersion:
    """Cheap to read; changes whenever a response is added or deleted, or an update recorded."""

    rows: int
    last_submitted_at: datetime | None
    events: int = 0
    last_event_at: datetime | None = None


DRAFT_DAYS = 30
"""A draft not touched for this many days is forgotten (purged, and never resumed)."""
REMINDER_DAYS = (30, 60, 90)
"""Days after submission at which an ongoing case whose respondent asked for it is reminded."""
REMINDER_WINDOW_DAYS = 30
"""A reminder not sent within this many days of its date (the command did not run) is skipped."""


@dataclass(frozen=True)
class Draft:
    """A half-filled form kept server-side: the answers as shown on screen, and the step."""

    answers: dict[str, Any]
    step: int
    submission_key: str
    updated_at: datetime


@dataclass(frozen=True)
class DraftWrite:
    """One write of a draft, as data (the app's store keeps it, on disk too, while another
    process holds the file): ``draft`` None removes the draft; ``resume_hash`` the hash of a
    resume code it gives (None: the one stored, if any, stays)."""

    draft_hash: str
    draft: Draft | None
    resume_hash: str | None = None

    def work(self) -> Callable[..., Any]:
        """The write, for ``Store._in_transaction``. A draft is written only over an older
        one (``updated_at``, the time it was saved): a write kept from before never replaces
        one made after it, even across a restart of the app."""
        digest, draft = self.draft_hash, self.draft

        def work(run) -> None:
            if draft is None:
                run("DELETE FROM drafts WHERE draft_hash = ?", [digest])
                return
            text = json.dumps(draft.answers, ensure_ascii=False, sort_keys=True, default=str)
            values = [text, draft.step, draft.submission_key, draft.updated_at]
            if run("SELECT 1 FROM drafts WHERE draft_hash = ?", [digest]):
                run(
                    "UPDATE drafts SET answers = ?, step = ?, submission_key = ?, "
                    "updated_at = ?, resume_hash = coalesce(?, resume_hash) "
                    "WHERE draft_hash = ? AND updated_at <= ?",
                    [*values, self.resume_hash, digest, draft.updated_at],
                )
            else:
                run(
                    "INSERT INTO drafts (draft_hash, resume_hash, submission_key, answers, "
                    "step, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        digest,
                        self.resume_hash,
                        draft.submission_key,
                        text,
                        draft.step,
                        draft.updated_at,
                    ],
                )

        return work


@dataclass(frozen=True)
class DueReminder:
    """One reminder ``clientroi remind`` should send now."""

    response_id: str
    email: str
    locale: str
    due_days: int
    submitted_on: date
    started_on: date | None


def _draft_document(write: DraftWrite, sequence: int) -> dict[str, Any]:
    """A kept draft write as the JSON document :func:`survey.spool.put_draft` keeps."""
    draft = write.draft
    return {
        "sequence": sequence,
        "draft_hash": write.draft_hash,
        "resume_hash": write.resume_hash,
        "draft": None
        if draft is None
        else {
            "answers": draft.answers,
            "step": draft.step,
            "submission_key": draft.submission_key,
            "updated_at": draft.updated_at.isoformat(),
        },
    }


def _draft_write(document: dict[str, Any]) -> tuple[DraftWrite, int]:
    """:func:`_draft_document` read back: the write and its sequence number."""
    draft = document["draft"]
    if draft is not None:
        draft = Draft(
            dict(draft["answers"]),
            int(draft["step"]),
            str(draft["submission_key"]),
            datetime.fromisoformat(draft["updated_at"]),
        )
    resume_hash = document["resume_hash"]
    write = DraftWrite(str(document["draft_hash"]), draft, resume_hash and str(resume_hash))
    return write, int(document["sequence"])


def hash_token(token: str) -> str:
    """SHA-256 of a random token (a draft id, a reminder link's token) as stored."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def new_token() -> str:
    """A random token for a link or an address (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` in Paris: what was recorded on or before ``day`` is
    earlier (both backends compare a bound parameter, never a time zone of their own)."""
    return datetime.combine(day + timedelta(days=1), day_time(0), ZoneInfo(TIME_ZONE))


def paris_now() -> datetime:
    return datetime.now(ZoneInfo(TIME_ZONE))


class ComebackMethods:
    """What both backends do the same way for a respondent who comes back: updates as dated
    events, drafts, reminders. Written once over two primitives each backend provides:
    ``_read(sql, params)`` and ``_in_transaction(work)``, where ``work(run)`` calls
    ``run(sql, params) -> rows`` inside one transaction. SQL here uses ``?`` marks (the
    PostgreSQL store turns them into ``%s``), bound parameters only."""

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def _in_transaction(
        self, work: Callable[[Callable[..., list[tuple]]], Any], *, brief: bool = False
    ) -> Any:
        """``work(run)`` in one transaction. ``brief``: a draft's save or removal, which the
        form can go on without: a store that spools (the app on DuckDB) waits only briefly
        for a file another process holds, and raises :class:`StoreBusy` instead."""
        raise NotImplementedError

    # --- finding a respondent's response ----------------------------------------------------

    def response_id_for_code(self, code: str) -> str | None:
        """The response whose deletion code is ``code`` (case, spaces and dashes ignored)."""
        rows = self._read(
            "SELECT CAST(response_id AS VARCHAR) FROM responses WHERE deletion_hash = ?",
            [hash_code(code)],
        )
        return rows[0][0] if rows else None

    def response_id_for_reminder(self, token: str) -> str | None:
        """The response a reminder link's token was sent for (any of its reminders)."""
        rows = self._read(
            "SELECT CAST(response_id AS VARCHAR) FROM reminders WHERE token_hash = ?",
            [hash_token(token)],
        )
        return rows[0][0] if rows else None

    def response_as_known(self, response_id: str, *, known_on: date | None = None) -> dict | None:
        """One response as known on ``known_on`` (default: now), its events folded in, with
        ``status_known_on``; None when there is no such response."""
        row = self.fetch_response(response_id)
        if row is None:
            return None
        frame = pd.DataFrame([row])
        for column in ("submitted_on", "started_on", "ended_on", "refund_received_on"):
            frame[column] = pd.to_datetime(frame[column])
        events = self.events(response_id=response_id, known_on=known_on)
        folded = fold_events(frame, events).iloc[0].to_dict()
        for column, value in folded.items():
            if isinstance(value, pd.Timestamp):
                folded[column] = value.date()
            elif value is pd.NaT or (isinstance(value, float) and value != value):
                folded[column] = None
        return folded

    # --- updates as dated events ------------------------------------------------------------

    def record_event(
        self, response_id: str, kind: str, event_on: date, *, amount: float | None = None
    ) -> str:
        """Store one update of a response (never changes its answers); returns the event id.
        The caller checks the update first (:func:`survey.updates.check_update`)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"`kind` must be one of {EVENT_KINDS}, not {kind!r}.")
        if not isinstance(event_on, date):
            raise ValueError("`event_on` must be a date.")
        event_id = str(uuid.uuid4())

        def work(run) -> None:
            if not run("SELECT 1 FROM responses WHERE response_id = ?", [response_id]):
                raise ValueError("`response_id` is not a stored response.")
            # Keyed by its id, drawn once: a write retried after a lost acknowledgement
            # (PostgreSQL, a server restart) finds it stored and changes nothing.
            run(
                "INSERT INTO response_events VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [event_id, response_id, paris_now(), kind, event_on, amount],
            )

        self._in_transaction(work)
        return event_id

    def events(
        self, *, response_id: str | None = None, known_on: date | None = None
    ) -> pd.DataFrame:
        """Updates (columns :data:`survey.updates.EVENT_COLUMNS`) in the order they were
        recorded; ``known_on``: only those recorded on or before that day (Paris)."""
        clauses, params = [], []
        if response_id is not None:
            clauses.append("response_id = ?")
            params.append(response_id)
        if known_on is not None:
            clauses.append("recorded_at < ?")
            params.append(end_of_day(known_on))
        rows = self._read(
            "SELECT CAST(event_id AS VARCHAR), CAST(response_id AS VARCHAR), recorded_at, kind, "
            "event_on, amount FROM response_events"
            + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
            + " ORDER BY recorded_at, event_id",
            params,
        )
        if not rows:
            return empty_events()
        return pd.DataFrame(rows, columns=list(EVENT_COLUMNS))

    def _events_version(self) -> tuple[int, datetime | None]:
        return tuple(self._read("SELECT count(*), max(recorded_at) FROM response_events")[0])

    def _fetch_known(
        self,
        fetch: Callable[..., pd.DataFrame],
        filters: Filters | None,
        columns: list[str] | None,
        known_on: date,
        **options: Any,
    ) -> pd.DataFrame:
        """``fetch`` (the backend's plain read) as known on ``known_on``: responses submitted
        on or before it, the events recorded on or before it folded in, ``status_known_on``
        added. Reads the extra columns the fold needs only when there are events."""
        if not isinstance(known_on, date):
            raise ValueError("`known_on` must be a date.")
        filters = filters or Filters()
        if filters.submitted_to is None or filters.submitted_to > known_on:
            filters = dataclasses.replace(filters, submitted_to=known_on)
        stored = set(exported_columns())
        wanted = list(dict.fromkeys(columns or [*exported_columns(), KNOWN_ON_COLUMN]))
        derived = KNOWN_ON_COLUMN in wanted and KNOWN_ON_COLUMN not in stored
        asked = [c for c in wanted if not (derived and c == KNOWN_ON_COLUMN)]
        events = self.events(known_on=known_on)
        needed = ["submitted_on"] + ([KNOWN_ON_COLUMN] if KNOWN_ON_COLUMN in stored else [])
        if not events.empty:
            needed += list(FOLD_INPUTS)
        extra = [c for c in dict.fromkeys(needed) if c not in asked]
        frame = fetch(filters, columns=asked + extra, **options)
        frame = fold_events(frame, events)
        dropped = {c for c in extra if c in frame}
        if KNOWN_ON_COLUMN not in wanted:
            dropped.add(KNOWN_ON_COLUMN)
        if not dropped:  # (``drop`` copies every column, even when it drops none)
            return frame
        # the other columns shared, not copied (a copy of a million rows' columns is most of
        # a second and doubles the read's memory)
        return pd.DataFrame(
            {c: frame[c] for c in frame.columns if c not in dropped}, index=frame.index, copy=False
        )

    # --- drafts -----------------------------------------------------------------------------

    def save_draft(
        self,
        draft_id: str,
        answers: dict[str, Any],
        *,
        step: int,
        submission_key: str,
        brief: bool = False,
        resume_code: str | None = None,
    ) -> bool:
        """Keep (or replace) the draft ``draft_id``: the answers as shown on screen (JSON);
        ``resume_code`` (shown to the respondent) lets another device resume it
        (:meth:`claim_draft`). ``brief``: the form's own saves, which it goes on without
        waiting for: a store that spools (the app on DuckDB) that finds the file held by
        another process keeps the draft (in memory and on disk) and writes it in the
        background as soon as the file is free (the latest of each draft only, never an older
        one over a newer one), and says False; True when written now. Without ``brief``, the
        write waits for the file as any write does."""
        text = json.dumps(answers, ensure_ascii=False, sort_keys=True, default=str)
        draft = Draft(json.loads(text), int(step), submission_key, paris_now())
        resume_hash = hash_code(resume_code) if resume_code else None
        return self._write_draft(DraftWrite(hash_token(draft_id), draft, resume_hash), brief=brief)

    def _write_draft(self, write: DraftWrite, *, brief: bool) -> bool:
        """One draft's write in one transaction; True once written. (The DuckDB app's store
        may keep it for later.)"""
        self._in_transaction(write.work(), brief=brief)
        return True

    def load_draft(self, draft_id: str) -> Draft | None:
        """The draft ``draft_id`` if it exists and is younger than :data:`DRAFT_DAYS`."""
        return self._draft_where("draft_hash = ?", hash_token(draft_id))

    def _draft_where(self, condition: str, value: str) -> Draft | None:
        rows = self._read(
            f"SELECT answers, step, submission_key, updated_at FROM drafts WHERE {condition} "
            "AND updated_at >= ?",
            [value, paris_now() - timedelta(days=DRAFT_DAYS)],
        )
        if not rows:
            return None
        answers, step, submission_key, updated_at = rows[0]
        return Draft(json.loads(answers), int(step), submission_key, updated_at)

    def set_resume_code(self, draft_id: str, code: str) -> bool:
        """Let ``code`` (shown to the respondent) resume the draft on another device."""

        def work(run) -> bool:
            return bool(
                run(
                    "UPDATE drafts SET resume_hash = ?, updated_at = ? WHERE draft_hash = ? "
                    "RETURNING step",
                    [hash_code(code), paris_now(), hash_token(draft_id)],
                )
            )

        return self._in_transaction(work)

    def claim_draft(self, code: str, draft_id: str) -> Draft | None:
        """The draft the resume ``code`` opens, moved to this device's ``draft_id`` (the
        other device's address then opens a blank form; the code keeps working)."""
        draft = self._draft_where("resume_hash = ?", hash_code(code))
        if draft is None:
            return None

        def work(run) -> None:
            run("DELETE FROM drafts WHERE draft_hash = ?", [hash_token(draft_id)])
            run(
                "UPDATE drafts SET draft_hash = ?, updated_at = ? WHERE resume_hash = ?",
                [hash_token(draft_id), paris_now(), hash_code(code)],
            )

        self._in_transaction(work)
        return draft

    def delete_draft(self, draft_id: str) -> bool:
        """Forget a sent draft; in a store that spools, later when the file is held (as a
        brief :meth:`save_draft`: a draft kept for later is never written after it)."""
        return self._write_draft(DraftWrite(hash_token(draft_id), None), brief=True)

    def purge_drafts(self, *, older_than_days: int = DRAFT_DAYS) -> int:
        """Forget drafts not touched for ``older_than_days`` days; returns how many."""
        cutoff = paris_now() - timedelta(days=older_than_days)
        return self._in_transaction(
            lambda run: len(
                run("DELETE FROM drafts WHERE updated_at < ? RETURNING draft_hash", [cutoff])
            )
        )

    def draft_count(self) -> int:
        return self._read("SELECT count(*) FROM drafts")[0][0]

    # --- reminders --------------------------------------------------------------------------

    def due_reminders(self, today: date) -> list[DueReminder]:
        """The reminders to send on ``today``: for each response whose respondent ticked "me
        rappeler" and left an e-mail, the latest of :data:`REMINDER_DAYS` reached less than
        :data:`REMINDER_WINDOW_DAYS` ago and not yet sent (nor a later one), when the case is
        still ongoing as known today (an update closing it stops the reminders)."""
        earliest = today - timedelta(days=max(REMINDER_DAYS) + REMINDER_WINDOW_DAYS)
        rows = self._read(
            "SELECT CAST(r.response_id AS VARCHAR), c.contact_email, r.locale, r.submitted_on, "
            "r.started_on, (SELECT max(m.due_days) FROM reminders m "
            "WHERE m.response_id = r.response_id) FROM responses r "
            "JOIN contacts c ON c.response_id = r.response_id "
            "WHERE c.remind AND r.submitted_on >= ? AND r.submitted_on <= ? "
            "ORDER BY r.submitted_on, r.response_id",
            [earliest, today - timedelta(days=min(REMINDER_DAYS))],
        )
        due = []
        for response_id, email, locale, submitted_on, started_on, last_sent in rows:
            age = (today - submitted_on).days
            reached = [d for d in REMINDER_DAYS if d <= age < d + REMINDER_WINDOW_DAYS]
            if not reached or (last_sent is not None and last_sent >= reached[-1]):
                continue
            state = self.response_as_known(response_id, known_on=today)
            if state is None or state["status"] != "ongoing":
                continue
            due.append(
                DueReminder(
                    response_id, email, locale or "fr", reached[-1], submitted_on, started_on
                )
            )
        return due

    def record_reminder(self, response_id: str, due_days: int, token: str) -> bool:
        """Note that the ``due_days`` reminder was sent with ``token`` (only its hash is kept).
        False when it had already been recorded: each reminder goes at most once."""

        def work(run) -> bool:
            if run(
                "SELECT 1 FROM reminders WHERE response_id = ? AND due_days = ?",
                [response_id, int(due_days)],
            ):
                return False
            run(
                "INSERT INTO reminders VALUES (?, ?, ?, ?)",
                [response_id, int(due_days), paris_now(), hash_token(token)],
            )
            return True

        return self._in_transaction(work)

    def forget_reminder(self, response_id: str, due_days: int) -> None:
        """Undo :meth:`record_reminder` for an e-mail that could not be sent."""
        self._in_transaction(
            lambda run: run(
                "DELETE FROM reminders WHERE response_id = ? AND due_days = ?",
                [response_id, int(due_days)],
            )
        )

    def reminders_sent(self, response_id: str) -> list[int]:
        rows = self._read(
            "SELECT due_days FROM reminders WHERE response_id = ? ORDER BY due_days",
            [response_id],
        )
        return [r[0] for r in rows]

    def stop_reminders(self, token: str) -> bool:
        """The one-click stop: no more reminders for the response the token was sent for."""
        response_id = self.response_id_for_reminder(token)
        if response_id is None:
            return False
        self._in_transaction(
            lambda run: run(
                "UPDATE contacts SET remind = false WHERE response_id = ?", [response_id]
            )
        )
        return True

    def wants_reminders(self, response_id: str) -> bool:
        rows = self._read("SELECT remind FROM contacts WHERE response_id = ?", [response_id])
        return bool(rows and rows[0][0])

    def _delete_comeback_state(self, run, response_id: Any) -> None:
        """A deleted response's events, reminders and drafts go with it (same transaction)."""
        run("DELETE FROM response_events WHERE response_id = ?", [response_id])
        run("DELETE FROM reminders WHERE response_id = ?", [response_id])
        run(
            "DELETE FROM drafts WHERE submission_key IN "
            "(SELECT submission_key FROM responses WHERE response_id = ?)",
            [response_id],
        )


# --- schema ---------------------------------------------------------------------------------

_MIGRATION_FILES = {
    "duckdb": re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$"),
    "postgresql": re.compile(r"^(\d{4})_[a-z0-9_]+\.postgres\.sql$"),
}
DIALECTS = tuple(_MIGRATION_FILES)


@dataclass(frozen=True)
class Migration:
    """One released migration: frozen SQL text in ``survey/migrations/NNNN_name.sql``."""

    version: int
    name: str  # the file name
    description: str  # the first comment line, after "Migration NNNN:"
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def migrations(dialect: str = "duckdb") -> tuple[Migration, ...]:
    """The released migrations, in order, read from the package (works from a wheel).

    One history, two dialects: ``NNNN_name.sql`` is DuckDB's text of migration NNNN and
    ``NNNN_name.postgres.sql`` PostgreSQL's. A released file is never edited:
    ``tests/test_migrations.py`` records each file's SHA-256, checks that both histories have
    the same numbers and descriptions, and that each migrated schema equals the one
    ``survey/questionnaire.py`` defines, so a new or changed question needs a new numbered
    pair of files.
    """
    if dialect not in _MIGRATION_FILES:
        raise ValueError(f"`dialect` must be one of {DIALECTS}, not {dialect!r}.")
    pattern = _MIGRATION_FILES[dialect]
    found = []
    for entry in (resources.files("survey") / "migrations").iterdir():
        match = pattern.match(entry.name)
        if not match:
            continue
        sql = entry.read_text(encoding="utf-8")
        first = sql.splitlines()[0] if sql else ""
        description = first.removeprefix("--").strip().partition(":")[2].strip().rstrip(".")
        found.append(Migration(int(match.group(1)), entry.name, description, sql))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1, 2, 3... without gaps: {versions}")
    return tuple(found)


SCHEMA_VERSION = migrations()[-1].version


class DataRejected(ValueError):
    """The database refused a value (a type it cannot read); nothing of the batch was kept."""


class StoreBusy(RuntimeError):
    """The database stayed locked by another process for longer than the retry allows."""


class StoreUnavailable(StoreBusy):
    """The database server could not be reached (down, restarting) within the retry time;
    nothing was stored by the failed call. A submission may be sent again with its key."""


_OPEN_STORES: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_open_stores() -> None:
    """Close the files still open when the interpreter exits, before its teardown: a DuckDB
    database destroyed during the interpreter's own shutdown (an app's cached store, its idle
    closer thread still waiting) can abort the process."""
    for store in list(_OPEN_STORES):
        if store._state.acquire(timeout=1.0):
            try:
                store._close_locked()
                store._state.notify_all()
            finally:
                store._state.release()


def _say_wanted(path: Path) -> bool:
    """Say in ``path`` (created, or its time renewed) that this process waits for the
    database; False when the folder cannot be written (the app then lets go only every
    :data:`UNASKED_HOLD_SECONDS`)."""
    try:
        with open(path, "a", encoding="ascii") as mark:
            if mark.tell() == 0:
                mark.write(f"{os.getpid()}\n")
        os.utime(path)
    except OSError:
        return False
    return True


def connect(
    target: str | os.PathLike | None = None, *, read_only: bool = False, keep_open: float = 0.0
) -> Store:
    """Open the store at ``target``: a DuckDB file path or a ``postgresql://`` URL (default
    :func:`default_db_path`, that is ``$CLIENTROI_DB``).

    Creates and migrates the database unless ``read_only``. ``keep_open`` (seconds) keeps an
    idle DuckDB file open for the next operation (see :class:`Store`); for PostgreSQL, a
    positive ``keep_open`` (the app) keeps a few pooled connections ready.
    """
    target = default_db_path() if target is None else target
    if is_server_url(target):
        from survey.store_pg import PostgresStore  # psycopg is imported only there

        return PostgresStore(str(target), read_only=read_only, keep_open=keep_open)
    return Store(Path(target), read_only=read_only, keep_open=keep_open)


_APP_STORES: dict[str, Any] = {}
_APP_STORES_LOCK = threading.Lock()


def app_store(target: str | os.PathLike) -> Store:
    """The one store of an app process for ``target`` (its pages and its background warming
    share it): kept open while busy, released after 2 s idle so that the command line can
    open a DuckDB file."""
    with _APP_STORES_LOCK:
        key = str(target)
        if key not in _APP_STORES:
            store = connect(target, keep_open=2.0)
            if isinstance(store, Store):
                store.start_spooling()
            _APP_STORES[key] = store
        return _APP_STORES[key]


class Store(ComebackMethods):
    """Responses in a DuckDB file."""

    def __init__(self, path: Path, *, read_only: bool = False, keep_open: float = 0.0):
        """``keep_open``: seconds an idle database stays open (the app: a few seconds, so a
        burst of submissions does not reopen the file each time; the CLI: 0)."""
        self.path = Path(path)
        self.read_only = read_only
        self.keep_open = keep_open
        self._state = threading.Condition()
        self._database: Any = None
        self._opened_at = 0.0
        self._users = 0
        self._last_used = 0.0
        self._closer: threading.Thread | None = None  # one per open period, not per operation
        self._spool: Path | None = None  # the app's (start_spooling)
        self._waiting_for_file = False  # a thread is in _open, the file held by another process
        self._yield_until = 0.0  # the file let go for another process: no reopening before
        self._letting_go = False  # a thread is about to let the file go (_let_go_soon)
        self._busy_until = 0.0  # a brief operation found the file held: the next ones spool
        self._storing_spool = threading.Lock()
        self._spool_thread: threading.Thread | None = None
        self._spool_thread_lock = threading.Lock()
        # drafts kept while the file is held (_write_draft): the latest write of each draft,
        # the drafts being written now (one write of a draft at a time), the thread writing
        self._drafts = threading.Condition()
        # (each with its sequence number, the order the writes were asked for: on disk too)
        self._drafts_later: dict[str, tuple[DraftWrite, int]] = {}
        self._drafts_writing: dict[str, tuple[DraftWrite, int]] = {}
        self._drafts_thread: threading.Thread | None = None
        self._draft_sequence = itertools.count(1)
        if read_only:
            if not self.path.exists():
                raise FileNotFoundError(f"No database at {self.path}")
            self._catch_up()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as con:
                _migrate(con)
                _load_reference(con)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def _catch_up(self) -> None:
        """A file made by an earlier version and never opened for writing since lacks the
        newer tables and columns that readers ask for: migrate it first (a short write
        connection), or say how when the file cannot be written."""
        latest = SCHEMA_VERSION
        try:
            current = self.schema_version()
        except duckdb.CatalogException:  # not a Client Roi database yet
            current = 0
        if current is not None and current >= latest:
            return
        if not os.access(self.path, os.W_OK):
            raise PermissionError(
                f"{self.path} has schema {current}, this version reads {latest}: run "
                f"`clientroi migrate --db {self.path}` as its owner"
            )
        Store(self.path).close()

    def _open(self, deadline: float | None = None) -> Any:
        """Open the file, waiting (until ``deadline``, a ``time.monotonic()``, by default
        :data:`LOCK_RETRY_SECONDS` from now) while another process holds DuckDB's lock, and
        saying so in ``<database>.wanted`` meanwhile (see :data:`WANTED_SUFFIX`)."""
        deadline = time.monotonic() + LOCK_RETRY_SECONDS if deadline is None else deadline
        wanted = Path(f"{self.path}{WANTED_SUFFIX}")
        said = False
        try:
            while True:
                try:
                    database = duckdb.connect(str(self.path), read_only=self.read_only)
                    self._opened_at = time.monotonic()
                    self._busy_until = 0.0
                    if not self.read_only:
                        owner_only(self.path, Path(f"{self.path}.wal"))
                    return database
                except duckdb.IOException as exc:
                    if "lock" not in str(exc).lower():
                        raise
                    self._waiting_for_file = True  # (only one thread opens: under _state)
                    if time.monotonic() > deadline:
                        # brief operations learn it at once for a moment (see _connection)
                        self._busy_until = time.monotonic() + BUSY_MEMORY_SECONDS
                        raise StoreBusy(
                            f"{self.path} is locked by another process; try again."
                        ) from exc
                    # (said again at each poll: another waiter may have taken it away)
                    said = _say_wanted(wanted) or said
                    # Short, jittered polls: another process's window may be brief.
                    time.sleep(0.005 + secrets.randbelow(20) / 1000)
        finally:
            self._waiting_for_file = False
            if said:
                with contextlib.suppress(OSError):
                    wanted.unlink()

    def _someone_waits(self) -> bool:
        """Another process is waiting for the file (a fresh ``<database>.wanted``)."""
        try:
            said_at = os.stat(f"{self.path}{WANTED_SUFFIX}").st_mtime
        except OSError:
            return False
        return time.time() - said_at < 2 * LOCK_RETRY_SECONDS  # (a waiter gives up by then)

    @contextlib.contextmanager
    def _connection(self, *, wait: float | None = None) -> Iterator[Any]:
        """A cursor of its own for this operation (cursors are safe across threads).

        DuckDB lets one process at a time open a file for writing. The file is opened on first
        use; it is closed once idle for ``keep_open`` seconds, and, under continuous load, after
        at most ``MAX_HOLD_SECONDS`` when another process says it waits for it (or
        ``UNASKED_HOLD_SECONDS`` anyway): new operations then wait for the running ones, the
        file is closed for a moment so the command line can get in, then reopened.

        ``wait``: seconds this operation may wait, for the file and for the other operations
        of this process (default :data:`LOCK_RETRY_SECONDS` for the file); past it,
        :class:`StoreBusy`.
        """
        now = time.monotonic()
        if wait is not None and (
            self._waiting_for_file or now < self._yield_until or now < self._busy_until
        ):
            # another thread of this process already waits for the file another process holds,
            # the file is being let go, or a brief operation just found it held: a brief
            # operation need not wait to learn that
            raise StoreBusy(f"{self.path} is locked by another process; try again.")
        deadline = None if wait is None else time.monotonic() + wait

        def remaining() -> float:
            return -1 if deadline is None else max(0.0, deadline - time.monotonic())

        if not self._state.acquire(timeout=remaining()):
            raise StoreBusy(f"{self.path} is busy in this process; try again.")
        try:
            held = time.monotonic() - self._opened_at if self._database is not None else 0.0
            held_too_long = self.keep_open > 0 and (
                held > UNASKED_HOLD_SECONDS or (held > MAX_HOLD_SECONDS and self._someone_waits())
            )
            if held_too_long and deadline is not None:
                # a brief operation does not wait for the file to be let go (closing it writes
                # a checkpoint): a thread lets it go, this operation is spooled or given up
                if not self._letting_go:
                    self._letting_go = True
                    self._let_go_soon()
                raise StoreBusy(f"{self.path} is let go for another process.")
            if held_too_long:
                self._state.wait_for(lambda: self._users == 0)
                if self._database is not None:
                    self._close_locked()
                    time.sleep(YIELD_SECONDS)
            if self._database is None:
                pause = self._yield_until - time.monotonic()
                if pause > 0 and deadline is not None and pause > remaining():
                    # let go while this brief operation waited for the others: it is spooled
                    # or given up, it does not sit out the other process's turn
                    raise StoreBusy(f"{self.path} is let go for another process.")
                if pause > 0:  # the file was just let go: the other process gets in first
                    time.sleep(pause)
                self._database = self._open(deadline)
                _OPEN_STORES.add(self)
                if self.keep_open > 0 and self._closer is None:
                    self._closer = threading.Thread(
                        target=self._close_when_idle, name=f"clientroi-idle-{self.path.name}"
                    )
                    self._closer.daemon = True
                    self._closer.start()
            self._users += 1
            cursor = self._database.cursor()
        finally:
            self._state.release()
        try:
            cursor.execute("SET TimeZone = 'Europe/Paris'")
            cursor.execute("SET enable_progress_bar = false")
            yield cursor
        finally:
            cursor.close()
            with self._state:
                self._users -= 1
                self._last_used = time.monotonic()
                if self._users == 0 and self.keep_open <= 0:
                    self._close_locked()
                self._state.notify_all()

    @contextlib.contextmanager
    def holding(self) -> Iterator[Store]:
        """Keep the file open for the operations inside (a computation of several reads opens
        it once, and DuckDB keeps its buffers between them, instead of an open and a close for
        each). A store that already keeps its file open (``keep_open`` > 0, the app) is left
        to its own rules: it may release the file under load for a waiting command."""
        if self.keep_open > 0:
            yield self
            return
        with self._connection():
            yield self

    def _let_go_soon(self) -> None:
        """Close the file for another process in a thread of its own (for a brief operation:
        see :meth:`_connection`), once the running operations are done, and keep it closed
        for :data:`YIELD_SECONDS`."""

        def let_go() -> None:
            with self._state:
                try:
                    self._state.wait_for(lambda: self._users == 0)
                    if self._database is not None:
                        self._close_locked()
                        # (no sleep here, holding the others: the next open waits for it)
                        self._yield_until = time.monotonic() + YIELD_SECONDS
                finally:
                    self._letting_go = False

        threading.Thread(
            target=let_go, name=f"clientroi-let-go-{self.path.name}", daemon=True
        ).start()

    def _close_when_idle(self) -> None:
        """The idle closer: one thread while the file is open (``keep_open`` > 0). It closes
        the file once no operation has run for ``keep_open`` seconds, then ends; the next
        operation reopens the file and starts a new one."""
        with self._state:
            try:
                while self._database is not None:
                    if self._users:
                        self._state.wait()  # woken when an operation ends
                        continue
                    idle = time.monotonic() - self._last_used
                    if idle >= self.keep_open:
                        self._close_locked()
                        break
                    self._state.wait(self.keep_open - idle)
            finally:
                self._closer = None

    def _close_locked(self) -> None:
        if self._database is not None:
            self._database.close()
            self._database = None
        _OPEN_STORES.discard(self)

    def close(self) -> None:
        """Close the file once the running operations are done."""
        with self._state:
            self._state.wait_for(lambda: self._users == 0)
            self._close_locked()
            self._state.notify_all()  # the idle closer, if any, ends

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._connection() as con:
            return con.execute(sql, list(params)).fetchall()

    def _in_transaction(
        self, work: Callable[[Callable[..., list[tuple]]], Any], *, brief: bool = False
    ) -> Any:
        """``work`` in one transaction, tried again (bounded, jittered) when DuckDB refuses it
        for a conflict with another transaction of this process (two sessions saving the same
        draft at once): it was rolled back, and ``work`` reads before it writes. ``brief``
        (a draft): in a spooling store, :class:`StoreBusy` after :data:`SPOOL_AFTER_SECONDS`."""
        wait = SPOOL_AFTER_SECONDS if brief and self._spool is not None else None
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                with self._connection(wait=wait) as con, _transaction(con):
                    return work(lambda sql, params=(): con.execute(sql, list(params)).fetchall())
            except duckdb.TransactionException as exc:
                if "conflict" not in str(exc).lower() or attempt == CONFLICT_RETRIES:
                    raise
                time.sleep(0.001 + secrets.randbelow(10 + 10 * attempt) / 1000)
        raise AssertionError("unreachable")

    # --- writes ---------------------------------------------------------------------------

    def insert_response(self, response: Any, meta: SubmissionMeta) -> Receipt:
        """Store one validated response; idempotent on ``meta.submission_key``.

        In a spooling store (the app: :meth:`start_spooling`), a response that cannot be
        stored within :data:`SPOOL_AFTER_SECONDS` because another process holds the file is
        written to the spool (:mod:`survey.spool`, on the disk before this returns) and
        stored as soon as the file is free."""
        row, email = response_row(response, meta)
        remind = bool(meta.remind)
        try:
            if self._spool is None:
                return self._store_row(row, email, remind)
            try:
                return self._store_row(row, email, remind, wait=SPOOL_AFTER_SECONDS)
            except StoreBusy:
                spool.put(self._spool, row, email, remind)
                log.info(
                    "the database is busy: response spooled (submission key %s)",
                    meta.submission_key,
                )
                self._store_spool_soon()
                return Receipt(row["response_id"], created=True)
        except Exception as exc:
            # The key and the exception, never the answers (they may be personal).
            log.error(
                "saving a response failed (submission key %s): %s",
                meta.submission_key,
                type(exc).__name__,
                exc_info=exc,
            )
            raise

    def _store_row(
        self,
        row: dict[str, Any],
        email: str | None,
        remind: bool,
        *,
        wait: float | None = None,
        spooled: bool = False,
    ) -> Receipt:
        """Insert a submission's row (and its e-mail) in one transaction, unless its submission
        key is stored already; a duplicate is flagged against the rows stored before it. A
        ``spooled`` row takes the draft kept under its key with it."""
        columns = list(row)
        sql = (
            f"INSERT INTO responses ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        key, fingerprint = row["submission_key"], row["fingerprint"]
        with self._connection(wait=wait) as con:
            try:
                with _transaction(con):
                    existing = con.execute(
                        "SELECT response_id FROM responses WHERE submission_key = ?", [key]
                    ).fetchone()
                    if existing:
                        return Receipt(str(existing[0]), created=False)
                    values = dict(row)
                    if fingerprint is not None:
                        values["flag_duplicate"] = (
                            con.execute(
                                "SELECT count(*) FROM responses WHERE fingerprint = ?",
                                [fingerprint],
                            ).fetchone()[0]
                            > 0
                        )
                    con.execute(sql, [values[c] for c in columns])
                    if spooled:
                        # the draft the form kept while sending: its removal after the
                        # receipt found the file busy (the form removes it itself otherwise)
                        con.execute("DELETE FROM drafts WHERE submission_key = ?", [key])
                    if email:
                        con.execute(
                            "INSERT INTO contacts (response_id, contact_email, stored_on, "
                            "remind) VALUES (?, ?, ?, ?)",
                            [row["response_id"], email, row["submitted_at"].date(), remind],
                        )
            except (duckdb.ConstraintException, duckdb.TransactionException):
                # Another thread is storing the same key (a double click reaching two
                # threads): its row becomes visible once it commits, so look again.
                for _ in range(50):
                    existing = con.execute(
                        "SELECT response_id FROM responses WHERE submission_key = ?", [key]
                    ).fetchall()
                    if existing:
                        return Receipt(str(existing[0][0]), created=False)
                    time.sleep(0.01)
                raise
        return Receipt(row["response_id"], created=True)

    # --- the spool: submissions acknowledged while another process held the file ---------------

    def start_spooling(self) -> None:
        """Spool submissions the file cannot take at once (the app's store), and store those
        a previous run left (in the background: the app starts meanwhile)."""
        if self.read_only:
            raise ValueError("a read-only store cannot spool submissions")
        self._spool = spool.spool_folder(self.path)
        if spool.pending(self._spool):
            self._store_spool_soon()
        self._restore_kept_drafts()

    def spooled_count(self) -> int:
        return len(spool.pending(self._spool)) if self._spool is not None else 0

    def store_spooled(self) -> int:
        """Store every spooled submission now (each in its own transaction, oldest first, then
        its file removed); returns how many were new. Raises :class:`StoreBusy` when the file
        stays held; what is stored by then stays stored."""
        if self._spool is None:
            return 0
        stored = 0
        with self._storing_spool:
            for spooled in spool.pending(self._spool):
                for attempt in range(CONFLICT_RETRIES + 1):
                    try:
                        receipt = self._store_row(
                            spooled.row, spooled.email, spooled.remind, spooled=True
                        )
                        break
                    except duckdb.TransactionException as exc:
                        # its draft written at the same moment (the drafts kept while the
                        # file was held, or a session's): rolled back, tried again
                        if "conflict" not in str(exc).lower() or attempt == CONFLICT_RETRIES:
                            raise
                        time.sleep(0.001 + secrets.randbelow(10 + 10 * attempt) / 1000)
                spool.remove(spooled)
                stored += receipt.created
                log.info(
                    "spooled response stored (submission key %s%s)",
                    spooled.submission_key,
                    "" if receipt.created else ", already stored",
                )
        return stored

    def _store_spool_soon(self) -> None:
        """One background thread stores the spool once the file is free, then ends."""
        # (not under ``_state``: a thread waiting for the file holds it)
        with self._spool_thread_lock:
            if self._spool_thread is not None:  # it looks at the spool again before it ends
                return
            self._spool_thread = threading.Thread(
                target=self._store_spool_when_free, name=f"clientroi-spool-{self.path.name}"
            )
            self._spool_thread.daemon = True
            self._spool_thread.start()

    def _store_spool_when_free(self) -> None:
        while True:
            try:
                self.store_spooled()
            except StoreBusy:
                continue  # (the open waited LOCK_RETRY_SECONDS: try again)
            except Exception:  # noqa: BLE001  (kept on disk: tried again at the next spool)
                log.exception("storing the spooled responses failed; they stay spooled")
                with self._spool_thread_lock:
                    self._spool_thread = None
                return
            # (ended under the lock: a submission spooled meanwhile either is seen here or
            # finds no thread and starts one)
            with self._spool_thread_lock:
                if not self.spooled_count():
                    self._spool_thread = None
                    return

    # --- drafts kept while another process holds the file ----------------------------------

    def _write_draft(self, write: DraftWrite, *, brief: bool) -> bool:
        """A spooling store's draft write. Brief: tried for :data:`SPOOL_AFTER_SECONDS`; when
        the file is held (or this draft's previous write is still on its way), kept as this
        draft's latest write, replacing an older one kept, on disk before this returns
        (:func:`survey.spool.put_draft`: the app may stop before the file is free), and
        written by a background thread once the file is free: False. Not brief: waits for
        its turn and the file (an older write kept is dropped: this one replaces it). One
        write of a draft at a time, in the order they were asked for: never an older draft
        over a newer one. A resume code given by an older write kept is carried by the
        newer ones (the code shown must keep working)."""
        if self._spool is None:
            return super()._write_draft(write, brief=brief)
        digest = write.draft_hash
        with self._drafts:
            write = self._carrying_code(write)
            if not brief:
                self._drafts.wait_for(lambda: digest not in self._drafts_writing)
                write = self._carrying_code(write)
                self._drafts_later.pop(digest, None)
            elif digest in self._drafts_writing or digest in self._drafts_later:
                self._keep_draft(write)  # after the one on its way
                return False
            sequence = next(self._draft_sequence)
            self._drafts_writing[digest] = (write, sequence)
        try:
            self._in_transaction(write.work(), brief=brief)
            with self._drafts:
                spool.remove_draft(self._spool, digest, sequence)  # an older one kept, if any
            return True
        except StoreBusy:
            with self._drafts:
                if digest not in self._drafts_later:  # (a write asked for meanwhile is newer)
                    self._keep_draft(write, sequence)
            if not brief:
                raise
            log.info("the database is busy: a draft is kept to be written once it is free")
            return False
        finally:
            with self._drafts:
                self._drafts_writing.pop(digest, None)
                self._drafts.notify_all()

    def _carrying_code(self, write: DraftWrite) -> DraftWrite:
        """(under ``_drafts``) ``write``, with the resume code of an earlier write of the same
        draft still kept or on its way when it gives none."""
        if write.resume_hash is not None or write.draft is None:
            return write
        for earlier in (
            self._drafts_later.get(write.draft_hash),
            self._drafts_writing.get(write.draft_hash),
        ):
            if earlier is not None and earlier[0].resume_hash is not None:
                return dataclasses.replace(write, resume_hash=earlier[0].resume_hash)
        return write

    def _keep_draft(self, write: DraftWrite, sequence: int | None = None) -> None:
        """(under ``_drafts``) Keep ``write`` as its draft's latest, on disk first, and see
        that the background thread writes it."""
        sequence = next(self._draft_sequence) if sequence is None else sequence
        spool.put_draft(self._spool, write.draft_hash, _draft_document(write, sequence))
        self._drafts_later[write.draft_hash] = (write, sequence)
        self._write_drafts_soon()

    def _write_drafts_soon(self) -> None:
        """(under ``_drafts``) One background thread writes the drafts kept, then ends."""
        if self._drafts_thread is None:
            self._drafts_thread = threading.Thread(
                target=self._write_drafts_when_free,
                name=f"clientroi-drafts-{self.path.name}",
                daemon=True,
            )
            self._drafts_thread.start()

    def _write_drafts_when_free(self) -> None:
        while True:
            with self._drafts:
                ready = [d for d in self._drafts_later if d not in self._drafts_writing]
                if not self._drafts_later:
                    self._drafts_thread = None
                    return
                if not ready:  # a session writes that draft now: this one goes after it
                    self._drafts.wait(0.5)
                    continue
                digest = ready[0]
                write, sequence = self._drafts_later.pop(digest)
                self._drafts_writing[digest] = (write, sequence)
            try:
                self._in_transaction(
                    write.work()
                )  # (waits for the file, LOCK_RETRY_SECONDS at most)
                with self._drafts:
                    spool.remove_draft(self._spool, digest, sequence)
            except StoreBusy:
                with self._drafts:
                    self._drafts_later.setdefault(digest, (write, sequence))  # tried again
            except Exception:  # noqa: BLE001  (left on disk: written at the next start)
                log.exception("writing a draft kept while the database was busy failed")
            finally:
                with self._drafts:
                    self._drafts_writing.pop(digest, None)
                    self._drafts.notify_all()

    def _restore_kept_drafts(self) -> None:
        """The drafts a previous run of the app kept on disk and could not write before it
        stopped: kept again, written once the file is free (each only over an older one)."""
        restored = []
        for document in spool.pending_drafts(self._spool):
            try:
                restored.append(_draft_write(document))
            except (KeyError, TypeError, ValueError) as exc:  # left for the operator
                log.error("a draft kept on disk cannot be read, left in place: %s", exc)
        if not restored:
            return
        with self._drafts:
            self._draft_sequence = itertools.count(max(seq for _, seq in restored) + 1)
            for write, sequence in restored:
                if write.draft_hash not in self._drafts_later:
                    self._drafts_later[write.draft_hash] = (write, sequence)
            self._write_drafts_soon()

    def drafts_kept(self) -> int:
        """How many drafts wait to be written (kept while the file was held, or on their way)."""
        with self._drafts:
            return len(self._drafts_later.keys() | self._drafts_writing)

    def _kept(self, digest: str) -> DraftWrite | None:
        """(under ``_drafts``) The latest write of a draft not yet committed, if any."""
        for entries in (self._drafts_later, self._drafts_writing):  # (later is newer)
            if digest in entries:
                return entries[digest][0]
        return None

    def load_draft(self, draft_id: str) -> Draft | None:
        """The draft as last saved, a draft kept for later included (a reload during an
        import resumes what was typed last, not what the file holds)."""
        digest = hash_token(draft_id)
        with self._drafts:
            kept = self._kept(digest)
        if kept is not None:
            return kept.draft
        return super().load_draft(draft_id)

    def claim_draft(self, code: str, draft_id: str) -> Draft | None:
        """As :meth:`Store.claim_draft`; a draft whose resume code was given while the file
        was held (kept, not yet written) is claimed from what is kept: moved to this device's
        id, the other device's removed, both written once the file is free.

        Not covered: a code already in the file, claimed while a newer save of its draft is
        still kept (typing on one device, claiming on another, within one hold of the file):
        the file's row moves, and the kept save is then written under the old id."""
        wanted = hash_code(code)
        with self._drafts:
            digests = {*self._drafts_later, *self._drafts_writing}
            found = [
                d
                for d in digests
                if (k := self._kept(d)) is not None
                and k.draft is not None
                and k.resume_hash == wanted
            ]
            if found:
                kept = self._kept(found[0])
                moved = dataclasses.replace(kept.draft, updated_at=paris_now())
                mine = hash_token(draft_id)
                if found[0] != mine:
                    self._keep_draft(DraftWrite(found[0], None))
                self._keep_draft(DraftWrite(mine, moved, wanted))
                return kept.draft
        return super().claim_draft(code, draft_id)

    def _spool_settled(self) -> None:
        """Before a lookup by a respondent's code: their response may still be spooled."""
        if self._spool is not None and self.spooled_count():
            with contextlib.suppress(StoreBusy):
                self.store_spooled()

    def response_id_for_code(self, code: str) -> str | None:
        self._spool_settled()
        return super().response_id_for_code(code)

    def insert_frame(self, frame: pd.DataFrame) -> int:
        """Bulk-insert a DataFrame whose columns are a subset of the responses table."""
        return self.insert_frames([frame])

    def insert_frames(self, frames: Iterable[pd.DataFrame]) -> int:
        """Bulk-insert DataFrames in one transaction, through DuckDB's vectorised path.

        Used by the synthetic generator. Columns derived at read time (company name, sector,
        origin) are ignored; any other unknown column is refused.
        """
        derived = {"company_name", "sector", "origin", "contact_email"}
        known = set(self.columns())
        total = 0
        with self._connection() as con, _transaction(con):
            for frame in frames:
                columns = [c for c in frame.columns if c not in derived]
                unknown = set(columns) - known
                if unknown:
                    raise ValueError(f"`frame` has unknown columns: {sorted(unknown)}")
                # (On an error the cursor, and what is registered on it, is closed.)
                con.register("incoming_frame", frame[columns])
                con.execute(
                    f"INSERT INTO responses ({', '.join(columns)}) "
                    f"SELECT {', '.join(columns)} FROM incoming_frame"
                )
                con.unregister("incoming_frame")
                total += len(frame)
        return total

    def count_imported(self, rows: ImportedRows) -> int:
        """How many of these incoming rows (see :meth:`insert_imported`) are already stored."""
        with _ImportStaging(self.path) as staging:
            if not staging.stage(rows):
                return 0
            with self._connection() as con:
                return con.execute(
                    f"SELECT count(*) FROM {staging.keyed} n "
                    "JOIN responses r ON r.submission_key = n.row_key"
                ).fetchall()[0][0]

    def insert_imported(
        self,
        rows: ImportedRows,
        *,
        today: date,
        source: str = "import",
        collected_from: date | None = None,
    ) -> int:
        """Store validated imported rows all at once; returns how many were already there.

        ``rows`` is a table (pandas or Arrow) or an iterable of Arrow tables (batches of one
        file, in its order), holding answers as validated text (question ids as columns),
        ``line`` (its line in the file) and ``submitted_on`` (the file's date, or None:
        today). Rows whose key is already stored are skipped. ``collected_from``: the day the
        original survey opened (an incident that began before it entered that survey late),
        stored with every row.

        Notes
        -----
        DuckDB lets one process at a time write the file, and the app keeps it while
        respondents submit. So the batches are first kept, then cast, keyed and written to a
        staging folder of their own beside the database (the database is not opened: the
        app keeps taking submissions; memory stays that of one batch), then copied into
        ``responses`` in one transaction that holds the database only for that copy. A value
        DuckDB cannot read, in any batch, raises :class:`DataRejected` before the database
        is touched; any failure leaves nothing of the file stored, and the staging folder is
        removed.
        """
        if source not in SOURCES:
            raise ValueError(f"`source` must be one of {SOURCES}.")
        with _ImportStaging(self.path, today=today) as staging:
            total = staging.stage(rows)
            if not total:
                return 0
            columns = ", ".join(staging.answer_columns)
            log.info("import: %d rows staged in %s", total, staging.path.name)
            waited = time.monotonic()
            with self._connection() as con, _transaction(con):
                held = time.monotonic()
                inserted = con.execute(
                    f"INSERT INTO responses (response_id, submitted_at, submitted_on, "
                    f"questionnaire_version, locale, source, fill_seconds, flag_honeypot, "
                    f"flag_too_fast, flag_duplicate, flag_burst, collected_from, "
                    f"submission_key, {columns}) "
                    f"SELECT n.response_id, now(), n.submitted_on, ?, 'fr', ?, "
                    f"NULL, false, false, false, false, CAST(? AS DATE), n.row_key, "
                    f"{columns} FROM {staging.keyed} n WHERE NOT EXISTS ("
                    f"SELECT 1 FROM responses r WHERE r.submission_key = n.row_key)",
                    [QUESTIONNAIRE_VERSION, source, collected_from],
                ).fetchall()[0][0]
            log.info(
                "import: %d rows stored; the database waited for %.2f s, then held %.2f s",
                inserted,
                held - waited,
                time.monotonic() - held,
            )
        return total - inserted

    def delete_response(self, code: str) -> bool:
        """Delete the response matching a deletion code, with its e-mail, its updates, its
        reminders and any draft left of it. True if one was."""
        self._spool_settled()
        digest = hash_code(code)
        with self._connection() as con, _transaction(con):
            found = con.execute(
                "SELECT response_id FROM responses WHERE deletion_hash = ?", [digest]
            ).fetchone()
            if found:

                def run(sql, params=()):
                    return con.execute(sql, list(params)).fetchall()

                self._delete_comeback_state(run, found[0])
                con.execute("DELETE FROM contacts WHERE response_id = ?", [found[0]])
                con.execute("DELETE FROM responses WHERE response_id = ?", [found[0]])
        return found is not None

    def purge_contacts(self, *, older_than_days: int) -> int:
        """Forget contact e-mails stored more than ``older_than_days`` ago (retention), and
        the reminder state kept for them (the tokens of the links sent)."""
        with self._connection() as con, _transaction(con):
            purged = con.execute(
                "DELETE FROM contacts WHERE stored_on < current_date - CAST(? AS INTEGER) "
                "RETURNING response_id",
                [older_than_days],
            ).fetchall()
            con.execute(
                "DELETE FROM reminders WHERE response_id NOT IN (SELECT response_id FROM contacts)"
            )
        return len(purged)

    # --- backups ------------------------------------------------------------------------------

    def backup(self, out: str | os.PathLike) -> Path:
        """Write the whole database (e-mails included: keep backups private) as Parquet files.

        DuckDB's ``EXPORT DATABASE``: a schema.sql, a load.sql and one Parquet file per table.
        """
        out = Path(out)
        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} is not empty: choose a new folder for the backup")
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o700)
        with self._connection() as con:
            con.execute(f"EXPORT DATABASE {_sql_path(out)} (FORMAT parquet)")
        owner_only(*out.iterdir())
        return out

    # --- copies ----------------------------------------------------------------------------

    def read_batches(self, table: str, *, rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Every row of ``table`` (responses or contacts, every column) in batches."""
        with self._connection() as con:
            reader = con.sql(copy_select(table)).to_arrow_reader(rows)
            yield from reader

    def write_batches(self, tables: dict[str, Iterable[pa.RecordBatch]]) -> dict[str, int]:
        """Append batches of :func:`copy_select`'s shape, every table in one transaction."""
        written = {}
        with self._connection() as con, _transaction(con):
            for table, batches in tables.items():
                columns = copied_columns(table)
                casts = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns.items())
                written[table] = 0
                for batch in batches:
                    con.register("incoming_batch", pa.Table.from_batches([batch]))
                    con.execute(
                        f"INSERT INTO {table} ({', '.join(columns)}) "
                        f"SELECT {casts} FROM incoming_batch"
                    )
                    con.unregister("incoming_batch")
                    written[table] += batch.num_rows
        return written

    def table_rows(self, table: str) -> int:
        """Rows of ``table`` (responses or contacts)."""
        copied_columns(table)  # checks the name
        with self._connection() as con:
            return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    # --- reads ----------------------------------------------------------------------------

    def columns(self) -> list[str]:
        with self._connection() as con:
            return [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'responses' ORDER BY ordinal_position"
                ).fetchall()
            ]

    def schema_version(self) -> int:
        with self._connection() as con:
            return con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]

    def count(self, filters: Filters | None = None) -> int:
        where, params = (filters or Filters(include_synthetic=True, include_flagged=True)).where()
        with self._connection() as con:
            return con.execute(
                f"SELECT count(*) FROM responses r LEFT JOIN companies c ON c.id = r.company "
                f"WHERE {where}",
                params,
            ).fetchone()[0]

    def data_version(self) -> DataVersion:
        with self._connection() as con:
            rows, last = con.execute("SELECT count(*), max(submitted_at) FROM responses").fetchone()
        return DataVersion(rows, last, *self._events_version())

    def launch_date(self) -> date | None:
        """The survey's opening, from which incidents are observed: ``CLIENTROI_LAUNCH_DATE``
        (YYYY-MM-DD) when set, else the day of the first web submission (synthetic and
        imported rows carry no opening of their own); None before any."""
        setting = launch_date_setting()
        if setting is not None:
            return setting
        # The first submission's day: the earliest instant's Paris date (the date of an
        # instant in Paris never goes back as the instant advances), with no conversion of
        # every row (0.1 s of CPU at 1M responses).
        with self._connection() as con:
            first = con.execute(
                "SELECT CAST(timezone(?, min(submitted_at)) AS DATE) FROM responses"
                " WHERE source = 'web'",
                [TIME_ZONE],
            ).fetchone()[0]
        return first

    def source_counts(self) -> dict[str, int]:
        with self._connection() as con:
            return dict(
                con.execute("SELECT source, count(*) FROM responses GROUP BY source").fetchall()
            )

    def fetch_responses(
        self,
        filters: Filters | None = None,
        *,
        columns: list[str] | None = None,
        ordered: bool = True,
        categorical: bool = False,
        known_on: date | None = None,
    ) -> pd.DataFrame:
        """Responses matching ``filters``, with the company's name, sector and origin.

        Never includes e-mails, deletion hashes, submission keys or fingerprints. Rows come
        in submission order unless ``ordered`` is False (faster: sorting a million rows costs
        half a second); ``categorical`` returns text columns as pandas categoricals (faster
        to group by).

        ``known_on``: the responses as they were known on that day: those submitted on or
        before it, with the updates recorded on or before it folded into the columns the
        statistics read (:func:`survey.updates.fold_events`), and ``status_known_on`` (which
        ``columns`` may then name). Without it, the answers as given.
        """
        if known_on is not None:
            return self._fetch_known(
                self.fetch_responses,
                filters,
                columns,
                known_on,
                ordered=ordered,
                categorical=categorical,
            )
        query, params = fetch_query(filters, columns, ordered=ordered)
        with self._connection() as con:
            table = con.sql(query, params=params).to_arrow_table()
        return frame_from_arrow(table, categorical=categorical)

    @contextlib.contextmanager
    def counted(
        self, filters: Filters | None, columns: list[str], *, known_on: date
    ) -> Iterator[tuple[Any, str, list[Any]]]:
        """Count in the database: ``(cursor, relation, values)`` where ``relation`` is a SELECT
        of ``columns`` of the responses exactly as ``fetch_responses(filters, columns=columns,
        known_on=known_on)`` returns them (without the company's name, sector and origin: see
        :meth:`companies`), run on ``cursor`` with ``values``, so that a caller
        can wrap it (``WITH src AS (relation) SELECT ... GROUP BY ...``) and fetch only counts.

        The few responses with updates recorded by ``known_on`` are read, folded by
        :func:`survey.updates.fold_events` (the same rule as every other read) and handed to
        DuckDB as a frame; the others are read in place, ``status_known_on`` being their own
        answer or, without one, their submission day (:func:`survey.updates.known_on_base`).
        """
        with self._counted_parts(filters, columns, known_on=known_on) as (
            cursor,
            base,
            values,
            fold,
        ):
            if fold is None:
                yield cursor, base, values
            else:
                yield cursor, fold.relation(base), [*values, fold.ids]

    @contextlib.contextmanager
    def _counted_parts(
        self, filters: Filters | None, columns: list[str], *, known_on: date
    ) -> Iterator[tuple[Any, str, list[Any], _Fold | None]]:
        """What :meth:`counted` puts together: ``(cursor, base, values, fold)``, ``base`` the
        SELECT of every response stored as selected (their stored answers, ``values`` its
        values), ``fold`` None without updates, else the responses with updates as stored and
        as folded, registered on ``cursor`` (see :class:`_Fold`)."""
        if not isinstance(known_on, date):
            raise ValueError("`known_on` must be a date.")
        filters = filters or Filters()
        if filters.submitted_to is None or filters.submitted_to > known_on:
            filters = dataclasses.replace(filters, submitted_to=known_on)
        stored = [c for c in columns if c != KNOWN_ON_COLUMN]
        known = KNOWN_ON_COLUMN in columns
        # (each company's name, sector and origin are the caller's to read: no join per row)
        base, values = fetch_query(filters, stored, ordered=False, company_columns=False)
        own = f"r.{KNOWN_ON_COLUMN}" if KNOWN_ON_COLUMN in exported_columns() else "NULL"
        known_sql = f"CAST(COALESCE({own}, r.submitted_on) AS DATE)"
        if known:
            base = base.replace(
                " FROM responses r", f", {known_sql} AS {KNOWN_ON_COLUMN} FROM responses r", 1
            )
        events = self.events(known_on=known_on)
        ids = sorted(set(events["response_id"].astype(str))) if not events.empty else []
        with self._connection() as cursor:
            if not ids:
                yield cursor, base, values, None
                return
            # the fold's inputs, and the respondent's own day the status was known: the fold
            # starts from it, as every read's does (:func:`survey.updates.known_on_base`)
            own_known = [KNOWN_ON_COLUMN] if KNOWN_ON_COLUMN in exported_columns() else []
            extra = [c for c in [*FOLD_INPUTS, *own_known] if c not in stored]
            touched, touched_values = fetch_query(
                filters, stored + extra, ordered=False, company_columns=False
            )
            # the same rows as the base reads them, for the scans that count the fold as a
            # difference (``_BASE_KNOWN``: the base's day the status was known; the fold
            # derives its own, as every read does)
            touched = touched.replace(
                " FROM responses r", f", {known_sql} AS {_BASE_KNOWN} FROM responses r", 1
            )
            # (compared as UUIDs: casting every stored id to text costs 0.08 s a million rows
            # a scan)
            touched += " AND r.response_id IN (SELECT unnest(CAST(? AS UUID[])))"
            table = cursor.sql(touched, params=[*touched_values, ids]).to_arrow_table()
            original = table.select(stored + ([_BASE_KNOWN] if known else []))
            if known:
                original = original.rename_columns([*stored, KNOWN_ON_COLUMN])
            folded = fold_events(frame_from_arrow(table.drop_columns([_BASE_KNOWN])), events)
            folded = folded[stored + ([KNOWN_ON_COLUMN] if known else [])]
            token = secrets.token_hex(8)
            # the columns the fold changed for any of them (as read: the same frame of the
            # same Arrow columns, dtypes included); a scan that reads none of them needs no fold
            stored_frame = frame_from_arrow(original)
            changed = frozenset(c for c in folded.columns if not folded[c].equals(stored_frame[c]))
            fold = _Fold(f"folded_{token}", f"original_{token}", list(folded.columns), ids, changed)
            cursor.register(fold.folded, folded)
            cursor.register(fold.original, original)
            try:
                yield cursor, base, values, fold
            finally:
                cursor.unregister(fold.folded)
                cursor.unregister(fold.original)

    def grouped_responses(
        self,
        filters: Filters | None,
        columns: list[str],
        *,
        known_on: date,
        as_of_day: int,
        launch_day: float | None,
        statuses: tuple[str, ...],
        outcomes: tuple[str, ...],
        share_step: float,
        scores: dict[str, tuple[int, int]],
    ) -> dict[str, dict[str, np.ndarray]]:
        """The responses as known on ``known_on`` (:meth:`counted`) grouped as the barometer's
        tables read them: seven scans, each name -> its group columns as numpy arrays (a few
        thousand groups instead of a row per response; ``analysis.kpis`` turns them into its
        count tables). ``unit`` is the company of a response inside the tables (submitted by
        ``as_of_day``), NULL otherwise; ``statuses`` and ``outcomes`` are coded by their index
        (-1 missing, -2 any other text); the share of the amount obtained is counted in
        multiples of ``share_step``; ``scores``: the score columns, read raw.

        With updates, a scan that reads no column the updates changed reads the stored rows
        alone; one whose every aggregate is a count counts the stored rows, then takes off the
        groups of the updated responses as stored and adds those of the same as folded (the
        same counts, no anti-join of a million rows against the updated ones); the others (a
        sum of kilometres) read :meth:`counted`'s relation."""
        selects = _grouped_selects(statuses, outcomes, share_step, scores)
        with self._counted_parts(filters, columns, known_on=known_on) as (
            cursor,
            base,
            values,
            fold,
        ):
            groups = {}
            for name, select in selects.items():
                counts = _DIFFERENCE_COUNTS.get(name)
                if fold is None or not _reads_any(select, fold.changed):
                    query, params = _grouped_query(base, select), [*values]
                elif counts is not None:
                    over = tuple(
                        _grouped_selects(statuses, outcomes, share_step, scores, source=source)[
                            name
                        ]
                        for source in ("b", "bo", "bf")
                    )
                    query, params = _difference_query(base, fold, over, counts), [*values]
                else:
                    query, params = _grouped_query(fold.relation(base), select), [*values, fold.ids]
                table = cursor.sql(query, params=[*params, as_of_day, launch_day]).to_arrow_table()
                groups[name] = {
                    column: table.column(column).to_numpy(zero_copy_only=False)
                    for column in table.column_names
                }
        return groups

    def fetch_response(self, response_id: str) -> dict[str, Any] | None:
        """One response by id, as a dict (no e-mail, no hashes)."""
        columns = exported_columns()
        with self._connection() as con:
            cursor = con.execute(
                f"SELECT {', '.join(columns)} FROM responses WHERE response_id = ?",
                [response_id],
            )
            row = cursor.fetchone()
        return dict(zip(columns, row, strict=True)) if row else None

    def has_contact(self, response_id: str) -> bool:
        with self._connection() as con:
            return (
                con.execute(
                    "SELECT count(*) FROM contacts WHERE response_id = ?", [response_id]
                ).fetchone()[0]
                > 0
            )

    def companies(self) -> pd.DataFrame:
        with self._connection() as con:
            return con.execute(
                'SELECT id, name, "group", sector, origin FROM companies ORDER BY name'
            ).df()

    def export(
        self,
        out: str | os.PathLike,
        *,
        fmt: str,
        filters: Filters | None = None,
        lang: str = "fr",
        dialect: str = "comma",
    ) -> int:
        """Write responses to a file researchers open: no e-mail, no hash. Returns the rows.

        Parameters
        ----------
        out : path
            The file to write (its folder is created).
        fmt : {"csv", "parquet", "sav", "dta"}
            CSV (text made formula-safe for spreadsheets), Parquet, SPSS (``.sav``) or Stata
            (``.dta``, version 15). SPSS and Stata files carry variable labels and value labels
            from the questionnaire in ``lang``.
        filters : Filters, optional
            By default every stored response (synthetic and flagged included, with their
            ``source`` and flag columns so a reader can filter).
        lang : {"fr", "en"}
            Language of the labels (SPSS and Stata only).
        dialect : {"comma", "fr"}
            CSV only: ``,`` in UTF-8, or ``;`` in UTF-8 with a byte order mark (French
            Excel). Both defuse formulas at a cell's start and after any separator.

        Returns
        -------
        int
            How many responses were written.

        Notes
        -----
        In SPSS and Stata files a choice is an integer code with a value label (Stata allows
        no text value labels): the codes of :func:`value_codes`, 1, 2, 3... in the
        questionnaire's order of choices; yes/no answers are 1 (yes) and 0 (no). "Don't know"
        (NULL) stays a missing value, except in text columns, which neither format can mark
        missing (they hold an empty text). Dates stay dates; ``submitted_at`` is Paris time.
        Stata variable names have at most 32 characters and labels at most 80 (a longer label
        is shortened, ending with "…").
        """
        check_dialect(dialect)
        query, params = export_query(filters, fmt=fmt, lang=lang)
        with self._connection() as con:
            table = con.sql(query, params=params).to_arrow_table()
        return write_export(table, out, fmt=fmt, lang=lang, dialect=dialect)


# --- copying between backends -----------------------------------------------------------------

COPIED_TABLES = ("responses", "contacts", "response_events", "reminders")
CONTACT_COLUMNS = {
    "response_id": "UUID",
    "contact_email": "VARCHAR",
    "stored_on": "DATE",
    "remind": "BOOLEAN",
}
EVENT_TABLE_COLUMNS = {
    "event_id": "UUID",
    "response_id": "UUID",
    "recorded_at": "TIMESTAMPTZ",
    "kind": "VARCHAR",
    "event_on": "DATE",
    "amount": "DOUBLE",
}
REMINDER_COLUMNS = {
    "response_id": "UUID",
    "due_days": "INTEGER",
    "sent_at": "TIMESTAMPTZ",
    "token_hash": "VARCHAR",
}
_ARROW_TYPES = {
    "UUID": pa.string(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "VARCHAR": pa.string(),
}


def copied_columns(table: str) -> dict[str, str]:
    """The columns ``clientroi copy`` moves for ``table`` (every one), with their types."""
    if table == "responses":
        return column_types()
    if table == "contacts":
        return dict(CONTACT_COLUMNS)
    if table == "response_events":
        return dict(EVENT_TABLE_COLUMNS)
    if table == "reminders":
        return dict(REMINDER_COLUMNS)
    raise ValueError(f"`table` must be one of {COPIED_TABLES}, not {table!r}.")


def copy_select(table: str) -> str:
    """Every row of ``table`` in response id order, ids as text (either backend)."""
    columns = copied_columns(table)
    select = ", ".join(
        f"CAST({c} AS VARCHAR) AS {c}" if t == "UUID" else c for c, t in columns.items()
    )
    order = {"response_events": "response_id, event_id", "reminders": "response_id, due_days"}
    return f"SELECT {select} FROM {table} ORDER BY {order.get(table, 'response_id')}"


def canonical_batch(batch: pa.RecordBatch, table: str) -> pa.RecordBatch:
    """A batch with the same Arrow types whatever backend it came from (times in UTC)."""
    columns = copied_columns(table)
    schema = pa.schema([pa.field(c, _ARROW_TYPES[t]) for c, t in columns.items()])
    return pa.RecordBatch.from_arrays(
        [batch.column(c).cast(schema.field(c).type) for c in columns], schema=schema
    )


class _Digest:
    """SHA-256 of batches written as CSV (a canonical text: same rows, same digest)."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        import pyarrow.csv as pa_csv

        sink = pa.BufferOutputStream()
        pa_csv.write_csv(batch, sink, pa_csv.WriteOptions(include_header=False))
        self.sha256.update(sink.getvalue().to_pybytes())
        self.rows += batch.num_rows


@dataclass(frozen=True)
class CopyResult:
    """What ``copy_database`` moved: rows per table, and the SHA-256 of each table's rows
    (in response id order, as canonical CSV), equal on both sides."""

    responses: int
    contacts: int
    digests: dict[str, str]


def table_digests(store: Any) -> dict[str, tuple[int, str]]:
    """Rows and SHA-256 of each copied table of ``store`` (either backend)."""
    found = {}
    for table in COPIED_TABLES:
        digest = _Digest()
        for batch in store.read_batches(table):
            digest.add(canonical_batch(batch, table))
        found[table] = (digest.rows, digest.sha256.hexdigest())
    return found


def copy_database(source: Any, target: Any) -> CopyResult:
    """Copy every response and contact from ``source`` to an empty ``target`` (a DuckDB
    :class:`Store` or a PostgreSQL store, either way), in one transaction on the target;
    then check that both hold the same number of rows and the same digest of every column.

    Raises
    ------
    FileExistsError
        When the target already holds responses or contacts.
    RuntimeError
        When the copy read back differs from the source (nothing is then trusted).
    """
    if target.count() or target.table_rows("contacts"):
        raise FileExistsError(f"{target!r} already holds responses: copy into an empty database")
    digests = {table: _Digest() for table in COPIED_TABLES}

    def passing(table: str) -> Iterator[pa.RecordBatch]:
        for batch in source.read_batches(table):
            batch = canonical_batch(batch, table)
            digests[table].add(batch)
            yield batch

    target.write_batches({table: passing(table) for table in COPIED_TABLES})
    wanted = {t: (d.rows, d.sha256.hexdigest()) for t, d in digests.items()}
    found = table_digests(target)
    if found != wanted:
        raise RuntimeError(f"the copy differs from its source: {found} != {wanted}")
    log.info("copied %s to %s: %s", source, target, wanted)
    return CopyResult(
        wanted["responses"][0], wanted["contacts"][0], {t: d for t, (_, d) in wanted.items()}
    )


EXPORT_FORMATS = ("csv", "parquet", "sav", "dta")
STATA_NAME_MAX = 32
STATA_LABEL_MAX = 80
_YES_NO_LABELS = {"fr": {1: "Oui", 0: "Non"}, "en": {1: "Yes", 0: "No"}}
_DATE_EPOCH = {"sav": np.datetime64("1582-10-14", "D"), "dta": np.datetime64("1960-01-01", "D")}


def value_codes(question_id: str) -> dict[str, int]:
    """The integer code of each choice in SPSS and Stata exports: 1, 2, 3... in the
    questionnaire's order of choices.

    >>> value_codes("status")
    {'resolved': 1, 'ongoing': 2, 'unresolved': 3}
    """
    question = QUESTIONS.get(question_id)
    if question is None or not question.choices:
        raise ValueError(f"`question_id` {question_id!r} is not a question with choices.")
    return {choice.value: code for code, choice in enumerate(question.choices, start=1)}


def _shortened(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _write_labelled(table: pa.Table, out: Path, *, fmt: str, lang: str) -> None:
    """An SPSS or Stata file with variable and value labels (pyreadstat)."""
    import pyreadstat

    frame = table.to_pandas(date_as_object=False)
    metadata_labels = {name: label(lang) for name, _, label in METADATA}
    sql_types = {name: sql_type for name, sql_type, _ in METADATA}
    sql_types.update({q.id: q.sql_type for q in response_questions()})
    limit = STATA_LABEL_MAX if fmt == "dta" else 256
    column_labels: list[str] = []
    value_labels: dict[str, dict[int, str]] = {}
    date_formats: dict[str, str] = {}
    for column in frame.columns:
        if fmt == "dta" and len(column) > STATA_NAME_MAX:
            raise ValueError(
                f"column {column!r} is longer than Stata's {STATA_NAME_MAX} characters"
            )
        question = QUESTIONS.get(column)
        column_labels.append(
            _shortened(question.label(lang) if question else metadata_labels[column], limit)
        )
        values = frame[column]
        if question is not None and question.choices:
            codes = value_codes(column)
            frame[column] = values.map(codes).astype("float64")
            value_labels[column] = {codes[c.value]: c.label(lang) for c in question.choices}
        elif sql_types[column] == "BOOLEAN":
            frame[column] = values.map({True: 1.0, False: 0.0}).astype("float64")
            value_labels[column] = dict(_YES_NO_LABELS[lang])
        elif sql_types[column] == "TIMESTAMPTZ":
            frame[column] = values.dt.tz_convert(TIME_ZONE).dt.tz_localize(None)
        elif sql_types[column] == "DATE":  # a date format, not a date-time
            # As the file stores it (SPSS: seconds since 1582-10-14; Stata: days since
            # 1960-01-01) with a date format: pyreadstat reads a column of date objects whose
            # first hundred rows are empty as text, and fails (a sparse version-2 date).
            days = values.to_numpy().astype("datetime64[D]")
            number = (days - _DATE_EPOCH[fmt]).astype("int64").astype("float64")
            number[np.isnat(days)] = np.nan
            frame[column] = number * (86400.0 if fmt == "sav" else 1.0)
            date_formats[column] = "DATE11" if fmt == "sav" else "%td"
        elif sql_types[column] == "UUID":
            frame[column] = values.astype(str)
        elif sql_types[column] == "VARCHAR":
            frame[column] = values.fillna("")
    title = f"Client Roi responses (questionnaire version {QUESTIONNAIRE_VERSION})"
    if fmt == "sav":
        pyreadstat.write_sav(
            frame,
            str(out),
            file_label=title,
            column_labels=column_labels,
            variable_value_labels=value_labels,
            variable_format=date_formats,
        )
    else:
        pyreadstat.write_dta(
            frame,
            str(out),
            file_label=_shortened(title, STATA_LABEL_MAX),
            column_labels=column_labels,
            variable_value_labels=value_labels,
            variable_format=date_formats,
            version=15,
        )


# --- imports in batches ---------------------------------------------------------------------

ImportedRows = pd.DataFrame | pa.Table | Iterable[pa.Table]
STAGING_ABANDONED_SECONDS = 6 * 3600  # a staging file older than this is an import's leftover
IMPORT_MEMORY_LIMIT = "256MB"  # the staging file's DuckDB: what does not fit goes to disk


def imported_key_sql(names: list[str]) -> str:
    """The digest of one incoming row (``i``): SHA-256 of every answer's text (NULL marked by a
    zero byte) joined by the unit separator. With the occurrence number of that digest in the
    file it makes the row's submission key: two identical experiences in one file are two
    rows; the same file imported twice is stored once."""
    parts = []
    for q in response_questions():
        if q.id in names:
            parts.append(f"coalesce(CAST(i.{q.id} AS VARCHAR), chr(0))")
        else:
            parts.append("chr(0)")
    return f"sha256(concat_ws(chr(31), {', '.join(parts)}))"


def imported_batches(rows: ImportedRows) -> Iterator[pa.Table]:
    if isinstance(rows, pd.DataFrame):
        yield pa.Table.from_pandas(rows, preserve_index=False)
    elif isinstance(rows, pa.Table | pa.RecordBatch):
        yield rows if isinstance(rows, pa.Table) else pa.Table.from_batches([rows])
    else:
        yield from rows


class _ImportStaging:
    """A folder beside the database where an import's batches are kept, then cast and keyed,
    before one transaction copies them in (see :meth:`Store.insert_imported`); removed on exit.

    The batches go to a Parquet file as they come (Arrow writes it: no DuckDB table, whose
    70 columns cost about 25 µs a row to write, is built for rows read only once); a DuckDB
    of its own, in memory within :data:`IMPORT_MEMORY_LIMIT` (spilling to the folder), then
    casts, keys and sorts them into a second Parquet file that the copy reads.
    """

    def __init__(self, database: Path, *, today: date | None = None) -> None:
        self.path = database.with_name(f".{database.name}.import-{secrets.token_hex(6)}")
        self.today = today or date.today()
        self.answer_columns: list[str] = []
        self.names: list[str] = []
        # What an import killed while staging left (answers of a file: personal data); an
        # import takes minutes, so a staging file untouched for hours belongs to no import.
        for leftover in database.parent.glob(f".{database.name}.import-*"):
            with contextlib.suppress(FileNotFoundError):
                if time.time() - leftover.stat().st_mtime > STAGING_ABANDONED_SECONDS:
                    _remove(leftover)
                    log.info("removed an abandoned import staging file: %s", leftover.name)

    @property
    def rows_file(self) -> Path:
        return self.path / "rows.parquet"

    @property
    def keyed_file(self) -> Path:
        return self.path / "keyed.parquet"

    @property
    def keyed(self) -> str:
        """The cast and keyed rows, as a table expression of SQL."""
        return f"read_parquet({_sql_path(self.keyed_file)})"

    def __enter__(self) -> _ImportStaging:
        self.path.mkdir(mode=0o700)
        return self

    def __exit__(self, *exc: object) -> None:
        _remove(self.path)

    def stage(self, rows: ImportedRows) -> int:
        """Keep every batch, then cast and key them all; the number of rows staged."""
        import pyarrow.parquet as pq

        total = 0
        writer = None
        try:
            for batch in imported_batches(rows):
                if not batch.num_rows:
                    continue
                batch = _text_batch(batch)
                if writer is None:
                    self._select(_names(batch))  # checks the columns, fixes their order
                    self.names = _names(batch)
                    writer = pq.ParquetWriter(self.rows_file, batch.schema, compression="lz4")
                elif sorted(_names(batch)) != sorted(self.names):
                    raise ValueError("`rows`: every batch must have the same columns.")
                writer.write_table(batch.select(self.names).cast(writer.schema))
                total += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
        if total:
            self._key(total)
        return total

    def _key(self, rows: int) -> None:
        """The staged rows cast, keyed and given new ids, in increasing id order: the copy into
        the database, which holds it, then adds them to its primary key in order (about a
        third faster than in random order at 1M rows).

        No row is sorted: the ``rows`` new ids (random UUIDs) are drawn and sorted alone, then
        given to the rows in the file's order, each row beside its key by position (DuckDB's
        POSITIONAL JOIN, insertion order kept). Sorting the 70 typed columns by a random id
        instead spilled them to disk within :data:`IMPORT_MEMORY_LIMIT`."""
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
            con.execute(f"SET temp_directory = {_sql_path(self.path / 'spill')}")
            con.execute("SET preserve_insertion_order = true")  # the positional join needs it
            con.execute("SET enable_progress_bar = false")
            staged = f"read_parquet({_sql_path(self.rows_file)}, file_row_number = true) i"
            typed = (
                self._select(self.names)
                .replace(f"{imported_key_sql(self.names)} AS digest, ", "")
                .replace("CAST(i.line AS BIGINT) AS line, ", "")
                .replace("FROM incoming_rows i", f"FROM {staged}")
            )
            # The occurrence of each digest is counted on (row, line, digest) alone: a window
            # carrying the 70 typed columns through its sort costs twice as much.
            keys = (
                "SELECT 'import:' || left(digest, 40) || ':' || "
                "CAST(row_number() OVER (PARTITION BY digest ORDER BY line) AS VARCHAR) AS "
                "row_key FROM (SELECT file_row_number, CAST(i.line AS BIGINT) AS line, "
                f"{imported_key_sql(self.names)} AS digest FROM {staged}) "
                "ORDER BY file_row_number"
            )
            ids = "SELECT gen_random_uuid() AS response_id FROM range(?) ORDER BY response_id"
            con.execute(
                f"COPY (SELECT n.response_id, t.*, k.row_key FROM ({typed}) t "
                f"POSITIONAL JOIN ({keys}) k POSITIONAL JOIN ({ids}) n) "
                f"TO {_sql_path(self.keyed_file)} (FORMAT parquet, COMPRESSION lz4)",
                [self.today, self.today, rows],
            )
        except duckdb.ConversionException as exc:
            reason = str(exc).splitlines()[0]
            raise DataRejected(f"a value could not be stored ({reason})") from exc
        finally:
            con.close()
        self.rows_file.unlink()

    def _select(self, names: list[str]) -> str:
        """The rows as they will be stored: typed answers, the submission date kept when
        plausible (else today), the line and the digest for the key."""
        questions = [q for q in response_questions() if q.id in names]
        if not self.answer_columns:
            self.answer_columns = [q.id for q in questions]
        elif self.answer_columns != [q.id for q in questions]:
            raise ValueError("`rows`: every batch must have the same columns.")

        def cast(q) -> str:
            if q.sql_type == "INTEGER":  # "2" and "2.0" are both two
                return f"CAST(CAST(i.{q.id} AS DOUBLE) AS INTEGER) AS {q.id}"
            return f"CAST(i.{q.id} AS {q.sql_type}) AS {q.id}"

        started = "CAST(i.started_on AS DATE)" if "started_on" in names else "NULL"
        ended = "CAST(i.ended_on AS DATE)" if "ended_on" in names else "NULL"
        given = "TRY_CAST(i.submitted_on AS DATE)" if "submitted_on" in names else "NULL"
        submitted_on = (
            f"CASE WHEN {given} <= CAST(? AS DATE) AND {given} >= coalesce({started}, {given}) "
            f"AND {given} >= coalesce({ended}, {given}) THEN {given} ELSE CAST(? AS DATE) END"
        )
        answers = "".join(f", {cast(q)}" for q in questions)
        return (
            f"SELECT CAST(i.line AS BIGINT) AS line, {imported_key_sql(names)} AS digest, "
            f"CAST({submitted_on} AS DATE) AS submitted_on{answers} FROM incoming_rows i"
        )


def _text_batch(batch: pa.Table) -> pa.Table:
    """A batch whose columns without any value (a frame's None) are text, as a file's are."""
    for i, column in enumerate(batch.schema):
        if pa.types.is_null(column.type):
            batch = batch.set_column(i, column.name, pa.nulls(batch.num_rows, pa.string()))
    return batch


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _names(frame: pd.DataFrame | pa.Table) -> list[str]:
    return list(frame.column_names if isinstance(frame, pa.Table) else frame.columns)


def launch_date_setting() -> date | None:
    """``CLIENTROI_LAUNCH_DATE`` (YYYY-MM-DD) as a date, or None when unset."""
    setting = os.environ.get("CLIENTROI_LAUNCH_DATE", "").strip()
    if not setting:
        return None
    try:
        return date.fromisoformat(setting)
    except ValueError:
        raise ValueError(
            f"CLIENTROI_LAUNCH_DATE must be a date (YYYY-MM-DD), not {setting!r}."
        ) from None


def response_row(response: Any, meta: SubmissionMeta) -> tuple[dict[str, Any], str | None]:
    """The row a validated submission becomes, and its e-mail (stored apart, or None).

    A new response id, the time in Paris, the flags known before storing (honeypot, too
    fast, burst; ``flag_duplicate`` is set by the store, which sees the earlier rows), the submission
    key, the fingerprint and the hash of the deletion code (never the code itself).
    """
    if meta.source not in SOURCES:
        raise ValueError(f"`source` must be one of {SOURCES}.")
    answers = response.model_dump()
    email = answers.pop("contact_email", None)
    now = datetime.now(ZoneInfo(TIME_ZONE))
    row: dict[str, Any] = {
        "response_id": str(uuid.uuid4()),
        "submitted_at": now,
        "submitted_on": now.date(),
        "questionnaire_version": QUESTIONNAIRE_VERSION,
        "locale": meta.locale,
        "source": meta.source,
        "fill_seconds": meta.fill_seconds,
        "flag_honeypot": bool(meta.honeypot),
        "flag_too_fast": meta.fill_seconds is not None and meta.fill_seconds < TOO_FAST_SECONDS,
        "flag_duplicate": False,
        "flag_burst": bool(meta.suspected_burst),
        "submission_key": meta.submission_key,
        "fingerprint": _fingerprint(meta.session_id, answers),
        "deletion_hash": hash_code(meta.deletion_code),
        **{q.id: answers[q.id] for q in response_questions()},
    }
    return row, email


def column_types() -> dict[str, str]:
    """Every column of ``responses`` and its type as the questionnaire names it (DuckDB's
    spelling: VARCHAR, DOUBLE, TIMESTAMPTZ...), in table order.

    The first release's columns come first (metadata, private columns, questions); a column
    a later migration added follows, in the order of the migrations
    (:func:`~survey.questionnaire.columns_added_by_migrations`).

    >>> list(column_types().items())[:2]
    [('response_id', 'UUID'), ('submitted_at', 'TIMESTAMPTZ')]
    >>> list(column_types())[-1]
    'ease'
    """
    first = {n: t for n, t, _ in METADATA if n not in METADATA_ADDED_BY_MIGRATION}
    first.update(dict(PRIVATE_COLUMNS))
    first.update({q.id: q.sql_type for q in response_questions() if q.since_version == 1})
    return first | dict(columns_added_by_migrations())


def fetch_query(
    filters: Filters | None,
    columns: list[str] | None,
    *,
    ordered: bool,
    paramstyle: str = "qmark",
    company_columns: bool = True,
) -> tuple[str, list[Any]]:
    """The SELECT behind ``fetch_responses``, for either backend, and its values.

    Only exported columns (never e-mails, hashes, keys or fingerprints), with the company's
    name, sector and origin; ``response_id`` as text. ``company_columns=False`` leaves those
    three out (the caller adds them from the companies table, see :func:`with_company_columns`)
    and joins ``companies`` only when a sector or origin filter needs it.

    >>> fetch_query(None, ["csat"], ordered=False, company_columns=False)[0]
    "SELECT r.csat FROM responses r WHERE r.source <> 'synthetic' AND NOT (r.flag_honeypot OR r.flag_too_fast OR r.flag_duplicate OR r.flag_burst) AND r.consent_research"
    """
    filters = filters or Filters()
    where, params = filters.where(paramstyle=paramstyle)
    select = select_list(columns)
    joined = company_columns or bool(filters.sectors or filters.origins)
    query = (
        f"SELECT {select}"
        + (", c.name AS company_name, c.sector, c.origin" if company_columns else "")
        + " FROM responses r"
        + (" LEFT JOIN companies c ON c.id = r.company" if joined else "")
        + f" WHERE {where}"
        + (" ORDER BY r.submitted_at, r.response_id" if ordered else "")
    )
    return query, params


def with_company_columns(table: pa.Table, companies: pd.DataFrame) -> pa.Table:
    """``table`` (with a ``company`` column) and the company's name, sector and origin
    appended, looked up in ``companies`` (the reference table, a few dozen rows) as the
    SQL ``LEFT JOIN companies`` of :func:`fetch_query` would: NULL for an unknown company.
    Costs a few milliseconds per million rows, far less than the server sending them.

    >>> refs = pd.DataFrame({"id": ["free"], "name": ["Free"], "sector": ["isp"], "origin": ["fr"]})
    >>> out = with_company_columns(pa.table({"company": ["free", "other", None]}), refs)
    >>> out.column("company_name").to_pylist(), out.column("origin").to_pylist()
    (['Free', None, None], ['fr', None, None])
    """
    import pyarrow.compute as pc

    if "company" in table.column_names:
        company = table.column("company")
    else:
        raise ValueError("`table` must have a company column.")
    position = pc.index_in(company, value_set=pa.array(companies["id"], pa.string()))
    for column, name in (("name", "company_name"), ("sector", "sector"), ("origin", "origin")):
        values = pa.array(companies[column], pa.string())
        table = table.append_column(name, values.take(position))
    return table


def select_list(columns: list[str] | None) -> str:
    """The SELECT list of ``columns`` of ``responses r`` (all exported columns when None):
    exported columns only, ids as text. Raises ValueError for any other column."""
    allowed = exported_columns()
    wanted = list(columns) if columns else list(allowed)
    bad = [c for c in wanted if c not in allowed]
    if bad:
        raise ValueError(f"`columns` not available: {bad}")
    return ", ".join(_selected(c) for c in wanted)


def _selected(column: str) -> str:
    if column_types()[column] == "UUID":  # text on both backends (DuckDB's Arrow gives text)
        return f"CAST(r.{column} AS VARCHAR) AS {column}"
    return f"r.{column}"


def _day(column: str) -> str:
    """SQL: the day number (days since 1970-01-01) of a date column, NULL when missing."""
    return f"(CAST({column} AS DATE) - DATE '1970-01-01')"


def _choice_sql(column: str, choices: tuple[str, ...]) -> str:
    """SQL: the index of the answer in ``choices``, -1 missing, -2 any other text.

    Missing is asked first: most responses have no refund, and a missing answer compared
    with each choice in turn cost twice the time of the scan's read (0.03 s a million rows).

    >>> _choice_sql("o", ("a", "b"))
    "CASE WHEN o IS NULL THEN -1 WHEN CAST(o AS VARCHAR) = 'a' THEN 0 WHEN CAST(o AS VARCHAR) = 'b' THEN 1 ELSE -2 END"
    """
    cases = " ".join(
        f"WHEN CAST({column} AS VARCHAR) = '{choice}' THEN {i}" for i, choice in enumerate(choices)
    )
    return f"CASE WHEN {column} IS NULL THEN -1 {cases} ELSE -2 END"


_BASE_KNOWN = "__base_status_known_on"
_DIFFERENCE_COUNTS = {
    "resolution": ("n",),
    "refunds": ("n", "bad_requested", "bad_obtained"),
    "refund_time": ("n",),
}
"""The grouped scans whose every aggregate is a count (of :func:`_grouped_selects`), and
those counts: with updates, counted as the stored rows' minus the updated responses' as stored
plus theirs as folded (exact, in any order; a sum of kilometres would not be)."""


@dataclass(frozen=True)
class _Fold:
    """The responses with updates, registered on a cursor under ``folded`` (as known on the
    date: :func:`survey.updates.fold_events`) and ``original`` (as stored, the base's row for
    each), ``columns`` the relation's, ``ids`` their ids (one bound value, text), ``changed``
    the columns where the two differ for any response."""

    folded: str
    original: str
    columns: list[str]
    ids: list[str]
    changed: frozenset[str] = frozenset(FOLDED_COLUMNS) | {KNOWN_ON_COLUMN}

    def select(self) -> str:
        return ", ".join(
            f"CAST({c} AS DATE) AS {c}" if c == KNOWN_ON_COLUMN else c for c in self.columns
        )

    def relation(self, base: str) -> str:
        """The responses as known on the date: the base without the updated ones, then those
        as folded (one more bound value after the base's: :attr:`ids`)."""
        return (
            f"SELECT * FROM ({base} AND r.response_id NOT IN "
            f"(SELECT unnest(CAST(? AS UUID[])))) UNION ALL BY NAME "
            f"SELECT {self.select()} FROM {self.folded}"
        )


def _reads_any(select: str, columns: Iterable[str]) -> bool:
    """Whether a grouped scan reads any of ``columns`` (by name, as a word of its SQL)."""
    names = sorted(columns)
    return bool(names) and re.search(r"\b(" + "|".join(names) + r")\b", select) is not None


def _rows_with_unit(source: str) -> str:
    """SQL: the rows of ``source`` with their ``unit`` (the company when submitted by the
    date, else NULL) and the parameters ``as_of`` and ``launch`` of ``p``."""
    return (
        "SELECT CASE WHEN company IS NOT NULL AND submitted_on IS NOT NULL "
        f"AND {_day('submitted_on')} <= p.as_of THEN CAST(company AS VARCHAR) END "
        f"AS unit, {source}.*, p.as_of, p.launch FROM {source}, p"
    )


_PARAMETERS = "p AS (SELECT CAST(? AS BIGINT) AS as_of, CAST(? AS DOUBLE) AS launch)"


def _grouped_query(relation: str, select: str) -> str:
    """One grouped scan over ``relation`` (its values, then as_of and launch)."""
    return f"WITH src AS ({relation}), {_PARAMETERS}, b AS ({_rows_with_unit('src')}) {select}"


def _difference_query(base: str, fold: _Fold, selects: tuple[str, str, str], counts) -> str:
    """One grouped scan of counts over the stored rows, minus the same over the updated
    responses as stored, plus the same over them as folded (``selects``: the scan over ``b``,
    ``bo`` and ``bf``), summed group by group; the groups left with no response are dropped,
    as a scan of the folded rows would never have them. Values: the base's, as_of, launch."""
    stored, original, folded = selects
    summed = ", ".join(f"CAST(coalesce(sum({c}), 0) AS BIGINT) AS {c}" for c in counts)
    negated = ", ".join(f"-{c} AS {c}" for c in counts)
    return (
        f"WITH src AS ({base}), {_PARAMETERS}, b AS ({_rows_with_unit('src')}), "
        f"o AS (SELECT * FROM {fold.original}), bo AS ({_rows_with_unit('o')}), "
        f"f AS (SELECT {fold.select()} FROM {fold.folded}), bf AS ({_rows_with_unit('f')}), "
        f"g AS ({stored}), go AS ({original}), gf AS ({folded}) "
        f"SELECT * EXCLUDE ({', '.join(counts)}), {summed} FROM (SELECT * FROM g "
        f"UNION ALL BY NAME SELECT * FROM gf UNION ALL BY NAME SELECT * REPLACE ({negated}) "
        "FROM go) GROUP BY ALL HAVING sum(n) <> 0"
    )


def _grouped_selects(
    statuses: tuple[str, ...],
    outcomes: tuple[str, ...],
    share_step: float,
    scores,
    *,
    source: str = "b",
) -> dict[str, str]:
    """The seven grouped scans of :meth:`Store.grouped_responses`, over ``source`` (one row per
    response: its ``unit``, the company when inside the tables, else NULL, ``as_of`` and
    ``launch`` as day numbers, and its columns), each reading only its columns."""
    status = _choice_sql("status", statuses)
    started, ended, submitted = _day("started_on"), _day("ended_on"), _day("submitted_on")
    known_on = _day("status_known_on")
    # an ongoing incident is followed until the day its status was last known, when that is
    # within [start, as_of], else until the report (analysis.kpis._status_known)
    censored = (
        f"CASE WHEN {known_on} IS NOT NULL AND NOT coalesce({known_on} < {started}, false) "
        f"AND {known_on} <= as_of THEN {known_on} ELSE {submitted} END"
    )
    opening = f"coalesce(CAST({_day('collected_from')} AS DOUBLE), launch)"
    outcome = _choice_sql("refund_outcome", outcomes)
    step = f"CAST({float(share_step)!r} AS DOUBLE)"
    asked_on, received_on = _day("refund_requested_on"), _day("refund_received_on")
    return {
        "units": (
            f"SELECT CAST(company AS VARCHAR) AS company, count(*) AS n_all, count(unit) AS n, "
            f"count(*) FILTER (WHERE {_day('submitted_on')} > as_of) AS after, "
            f"count(*) - count(submitted_on) AS missing, "
            f"bool_or(collected_from IS NOT NULL) AS collected FROM {source} GROUP BY company"
        ),
        "resolution": (
            "SELECT unit, s, stop - started AS d, CASE s WHEN 0 THEN 1 WHEN 2 THEN 2 ELSE 0 END "
            f"AS cause, entry, count(*) AS n FROM (SELECT unit, s, started, CASE WHEN s = 1 THEN "
            "censored WHEN s IN (0, 2) THEN ended END AS stop, CASE WHEN started IS NOT NULL AND "
            "opening IS NOT NULL THEN greatest(opening - started, 0) ELSE 0 END AS entry FROM "
            f"(SELECT unit, {status} AS s, {started} AS started, {ended} AS ended, {censored} AS "
            f"censored, {opening} AS opening FROM {source} WHERE unit IS NOT NULL)) GROUP BY ALL"
        ),
        "refunds": (
            f"SELECT unit, o, round_even(share / {step}, 0) AS m, count(*) AS n, "
            f"count(*) FILTER (WHERE req_raw < 0) AS bad_requested, "
            f"count(*) FILTER (WHERE obt_raw < 0) AS bad_obtained FROM (SELECT unit, o, req_raw, "
            "obt_raw, CASE WHEN req > 0 THEN CASE WHEN o = 2 THEN 0.0 WHEN o = 0 AND obt IS NULL "
            "THEN 1.0 WHEN o IN (0, 1) THEN CASE WHEN obt / req > 1 THEN 1.0 ELSE obt / req END END "
            "END AS share FROM (SELECT unit, o, req_raw, obt_raw, CASE WHEN req_raw < 0 THEN NULL "
            "ELSE req_raw END AS req, CASE WHEN obt_raw < 0 THEN NULL ELSE obt_raw END AS obt FROM "
            f"(SELECT unit, {outcome} AS o, CAST(refund_amount_requested AS DOUBLE) AS req_raw, "
            f"CAST(refund_amount_obtained AS DOUBLE) AS obt_raw FROM {source}))) GROUP BY ALL"
        ),
        "refund_time": (
            "SELECT unit, (o >= 0 OR coalesce(requested, false)) AS scope, stop - asked AS d, "
            f"CASE WHEN o IN (0, 1) THEN 1 WHEN o = 2 THEN 2 ELSE 0 END AS cause, count(*) AS n "
            "FROM (SELECT unit, o, requested, asked, CASE WHEN o IN (0, 1) THEN received WHEN o IN "
            "(2, 3) THEN submitted END AS stop FROM (SELECT unit, "
            f"{outcome} AS o, CAST(refund_requested AS BOOLEAN) AS requested, {asked_on} AS asked, "
            f"{received_on} AS received, {submitted} AS submitted FROM {source} WHERE unit IS NOT NULL)) "
            "GROUP BY ALL"
        ),
        "incidents": (
            "SELECT unit, CAST(wasted_trips AS DOUBLE) AS trips, "
            "CAST(technician_visits_useless AS DOUBLE) AS useless, "
            "CAST(false_resolved_count AS DOUBLE) AS false_resolved, "
            "CAST(loaner_offered AS BOOLEAN) AS offered, CAST(loaner_obtained AS BOOLEAN) AS "
            f"obtained, CAST(loaner_cut_before_resolution AS BOOLEAN) AS cut, count(*) AS n, "
            "sum(CAST(wasted_km AS DOUBLE)) FILTER (WHERE wasted_km >= 0) AS km, "
            f"count(*) FILTER (WHERE wasted_km >= 0) AS km_n, "
            f"count(*) FILTER (WHERE wasted_km < 0) AS km_bad FROM {source} GROUP BY ALL"
        ),
        "callbacks": (
            "SELECT unit, CAST(callbacks_received AS DOUBLE) AS received, "
            f"CAST(callbacks_promised AS DOUBLE) AS promised, count(*) AS n FROM {source} GROUP BY ALL"
        ),
        "scores": (
            "SELECT unit, "
            + ", ".join(f"CAST({c} AS DOUBLE) AS {c}" for c in scores)
            + f", count(*) AS n FROM {source} GROUP BY ALL"
        ),
    }


def frame_from_arrow(table: pa.Table, *, categorical: bool = False) -> pd.DataFrame:
    """The DataFrame readers get from an Arrow table of responses (either backend).

    Dates become datetime64 (NaT when missing), counts with gaps float64 (NaN), yes/no
    answers with gaps objects holding True, False or None; ``submitted_at`` in Paris time.
    """
    # Arrow to pandas is several times faster than DuckDB's own conversion at 1M rows.
    # With ``categorical``, identifiers (one distinct value per row) stay Arrow text in
    # pandas: a categorical of them is a Python string per row and a hash table besides.
    names = table.column_names
    ids = [c for c in names if categorical and column_types().get(c) == "UUID"]
    kept = {c: table.column(c) for c in ids}
    if ids:
        table = table.drop_columns(ids)
    frame = table.to_pandas(date_as_object=False, strings_to_categorical=categorical)
    for column in ids:
        frame.insert(
            names.index(column),
            column,
            pd.Series(pd.arrays.ArrowExtensionArray(kept[column]), index=frame.index),
        )
    if "submitted_at" in frame:
        frame["submitted_at"] = frame["submitted_at"].dt.tz_convert(TIME_ZONE)
    return frame


def export_query(
    filters: Filters | None, *, fmt: str, lang: str, paramstyle: str = "qmark"
) -> tuple[str, list[Any]]:
    """The SELECT behind ``export`` and its values: exported columns only, text made
    formula-safe for CSV, in submission order. Checks ``fmt`` and ``lang``.

    A CSV cell is read by spreadsheets that split it on ``,``, on ``;`` (French Excel) or on
    tab, so a formula may start at the cell's start or after any separator inside it: a
    leading ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a ``'`` before it, and so
    does an ``=``, ``+``, ``-`` or ``@`` after a ``,``, ``;``, tab or line break
    (``x;=1+2;y`` is written ``x;'=1+2;y``), as OWASP's CSV injection advice says."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"`fmt` must be one of {EXPORT_FORMATS}, not {fmt!r}.")
    if lang not in LOCALES:
        raise ValueError(f"`lang` must be one of {LOCALES}, not {lang!r}.")
    text_columns = {q.id for q in response_questions() if q.sql_type == "VARCHAR"}
    selected = []
    formula_params: list[str] = []
    mark = _placeholder(paramstyle, lambda: 1 + len(formula_params))
    for column in exported_columns():
        if fmt == "csv" and column in text_columns:
            marks = []
            for prefix in FORMULA_PREFIXES:
                marks.append(mark())
                formula_params.append(prefix)
            pattern = mark()
            formula_params.append(INNER_FORMULA)
            replacement = mark()
            formula_params.append(r"\1'\2")
            # Each mark appears once (qmark parameters are positional).
            selected.append(
                f"(CASE WHEN left(r.{column}, 1) IN ({', '.join(marks)}) THEN '''' ELSE '' END "
                f"|| regexp_replace(r.{column}, {pattern}, {replacement}, 'g')) AS {column}"
            )
        else:
            selected.append(_selected(column))
    where, params = (filters or Filters(include_synthetic=True, include_flagged=True)).where(
        paramstyle=paramstyle, first=1 + len(formula_params)
    )
    query = (
        f"SELECT {', '.join(selected)} FROM responses r "
        f"LEFT JOIN companies c ON c.id = r.company WHERE {where} "
        f"ORDER BY r.submitted_at, r.response_id"
    )
    return query, formula_params + params


def write_export(
    table: pa.Table, out: str | os.PathLike, *, fmt: str, lang: str, dialect: str = "comma"
) -> int:
    """Write an Arrow table of :func:`export_query`'s rows as ``fmt``; returns the rows.

    ``dialect`` (CSV only): ``"comma"`` (``,``, UTF-8, as R and pandas read by default) or
    ``"fr"`` (``;`` between cells and a UTF-8 byte order mark, as French Excel opens a
    ``.csv`` by double click: accents intact, one answer per column). Decimals keep their
    point in both.
    """
    check_dialect(dialect)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        import pyarrow.csv as pa_csv

        delimiter = ";" if dialect == "fr" else ","
        with pa.OSFile(str(out), "wb") as sink:
            if dialect == "fr":
                sink.write(b"\xef\xbb\xbf")
            pa_csv.write_csv(table, sink, pa_csv.WriteOptions(delimiter=delimiter))
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    else:
        _write_labelled(table, out, fmt=fmt, lang=lang)
    log.info("exported %d responses to %s (%s)", table.num_rows, out.name, fmt)
    return table.num_rows


def check_dialect(dialect: str) -> str:
    """``dialect`` if it is one of :data:`CSV_DIALECTS`, else a ValueError naming it.

    >>> check_dialect("fr")
    'fr'
    """
    if dialect not in CSV_DIALECTS:
        raise ValueError(f"`dialect` must be one of {CSV_DIALECTS}, not {dialect!r}.")
    return dialect


def reference_rows() -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The reference tables' columns and rows from data/reference/*.csv (empty text: NULL)."""
    tables = {}
    for table, filename in (("companies", "companies.csv"), ("departments", "departments.csv")):
        with open(REFERENCE_DIR / filename, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        columns = list(rows[0])
        tables[table] = (columns, [[row[c] or None for c in columns] for row in rows])
    return tables


def _fingerprint(session_id: str | None, answers: dict[str, Any]) -> str | None:
    """Same browser session + same company, problem and start date: a likely duplicate."""
    if not session_id:
        return None
    key = "|".join(
        str(answers.get(k)) for k in ("company", "company_other", "problem", "started_on")
    )
    return hashlib.sha256(f"{session_id}|{key}".encode()).hexdigest()


def _migrate(con: Any) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMPTZ)"
    )
    done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for migration in migrations():
        if migration.version in done:
            continue
        with _transaction(con):
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now())",
                [migration.version, migration.description],
            )
        log.info("applied migration %s", migration.name)


def _load_reference(con: Any) -> None:
    """Bring the reference tables in line with data/reference/*.csv (a few dozen rows)."""
    for table, (columns, rows) in reference_rows().items():
        quoted = ", ".join(f'"{c}"' for c in columns)
        with _transaction(con):
            con.execute(f"DELETE FROM {table}")
            con.executemany(
                f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' for _ in columns)})",
                rows,
            )


def restore(backup_dir: str | os.PathLike, target: str | os.PathLike) -> Any:
    """Recreate a database from a backup folder; refuses to overwrite an existing one.

    A DuckDB backup (Parquet files, ``schema.sql``) into a new file; a PostgreSQL backup
    (``clientroi.pgdump``, pg_dump's custom format) into an empty PostgreSQL database named
    by its URL. To move data between the two backends, use ``clientroi copy``.
    """
    if is_server_url(target):
        from survey.store_pg import restore_database

        return restore_database(Path(backup_dir), str(target))
    backup_dir, target = Path(backup_dir), Path(target)
    if not (backup_dir / "schema.sql").exists():
        raise FileNotFoundError(f"{backup_dir} is not a Client Roi backup (no schema.sql)")
    if target.exists():
        raise FileExistsError(f"{target} already exists: restore into a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(target))
    try:
        con.execute(f"IMPORT DATABASE {_sql_path(backup_dir)}")
    except BaseException:
        con.close()
        target.unlink(missing_ok=True)
        raise
    con.close()
    return connect(target)


def _sql_path(path: Path) -> str:
    """A folder path as a SQL string literal (EXPORT/IMPORT DATABASE take no parameters)."""
    return "'" + str(path.resolve()).replace("'", "''") + "'"
