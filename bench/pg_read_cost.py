"""Where the time of the dashboard's read from PostgreSQL goes: CPU-seconds of the server and of
the client per read, against DuckDB's in-process read of the same rows.

Run: .venv/bin/python bench/pg_read_cost.py DB.duckdb [--url postgresql://...] [--repeat 2]
Without --url, a throw-away server is started (tests/pg.py: initdb, pg_ctl) and DB.duckdb is
copied into it (about a minute at 1M rows). CPU time, unlike wall time, does not depend much on
what else the machine runs; the figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from analysis import dashboard  # noqa: E402
from survey import store as storage  # noqa: E402
from survey import store_pg  # noqa: E402
from survey.demo import seed_story_answers  # noqa: E402
from survey.validation import validate_answers  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
EVERY = storage.Filters(include_synthetic=True)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu(url: str) -> float:
    """CPU-seconds used so far by the server's client backends (read from /proc)."""
    with psycopg.connect(url, autocommit=True) as con:
        pids = [
            r[0]
            for r in con.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid()"
            )
        ]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def timed(label: str, url: str | None, work, repeat: int) -> None:
    for _ in range(repeat):
        server0 = server_cpu(url) if url else 0.0
        cpu0, wall0 = own_cpu(), time.perf_counter()
        work()
        wall, cpu = time.perf_counter() - wall0, own_cpu() - cpu0
        server = server_cpu(url) - server0 if url else 0.0
        print(
            f"{label:58s} wall {wall:5.2f} s  client CPU {cpu:5.2f} s  server CPU {server:5.2f} s"
        )


def server_copy(url: str, select: str, repeat: int, label: str) -> None:
    """The server's own cost of sending the rows: COPY (select) TO '/dev/null', no client."""
    with psycopg.connect(url, autocommit=True) as con:
        for _ in range(repeat):
            started = time.perf_counter()
            con.execute(f"COPY ({select}) TO '/dev/null' WITH (FORMAT binary)")
            print(f"{label:58s} wall {time.perf_counter() - started:5.2f} s  (server only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--url")
    parser.add_argument("--repeat", type=int, default=2)
    options = parser.parse_args()
    server = None
    url = options.url
    if url is None:
        from tests import pg

        server = pg.PostgresServer(pg.binaries())
        url = server.new_database()
        storage.copy_database(storage.connect(options.db, read_only=True), storage.connect(url))
    try:
        columns = ", ".join(f"r.{c}" for c in dashboard.COLUMNS)
        server_copy(url, f"SELECT {columns} FROM responses r", options.repeat, "server COPY")
        constants = ", ".join("1" for _ in dashboard.COLUMNS)
        server_copy(
            url, f"SELECT {constants} FROM responses r", options.repeat, "server COPY 26 consts"
        )
        duck = storage.connect(options.db, read_only=True)
        pg_store = storage.connect(url, keep_open=2.0)  # an app's store

        def read(store):
            return lambda: store.fetch_responses(
                EVERY, columns=dashboard.COLUMNS, ordered=False, categorical=True
            )

        timed("DuckDB", None, read(duck), options.repeat)
        store_pg.MIRROR = False
        timed("PostgreSQL, every row", url, read(pg_store), options.repeat)
        store_pg.MIRROR = True
        read(pg_store)()  # the mirror's first read
        timed("PostgreSQL, mirrored, nothing written since", url, read(pg_store), options.repeat)
        answers = validate_answers(seed_story_answers()).response
        for written in (100, 1_000):

            def after_writes(written=written):
                for _ in range(written):
                    key = storage.new_submission_key()
                    meta = storage.SubmissionMeta(
                        key, storage.new_deletion_code(), fill_seconds=300
                    )
                    pg_store.insert_response(answers, meta)
                cpu0, wall0 = own_cpu(), time.perf_counter()
                read(pg_store)()
                print(
                    f"{f'PostgreSQL, mirrored, {written:,} submissions since':58s} "
                    f"wall {time.perf_counter() - wall0:5.2f} s  client CPU {own_cpu() - cpu0:5.2f} s"
                )

            for _ in range(options.repeat):
                after_writes()
        pg_store.close()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
