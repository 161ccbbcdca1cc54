"""Responses in a PostgreSQL database: the second store backend, for several app processes.

The only module that imports psycopg (and ADBC's PostgreSQL driver). :func:`survey.store.connect`
returns a :class:`PostgresStore` for a ``postgresql://`` URL; it has the public methods and the
guarantees of the DuckDB :class:`survey.store.Store`, and shares its filters, rows, queries and
export formatting (``survey/store.py``). What differs lives here:

- connections: a psycopg 3 pool (``psycopg_pool``) for writes and small reads, each connection
  checked before use, so a restarted server is reconnected to by itself; a call that cannot
  reach the server is retried until ``RETRY_SECONDS`` and then raises
  :class:`survey.store.StoreUnavailable` (nothing promised: a submission keeps its key and can
  be sent again, and is stored once);
- the dialect: ``INSERT ... ON CONFLICT DO NOTHING`` for idempotent submissions, migrations in
  ``NNNN_name.postgres.sql`` under an advisory lock (several processes may start at once);
- reads for analysis and bulk loads: Arrow through ADBC's PostgreSQL driver (binary COPY in
  C++, no Python object per value), so a million-row fetch costs about what DuckDB's does.

Backups are ``pg_dump`` custom-format archives: one consistent snapshot of every table taken
while the app writes, compressed, restored with ``pg_restore`` (whole or table by table), the
tool PostgreSQL operators already run and schedule. ``clientroi copy`` moves the data to or
from a DuckDB file when a backend-neutral copy is wanted.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg_pool import ConnectionPool, PoolTimeout

from survey import store as common
from survey.questionnaire import QUESTIONNAIRE_VERSION, SOURCES, TIME_ZONE, response_questions

RETRY_SECONDS = 8.0  # a server restart (pg_ctl restart -m immediate) takes one or two seconds
CONNECT_TIMEOUT = 5
POOL_SIZE = int(os.environ.get("CLIENTROI_PG_POOL_SIZE", "16"))
ARROW_IDLE = 4  # ADBC connections kept for the next read
# Connections an unordered read of many rows is split over (server and client work in parallel).
FETCH_CONNECTIONS = int(os.environ.get("CLIENTROI_PG_FETCH_CONNECTIONS", "2"))
# An unordered read is mirrored: kept in memory as Arrow and, at the next read, brought up to
# date with the rows written since (see PostgresStore._mirrored). Reads kept per store.
MIRRORS = 2
MIRROR = os.environ.get("CLIENTROI_PG_MIRROR", "1") != "0"
MIRROR_CHUNKS = 32  # a mirror is compacted when its columns hold more chunks than this
_ID, _MATCH = "__mirror_id", "__mirror_match"
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")
MIGRATION_LOCK = 7_215_150_915  # pg_advisory_lock key: one migrating process at a time
BACKUP_FILE = "clientroi.pgdump"
# How PostgreSQL spells the types the questionnaire names in DuckDB's words.
PG_TYPES = {"DOUBLE": "DOUBLE PRECISION"}

log = logging.getLogger("survey.store")

_RETRYABLE = (psycopg.OperationalError, PoolTimeout)


def pg_type(sql_type: str) -> str:
    """The PostgreSQL spelling of a questionnaire type.

    >>> pg_type("DOUBLE"), pg_type("VARCHAR")
    ('DOUBLE PRECISION', 'VARCHAR')
    """
    return PG_TYPES.get(sql_type, sql_type)


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs.

    >>> redacted("postgresql://app:secret@db.example:5432/clientroi")
    'postgresql://app:***@db.example:5432/clientroi'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


# What a server going down, restarting or recovering answers a new connection; waiting helps.
_TRANSIENT = (
    "starting up",
    "recovery",
    "shutting down",
    "closed the connection unexpectedly",
    "Connection refused",
    "server closed",
    "terminating connection",
)


def _transient(exc: Exception) -> bool:
    """Whether a failed connection is one that retrying a moment later can cure."""
    return any(marker in str(exc) for marker in _TRANSIENT)


class PostgresStore(common.ComebackMethods):
    """Responses in a PostgreSQL database (several app processes may share it).

    Parameters
    ----------
    url : str
        ``postgresql://user[:password]@host[:port]/database`` (libpq's URL; ``?sslmode=...``
        and other libpq options pass through).
    read_only : bool
        Every transaction read-only; the schema is not created or migrated.
    keep_open : float
        Positive for the app: keeps two pooled connections ready; 0 (the command line): one.

    Notes
    -----
    ``path`` is the local stand-in of a database file, for what lives beside a database:
    the researcher token and the default snapshot folder, ``$CLIENTROI_DATA_DIR`` (default
    ``data``) / ``<database>.postgresql``. App processes that share a database must share
    that folder (run them from the same directory) to share the token.
    """

    def __init__(self, url: str, *, read_only: bool = False, keep_open: float = 0.0):
        self.url = url
        self.read_only = read_only
        self.keep_open = keep_open
        dbname = urlsplit(url).path.lstrip("/") or "postgres"
        self.path = Path(os.environ.get("CLIENTROI_DATA_DIR") or "data") / f"{dbname}.postgresql"
        options = f"-c TimeZone={TIME_ZONE}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        self._kwargs = {
            "autocommit": True,
            "options": options,
            "connect_timeout": CONNECT_TIMEOUT,
            "application_name": "clientroi",
        }
        if not read_only:
            self.migrate()
        elif not self._has_schema():
            raise FileNotFoundError(
                f"No Client Roi database at {redacted(url)} (run clientroi migrate)"
            )
        self._pool = ConnectionPool(
            url,
            kwargs=self._kwargs,
            min_size=2 if keep_open > 0 else 1,
            max_size=max(POOL_SIZE, 2),
            open=False,
            check=ConnectionPool.check_connection,
            timeout=RETRY_SECONDS,
            reconnect_timeout=24 * 3600,  # keep trying while the server is away
            name="clientroi",
        )
        self._pool.open(wait=False)
        self._arrow_idle: list[Any] = []
        self._arrow_lock = threading.Lock()
        self._mirrors: collections.OrderedDict[tuple, _Mirror] = collections.OrderedDict()
        self._mirror_lock = threading.Lock()
        atexit.register(self.close)

    def __repr__(self) -> str:
        return f"PostgresStore({redacted(self.url)!r})"

    # --- connections ------------------------------------------------------------------------

    def _direct(self) -> psycopg.Connection:
        """A connection of its own; while the server is restarting, starting up or recovering
        (an app process restarted together with it) tried again until ``RETRY_SECONDS``; a
        refusal that waiting cannot cure (authentication, no such database) is raised at once."""
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                return psycopg.connect(self.url, **self._kwargs)
            except psycopg.OperationalError as exc:
                if _transient(exc) and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                raise common.StoreUnavailable(
                    f"PostgreSQL at {redacted(self.url)} cannot be reached: "
                    f"{str(exc).strip().splitlines()[-1]}"
                ) from exc

    def _retrying(self, operation: Callable[[psycopg.Connection], Any]) -> Any:
        """Run ``operation`` on a pooled connection; while the server cannot be reached
        (down, restarting, a connection cut), try again with a fresh connection until
        ``RETRY_SECONDS``, then raise StoreUnavailable. Every operation passed here is
        idempotent (reads, and writes keyed so that a second run changes nothing)."""
        deadline = time.monotonic() + RETRY_SECONDS
        pause = 0.05
        while True:
            try:
                with self._pool.connection(timeout=max(deadline - time.monotonic(), 0.1)) as con:
                    return operation(con)
            except _RETRYABLE as exc:
                if time.monotonic() + pause > deadline:
                    raise common.StoreUnavailable(
                        f"PostgreSQL at {redacted(self.url)} cannot be reached "
                        f"({type(exc).__name__}); nothing was stored, try again."
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        def run(con: psycopg.Connection) -> list[tuple]:
            return con.execute(sql, list(params)).fetchall()

        return self._retrying(run)

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        """A small read written with ``?`` marks (:class:`survey.store.ComebackMethods`)."""
        return self._query(sql.replace("?", "%s"), params)

    def _in_transaction(
        self, work: Callable[[Callable[..., list[tuple]]], Any], *, brief: bool = False
    ) -> Any:
        """``work(run)`` in one transaction; ``run`` takes SQL with ``?`` marks. (``brief``
        changes nothing here: a server has no single writer to wait for.)"""

        def operation(con: psycopg.Connection) -> Any:
            def run(sql: str, params: Iterable[Any] = ()) -> list[tuple]:
                cursor = con.execute(sql.replace("?", "%s"), list(params))
                return cursor.fetchall() if cursor.description else []

            with con.transaction():
                return work(run)

        return self._retrying(operation)

    @contextlib.contextmanager
    def _arrow_connection(self) -> Iterator[Any]:
        """An ADBC connection (Arrow in and out); reused when it ends cleanly."""
        with self._arrow_lock:
            con = self._arrow_idle.pop() if self._arrow_idle else None
        if con is not None and not _alive(con):  # cut while idle (a server restart)
            with contextlib.suppress(Exception):
                con.close()
            con = None
        if con is None:
            con = adbc.connect(self.url)
            with con.cursor() as cur:
                cur.execute(f"SET TimeZone = '{TIME_ZONE}'")
                if self.read_only:
                    cur.execute("SET default_transaction_read_only = on")
            con.commit()
        try:
            yield con
        except BaseException:
            with contextlib.suppress(Exception):
                con.rollback()
            with contextlib.suppress(Exception):
                con.close()
            raise
        with self._arrow_lock:
            if len(self._arrow_idle) < ARROW_IDLE:
                self._arrow_idle.append(con)
                return
        con.close()

    def _arrow(self, sql: str, params: list[Any]) -> pa.Table:
        """A query's rows as Arrow (reads only: retried once on a cut connection)."""
        for attempt in (1, 2):
            try:
                with self._arrow_connection() as con:
                    with con.cursor() as cur:
                        cur.execute(sql, params or None)
                        table = cur.fetch_arrow_table()
                    con.rollback()  # end the read's transaction
                return _normalised(table)
            except adbc_driver_manager.OperationalError as exc:
                if attempt == 2:
                    raise common.StoreUnavailable(
                        f"PostgreSQL at {redacted(self.url)} cannot be reached: {exc}"
                    ) from exc
                time.sleep(0.2)
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def holding(self):
        """As :meth:`survey.store.Store.holding`: the pool already keeps its connections."""
        yield self

    def close(self) -> None:
        """Close every connection (the pool waits for running operations)."""
        with contextlib.suppress(Exception):
            self._pool.close()
        with self._mirror_lock:
            self._mirrors.clear()
        with self._arrow_lock:
            idle, self._arrow_idle = self._arrow_idle, []
        for con in idle:
            with contextlib.suppress(Exception):
                con.close()

    # --- schema -----------------------------------------------------------------------------

    def _has_schema(self) -> bool:
        with self._direct() as con:
            return (
                con.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
                and con.execute("SELECT to_regclass('responses') IS NOT NULL").fetchone()[0]
            )

    def migrate(self) -> list[str]:
        """Create or upgrade the schema (the ``.postgres.sql`` migrations not yet recorded in
        ``schema_migrations``, each in one transaction) and refresh the reference tables.
        Processes starting together wait for each other (an advisory lock). Returns the
        names of the migrations applied. A connection cut by a server restart meanwhile is
        tried again until ``RETRY_SECONDS`` (each migration is one transaction, the lock ends
        with its connection: a second run starts where the first stopped)."""
        deadline = time.monotonic() + RETRY_SECONDS
        applied: list[str] = []
        while True:
            try:
                self._migrate_once(applied)
                return applied
            except psycopg.OperationalError as exc:
                if not _transient(exc) or time.monotonic() >= deadline:
                    raise
                log.info("migration interrupted (%s); trying again", exc)
                time.sleep(0.2)

    def _migrate_once(self, applied: list[str]) -> None:
        with self._direct() as con:
            con.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
            try:
                con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMPTZ)"
                )
                done = {r[0] for r in con.execute("SELECT version FROM schema_migrations")}
                for migration in common.migrations("postgresql"):
                    if migration.version in done:
                        continue
                    with con.transaction():
                        con.execute(migration.sql)  # no parameters: several statements
                        con.execute(
                            "INSERT INTO schema_migrations VALUES (%s, %s, now())",
                            [migration.version, migration.description],
                        )
                    log.info("applied migration %s", migration.name)
                    applied.append(migration.name)
                with con.transaction():
                    for table, (columns, rows) in common.reference_rows().items():
                        quoted = ", ".join(f'"{c}"' for c in columns)
                        con.execute(f"DELETE FROM {table}")
                        with con.cursor() as cur:
                            cur.executemany(
                                f"INSERT INTO {table} ({quoted}) "
                                f"VALUES ({', '.join('%s' for _ in columns)})",
                                rows,
                            )
            finally:
                if not con.closed:  # a cut connection took its lock with it
                    con.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])

    # --- writes -----------------------------------------------------------------------------

    def insert_response(self, response: Any, meta: common.SubmissionMeta) -> common.Receipt:
        """Store one validated response; idempotent on ``meta.submission_key``.

        ``INSERT ... ON CONFLICT DO NOTHING``: of two requests with the same key (a double
        click reaching two processes) one inserts, the other waits for it and finds its row.
        A request that cannot reach the server is retried (the key makes it safe) for up to
        ``RETRY_SECONDS``, then raises StoreUnavailable: not stored, the caller keeps the
        answers.
        """
        row, email = common.response_row(response, meta)
        columns = list(row)
        insert = (
            f"INSERT INTO responses ({', '.join(columns)}) "
            f"VALUES ({', '.join('%s' for _ in columns)}) "
            "ON CONFLICT DO NOTHING RETURNING response_id"
        )

        def store(con: psycopg.Connection) -> common.Receipt:
            with con.transaction():
                if row["fingerprint"] is not None:
                    row["flag_duplicate"] = con.execute(
                        "SELECT EXISTS (SELECT 1 FROM responses WHERE fingerprint = %s)",
                        [row["fingerprint"]],
                    ).fetchone()[0]
                inserted = con.execute(insert, [row[c] for c in columns]).fetchone()
                if inserted is None:
                    existing = con.execute(
                        "SELECT response_id FROM responses WHERE submission_key = %s",
                        [meta.submission_key],
                    ).fetchone()
                    if existing is None:  # the conflict was another unique column
                        raise common.DataRejected("a stored response has the same deletion code")
                    return common.Receipt(str(existing[0]), created=False)
                if email:
                    con.execute(
                        "INSERT INTO contacts (response_id, contact_email, stored_on, remind) "
                        "VALUES (%s, %s, %s, %s)",
                        [row["response_id"], email, row["submitted_on"], bool(meta.remind)],
                    )
            return common.Receipt(row["response_id"], created=True)

        try:
            return self._retrying(store)
        except Exception as exc:
            # The key and the exception, never the answers (they may be personal).
            log.error(
                "saving a response failed (submission key %s): %s",
                meta.submission_key,
                type(exc).__name__,
                exc_info=exc,
            )
            raise

    def insert_frame(self, frame: pd.DataFrame) -> int:
        """Bulk-insert a DataFrame whose columns are a subset of the responses table."""
        return self.insert_frames([frame])

    def insert_frames(self, frames: Iterable[pd.DataFrame]) -> int:
        """Bulk-insert DataFrames in one transaction: each is sent by binary COPY (ADBC) into a
        temporary table, then inserted with the schema's types. Columns derived at read time
        (company name, sector, origin) are ignored; any other unknown column is refused."""
        derived = {"company_name", "sector", "origin", "contact_email"}
        types = common.column_types()
        total = 0
        with self._arrow_connection() as con:
            with con.cursor() as cur:
                for frame in frames:
                    columns = [c for c in frame.columns if c not in derived]
                    unknown = set(columns) - set(types)
                    if unknown:
                        raise ValueError(f"`frame` has unknown columns: {sorted(unknown)}")
                    table = _sendable(pa.Table.from_pandas(frame[columns], preserve_index=False))
                    cur.adbc_ingest("incoming_frame", table, mode="replace", temporary=True)
                    casts = ", ".join(f"CAST({c} AS {pg_type(types[c])})" for c in columns)
                    cur.execute(
                        f"INSERT INTO responses ({', '.join(columns)}) "
                        f"SELECT {casts} FROM incoming_frame"
                    )
                    total += len(frame)
                cur.execute("DROP TABLE IF EXISTS incoming_frame")
            con.commit()
        return total

    def _imported_rows_sql(self, names: list[str]) -> str:
        """Incoming rows with their submission key, the same key as DuckDB's: SHA-256 of every
        answer's text (NULL as a zero byte) joined by the unit separator, plus the occurrence
        number of that digest in the file. PostgreSQL text holds no zero byte: the digest is
        taken over bytes (bytea)."""
        parts = []
        for q in response_questions():
            if q.id in names:
                parts.append(
                    f"coalesce(convert_to(CAST(i.{q.id} AS VARCHAR), 'UTF8'), '\\x00'::bytea)"
                )
            else:
                parts.append("'\\x00'::bytea")
        separator = " || '\\x1f'::bytea || "
        digest = f"encode(sha256({separator.join(parts)}), 'hex')"
        return (
            f"WITH keyed AS (SELECT i.*, {digest} AS digest FROM incoming_rows i) "
            "SELECT *, 'import:' || left(digest, 40) || ':' || "
            "CAST(row_number() OVER (PARTITION BY digest ORDER BY line) AS VARCHAR) AS row_key "
            "FROM keyed"
        )

    def _send_incoming(self, cur: Any, rows: common.ImportedRows) -> tuple[list[str], int]:
        """Every batch of ``rows`` into one temporary table (gone with the transaction); the
        columns and the number of rows sent. Only one batch is held at a time."""
        names: list[str] = []
        total = 0
        for table in common.imported_batches(rows):
            if not table.num_rows:
                continue
            mode = "append" if total else "replace"
            names = self._send_batch(cur, table, mode=mode)
            total += table.num_rows
        return names, total

    def _send_batch(self, cur: Any, table: pa.Table, *, mode: str) -> list[str]:
        names = list(table.column_names)
        if "submitted_on" in names:  # DuckDB's TRY_CAST(... AS DATE): a date or NULL
            given = table.column("submitted_on")
            parsed = (
                pa.nulls(len(table), pa.date32())
                if pa.types.is_null(given.type)
                else pc.strptime(
                    given.cast(pa.string()), format="%Y-%m-%d", unit="s", error_is_null=True
                ).cast(pa.date32())
            )
            table = table.set_column(names.index("submitted_on"), "submitted_on", parsed)
        cur.adbc_ingest("incoming_rows", _sendable(table), mode=mode, temporary=True)
        return names

    def count_imported(self, rows: common.ImportedRows) -> int:
        """How many of these incoming rows (see :meth:`insert_imported`) are already stored."""
        with self._arrow_connection() as con:
            with con.cursor() as cur:
                names, total = self._send_incoming(cur, rows)
                found = 0
                if total:
                    cur.execute(
                        f"SELECT count(*) FROM ({self._imported_rows_sql(names)}) n "
                        "JOIN responses r ON r.submission_key = n.row_key"
                    )
                    found = cur.fetchone()[0]
            con.rollback()  # the temporary table goes with the transaction
        return int(found)

    def insert_imported(
        self,
        rows: common.ImportedRows,
        *,
        today: date,
        source: str = "import",
        collected_from: date | None = None,
    ) -> int:
        """Store validated imported rows in one transaction; returns how many were already there.

        ``rows``: a table (pandas or Arrow) or an iterable of Arrow tables (batches of one
        file, in its order) holding answers as validated text (question ids as columns),
        ``line`` (its line in the file) and ``submitted_on`` (the file's date, or None:
        today). Rows whose key is already stored are skipped (also when another import stores
        them meanwhile). The batches go one by one into a temporary table of the same
        transaction, which then stores them all at once: PostgreSQL's other writers (the app's
        submissions) are not blocked meanwhile, and a failure in any batch keeps nothing.
        """
        if source not in SOURCES:
            raise ValueError(f"`source` must be one of {SOURCES}.")
        with self._arrow_connection() as con:
            try:
                with con.cursor() as cur:
                    names, total = self._send_incoming(cur, rows)
                    if not total:
                        con.rollback()
                        return 0
                    cur.execute(
                        self._insert_imported_sql(names),
                        [today, today, QUESTIONNAIRE_VERSION, source, collected_from],
                    )
                    inserted = int(cur.fetchone()[0])
                    cur.execute("DROP TABLE incoming_rows")
                con.commit()
            except adbc_driver_manager.Error as exc:
                if str(getattr(exc, "sqlstate", "") or "").startswith("22"):  # data exception
                    reason = str(exc).splitlines()[0]
                    raise common.DataRejected(f"a value could not be stored ({reason})") from exc
                raise
        return total - inserted

    def _insert_imported_sql(self, names: list[str]) -> str:
        questions = [q for q in response_questions() if q.id in names]

        def cast(q) -> str:
            if q.sql_type == "INTEGER":  # "2" and "2.0" are both two
                return f"CAST(CAST(n.{q.id} AS DOUBLE PRECISION) AS INTEGER)"
            return f"CAST(n.{q.id} AS {pg_type(q.sql_type)})"

        select = ", ".join(cast(q) for q in questions)
        columns = ", ".join(q.id for q in questions)
        started = "CAST(n.started_on AS DATE)" if "started_on" in names else "NULL"
        ended = "CAST(n.ended_on AS DATE)" if "ended_on" in names else "NULL"
        given = "n.submitted_on" if "submitted_on" in names else "CAST(NULL AS DATE)"
        submitted_on = (
            f"CASE WHEN {given} <= CAST($1 AS DATE) AND {given} >= coalesce({started}, {given}) "
            f"AND {given} >= coalesce({ended}, {given}) THEN {given} ELSE CAST($2 AS DATE) END"
        )
        return (
            f"WITH stored AS (INSERT INTO responses (response_id, submitted_at, submitted_on, "
            f"questionnaire_version, locale, source, fill_seconds, flag_honeypot, "
            f"flag_too_fast, flag_duplicate, flag_burst, collected_from, submission_key, "
            f"{columns}) "
            f"SELECT gen_random_uuid(), now(), {submitted_on}, CAST($3 AS INTEGER), 'fr', "
            f"CAST($4 AS VARCHAR), NULL, false, false, false, false, CAST($5 AS DATE), "
            f"n.row_key, {select} "
            f"FROM ({self._imported_rows_sql(names)}) n WHERE NOT EXISTS ("
            f"SELECT 1 FROM responses r WHERE r.submission_key = n.row_key) "
            f"ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM stored"
        )

    def delete_response(self, code: str) -> bool:
        """Delete the response matching a deletion code, with its e-mail, its updates, its
        reminders and any draft left of it. True if one was."""
        digest = common.hash_code(code)

        def delete(run) -> bool:
            found = run("SELECT response_id FROM responses WHERE deletion_hash = ?", [digest])
            if found:
                self._delete_comeback_state(run, found[0][0])
                run("DELETE FROM contacts WHERE response_id = ?", [found[0][0]])
                run("DELETE FROM responses WHERE response_id = ?", [found[0][0]])
            return bool(found)

        return self._in_transaction(delete)

    def purge_contacts(self, *, older_than_days: int) -> int:
        """Forget contact e-mails stored more than ``older_than_days`` ago (retention), and
        the reminder state kept for them (the tokens of the links sent)."""

        def purge(run) -> int:
            purged = run(
                "DELETE FROM contacts WHERE stored_on < current_date - CAST(? AS INTEGER) "
                "RETURNING response_id",
                [older_than_days],
            )
            run("DELETE FROM reminders WHERE response_id NOT IN (SELECT response_id FROM contacts)")
            return len(purged)

        return self._in_transaction(purge)

    # --- backups ----------------------------------------------------------------------------

    def backup(self, out: str | os.PathLike) -> Path:
        """Write the whole database (e-mails included: keep backups private) as a ``pg_dump``
        custom-format archive, ``out/clientroi.pgdump``: one consistent snapshot, taken while
        the app keeps writing. :func:`survey.store.restore` (``clientroi restore``) or
        ``pg_restore`` bring it back."""
        out = Path(out)
        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} is not empty: choose a new folder for the backup")
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o700)
        archive = out / BACKUP_FILE
        # Created 0600 before pg_dump writes into it (the archive holds e-mails).
        os.close(os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        common.owner_only(archive)
        _run_tool(
            "pg_dump",
            "--format=custom",
            f"--file={archive}",
            "--no-owner",
            f"--dbname={self.url}",
        )
        common.owner_only(archive)
        return out

    # --- copies ---------------------------------------------------------------------------

    def read_batches(self, table: str) -> Iterator[pa.RecordBatch]:
        """Every row of ``table`` (responses or contacts, every column) in batches (ADBC)."""
        with self._arrow_connection() as con:
            with con.cursor() as cur:
                cur.execute(common.copy_select(table))
                yield from cur.fetch_record_batch()
            con.rollback()

    def write_batches(self, tables: dict[str, Iterable[pa.RecordBatch]]) -> dict[str, int]:
        """Append batches of ``copy_select``'s shape (binary COPY into a temporary table, then
        INSERT with the schema's types), every table in one transaction."""
        written = {}
        with self._arrow_connection() as con:
            with con.cursor() as cur:
                for table, batches in tables.items():
                    columns = common.copied_columns(table)
                    casts = ", ".join(f"CAST({c} AS {pg_type(t)})" for c, t in columns.items())
                    written[table] = 0
                    for batch in batches:
                        data = _sendable(pa.Table.from_batches([batch]))
                        cur.adbc_ingest("incoming_batch", data, mode="replace", temporary=True)
                        cur.execute(
                            f"INSERT INTO {table} ({', '.join(columns)}) "
                            f"SELECT {casts} FROM incoming_batch"
                        )
                        written[table] += batch.num_rows
                cur.execute("DROP TABLE IF EXISTS incoming_batch")
            con.commit()
        return written

    def table_rows(self, table: str) -> int:
        """Rows of ``table`` (responses or contacts)."""
        common.copied_columns(table)  # checks the name
        return self._query(f"SELECT count(*) FROM {table}")[0][0]

    # --- reads ------------------------------------------------------------------------------

    def columns(self) -> list[str]:
        return [
            r[0]
            for r in self._query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                "'responses' AND table_schema = current_schema() ORDER BY ordinal_position"
            )
        ]

    def schema_version(self) -> int:
        return self._query("SELECT max(version) FROM schema_migrations")[0][0]

    def count(self, filters: common.Filters | None = None) -> int:
        filters = filters or common.Filters(include_synthetic=True, include_flagged=True)
        where, params = filters.where(paramstyle="format")
        return self._query(
            f"SELECT count(*) FROM responses r LEFT JOIN companies c ON c.id = r.company "
            f"WHERE {where}",
            params,
        )[0][0]

    def data_version(self) -> common.DataVersion:
        rows, last = self._query("SELECT count(*), max(submitted_at) FROM responses")[0]
        return common.DataVersion(rows, last, *self._events_version())

    def launch_date(self) -> date | None:
        """The survey's opening (see :meth:`survey.store.Store.launch_date`)."""
        setting = common.launch_date_setting()
        if setting is not None:
            return setting
        return self._query(
            "SELECT min(CAST(timezone(%s, submitted_at) AS DATE)) FROM responses"
            " WHERE source = 'web'",
            [TIME_ZONE],
        )[0][0]

    def source_counts(self) -> dict[str, int]:
        return dict(self._query("SELECT source, count(*) FROM responses GROUP BY source"))

    def fetch_responses(
        self,
        filters: common.Filters | None = None,
        *,
        columns: list[str] | None = None,
        ordered: bool = True,
        categorical: bool = False,
        known_on: date | None = None,
    ) -> pd.DataFrame:
        """Responses matching ``filters`` (see :meth:`survey.store.Store.fetch_responses`,
        ``known_on`` included), read as Arrow through ADBC.

        Where the time goes at a million rows is per value sent: the server's binary COPY
        and the driver's decoding each cost about 0.1 s per column, so the company's name,
        sector and origin are not sent but looked up here in the reference table
        (:func:`survey.store.with_company_columns`), and an unordered read is split by
        block range over ``FETCH_CONNECTIONS`` connections reading one exported snapshot
        (one consistent view; the server sends and the client decodes in parallel).

        An unordered read by an app's store (``keep_open`` > 0: the dashboard's, read again at
        every data version) is also mirrored: the first one reads every row as above, the next
        ones only the rows written since (:meth:`_mirrored`). A one-off read (the command line)
        is not kept.
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
        wanted = list(columns) if columns else list(common.exported_columns())
        company_columns = "company" not in wanted
        if not ordered and MIRROR and self.keep_open > 0:  # an app's store, read again and again
            table = self._mirrored(filters or common.Filters(), wanted, company_columns)
        else:
            query, params = common.fetch_query(
                filters,
                wanted,
                ordered=ordered,
                paramstyle="numeric",
                company_columns=company_columns,
            )
            if ordered or FETCH_CONNECTIONS < 2:
                table = self._arrow(query, params)
            else:
                table = self._arrow_split(query, params, parts=FETCH_CONNECTIONS)
        if not company_columns:
            table = common.with_company_columns(table, self.companies())
        return common.frame_from_arrow(table, categorical=categorical)

    def _arrow_split(
        self,
        query: str,
        params: list[Any],
        *,
        parts: int,
        also: Callable[[Any], Any] | None = None,
    ) -> Any:
        """An unordered query's rows read in ``parts`` block ranges of ``responses r`` at
        once, each on its own ADBC connection, all in one snapshot (``pg_export_snapshot``);
        retried once on a cut connection, as :meth:`_arrow`. With ``also``, returns the rows
        and what ``also(cursor)`` returns, run in the same snapshot."""
        first, last = len(params) + 1, len(params) + 2
        ranged = f"{query} AND r.ctid >= CAST(${first} AS tid) AND r.ctid < CAST(${last} AS tid)"
        for attempt in (1, 2):
            try:
                with contextlib.ExitStack() as stack:
                    cons = [stack.enter_context(self._arrow_connection()) for _ in range(parts)]
                    with cons[0].cursor() as cur:
                        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                        cur.execute(
                            "SELECT pg_export_snapshot(), pg_relation_size('responses') "
                            "/ current_setting('block_size')::int"
                        )
                        snapshot, pages = cur.fetchone()
                    if not _SNAPSHOT_ID.fullmatch(snapshot):  # SET takes no parameter
                        raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
                    for con in cons[1:]:
                        with con.cursor() as cur:
                            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                            cur.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                    # Every row the snapshot sees lies below ``pages`` (measured in the same
                    # statement); the last range is open-ended all the same.
                    bounds = [int(pages) * i // parts for i in range(parts)] + [2**32 - 1]
                    ranges = [
                        [*params, f"({bounds[i]},0)", f"({bounds[i + 1]},0)"] for i in range(parts)
                    ]

                    def read(con: Any, values: list[Any]) -> pa.Table:
                        with con.cursor() as cur:
                            cur.execute(ranged, values)
                            return cur.fetch_arrow_table()

                    with ThreadPoolExecutor(parts, thread_name_prefix="clientroi-fetch") as pool:
                        tables = list(pool.map(read, cons, ranges))
                    extra = None
                    if also is not None:
                        with cons[0].cursor() as cur:
                            extra = also(cur)
                    for con in cons:
                        con.rollback()
                rows = _normalised(pa.concat_tables(tables))
                return rows if also is None else (rows, extra)
            except adbc_driver_manager.OperationalError as exc:
                if attempt == 2:
                    raise common.StoreUnavailable(
                        f"PostgreSQL at {redacted(self.url)} cannot be reached: {exc}"
                    ) from exc
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def _mirrored(
        self, filters: common.Filters, wanted: list[str], company_columns: bool
    ) -> pa.Table:
        """The rows of an unordered read, from a mirror kept in memory and brought up to date.

        Reading a million rows costs the server and the driver about 0.1 s of CPU per column
        whatever the transport (binary COPY through ADBC, connectorx or psycopg measured
        alike), so a read that comes again only fetches what changed since the last one:
        in one snapshot, the rows whose version (``xmin``, the writing transaction) is not
        older than the previous snapshot's horizon (``pg_snapshot_xmin``: every transaction
        below it had ended, so anything committed since has an ``xmin`` at or above it, even
        a transaction that began before the previous read and committed after it), and the
        table's row count. Those rows replace their earlier version (a row that no longer
        matches the filters leaves the mirror); if the count then differs from the server's,
        rows were deleted (a respondent's own deletion: rare) and everything is read again,
        as it is after a migration or a lost connection. Kept: the last ``MIRRORS`` reads.
        """
        where, params = filters.where(paramstyle="numeric")
        select = common.select_list(wanted)
        joined = (
            " LEFT JOIN companies c ON c.id = r.company"
            if (filters.sectors or filters.origins)
            else ""
        )
        key = (select, joined, where, tuple(params))
        with self._mirror_lock:
            mirror = self._mirrors.pop(key, None)
            if mirror is not None:
                try:
                    mirror = self._brought_up_to_date(mirror, select, joined, where, params)
                except (adbc_driver_manager.OperationalError, pa.ArrowInvalid) as exc:
                    log.info("mirror read again in full: %s", exc)
                    mirror = None
            if mirror is None:
                mirror = self._mirror_read(select, joined, where, params)
            self._mirrors[key] = mirror
            while len(self._mirrors) > MIRRORS:
                self._mirrors.popitem(last=False)
            return mirror.rows.drop_columns([_ID])

    def _mirror_read(self, select: str, joined: str, where: str, params: list[Any]) -> _Mirror:
        """Every row of the read (split over ``FETCH_CONNECTIONS``), the ids of the rows it
        leaves out, the table's count and the snapshot's horizon, all in one snapshot."""
        query = f"SELECT r.response_id AS {_ID}, {select} FROM responses r{joined} WHERE ({where})"
        left_out = f"SELECT r.response_id FROM responses r{joined} WHERE ({where}) IS NOT TRUE"

        def state(cur: Any) -> tuple[tuple, pa.Table]:
            cur.execute(_STATE_SQL)
            head = cur.fetchone()
            cur.execute(left_out, params or None)
            return head, cur.fetch_arrow_table()

        rows, ((horizon, total, schema), others) = self._arrow_split(
            query, params, parts=max(FETCH_CONNECTIONS, 1), also=state
        )
        return _Mirror(_with_plain_ids(rows), _plain_ids(others.column(0)), total, horizon, schema)

    def _brought_up_to_date(
        self, mirror: _Mirror, select: str, joined: str, where: str, params: list[Any]
    ) -> _Mirror | None:
        """``mirror`` with the rows written since its snapshot, or None when it must be read
        again in full (rows deleted, the schema migrated, a horizon too far behind)."""
        changed_sql = (
            f"SELECT r.response_id AS {_ID}, (({where}) IS TRUE) AS {_MATCH}, {select} "
            f"FROM responses r{joined} WHERE age(r.xmin) <= ${len(params) + 1}"
        )
        with self._arrow_connection() as con:
            with con.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute(_STATE_SQL)
                horizon, total, schema = cur.fetchone()
                if schema != mirror.schema or not 0 <= horizon - mirror.horizon < 2**30:
                    con.rollback()
                    return None
                # The transactions since the previous horizon, as an age (32-bit xids).
                cur.execute(
                    "SELECT age(CAST(CAST($1 % 4294967296 AS TEXT) AS xid))", [mirror.horizon]
                )
                (within,) = cur.fetchone()
                cur.execute(changed_sql, [*params, within])
                changed = cur.fetch_arrow_table()
            con.rollback()
        rows, others = mirror.rows, mirror.others
        if changed.num_rows:
            changed = _with_plain_ids(_normalised(changed))
            ids = changed.column(_ID).combine_chunks()
            match = changed.column(_MATCH).combine_chunks()
            rows = rows.filter(pc.invert(pc.is_in(rows.column(_ID), value_set=ids)))
            others = others.filter(pc.invert(pc.is_in(others, value_set=ids)))
            rows = pa.concat_tables([rows, changed.filter(match).drop_columns([_MATCH])])
            others = pa.concat_arrays([others, ids.filter(pc.invert(match))])
            if rows.column(0).num_chunks > MIRROR_CHUNKS:
                rows = rows.combine_chunks()
        if rows.num_rows + len(others) != total:
            return None
        return _Mirror(rows, others, total, horizon, schema)

    def fetch_response(self, response_id: str) -> dict[str, Any] | None:
        """One response by id, as a dict (no e-mail, no hashes)."""
        columns = common.exported_columns()
        try:
            rows = self._query(
                f"SELECT {', '.join(columns)} FROM responses WHERE response_id = %s",
                [response_id],
            )
        except psycopg.errors.InvalidTextRepresentation:  # not a UUID: no such response
            return None
        return dict(zip(columns, rows[0], strict=True)) if rows else None

    def has_contact(self, response_id: str) -> bool:
        return (
            self._query(
                "SELECT count(*) FROM contacts WHERE CAST(response_id AS VARCHAR) = %s",
                [str(response_id)],
            )[0][0]
            > 0
        )

    def companies(self) -> pd.DataFrame:
        rows = self._query('SELECT id, name, "group", sector, origin FROM companies ORDER BY name')
        return pd.DataFrame(rows, columns=["id", "name", "group", "sector", "origin"])

    def export(
        self,
        out: str | os.PathLike,
        *,
        fmt: str,
        filters: common.Filters | None = None,
        lang: str = "fr",
        dialect: str = "comma",
    ) -> int:
        """Write responses to a file researchers open (see :meth:`survey.store.Store.export`)."""
        common.check_dialect(dialect)
        query, params = common.export_query(filters, fmt=fmt, lang=lang, paramstyle="numeric")
        table = self._arrow(query, params)
        return common.write_export(table, out, fmt=fmt, lang=lang, dialect=dialect)


def _alive(con: Any) -> bool:
    try:
        with con.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        con.rollback()
        return True
    except adbc_driver_manager.Error:
        return False


def _names(frame: pd.DataFrame | pa.Table) -> list[str]:
    return list(frame.column_names if isinstance(frame, pa.Table) else frame.columns)


def _sendable(table: pa.Table) -> pa.Table:
    """Columns of Arrow's null type (all missing) become text: COPY needs a column type."""
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return table


# The state a mirror is checked against, read in the snapshot of its rows.
_STATE_SQL = (
    "SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT), "
    "(SELECT count(*) FROM responses), (SELECT max(version) FROM schema_migrations)"
)


@dataclasses.dataclass(frozen=True)
class _Mirror:
    """An unordered read kept in memory (see :meth:`PostgresStore._mirrored`)."""

    rows: pa.Table  # the read's rows, their response id first (16 bytes)
    others: pa.Array  # the ids of the table's other rows
    total: int  # rows of the responses table
    horizon: int  # pg_snapshot_xmin of the snapshot they were read in
    schema: int  # the last migration then


def _plain_ids(ids: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Response ids (Arrow's uuid extension type from ADBC) as their 16 bytes."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    return ids.storage if isinstance(ids, pa.ExtensionArray) else ids


def _with_plain_ids(table: pa.Table) -> pa.Table:
    position = table.schema.get_field_index(_ID)
    return table.set_column(position, _ID, _plain_ids(table.column(_ID)))


def _normalised(table: pa.Table) -> pa.Table:
    """What DuckDB's Arrow gives: no driver metadata, times in Paris (the same instants)."""
    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_timestamp(kind) and kind.tz is not None:
            kind = pa.timestamp(kind.unit, tz=TIME_ZONE)
        fields.append(pa.field(field.name, kind, field.nullable))
    return table.cast(pa.schema(fields))


def _run_tool(program: str, *args: str) -> None:
    """Run pg_dump or pg_restore; a missing tool or its failure is one clear error."""
    found = shutil.which(program)
    if found is None:
        raise FileNotFoundError(
            f"{program} is not installed (Debian: apt-get install postgresql-client)"
        )
    result = subprocess.run([found, *args], capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr.strip().splitlines() or ["failed"])[-1]
        raise RuntimeError(f"{program}: {message}")


def restore_database(backup_dir: Path, url: str) -> PostgresStore:
    """Load a ``pg_dump`` backup folder into an empty database; refuses one that holds a
    Client Roi schema already."""
    archive = Path(backup_dir) / BACKUP_FILE
    if not archive.exists():
        raise FileNotFoundError(f"{backup_dir} is not a PostgreSQL backup (no {BACKUP_FILE})")
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as con:
        if con.execute("SELECT to_regclass('responses') IS NOT NULL").fetchone()[0]:
            raise FileExistsError(
                f"{redacted(url)} already holds responses: restore into a new database"
            )
    _run_tool(
        "pg_restore",
        "--no-owner",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={url}",
        str(archive),
    )
    return PostgresStore(url)
