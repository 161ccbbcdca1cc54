"""The command-line face of Client Roi: serve, demo, export, publish, import, delete, backup,
migrate, copy... Every ``--db`` takes a DuckDB file or a ``postgresql://`` URL."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from survey import questionnaire as qn
from survey import store as storage

# Installed from a wheel, app.py sits beside this file in site-packages, and the pages it
# names (survey/form_page.py...) inside the installed packages.
APP = Path(__file__).resolve().parent / "app.py"
log = logging.getLogger("clientroi")


def _target(text: str) -> Path | str:
    """A DuckDB file path, or a PostgreSQL URL kept as text (a Path would fold its //)."""
    return text if storage.is_server_url(text) else Path(text)


def _db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        type=_target,
        default=None,
        help="DuckDB file or postgresql:// URL (default: $CLIENTROI_DB or data/clientroi.duckdb)",
    )


def _db(args: argparse.Namespace) -> Path | str:
    return args.db if args.db is not None else storage.default_db_path()


def _shown(target: Path | str) -> str:
    """A database as printed: a file's full path, a URL without its password."""
    if storage.is_server_url(target):
        from survey.store_pg import redacted

        return redacted(str(target))
    return str(Path(target).resolve())


class CommandError(Exception):
    """A one-line reason to stop, printed as ``error: ...`` with ``exit_code`` (1)."""

    def __init__(self, message: str, *, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def _existing_db(args: argparse.Namespace) -> Path | str:
    path = _db(args)
    if not storage.is_server_url(path) and not path.exists():
        raise CommandError(f"no database at {path}")
    return path


def cmd_serve(args: argparse.Namespace) -> int:
    path = _db(args)
    if args.workers < 1:
        raise CommandError("--workers must be at least 1", exit_code=2)
    if args.workers > 1 and not storage.is_server_url(path):
        raise CommandError(
            "--workers above 1 needs a PostgreSQL database (--db postgresql://...): "
            "a DuckDB file has one writing process"
        )
    store = storage.connect(path)
    total = store.count()
    print(f"Database: {_shown(path)} ({total} responses)")
    if total == 0 and args.demo != "no":
        load = args.demo == "yes"
        if args.demo == "ask" and sys.stdin.isatty():
            reply = input(
                f"The database is empty. Load {args.demo_rows:,} synthetic demo responses "
                "(marked 'synthetic', never published)? [Y/n] "
            )
            load = reply.strip().lower() in ("", "y", "yes", "o", "oui")
        if load:
            _load_demo(store, args.demo_rows, seed=42)
    retention = _retention_days()
    forgotten = store.purge_contacts(older_than_days=retention)
    if forgotten:
        print(f"Forgot {forgotten} contact e-mails older than {retention} days (retention)")
    store.purge_drafts()  # drafts untouched for 30 days (also at every `clientroi remind`)
    token = storage.ensure_researcher_token(store.path)
    print(
        "Researcher token (dashboard > Researchers; stored with owner-only permissions in "
        f"{storage.researcher_token_path(store.path)}):\n    {token}"
    )
    database = str(path) if storage.is_server_url(path) else str(Path(path).resolve())
    env = dict(os.environ, CLIENTROI_DB=database)
    # Streamlit's watcher of the sources for edits walks every loaded module on the server's
    # event thread at each new session (0.2-1.0 s of a visitor's first run at 1M, holding up
    # the static files meanwhile): only for a developer who asks for it (--reload).
    watcher = "auto" if args.reload else "none"
    command = [
        sys.executable,
        "-c",
        "import cli; cli.worker()",  # Streamlit, with the dashboard warmed in the background
        str(APP),
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        watcher,
    ]
    command += ["--server.address", args.address]
    return _serve_workers(
        command, env, first_port=args.port, workers=args.workers, address=args.address
    )


def worker() -> None:
    """One app process (``clientroi serve`` starts N of them): a background thread computes
    the public dashboard now and whenever the data change (:func:`analysis.dashboard.keep_warm`)
    so that the first visitor after a restart does not wait for it, then Streamlit serves
    ``sys.argv[1]`` with the options that follow, as ``streamlit run`` would."""
    import threading

    from streamlit.elements import vega_charts
    from streamlit.web import cli as streamlit_cli

    from analysis import dashboard, dashboard_parts

    storage.configure_logging()
    # the warming draws the charts as the page does: with Streamlit's own conversion
    dashboard_parts.use_converter(vega_charts._convert_altair_to_vega_lite_spec)
    store = storage.app_store(storage.default_db_path())
    threading.Thread(
        target=dashboard.keep_warm,
        args=(store,),
        kwargs={"stop": threading.Event()},
        name="clientroi-warm",
        daemon=True,
    ).start()
    sys.argv = ["streamlit", "run", *sys.argv[1:]]
    streamlit_cli.main()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_SECONDS = 10.0  # a Streamlit process that has not ended by then is killed


def _serve_workers(
    command: list[str], env: dict, *, first_port: int, workers: int, address: str
) -> int:
    """N Streamlit processes (N = 1 by default) on ports first_port, first_port + 1...; a
    reverse proxy with sticky sessions puts several behind one address (docs/operations.md).

    ``clientroi serve`` stays their parent: a SIGTERM or SIGINT it receives (a service
    manager's stop, Ctrl-C) is passed to every Streamlit process, which is waited for (killed
    after ``STOP_SECONDS``), so no app is left serving and holding the database. When one
    worker ends the others are stopped. Returns the first abnormal exit status, else 0."""
    port_at = command.index("--server.port") + 1
    processes: list[subprocess.Popen] = []
    received: list[int] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in STOP_SIGNALS}
    try:
        for i in range(workers):
            worker = list(command)
            worker[port_at] = str(first_port + i)
            processes.append(subprocess.Popen(worker, env=dict(env, CLIENTROI_WORKER=str(i + 1))))
            label = "Serving Client Roi" if workers == 1 else f"Worker {i + 1} serving"
            print(f"{label} at http://{address}:{first_port + i}", flush=True)
        if workers > 1:
            print("Put a reverse proxy with sticky sessions in front (docs/operations.md).")
        while not received and all(p.poll() is None for p in processes):
            time.sleep(0.2)
    finally:
        deadline = time.monotonic() + STOP_SECONDS
        for process in processes:
            if process.poll() is None and not received:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        return 0
    normal = (0, -signal.SIGTERM, -signal.SIGINT)
    return next((p.returncode for p in processes if p.returncode not in normal), 0)


