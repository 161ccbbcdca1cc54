"""Time of ``clientroi publish`` end to end (``cli.main`` in-process), at 100k and 1M responses,
and the command as people run it: a fresh process, its wall time and peak memory (issue 14:
5 s and under 1 GB at 1M on 2 cores).

The session's ``demo_database`` holds synthetic rows, which a snapshot refuses to publish, so
this file builds its own: the same seeded demo data marked ``source = 'web'``.

Run: make bench, or
.venv/bin/python -m pytest bench/bench_snapshot.py --benchmark-only -o python_files="bench_*.py"
"""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

import cli
from bench.conftest import build_database

TODAY = date(2026, 6, 15)
ROOT = Path(__file__).resolve().parent.parent
# The command in a fresh interpreter, which reports its own peak resident memory (KB, as Linux
# counts it).
MEASURED = """
import json, resource, sys, time
start = time.perf_counter()
import cli
code = cli.main(sys.argv[1:])
print(json.dumps({
    "code": code,
    "wall": time.perf_counter() - start,
    "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


@pytest.fixture(scope="module", params=[100_000, 1_000_000], ids=["100k", "1M"])
def web_database(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(f"web{request.param}") / "bench.duckdb"
    # Real-looking rows: synthetic ones are never published.
    return build_database(path, request.param, source="web")


def test_publish(benchmark, web_database, tmp_path_factory):
    def fresh_folder():
        out = tmp_path_factory.mktemp("snapshots")
        argv = ["publish", "--db", str(web_database), "--out", str(out), "--as-of", str(TODAY)]
        return (argv,), {}

    def publish(argv):
        assert cli.main(argv) == 0

    benchmark.pedantic(publish, setup=fresh_folder, rounds=3, warmup_rounds=1)


def test_publish_command(benchmark, web_database, tmp_path_factory):
    """``python -m cli publish`` in a new process each round: imports, reading, hashing,
    tables, reports and files, as a person waits for them; peak memory in ``extra_info``."""
    measured = []

    def fresh_folder():
        out = tmp_path_factory.mktemp("snapshots")
        argv = ["publish", "--db", str(web_database), "--out", str(out), "--as-of", str(TODAY)]
        return (argv,), {}

    def publish(argv):
        done = subprocess.run(
            [sys.executable, "-c", MEASURED, *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["code"] == 0, done.stderr
        measured.append(report)

    benchmark.pedantic(publish, setup=fresh_folder, rounds=3)
    benchmark.extra_info["peak_rss_mb"] = max(r["peak_kb"] for r in measured) / 1024
