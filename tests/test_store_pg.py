"""PostgreSQL as a second backend, against a real server (tests/pg.py): the same imported keys
as DuckDB, copies both ways checked by digest, the command line on a URL, and the load and
fault tests of issue 15 (3 app processes, 48 submitters, an import and a publication at the
same time; an app process killed, the server restarted mid-burst)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import cli
from survey import store as storage
from survey import store_pg
from survey.demo import generate_frame
from survey.importer import import_file
from tests import pg
from tests.conftest import AS_OF_TODAY, TODAY, story_answers, submit

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
EVERYTHING = storage.Filters(include_synthetic=True, include_flagged=True)

# One app process: its own store and pool, 16 submitters through the form's two calls
# (validate, then store idempotently on the key) until the deadline. Prints one line per
# outcome: ACK <key> <monotonic time> or FAIL <key> <exception type>.
APP = """
import sys, threading, time
from survey import store as storage
from survey.demo import seed_story_answers
from survey.validation import validate_answers
url, prefix, threads, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
store = storage.connect(url, keep_open=2.0)
deadline = time.monotonic() + seconds
lock = threading.Lock()
def say(line):
    with lock:
        print(line, flush=True)
def submitter(worker):
    i = 0
    while time.monotonic() < deadline:
        key = f"{prefix}w{worker:02d}n{i:05d}"
        outcome = validate_answers({**seed_story_answers(), "wasted_km": float(i % 500)})
        meta = storage.SubmissionMeta(key, storage.new_deletion_code(), fill_seconds=300)
        try:
            store.insert_response(outcome.response, meta)
            say(f"ACK {key} {time.monotonic():.3f}")
        except Exception as exc:
            say(f"FAIL {key} {type(exc).__name__}")
        i += 1
workers = [threading.Thread(target=submitter, args=(w,)) for w in range(threads)]
for t in workers: t.start()
for t in workers: t.join()
store.close()
"""


@pytest.fixture
def pg_url(postgres_server, tmp_path, monkeypatch):
    monkeypatch.setenv("CLIENTROI_DATA_DIR", str(tmp_path))
    return postgres_server.new_database()


def start_app(url: str, prefix: str, *, threads: int = 16, seconds: float = 4.0):
    return subprocess.Popen(
        [sys.executable, "-c", APP, url, prefix, str(threads), str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )


class Outcomes:
    """Reads an app process's lines as they come (a thread per process)."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.acked: list[tuple[str, float]] = []
        self.failed: list[tuple[str, str]] = []
        self.reader = threading.Thread(target=self._read)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            kind, key, detail = line.split()
            if kind == "ACK":
                self.acked.append((key, float(detail)))
            else:
                self.failed.append((key, detail))

    def wait(self) -> None:
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)


def stored_keys(server, url: str) -> list[str]:
    return [k for (k,) in server.execute(url, "SELECT submission_key FROM responses")]


def cli_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_imported_rows_get_the_same_keys_as_in_duckdb(postgres_server, pg_url, tmp_path):
    """The import key (a digest of the answers) is computed in SQL by each backend: the same
    files give the same keys, so a file imported before a copy is not imported twice after."""
    duck = storage.connect(tmp_path / "same.duckdb")
    pg = storage.connect(pg_url)
    files = [DATA / "good" / "seed_story_fr.csv", DATA / "bad" / "semicolon.csv"]
    files += [DATA / "bad" / "formula.csv", DATA / "bad" / "unknown_company.csv"]
    for path in files:
        on_duck = import_file(path, duck, today=TODAY)
        on_pg = import_file(path, pg, today=TODAY)
        assert (on_pg.stored, on_pg.rejected_rows) == (on_duck.stored, on_duck.rejected_rows)
        assert import_file(path, pg, today=TODAY).already_imported == on_pg.stored
    keys = "SELECT submission_key, submitted_on, company FROM responses ORDER BY 1"
    with duckdb.connect(str(tmp_path / "same.duckdb"), read_only=True) as con:
        duck_keys = con.execute(keys).fetchall()
    assert pg.count() == len(duck_keys) > 0
    assert postgres_server.execute(pg_url, keys) == duck_keys
    pg.close()


