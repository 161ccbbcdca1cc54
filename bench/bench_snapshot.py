"""Time of ``clientroi publish`` end to end (``cli.main`` in-process), at 100k and 1M responses.

The session's ``demo_database`` holds synthetic rows, which a snapshot refuses to publish, so
this file builds its own: the same seeded demo data marked ``source = 'web'``.

Run: make bench, or
.venv/bin/python -m pytest bench/bench_snapshot.py --benchmark-only -o python_files="bench_*.py"
"""

from datetime import date

import pytest

import cli
from bench.conftest import build_database

TODAY = date(2026, 6, 15)


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