def _load_demo(store: storage.Store, rows: int, *, seed: int) -> None:
    from survey.demo import iter_frames

    started = time.perf_counter()
    # One commit per chunk keeps memory bounded (DuckDB holds a transaction's rows in memory).
    written = sum(store.insert_frame(frame) for frame in iter_frames(rows, seed=seed))
    elapsed = time.perf_counter() - started
    if isinstance(store, storage.Store):
        size = f" (file {store.path.stat().st_size / 1e6:.0f} MB)"
        where = store.path
    else:
        size, where = "", store
    print(f"Loaded {written:,} synthetic responses into {where} in {elapsed:.1f} s{size}")


def cmd_demo(args: argparse.Namespace) -> int:
    if args.rows < 1:
        raise CommandError("--rows must be at least 1", exit_code=2)
    _load_demo(storage.connect(_db(args)), args.rows, seed=args.seed)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    path = _existing_db(args)
    if args.dialect != "comma" and args.format != "csv":
        raise CommandError("--dialect applies to --format csv only", exit_code=2)
    rows = storage.connect(path).export(
        args.out, fmt=args.format, lang=args.lang, dialect=args.dialect
    )
    print(f"Exported {rows:,} responses to {args.out} (no e-mails, no deletion codes)")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    path = _existing_db(args)
    if not storage.connect(path).delete_response(args.code):
        raise CommandError("no response matches this code")
    print("Deleted the response matching this code, and its e-mail if any.")
    return 0


def cmd_codebook(args: argparse.Namespace) -> int:
    text = qn.codebook_json() if args.format == "json" else qn.codebook_markdown()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"Wrote the codebook to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


IMPORT_NICENESS = 10
"""An import is a background job: it yields the processor to the app serving the form (on two
cores its reading and checking use both), so a person submitting meanwhile is not slowed."""