def test_copy_duckdb_to_postgresql_to_duckdb_keeps_every_row(pg_url, tmp_path, capsys):
    """``clientroi copy`` both ways: same counts, same SHA-256 of every column of every row
    (responses and contacts), and the same frames read back."""
    first = tmp_path / "first.duckdb"
    store = storage.connect(first)
    store.insert_frame(generate_frame(1_500, seed=7, today=TODAY))
    submit(store, {**story_answers(), "contact_email": "kept@example.org"}, fill_seconds=300)
    assert cli.main(["copy", "--from", str(first), "--to", pg_url]) == 0
    there = capsys.readouterr().out
    back = tmp_path / "back.duckdb"
    assert cli.main(["copy", "--from", pg_url, "--to", str(back)]) == 0
    again = capsys.readouterr().out
    assert "Copied 1,501 responses and 1 contacts" in there
    digest = there.rsplit("SHA-256 ", 1)[1].strip(" )\n")
    assert digest in again
    assert storage.table_digests(storage.connect(first)) == storage.table_digests(
        storage.connect(back)
    )
    original = storage.connect(first).fetch_responses(EVERYTHING)
    assert original.equals(storage.connect(pg_url).fetch_responses(EVERYTHING))
    assert original.equals(storage.connect(back).fetch_responses(EVERYTHING))
    # A second copy into a database that holds responses is refused, nothing added.
    assert cli.main(["copy", "--from", str(first), "--to", pg_url]) == 1
    assert "already holds responses" in capsys.readouterr().err
    assert storage.connect(pg_url).count() == 1_501


@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize(
    "filters",
    [
        storage.Filters(include_synthetic=True),
        storage.Filters(include_synthetic=True, sectors=("isp",), companies=("free", "orange")),
        storage.Filters(include_synthetic=True, origins=("foreign",), problems=("delivery",)),
    ],
    ids=["all", "sector-and-companies", "origin-and-problem"],
)
def test_dashboard_fetch_split_over_connections_equals_duckdb(
    pg_url, tmp_path, monkeypatch, parts, filters
):
    """The dashboard's read (unordered, categorical, company name/sector/origin looked up on
    the client) split by block range over 1-3 connections returns DuckDB's rows and types."""
    from analysis import dashboard

    monkeypatch.setattr(store_pg, "FETCH_CONNECTIONS", parts)
    frame = generate_frame(3_000, seed=11, today=TODAY)
    duck = storage.connect(tmp_path / "same.duckdb")
    duck.insert_frame(frame)
    pg = storage.connect(pg_url)
    storage.copy_database(duck, pg)
    submit(pg, {**story_answers(), "company": "other", "company_other": "Box"}, fill_seconds=300)
    submit(duck, {**story_answers(), "company": "other", "company_other": "Box"}, fill_seconds=300)

    def read(store):
        got = store.fetch_responses(
            filters, columns=dashboard.COLUMNS, ordered=False, categorical=True
        )
        return got

    on_pg, on_duck = read(pg), read(duck)
    assert list(on_pg.columns) == list(on_duck.columns)
    assert on_pg.dtypes.equals(on_duck.dtypes)
    assert len(on_pg) == len(on_duck) > 0

    def canonical(got):
        plain = got.astype({c: object for c in got.columns if got[c].dtype == "category"})
        return plain.sort_values(list(got.columns)).reset_index(drop=True)

    pd.testing.assert_frame_equal(canonical(on_pg), canonical(on_duck))
    pg.close()


