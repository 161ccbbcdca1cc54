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


def phases(database: Path, as_of: date = TODAY) -> dict[str, str]:
    """Each part of a publication at ``database``, in this process: wall and CPU seconds (the
    CPU of every thread for the hash, of the calling thread for the tables, whose hash thread
    runs beside them), and the reports with and without vl-convert's drawing."""
    import resource
    import time

    import vl_convert

    from analysis import snapshot
    from analysis.snapshot import build, write

    def cpu() -> float:
        used = resource.getrusage(resource.RUSAGE_SELF)
        return used.ru_utime + used.ru_stime

    def timed(step, clock=cpu):
        wall, spent = time.perf_counter(), clock()
        value = step()
        return value, f"{time.perf_counter() - wall:.2f} s wall, {clock() - spent:.2f} s CPU"

    store = snapshot.open_database(database)
    out = {}
    responses, out["read"] = timed(lambda: build.fetch_qualifying(store, as_of=as_of))
    _, out["input hash alone"] = timed(lambda: build.input_sha256(responses))
    launch = store.launch_date()
    built, out["tables + hash (CPU: calling thread)"] = timed(
        lambda: build.build_snapshot(responses, as_of=as_of, launch=launch), time.thread_time
    )
    vl_convert.vegalite_to_svg({"mark": "point", "data": {"values": []}})  # engine started
    _, out["reports and files"] = timed(lambda: write.render(built))
    draw = vl_convert.vegalite_to_svg
    vl_convert.vegalite_to_svg = lambda spec, **options: "<svg></svg>"
    try:
        _, out["the same without drawing"] = timed(lambda: write.render(built))
    finally:
        vl_convert.vegalite_to_svg = draw
    return out


if __name__ == "__main__":
    # python bench/bench_snapshot.py WEB1M.duckdb: the parts of one publication (no file written)
    for part, figure in phases(Path(sys.argv[1])).items():
        print(f"{part}: {figure}")
