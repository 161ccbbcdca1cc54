"""The company + group tables at 10M responses, timed with the peak memory: counted in the
database (``kpis.summary_tables_counted``, what ``clientroi tables`` runs) and read then counted
in numpy (fetch + ``kpis.summary_tables``, what the dashboard runs on its frame); and the
snapshot of 10M publishable responses (``clientroi publish``, the whole command).

The 10M-row DuckDB file (~1.5 GB) is built once, by ``bench/conftest.py``'s ``build_database``,
under ``$CLIENTROI_BENCH_10M`` (a file path) or ``<tmp>/clientroi-bench-10m/bench.duckdb``, and
reused by later runs (a build cut short is never reused: it is written beside, then renamed).
Each measurement runs in a fresh subprocess, so its peak resident memory (``ru_maxrss``) is that
of the fetch + tables alone, not of pytest or of the build. The publication reads its own file
of 10M responses marked ``web`` (``$CLIENTROI_BENCH_10M_WEB`` or ``web.duckdb`` beside the
other), built once the same way.

Run: make bench (part of it), or
    .venv/bin/python bench/bench_10m.py [--db PATH] [--rows 10000000] [--repeat 3]
Only ``make bench`` collects it (``python_files="bench_*.py"``); ``make test`` never does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROWS = 10_000_000


def database_path() -> Path:
    """Where the 10M-row file is cached: ``$CLIENTROI_BENCH_10M`` or a folder of the temp dir."""
    setting = os.environ.get("CLIENTROI_BENCH_10M", "").strip()
    if setting:
        return Path(setting)
    return Path(tempfile.gettempdir()) / "clientroi-bench-10m" / "bench.duckdb"


def web_database_path() -> Path:
    """Where the 10M publishable (``web``) file is cached."""
    setting = os.environ.get("CLIENTROI_BENCH_10M_WEB", "").strip()
    return Path(setting) if setting else database_path().with_name("web.duckdb")


def ensure_database(path: Path, rows: int = ROWS, *, source: str = "synthetic") -> Path:
    """The cached file of ``rows`` demo responses, built (minutes at 10M) when missing."""
    from bench.conftest import build_database

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, partial.with_name(partial.name + ".wal")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    build_database(partial, rows, source=source)
    partial.rename(path)
    print(
        f"built {rows:,} rows into {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    return path


def measure(path: Path) -> dict:
    """In this process: fetch the tables' columns, then the company + group tables, timed."""
    from analysis import kpis
    from bench.bench_compute import read

    def peak_mb() -> float:  # Linux reports ru_maxrss in KiB
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    started = time.perf_counter()
    store, frame, as_of = read(path)
    fetched = time.perf_counter()
    after_fetch = peak_mb()
    kpis.summary_tables(frame, as_of=as_of, rng=1, launch=store.launch_date())
    done = time.perf_counter()
    return {
        "way": "read",
        "rows": len(frame),
        "frame_mb": round(frame.memory_usage(deep=True).sum() / 2**20, 1),
        "fetch_s": round(fetched - started, 3),
        "tables_s": round(done - fetched, 3),
        "total_s": round(done - started, 3),
        "peak_rss_after_fetch_mb": after_fetch,
        "peak_rss_mb": peak_mb(),
    }


def measure_counted(path: Path) -> dict:
    """In this process: the company + group tables counted in the database, timed."""
    from datetime import date

    from analysis import kpis
    from analysis.snapshot import releases
    from survey import store as storage

    store = storage.connect(path, read_only=True)
    as_of = releases.last_full_month_end(date(2026, 12, 1))
    started, cpu = time.perf_counter(), time.process_time()
    tables = kpis.summary_tables_counted(
        store,
        storage.Filters(include_synthetic=True),
        as_of=as_of,
        rng=1,
        launch=store.launch_date(),
    )
    return {
        "way": "counted",
        "rows": int(tables.companies["n"].sum()),
        "tables_s": round(time.perf_counter() - started, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure_publish(path: Path, as_of: str = "2026-11-30") -> dict:
    """``clientroi publish`` of ``path`` as its own process: wall and CPU seconds, peak memory
    (the kernel's accounting of that process and its children: the drawing helper too)."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "cli", "publish", "--db", str(path)]
        command += ["--as-of", as_of, "--out", out]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        printed = process.stdout.read().strip()
        process.stdout.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"clientroi publish failed: {printed}")
    return {
        "way": "publish",
        "published": printed.splitlines()[-1][:80],
        "publish_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def measure_in_subprocess(path: Path, way: str = "read") -> dict:
    """``measure`` (or ``measure_counted``) in a fresh interpreter (its own peak memory), its
    figures as a dict."""
    completed = subprocess.run(
        [sys.executable, __file__, "--db", str(path), "--child", way],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("way", ["counted", "read"])
def test_tables_10m(benchmark, way):
    path = ensure_database(database_path())
    figures = []

    def run():
        figures.append(measure_in_subprocess(path, way))

    benchmark.pedantic(run, rounds=2, iterations=1)
    benchmark.extra_info["runs"] = figures
    benchmark.extra_info["peak_rss_mb"] = max(f["peak_rss_mb"] for f in figures)
    benchmark.extra_info["tables_s"] = min(f["tables_s"] for f in figures)


def test_publish_10m(benchmark):
    path = ensure_database(web_database_path(), source="web")
    figures = []
    benchmark.pedantic(lambda: figures.append(measure_publish(path)), rounds=1, iterations=1)
    benchmark.extra_info["runs"] = figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--child", choices=("read", "counted"), help=argparse.SUPPRESS)
    parser.add_argument("--way", choices=("read", "counted", "both", "publish"), default="both")
    options = parser.parse_args()
    db = options.db or database_path()
    if options.child:
        print(json.dumps(measure(db) if options.child == "read" else measure_counted(db)))
        sys.exit(0)
    if options.way == "publish":
        web = ensure_database(options.db or web_database_path(), options.rows, source="web")
        for _ in range(options.repeat):
            print(json.dumps(measure_publish(web)))
        sys.exit(0)
    ensure_database(db, options.rows)
    if options.build_only:
        sys.exit(0)
    ways = ("counted", "read") if options.way == "both" else (options.way,)
    for _ in range(options.repeat):
        for way in ways:
            print(json.dumps(measure_in_subprocess(db, way)))