def test_a_mirrored_read_follows_every_write_as_a_full_read_would(
    postgres_server, pg_url, monkeypatch
):
    """The dashboard's read is mirrored (store_pg.PostgresStore._mirrored): after the first
    full read only the rows written since are fetched. After each kind of write the mirror
    must equal a read of everything, including a transaction that began before a read and
    committed after a later transaction was seen (a mirror that took "rows newer than the
    newest seen" would miss it), a row that leaves the filters, and a deletion (read in full)."""
    import psycopg

    from analysis import dashboard

    pg = storage.connect(pg_url, keep_open=2.0)  # an app's store: its reads are mirrored
    pg.insert_frame(generate_frame(2_000, seed=5, today=TODAY))
    full_reads = []
    original = store_pg.PostgresStore._mirror_read

    def counted(self, *args):
        full_reads.append(1)
        return original(self, *args)

    monkeypatch.setattr(store_pg.PostgresStore, "_mirror_read", counted)
    public = storage.Filters(include_synthetic=True)
    isp = storage.Filters(include_synthetic=True, sectors=("isp",))

    def check(filters=public):
        got = pg.fetch_responses(filters, columns=dashboard.COLUMNS, ordered=False)
        with monkeypatch.context() as plain:
            plain.setattr(store_pg, "MIRROR", False)
            want = pg.fetch_responses(filters, columns=dashboard.COLUMNS, ordered=False)
        assert len(got) == len(want) > 0
        pd.testing.assert_frame_equal(
            got.sort_values(list(got.columns)).reset_index(drop=True),
            want.sort_values(list(want.columns)).reset_index(drop=True),
        )
        return got

    first = check()
    assert len(full_reads) == 1
    one_off = storage.connect(pg_url, read_only=True)  # the command line's: nothing kept
    assert len(one_off.fetch_responses(public, columns=dashboard.COLUMNS, ordered=False)) == len(
        first
    )
    assert len(full_reads) == 1
    one_off.close()
    codes = [storage.new_deletion_code() for _ in range(3)]
    for code in codes:
        submit(pg, story_answers(), fill_seconds=300, deletion_code=code)
    assert len(check()) == len(first) + 3
    ids = [
        r[0]
        for r in postgres_server.execute(
            pg_url,
            "SELECT response_id FROM responses "
            "WHERE source = 'synthetic' AND consent_research AND NOT flag_duplicate LIMIT 2",
        )
    ]
    postgres_server.execute(
        pg_url, "UPDATE responses SET flag_duplicate = true WHERE response_id = %s", (ids[0],)
    )
    assert len(check()) == len(first) + 2  # the flagged row left the read
    with psycopg.connect(pg_url) as late:  # a transaction open across two reads
        late.execute(
            "UPDATE responses SET csat = 1, wasted_trips = 97 WHERE response_id = %s", [ids[1]]
        )
        submit(pg, story_answers(), fill_seconds=300)  # committed after it began
        assert 97 not in check()["wasted_trips"].tolist()
        late.commit()
    assert 97 in check()["wasted_trips"].tolist()
    check(isp)
    assert len(full_reads) == 2  # the first read, and the other filters' first read
    assert pg.delete_response(codes[0])
    assert len(check()) == len(first) + 2
    assert len(full_reads) == 3  # a deletion: read in full again
    pg.close()


def test_migrate_and_publish_on_a_url(pg_url, tmp_path):
    result = cli_run("migrate", "--db", pg_url)
    assert result.returncode == 0, result.stderr
    assert f"schema version {storage.SCHEMA_VERSION}" in result.stdout
    assert "clientroi@" in result.stdout
    store = storage.connect(pg_url)
    for i in range(12):
        submit(store, {**story_answers(), "wasted_km": float(i)}, fill_seconds=300)
    out = tmp_path / "snapshots"
    result = cli_run("publish", "--db", pg_url, "--out", str(out), "--min-cell", "1", *AS_OF_TODAY)
    assert result.returncode == 0, result.stderr
    assert "Published 12 responses" in result.stdout
    assert list(out.glob("*/index.html"))
    store.close()


def test_serve_workers_needs_postgresql(tmp_path, capsys):
    argv = ["serve", "--workers", "3", "--db", str(tmp_path / "x.duckdb"), "--demo", "no"]
    assert cli.main(argv) == 1
    assert "needs a PostgreSQL database" in capsys.readouterr().err