def cmd_import(args: argparse.Namespace) -> int:
    from survey.importer import import_file

    with contextlib.suppress(OSError):  # (a platform without priorities: as it is)
        os.nice(IMPORT_NICENESS)
    path = _db(args)
    missing = not storage.is_server_url(path) and not Path(path).exists()
    store = None if args.dry_run and missing else storage.connect(path)
    report = import_file(
        args.file,
        store,
        dry_run=args.dry_run,
        locale=args.lang,
        collected_from=args.collected_from,
    )
    print(report.summary())
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    path = _existing_db(args)
    out = storage.connect(path).backup(args.out)
    print(f"Backed up {path} to {out} (Parquet; it holds contact e-mails: keep it private)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    path = _db(args)
    store = storage.restore(args.backup, path)
    print(f"Restored {store.count():,} responses into {_shown(path)}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    path = _db(args)
    store = storage.connect(path)  # creates or upgrades the schema, refreshes the reference
    print(
        f"{_shown(path)}: schema version {store.schema_version()} "
        f"(this release's: {storage.SCHEMA_VERSION}), {store.count():,} responses"
    )
    return 0


def cmd_copy(args: argparse.Namespace) -> int:
    source_target, target_target = args.source, args.target
    if not storage.is_server_url(source_target) and not Path(source_target).exists():
        raise CommandError(f"no database at {source_target}")
    source = storage.connect(source_target, read_only=True)
    target = storage.connect(target_target)
    started = time.perf_counter()
    result = storage.copy_database(source, target)
    elapsed = time.perf_counter() - started
    print(
        f"Copied {result.responses:,} responses and {result.contacts:,} contacts from "
        f"{_shown(source_target)} to {_shown(target_target)} in {elapsed:.1f} s; counts and "
        f"digests checked (responses SHA-256 {result.digests['responses']})"
    )
    return 0


def _retention_days() -> int:
    text = os.environ.get("CLIENTROI_CONTACT_RETENTION_DAYS", "365")
    if not text.strip().isdigit():
        raise CommandError(
            f"CLIENTROI_CONTACT_RETENTION_DAYS must be a number of days, not {text!r}"
        )
    return int(text)


def cmd_purge_contacts(args: argparse.Namespace) -> int:
    path = _existing_db(args)
    if args.days is None:
        args.days = _retention_days()
    removed = storage.connect(path).purge_contacts(older_than_days=args.days)
    print(f"Forgot {removed} contact e-mails stored more than {args.days} days ago")
    return 0


def cmd_remind(args: argparse.Namespace) -> int:
    """Send the reminders due today (30, 60, 90 days), each once; ``--dry-run`` lists them."""
    from survey import remind
    from survey.validation import paris_today

    store = storage.connect(_existing_db(args))
    report = remind.send_reminders(store, today=paris_today(), dry_run=args.dry_run)
    if args.dry_run:
        print(f"{report.due} reminders due (dry run: nothing sent)")
    else:
        print(f"Sent {report.sent} of {report.due} reminders due ({report.failed} failed)")
    purged = store.purge_drafts()
    if purged:
        print(f"Forgot {purged} drafts untouched for {storage.DRAFT_DAYS} days")
    return 1 if report.failed else 0


def cmd_publish(args: argparse.Namespace) -> int:
    from analysis import drawing

    # the charts' helper process starts vl-convert while this one imports the statistics
    drawing.start()
    from analysis import snapshot

    path = _db(args)
    as_of = snapshot.parse_as_of(args.as_of)
    if storage.is_server_url(path):  # (open_database checks for a file)
        store = storage.connect(path, read_only=True)
    else:
        store = snapshot.open_database(path)
    out = args.out if args.out is not None else store.path.parent / "snapshots"
    # No --previous: every snapshot already under --out (publish's own default).
    publication = snapshot.publish(
        store, out=out, as_of=as_of, min_cell=args.min_cell, previous=args.previous
    )
    published = publication.snapshot
    log.info(
        "publication %s: %d responses as of %s, min cell %d, input SHA-256 %s (%s)",
        publication.folder,
        published.rows,
        published.as_of,
        args.min_cell,
        published.input_sha256,
        "new" if publication.created else "already there, identical",
    )
    if publication.created:
        print(
            f"Published {published.rows:,} responses as of {published.as_of} to "
            f"{publication.folder} (input SHA-256 {published.input_sha256})"
        )
    else:
        print(f"Already published, identical: {publication.folder}")
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    """The company and group tables (every metric, for researchers: no disclosure control),
    counted in the database: a few seconds and a few hundred MB at ten million responses."""
    import json

    import numpy as np

    from analysis import dashboard, kpis
    from survey.validation import paris_today

    path = _db(args) if storage.is_server_url(_db(args)) else _existing_db(args)
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else paris_today()
    except ValueError:
        raise CommandError("--as-of must be a date, YYYY-MM-DD", exit_code=2) from None
    store = storage.connect(path, read_only=True)
    filters = storage.Filters(
        companies=tuple(args.company or ()), include_synthetic=args.include_synthetic
    )
    tables = kpis.summary_tables_counted(
        store, filters, as_of=as_of, rng=dashboard.DEFAULT_SEED, launch=store.launch_date()
    )
    args.out.mkdir(parents=True, exist_ok=True)
    options = {"sep": ";", "decimal": ",", "encoding": "utf-8-sig"} if args.dialect == "fr" else {}
    tables.companies.to_csv(args.out / "companies.csv", index=False, **options)
    tables.groups.to_csv(args.out / "groups.csv", index=False, **options)

    def plain(value):
        return value.item() if isinstance(value, np.generic) else str(value)

    about = {"companies": tables.companies.attrs, "groups": tables.groups.attrs}
    (args.out / "tables.json").write_text(
        json.dumps(about, indent=2, ensure_ascii=False, default=plain) + "\n", encoding="utf-8"
    )
    print(
        f"{int(tables.companies['n'].sum()):,} responses as known on {as_of}: "
        f"{len(tables.companies)} companies, {len(tables.groups)} groups in {args.out} "
        "(for research: no disclosure control; `clientroi publish` makes the public snapshot)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clientroi", description="Client Roi: an open barometer of customer service."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the app (http://localhost:8501)")
    _db_argument(serve)
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; a reverse proxy "
        "in front, or 0.0.0.0 to listen on every interface)",
    )
    serve.add_argument(
        "--demo",
        choices=("ask", "yes", "no"),
        default="ask",
        help="load demo data when the database is empty (default: ask on a terminal)",
    )
    serve.add_argument("--demo-rows", type=int, default=20_000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="app processes on ports --port, --port + 1... (PostgreSQL only; put a proxy "
        "with sticky sessions in front: docs/operations.md)",
    )
    serve.add_argument(
        "--reload",
        action="store_true",
        help="rerun the pages when their source files change (for development; each new "
        "visitor's first run then waits for Streamlit to look at every loaded module)",
    )
    serve.set_defaults(func=cmd_serve)

    demo = commands.add_parser("demo", help="add synthetic demo responses")
    _db_argument(demo)
    demo.add_argument("--rows", type=int, default=20_000)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=cmd_demo)

    export = commands.add_parser("export", help="export responses (no e-mails, no hashes)")
    _db_argument(export)
    export.add_argument(
        "--format",
        choices=storage.EXPORT_FORMATS,
        required=True,
        help="csv, parquet, sav (SPSS) or dta (Stata; both with variable and value labels)",
    )
    export.add_argument("--out", type=Path, required=True)
    export.add_argument(
        "--lang", choices=qn.LOCALES, default="fr", help="language of SPSS and Stata labels"
    )
    export.add_argument(
        "--dialect",
        choices=storage.CSV_DIALECTS,
        default="comma",
        help="CSV: comma (',' UTF-8) or fr (';' UTF-8 with BOM, for French Excel)",
    )
    export.set_defaults(func=cmd_export)

    publish = commands.add_parser(
        "publish", help="publish the comparison snapshot (aggregates only, offline report)"
    )
    _db_argument(publish)
    publish.add_argument(
        "--out",
        type=Path,
        default=None,
        help="parent folder of snapshots (default: snapshots/ next to the database)",
    )
    publish.add_argument(
        "--as-of",
        default=None,
        help="YYYY-MM-DD: responses up to this day (default: the last day of the last full "
        "month, Paris time: releases are monthly)",
    )
    publish.add_argument(
        "--previous",
        action="append",
        type=Path,
        default=None,
        metavar="PATH",
        help="a snapshot folder already published (repeatable); figures that would change on "
        "fewer than --min-cell responses since one of them are held back (default: every "
        "snapshot under --out)",
    )
    publish.add_argument(
        "--min-cell",
        type=int,
        default=10,
        help="suppress every value resting on fewer responses than this (default: 10)",
    )
    publish.set_defaults(func=cmd_publish)

    tables = commands.add_parser(
        "tables",
        help="the company and group tables, every metric, counted in the database (CSV)",
    )
    _db_argument(tables)
    tables.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    tables.add_argument(
        "--as-of", default=None, help="YYYY-MM-DD: the responses as known on that day (today)"
    )
    tables.add_argument("--company", action="append", help="only this company (repeatable)")
    tables.add_argument(
        "--include-synthetic", action="store_true", help="count the synthetic demo responses"
    )
    tables.add_argument(
        "--dialect",
        choices=storage.CSV_DIALECTS,
        default="comma",
        help="comma (',' UTF-8) or fr (';' and decimal ',' with BOM, for French Excel)",
    )
    tables.set_defaults(func=cmd_tables)

    delete = commands.add_parser("delete", help="delete a response by its deletion code")
    _db_argument(delete)
    delete.add_argument("code")
    delete.set_defaults(func=cmd_delete)

    codebook = commands.add_parser("codebook", help="the questionnaire as a data dictionary")
    codebook.add_argument("--format", choices=("markdown", "json"), default="markdown")
    codebook.add_argument("--out", type=Path, default=None)
    codebook.set_defaults(func=cmd_codebook)
    importer = commands.add_parser(
        "import", help="import responses from a CSV or Excel file (row-level report)"
    )
    _db_argument(importer)
    importer.add_argument("file", type=Path)
    importer.add_argument("--dry-run", action="store_true", help="check only, store nothing")
    importer.add_argument("--lang", choices=qn.LOCALES, default="en", help="language of reasons")
    importer.add_argument(
        "--collected-from",
        type=_iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the day the file's own survey opened (older incidents entered it late)",
    )
    importer.set_defaults(func=cmd_import)

    backup = commands.add_parser("backup", help="back the database up as Parquet files")
    _db_argument(backup)
    backup.add_argument("--out", type=Path, required=True)
    backup.set_defaults(func=cmd_backup)

    restore = commands.add_parser("restore", help="recreate a database from a backup folder")
    _db_argument(restore)
    restore.add_argument("backup", type=Path)
    restore.set_defaults(func=cmd_restore)

    purge = commands.add_parser(
        "purge-contacts", help="forget contact e-mails older than the retention period"
    )
    _db_argument(purge)
    purge.add_argument(
        "--days",
        type=int,
        default=None,
        help="retention in days (default: $CLIENTROI_CONTACT_RETENTION_DAYS or 365)",
    )
    purge.set_defaults(func=cmd_purge_contacts)

    remind = commands.add_parser(
        "remind",
        help="e-mail the reminders due today (30, 60, 90 days; for cron); forget old drafts",
    )
    _db_argument(remind)
    remind.add_argument(
        "--dry-run", action="store_true", help="list the reminders due; send nothing"
    )
    remind.set_defaults(func=cmd_remind)

    migrate = commands.add_parser("migrate", help="create or upgrade a database's schema")
    _db_argument(migrate)
    migrate.set_defaults(func=cmd_migrate)

    copy = commands.add_parser(
        "copy", help="copy every response and contact between databases (DuckDB <-> PostgreSQL)"
    )
    copy.add_argument("--from", dest="source", type=_target, required=True)
    copy.add_argument("--to", dest="target", type=_target, required=True, help="an empty database")
    copy.set_defaults(func=cmd_copy)
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Failures a command reports in one line: bad input, a busy, missing or existing file,
    a refused import or publication. Anything else is a bug and keeps its traceback."""
    errors: list[type[BaseException]] = [CommandError, storage.StoreBusy, ValueError, OSError]
    snapshot = sys.modules.get("analysis.snapshot")  # imported only by the commands using it
    if snapshot is not None:
        errors.append(snapshot.SnapshotRefused)
    return tuple(errors)


def log_file(args: argparse.Namespace) -> Path:
    """Where the command line logs: ``$CLIENTROI_LOG_FILE`` or ``clientroi.log`` beside the
    database (publications, imports, exports and failures, with their time)."""
    configured = os.environ.get("CLIENTROI_LOG_FILE")
    if configured:
        return Path(configured)
    database = getattr(args, "db", None) or storage.default_db_path()
    if storage.is_server_url(database):
        return Path(os.environ.get("CLIENTROI_DATA_DIR") or "data") / "clientroi.log"
    return Path(database).parent / "clientroi.log"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Databases, their write-ahead logs and backups hold e-mails: every file the command
    # line (and the app it serves) creates is its owner's only, 0600.
    previous_umask = os.umask(0o077)
    try:
        storage.configure_logging(file=log_file(args))
        return args.func(args)
    except _expected_errors() as exc:
        log.debug("clientroi %s stopped", args.command, exc_info=exc)
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    finally:
        os.umask(previous_umask)


if __name__ == "__main__":
    sys.exit(main())
