"""The public dashboard's aggregates and the company + group tables, from a database, timed
(the tables both ways: counted in numpy on the fetched frame, and counted in the database).

Run: .venv/bin/python bench/bench_compute.py DB.duckdb [--repeat 2]
(the pytest form, in make bench, times the same on the 100k and 1M demo databases)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis import dashboard, kpis  # noqa: E402
from analysis.snapshot import releases  # noqa: E402
from survey import store as storage  # noqa: E402

TODAY = date(2026, 12, 1)


def read(db_path):
    store = storage.connect(db_path, read_only=True)
    as_of = releases.last_full_month_end(TODAY)
    frame = store.fetch_responses(
        storage.Filters(include_synthetic=True),
        columns=dashboard.COLUMNS,
        ordered=False,
        categorical=True,
        known_on=as_of,
    )
    return store, frame, as_of


def test_public_dashboard_compute(benchmark, demo_database):
    store, frame, as_of = read(demo_database)
    benchmark.pedantic(
        lambda: dashboard.compute(frame, as_of=as_of, launch=store.launch_date(), public=True),
        rounds=2,
        iterations=1,
    )


def test_company_and_group_tables_counted_in_the_database(benchmark, demo_database):
    store = storage.connect(demo_database, read_only=True)
    as_of = releases.last_full_month_end(TODAY)
    benchmark.pedantic(
        lambda: kpis.summary_tables_counted(
            store,
            storage.Filters(include_synthetic=True),
            as_of=as_of,
            rng=1,
            launch=store.launch_date(),
        ),
        rounds=3,
        iterations=1,
    )


def test_company_and_group_tables(benchmark, demo_database):
    store, frame, as_of = read(demo_database)
    benchmark.pedantic(
        lambda: kpis.summary_tables(frame, as_of=as_of, rng=1, launch=store.launch_date()),
        rounds=3,
        iterations=1,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    options = parser.parse_args()
    # the figures of a shared machine mean little without its load (1, 5, 15 minutes)
    print("load average: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    started = time.perf_counter()
    store, frame, as_of = read(options.db)
    print(f"fetch (as known on {as_of}): {time.perf_counter() - started:.2f} s")
    for _ in range(options.repeat):
        started = time.perf_counter()
        dashboard.compute(frame, as_of=as_of, launch=store.launch_date(), public=True)
        print(f"dashboard.compute(public=True): {time.perf_counter() - started:.2f} s")
    for _ in range(options.repeat):
        started = time.perf_counter()
        kpis.summary_tables(frame, as_of=as_of, rng=1, launch=store.launch_date())
        print(f"kpis.summary_tables: {time.perf_counter() - started:.2f} s")
    for _ in range(options.repeat):
        started, cpu = time.perf_counter(), time.process_time()
        kpis.summary_tables_counted(
            store,
            storage.Filters(include_synthetic=True),
            as_of=as_of,
            rng=1,
            launch=store.launch_date(),
        )
        print(
            f"kpis.summary_tables_counted (from the database, no fetch): "
            f"{time.perf_counter() - started:.2f} s, {time.process_time() - cpu:.2f} s CPU"
        )