def import_file_for_load(tmp_path: Path, rows: int) -> Path:
    """A CSV of ``rows`` valid experiences (the seed story with varying distances)."""
    header = "company;problem;started_on;status;consent_research;wasted_km"
    lines = [header] + [f"free;outage;2023-07-10;ongoing;yes;{i}" for i in range(rows)]
    path = tmp_path / "load.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_three_app_processes_48_submitters_while_importing_and_publishing(
    postgres_server, pg_url, tmp_path
):
    """3 processes x 16 submitters for 4 s, while another process imports a file and then
    publishes: every acknowledged submission is stored exactly once, none failed."""
    apps = [Outcomes(start_app(pg_url, f"p{i}", seconds=4.0)) for i in range(3)]
    time.sleep(1.0)
    imported = cli_run("import", str(import_file_for_load(tmp_path, 500)), "--db", pg_url)
    published = cli_run(
        "publish", "--db", pg_url, "--out", str(tmp_path / "snap"), "--min-cell", "1", *AS_OF_TODAY
    )
    for app in apps:
        app.wait()
        assert app.process.returncode == 0, app.process.stderr.read()
    assert imported.returncode == 0, imported.stderr
    assert "500" in imported.stdout
    assert published.returncode == 0, published.stderr
    acked = [key for app in apps for key, _ in app.acked]
    failed = [f for app in apps for f in app.failed]
    keys = stored_keys(postgres_server, pg_url)
    print(f"{len(acked)} acknowledged submissions from 3 processes, {len(failed)} failed")
    assert failed == []
    assert len(keys) == len(set(keys))  # exactly once
    assert set(acked) <= set(keys)
    assert len([k for k in keys if k.startswith("import:")]) == 500
    assert len(acked) > 300


def test_an_app_killed_and_the_server_restarted_mid_burst_lose_nothing_acknowledged(
    postgres_server, pg_url
):
    """SIGKILL one app process mid-burst, then ``pg_ctl restart -m immediate``: every
    acknowledged submission is stored once; a submission not acknowledged failed with
    StoreUnavailable (the form keeps the answers and says so); the two surviving processes
    reconnect by themselves and acknowledge again after the restart."""
    apps = [Outcomes(start_app(pg_url, f"f{i}", seconds=6.0)) for i in range(3)]
    time.sleep(1.5)
    apps[0].process.send_signal(signal.SIGKILL)
    time.sleep(0.5)
    postgres_server.restart(mode="immediate")
    restarted = time.monotonic()
    for app in apps:
        app.wait()
    assert apps[0].process.returncode == -signal.SIGKILL
    for app in apps[1:]:
        assert app.process.returncode == 0, app.process.stderr.read()
    keys = stored_keys(postgres_server, pg_url)
    acked = [key for app in apps for key, _ in app.acked]
    failed = [f for app in apps for f in app.failed]
    print(f"{len(acked)} acknowledged, {len(failed)} failed with {sorted({t for _, t in failed})}")
    assert len(keys) == len(set(keys))
    assert set(acked) <= set(keys)
    assert {kind for _, kind in failed} <= {"StoreUnavailable"}
    for app in apps[1:]:
        assert any(at > restarted + 0.5 for _, at in app.acked), "did not reconnect"


def test_a_server_away_too_long_is_a_clear_error_then_the_store_reconnects(
    postgres_server, pg_url, monkeypatch
):
    """With the server stopped a submission raises StoreUnavailable after the bounded retry
    (not stored, not acknowledged); once the server is back the same store stores again,
    and the same key then stores one row."""
    monkeypatch.setattr(store_pg, "RETRY_SECONDS", 1.0)
    store = storage.connect(pg_url, keep_open=2.0)
    submit(store, story_answers())
    postgres_server.halt()
    key = storage.new_submission_key()
    try:
        started = time.monotonic()
        with pytest.raises(storage.StoreUnavailable, match="nothing was stored"):
            submit(store, story_answers(), submission_key=key)
        assert time.monotonic() - started < 10
    finally:
        postgres_server.start()
    again = submit(store, story_answers(), submission_key=key)
    assert again.created is True
    assert submit(store, story_answers(), submission_key=key).created is False
    assert store.count() == 2
    store.close()


# One app process's store code path, with the environment `clientroi serve` gives a worker.
WRITE = """
import sys
from survey import store as storage
from survey.demo import seed_story_answers
from survey.validation import validate_answers
store = storage.connect(keep_open=2.0)  # CLIENTROI_DB, as the app
meta = storage.SubmissionMeta(sys.argv[1], storage.new_deletion_code(), fill_seconds=300)
print(store.insert_response(validate_answers(seed_story_answers()).response, meta).response_id)
"""
READ = """
import sys
from survey import store as storage
row = storage.connect(read_only=True).fetch_response(sys.argv[1])
print(row["company"], row["status"])
"""


def test_serve_workers_on_postgresql_each_port_serves_and_shares_the_data(pg_url, tmp_path):
    """Issue 15: ``clientroi serve --workers 2 --address 0.0.0.0`` on PostgreSQL: each worker
    answers 200 on / and /_stcore/health on its own port, a submission stored through one
    worker's environment is read through the other's, and a SIGTERM ends every worker."""
    from tests import conftest as helpers

    first = pg.free_port()
    while not helpers.port_is_free(first + 1):
        first = pg.free_port()
    ports = [first, first + 1]
    process = helpers.start_serve(
        "--db", pg_url, "--port", str(first), "--workers", "2", "--address", "0.0.0.0"
    )
    try:
        for port in ports:
            helpers.wait_until_serving(process, port)
        for port in ports:
            assert helpers.http_get(port, "/_stcore/health") == (200, "ok")
            assert helpers.http_get(port, "/")[0] == 200
            assert helpers.listening_addresses(port) == {"0.0.0.0"}
        workers = helpers.child_pids(process.pid)
        assert len(workers) == 2
        environments = []
        for pid in workers:
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
            environments.append(dict(env, PYTHONPATH=str(ROOT)))
        assert {e["CLIENTROI_WORKER"] for e in environments} == {"1", "2"}
        assert {e["CLIENTROI_DB"] for e in environments} == {pg_url}

        def run(script, env, *args):
            done = subprocess.run(
                [sys.executable, "-c", script, *args],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        response_id = run(WRITE, environments[0], "served-once")
        assert run(READ, environments[1], response_id) == "free ongoing"
    finally:
        status = helpers.stop_serve(process)
    assert status == 0
    deadline = time.monotonic() + 5
    while any(map(helpers.pid_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(helpers.pid_alive, workers))
    assert all(helpers.port_is_free(port) for port in ports)


def test_a_migration_cut_by_the_server_is_tried_again(postgres_server, pg_url):
    """An app process migrating when the server drops its connection (a restart, here its
    backend terminated while it waits for another process's migration lock) tries again and
    starts, instead of failing at start-up (the fault test above met it on a loaded machine)."""
    import psycopg

    holder = psycopg.connect(pg_url, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", [store_pg.MIGRATION_LOCK])
    started: list = []
    thread = threading.Thread(target=lambda: started.append(storage.connect(pg_url)))
    thread.start()
    deadline = time.monotonic() + 30
    waiting = []
    while not waiting and time.monotonic() < deadline:
        waiting = holder.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'clientroi' "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ).fetchall()
        time.sleep(0.05)
    assert waiting, "the new store never waited for the migration lock"
    holder.execute("SELECT pg_terminate_backend(%s)", [waiting[0][0]])
    time.sleep(0.3)
    holder.execute("SELECT pg_advisory_unlock(%s)", [store_pg.MIGRATION_LOCK])
    holder.close()
    thread.join(timeout=60)
    assert started, "the store did not start after its migration connection was cut"
    assert started[0].schema_version() == max(m.version for m in storage.migrations("postgresql"))
    started[0].close()
